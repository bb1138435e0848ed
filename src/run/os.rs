//! Small questions to the kernel that several parts of run/ ask: the clock, the user, a
//! process's children, a rusage sum. The bottom of run/: it imports only measure/, so the
//! sampler, the switch collector, the probes, the keeper and the reaper can all use it
//! without importing each other.

use crate::measure::Rusage;

/// CLOCK_MONOTONIC now, in ns: the clock the events stamp records with (and `Instant`'s).
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec; CLOCK_MONOTONIC is always supported.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The user forkcast runs as (what decides most of what `forkcast doctor` finds).
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The live (not zombie) children of `parent`, found through /proc since this kernel has no
/// /proc/PID/task/TID/children.
pub fn children_of(parent: i32) -> Vec<i32> {
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
            ppid == Some(parent) && state != Some("Z")
        })
        .collect()
}

/// Adds one rusage (of a reaped child) into the tree's total.
pub fn add_rusage(total: &mut Rusage, u: &libc::rusage) {
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    total.user_s += secs(u.ru_utime);
    total.sys_s += secs(u.ru_stime);
    total.max_rss_bytes = total.max_rss_bytes.max(u.ru_maxrss as u64 * 1024);
    total.voluntary_switches += u.ru_nvcsw as u64;
    total.involuntary_switches += u.ru_nivcsw as u64;
    total.minor_faults += u.ru_minflt as u64;
    total.major_faults += u.ru_majflt as u64;
}
