//! The sampler's part when switch records give the timeline: it only names waits. For a thread
//! the records show blocked, it reads the syscall and resolves the fd (once per blocked
//! interval: a thread that stays blocked keeps its name without another read), and for each
//! process it does the slow reads (exe, cmdline, fds held, PSS, io) at a low rate.

use super::blocked::BlockedProbe;
use super::process::{read_identity, read_slow, Shared};
use super::sys;
use crate::measure::{ProcessRecord, WaitCount};
use std::collections::HashMap;
use std::time::Duration;

/// Names waits and does the slow per-process reads for the switch collector.
#[derive(Debug, Default)]
pub(crate) struct WaitNamer {
    bufs: Shared,
    probes: HashMap<i32, BlockedProbe>,
}

impl WaitNamer {
    /// Raises RLIMIT_NOFILE (one kept-open syscall fd per blocked thread).
    pub(crate) fn new() -> Self {
        let _ = sys::raise_nofile_limit();
        Self::default()
    }

    /// What blocked thread `tid` of `pid` waits on: its index in `waits` (added when new);
    /// None when /proc shows it running after all (it woke since the records were read).
    /// Also returns the reads that failed for a reason other than the task exiting.
    pub(crate) fn name(
        &mut self,
        pid: i32,
        tid: i32,
        waits: &mut Vec<WaitCount>,
    ) -> (Option<usize>, u32) {
        let probe = self.probes.entry(tid).or_default();
        let looked = probe.look(
            pid,
            tid,
            false,
            &mut self.bufs.res,
            &mut self.bufs.file,
            waits,
        );
        (looked.idx, looked.errors)
    }

    /// Exe, cmdline and the fds held (what it writes), after a fork or an exec: a task process
    /// of make or xargs may live less than the first slow read's delay, and what it writes is
    /// what makes it one of a sink's writers.
    pub(crate) fn read_identity(&mut self, pid: i32, rec: &mut ProcessRecord) -> u32 {
        read_identity(pid, &mut self.bufs, rec)
            + self.bufs.res.held(pid, &mut rec.held, &mut rec.written)
    }

    /// PSS, io, fds held, and identity again.
    pub(crate) fn read_slow(&mut self, pid: i32, rec: &mut ProcessRecord) -> u32 {
        read_slow(pid, &mut self.bufs, rec)
    }

    /// A thread exited: close its syscall fd.
    pub(crate) fn forget_thread(&mut self, tid: i32) {
        self.probes.remove(&tid);
    }

    /// A process exited: drop its cached resolutions.
    pub(crate) fn forget_process(&mut self, pid: i32) {
        self.bufs.res.forget(pid);
    }
}

/// CPU time the calling thread has used.
pub(crate) fn thread_cpu_time() -> Duration {
    sys::thread_cpu_time()
}
