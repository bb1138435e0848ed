//! Pure functions of the measurements: per-point summaries, scaling curves and fits per
//! series. No I/O, no clock; what cannot be computed is `None`.
//!
//! Speedup assumes the same total work at every worker count (strong scaling), so throughput
//! is 1 / wall time; the report says so.

pub mod accounting;
pub mod actors;
pub mod api;
pub mod engines;
pub mod gil;
pub mod ipc;
pub mod peers;
pub mod point;
pub mod pools;
pub mod record;
pub mod replay;
pub mod scaling;
pub mod select;
pub mod sink_growth;
pub mod stats;
pub mod timeline;
pub mod waits;
pub mod work;
pub mod workers;

use crate::measure::{Host, Measurements};
use point::{summarize_point, PointSummary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
pub use workers::Layout;

/// Everything analysis derives from one sweep.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Analysis {
    /// One summary per measured point, in the order of `Measurements::points`.
    pub points: Vec<PointSummary>,
    /// One scaling curve per parameter combination.
    pub series: Vec<Series>,
    /// The series that reached the highest throughput (the configuration the diagnosis
    /// describes); None when no point produced a usable run.
    pub primary: Option<usize>,
}

/// The points of one parameter combination, workers ascending.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Series {
    pub params: BTreeMap<String, String>,
    /// Indices into `Analysis::points`.
    pub points: Vec<usize>,
    pub scaling: Scaling,
    /// Highest throughput reached, as 1 / median wall (per second).
    pub best_throughput_per_s: Option<f64>,
    /// Worker layout seen at the largest worker count that has sampler data.
    pub layout: Option<Layout>,
}

/// Fits of one series' scaling curve (the contract's `scaling`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Scaling {
    pub amdahl: Option<AmdahlSummary>,
    pub usl: Option<UslSummary>,
    /// Karp-Flatt serial fraction per worker count (n > 1, 1-worker baseline needed).
    pub karp_flatt: Vec<KarpFlatt>,
    /// Worker counts the fits used.
    pub fitted_workers: Vec<u32>,
    /// The fits include points with more workers than usable CPUs, where the curve bends
    /// because of time-sharing rather than contention.
    pub includes_oversubscribed: bool,
    /// The replay's curve (`replay`): every measured count and the counts up to 4 x the host's
    /// cores; empty without an accounting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predicted: Vec<replay::Predicted>,
    /// What the predicted curve assumed, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predicted_assumptions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AmdahlSummary {
    pub serial_fraction: f64,
    /// Root mean square of the relative residuals.
    pub rmse_rel: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UslSummary {
    /// Contention (queueing on a shared resource).
    pub sigma: f64,
    /// Coherency (crosstalk that grows with n^2).
    pub kappa: f64,
    /// Worker count where the fitted curve peaks; None when it never turns down.
    pub peak_workers: Option<f64>,
    pub rmse_rel: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KarpFlatt {
    pub workers: u32,
    pub serial_fraction: f64,
}

/// Cores a CPU-bound pool can use in parallel: the usable CPUs, but no more than the physical
/// cores (hyperthread siblings share one core's execution units).
pub fn parallel_cores(host: &Host) -> u32 {
    host.physical_cpus
        .map_or(host.usable_cpus, |p| p.min(host.usable_cpus))
        .max(1)
}

/// Analyses a whole sweep, each series with its replayed curve.
pub fn analyze(m: &Measurements) -> Analysis {
    analyze_with(m, Curves::Replayed)
}

/// [`analyze`] without the replayed curves (`Scaling::predicted` and its assumptions empty):
/// every figure the diagnosis' steps decide on, which read no curve. For the runs weighed one
/// by one and `--runs auto`'s question after each round, where the replay's calibration
/// (its bisections, a replay each) was most of forkcast's own CPU over lab 01's quick start
/// (perf on `cargo run --release --example analysis_cost`).
pub fn analyze_for_steps(m: &Measurements) -> Analysis {
    analyze_with(m, Curves::Skipped)
}

/// Whether [`analyze_with`] replays each series' curve.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Curves {
    Replayed,
    Skipped,
}

fn analyze_with(m: &Measurements, curves: Curves) -> Analysis {
    let mut points: Vec<PointSummary> = m
        .points
        .iter()
        .map(|p| summarize_point(p, &m.host, m.output_dir.as_deref()))
        .collect();
    let mut groups: Vec<(BTreeMap<String, String>, Vec<usize>)> = Vec::new();
    for (i, p) in m.points.iter().enumerate() {
        match groups.iter_mut().find(|(params, _)| *params == p.params) {
            Some((_, idx)) => idx.push(i),
            None => groups.push((p.params.clone(), vec![i])),
        }
    }
    let series: Vec<Series> = groups
        .into_iter()
        .map(|(params, mut idx)| {
            idx.sort_by_key(|&i| m.points[i].workers);
            let workers: Vec<u32> = idx.iter().map(|&i| m.points[i].workers).collect();
            fill_relative(&mut points, &idx, &workers);
            // The series' points in workers order, each borrowed once.
            let mut slots: Vec<Option<&mut PointSummary>> = points.iter_mut().map(Some).collect();
            accounting::fill_series(
                idx.iter()
                    .filter_map(|&i| slots[i].take())
                    .map(|p| (p.wall_s, p.accounting.as_mut()))
                    .collect(),
            );
            let mut scaling = fit_series(&points, &idx, &workers, parallel_cores(&m.host));
            let layout = idx.iter().rev().find_map(|&i| points[i].worker_layout);
            let summaries: Vec<&PointSummary> = idx.iter().map(|&i| &points[i]).collect();
            let replays = (curves == Curves::Replayed)
                .then(|| replay::Replays::of(&summaries, &workers, layout, &m.host))
                .flatten();
            if let Some(r) = replays {
                let base = workers
                    .iter()
                    .zip(&summaries)
                    .find_map(|(&n, p)| p.wall_s.map(|w| (n, w)));
                scaling.predicted = replay::predict_curve(&r, &workers, base);
                scaling.predicted_assumptions = replay::assumption_words(&r.primary().workload);
            }
            let best = idx
                .iter()
                .filter_map(|&i| points[i].wall_s)
                .map(|w| 1.0 / w)
                .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))));
            Series {
                params,
                points: idx,
                scaling,
                best_throughput_per_s: best,
                layout,
            }
        })
        .collect();
    let primary = series
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.best_throughput_per_s.map(|t| (i, t)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i);
    Analysis {
        points,
        series,
        primary,
    }
}

/// Speedup, efficiency, Karp-Flatt and marginal efficiency against the series' baseline.
fn fill_relative(points: &mut [PointSummary], idx: &[usize], workers: &[u32]) {
    let Some(base) = idx
        .iter()
        .zip(workers)
        .find_map(|(&i, &n)| points[i].wall_s.map(|w| (n, w)))
    else {
        return;
    };
    let spread = |s: &PointSummary| {
        s.wall_min_s
            .zip(s.wall_max_s)
            .map(|(min, max)| scaling::WallSpread { min, max })
    };
    let base_spread = idx.iter().find_map(|&i| spread(&points[i]));
    let mut prev: Option<(f64, f64)> = None;
    let mut prev_spread: Option<scaling::WallSpread> = None;
    for (&i, &n) in idx.iter().zip(workers) {
        let Some(wall) = points[i].wall_s else {
            continue;
        };
        let here_spread = spread(&points[i]);
        if let Some((lo, hi)) = base_spread
            .zip(here_spread)
            .and_then(|(b, h)| scaling::ratio_bounds(b, h))
        {
            (points[i].speedup_low, points[i].speedup_high) = (Some(lo), Some(hi));
        }
        if let (Some((na, _)), Some((lo, hi))) = (
            prev,
            prev_spread
                .zip(here_spread)
                .and_then(|(p, h)| scaling::ratio_bounds(p, h)),
        ) {
            let nb = f64::from(n);
            points[i].marginal_efficiency_low = scaling::marginal_efficiency_of_ratio(na, nb, lo);
            points[i].marginal_efficiency_high = scaling::marginal_efficiency_of_ratio(na, nb, hi);
        }
        prev_spread = here_spread;
        let (n0, w0) = (f64::from(base.0), base.1);
        let nf = f64::from(n);
        let here = (nf, 1.0 / wall);
        let s = &mut points[i];
        s.speedup = Some(scaling::speedup((n0, 1.0 / w0), here));
        s.efficiency = Some(scaling::efficiency((n0, 1.0 / w0), here));
        if base.0 == 1 {
            s.karp_flatt = scaling::karp_flatt(w0 / wall, nf);
        }
        s.marginal_efficiency = prev.and_then(|p| scaling::marginal_efficiency(p, here));
        prev = Some(here);
    }
}

fn fit_series(
    points: &[PointSummary],
    idx: &[usize],
    workers: &[u32],
    usable_cpus: u32,
) -> Scaling {
    let curve: Vec<(f64, f64)> = idx
        .iter()
        .zip(workers)
        .filter_map(|(&i, &n)| points[i].wall_s.map(|w| (f64::from(n), 1.0 / w)))
        .collect();
    let fitted_workers: Vec<u32> = curve.iter().map(|(n, _)| *n as u32).collect();
    Scaling {
        amdahl: scaling::fit_amdahl(&curve).map(|f| AmdahlSummary {
            serial_fraction: f.serial_fraction,
            rmse_rel: f.rmse_rel,
        }),
        usl: scaling::fit_usl(&curve).map(|f| UslSummary {
            sigma: f.sigma,
            kappa: f.kappa,
            peak_workers: f.peak_workers,
            rmse_rel: f.rmse_rel,
        }),
        karp_flatt: idx
            .iter()
            .zip(workers)
            .filter_map(|(&i, &n)| {
                points[i].karp_flatt.map(|e| KarpFlatt {
                    workers: n,
                    serial_fraction: e,
                })
            })
            .collect(),
        includes_oversubscribed: fitted_workers.iter().any(|&n| n > usable_cpus),
        predicted: Vec::new(),
        predicted_assumptions: Vec::new(),
        fitted_workers,
    }
}
