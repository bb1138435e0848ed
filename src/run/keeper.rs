//! The keeper: a small process between forkcast and the target that is the tree's child
//! subreaper, reaps every process of it, and kills the whole tree when forkcast goes away.
//!
//! forkcast forks it before the target (src/run/spawn.rs) and it runs this file after an exec of
//! forkcast's own binary, so it is an ordinary single-threaded program. It watches the read end
//! of a pipe (the lifeline) whose only write end forkcast holds: EOF comes when forkcast closes
//! it at the end of a run and also when forkcast dies, kill -9 included (the kernel closes a dead
//! process's fds). Then it SIGKILLs what is left (the target's group and every process
//! reparented to it: setsid daemons and double forks come back here because it is the subreaper),
//! reaps them, and sends forkcast its report: how the target ended and the rusage of everything
//! it reaped. tests/it/faults.rs measures the cleanup after kill -9.

use crate::measure::Rusage;
use std::cell::UnsafeCell;
use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// argv[1] that turns forkcast into a keeper; never typed by a user.
const KEEPER_ARG: &str = "__forkcast_keeper__";

/// The byte the keeper sends once it runs.
pub const READY: u8 = b'R';

/// How long the keeper sleeps between reaps while the run goes on.
const REAP_PERIOD: Duration = Duration::from_millis(20);

/// Longest the final kill loop may take; a tree that cannot die (a process stuck in the kernel)
/// must not keep the keeper forever.
const KILL_LIMIT: Duration = Duration::from_secs(5);

/// The keeper's argv, built before fork; the target's pid is patched in after the fork.
pub struct KeeperArgv {
    args: Vec<CString>,
    /// NUL-padded decimal pid of the target, written by the forked child into its own copy.
    root: Box<UnsafeCell<[u8; 16]>>,
}

impl KeeperArgv {
    pub fn new(lifeline: RawFd, report: RawFd) -> io::Result<KeeperArgv> {
        let args = [
            "forkcast-keeper",
            KEEPER_ARG,
            &lifeline.to_string(),
            &report.to_string(),
        ]
        .into_iter()
        .map(|a| CString::new(a).map_err(io::Error::other))
        .collect::<io::Result<_>>()?;
        Ok(KeeperArgv {
            args,
            root: Box::new(UnsafeCell::new([0; 16])),
        })
    }

    /// argv for execve: the fixed arguments, the root's pid buffer, NULL.
    pub fn pointers(&self) -> Vec<*const libc::c_char> {
        self.args
            .iter()
            .map(|a| a.as_ptr())
            .chain([
                self.root.get().cast::<libc::c_char>().cast_const(),
                std::ptr::null(),
            ])
            .collect()
    }

    /// Writes `pid` in decimal into the root buffer; async-signal-safe (no allocation).
    ///
    /// # Safety
    /// Only in the forked child, whose copy of the buffer nobody else touches.
    pub unsafe fn patch_root(&self, pid: i32) {
        let buf = &mut *self.root.get();
        let mut digits = [0u8; 16];
        let (mut n, mut len) = (pid.unsigned_abs(), 0);
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            buf[i] = digits[len - 1 - i];
        }
        buf[len] = 0;
    }
}

/// How the target ended and what its tree used, as the keeper saw it.
#[derive(Debug, Default, Clone)]
pub struct KeeperReport {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// Sum over every process the keeper reaped.
    pub rusage: Rusage,
    /// Processes still alive when the lifeline closed (killed by the keeper).
    pub killed_at_end: u32,
}

impl KeeperReport {
    fn line(&self) -> String {
        let opt = |v: Option<i32>| v.map_or("-".to_string(), |v| v.to_string());
        let r = &self.rusage;
        format!(
            "{} {} {} {} {} {} {} {} {} {}\n",
            opt(self.exit_code),
            opt(self.signal),
            r.user_s,
            r.sys_s,
            r.max_rss_bytes,
            r.voluntary_switches,
            r.involuntary_switches,
            r.minor_faults,
            r.major_faults,
            self.killed_at_end
        )
    }

    pub fn parse(text: &str) -> Option<KeeperReport> {
        let f: Vec<&str> = text.split_whitespace().collect();
        if f.len() != 10 {
            return None;
        }
        let opt = |s: &str| {
            if s == "-" {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        Some(KeeperReport {
            exit_code: opt(f[0])?,
            signal: opt(f[1])?,
            rusage: Rusage {
                user_s: f[2].parse().ok()?,
                sys_s: f[3].parse().ok()?,
                max_rss_bytes: f[4].parse().ok()?,
                voluntary_switches: f[5].parse().ok()?,
                involuntary_switches: f[6].parse().ok()?,
                minor_faults: f[7].parse().ok()?,
                major_faults: f[8].parse().ok()?,
            },
            killed_at_end: f[9].parse().ok()?,
        })
    }
}

/// When forkcast was started as a keeper, runs it and returns its exit code; otherwise None.
pub fn run_if_keeper() -> Option<ExitCode> {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_none_or(|a| a != KEEPER_ARG) || args.len() != 5 {
        return None;
    }
    let num = |i: usize| args[i].to_str().and_then(|s| s.parse::<i32>().ok());
    let (Some(lifeline), Some(report), Some(root)) = (num(2), num(3), num(4)) else {
        return Some(ExitCode::from(2));
    };
    // SAFETY: forkcast handed these two fds over, open, for the keeper alone (src/run/spawn.rs).
    let (lifeline, report) =
        unsafe { (OwnedFd::from_raw_fd(lifeline), OwnedFd::from_raw_fd(report)) };
    Some(keep(lifeline, File::from(report), root))
}

fn keep(lifeline: OwnedFd, mut report: File, root: i32) -> ExitCode {
    // Ready: forkcast releases the target only now, so our own start-up (an exec of forkcast's
    // binary) never competes with the target's first milliseconds.
    if report.write_all(&[READY]).is_err() {
        return ExitCode::from(1);
    }
    let mut out = KeeperReport::default();
    loop {
        reap_ready(root, &mut out);
        if lifeline_closed(&lifeline) {
            break;
        }
    }
    out.killed_at_end = kill_tree(root, &mut out);
    // forkcast may be gone (kill -9); then nobody reads this and that is fine.
    let _ = report.write_all(out.line().as_bytes());
    ExitCode::SUCCESS
}

/// Waits up to one reap period; true once forkcast closed its end (or died).
fn lifeline_closed(lifeline: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: lifeline.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one pollfd we own.
    let r = unsafe { libc::poll(&mut pfd, 1, REAP_PERIOD.as_millis() as i32) };
    if r <= 0 {
        return false; // timeout or EINTR: go on reaping
    }
    let mut byte = 0u8;
    // SAFETY: reading one byte into a local from a pipe we own; forkcast never writes, so
    // readable means EOF (or an error, treated alike).
    let n = unsafe { libc::read(lifeline.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) };
    n <= 0
}

/// SIGKILLs the target's group and every live child until none is left, reaping as it goes;
/// returns how many processes were alive at the first look.
fn kill_tree(root: i32, out: &mut KeeperReport) -> u32 {
    let me = std::process::id() as i32;
    let until = Instant::now() + KILL_LIMIT;
    let mut first_count = None;
    loop {
        let alive = super::os::children_of(me);
        first_count.get_or_insert(alive.len() as u32);
        // SAFETY: kill() on the target's own group and on our own children only.
        unsafe {
            libc::kill(-root, libc::SIGKILL);
            for pid in &alive {
                libc::kill(*pid, libc::SIGKILL);
            }
        }
        let children_left = reap_ready(root, out);
        // SAFETY: signal 0 only checks whether the group still exists.
        let group_left = unsafe { libc::kill(-root, 0) } == 0;
        if (!children_left && !group_left) || Instant::now() >= until {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    first_count.unwrap_or(0)
}

/// Reaps every exited child, adding its rusage and noting the root's status; returns whether
/// any child is left.
fn reap_ready(root: i32, out: &mut KeeperReport) -> bool {
    loop {
        let mut status = 0;
        // SAFETY: zeroed rusage is a valid out-parameter.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 writes into the two locals we pass.
        let pid = unsafe { libc::wait4(-1, &mut status, libc::WNOHANG, &mut usage) };
        if pid == 0 {
            return true;
        }
        if pid < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return false; // ECHILD: nobody left
        }
        super::os::add_rusage(&mut out.rusage, &usage);
        if pid == root {
            if libc::WIFEXITED(status) {
                out.exit_code = Some(libc::WEXITSTATUS(status));
            } else if libc::WIFSIGNALED(status) {
                out.signal = Some(libc::WTERMSIG(status));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_line_round_trips() {
        let r = KeeperReport {
            exit_code: None,
            signal: Some(9),
            rusage: Rusage {
                user_s: 1.25,
                sys_s: 0.5,
                max_rss_bytes: 4096,
                voluntary_switches: 3,
                involuntary_switches: 4,
                minor_faults: 5,
                major_faults: 6,
            },
            killed_at_end: 2,
        };
        let back = KeeperReport::parse(&r.line()).unwrap();
        assert_eq!(
            (back.exit_code, back.signal, back.killed_at_end),
            (None, Some(9), 2)
        );
        assert_eq!(back.rusage.user_s, 1.25);
        assert_eq!(back.rusage.major_faults, 6);
        assert!(KeeperReport::parse("0 - 1").is_none());
    }

    #[test]
    fn the_root_pid_is_patched_in_place() {
        let argv = KeeperArgv::new(5, 6).unwrap();
        // SAFETY: this test owns the buffer; no fork involved.
        unsafe { argv.patch_root(40213) };
        let ptrs = argv.pointers();
        // SAFETY: the pointer is into the NUL-terminated buffer owned by `argv`.
        let root = unsafe { std::ffi::CStr::from_ptr(ptrs[4]) };
        assert_eq!(root.to_str().unwrap(), "40213");
        assert!(ptrs[5].is_null());
    }
}
