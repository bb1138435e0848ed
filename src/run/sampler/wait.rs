//! What a blocked thread is waiting in: /proc/PID/task/TID/syscall parsed, and the syscall
//! classified by what it waits on (an fd, a set of fds, a futex, a timer, a child).
//!
//! Syscall numbers come from libc's `SYS_*` constants, so the table follows the target
//! architecture; calls that only x86_64 has (poll, select, epoll_wait, pause) are cfg-gated.

use super::parse::{parse_i64, parse_u64};
use libc::c_long;

/// /proc/PID/task/TID/syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SyscallState {
    /// On a CPU (or woke up between our reads).
    Running,
    /// Blocked outside a syscall (page fault, stopped): the line is "-1 sp pc".
    NotInSyscall,
    /// Blocked in syscall `nr` with these six arguments.
    Blocked { nr: i64, args: [u64; 6] },
}

/// Parses "nr a0 .. a5 sp pc" (args in hex), "-1 sp pc" or "running".
pub(super) fn parse_syscall(buf: &[u8]) -> Option<SyscallState> {
    let line = super::parse::trim(buf);
    if line.starts_with(b"running") {
        return Some(SyscallState::Running);
    }
    let mut it = line.split(|&b| b == b' ');
    let nr = parse_i64(it.next()?)?;
    if nr < 0 {
        return Some(SyscallState::NotInSyscall);
    }
    let mut args = [0u64; 6];
    for a in &mut args {
        *a = parse_hex(it.next()?)?;
    }
    Some(SyscallState::Blocked { nr, args })
}

fn parse_hex(b: &[u8]) -> Option<u64> {
    let digits = b.strip_prefix(b"0x")?;
    if digits.is_empty() || digits.len() > 16 {
        return parse_u64(b);
    }
    digits.iter().try_fold(0u64, |acc, &c| {
        Some((acc << 4) | u64::from((c as char).to_digit(16)?))
    })
}

/// What a syscall waits on, with the arguments that name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// One fd (read, write, recv, send, accept, connect, fsync, ...).
    Fd(i32),
    /// poll/ppoll: an array of `struct pollfd` in the target's memory.
    PollFds {
        ptr: u64,
        nfds: u64,
    },
    /// select/pselect6: up to three fd_set bitmaps of `nfds` bits in the target's memory.
    SelectFds {
        nfds: u64,
        sets: [u64; 3],
    },
    /// epoll_wait on this epoll fd (its targets are in /proc/PID/fdinfo/EPFD).
    Epoll(i32),
    Futex,
    Sleep,
    /// wait4/waitid: waiting for a child to exit.
    Child,
    /// Anything else (named by the syscall).
    Other,
}

#[derive(Debug, Clone, Copy)]
enum Arg {
    Fd0,
    Poll,
    Select,
    Epoll,
    Futex,
    Sleep,
    Child,
    Other,
}

/// Syscalls a thread commonly blocks in; anything not listed is "other:sys_NR".
const TABLE: &[(c_long, &str, Arg)] = &[
    (libc::SYS_read, "read", Arg::Fd0),
    (libc::SYS_write, "write", Arg::Fd0),
    (libc::SYS_pread64, "pread64", Arg::Fd0),
    (libc::SYS_pwrite64, "pwrite64", Arg::Fd0),
    (libc::SYS_readv, "readv", Arg::Fd0),
    (libc::SYS_writev, "writev", Arg::Fd0),
    (libc::SYS_preadv, "preadv", Arg::Fd0),
    (libc::SYS_pwritev, "pwritev", Arg::Fd0),
    (libc::SYS_preadv2, "preadv2", Arg::Fd0),
    (libc::SYS_pwritev2, "pwritev2", Arg::Fd0),
    (libc::SYS_recvfrom, "recvfrom", Arg::Fd0),
    (libc::SYS_sendto, "sendto", Arg::Fd0),
    (libc::SYS_recvmsg, "recvmsg", Arg::Fd0),
    (libc::SYS_sendmsg, "sendmsg", Arg::Fd0),
    (libc::SYS_recvmmsg, "recvmmsg", Arg::Fd0),
    (libc::SYS_sendmmsg, "sendmmsg", Arg::Fd0),
    (libc::SYS_accept, "accept", Arg::Fd0),
    (libc::SYS_accept4, "accept4", Arg::Fd0),
    (libc::SYS_connect, "connect", Arg::Fd0),
    (libc::SYS_fsync, "fsync", Arg::Fd0),
    (libc::SYS_fdatasync, "fdatasync", Arg::Fd0),
    (libc::SYS_sync_file_range, "sync_file_range", Arg::Fd0),
    (libc::SYS_flock, "flock", Arg::Fd0),
    (libc::SYS_fcntl, "fcntl", Arg::Fd0),
    (libc::SYS_ftruncate, "ftruncate", Arg::Fd0),
    (libc::SYS_fallocate, "fallocate", Arg::Fd0),
    (libc::SYS_ioctl, "ioctl", Arg::Fd0),
    (libc::SYS_sendfile, "sendfile", Arg::Fd0),
    (libc::SYS_splice, "splice", Arg::Fd0),
    (libc::SYS_copy_file_range, "copy_file_range", Arg::Fd0),
    (libc::SYS_getdents64, "getdents64", Arg::Fd0),
    (libc::SYS_futex, "futex", Arg::Futex),
    (libc::SYS_futex_waitv, "futex_waitv", Arg::Futex),
    (libc::SYS_nanosleep, "nanosleep", Arg::Sleep),
    (libc::SYS_clock_nanosleep, "clock_nanosleep", Arg::Sleep),
    (libc::SYS_ppoll, "ppoll", Arg::Poll),
    (libc::SYS_pselect6, "pselect6", Arg::Select),
    (libc::SYS_epoll_pwait, "epoll_pwait", Arg::Epoll),
    (libc::SYS_epoll_pwait2, "epoll_pwait2", Arg::Epoll),
    (libc::SYS_wait4, "wait4", Arg::Child),
    (libc::SYS_waitid, "waitid", Arg::Child),
    (libc::SYS_rt_sigtimedwait, "rt_sigtimedwait", Arg::Other),
    (libc::SYS_rt_sigsuspend, "rt_sigsuspend", Arg::Other),
    (libc::SYS_msgrcv, "msgrcv", Arg::Other),
    (libc::SYS_semtimedop, "semtimedop", Arg::Other),
    (libc::SYS_io_getevents, "io_getevents", Arg::Other),
    (libc::SYS_io_uring_enter, "io_uring_enter", Arg::Other),
    (libc::SYS_openat, "openat", Arg::Other),
    (libc::SYS_execve, "execve", Arg::Other),
    (libc::SYS_exit_group, "exit_group", Arg::Other),
    (libc::SYS_mmap, "mmap", Arg::Other),
    (libc::SYS_munmap, "munmap", Arg::Other),
];

#[cfg(target_arch = "x86_64")]
const TABLE_X86_64: &[(c_long, &str, Arg)] = &[
    (libc::SYS_poll, "poll", Arg::Poll),
    (libc::SYS_select, "select", Arg::Select),
    (libc::SYS_epoll_wait, "epoll_wait", Arg::Epoll),
    (libc::SYS_pause, "pause", Arg::Other),
];
#[cfg(not(target_arch = "x86_64"))]
const TABLE_X86_64: &[(c_long, &str, Arg)] = &[];

/// A classified syscall: its name (None when not in the table) and what it waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Call {
    pub name: Option<&'static str>,
    pub target: Target,
}

/// Classifies syscall `nr` with `args`.
pub(super) fn classify(nr: i64, args: &[u64; 6]) -> Call {
    // c_long is i32 on 32-bit targets, so the conversion is not useless everywhere.
    #[allow(clippy::useless_conversion)]
    let found = TABLE
        .iter()
        .chain(TABLE_X86_64)
        .find(|(n, _, _)| i64::from(*n) == nr);
    let Some(&(_, name, arg)) = found else {
        return Call {
            name: None,
            target: Target::Other,
        };
    };
    let fd = args[0] as i32;
    let target = match arg {
        Arg::Fd0 => Target::Fd(fd),
        Arg::Poll => Target::PollFds {
            ptr: args[0],
            nfds: args[1],
        },
        Arg::Select => Target::SelectFds {
            nfds: args[0],
            sets: [args[1], args[2], args[3]],
        },
        Arg::Epoll => Target::Epoll(fd),
        Arg::Futex => Target::Futex,
        Arg::Sleep => Target::Sleep,
        Arg::Child => Target::Child,
        Arg::Other => Target::Other,
    };
    Call {
        name: Some(name),
        target,
    }
}

/// Fds in a `struct pollfd` array (8 bytes each: int fd, short events, short revents).
pub(super) fn pollfds(raw: &[u8]) -> Vec<i32> {
    raw.chunks_exact(8)
        .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .filter(|&fd| fd >= 0)
        .collect()
}

/// Fds set in an fd_set bitmap (native-endian longs, bit n = fd n), below `nfds`.
pub(super) fn fdset(raw: &[u8], nfds: u64, out: &mut Vec<i32>) {
    for (w, c) in raw.chunks_exact(8).enumerate() {
        let mut word = u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
        while word != 0 {
            let bit = word.trailing_zeros() as u64;
            let fd = w as u64 * 64 + bit;
            if fd < nfds && !out.contains(&(fd as i32)) {
                out.push(fd as i32);
            }
            word &= word - 1;
        }
    }
}

/// Target fds of an epoll instance, from /proc/PID/fdinfo/EPFD ("tfd: N events: ...").
pub(super) fn epoll_targets(fdinfo: &[u8]) -> Vec<i32> {
    fdinfo
        .split(|&b| b == b'\n')
        .filter_map(|l| l.strip_prefix(b"tfd:"))
        .filter_map(|rest| {
            let rest = super::parse::trim(rest);
            let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
            parse_u64(&rest[..end]).map(|v| v as i32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let b =
            b"230 0x0 0x0 0x7ffd98f0fac0 0x7ffd98f0fb00 0x0 0x0 0x7ffd98f0faa8 0x7facbf4a1503\n";
        assert_eq!(
            parse_syscall(b),
            Some(SyscallState::Blocked {
                nr: 230,
                args: [0, 0, 0x7ffd98f0fac0, 0x7ffd98f0fb00, 0, 0]
            })
        );
        assert_eq!(
            parse_syscall(b"-1 0x7ffd 0x7fac\n"),
            Some(SyscallState::NotInSyscall)
        );
        assert_eq!(parse_syscall(b"running\n"), Some(SyscallState::Running));
        assert_eq!(parse_syscall(b"garbage"), None);
    }

    #[test]
    #[allow(clippy::useless_conversion)] // c_long is i64 here, i32 on 32-bit targets
    fn classifies_by_what_is_waited_on() {
        let a = [5, 0, 0, 0, 0, 0];
        assert_eq!(
            classify(i64::from(libc::SYS_read), &a).target,
            Target::Fd(5)
        );
        assert_eq!(classify(i64::from(libc::SYS_futex), &a).name, Some("futex"));
        assert_eq!(
            classify(i64::from(libc::SYS_clock_nanosleep), &a).target,
            Target::Sleep
        );
        assert_eq!(
            classify(i64::from(libc::SYS_epoll_pwait), &a).target,
            Target::Epoll(5)
        );
        assert_eq!(
            classify(i64::from(libc::SYS_ppoll), &[0x1000, 2, 0, 0, 0, 0]).target,
            Target::PollFds {
                ptr: 0x1000,
                nfds: 2
            }
        );
        assert_eq!(
            classify(9999, &a),
            Call {
                name: None,
                target: Target::Other
            }
        );
    }

    #[test]
    fn decodes_fd_sets_and_epoll_info() {
        let mut raw = Vec::new();
        raw.extend_from_slice(&3i32.to_ne_bytes());
        raw.extend_from_slice(&[1, 0, 0, 0]);
        raw.extend_from_slice(&(-1i32).to_ne_bytes());
        raw.extend_from_slice(&[0; 4]);
        assert_eq!(pollfds(&raw), vec![3]);
        let mut out = Vec::new();
        fdset(&((1u64 << 4) | (1 << 9)).to_ne_bytes(), 8, &mut out);
        assert_eq!(out, vec![4]);
        let info = b"pos:\t0\nflags:\t02\nmnt_id:\t15\ntfd:        7 events:       19 data:                7  pos:0 ino:1 sdev:c\ntfd:       12 events: 19\n";
        assert_eq!(epoll_targets(info), vec![7, 12]);
    }
}
