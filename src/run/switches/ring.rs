//! The per-CPU ring buffers: one DUMMY perf event per CPU on the gated child, with inherit (so
//! every thread and descendant reports into them), `context_switch`, `task` and `comm` records,
//! `sample_id_all` with TID | TIME, CLOCK_MONOTONIC timestamps, enabled at exec.
//! (Measured: with inherit, one mmap per task fails with EINVAL; one event per CPU works.)

use super::record::{self, Parsed, Record};
use perf_event::events::{Software, Tracepoint};
use perf_event::{Builder, Clock, SampleFlag, Sampler};
use std::io;

/// Data bytes per CPU asked for first: at most 512 KiB (~21,000 switch records; at the
/// collector's 20 ms mean gap that absorbs a million switches a second per CPU), and no more
/// than RINGS_TOTAL_BYTES over all CPUs, so a 64-CPU host locks 8 MiB per event kind, not 32.
/// The collector wakes sooner when a drain finds a ring a quarter full (collect.rs).
const RING_BYTES: usize = 512 * 1024;
const RINGS_TOTAL_BYTES: usize = 8 * 1024 * 1024;
/// Smallest ring tried when the kernel refuses bigger ones (perf_event_mlock_kb for non-root).
const MIN_RING_BYTES: usize = 16 * 1024;
/// Size of the commonest record (a switch: 8-byte header + 16-byte trailer).
pub const SWITCH_RECORD_BYTES: usize = 24;

/// Where tracefs may be mounted (perf-event2's `with_name` only knows the debugfs one).
const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The rings of one run.
pub struct Rings {
    samplers: Vec<Sampler>,
    /// sched_wakeup samples, one ring per CPU; empty when the tracepoint could not be opened.
    wakeups: Vec<Sampler>,
    /// Offset of the woken task's pid in the tracepoint's raw data.
    wakee_offset: usize,
    /// Why wake-ups are not traced, when they are not.
    pub wakeups_unavailable: Option<String>,
    /// Data bytes per CPU.
    pub ring_bytes: usize,
}

/// What one drain found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Drained {
    pub records: u64,
    pub bad: u64,
    /// Most records one ring held at this drain.
    pub max_ring_records: u64,
}

impl Rings {
    /// Opens one event per online CPU on `pid` (held before exec). Fails with the first error
    /// (EACCES without permission, ENOENT/EOPNOTSUPP on kernels without switch records).
    pub fn open(pid: i32) -> io::Result<Rings> {
        let cpus = online_cpus();
        let mut ring_bytes = ring_bytes_for(cpus);
        loop {
            match Self::open_sized(pid, cpus, ring_bytes) {
                Ok(r) => return Ok(r),
                // Out of locked memory: perf_event_mlock_kb is shared by all CPUs' rings.
                Err(e)
                    if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::ENOMEM))
                        && ring_bytes > MIN_RING_BYTES =>
                {
                    ring_bytes /= 2;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn open_sized(pid: i32, cpus: usize, ring_bytes: usize) -> io::Result<Rings> {
        let mut samplers = Vec::with_capacity(cpus);
        for cpu in 0..cpus {
            let counter = Builder::new(Software::DUMMY)
                .observe_pid(pid)
                .one_cpu(cpu)
                .inherit(true)
                .enable_on_exec(true)
                .enabled(false)
                .context_switch(true)
                .task(true)
                .comm(true)
                .comm_exec(true)
                .sample_id_all(true)
                .sample(SampleFlag::TID | SampleFlag::TIME)
                .clockid(Clock::MONOTONIC)
                .build()?;
            samplers.push(counter.sampled(ring_bytes)?);
        }
        let (wakeups, wakee_offset, wakeups_unavailable) = match open_wakeups(pid, cpus, ring_bytes)
        {
            Ok((w, off)) => (w, off, None),
            Err(why) => (Vec::new(), 0, Some(why)),
        };
        Ok(Rings {
            samplers,
            wakeups,
            wakee_offset,
            wakeups_unavailable,
            ring_bytes,
        })
    }

    pub fn wakeups_traced(&self) -> bool {
        !self.wakeups.is_empty()
    }

    pub fn cpus(&self) -> usize {
        self.samplers.len()
    }

    /// Reads every record now in the rings into `out` (unsorted across CPUs).
    pub fn drain(&mut self, out: &mut Vec<Record>) -> Drained {
        let mut d = Drained::default();
        let off = self.wakee_offset;
        for s in self.samplers.iter_mut().chain(self.wakeups.iter_mut()) {
            let mut here = 0;
            while let Some(r) = s.next_record() {
                here += 1;
                match record::parse(r.ty(), r.misc(), &r.to_contiguous(), off) {
                    Parsed::Record(rec) => out.push(rec),
                    Parsed::Other => {}
                    Parsed::Bad => d.bad += 1,
                }
            }
            d.records += here;
            d.max_ring_records = d.max_ring_records.max(here);
        }
        d
    }
}

/// One sched_wakeup sampler per CPU for every task (as `perf sched record` does), filtered to
/// the tree's threads when the records are applied; the wakee's pid is read from the raw data
/// at the offset the tracepoint's format file gives. Per-task inherited tracepoint events
/// (tried first) missed ~40 % of the wake-ups of an 8-thread GIL ping-pong: a wake-up is only
/// delivered to the wakee's event for the waker's CPU, and that event is stopped until the
/// wakee has run there. Needs CPU-wide events (root) and tracefs; Err says why not.
fn open_wakeups(
    _pid: i32,
    cpus: usize,
    ring_bytes: usize,
) -> Result<(Vec<Sampler>, usize), String> {
    let dir = TRACEFS
        .iter()
        .map(|t| std::path::Path::new(t).join("events/sched/sched_wakeup"))
        .find(|d| d.join("id").exists())
        .ok_or("tracefs with sched/sched_wakeup is not mounted (mount -t tracefs none /sys/kernel/tracing)")?;
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| format!("{f}: {e}"));
    let id: u64 = read("id")?
        .trim()
        .parse()
        .map_err(|_| "unreadable tracepoint id")?;
    let offset =
        wakee_pid_offset(&read("format")?).ok_or("no pid field in sched_wakeup's format")?;
    let mut out = Vec::with_capacity(cpus);
    for cpu in 0..cpus {
        let sampler = Builder::new(Tracepoint::with_id(id))
            .any_pid()
            .one_cpu(cpu)
            .enabled(true)
            .include_kernel()
            .sample_period(1)
            .sample(SampleFlag::TID | SampleFlag::TIME | SampleFlag::RAW)
            .clockid(Clock::MONOTONIC)
            .build()
            .and_then(|c| c.sampled(ring_bytes))
            .map_err(|e| format!("sched_wakeup could not be traced ({e}): run as root"))?;
        out.push(sampler);
    }
    Ok((out, offset))
}

/// The offset of `pid_t pid` in a tracepoint format file.
fn wakee_pid_offset(format: &str) -> Option<usize> {
    let line = format.lines().find(|l| l.contains("field:pid_t pid;"))?;
    let at = line.find("offset:")? + "offset:".len();
    line[at..].split(';').next()?.trim().parse().ok()
}

/// Ring bytes per CPU for `cpus` CPUs: a power of two within [MIN_RING_BYTES, RING_BYTES].
fn ring_bytes_for(cpus: usize) -> usize {
    let share = (RINGS_TOTAL_BYTES / cpus.max(1)).clamp(MIN_RING_BYTES, RING_BYTES);
    1 << share.ilog2()
}

/// CPUs online now (perf events per CPU must cover every CPU a task of the tree may run on).
fn online_cpus() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// Whether switch records can be opened here, tried on this process itself; Err names why and
/// the fix (for `forkcast doctor`).
pub fn probe() -> Result<(), String> {
    let built = Builder::new(Software::DUMMY)
        .observe_self()
        .one_cpu(0)
        .inherit(true)
        .enabled(false)
        .context_switch(true)
        .task(true)
        .sample_id_all(true)
        .sample(SampleFlag::TID | SampleFlag::TIME)
        .clockid(Clock::MONOTONIC)
        .build()
        .and_then(|c| c.sampled(MIN_RING_BYTES));
    built.map(drop).map_err(|e| super::explain_open_error(&e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_wakee_pid_offset_comes_from_the_format_file() {
        let format = "name: sched_wakeup\nformat:\n\tfield:char comm[16];\toffset:8;\tsize:16;\n\
                      \tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;\n";
        assert_eq!(super::wakee_pid_offset(format), Some(24));
        assert_eq!(super::wakee_pid_offset("field:int prio;\toffset:28;"), None);
    }

    #[test]
    fn rings_shrink_on_many_cpus_and_stay_powers_of_two() {
        assert_eq!(super::ring_bytes_for(2), 512 * 1024);
        assert_eq!(super::ring_bytes_for(64), 128 * 1024);
        assert_eq!(super::ring_bytes_for(48), 128 * 1024);
        assert_eq!(super::ring_bytes_for(4096), 16 * 1024);
    }
}
