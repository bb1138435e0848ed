//! What a measured run would do at other counts: a replay model (docs/PREDICTIONS.md).
//!
//! `model.rs` builds a workload from one point's accounting and probes; `sim.rs` replays it on
//! n workers and c cores as a discrete-event simulation; `laws.rs` holds the operational laws
//! that bound it and the mean value analysis that turns a measured wait into a service demand.
//! Every measured count predicts the curve; the largest one, which shows the most contention,
//! gives the value, and the others, the unknowns' two sides and the runs' spread give the
//! interval. Runs at several counts calibrate the work's growth with the count (the
//! accounting's computation scaling).

pub mod laws;
pub mod model;
pub mod sim;
pub mod workload;

use crate::analyze::point::PointSummary;
use crate::analyze::Layout;
use crate::measure::Host;
use model::{Side, Workload};
use serde::{Deserialize, Serialize};

/// One predicted point of the curve (the contract's `scaling.predicted[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Predicted {
    pub workers: u32,
    /// Cores the replay gave the workers: this host's, or as many as the workers past it.
    pub cores: u32,
    /// The series' measured baseline wall over the replayed wall here (without a measured
    /// baseline, the replayed 1 worker's).
    pub speedup: f64,
    pub low: f64,
    pub high: f64,
    /// The replayed wall, seconds.
    pub wall_s: f64,
    /// `cores` exceeds this host's parallel cores.
    pub beyond_host: bool,
    /// What limits the curve here: `cpu`, `gil`, `sink:<name>`, `driver`, `imbalance`,
    /// `memory`.
    pub bound: String,
}

/// What the curve rests on: the assumptions, in words (the contract's
/// `scaling.predicted_assumptions`).
pub fn assumption_words(w: &Workload) -> Vec<String> {
    w.assumptions
        .iter()
        .map(|a| a.words().to_string())
        .collect()
}

/// A workload ready to replay: the point's picture and the work's growth per added worker.
#[derive(Debug, Clone)]
pub struct Replay {
    pub workload: Workload,
    /// Extra work per added worker, as a share of the work at 1 (0 = none).
    pub inflation: f64,
    pub host_cores: u32,
    pub host_memory_bytes: Option<f64>,
    /// A writer beside the workers (the single-writer what-if): its seconds of service over
    /// the run and the sink it serves; the run lasts at least that long.
    pub writer: Option<(f64, String)>,
}

/// One replayed count.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub wall_s: f64,
    pub bound: String,
}

/// Serial resources at least this busy over the parallel part bound the curve.
const SATURATED: f64 = 0.8;
/// A parallel part this much longer than the laws' floor is lost to uneven tasks.
const IMBALANCED: f64 = 1.2;

impl Replay {
    fn work_scale(&self, workers: u32) -> f64 {
        let at = |n: u32| (1.0 + self.inflation * f64::from(n.max(1) - 1)).max(0.25);
        at(workers) / at(self.workload.measured_workers)
    }

    /// Each worker's start-up at `workers` on `cores`: the measured one, as long as the cores
    /// it had allow. A pool starts its workers together, and a starting worker wants a CPU (an
    /// interpreter's start, spawn's imports, fork's page tables), beside the cores busy next to
    /// the workers; so n starting at once on c cores each get c / (n + background) of one, at
    /// most a whole one, and the measured start-up is stretched or shrunk by the ratio of
    /// that share at the measured count (on this host's cores) to the share at `workers`.
    pub fn startup_at(&self, workers: u32, cores: u32) -> f64 {
        let w = &self.workload;
        let share = |n: u32, c: u32| {
            let starting = f64::from(n.max(1)).min(w.tasks.len().max(1) as f64);
            (f64::from(c.max(1)) / (starting + w.background_cores)).min(1.0)
        };
        w.startup_s * share(w.measured_workers, self.host_cores) / share(workers, cores)
    }

    /// Replays `workers` on `cores`, each resource's demand scaled by `demand_scale`.
    pub fn run(&self, workers: u32, cores: u32, demand_scale: &[f64]) -> Outcome {
        let w = &self.workload;
        let scale = self.work_scale(workers);
        let mut r = sim::replay(w, workers, cores, scale, demand_scale);
        let writer_s = self.writer.as_ref().map_or(0.0, |(s, _)| s * scale);
        r.makespan_s = r.makespan_s.max(writer_s);
        let startup_s = self.startup_at(workers, cores);
        let wall = w.serial_s + startup_s + r.makespan_s;
        let total: f64 = w.tasks.iter().sum::<f64>() * scale;
        let longest = w.tasks.iter().copied().fold(0.0, f64::max) * scale;
        // A lock held while working is busy for as long as that work takes on the CPU it gets.
        let demands: Vec<(f64, &str)> = w
            .resources
            .iter()
            .zip(demand_scale.iter().chain(std::iter::repeat(&1.0)))
            .zip(&r.busy_s)
            .map(|((res, s), &busy)| {
                let demand = res.demand_s * s;
                let held = if res.held_share > 0.0 {
                    busy.max(demand + res.held_share * total)
                } else {
                    demand
                };
                (held, res.bound.as_str())
            })
            .collect();
        let writer = self
            .writer
            .as_ref()
            .map(|(_, name)| (writer_s, name.as_str()));
        // The driver handling the messages beside the workers, busy as long as the replay
        // kept it.
        let driver = (w.driver_per_task_s > 0.0).then_some((r.driver_busy_s, "driver"));
        let (max_demand, max_name) = demands
            .iter()
            .copied()
            .chain(writer)
            .chain(driver)
            .fold((0.0, "cpu"), |a, b| if b.0 > a.0 { b } else { a });
        let floor = laws::makespan_floor(total, max_demand, longest, workers, cores);
        let memory = self
            .host_memory_bytes
            .zip(w.memory_per_worker)
            .is_some_and(|(host, per)| per * f64::from(workers) > host);
        let bound = if memory {
            "memory".to_string()
        } else if max_demand >= SATURATED * r.makespan_s {
            max_name.to_string()
        } else if w.serial_s + startup_s >= r.makespan_s {
            "driver".to_string()
        } else if r.makespan_s > IMBALANCED * floor {
            "imbalance".to_string()
        } else {
            "cpu".to_string()
        };
        Outcome {
            wall_s: wall,
            bound,
        }
    }
}

/// The extra work per added worker the measured counts show: the median over the points past
/// the first of (1 / computation scaling - 1) / (n - n0). None with one count.
pub fn inflation(points: &[&PointSummary], workers: &[u32]) -> Option<f64> {
    let n0 = *workers.first()?;
    let mut xs: Vec<f64> = points
        .iter()
        .zip(workers)
        .filter(|(_, &n)| n > n0)
        .filter_map(|(p, &n)| {
            let cs = p.accounting.as_ref()?.computation_scaling?.value;
            (cs > 0.0).then(|| (1.0 / cs - 1.0) / f64::from(n - n0))
        })
        .collect();
    xs.sort_by(f64::total_cmp);
    let m = xs.get(xs.len() / 2).copied()?;
    Some(m.clamp(-0.1, 0.5))
}

/// The replays of a series' points, largest count first, each with its two sides.
pub struct Replays {
    /// (value, low side, high side) per point with an accounting, largest count first.
    pub per_point: Vec<(Replay, Replay, Replay)>,
    /// The widest relative half-spread of the runs' walls.
    pub spread: f64,
}

impl Replays {
    /// Builds the replays of the points (workers ascending).
    pub fn of(
        points: &[&PointSummary],
        workers: &[u32],
        layout: Option<Layout>,
        host: &Host,
    ) -> Option<Replays> {
        let inflation = inflation(points, workers).unwrap_or(0.0);
        let cores = crate::analyze::parallel_cores(host);
        let mem = Some(host.memory_bytes as f64).filter(|m| *m > 0.0);
        let mk = |p: &PointSummary, n: u32, side: Side| {
            model::workload(p, n, layout, cores, side).map(|mut workload| {
                if inflation != 0.0 {
                    workload.assumptions.push(model::Assumption::WorkInflation);
                }
                Replay {
                    workload,
                    inflation,
                    host_cores: cores,
                    host_memory_bytes: mem,
                    writer: None,
                }
            })
        };
        let mut per_point = Vec::new();
        let mut spread: f64 = 0.0;
        for (p, &n) in points.iter().zip(workers).rev() {
            // Past one worker the point shows what the sides guess at (the task order, the
            // GIL's share): its three sides are one workload.
            let sides = match mk(p, n, Side::Value) {
                Some(v) if n > 1 => Some((v.clone(), v.clone(), v)),
                Some(v) => mk(p, n, Side::Low)
                    .zip(mk(p, n, Side::High))
                    .map(|(mut l, h)| {
                        // A larger count shows whether a sink's lock is held while working.
                        // A hold the probe timed stays as measured.
                        let unknown = l
                            .workload
                            .assumptions
                            .contains(&model::Assumption::SinkHoldUnknown);
                        if points.len() > 1 && unknown {
                            l.workload
                                .resources
                                .iter_mut()
                                .for_each(|x| x.held_share = 0.0);
                        }
                        (v, l, h)
                    }),
                None => None,
            };
            if let Some(sides) = sides {
                per_point.push(sides);
                if let (Some(w), Some(lo), Some(hi)) = (p.wall_s, p.wall_min_s, p.wall_max_s) {
                    spread = spread.max((hi - lo) / w / 2.0);
                }
            }
        }
        (!per_point.is_empty()).then_some(Replays { per_point, spread })
    }

    /// The replay the value comes from: the largest count's.
    pub fn primary(&self) -> &Replay {
        &self.per_point[0].0
    }

    /// The predicted point at `workers` on `cores`, its interval over every replay and side.
    pub fn predict(
        &self,
        workers: u32,
        cores: u32,
        change: &dyn Fn(&Replay) -> Replay,
    ) -> Predicted {
        self.predict_sides(workers, cores, change, &[])
    }

    /// `predict`, the interval widened by the change's own unknowns (`sides`: the change as
    /// its low and high assumptions make it).
    pub fn predict_sides(
        &self,
        workers: u32,
        cores: u32,
        change: &dyn Fn(&Replay) -> Replay,
        sides: &[&dyn Fn(&Replay) -> Replay],
    ) -> Predicted {
        let speed = |r: &Replay| {
            let r = change(r);
            let one = r.run(1, cores, &[]);
            let here = r.run(workers, cores, &[]);
            (one.wall_s / here.wall_s, here)
        };
        let (value, here) = speed(self.primary());
        let mut low = value;
        let mut high = value;
        for (v, l, h) in &self.per_point {
            for r in [v, l, h] {
                let s = speed(r).0;
                low = low.min(s);
                high = high.max(s);
            }
        }
        for side in sides {
            let r = side(self.primary());
            let s = r.run(1, cores, &[]).wall_s / r.run(workers, cores, &[]).wall_s;
            low = low.min(s);
            high = high.max(s);
        }
        let host = self.primary().host_cores;
        Predicted {
            workers,
            cores,
            speedup: value,
            // Divided rather than times (1 - spread): a run that took several times the others
            // (a loaded host, a trivial target) must not take the low side to zero or below.
            low: low / (1.0 + self.spread),
            high: high * (1.0 + self.spread),
            wall_s: here.wall_s,
            beyond_host: cores > host,
            bound: here.bound,
        }
    }
}

/// The most cores a predicted curve is drawn for.
const MAX_CURVE_CORES: u32 = 1024;

/// The counts a curve covers: the measured ones, 1, the powers of two up to 4 x the host's
/// cores, and 2 x and 4 x the cores.
/// A host past `MAX_CURVE_CORES` is drawn as that many: the replay deals every worker a slot, and
/// a curve to 4 x a million cores would take longer than the sweep.
pub fn counts(measured: &[u32], host_cores: u32) -> Vec<u32> {
    let cores = host_cores.clamp(1, MAX_CURVE_CORES);
    let top = 4 * cores;
    let mut out: Vec<u32> = measured.to_vec();
    out.push(1);
    out.extend((0..).map(|k| 1u32 << k).take_while(|&n| n <= top));
    out.extend([cores, 2 * cores, top]);
    out.sort_unstable();
    out.dedup();
    out
}

/// The predicted curve of a series: every count of `counts`, on this host's cores up to them
/// and on as many cores as workers past them (a bigger machine). With the series' measured
/// baseline (`base`: its workers and median wall), speedups are against it, as the measured
/// curve's are; without, against the replayed 1 worker.
pub fn predict_curve(r: &Replays, measured: &[u32], base: Option<(u32, f64)>) -> Vec<Predicted> {
    let host = r.primary().host_cores;
    // Replayed speedups are over the replayed 1 worker; this turns them into speedups over
    // the measured baseline.
    let anchor = base.map_or(1.0, |(n, wall)| {
        let one = r.primary().run(1, host, &[]).wall_s;
        let at = r.primary().run(n, host, &[]).wall_s;
        (wall / at) / (one / at)
    });
    counts(measured, host)
        .into_iter()
        .map(|n| {
            let cores = if measured.contains(&n) {
                host
            } else {
                n.max(host)
            };
            let mut p = r.predict(n, cores, &|x| x.clone());
            p.speedup *= anchor;
            p.low *= anchor;
            p.high *= anchor;
            p
        })
        .collect()
}

#[cfg(test)]
mod tests;
