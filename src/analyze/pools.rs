//! Python pools at one point, from the python probe: the start method, each worker's start-up
//! (its parent's `Process.start()` to its first task), the threads alive in the parent when it
//! started workers, and how much of the workers' task time they held the GIL.

use super::record::run_ok;
use super::stats::median;
use crate::measure::probes::{PythonData, StartMethod};
use crate::measure::Run;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The pools of one point, over its successful runs (the contract's `summary.pools`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct PoolSummary {
    /// The start method most processes were started by; None when the tree started none.
    pub start_method: Option<StartMethod>,
    /// Processes started per run, by method (median over runs).
    pub started_by_method: BTreeMap<StartMethod, f64>,
    /// Start-up of the workers that ran a task: the parent's `Process.start()` to the worker's
    /// first task, pooled over runs; None when no started worker ran one.
    pub worker_startup: Option<Startup>,
    /// Median over runs of the workers' summed start-up over (wall time x workers): the share of
    /// the pool's capacity spent starting workers.
    pub startup_share: Option<f64>,
    /// Most OS threads (`/proc/self/task`, native ones included) alive in a process when it
    /// started or forked a worker, forkservers left out (they fork for others); None when unseen.
    pub max_threads_at_start: Option<u64>,
    /// Share of the GIL knocks inside tasks that found the GIL held, pooled over the workers and
    /// runs; None without knocks (no pool worker ran long enough, or the knocker was off).
    pub gil_held_share: Option<f64>,
    /// Knocks behind `gil_held_share` (all runs), and how many found the GIL held.
    pub gil_knocks: Option<u64>,
    pub gil_knocks_held: Option<u64>,
    /// The same, run by run (the runs that knocked): their spread beside the binomial one is
    /// what the held share's interval widens by.
    #[serde(default)]
    pub gil_knocks_by_run: Vec<RunKnocks>,
    /// The knocker threads' own CPU time over the knocked workers' task time (median over
    /// runs): the measurement's cost.
    pub gil_knocker_cost: Option<f64>,
    /// false when the interpreters ran free-threaded with the GIL off; None when unrecorded.
    pub gil_enabled: Option<bool>,
}

/// One run's GIL knocks, and how many found the GIL held.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct RunKnocks {
    pub knocks: u64,
    pub held: u64,
}

/// Start-up times of workers, seconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Startup {
    pub workers: u64,
    pub median_s: f64,
    pub max_s: f64,
}

/// One run's pool figures.
struct RunPools {
    methods: BTreeMap<StartMethod, u64>,
    startups_s: Vec<f64>,
    threads: Option<u64>,
    knocks: u64,
    held: u64,
    /// (knocker CPU s, task s) of the knocked workers.
    knock_cost: (f64, f64),
    gil_enabled: Option<bool>,
}

fn run_pools(py: &PythonData) -> RunPools {
    let procs = &py.processes;
    let mut methods = BTreeMap::new();
    let mut startups_s = Vec::new();
    for p in procs {
        for start in &p.starts {
            *methods.entry(start.method).or_insert(0) += 1;
            let first = procs
                .iter()
                .find(|w| Some(w.pid) == start.pid)
                .and_then(|w| w.first_task_at_ns);
            if let Some(first) = first.filter(|&f| f >= start.at_ns) {
                startups_s.push((first - start.at_ns) as f64 / 1e9);
            }
        }
    }
    let threads = procs
        .iter()
        .filter(|p| p.role != "forkserver")
        .flat_map(|p| [p.max_os_threads_at_start, p.max_os_threads_at_fork])
        .flatten()
        .max();
    let knocks = procs.iter().filter_map(|p| p.gil_knocks.as_ref());
    let knock_cost = procs
        .iter()
        .filter_map(|p| p.gil_knocks.as_ref().map(|k| (k.cpu_s, p.task_s_sum)))
        .fold((0.0, 0.0), |(c, t), (kc, kt)| (c + kc, t + kt));
    RunPools {
        knock_cost,
        methods,
        startups_s,
        threads,
        knocks: knocks.clone().map(|k| k.knocks).sum(),
        held: knocks.map(|k| k.held).sum(),
        gil_enabled: procs
            .iter()
            .filter_map(|p| p.gil_enabled)
            .reduce(|a, b| a && b),
    }
}

/// Summarises the pools of a point's successful runs; None when the probe saw no pool.
pub fn summarize(runs: &[&Run], workers: u32) -> Option<PoolSummary> {
    let per_run: Vec<(f64, RunPools)> = runs
        .iter()
        .filter(|r| run_ok(r))
        .filter_map(|r| {
            let py = r.probes.as_ref()?.python.as_ref()?;
            Some((r.wall_s, run_pools(py)))
        })
        .collect();
    let any_pool = per_run
        .iter()
        .any(|(_, p)| !p.methods.is_empty() || p.knocks > 0);
    if !any_pool {
        return None;
    }
    let mut started_by_method = BTreeMap::new();
    for (_, p) in &per_run {
        for m in p.methods.keys() {
            started_by_method.entry(*m).or_insert(0.0);
        }
    }
    for (m, value) in started_by_method.iter_mut() {
        let counts: Vec<f64> = per_run
            .iter()
            .map(|(_, p)| p.methods.get(m).copied().unwrap_or(0) as f64)
            .collect();
        *value = median(&counts).unwrap_or(0.0);
    }
    let start_method = started_by_method
        .iter()
        .filter(|(_, n)| **n > 0.0)
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(m, _)| *m);
    let pooled: Vec<f64> = per_run
        .iter()
        .flat_map(|(_, p)| p.startups_s.iter().copied())
        .collect();
    let worker_startup = median(&pooled).map(|m| Startup {
        workers: pooled.len() as u64,
        median_s: m,
        max_s: pooled.iter().copied().fold(0.0, f64::max),
    });
    let shares: Vec<f64> = per_run
        .iter()
        .filter(|(wall, p)| *wall > 0.0 && !p.startups_s.is_empty())
        .map(|(wall, p)| p.startups_s.iter().sum::<f64>() / (wall * f64::from(workers.max(1))))
        .collect();
    let knocks: u64 = per_run.iter().map(|(_, p)| p.knocks).sum();
    let held: u64 = per_run.iter().map(|(_, p)| p.held).sum();
    let costs: Vec<f64> = per_run
        .iter()
        .filter(|(_, p)| p.knock_cost.1 > 0.0)
        .map(|(_, p)| p.knock_cost.0 / p.knock_cost.1)
        .collect();
    Some(PoolSummary {
        gil_knocker_cost: median(&costs),
        start_method,
        started_by_method,
        worker_startup,
        startup_share: median(&shares).map(|s| s.min(1.0)),
        max_threads_at_start: per_run.iter().filter_map(|(_, p)| p.threads).max(),
        gil_held_share: (knocks > 0).then(|| held as f64 / knocks as f64),
        gil_knocks: (knocks > 0).then_some(knocks),
        gil_knocks_held: (knocks > 0).then_some(held),
        gil_knocks_by_run: per_run
            .iter()
            .filter(|(_, p)| p.knocks > 0)
            .map(|(_, p)| RunKnocks {
                knocks: p.knocks,
                held: p.held,
            })
            .collect(),
        gil_enabled: per_run
            .iter()
            .filter_map(|(_, p)| p.gil_enabled)
            .reduce(|a, b| a && b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::probes::{GilKnocks, ProcessStart, PythonProcess};
    use crate::measure::Rusage;

    fn run(processes: Vec<PythonProcess>) -> Run {
        Run {
            warmup: false,
            wall_s: 2.0,
            cpu_user_s: None,
            cpu_sys_s: None,
            cpu_source: None,
            exit_code: Some(0),
            signal: None,
            timed_out: false,
            interrupted: false,
            leftover_processes: 0,
            sigterm_ignored: false,
            stdout_bytes: None,
            stderr_bytes: None,
            outcome: None,
            rusage: Rusage::default(),
            counters: None,
            sampled: None,
            probes: Some(crate::measure::probes::ProbeData {
                preload: None,
                python: Some(PythonData { processes }),
            }),
            probes_injected: vec![crate::measure::probes::ProbeKind::Python],
            probe_notes: vec![],
            stdout_file: None,
            stderr_file: None,
            host_other_cpu_cores: None,
        }
    }

    fn worker(pid: i32, first_ns: u64, knocks: u64, held: u64) -> PythonProcess {
        PythonProcess {
            pid,
            role: "pool_worker".into(),
            first_task_at_ns: Some(first_ns),
            task_s_sum: 1.0,
            gil_knocks: Some(GilKnocks {
                knocks,
                held,
                wait_s: 0.0,
                interval_s: 0.04,
                switch_interval_s: 0.005,
                cpu_s: 0.003,
            }),
            gil_enabled: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn starts_pair_with_first_tasks_and_knocks_pool_over_runs() {
        let start = |pid, at_ns| ProcessStart {
            pid: Some(pid),
            method: StartMethod::Spawn,
            at_ns,
            python_threads: 1,
            os_threads: 3,
        };
        let parent = PythonProcess {
            pid: 1,
            role: "process".into(),
            starts: vec![start(2, 1_000_000_000), start(3, 1_100_000_000)],
            max_os_threads_at_start: Some(3),
            ..Default::default()
        };
        let r1 = run(vec![
            parent.clone(),
            worker(2, 1_400_000_000, 30, 3),
            worker(3, 1_600_000_000, 30, 0),
        ]);
        let r2 = run(vec![parent, worker(2, 1_500_000_000, 40, 1)]);
        let p = summarize(&[&r1, &r2], 2).unwrap();
        assert_eq!(p.start_method, Some(StartMethod::Spawn));
        let s = p.worker_startup.unwrap();
        assert_eq!(s.workers, 3, "worker 3 of run 2 never ran a task");
        assert!(
            (s.median_s - 0.5).abs() < 1e-9 && (s.max_s - 0.5).abs() < 1e-9,
            "{s:?}"
        );
        assert_eq!(p.max_threads_at_start, Some(3));
        assert_eq!((p.gil_knocks, p.gil_knocks_held), (Some(100), Some(4)));
        let by_run = |knocks, held| RunKnocks { knocks, held };
        assert_eq!(p.gil_knocks_by_run, vec![by_run(60, 3), by_run(40, 1)]);
        assert!((p.gil_held_share.unwrap() - 0.04).abs() < 1e-12);
        assert!((p.gil_knocker_cost.unwrap() - 0.003).abs() < 1e-9);
        // Run 1: 0.4 + 0.5 s of start-up over 2 s x 2 workers.
        assert!((p.startup_share.unwrap() - (0.225 + 0.125) / 2.0).abs() < 1e-9);
    }

    #[test]
    fn no_pool_seen_is_none_and_old_records_still_read() {
        assert_eq!(summarize(&[&run(vec![PythonProcess::default()])], 1), None);
        // A record saved before start-up and GIL figures existed.
        let old = r#"{"pid":1,"ppid":0,"role":"process","started_by":"exec","pickled_bytes":0,
            "pickle_s":0,"pickle_calls":0,"unpickled_bytes":0,"unpickle_s":0,"unpickle_calls":0,
            "tasks":0,"tasks_by_source":{"pool":0,"process_pool":0,"thread_pool":0},"chunks":0,
            "task_durations_s":[],"task_durations_truncated":false,"task_s_sum":0,
            "task_s_sumsq":0,"task_s_min":null,"task_s_max":null,"chunksizes":[],"pools":[],
            "start_method":null,"process_starts":{"fork":0,"spawn":0,"forkserver":0},"forks":0,
            "threads_at_fork":[],"max_python_threads_at_fork":null,"max_os_threads_at_fork":null,
            "events_dropped":0}"#;
        let p: PythonProcess = serde_json::from_str(old).unwrap();
        assert!(p.starts.is_empty() && p.gil_knocks.is_none());
    }
}
