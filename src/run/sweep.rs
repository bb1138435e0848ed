//! What a sweep will do, decided up front: every point with its argv already substituted, how
//! many runs of each, and in which order. Plain data that `crate::plan` builds from the flags
//! and `run_sweep` executes, so run/ needs nothing from the layers above it.

use crate::measure::Goal;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Everything a sweep will do, decided up front.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The command as the user wrote it, placeholders intact.
    pub template: Vec<String>,
    /// Run through `sh -c`.
    pub shell: bool,
    /// Parameter names and their values, in the order given.
    pub params: Vec<(String, Vec<String>)>,
    /// One entry per (params, workers), grouped by params, workers ascending.
    pub points: Vec<PlannedPoint>,
    /// Measured runs per point; under `--runs auto`, those of the first rounds.
    pub runs: u32,
    /// `--runs auto`: how far the sweep may add rounds after the first ones; None for `--runs N`.
    pub auto: Option<AutoRuns>,
    pub warmup: u32,
    pub timeout: Option<Duration>,
    pub sample_hz: Option<f64>,
    pub probes: ProbeChoice,
    pub goal: Goal,
    pub output_dir: PathBuf,
    /// The order the runs are made in (see [`Plan::schedule`]).
    pub order: Order,
    /// Stop at the first failed run.
    pub fail_fast: bool,
    /// Bytes of the head and of the tail of each saved stdout/stderr.
    pub output_cap_bytes: u64,
    /// Most processes the sampler tracks at once.
    pub max_processes: u32,
}

/// One run of the sweep: which point, which repetition of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Index into `Plan::points`.
    pub point: usize,
    /// 0-based among the point's runs, warmups first.
    pub repetition: u32,
    pub warmup: bool,
}

impl Plan {
    /// Every run in the order it is made. Interleaved: every point's warmups first, then rounds
    /// of one measured run per point (1, 2, 4, 1, 2, 4, ...), so a host that drifts (measured:
    /// the same CPU-bound job took 5.8 to 8.6 s within minutes, issue 9) slows every point alike
    /// instead of turning into a fake speedup. Sequential: all runs of a point, then the next.
    pub fn schedule(&self) -> Vec<Step> {
        let (points, warmup, runs) = (self.points.len(), self.warmup, self.runs);
        let step = |point, repetition| Step {
            point,
            repetition,
            warmup: repetition < warmup,
        };
        match self.order {
            Order::Interleaved => (0..warmup + runs)
                .flat_map(|r| (0..points).map(move |p| step(p, r)))
                .collect(),
            Order::Sequential => (0..points)
                .flat_map(|p| (0..warmup + runs).map(move |r| step(p, r)))
                .collect(),
        }
    }
}

/// How far `--runs auto` may add rounds (one more measured run of every point each).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoRuns {
    /// The most measured runs per point (`--max-runs`).
    pub max_runs: u32,
    /// The most time the added rounds may take (`--max-time`); None: twice the first rounds'.
    pub max_time: Option<Duration>,
}

/// The order of a sweep's runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Order {
    Interleaved,
    Sequential,
}

/// Which probes to inject into the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeChoice {
    /// Decide per target: preload when it is dynamically linked, python when it is CPython.
    pub auto: bool,
    pub preload: bool,
    pub python: bool,
}

/// One point of the grid workers x params.
#[derive(Debug, Clone)]
pub struct PlannedPoint {
    pub workers: u32,
    pub params: BTreeMap<String, String>,
    /// The argv to execute (for `--shell`: `sh -c <string>`).
    pub argv: Vec<String>,
    /// Extra environment for the target (`--workers-env`).
    pub env: Vec<(String, String)>,
}
