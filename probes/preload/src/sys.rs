//! The few libc calls the probe makes for itself, none of them a function it also hooks.
//!
//! The probe exports `open`, `close`, `write`, ... so calling `libc::open` from inside it would
//! call our own hook (self-interposition). Opening and closing the counter file therefore go
//! through raw syscalls; everything else here (fstat, getsockopt, readlink, mmap, prctl,
//! clock_gettime) is not hooked.

use core::ffi::{c_char, c_int, c_void};
use core::ptr::null_mut;

extern "C" {
    // Not in the libc crate for linux-gnu; glibc provides it (libc_nonshared for the dso handle).
    fn pthread_atfork(
        prepare: Option<extern "C" fn()>,
        parent: Option<extern "C" fn()>,
        child: Option<extern "C" fn()>,
    ) -> c_int;
}

/// CLOCK_MONOTONIC in ns (vDSO, about 25 ns here).
#[inline(always)]
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

#[inline(always)]
pub fn errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

#[inline(always)]
pub fn set_errno(e: c_int) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = e };
}

pub fn getpid() -> i32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getpid() }
}

pub fn getppid() -> i32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getppid() }
}

/// This thread's name (the process comm for the main thread), NUL-padded.
pub fn comm(out: &mut [u8; 16]) {
    // SAFETY: PR_GET_NAME writes at most 16 bytes into the buffer we pass.
    unsafe {
        libc::prctl(
            libc::PR_GET_NAME,
            out.as_mut_ptr() as libc::c_ulong,
            0,
            0,
            0,
        )
    };
}

/// `/proc/self/exe`, cut to the buffer, NUL-padded.
pub fn exe(out: &mut [u8]) {
    out.fill(0);
    readlink(c"/proc/self/exe".as_ptr(), out);
}

/// readlink into `buf`; returns the length written (0 on error).
pub fn readlink(path: *const c_char, buf: &mut [u8]) -> usize {
    // SAFETY: `path` is NUL-terminated (callers build it so); readlink writes at most buf.len().
    let n = unsafe { libc::readlink(path, buf.as_mut_ptr() as *mut c_char, buf.len()) };
    usize::try_from(n).unwrap_or(0)
}

/// Opens `path` read-write and maps all of it MAP_SHARED. None on any failure.
pub fn map_shared(path: *const c_char) -> Option<(*mut u8, usize)> {
    // SAFETY: raw openat (our `open` hooks are not involved) on a NUL-terminated path.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path,
            libc::O_RDWR | libc::O_CLOEXEC,
        )
    } as c_int;
    if fd < 0 {
        return None;
    }
    // SAFETY: an all-zero stat is a valid value for fstat to overwrite.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fd is ours; fstat writes one stat.
    let size = if unsafe { libc::fstat(fd, &mut st) } == 0 {
        usize::try_from(st.st_size).unwrap_or(0)
    } else {
        0
    };
    let mut mapped = None;
    if size >= crate::abi::HEADER_SIZE {
        // SAFETY: mapping a whole regular file we hold open; the kernel picks the address.
        let p = unsafe {
            libc::mmap(
                null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            mapped = Some((p as *mut u8, size));
        }
    }
    // SAFETY: raw close of the fd opened above (the mapping stays valid without it).
    unsafe { libc::syscall(libc::SYS_close, fd) };
    mapped
}

pub fn unmap(base: *mut u8, len: usize) {
    // SAFETY: (base, len) came from a successful mmap that nothing else references yet.
    unsafe { libc::munmap(base as *mut c_void, len) };
}

/// Registers the exit handler and the fork-child handler.
pub fn register_exit_and_fork(on_exit: extern "C" fn(), on_child: extern "C" fn()) {
    // SAFETY: both are plain `extern "C" fn()` with static lifetime, as atexit and
    // pthread_atfork require.
    unsafe {
        libc::atexit(on_exit);
        pthread_atfork(None, None, Some(on_child));
    }
}

/// Appends the decimal form of `v` at `buf[pos..]`; returns the new position (cut at the end).
pub fn push_dec(buf: &mut [u8], mut pos: usize, v: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut n = 0;
    let mut v = v;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 || n == digits.len() {
            break;
        }
    }
    while n > 0 {
        n -= 1;
        let Some(b) = buf.get_mut(pos) else { break };
        *b = digits[n];
        pos += 1;
    }
    pos
}

/// Appends `s` at `buf[pos..]`; returns the new position (cut at the end).
pub fn push_bytes(buf: &mut [u8], pos: usize, s: &[u8]) -> usize {
    let end = pos.saturating_add(s.len()).min(buf.len());
    let n = end.saturating_sub(pos);
    if let (Some(dst), Some(src)) = (buf.get_mut(pos..end), s.get(..n)) {
        dst.copy_from_slice(src);
    }
    end.max(pos)
}
