//! What each fix buys: the recommendation's fields that differ from what the workload does
//! today, each replayed (`crate::analyze::replay`) with the change made, and the worker count.
//! A pure function of the analysis and the recommendation.

use super::{DataPassing, Model, Recommendation, Scheduling, SinkAdvice};
use crate::analyze::replay::model::{Dispatch, Workload};
use crate::analyze::replay::{Predicted, Replay, Replays};
use crate::analyze::{Analysis, Layout};
use crate::measure::Measurements;
use serde::{Deserialize, Serialize};

/// One fix and its replayed worth (the contract's `diagnosis.what_if[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WhatIf {
    /// The recommendation's field (`scheduling`, `sink`, `model`, `data_passing`,
    /// `start_method`, `workers`).
    pub field: String,
    /// Its recommended value, as the recommendation writes it.
    pub value: String,
    pub workers: u32,
    /// The changed program's wall at 1 worker over its wall at `workers`, replayed.
    pub speedup: f64,
    pub low: f64,
    pub high: f64,
    /// The changed program's wall at `workers` over today's measured wall at the largest count.
    pub wall_vs_now: f64,
    /// What the replay changed, and what it assumed.
    pub basis: String,
    /// What bounds the changed program at `workers`.
    pub bound: String,
}

/// A fork (or forkserver) worker's start-up where none was measured: the recordings' fork
/// pools start a worker in 3 to 20 ms (fixtures/recordings/variants/05_*, 02_*).
const FORK_STARTUP_S: f64 = 0.01;

/// Every fix of `rec` that differs from what the primary series does today, and the worker
/// count; empty without a replay.
pub fn what_ifs(m: &Measurements, a: &Analysis, rec: &Recommendation) -> Vec<WhatIf> {
    let Some(r) = replays(m, a) else {
        return Vec::new();
    };
    let now = today(&r);
    // Each fix at today's largest count, so its wall compares with today's there.
    let largest = r.primary().workload.measured_workers;
    let mut out = Vec::new();
    let mut fix = |field: &str, value: String| {
        let workers = match field {
            "workers" => rec.workers.unwrap_or(largest),
            _ => largest,
        };
        if let Some(w) = what_if(&r, field, &value, workers) {
            out.push(w);
        }
    };
    if let Some(s) = rec.scheduling.filter(|s| *s != now.scheduling) {
        fix("scheduling", name(s));
    }
    if let Some(s) = rec
        .sink
        .filter(|s| *s == SinkAdvice::SingleWriter && now.sink_direct)
    {
        fix("sink", name(s));
    }
    if let Some(model) = rec
        .model
        .filter(|m| Some(*m) != now.model && *m != Model::AsyncOrThreads)
    {
        fix("model", name(model));
    }
    if let Some(d) = rec
        .data_passing
        .filter(|d| *d == DataPassing::ReferencesOrSharedMemory)
    {
        fix("data_passing", name(d));
    }
    if let Some(sm) = rec.start_method.filter(|s| Some(*s) != now.start_method) {
        if now.start_method.is_some() {
            fix("start_method", sm.name().to_string());
        }
    }
    if let Some(n) = rec.workers {
        fix("workers", n.to_string());
    }
    out
}

/// The replays of the primary series.
pub fn replays(m: &Measurements, a: &Analysis) -> Option<Replays> {
    let s = &a.series[a.primary?];
    let points: Vec<_> = s.points.iter().map(|&i| &a.points[i]).collect();
    let workers: Vec<u32> = s.points.iter().map(|&i| m.points[i].workers).collect();
    Replays::of(&points, &workers, s.layout, &m.host)
}

/// What the workload does today, as far as the replay can tell.
struct Today {
    model: Option<Model>,
    sink_direct: bool,
    scheduling: Scheduling,
    start_method: Option<crate::measure::probes::StartMethod>,
}

fn today(r: &Replays) -> Today {
    let w = &r.primary().workload;
    let uneven = {
        let mut t = w.tasks.clone();
        t.sort_by(f64::total_cmp);
        let median = t.get(t.len() / 2).copied().unwrap_or(0.0);
        t.last()
            .is_some_and(|&max| max > SPLIT_ABOVE_MEDIAN * median)
    };
    Today {
        model: match w.layout {
            Some(Layout::Threads) => Some(Model::Threads),
            Some(Layout::Processes | Layout::Tasks) => Some(Model::Processes),
            _ => None,
        },
        sink_direct: w.resources.iter().any(|x| x.bound.starts_with("sink:")),
        scheduling: if matches!(w.dispatch, Dispatch::Chunks(_)) || uneven {
            Scheduling::Chunked
        } else {
            Scheduling::DynamicSmallTasks
        },
        start_method: w.start_method,
    }
}

/// Tasks more than this many times the median are split by the small-tasks fix.
const SPLIT_ABOVE_MEDIAN: f64 = 2.0;

/// Finer than any task time the probes or the sampler resolve.
const TASK_RESOLUTION_S: f64 = 1e-6;

/// No task is split into more pieces: that many already balance any worker count predicted,
/// and the replay's task list stays small.
const MAX_PIECES: f64 = 1000.0;

fn name<T: Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

type Change = Box<dyn Fn(&Replay) -> Replay>;

/// The replay of one fix (`field` set to `value`) at `workers`; None for a field or value the
/// replay cannot change.
pub fn what_if(r: &Replays, field: &str, value: &str, workers: u32) -> Option<WhatIf> {
    let (value_change, sides, basis): (Change, Vec<Change>, String) = match (field, value) {
        ("scheduling", "dynamic_small_tasks") => (
            Box::new(|x| with(x, |w| small_tasks(w, true))),
            vec![Box::new(|x| with(x, |w| small_tasks(w, false)))],
            format!(
                "tasks handed out one at a time, those over twice the median split to its size \
                 (low: today's tasks whole){}",
                message_words(&r.primary().workload)
            ),
        ),
        ("sink", "single_writer") => {
            // The cost per write where the fewest workers contended for it (the smallest count).
            let cost = r
                .per_point
                .iter()
                .filter_map(|(v, _, _)| sink_demand(&v.workload))
                .fold(f64::INFINITY, f64::min);
            let cost = if cost.is_finite() { cost } else { 0.0 };
            (
                Box::new(move |x| single_writer(x, cost)),
                vec![Box::new(|x| single_writer(x, 0.0))],
                "the workers stop waiting on the sink; one writer serves it beside them at the \
                 cost per write measured at the smallest count (high: batching makes the writes \
                 nearly free)"
                    .into(),
            )
        }
        ("model", "threads") => (
            Box::new(|x| to_threads(x, None)),
            vec![Box::new(|x| to_threads(x, Some(1.0)))],
            "no pickling or pipes; the GIL a serial resource at the measured held share \
             (half where unmeasured; low: held all the time)"
                .into(),
        ),
        ("model", "processes") => (
            Box::new(to_processes),
            vec![],
            "no GIL; each worker pays a fork start-up; the payload's transfer is unmeasured in \
             a thread pool and taken as small"
                .into(),
        ),
        ("data_passing", "references_or_shared_memory") => (
            Box::new(|x| with(x, drop_transfer)),
            vec![],
            "the pickling and the driver's pipe waits drop to a reference's cost (nothing)".into(),
        ),
        ("start_method", m) => {
            let target = match m {
                "fork" | "forkserver" => FORK_STARTUP_S,
                _ => return None,
            };
            (
                Box::new(move |x| with(x, |w| start_up(w, target))),
                vec![],
                format!(
                    "each process start costs {target} s ({m}) instead of the measured start-up"
                ),
            )
        }
        ("workers", _) => (
            Box::new(|x| x.clone()),
            vec![],
            "today's program at this count".into(),
        ),
        _ => return None,
    };
    let cores = r.primary().host_cores;
    let cores = cores.max(workers.min(cores));
    let side_refs: Vec<&dyn Fn(&Replay) -> Replay> = sides.iter().map(|b| b.as_ref()).collect();
    let p: Predicted = r.predict_sides(workers, cores, value_change.as_ref(), &side_refs);
    let now_wall = r.primary().workload.measured_wall_s;
    let assumed: Vec<String> = crate::analyze::replay::assumption_words(&r.primary().workload);
    Some(WhatIf {
        field: field.into(),
        value: value.into(),
        workers,
        speedup: p.speedup,
        low: p.low.min(p.speedup),
        high: p.high.max(p.speedup),
        wall_vs_now: p.wall_s / now_wall,
        basis: if assumed.is_empty() {
            basis
        } else {
            format!("{basis}; assumed: {}", assumed.join("; "))
        },
        bound: p.bound,
    })
}

fn with(r: &Replay, f: impl Fn(&mut Workload)) -> Replay {
    let mut r = r.clone();
    f(&mut r.workload);
    r
}

fn small_tasks(w: &mut Workload, split: bool) {
    w.dispatch = Dispatch::OnDemand;
    one_message_per_task(w);
    if !split {
        return;
    }
    let mut sorted = w.tasks.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    // A median below any clock's resolution is rounding left over from subtracting times
    // (8e-22 s was seen): tasks of nothing have no size to split to.
    if median < TASK_RESOLUTION_S {
        return;
    }
    w.tasks = w
        .tasks
        .iter()
        .flat_map(|&t| {
            let pieces = if t > SPLIT_ABOVE_MEDIAN * median {
                (t / median).round().clamp(1.0, MAX_PIECES) as usize
            } else {
                1
            };
            std::iter::repeat_n(t / pieces as f64, pieces)
        })
        .collect();
}

/// What the small-tasks fix charges per message, in words; empty where it charges nothing.
fn message_words(w: &Workload) -> String {
    match per_message(w) {
        Some((m, driver_s, worker_s)) => format!(
            "; each task its own message ({:.0} instead of {:.0}), each at the pickling the run \
             measured per message: the driver's {:.0} µs, handled one at a time beside the \
             workers, and the workers' {:.0} µs, added to each task (the rest of the driver's \
             CPU stays as measured)",
            m.tasks,
            m.count,
            driver_s * 1e6,
            worker_s * 1e6
        ),
        None => String::new(),
    }
}

/// A process pool's messages and their measured pickling per message, the driver's and the
/// workers'; None where the python probe counted none or each task is already one.
fn per_message(w: &Workload) -> Option<(crate::analyze::replay::model::Messages, f64, f64)> {
    let m = w.messages.filter(|m| m.tasks > m.count)?;
    (w.layout == Some(Layout::Processes)).then_some((
        m,
        m.driver_pickle_s / m.count,
        m.worker_pickle_s / m.count,
    ))
}

/// Each task its own message, each at the pickling the run measured per message: the
/// driver's (every process but the workers) over the messages, handled one task at a time
/// beside the workers once the task is done, and taken out of the tasks, which held it; the
/// workers' over their messages, added to each task for every message the run did not send.
/// A process pool's only, where the python probe counted the messages.
fn one_message_per_task(w: &mut Workload) {
    let Some((m, driver_s, worker_s)) = per_message(w) else {
        return;
    };
    let total: f64 = w.tasks.iter().sum();
    if total <= 0.0 {
        return;
    }
    let replayed = w.tasks.len() as f64;
    // The tasks hold the tree's pickling (`transfer_s`), the driver's among it.
    let driver_in_tasks = m.driver_pickle_s.min(w.transfer_s);
    let keep = (total - driver_in_tasks) / total;
    // Each replayed task stands for this many of the run's tasks (consecutive ones merge past
    // the replay's cap), each now a message.
    let per_replayed = m.tasks / replayed;
    let worker_extra = worker_s * (m.tasks - m.count) / replayed;
    w.tasks
        .iter_mut()
        .for_each(|t| *t = *t * keep + worker_extra);
    w.transfer_s += worker_extra * replayed - driver_in_tasks;
    w.driver_per_task_s += driver_s * per_replayed;
}

/// The sinks' total demand in a workload; None without a sink.
fn sink_demand(w: &Workload) -> Option<f64> {
    let sinks = w.resources.iter().filter(|x| x.bound.starts_with("sink:"));
    sinks.map(|x| x.demand_s).reduce(|a, b| a + b)
}

/// The workers freed of the sinks; one writer serves `demand_s` seconds beside them.
fn single_writer(r: &Replay, demand_s: f64) -> Replay {
    let mut r = r.clone();
    let sinks: Vec<_> = r
        .workload
        .resources
        .iter()
        .filter(|x| x.bound.starts_with("sink:"))
        .cloned()
        .collect();
    r.workload
        .resources
        .retain(|x| !x.bound.starts_with("sink:"));
    let demand = demand_s;
    let name = sinks.first().map_or("writer".into(), |x| x.bound.clone());
    r.writer = Some((demand, name));
    r
}

fn to_threads(r: &Replay, share: Option<f64>) -> Replay {
    let mut r = with(r, drop_transfer);
    let w = &mut r.workload;
    w.resources.retain(|x| x.bound != "gil");
    let held = share.or(w.gil_held_share).unwrap_or(0.5);
    w.resources.push(crate::analyze::replay::model::Resource {
        bound: "gil".into(),
        demand_s: w.useful_s * held,
        held_share: 0.0,
    });
    w.layout = Some(Layout::Threads);
    r
}

fn to_processes(r: &Replay) -> Replay {
    let mut r = r.clone();
    let w = &mut r.workload;
    w.resources.retain(|x| x.bound != "gil");
    w.startup_s += FORK_STARTUP_S;
    w.layout = Some(Layout::Processes);
    r
}

fn drop_transfer(w: &mut Workload) {
    let total: f64 = w.tasks.iter().sum();
    if total > 0.0 && w.transfer_s > 0.0 {
        let keep = ((total - w.transfer_s) / total).max(0.0);
        w.tasks.iter_mut().for_each(|t| *t *= keep);
    }
    w.transfer_s = 0.0;
    w.resources.retain(|x| x.bound != "driver");
}

fn start_up(w: &mut Workload, target: f64) {
    let Some(measured) = w.startup_per_process_s.filter(|&m| m > 0.0) else {
        return;
    };
    let saved = (measured - target).max(0.0);
    // Each slot started its share of the run's processes (a fresh pool per batch: one per
    // worker per pool), each `saved` shorter now. Those the accounting gave the slot's
    // start-up (a worker's start to its first task: as many as its start-up holds measured
    // ones, at least its own) come out of it; the starts past them happened while the driver
    // worked alone, and come out of its serial part.
    let slots = f64::from(w.measured_workers.max(1));
    let per_slot = (w.process_starts / slots).max(1.0);
    let covered = (w.startup_s / measured).clamp(1.0, per_slot);
    let extra = (w.process_starts - covered * slots).max(0.0);
    w.startup_s = (w.startup_s - saved * covered).max(0.0);
    w.serial_s = (w.serial_s - saved * extra).max(0.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_small_tasks_fix_splits_big_tasks_to_the_median_and_leaves_tasks_of_nothing_whole() {
        let mut w = Workload::of_tasks(vec![0.01, 0.01, 0.01, 0.05]);
        small_tasks(&mut w, true);
        assert_eq!(w.tasks, vec![0.01; 8]);
        // Task processes that did no work leave rounding (8e-22 s) where times were
        // subtracted; splitting the one real task by that once asked for 10^19 pieces.
        let mut nothing = Workload::of_tasks(vec![8.47e-22, 8.47e-22, 8.47e-22, 0.004]);
        small_tasks(&mut nothing, true);
        assert_eq!(nothing.tasks.len(), 4);
        // However far a task sits above a real median, it becomes at most MAX_PIECES.
        let mut huge = Workload::of_tasks(vec![1e-5, 1e-5, 1e-5, 1e3]);
        small_tasks(&mut huge, true);
        assert_eq!(huge.tasks.len(), 3 + MAX_PIECES as usize);
        assert!((huge.tasks.iter().sum::<f64>() - (1e3 + 3e-5)).abs() < 1e-9);
    }
}
