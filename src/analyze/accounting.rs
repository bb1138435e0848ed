//! Where the speedup went: every worker-second of a point's n x wall given to exactly one cause,
//! divided by the wall into the cores each cause cost (docs/ACCOUNTING.md).
//!
//! Per run, `run::account_run` splits the worker slots' time; the causes sum to n x wall
//! exactly. A point's figure for a cause is the mean of its runs' cores (a mean keeps the sum:
//! the lost cores and the useful cores add up to n), with the slowest and fastest runs' values
//! as its bounds. Across a series, with U the useful CPU seconds of a point's typical run
//! (useful cores x the point's wall):
//!
//! ```text
//! useful_cores         = n - sum(lost_cores)
//! computation_scaling  = U at the smallest count / U at n
//! baseline_efficiency  = useful cores at the smallest count
//! speedup              = useful_cores x computation_scaling / baseline_efficiency
//! ```
//!
//! which is the point's wall speedup against the smallest count, rebuilt from its causes.

mod run;

use crate::measure::Run;
pub use run::{account_run, RunAccount};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where a worker-second went.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// On a CPU, in a task.
    Useful,
    /// Only the driver works: before the pool's first task, after its last.
    Serial,
    /// A worker's start (or the pool's first task) to its first task.
    Startup,
    /// No task while other workers still work (uneven chunks, the straggler tail).
    Imbalance,
    /// Waiting for the GIL while holding a task.
    Gil,
    /// Other futex waits.
    Locks,
    /// Waits on one sink (its fd, its back-off sleeps, its fsyncs), by what it is.
    Sink(String),
    /// Pickling, and waits on the pool's own pipes and socket pairs while the driver worked to
    /// feed them (with the driver idle too, a wait on the pipe is `Imbalance`).
    Transfer,
    /// Runnable without a CPU.
    RunQueue,
    /// What the run's sources could not place.
    Other,
}

impl Cause {
    /// The causes every accounting lists, sinks aside (they come and go with the workload).
    pub const FIXED_LOSSES: [Cause; 8] = [
        Cause::Serial,
        Cause::Startup,
        Cause::Imbalance,
        Cause::Gil,
        Cause::Locks,
        Cause::Transfer,
        Cause::RunQueue,
        Cause::Other,
    ];

    /// The cause's name in report.json (`sink:postgresql`, `run_queue`).
    pub fn key(&self) -> String {
        match self {
            Cause::Useful => "useful".into(),
            Cause::Serial => "serial".into(),
            Cause::Startup => "startup".into(),
            Cause::Imbalance => "imbalance".into(),
            Cause::Gil => "gil".into(),
            Cause::Locks => "locks".into(),
            Cause::Sink(name) => format!("sink:{name}"),
            Cause::Transfer => "transfer".into(),
            Cause::RunQueue => "run_queue".into(),
            Cause::Other => "other".into(),
        }
    }
}

/// A figure over a point's runs: its value, and the lowest and highest the runs gave.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Figure {
    /// Over the runs: the mean for a point's own figures, the typical run for series ratios.
    pub value: f64,
    /// The lowest any run (or pair of runs, for a ratio) gave.
    pub low: f64,
    /// The highest any run (or pair of runs) gave.
    pub high: f64,
}

impl Figure {
    /// The mean of `xs` with their extremes; None when empty.
    fn mean_of(xs: &[f64]) -> Option<Figure> {
        let low = xs.iter().copied().reduce(f64::min)?;
        let high = xs.iter().copied().reduce(f64::max)?;
        Some(Figure {
            value: xs.iter().sum::<f64>() / xs.len() as f64,
            low,
            high,
        })
    }

    /// `value` with bounds from `xs`, widened to hold the value.
    fn spanning(value: f64, xs: &[f64]) -> Figure {
        let low = xs.iter().copied().fold(value, f64::min);
        let high = xs.iter().copied().fold(value, f64::max);
        Figure { value, low, high }
    }
}

/// What a point's accounting rests on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AccountingSource {
    /// The threads' on-CPU, run-queue and blocked time from exact context-switch intervals.
    SwitchIntervals,
    /// The same from the procfs sampler's ticks (schedstat totals, states per tick).
    ProcfsTicks,
    /// Each pool worker's first task stamped by the python probe, and its pickling time.
    PythonProbe,
    /// A process-per-task tool: each task process's life is a task.
    TaskProcesses,
    /// Waits too short for the sampler to name, given to a sink by the preload probe's time in
    /// calls on its connection.
    PreloadProbe,
    /// A pool without a probe, seen from outside: a worker works from its first to its last
    /// tick wanting a CPU, and a worker blocked on its pool's queue after that is imbalance.
    OutsideIn,
}

/// The accounting of one point (the contract's `points[].summary.accounting`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Accounting {
    /// Worker slots accounted: the point's worker count (n).
    pub workers: u32,
    /// Cores each cause cost on average: its worker-seconds / the wall (serial, startup,
    /// imbalance, gil, locks, `sink:<name>`, transfer, run_queue, other).
    pub lost_cores: BTreeMap<String, Figure>,
    /// Cores on a CPU in a task: n - the sum of `lost_cores`.
    pub useful_cores: Figure,
    /// Useful CPU at the series' smallest count / useful CPU here (1 = the work did not grow
    /// with n; POP's computation scalability).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computation_scaling: Option<Figure>,
    /// Useful cores at the series' smallest count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_efficiency: Option<Figure>,
    /// useful_cores x computation_scaling / baseline_efficiency: the wall speedup against the
    /// smallest count, rebuilt from the accounting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speedup: Option<Figure>,
    /// Runs accounted (successful runs with the sampler's picture of the workers).
    pub runs: u32,
    pub sources: Vec<AccountingSource>,
    /// Each accounted run's (wall seconds, useful CPU seconds), for the series' bounds.
    #[serde(skip)]
    pub per_run: Vec<(f64, f64)>,
    /// Each accounted run's cores by cause (`useful` among them), for the intervals the steps
    /// draw from the runs (a sink's growth).
    #[serde(skip)]
    pub per_run_cores: Vec<BTreeMap<String, f64>>,
}

impl Accounting {
    /// Cores lost to `cause` (its report.json key, `transfer`, `sink:sqlite`); 0 when absent.
    pub fn lost(&self, cause: &str) -> f64 {
        self.lost_cores.get(cause).map_or(0.0, |f| f.value)
    }

    /// The losses of at least `min_cores`, largest first.
    pub fn losses_over(&self, min_cores: f64) -> Vec<(&str, f64)> {
        let mut out: Vec<(&str, f64)> = self
            .lost_cores
            .iter()
            .filter(|(_, f)| f.value >= min_cores)
            .map(|(k, f)| (k.as_str(), f.value))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        out
    }

    /// Each run's cores lost to `cause` (its report.json key) per useful core: the seconds it
    /// cost per second of useful CPU. Runs that did no useful work are left out.
    pub fn per_useful_core(&self, cause: &str) -> Vec<f64> {
        self.per_run_cores
            .iter()
            .filter_map(|r| {
                let useful = r.get("useful").copied().filter(|&u| u > 0.0)?;
                Some(r.get(cause).copied().unwrap_or(0.0) / useful)
            })
            .collect()
    }
}

/// Accounts the successful measured runs of a point that asked for `workers` (`own_dir`:
/// forkcast's output folder); None when no run
/// had the sampler's picture of its workers.
pub fn account_point(workers: u32, ok_runs: &[&Run], own_dir: Option<&str>) -> Option<Accounting> {
    let runs: Vec<RunAccount> = ok_runs
        .iter()
        .filter_map(|r| account_run(r, workers, own_dir))
        .collect();
    if runs.is_empty() {
        return None;
    }
    let cores = |c: &Cause| -> Vec<f64> { runs.iter().map(|r| r.get(c) / r.wall_s).collect() };
    let mut causes: BTreeSet<Cause> = Cause::FIXED_LOSSES.into_iter().collect();
    causes.extend(
        runs.iter()
            .flat_map(|r| r.seconds.keys())
            .filter(|c| **c != Cause::Useful)
            .cloned(),
    );
    let lost_cores = causes
        .iter()
        .filter_map(|c| Some((c.key(), Figure::mean_of(&cores(c))?)))
        .collect();
    let sources: BTreeSet<AccountingSource> = runs
        .iter()
        .flat_map(|r| r.sources.iter().copied())
        .collect();
    Some(Accounting {
        workers,
        lost_cores,
        useful_cores: Figure::mean_of(&cores(&Cause::Useful))?,
        computation_scaling: None,
        baseline_efficiency: None,
        speedup: None,
        runs: runs.len() as u32,
        sources: sources.into_iter().collect(),
        per_run: runs
            .iter()
            .map(|r| (r.wall_s, r.get(&Cause::Useful)))
            .collect(),
        per_run_cores: runs
            .iter()
            .map(|r| {
                r.seconds
                    .iter()
                    .map(|(c, s)| (c.key(), s / r.wall_s))
                    .collect()
            })
            .collect(),
    })
}

/// Fills the series-relative figures of a series' points, each given as its wall time and its
/// accounting (workers ascending), against the same baseline as the speedup: the first point
/// with a wall time.
pub fn fill_series(points: Vec<(Option<f64>, Option<&mut Accounting>)>) {
    let Some(b) = points.iter().position(|(wall, _)| wall.is_some()) else {
        return;
    };
    let (Some(base), Some(base_wall)) = (points[b].1.as_deref().cloned(), points[b].0) else {
        return;
    };
    let base_useful = base.useful_cores.value * base_wall;
    for (wall, acc) in points {
        let (Some(wall), Some(acc)) = (wall, acc) else {
            continue;
        };
        let useful = acc.useful_cores.value * wall;
        if !(useful > 0.0 && base_useful > 0.0) {
            continue;
        }
        let cs = base_useful / useful;
        let be = base.useful_cores.value;
        let pairs = || {
            base.per_run
                .iter()
                .flat_map(|&rb| acc.per_run.iter().map(move |&rn| (rb, rn)))
                .filter(|((_, ub), (_, un))| *ub > 0.0 && *un > 0.0)
        };
        let run_cs: Vec<f64> = pairs().map(|((_, ub), (_, un))| ub / un).collect();
        // The identity run against run: (Un / Wn) x (Ub / Un) / (Ub / Wb).
        let run_speedup: Vec<f64> = pairs()
            .map(|((wb, ub), (wn, un))| (un / wn) * (ub / un) / (ub / wb))
            .collect();
        acc.computation_scaling = Some(Figure::spanning(cs, &run_cs));
        acc.baseline_efficiency = Some(base.useful_cores);
        acc.speedup = Some(Figure::spanning(
            acc.useful_cores.value * cs / be,
            &run_speedup,
        ));
    }
}

#[cfg(test)]
mod tests;
