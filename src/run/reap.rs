//! Waiting for the target, enforcing the timeout, forwarding Ctrl-C, and reaping every
//! descendant (forkcast is a child subreaper, so orphans come back to it).

use crate::measure::Rusage;
use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// After SIGTERM, how long the tree gets to exit before SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// The last termination signal forkcast itself received (SIGINT/SIGTERM), or 0.
static INTERRUPTED_BY: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_signal(sig: libc::c_int) {
    INTERRUPTED_BY.store(sig, Ordering::SeqCst);
}

/// Makes forkcast the reaper of orphaned descendants and turns SIGINT/SIGTERM into a flag the
/// wait loop forwards to the target's group.
pub fn install_process_handling() -> io::Result<()> {
    // SAFETY: prctl with constant arguments; sigaction with a handler that only stores an atomic.
    unsafe {
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        for sig in [libc::SIGINT, libc::SIGTERM] {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = note_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(sig, &action, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// The signal that interrupted forkcast, if any.
pub fn interrupted() -> Option<i32> {
    match INTERRUPTED_BY.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// How the root process ended.
#[derive(Debug, Default)]
pub struct Ended {
    /// Time from release to the root's exit.
    pub wall: Duration,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub interrupted: bool,
    /// Descendants still alive when the root exited (killed by forkcast).
    pub leftover_processes: u32,
    /// Sum over every reaped process (root, orphans, killed leftovers).
    pub rusage: Rusage,
}

/// Waits for `pid` (released at `t0`), enforcing `timeout`, then cleans up the whole tree.
pub fn wait_and_reap(
    pid: i32,
    pgid: i32,
    t0: Instant,
    timeout: Option<Duration>,
) -> io::Result<Ended> {
    let pidfd = pidfd_open(pid)?;
    let mut ended = Ended::default();
    let deadline = timeout.map(|t| t0 + t);
    let mut kill_at: Option<Instant> = None;
    loop {
        if poll_readable(pidfd, Duration::from_millis(50))? {
            break;
        }
        let now = Instant::now();
        if kill_at.is_none() {
            if let Some(sig) = interrupted() {
                ended.interrupted = true;
                signal_tree(pgid, sig);
                kill_at = Some(now + KILL_GRACE);
            } else if deadline.is_some_and(|d| now >= d) {
                ended.timed_out = true;
                signal_tree(pgid, libc::SIGTERM);
                kill_at = Some(now + KILL_GRACE);
            }
        } else if kill_at.is_some_and(|k| now >= k) {
            signal_tree(pgid, libc::SIGKILL);
            kill_at = Some(now + Duration::from_secs(3600));
        }
    }
    ended.wall = t0.elapsed();
    // SAFETY: closing the pidfd we opened.
    unsafe { libc::close(pidfd) };
    let (status, usage) =
        wait4(pid, 0)?.ok_or_else(|| io::Error::other("the target was reaped by someone else"))?;
    add_rusage(&mut ended.rusage, &usage);
    if libc::WIFEXITED(status) {
        ended.exit_code = Some(libc::WEXITSTATUS(status));
    } else if libc::WIFSIGNALED(status) {
        ended.signal = Some(libc::WTERMSIG(status));
    }
    ended.leftover_processes = cleanup_descendants(pgid, &mut ended.rusage);
    Ok(ended)
}

/// Terminates whatever of the tree outlived the root (its group and any reparented orphans),
/// reaps it all, and returns how many processes were still alive.
fn cleanup_descendants(pgid: i32, total: &mut Rusage) -> u32 {
    let mut leftovers = 0;
    for sig in [libc::SIGTERM, libc::SIGKILL] {
        let alive = our_children();
        if alive.is_empty() && !group_alive(pgid) {
            break;
        }
        if sig == libc::SIGTERM {
            leftovers = alive.len() as u32;
        }
        signal_tree(pgid, sig);
        let until = Instant::now() + KILL_GRACE;
        while Instant::now() < until && (!our_children().is_empty() || group_alive(pgid)) {
            reap_ready(total);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    reap_ready(total);
    leftovers
}

/// Sends `sig` to the target's group and to every process that has been reparented to us.
fn signal_tree(pgid: i32, sig: i32) {
    // SAFETY: kill() with a negative pid signals the target's own process group only.
    unsafe { libc::kill(-pgid, sig) };
    for pid in our_children() {
        // SAFETY: these are our own children (orphans reparented to the subreaper).
        unsafe { libc::kill(pid, sig) };
    }
}

fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks existence.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// Reaps every child that has exited, adding its rusage.
fn reap_ready(total: &mut Rusage) {
    while let Ok(Some((_, usage))) = wait4(-1, libc::WNOHANG) {
        add_rusage(total, &usage);
    }
}

/// Our live (not yet reaped) children, found through /proc since this kernel has no
/// /proc/PID/task/TID/children.
fn our_children() -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the last ')' are: state ppid ...; zombies are reaped, not signalled.
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let mut fields = rest.split_whitespace();
            let state = fields.next();
            let ppid = fields.next().and_then(|p| p.parse::<i32>().ok());
            ppid == Some(me) && state != Some("Z")
        })
        .collect()
}

fn wait4(pid: i32, flags: i32) -> io::Result<Option<(i32, libc::rusage)>> {
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 writes into the two locals we pass.
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if r > 0 {
            return Ok(Some((status, usage)));
        }
        if r == 0 {
            return Ok(None);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => return Ok(None),
            _ => return Err(err),
        }
    }
}

fn add_rusage(total: &mut Rusage, u: &libc::rusage) {
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    total.user_s += secs(u.ru_utime);
    total.sys_s += secs(u.ru_stime);
    total.max_rss_bytes = total.max_rss_bytes.max(u.ru_maxrss as u64 * 1024);
    total.voluntary_switches += u.ru_nvcsw as u64;
    total.involuntary_switches += u.ru_nivcsw as u64;
    total.minor_faults += u.ru_minflt as u64;
    total.major_faults += u.ru_majflt as u64;
}

fn pidfd_open(pid: i32) -> io::Result<i32> {
    // SAFETY: the pidfd_open syscall takes a pid and flags and returns a new fd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd as i32)
}

/// True when `fd` became readable (the process exited) within `timeout`; EINTR counts as not yet.
fn poll_readable(fd: i32, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one pollfd we own.
    let r = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) };
    if r < 0 {
        let err = io::Error::last_os_error();
        return if err.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(err)
        };
    }
    Ok(r > 0)
}
