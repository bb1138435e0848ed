//! The summary of one point: medians over its measured runs, CPU picture, workers seen.

use super::record::{accounted_life_s, run_ok};
use super::stats::median;
use super::waits::{self, OffCpu, OffCpuKind, Sink};
use super::workers::{self, Layout, Workers};
use super::{actors, ipc, peers, stats, timeline};
use crate::measure::probes::ProbeKind;
use crate::measure::{Host, PointMeasurements, Run, SamplerData, Source};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Other processes using at least this many cores during a run make the host noisy: on a
/// 2-core machine a quarter core of someone else's work moves timings by several percent.
pub const NOISY_HOST_CORES: f64 = 0.25;

/// The analysed summary of one point (the contract's `points[].summary`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PointSummary {
    /// Median wall time of the successful measured runs, seconds.
    pub wall_s: Option<f64>,
    pub wall_min_s: Option<f64>,
    pub wall_max_s: Option<f64>,
    pub wall_stddev_s: Option<f64>,
    /// Throughput relative to the series' smallest worker count (same total work assumed).
    pub speedup: Option<f64>,
    /// Bounds of `speedup` from the runs' spread: the baseline's fastest run against this
    /// point's slowest, and the other way round (see `scaling::ratio_bounds`).
    #[serde(default)]
    pub speedup_low: Option<f64>,
    #[serde(default)]
    pub speedup_high: Option<f64>,
    /// speedup / (workers / baseline workers).
    pub efficiency: Option<f64>,
    /// Karp-Flatt experimentally determined serial fraction (needs a 1-worker baseline).
    pub karp_flatt: Option<f64>,
    /// Throughput gained over the ideal gain for the workers added since the previous point.
    pub marginal_efficiency: Option<f64>,
    /// Bounds of `marginal_efficiency` from the two points' run spreads.
    #[serde(default)]
    pub marginal_efficiency_low: Option<f64>,
    #[serde(default)]
    pub marginal_efficiency_high: Option<f64>,
    /// Median CPU seconds of the whole tree per run.
    pub cpu_s: Option<f64>,
    /// Average cores busy over the run: tree CPU time / wall time.
    pub busy_cores: Option<f64>,
    /// busy_cores / usable CPUs.
    pub cpu_utilization: Option<f64>,
    /// Share of the workers' lifetime spent running on a CPU.
    pub on_cpu_share: Option<f64>,
    /// Share of the workers' lifetime spent runnable but waiting for a CPU.
    pub runqueue_share: Option<f64>,
    /// Share of the workers' steady state (from the first tick wanting a CPU to the end, start-up
    /// left out) spent wanting a CPU, median over runs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub steady_on_cpu_share: Option<f64>,
    /// The steady state's share of the workers' lives, median over runs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub steady_share_of_life: Option<f64>,
    /// A worker's start-up: first sighting to first tick wanting a CPU, seconds (median).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub worker_startup_s: Option<f64>,
    /// Share of the workers' active span at its end with fewer workers busy than at the
    /// widest point (stragglers), median over runs.
    pub straggler_tail: Option<f64>,
    /// Coefficient of variation of CPU seconds across workers (0 = even), median over runs.
    pub worker_cpu_cv: Option<f64>,
    /// Cores the workers used before the straggler tail less over it (capacity left idle
    /// behind the stragglers), median over runs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub straggler_idle_cores: Option<f64>,
    /// Task processes in slots: slot-time with no task while another task still ran, over
    /// slots x the tasks' span, the last round included (median over runs).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub idle_slot_share: Option<f64>,
    /// Threads of one process: cores the worker threads used while every one of them still
    /// had work, median over runs; the threads' scaling net of an uneven end.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub all_working_cores: Option<f64>,
    /// How much of the straggler tail was more work (`timeline::Stragglers::work_share`),
    /// median over runs. The diagnosis cites it in a step's figures where it decides; not a
    /// field of the summary in report.json.
    #[serde(skip)]
    pub straggler_work_share: Option<f64>,
    /// Share of sampled ticks with every usable core busy, median over runs.
    pub all_cores_busy_share: Option<f64>,
    /// Share of sampled ticks with a core idle while some of the tree's threads waited on
    /// something other than a CPU, median over runs.
    pub idle_while_waiting_share: Option<f64>,
    /// Share of the workers' lifetime blocked, per resource class (futex, pipe, tcp, file,
    /// sleep, ...), median over runs; absent when the sampler saw no workers.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schemars(with = "Option<BTreeMap<String, f64>>")]
    pub offcpu: Option<BTreeMap<OffCpuKind, f64>>,
    /// The same per named resource, the largest ten.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub offcpu_resources: Option<BTreeMap<String, f64>>,
    /// Resources two or more workers waited on that are not the pool's own plumbing.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sinks: Option<Vec<Sink>>,
    /// Every resource outside the pool's plumbing that any worker waited on.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub external_waits: Option<Vec<Sink>>,
    /// What each of those resources is to the work, where the bytes tell: a `sink` (the
    /// workers write their results to it) or a `source` (the work needs its answers); see
    /// `peers`. A resource in a fresh place each run keeps the first run's name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peer_roles: Option<BTreeMap<String, peers::PeerRole>>,
    /// What the probes measured (IPC bytes and tax, tasks, sink I/O); absent without probes.
    #[serde(flatten)]
    pub probes: Option<ipc::ProbeSummary>,
    /// Python pools: start method, workers' start-up, threads at start, GIL share (python
    /// probe); absent when the probe saw no pool.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pools: Option<super::pools::PoolSummary>,
    /// The workers wrote to a file or service outside the pool (preload probe), in any run.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub workers_write_sinks: Option<bool>,
    /// Seconds per run the workers' transactions held a hot row's lock: a row every
    /// transaction writes again, the same statement with the same parameters (python probe,
    /// psycopg), median over the runs whose workers held one; absent where none did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub worker_row_hold_s: Option<f64>,
    /// Largest PSS of a worker process, averaged over workers and runs, in bytes.
    pub pss_bytes_per_worker: Option<f64>,
    /// How the workers were laid out at this point (from the sampler).
    pub worker_layout: Option<Layout>,
    /// The pool APIs or process-per-task tools that ran the tasks (python probe; the sampler's
    /// task processes' parent), for advice in the workload's own terms.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub apis: Vec<super::api::PoolApi>,
    /// Tasks seen from outside, without a probe: the short-lived processes of a
    /// process-per-task tool (make -j, xargs -P, `cmd &` and `wait`), their lives as task
    /// durations, pooled over the runs; absent for other layouts.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub process_tasks: Option<ipc::TaskStats>,
    /// One run's task durations, seconds, for the replay (`replay::model`): the task
    /// processes in the order they started, else the python probe's tasks, each worker's in
    /// completion order, worker after worker.
    #[serde(skip)]
    pub task_order_s: Vec<f64>,
    /// Busy tasks seen (median over runs); compare with `workers`.
    pub workers_observed: Option<u32>,
    /// Processes in the tree that were not workers (launchers, parents), median over runs.
    pub other_processes: Option<u32>,
    /// More workers than cores (usable, physical): the point measures time-sharing, not parallelism.
    pub oversubscribed: bool,
    /// Median cores used by other processes on the host during the runs.
    pub host_other_cpu_cores: Option<f64>,
    /// host_other_cpu_cores >= NOISY_HOST_CORES.
    pub noisy_host: bool,
    pub runs_ok: u32,
    pub runs_failed: u32,
    /// Indices (into `runs`) of measured runs whose wall time is an outlier (MAD test).
    pub outlier_runs: Vec<usize>,
    /// Where every worker-second went, cause by cause (see `accounting`); absent without the
    /// sampler's picture of the workers.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub accounting: Option<super::accounting::Accounting>,
    /// Where each figure came from.
    pub sources: BTreeMap<String, Source>,
}

/// Summarises one point; series-relative fields (speedup, ...) are filled in by the caller.
pub fn summarize_point(
    point: &PointMeasurements,
    host: &Host,
    own_dir: Option<&str>,
) -> PointSummary {
    let measured: Vec<(usize, &Run)> = point
        .runs
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.warmup)
        .collect();
    let ok: Vec<&Run> = measured
        .iter()
        .map(|(_, r)| *r)
        .filter(|r| run_ok(r))
        .collect();
    let mut s = PointSummary {
        runs_ok: ok.len() as u32,
        runs_failed: (measured.len() - ok.len()) as u32,
        oversubscribed: point.workers > super::parallel_cores(host),
        ..Default::default()
    };
    let walls: Vec<f64> = ok.iter().map(|r| r.wall_s).collect();
    if let Some(w) = stats::summarize(&walls) {
        s.wall_s = Some(w.median);
        s.wall_min_s = Some(w.min);
        s.wall_max_s = Some(w.max);
        s.wall_stddev_s = w.stddev;
        let ok_indices: Vec<usize> = measured
            .iter()
            .filter(|(_, r)| run_ok(r))
            .map(|(i, _)| *i)
            .collect();
        s.outlier_runs = stats::outliers_mad(&walls)
            .into_iter()
            .map(|i| ok_indices[i])
            .collect();
    }

    let cpu: Vec<(f64, Source)> = ok.iter().filter_map(|r| tree_cpu_s(r)).collect();
    if let Some(c) = stats::summarize(&cpu.iter().map(|(c, _)| *c).collect::<Vec<_>>()) {
        s.cpu_s = Some(c.median);
        s.sources.insert("cpu_s".into(), cpu[0].1);
    }
    let busy: Vec<f64> = ok
        .iter()
        .filter_map(|r| tree_cpu_s(r).map(|(c, _)| c / r.wall_s))
        .filter(|b| b.is_finite())
        .collect();
    if let Some(b) = median(&busy) {
        s.busy_cores = Some(b);
        s.cpu_utilization = Some(b / f64::from(host.usable_cpus.max(1)));
        s.sources.insert("busy_cores".into(), cpu[0].1);
    }
    let other: Vec<f64> = ok.iter().filter_map(|r| r.host_other_cpu_cores).collect();
    s.host_other_cpu_cores = median(&other);
    s.noisy_host = s
        .host_other_cpu_cores
        .is_some_and(|c| c >= NOISY_HOST_CORES);

    // Each run's probe figures and workers, computed once: several figures below use both.
    // The Ray actors each run's tasks waited on, whose waits the sampler saw as futexes.
    let actor_waits: Vec<Vec<actors::ActorWaits>> =
        ok.iter().map(|r| actors::of(r.probes.as_ref())).collect();
    let figures: Vec<Option<ipc::ProbeFigures>> = ok
        .iter()
        .map(|r| r.probes.as_ref().map(|p| ipc::figures(p, own_dir)))
        .collect();
    let probe_runs: Vec<&ipc::ProbeFigures> = figures.iter().flatten().collect();
    s.probes = ipc::summarize(&probe_runs, s.cpu_s);
    s.task_order_s = probe_runs
        .first()
        .map(|f| f.task_durations_s.clone())
        .unwrap_or_default();
    s.pools = super::pools::summarize(&ok, point.workers);
    s.accounting = super::accounting::account_point(point.workers, &ok, own_dir);
    if s.pools.is_some() {
        s.sources.insert("pools".into(), Source::PythonProbe);
    }
    if s.probes.is_some() {
        let injected = |kind: ProbeKind| ok.iter().any(|r| r.probes_injected.contains(&kind));
        if injected(ProbeKind::Preload) {
            s.sources.insert("ipc_bytes".into(), Source::PreloadProbe);
            s.sources.insert("sink_io".into(), Source::PreloadProbe);
        }
        if injected(ProbeKind::Python) {
            s.sources
                .insert("task_durations".into(), Source::PythonProbe);
            s.sources.insert("ipc_tax".into(), Source::PythonProbe);
        }
    }
    // (index into `ok`, the run's samples, its workers, the clues that found them).
    let identified: Vec<(usize, &SamplerData, Workers, workers::PoolClues)> = ok
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let d = r.sampled.as_ref()?;
            let c = workers::PoolClues::from_probe(r.probes.as_ref(), d);
            workers::identify_with(d, point.workers, &c).map(|w| (i, d, w, c))
        })
        .collect();
    let sampled: Vec<(&SamplerData, &Workers, &workers::PoolClues)> =
        identified.iter().map(|(_, d, w, c)| (*d, w, c)).collect();
    s.apis = super::api::of_point(&ok, sampled.iter().map(|(d, w, _)| (*d, *w)));
    if !sampled.is_empty() {
        let layout = most_common(sampled.iter().map(|(_, w, _)| w.layout));
        s.worker_layout = Some(layout);
        s.workers_observed = median_u32(sampled.iter().map(|(_, w, _)| w.count));
        s.other_processes = median_u32(sampled.iter().map(|(_, w, _)| w.other_processes));
        let task_s: Vec<f64> = sampled
            .iter()
            .filter(|(_, w, _)| w.layout == Layout::Tasks)
            .flat_map(|(_, w, _)| w.task_s.iter().copied())
            .collect();
        s.process_tasks = ipc::task_stats(&task_s);
        if let Some((_, w, _)) = sampled.iter().find(|(_, w, _)| w.layout == Layout::Tasks) {
            s.task_order_s = w.task_s.clone();
        }
        // Did the workers themselves write to a file or service (per the preload probe)?
        let written: Vec<bool> = identified
            .iter()
            .filter_map(|(i, _, w, _)| {
                let f = figures[*i].as_ref()?;
                Some(f.external_io.values().any(|io| {
                    io.bytes_out_by_pid
                        .iter()
                        .any(|(pid, &b)| b > 0 && w.pids.contains(pid))
                }))
            })
            .collect();
        s.workers_write_sinks = (!written.is_empty()).then(|| written.iter().any(|&w| w));
        // Only the workers' holds: a lock one other process holds (a single writer) is
        // taken by one process at any count.
        let holds: Vec<f64> = identified
            .iter()
            .filter_map(|(i, _, w, _)| {
                let py = ok[*i].probes.as_ref()?.python.as_ref()?;
                let mine = py.processes.iter().filter(|p| w.pids.contains(&p.pid));
                let (n, secs) =
                    mine.fold((0, 0.0), |(n, t), p| (n + p.row_holds, t + p.row_hold_s));
                (n > 0).then_some(secs)
            })
            .collect();
        s.worker_row_hold_s = median(&holds);
        let shares: Vec<(f64, f64)> = sampled
            .iter()
            .filter_map(|(d, w, _)| worker_time_shares(d, w))
            .collect();
        s.on_cpu_share = median(&shares.iter().map(|x| x.0).collect::<Vec<_>>());
        s.runqueue_share = median(&shares.iter().map(|x| x.1).collect::<Vec<_>>());
        let pss: Vec<f64> = sampled
            .iter()
            .filter_map(|(d, w, _)| worker_pss_bytes(d, w))
            .collect();
        s.pss_bytes_per_worker = median(&pss);
        let steady: Vec<timeline::SteadyState> = sampled
            .iter()
            .filter_map(|(d, w, c)| timeline::steady_state(d, w, c))
            .collect();
        s.steady_on_cpu_share = median(&steady.iter().map(|x| x.on_cpu_share).collect::<Vec<_>>());
        s.steady_share_of_life =
            median(&steady.iter().map(|x| x.share_of_life).collect::<Vec<_>>());
        s.worker_startup_s = median(&steady.iter().map(|x| x.startup_s).collect::<Vec<_>>());
        let strag: Vec<timeline::Stragglers> = sampled
            .iter()
            .filter_map(|(d, w, _)| timeline::stragglers(d, w))
            .collect();
        s.straggler_tail = median(&strag.iter().map(|x| x.tail_share).collect::<Vec<_>>());
        s.worker_cpu_cv = median(&strag.iter().filter_map(|x| x.cpu_cv).collect::<Vec<_>>());
        s.straggler_idle_cores = median(
            &strag
                .iter()
                .filter_map(|x| x.idle_cores)
                .collect::<Vec<_>>(),
        );
        s.idle_slot_share = median(
            &strag
                .iter()
                .filter_map(|x| x.idle_slot_share)
                .collect::<Vec<_>>(),
        );
        s.all_working_cores = median(
            &strag
                .iter()
                .filter_map(|x| x.all_working_cores)
                .collect::<Vec<_>>(),
        );
        s.straggler_work_share = median(
            &strag
                .iter()
                .filter_map(|x| x.work_share)
                .collect::<Vec<_>>(),
        );
        let sat: Vec<timeline::Saturation> = sampled
            .iter()
            .filter_map(|(d, _, _)| timeline::saturation(d, host.usable_cpus))
            .collect();
        s.all_cores_busy_share = median(
            &sat.iter()
                .map(|x| x.all_cores_busy_share)
                .collect::<Vec<_>>(),
        );
        s.idle_while_waiting_share = median(
            &sat.iter()
                .map(|x| x.idle_while_waiting_share)
                .collect::<Vec<_>>(),
        );
        // Each run's resources, told sink from source by that run's bytes and CPU.
        let mut roles: BTreeMap<String, peers::PeerRole> = BTreeMap::new();
        let no_io = BTreeMap::new();
        let off: Vec<OffCpu> = identified
            .iter()
            .filter_map(|(i, d, w, _)| {
                let o = waits::offcpu(d, w, &actor_waits[*i])?;
                let io = figures[*i].as_ref().map_or(&no_io, |f| &f.external_io);
                let on_cpu = worker_time_shares(d, w).map(|(on, _)| on);
                for (res, role) in peers::classify(&o.external, io, w, on_cpu) {
                    roles.entry(res).or_insert(role);
                }
                Some(o)
            })
            .collect();
        s.peer_roles = (!roles.is_empty()).then_some(roles);
        if !off.is_empty() {
            s.offcpu = Some(median_maps(off.iter().map(|o| &o.by_kind)));
            let mut top: Vec<(String, f64)> = median_maps(off.iter().map(|o| &o.by_resource))
                .into_iter()
                .collect();
            top.sort_by(|a, b| b.1.total_cmp(&a.1));
            s.offcpu_resources = Some(top.into_iter().take(10).collect());
            s.sinks = Some(median_sinks(off.iter().map(|o| &o.sinks)));
            s.external_waits = Some(median_sinks(off.iter().map(|o| &o.external)));
        }
        // Lifetimes, on-CPU and run-queue time and the timeline come from switch records
        // when every run had them; what a wait was on, and PSS, always come from /proc.
        let timeline = if sampled
            .iter()
            .all(|(d, _, _)| d.source == Some(Source::PerfSwitch))
        {
            Source::PerfSwitch
        } else {
            Source::Procfs
        };
        for key in ["offcpu", "sinks", "pss_bytes_per_worker"] {
            s.sources.insert(key.into(), Source::Procfs);
        }
        for key in [
            "worker_layout",
            "process_tasks",
            "on_cpu_share",
            "runqueue_share",
            "straggler_tail",
            "all_cores_busy_share",
            "timeline",
        ] {
            s.sources.insert(key.into(), timeline);
        }
    }
    s
}

/// CPU seconds of the whole tree: perf task-clock when counted, else rusage.
pub fn tree_cpu_s(run: &Run) -> Option<(f64, Source)> {
    if let Some(tc) = run.counters.as_ref().and_then(|c| c.task_clock_s) {
        return Some((tc, Source::PerfEvent));
    }
    Some((run.rusage.user_s + run.rusage.sys_s, Source::Rusage))
}

/// (on-CPU share, run-queue share) of the workers' lifetimes.
fn worker_time_shares(data: &SamplerData, w: &Workers) -> Option<(f64, f64)> {
    let threads = data
        .processes
        .iter()
        .flat_map(|p| p.threads.iter())
        .filter(|t| w.tids.contains(&t.tid));
    let (mut life, mut on, mut rq) = (0.0, 0.0, 0.0);
    for t in threads {
        life += accounted_life_s(t);
        on += t.on_cpu_s;
        rq += t.runqueue_s;
    }
    (life > 0.0).then(|| ((on / life).min(1.0), (rq / life).min(1.0)))
}

fn worker_pss_bytes(data: &SamplerData, w: &Workers) -> Option<f64> {
    let mut pids = w.pids.clone();
    pids.dedup();
    let pss: Vec<f64> = data
        .processes
        .iter()
        .filter(|p| pids.contains(&p.pid))
        .filter_map(|p| p.max_pss_bytes.map(|b| b as f64))
        .collect();
    if pss.is_empty() {
        return None;
    }
    // Threads share one address space: its PSS is spread over the worker threads.
    let per_worker = pss.iter().sum::<f64>() / f64::from(w.count.max(1));
    Some(per_worker)
}

/// Per key, the median over runs (a run without the key counts as 0).
fn median_maps<'a, K: Ord + Clone + 'a>(
    maps: impl Iterator<Item = &'a BTreeMap<K, f64>> + Clone,
) -> BTreeMap<K, f64> {
    let keys: std::collections::BTreeSet<&K> = maps.clone().flat_map(|m| m.keys()).collect();
    keys.into_iter()
        .map(|k| {
            let values: Vec<f64> = maps
                .clone()
                .map(|m| m.get(k).copied().unwrap_or(0.0))
                .collect();
            (k.clone(), median(&values).unwrap_or(0.0))
        })
        .collect()
}

/// Sinks seen in any run, each with its median wait share over the runs.
/// Each sink's median over the runs. A sink is the same resource in every run, or, where a
/// run made a fresh one (a database in a new temporary folder), that run's largest unmatched
/// sink of the same kind: matching names alone would count it in one run of three.
fn median_sinks<'a>(runs: impl Iterator<Item = &'a Vec<Sink>>) -> Vec<Sink> {
    let runs: Vec<&Vec<Sink>> = runs.collect();
    let mut used: std::collections::HashSet<(usize, &str)> = Default::default();
    let mut out: Vec<Sink> = Vec::new();
    for (ri, sink) in runs
        .iter()
        .enumerate()
        .flat_map(|(i, o)| o.iter().map(move |s| (i, s)))
    {
        if used.contains(&(ri, sink.resource.as_str())) {
            continue;
        }
        let counterpart = |rj: usize| -> Option<&'a Sink> {
            if rj == ri {
                return Some(sink);
            }
            let free = |s: &&Sink| !used.contains(&(rj, s.resource.as_str()));
            runs[rj]
                .iter()
                .filter(free)
                .find(|s| s.resource == sink.resource)
                .or_else(|| {
                    runs[rj]
                        .iter()
                        .filter(free)
                        .filter(|s| s.kind == sink.kind)
                        .filter(|s| !runs[ri].iter().any(|x| x.resource == s.resource))
                        .max_by(|a, b| a.wait_share.total_cmp(&b.wait_share))
                })
        };
        let matched: Vec<Option<&Sink>> = (0..runs.len()).map(counterpart).collect();
        for (rj, m) in matched.iter().enumerate() {
            if let Some(m) = m {
                used.insert((rj, m.resource.as_str()));
            }
        }
        let median_of = |get: fn(&Sink) -> f64| {
            let v: Vec<f64> = matched.iter().map(|m| m.map_or(0.0, get)).collect();
            median(&v).unwrap_or(0.0)
        };
        let most =
            |get: fn(&Sink) -> u32| matched.iter().flatten().map(|s| get(s)).max().unwrap_or(0);
        out.push(Sink {
            wait_share: median_of(|s| s.wait_share),
            direct_share: median_of(|s| s.direct_share),
            sleep_share: median_of(|s| s.sleep_share),
            workers_waiting: most(|s| s.workers_waiting),
            workers_writing: most(|s| s.workers_writing),
            ..sink.clone()
        });
    }
    out.sort_by(|a, b| b.wait_share.total_cmp(&a.wait_share));
    out
}

fn median_u32(values: impl Iterator<Item = u32>) -> Option<u32> {
    let v: Vec<f64> = values.map(f64::from).collect();
    median(&v).map(|m| m.round() as u32)
}

fn most_common(layouts: impl Iterator<Item = Layout>) -> Layout {
    let all: Vec<Layout> = layouts.collect();
    let count = |l: Layout| all.iter().filter(|&&x| x == l).count();
    [
        Layout::Processes,
        Layout::Threads,
        Layout::Tasks,
        Layout::Single,
    ]
    .into_iter()
    .max_by_key(|&l| count(l))
    .unwrap_or(Layout::Single)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(resource: &str, kind: &str, wait: f64) -> Sink {
        Sink {
            resource: resource.into(),
            kind: kind.parse().unwrap(),
            wait_share: wait,
            direct_share: wait,
            sleep_share: 0.0,
            workers_waiting: 2,
            workers_writing: 2,
        }
    }

    #[test]
    fn a_database_made_fresh_in_every_run_is_one_sink_across_the_runs() {
        let runs = [
            vec![
                sink("file:/tmp/a/db", "sqlite", 0.3),
                sink("tcp:db:5432", "postgresql", 0.1),
            ],
            vec![
                sink("file:/tmp/b/db", "sqlite", 0.5),
                sink("tcp:db:5432", "postgresql", 0.2),
            ],
            vec![sink("file:/tmp/c/db", "sqlite", 0.4)],
        ];
        let m = median_sinks(runs.iter());
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(
            (m[0].kind.to_string().as_str(), m[0].wait_share),
            ("sqlite", 0.4)
        );
        // The same server in two runs of three: its median counts the run without it as 0.
        assert_eq!(
            (m[1].resource.as_str(), m[1].wait_share),
            ("tcp:db:5432", 0.1)
        );
    }
}
