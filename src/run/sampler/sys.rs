//! Raw Linux ABI for the sampler: kept-open procfs files read with pread, directory listing
//! with getdents64 on a kept-open fd, the thread CPU clock, RLIMIT_NOFILE, the netlink socket
//! for unix-socket peers and process_vm_readv for poll/select fd sets. Every `unsafe` block of
//! the sampler lives in this file.
//!
//! Why fds stay open (measured): a pread at offset 0 on a kept-open procfs fd regenerates the
//! file and costs a few µs, where open+read+close costs 10-50 µs per file and the procfs crate
//! API 3-5x more.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

/// True when a procfs read failed because the task (or process) is gone: ESRCH from a
/// kept-open fd of a reaped task, ENOENT from a path that no longer exists.
pub(super) fn is_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ESRCH) | Some(libc::ENOENT))
}

/// A procfs file kept open and re-read from offset 0 on every sample.
#[derive(Debug)]
pub(super) struct ProcFile(File);

impl ProcFile {
    /// Opens `path` read-only (std opens with O_CLOEXEC).
    pub(super) fn open(path: &Path) -> io::Result<Self> {
        File::open(path).map(ProcFile)
    }

    /// Reads the whole file into `buf` (replaced). procfs regenerates the content for a read at
    /// offset 0, so the same fd serves every tick. Only for one-record files (see read_all_at).
    pub(super) fn read(&self, buf: &mut Vec<u8>) -> io::Result<()> {
        read_all_at(&self.0, buf, true)
    }
}

/// Reads a whole file from offset 0 with pread. With `one_record`, a read that leaves room in
/// the buffer is taken as the whole file: true for the one-record files of the hot path (stat,
/// schedstat, syscall, wchan are single `show` calls), so one pread is enough. Multi-record
/// files (/proc/net/*, cmdline) can return short reads before the end, so they read to EOF.
fn read_all_at(file: &File, buf: &mut Vec<u8>, one_record: bool) -> io::Result<()> {
    let cap = buf.capacity().max(1024);
    buf.resize(cap, 0);
    let mut len = 0;
    loop {
        let n = file.read_at(&mut buf[len..], len as u64)?;
        len += n;
        if n == 0 || (one_record && len < buf.len()) {
            break;
        }
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    buf.truncate(len);
    Ok(())
}

/// Reads a procfs file that is opened only this once (slow path: identity, io, PSS).
pub(super) fn read_once(path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
    let file = File::open(path)?;
    read_all_at(&file, buf, false)
}

/// A procfs directory kept open and re-listed by seeking to 0 and calling getdents64.
#[derive(Debug)]
pub(super) struct DirFd(File);

/// Bytes of `struct linux_dirent64` before `d_name`: d_ino u64, d_off i64, d_reclen u16, d_type u8.
const DIRENT_NAME_OFFSET: usize = 19;

impl DirFd {
    /// Opens a directory for repeated listing.
    pub(super) fn open(path: &Path) -> io::Result<Self> {
        File::open(path).map(DirFd)
    }

    /// Calls `f` with each entry name (without "." and ".."), listing afresh from the start.
    /// `buf` is scratch space reused across calls.
    pub(super) fn for_each(
        &mut self,
        buf: &mut Vec<u8>,
        mut f: impl FnMut(&[u8]),
    ) -> io::Result<()> {
        self.0.seek(SeekFrom::Start(0))?;
        if buf.len() < 32 * 1024 {
            buf.resize(32 * 1024, 0);
        }
        loop {
            // SAFETY: the fd is an open directory owned by self.0; buf is valid for writes of
            // buf.len() bytes, and the kernel writes at most that many.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    self.0.as_raw_fd(),
                    buf.as_mut_ptr(),
                    buf.len(),
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if n == 0 {
                return Ok(());
            }
            let filled = &buf[..n as usize];
            let mut off = 0;
            while off + DIRENT_NAME_OFFSET <= filled.len() {
                let reclen = u16::from_ne_bytes([filled[off + 16], filled[off + 17]]) as usize;
                if reclen == 0 || off + reclen > filled.len() {
                    break;
                }
                let raw = &filled[off + DIRENT_NAME_OFFSET..off + reclen];
                let name = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
                if name != b"." && name != b".." {
                    f(name);
                }
                off += reclen;
            }
        }
    }
}

/// Parses a decimal pid/tid directory name; None for anything else ("self", "net", ...).
pub(super) fn parse_id(name: &[u8]) -> Option<i32> {
    if name.is_empty() || name.len() > 10 {
        return None;
    }
    let mut v: i64 = 0;
    for &b in name {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(b - b'0');
    }
    i32::try_from(v).ok()
}

/// CPU time the calling thread has used (CLOCK_THREAD_CPUTIME_ID).
pub(super) fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is always supported.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Raises the soft RLIMIT_NOFILE to the hard limit: the sampler keeps 2-4 fds open per
/// thread of the tree. Returns the soft limit now in force.
pub(super) fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: raised is a valid rlimit; raising soft up to hard needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        return Ok(raised.rlim_cur);
    }
    Ok(lim.rlim_cur)
}

/// A NETLINK_SOCK_DIAG socket, for asking the kernel about unix sockets (peer, bound path).
#[derive(Debug)]
pub(super) struct SockDiag(OwnedFd);

impl SockDiag {
    pub(super) fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the returned fd is checked and then owned.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
        Ok(SockDiag(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Sends one request to the kernel and receives one reply datagram into `buf`.
    pub(super) fn request(&self, msg: &[u8], buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: msg is valid for reads of msg.len() bytes; the socket is open.
        let sent = unsafe { libc::send(self.0.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: buf is valid for writes of buf.len() bytes; the kernel writes at most that.
        let got = unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if got < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(got as usize)
    }
}

/// Reads `out.len()` bytes at `addr` in process `pid` (process_vm_readv; needs ptrace access,
/// which root or the target's parent has). Returns the bytes read.
pub(super) fn read_process_memory(pid: i32, addr: u64, out: &mut [u8]) -> io::Result<usize> {
    let local = libc::iovec {
        iov_base: out.as_mut_ptr().cast(),
        iov_len: out.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as usize as *mut libc::c_void,
        iov_len: out.len(),
    };
    // SAFETY: local describes `out`, valid for writes of its length; the remote iovec is only
    // read by the kernel, which checks it against the target's address space.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_own_threads_and_rereads_after_seek() {
        let mut dir = DirFd::open(Path::new("/proc/self/task")).unwrap();
        let mut buf = Vec::new();
        let mut first = Vec::new();
        dir.for_each(&mut buf, |n| first.push(parse_id(n).unwrap()))
            .unwrap();
        assert!(!first.is_empty());
        let mut second = 0;
        dir.for_each(&mut buf, |_| second += 1).unwrap();
        assert!(second >= 1);
    }

    #[test]
    fn kept_open_file_regenerates_on_each_read() {
        let f = ProcFile::open(Path::new("/proc/thread-self/schedstat")).unwrap();
        let mut buf = Vec::new();
        f.read(&mut buf).unwrap();
        let first = buf.clone();
        assert!(!first.is_empty());
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while buf == first && start.elapsed() < Duration::from_secs(5) {
            for i in 0..100_000u64 {
                x = x.wrapping_add(i * i);
            }
            f.read(&mut buf).unwrap();
        }
        assert_ne!(
            first, buf,
            "schedstat should change while this thread spins ({x})"
        );
    }

    #[test]
    fn parses_ids() {
        assert_eq!(parse_id(b"1234"), Some(1234));
        assert_eq!(parse_id(b"self"), None);
        assert_eq!(parse_id(b""), None);
        assert_eq!(parse_id(b"99999999999"), None);
    }

    #[test]
    fn thread_clock_advances() {
        let a = thread_cpu_time();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_add(i ^ (i >> 3));
        }
        assert!(x > 0);
        assert!(thread_cpu_time() > a);
    }
}

/// Per-call costs of the reads the sampler makes, on this host:
/// `cargo test --release --lib print_read_costs -- --ignored --nocapture`.
#[cfg(test)]
mod costs {
    use super::*;

    fn per_call_us(n: u32, mut f: impl FnMut()) -> f64 {
        let c0 = thread_cpu_time();
        for _ in 0..n {
            f();
        }
        (thread_cpu_time() - c0).as_secs_f64() * 1e6 / f64::from(n)
    }

    #[test]
    #[ignore]
    fn print_read_costs() {
        let (mut buf, mut names) = (Vec::new(), Vec::new());
        for path in ["/proc", "/proc/self/task"] {
            let mut d = DirFd::open(Path::new(path)).unwrap();
            let mut entries = 0;
            let us = per_call_us(2000, || {
                entries = 0;
                d.for_each(&mut names, |_| entries += 1).unwrap()
            });
            eprintln!("list {path}: {us:.1} µs ({entries} entries)");
        }
        for f in ["stat", "schedstat", "syscall", "wchan", "io", "status"] {
            let pf = ProcFile::open(Path::new(&format!("/proc/thread-self/{f}"))).unwrap();
            eprintln!(
                "pread {f}: {:.2} µs",
                per_call_us(2000, || pf.read(&mut buf).unwrap())
            );
        }
        let la = ProcFile::open(Path::new("/proc/loadavg")).unwrap();
        eprintln!(
            "pread loadavg: {:.2} µs",
            per_call_us(2000, || la.read(&mut buf).unwrap())
        );
        let once = per_call_us(2000, || {
            read_once(Path::new("/proc/self/stat"), &mut buf).unwrap()
        });
        eprintln!("open+read+close stat: {once:.2} µs");
        eprintln!(
            "thread clock: {:.2} µs",
            per_call_us(2000, || {
                let _ = thread_cpu_time();
            })
        );
    }
}
