//! The collector thread: at jittered, exponential gaps it drains the rings, folds the records
//! into the intervals (sorted by time across CPUs: a thread's switch out and back in can land
//! in two CPUs' rings), names the waits of threads that are blocked at that moment (one /proc
//! read per blocked interval, however long it lasts), and does the slow per-process reads
//! (exe, cmdline, fds, PSS, io) at a low rate under a CPU budget.

use super::intervals::Intervals;
use super::record::Record;
use super::ring::{Rings, SWITCH_RECORD_BYTES};
use crate::measure::{SamplerData, Source, SwitchStats};
use crate::run::sampler::jitter::Jitter;
use crate::run::sampler::namer::{thread_cpu_time, WaitNamer};
use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A process's first slow read comes this long after its fork: skips a fresh fork's PSS and
/// launcher helpers that live a few ms (the sampler's FIRST_SLOW_READ_S).
const FIRST_SLOW_READ_S: f64 = 0.1;
/// Share of one core the slow reads may use (twice the sampler's SLOW_BUDGET: the collector
/// itself costs less than the sampler's sweeps).
const SLOW_BUDGET: f64 = 0.01;
/// CPU the slow reads may spend ahead of the budget, in seconds: the first read of a pool of
/// ~50 freshly forked workers (smaps_rollup ~1 ms each) fits at once; a tree of 512 processes
/// is read over the next seconds instead of in one burst.
const SLOW_ALLOWANCE_S: f64 = 0.05;
/// How long a left-out process is remembered after its exit record (its threads' last
/// switch-outs follow the exit, possibly in another CPU's ring drained later).
const UNTRACKED_GRACE_NS: u64 = 1_000_000_000;
/// Shortest gap between wake-ups when the rings fill fast.
const MIN_GAP: Duration = Duration::from_millis(2);
/// A drain that found more than this share of a ring's capacity shortens the next gaps.
const RING_PRESSURE: f64 = 0.25;

/// Everything the collector thread owns.
pub(super) struct Collector {
    pub rings: Rings,
    pub iv: Intervals,
    pub namer: WaitNamer,
    pub stats: SwitchStats,
    pub t0_ns: u64,
    /// Mean gap between wake-ups (from --sample-hz, default 50 Hz).
    pub period: Duration,
    pub pss_every_s: f64,
    pub requested_hz: Option<f64>,
    /// CPU spent opening the rings before the thread started.
    pub open_cpu: Duration,
    batch: Vec<Record>,
    next_slow_s: HashMap<i32, f64>,
    slow_cost_s: Option<f64>,
    /// CPU spent on slow reads so far, in seconds (against SLOW_BUDGET x elapsed).
    slow_spent_s: f64,
    errors: u64,
    /// Current gap scale: 1, halved under ring pressure, back up when drains are small.
    pressure_scale: f64,
}

impl Collector {
    pub(super) fn new(
        rings: Rings,
        iv: Intervals,
        t0_ns: u64,
        period: Duration,
        pss_every_s: f64,
    ) -> Self {
        let stats = SwitchStats {
            cpus: rings.cpus() as u32,
            ring_bytes_per_cpu: rings.ring_bytes as u64,
            ring_capacity_records: (rings.ring_bytes / SWITCH_RECORD_BYTES) as u64,
            wakeups_traced: rings.wakeups_traced(),
            wakeups_unavailable: rings.wakeups_unavailable.clone(),
            ..SwitchStats::default()
        };
        Collector {
            rings,
            iv,
            namer: WaitNamer::new(),
            stats,
            t0_ns,
            period,
            pss_every_s,
            requested_hz: None,
            open_cpu: Duration::ZERO,
            batch: Vec::with_capacity(4096),
            next_slow_s: HashMap::new(),
            slow_cost_s: None,
            slow_spent_s: 0.0,
            errors: 0,
            pressure_scale: 1.0,
        }
    }

    /// The thread's loop; returns the run's data once `stop` says the tree is reaped.
    pub(super) fn run(mut self, stop: Receiver<()>) -> SamplerData {
        let cpu_start = thread_cpu_time();
        let mut jitter = Jitter::new();
        loop {
            let mean = self.period.mul_f64(self.pressure_scale).max(MIN_GAP);
            let gap = jitter.gap(mean);
            let due = Instant::now() + gap;
            if !matches!(stop.recv_timeout(gap), Err(RecvTimeoutError::Timeout)) {
                break;
            }
            if Instant::now().saturating_duration_since(due) > mean {
                self.stats.late_wakeups += 1;
            }
            self.wake();
        }
        self.drain();
        let end_ns = crate::run::os::mono_ns();
        let cpu = thread_cpu_time().saturating_sub(cpu_start) + self.open_cpu;
        self.finish(end_ns, cpu)
    }

    /// One wake-up: drain, name the waits, do the slow reads that are due.
    fn wake(&mut self) {
        self.stats.wakeups += 1;
        self.drain();
        self.name_waits();
        self.slow_reads();
        self.stats.peak_state_bytes = self.stats.peak_state_bytes.max(self.iv.state_bytes());
    }

    fn drain(&mut self) {
        self.batch.clear();
        let d = self.rings.drain(&mut self.batch);
        self.stats.records += d.records;
        self.stats.bad_records += d.bad;
        self.stats.max_drain_records = self.stats.max_drain_records.max(d.max_ring_records);
        let fill = d.max_ring_records as f64 / self.stats.ring_capacity_records.max(1) as f64;
        self.pressure_scale = if fill > RING_PRESSURE {
            (self.pressure_scale / 2.0).max(0.05)
        } else {
            (self.pressure_scale * 2.0).min(1.0)
        };
        self.batch.sort_by_key(Record::time_ns);
        // A left-out process's last records come within a drain or two of its exit.
        let horizon = self.batch.last().map(Record::time_ns);
        for r in &self.batch {
            match r {
                Record::Switch { .. } => self.stats.switch_records += 1,
                Record::Wakeup { .. } => self.stats.wake_records += 1,
                Record::Lost { .. } => {}
                _ => self.stats.task_records += 1,
            }
            self.iv.apply(r);
            if let Record::Exit { pid, tid, .. } = *r {
                self.namer.forget_thread(tid);
                if self.iv.procs.get(&pid).is_some_and(|p| p.end_ns.is_some()) {
                    self.namer.forget_process(pid);
                    self.next_slow_s.remove(&pid);
                }
            }
        }
        if let Some(latest) = horizon {
            self.iv
                .forget_untracked_exited_before(latest.saturating_sub(UNTRACKED_GRACE_NS));
        }
    }

    /// Names the current wait of every blocked thread: a read for a new blocked interval, a
    /// tick on the known name for one that stayed blocked.
    fn name_waits(&mut self) {
        let blocked: Vec<(i32, i32)> = self.iv.blocked().collect();
        for (pid, tid) in blocked {
            let Some(t) = self.iv.threads.get_mut(&tid) else {
                continue;
            };
            if let Some(w) = t.current_wait.and_then(|i| t.waits.get_mut(i)) {
                w.ticks += 1;
                continue;
            }
            if t.looked_unnamed {
                continue;
            }
            let (idx, errors) = self.namer.name(pid, tid, &mut t.waits);
            self.stats.wait_lookups += 1;
            self.errors += u64::from(errors);
            match idx {
                Some(i) => {
                    t.current_wait = Some(i);
                    t.waits[i].ticks += 1;
                }
                None => t.looked_unnamed = true,
            }
        }
    }

    /// exe and cmdline soon after a fork or exec; PSS, io and fds every slow period, stretched
    /// so that reading every live process stays within SLOW_BUDGET.
    fn slow_reads(&mut self) {
        let now_s = crate::run::os::mono_ns().saturating_sub(self.t0_ns) as f64 / 1e9;
        let live = self.iv.live_processes();
        let every = self
            .pss_every_s
            .max(self.slow_cost_s.unwrap_or(0.0) * live as f64 / SLOW_BUDGET);
        let (mut cpu, mut reads) = (Duration::ZERO, 0u32);
        let t0_ns = self.t0_ns;
        for p in self.iv.procs.values_mut().filter(|p| p.end_ns.is_none()) {
            let pid = p.record.pid;
            let born_s = p.start_ns.saturating_sub(t0_ns) as f64 / 1e9;
            let due = *self
                .next_slow_s
                .entry(pid)
                .or_insert(born_s + FIRST_SLOW_READ_S.min(self.pss_every_s));
            if now_s < due {
                continue;
            }
            if self.slow_spent_s + cpu.as_secs_f64() > SLOW_ALLOWANCE_S + SLOW_BUDGET * now_s {
                break;
            }
            let before = thread_cpu_time();
            self.errors += u64::from(self.namer.read_slow(pid, &mut p.record));
            p.identity_due = false;
            cpu += thread_cpu_time().saturating_sub(before);
            reads += 1;
            self.next_slow_s.insert(pid, now_s + every);
        }
        // An exec changes exe and cmdline: read them at once (cheap: a readlink and a read).
        for p in self.iv.procs.values_mut().filter(|p| p.end_ns.is_none()) {
            if p.identity_due && self.next_slow_s.contains_key(&p.record.pid) {
                self.errors += u64::from(self.namer.read_identity(p.record.pid, &mut p.record));
                p.identity_due = false;
            }
        }
        self.slow_spent_s += cpu.as_secs_f64();
        if reads > 0 {
            let each = cpu.as_secs_f64() / f64::from(reads);
            self.slow_cost_s = Some(match self.slow_cost_s {
                Some(o) => o + 0.2 * (each - o),
                None => each,
            });
        }
    }

    fn finish(self, end_ns: u64, cpu: Duration) -> SamplerData {
        let mut stats = self.stats;
        stats.lost_records = self.iv.lost_records;
        stats.unseen_wakeups = self.iv.unseen_wakeups;
        stats.ignored_wakeups = self.iv.ignored_wakeups;
        stats.reordered_records = self.iv.reordered;
        stats.bin_s = self.iv.bin_ns() as f64 / 1e9;
        stats.threads_seen = self.iv.threads.len() as u64;
        stats.processes_seen = self.iv.procs.len() as u64;
        stats.peak_state_bytes = stats.peak_state_bytes.max(self.iv.state_bytes());
        let mut data = self.iv.finish(end_ns);
        data.requested_hz = self.requested_hz;
        data.errors = self.errors;
        data.sampler_cpu_s = cpu.as_secs_f64();
        data.source = Some(Source::PerfSwitch);
        data.switches = Some(stats);
        data
    }
}
