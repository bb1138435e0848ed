//! The per-CPU ring buffers: one DUMMY perf event per CPU on the gated child, with inherit (so
//! every thread and descendant reports into them), `context_switch`, `task` and `comm` records,
//! `sample_id_all` with TID | TIME, CLOCK_MONOTONIC timestamps, enabled at exec.
//! (../shared/HOST-AND-CRATES.md section 1: with inherit, one mmap per task fails with EINVAL;
//! one event per CPU works.)

use super::record::{self, Parsed, Record};
use perf_event::events::Software;
use perf_event::{Builder, Clock, SampleFlag, Sampler};
use std::io;

/// Data bytes per CPU asked for first: ~21,000 switch records (24 bytes each). At the
/// collector's 20 ms mean gap that absorbs a million switches a second per CPU.
const RING_BYTES: usize = 512 * 1024;
/// Smallest ring tried when the kernel refuses bigger ones (perf_event_mlock_kb for non-root).
const MIN_RING_BYTES: usize = 16 * 1024;
/// Size of the commonest record (a switch: 8-byte header + 16-byte trailer).
pub const SWITCH_RECORD_BYTES: usize = 24;

/// The rings of one run.
pub struct Rings {
    samplers: Vec<Sampler>,
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
        let mut ring_bytes = RING_BYTES;
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
        Ok(Rings {
            samplers,
            ring_bytes,
        })
    }

    pub fn cpus(&self) -> usize {
        self.samplers.len()
    }

    /// Reads every record now in the rings into `out` (unsorted across CPUs).
    pub fn drain(&mut self, out: &mut Vec<Record>) -> Drained {
        let mut d = Drained::default();
        for s in &mut self.samplers {
            let mut here = 0;
            while let Some(r) = s.next_record() {
                here += 1;
                match record::parse(r.ty(), r.misc(), &r.to_contiguous()) {
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
