//! The sampled tree: one sweep per tick (discover new processes, sweep every live process and
//! thread, do the slow reads that are due) folded into the run's timeline and records.

use super::discover::{Discovery, PidGate};
use super::process::{LiveProc, Shared, TickSums};
use super::rate::Pace;
use super::sys;
use super::thread::TickCtx;
use crate::measure::{ProcessRecord, SamplerData, Tick};
use std::io;
use std::time::{Duration, Instant};

/// Everything the sampler knows about the tree between ticks.
#[derive(Debug)]
pub(super) struct Tree {
    t0: Instant,
    root: i32,
    discovery: Discovery,
    gate: PidGate,
    procs: Vec<LiveProc>,
    data: SamplerData,
    bufs: Shared,
    pub pace: Pace,
    /// Seconds since release of the baseline sweep and of the latest sweep.
    first_t_s: Option<f64>,
    prev_t_s: Option<f64>,
    /// The tree's threads were waiting for a CPU at the last tick (see [`RUNQUEUE_PRESSURE`]).
    pressure: bool,
    /// Most live processes tracked at once.
    max_processes: u32,
}

/// Run-queue threads (average over a tick) above which every thread's state is read at every
/// tick. Without pressure a woken thread gets a CPU well within a tick, so skipping the stat of
/// a thread that has not run since it was seen sleeping is exact enough; under pressure (an
/// oversubscribed point) wake-ups can wait a whole tick and must show as `Q`, not as blocked.
/// Half a thread: GIL hand-offs and a busy host keep ~0.1 waiting without real oversubscription.
const RUNQUEUE_PRESSURE: f64 = 0.5;

/// Delay from first sight to a process's first slow read, at most `pss_every`: long enough to
/// skip a fresh fork's meaningless PSS and the pyenv shim's short-lived helpers, short enough to
/// catch a worker that lives a few hundred ms.
const FIRST_SLOW_READ_S: f64 = 0.1;

/// The CPU a sweep spent on slow reads, so the pace can tell the two costs apart.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SweepCost {
    pub slow_cpu: Duration,
}

/// Seconds from `t0` to `t`, negative when `t` is earlier.
pub(super) fn secs_since(t0: Instant, t: Instant) -> f64 {
    match t.checked_duration_since(t0) {
        Some(d) => d.as_secs_f64(),
        None => -t0.duration_since(t).as_secs_f64(),
    }
}

impl Tree {
    /// Takes the baseline sweep; fails when the root process does not exist.
    pub(super) fn new(
        root: i32,
        t0: Instant,
        pace: Pace,
        requested_hz: Option<f64>,
        max_processes: u32,
        adopter: Option<i32>,
    ) -> io::Result<Self> {
        let mut discovery = Discovery::new(root)?;
        if let Some(pid) = adopter {
            discovery.adopted_by(pid);
        }
        let mut tree = Tree {
            t0,
            root,
            discovery,
            gate: PidGate::new(),
            procs: Vec::new(),
            data: SamplerData {
                requested_hz,
                t0_monotonic_ns: Some(
                    crate::run::os::mono_ns().saturating_sub(t0.elapsed().as_nanos() as u64),
                ),
                ..SamplerData::default()
            },
            bufs: Shared::default(),
            pace,
            first_t_s: None,
            prev_t_s: None,
            pressure: false,
            max_processes: max_processes.max(1),
        };
        tree.sweep(Instant::now(), 0.0);
        if tree.procs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("process {root} is not running (nothing to sample)"),
            ));
        }
        Ok(tree)
    }

    /// One sweep at `now`. The first one is the baseline (no interval, no tick); each later one
    /// appends a tick to the timeline. `late_s` is how late it started.
    pub(super) fn sweep(&mut self, now: Instant, late_s: f64) -> SweepCost {
        let t_s = secs_since(self.t0, now);
        let ctx = TickCtx {
            t_s,
            interval_s: self.prev_t_s.map(|p| (t_s - p).max(1e-6)),
            tick_index: self.data.timeline.len() as u32,
        };
        let mut sums = TickSums::default();
        let moved = self.gate.moved(&mut self.bufs.file);
        if moved {
            let before = sys::thread_cpu_time();
            self.discover(t_s, &mut sums);
            self.data.discovery_scans += 1;
            self.data.discovery_cpu_s +=
                sys::thread_cpu_time().saturating_sub(before).as_secs_f64();
        }

        let slow_every = self.pace.slow_every_s(self.procs.len());
        let mut slow_cpu = Duration::ZERO;
        let mut slow_reads = 0;
        let (records, bufs, discovery) = (
            &mut self.data.processes,
            &mut self.bufs,
            &mut self.discovery,
        );
        let root = self.root;
        let pressure = self.pressure;
        self.procs.retain_mut(|p| {
            let rec = &mut records[p.rec];
            let slow_due = t_s >= p.next_slow_s;
            let swept = p.sweep(&ctx, moved, slow_due || pressure, bufs, rec, &mut sums);
            if p.pid == root {
                if let Some(pgrp) = swept.pgrp {
                    discovery.root_pgrp(pgrp);
                }
            }
            if swept.gone {
                discovery.forget(p.pid);
                bufs.res.forget(p.pid);
                return false;
            }
            if slow_due {
                let before = sys::thread_cpu_time();
                sums.errors += p.read_slow(bufs, rec);
                slow_cpu += sys::thread_cpu_time().saturating_sub(before);
                slow_reads += 1;
                p.next_slow_s = t_s + slow_every;
            }
            true
        });
        self.pace.slow_cost(slow_cpu, slow_reads);

        self.data.errors += u64::from(sums.errors);
        if let Some(interval_s) = ctx.interval_s {
            self.pressure = sums.delay_ns as f64 / 1e9 / interval_s >= RUNQUEUE_PRESSURE;
            self.data.timeline.push(Tick {
                t_s,
                on_cpu_cores: sums.exec_ns as f64 / 1e9 / interval_s,
                runqueue_threads: sums.delay_ns as f64 / 1e9 / interval_s,
                running_threads: sums.running,
                threads: sums.threads,
                processes: sums.processes,
                late_s,
                errors: sums.errors,
            });
            if late_s > self.pace.period().as_secs_f64() {
                self.data.late_ticks += 1;
            }
        }
        self.first_t_s.get_or_insert(t_s);
        self.prev_t_s = Some(t_s);
        SweepCost { slow_cpu }
    }

    /// Adds the processes that joined the tree since the last sweep.
    fn discover(&mut self, t_s: f64, sums: &mut TickSums) {
        let joined = match self.discovery.scan() {
            Ok(j) => j,
            Err(_) => {
                sums.errors += 1;
                return;
            }
        };
        let first_slow_s = t_s + FIRST_SLOW_READ_S.min(self.pace.pss_every_s());
        for j in joined {
            if self.procs.len() >= self.max_processes as usize {
                // Discovery keeps it as a tree member, so it is counted once and never sampled.
                self.data.process_cap = Some(self.max_processes);
                self.data.untracked_processes += 1;
                continue;
            }
            let idx = self.data.processes.len();
            match LiveProc::open(&j, idx, first_slow_s) {
                Ok(p) => {
                    self.data.processes.push(ProcessRecord {
                        pid: j.pid,
                        ppid: j.ppid,
                        first_seen_s: t_s,
                        last_seen_s: t_s,
                        ..ProcessRecord::default()
                    });
                    self.procs.push(p);
                }
                Err(e) if sys::is_gone(&e) => self.discovery.forget(j.pid),
                Err(_) => sums.errors += 1,
            }
        }
    }

    /// The run's data, with the rate achieved and the sampler's own CPU time.
    pub(super) fn into_data(mut self, sampler_cpu: Duration) -> SamplerData {
        let ticks = self.data.timeline.len() as u64;
        self.data.ticks = ticks;
        let span = match (self.first_t_s, self.prev_t_s) {
            (Some(a), Some(b)) if b > a => b - a,
            _ => 0.0,
        };
        self.data.achieved_hz = if span > 0.0 { ticks as f64 / span } else { 0.0 };
        self.data.sampler_cpu_s = sampler_cpu.as_secs_f64();
        self.data.processes.retain(|p| !p.threads.is_empty());
        self.data
    }
}
