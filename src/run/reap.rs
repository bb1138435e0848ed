//! Waiting for the target, enforcing the timeout, forwarding Ctrl-C, and cleaning up every
//! descendant. The keeper (src/run/keeper.rs) is the tree's subreaper and reaps it; forkcast
//! decides when to signal, and reads the keeper's report at the end.

use super::os::children_of;
use super::spawn::GatedChild;
use crate::measure::Rusage;
use std::io;
use std::os::fd::AsRawFd;
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
    /// The tree (or what outlived the root) was still alive `KILL_GRACE` after SIGTERM, so it
    /// got SIGKILL.
    pub sigterm_ignored: bool,
    /// Descendants still alive when the root exited (killed by forkcast).
    pub leftover_processes: u32,
    /// Sum over every reaped process (root, orphans, killed leftovers).
    pub rusage: Rusage,
}

/// Waits for the gated child (released at `t0`), enforcing `timeout`, then cleans up the whole
/// tree and collects the keeper's report.
pub fn wait_and_reap(
    child: &mut GatedChild,
    t0: Instant,
    timeout: Option<Duration>,
) -> io::Result<Ended> {
    let (pgid, keeper) = (child.pid, child.keeper);
    let mut ended = Ended::default();
    let deadline = timeout.map(|t| t0 + t);
    let mut kill_at: Option<Instant> = None;
    loop {
        if poll_readable(child.pidfd.as_raw_fd(), Duration::from_millis(50))? {
            break;
        }
        let now = Instant::now();
        if kill_at.is_none() {
            if let Some(sig) = interrupted() {
                ended.interrupted = true;
                signal_tree(pgid, keeper, sig);
                kill_at = Some(now + KILL_GRACE);
            } else if deadline.is_some_and(|d| now >= d) {
                ended.timed_out = true;
                signal_tree(pgid, keeper, libc::SIGTERM);
                kill_at = Some(now + KILL_GRACE);
            }
        } else if kill_at.is_some_and(|k| now >= k) {
            ended.sigterm_ignored = true;
            signal_tree(pgid, keeper, libc::SIGKILL);
            kill_at = Some(now + Duration::from_secs(3600));
        }
    }
    ended.wall = t0.elapsed();
    let (leftovers, leftovers_ignored) = cleanup_descendants(pgid, keeper);
    ended.leftover_processes = leftovers;
    ended.sigterm_ignored |= leftovers_ignored;
    let report = child.finish()?;
    ended.exit_code = report.exit_code;
    ended.signal = report.signal;
    ended.rusage = report.rusage;
    if ended.exit_code.is_none() && ended.signal.is_none() {
        return Err(io::Error::other("the keeper never saw the target exit"));
    }
    Ok(ended)
}

/// How long processes that outlive the root get to exit by themselves before they count as
/// leftovers: Python's forkserver and resource tracker exit when the root's pipes close, a few
/// ms after it (measured on lab 03 with forkserver: both were signalled as leftovers without it).
const LINGER: Duration = Duration::from_millis(250);

/// Terminates whatever of the tree outlived the root (its group and any orphans reparented to
/// the keeper) and waits until the keeper has reaped it. Returns how many processes were still
/// alive, and whether any of them survived SIGTERM.
fn cleanup_descendants(pgid: i32, keeper: i32) -> (u32, bool) {
    let linger_until = Instant::now() + LINGER;
    while Instant::now() < linger_until && (!children_of(keeper).is_empty() || group_alive(pgid)) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut leftovers = 0;
    let mut ignored = false;
    for sig in [libc::SIGTERM, libc::SIGKILL] {
        let alive = children_of(keeper);
        if alive.is_empty() && !group_alive(pgid) {
            break;
        }
        if sig == libc::SIGTERM {
            leftovers = alive.len() as u32;
        } else {
            ignored = true;
        }
        signal_tree(pgid, keeper, sig);
        let until = Instant::now() + KILL_GRACE;
        while Instant::now() < until && (!children_of(keeper).is_empty() || group_alive(pgid)) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    (leftovers, ignored)
}

/// Sends `sig` to the target's group and to every process that has been reparented to the
/// keeper.
fn signal_tree(pgid: i32, keeper: i32, sig: i32) {
    // SAFETY: kill() with a negative pid signals the target's own process group only.
    unsafe { libc::kill(-pgid, sig) };
    for pid in children_of(keeper) {
        // SAFETY: these are the keeper's children: the target and orphans of its tree.
        unsafe { libc::kill(pid, sig) };
    }
}

fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks existence.
    unsafe { libc::kill(-pgid, 0) == 0 }
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
