//! What the probes saw in one run: bytes moved between the tree's processes, the CPU spent
//! pickling them, task durations, and the bytes and blocked time on each external resource.

use super::waits::SinkKind;
use super::{actors, engines, stats};
use crate::measure::probes::{FdKind, IoDir, ProbeData, StartMethod};
use crate::measure::{ResourceKind, Service};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// IPC and task figures of one run (each from a named probe).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ProbeFigures {
    /// Bytes written into pipes and unnamed socket pairs by the tree (each byte once).
    pub ipc_bytes: Option<f64>,
    /// Seconds inside pipe/socket-pair calls (blocked plus copying).
    pub ipc_call_s: Option<f64>,
    /// Pickling plus unpickling seconds of multiprocessing / concurrent.futures traffic.
    pub pickle_s: Option<f64>,
    pub pickled_bytes: Option<f64>,
    /// Bytes passed by reference through shared memory (joblib's memory-mapped arrays in
    /// /dev/shm, ray.put into Ray's object store); None when there were none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_bytes: Option<f64>,
    /// The engine (joblib, Dask, Ray) that ran the tasks, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<engines::Engine>,
    /// Ray actors the run started (processes the probe marked `ray_actor`); None for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actors: Option<u32>,
    /// Tasks run by pool workers.
    pub tasks: Option<f64>,
    /// Work messages the pools' workers took (the probe's `chunks`: a map chunk counts once,
    /// an apply or a chunk of one is one task); None without pool workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<f64>,
    /// The pool workers' pickling and unpickling seconds (their share of `pickle_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_pickle_s: Option<f64>,
    /// Task durations in seconds, each worker's first (cold-start) task left out.
    pub task_durations_s: Vec<f64>,
    /// Chunksizes the map calls used.
    pub chunksizes: Vec<u64>,
    /// The start method of the processes the tree started.
    pub start_method: Option<StartMethod>,
    /// Largest number of threads alive in a process when it forked.
    pub max_threads_at_fork: Option<u64>,
    /// Bytes and time per external resource (tcp/udp peer, named unix socket, file directory).
    pub external_io: BTreeMap<String, ExternalIo>,
}

/// I/O on one external resource, summed over the tree.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ExternalIo {
    /// Tcp, udp, unix or file.
    pub kind: ResourceKind,
    /// The service it is, where the probe's reader could tell.
    #[serde(default)]
    pub service: Option<crate::measure::Service>,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub calls: u64,
    /// Seconds inside the calls (blocked plus copying), fsync included.
    pub call_s: f64,
    /// Bytes written per process that wrote to it, keyed by pid.
    pub bytes_out_by_pid: BTreeMap<i32, u64>,
    /// Bytes read per process that read from it, keyed by pid.
    #[serde(default)]
    pub bytes_in_by_pid: BTreeMap<i32, u64>,
    /// Seconds inside calls per process, keyed by pid.
    pub call_s_by_pid: BTreeMap<i32, f64>,
    /// Holds of SQLite's write lock on its files (preload probe); 0 where none was seen.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lock_holds: u64,
    /// Seconds SQLite's write lock was held on its files, over the tree.
    #[serde(default, skip_serializing_if = "is_zero_s")]
    pub lock_held_s: f64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_s(v: &f64) -> bool {
    *v == 0.0
}

/// Reads one run's probe records.
/// Files under `own_dir` (forkcast's output folder) and files only read are left out of the
/// external I/O: the first are forkcast's, the second are inputs, not sinks. The bytes sent to
/// a Ray actor the tasks waited on (`actors::of`) go under the actor's name.
pub fn figures(data: &ProbeData, own_dir: Option<&str>) -> ProbeFigures {
    let actors = actors::of(Some(data));
    let mut f = ProbeFigures::default();
    if let Some(pre) = &data.preload {
        let (mut bytes, mut call_ns) = (0u64, 0u64);
        let served = engines::plumbing_addresses(data);
        let engine_pids = engines::engine_pids(data);
        // A Ray actor's addresses, by the name its waits go under: calls to it are not the
        // engine's plumbing but writes to a process the tasks wait on (`actors`).
        let actor_at: BTreeMap<&str, &str> = actors
            .iter()
            .flat_map(|a| {
                a.addresses
                    .iter()
                    .map(|ad| (ad.as_str(), a.resource.as_str()))
            })
            .collect();
        for p in &pre.processes {
            for row in &p.rows {
                let peer = row.peer.clone().unwrap_or_default();
                let actor = actor_at
                    .get(peer.as_str())
                    .filter(|_| !row.accepted && !row.plumbing);
                // Pipes and unnamed socket pairs are the pool's plumbing (IPC), and so are
                // the connections between an engine's own processes (Dask's TCP, Ray's gRPC).
                if actor.is_none()
                    && (row.plumbing
                        || engines::is_engine_plumbing(&served, &engine_pids, p.pid, &peer))
                {
                    call_ns += row.blocked_ns;
                    if row.dir == IoDir::Out {
                        bytes += row.bytes;
                    }
                    continue;
                }
                let Some(kind) = external_kind(row.kind) else {
                    continue;
                };
                let file = kind == ResourceKind::File;
                let forkcasts = file && own_dir.is_some_and(|d| peer.starts_with(d));
                let only_read = file && row.dir == IoDir::In;
                if row.accepted || peer.is_empty() || forkcasts || only_read {
                    continue;
                }
                let name = actor.map_or_else(|| resource_name(kind, &peer), |a| a.to_string());
                let e = f.external_io.entry(name).or_insert_with(|| ExternalIo {
                    kind,
                    service: actor.map_or(row.service, |_| Some(Service::RayActor)),
                    ..Default::default()
                });
                e.calls += row.calls;
                e.call_s += row.blocked_ns as f64 * 1e-9;
                *e.call_s_by_pid.entry(p.pid).or_default() += row.blocked_ns as f64 * 1e-9;
                match row.dir {
                    IoDir::Out => {
                        e.bytes_out += row.bytes;
                        *e.bytes_out_by_pid.entry(p.pid).or_default() += row.bytes;
                    }
                    IoDir::In => {
                        e.bytes_in += row.bytes;
                        *e.bytes_in_by_pid.entry(p.pid).or_default() += row.bytes;
                    }
                    IoDir::Sync => {}
                }
            }
            // SQLite's write lock, timed by the probe on the database's files (its folder).
            for lock in p.locks.iter().filter(|l| l.kind == FdKind::File) {
                let peer = lock.peer.clone().unwrap_or_default();
                if peer.is_empty() || own_dir.is_some_and(|d| peer.starts_with(d)) {
                    continue;
                }
                let e = f
                    .external_io
                    .entry(resource_name(ResourceKind::File, &peer))
                    .or_insert_with(|| ExternalIo {
                        kind: ResourceKind::File,
                        ..Default::default()
                    });
                e.lock_holds += lock.holds;
                e.lock_held_s += lock.held_ns as f64 * 1e-9;
            }
        }
        f.ipc_bytes = Some(bytes as f64);
        f.ipc_call_s = Some(call_ns as f64 * 1e-9);
    }
    // A probe that saw no interpreter measured nothing: its sums stay None, never 0.
    if let Some(py) = data.python.as_ref().filter(|py| !py.processes.is_empty()) {
        let procs = &py.processes;
        f.pickle_s = Some(procs.iter().map(|p| p.pickle_s + p.unpickle_s).sum());
        f.pickled_bytes = Some(procs.iter().map(|p| p.pickled_bytes as f64).sum());
        // Bytes copied into an object store once per call (a Ray argument passed by value)
        // move between processes as surely as through a pipe: they count as IPC, and their
        // serialising as pickling. Bytes passed by reference are counted beside them.
        let stored: u64 = procs.iter().map(|p| p.stored_bytes).sum();
        if stored > 0 {
            f.ipc_bytes = Some(f.ipc_bytes.unwrap_or(0.0) + stored as f64);
            f.pickle_s = f
                .pickle_s
                .map(|s| s + procs.iter().map(|p| p.stored_s).sum::<f64>());
        }
        let shared: u64 = procs.iter().map(|p| p.shared_bytes).sum();
        if shared > 0 {
            let placing_s: f64 = procs.iter().map(|p| p.shared_s).sum();
            f.pickle_s = f.pickle_s.map(|s| (s - placing_s).max(0.0));
        }
        f.shared_bytes = (shared > 0).then_some(shared as f64);
        f.tasks = Some(procs.iter().map(|p| p.tasks as f64).sum());
        let workers: Vec<_> = procs.iter().filter(|p| p.chunks > 0).collect();
        if !workers.is_empty() {
            f.messages = Some(workers.iter().map(|p| p.chunks as f64).sum());
            f.worker_pickle_s = Some(workers.iter().map(|p| p.pickle_s + p.unpickle_s).sum());
        }
        f.engine = engines::Engine::of(data);
        let actors = procs.iter().filter(|p| p.role == "ray_actor").count() as u32;
        f.actors = (actors > 0).then_some(actors);
        // A worker's first task carries its cold start (imports, caches, first allocations):
        // up to a quarter second here, for tasks of half a millisecond. It says nothing about
        // task sizes, so the spread is read from the tasks after it.
        f.task_durations_s = procs
            .iter()
            .flat_map(|p| {
                p.task_durations_s
                    .iter()
                    .skip(usize::from(p.task_durations_s.len() > 1))
                    .copied()
            })
            .collect();
        f.chunksizes = procs
            .iter()
            .flat_map(|p| p.chunksizes.iter().map(|c| c.chunksize))
            .collect();
        f.start_method = procs.iter().find_map(|p| p.start_method);
        f.max_threads_at_fork = procs.iter().filter_map(|p| p.max_os_threads_at_fork).max();
    }
    f
}

fn external_kind(kind: FdKind) -> Option<ResourceKind> {
    match kind {
        FdKind::Tcp => Some(ResourceKind::Tcp),
        FdKind::Udp => Some(ResourceKind::Udp),
        FdKind::Unix => Some(ResourceKind::Unix),
        FdKind::File => Some(ResourceKind::File),
        FdKind::Pipe | FdKind::Other => None,
    }
}

/// The sampler's naming ("tcp:127.0.0.1:5432", "unix:/path", "file:/dir"), so probe bytes and
/// sampled waits meet on one name.
fn resource_name(kind: ResourceKind, peer: &str) -> String {
    format!("{kind}:{peer}")
}

/// Task duration statistics over a run's tasks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct TaskStats {
    pub count: u64,
    pub mean_s: f64,
    pub p50_s: f64,
    pub p90_s: f64,
    pub p99_s: f64,
    pub max_s: f64,
    /// Coefficient of variation (stddev / mean); None for fewer than two tasks.
    pub cv: Option<f64>,
}

pub fn task_stats(durations: &[f64]) -> Option<TaskStats> {
    let s = stats::summarize(durations)?;
    Some(TaskStats {
        count: durations.len() as u64,
        mean_s: s.mean,
        p50_s: s.median,
        p90_s: stats::percentile(durations, 90.0)?,
        p99_s: stats::percentile(durations, 99.0)?,
        max_s: s.max,
        cv: stats::coefficient_of_variation(durations),
    })
}

/// The probe figures of one point, medians over its measured runs (the contract's
/// `ipc_bytes`, `ipc_bytes_per_task`, `ipc_tax` among them). Absent when no probe ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ProbeSummary {
    /// Bytes moved through pipes and socket pairs between the tree's processes (preload probe).
    pub ipc_bytes: Option<f64>,
    /// ipc_bytes / tasks (preload and python probes).
    pub ipc_bytes_per_task: Option<f64>,
    /// Share of the tree's CPU time spent pickling and unpickling (python probe).
    pub ipc_tax: Option<f64>,
    /// Seconds inside pipe/socket-pair calls, waiting included (preload probe).
    pub ipc_call_s: Option<f64>,
    pub pickled_bytes: Option<f64>,
    /// Bytes per run passed by reference through shared memory: /dev/shm, memory-mapped
    /// files, object stores (python probe); absent when there were none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_bytes: Option<f64>,
    /// The engine that ran the tasks: joblib, Dask or Ray (python probe); absent for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<engines::Engine>,
    /// The most Ray actors a run started (python probe); absent for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actors: Option<u32>,
    /// Tasks per run (python probe).
    pub task_count: Option<f64>,
    /// Work messages per run the pools' workers took, a map chunk once (python probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<f64>,
    /// Seconds per run the pools' workers spent pickling and unpickling (python probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_pickle_s: Option<f64>,
    /// Task durations pooled over the runs (python probe).
    pub task_durations: Option<TaskStats>,
    /// The chunksize most map calls used.
    pub chunksize: Option<u64>,
    pub start_method: Option<StartMethod>,
    pub max_threads_at_fork: Option<u64>,
    /// Bytes and call time per external resource (database, service, file directory).
    pub sink_io: Vec<SinkIo>,
    /// Seconds per run SQLite's write lock was held, all its databases together (preload
    /// probe: each hold from the `fcntl` that takes the lock to the one that drops it); absent
    /// where no hold was seen, and in recordings older than the probe's lock counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink_lock_held_s: Option<f64>,
    /// Holds of SQLite's write lock per run (the same runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink_lock_holds: Option<f64>,
}

/// One external resource's I/O at a point (median run).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SinkIo {
    pub resource: String,
    /// "postgresql", "tcp service", "unix service", "file".
    #[schemars(with = "String")]
    pub kind: SinkKind,
    pub bytes_out: f64,
    pub bytes_in: f64,
    /// Seconds inside calls on it, over the tree.
    pub call_s: f64,
    /// Processes that wrote to it.
    pub writers: u32,
    /// bytes_out / writers.
    pub bytes_out_per_writer: f64,
    /// call_s / writers.
    pub call_s_per_writer: f64,
    /// Seconds SQLite's write lock was held on it, over the tree (preload probe); absent for
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_held_s: Option<f64>,
}

/// Summarises the probe figures of a point's runs; `cpu_s` is the median tree CPU.
pub fn summarize(runs: &[&ProbeFigures], cpu_s: Option<f64>) -> Option<ProbeSummary> {
    if runs.is_empty() {
        return None;
    }
    let med = |get: &dyn Fn(&ProbeFigures) -> Option<f64>| {
        let v: Vec<f64> = runs.iter().filter_map(|f| get(f)).collect();
        stats::median(&v)
    };
    let ipc_bytes = med(&|f| f.ipc_bytes);
    // Per run, over its resources (each run's database may sit in a folder of its own).
    let lock_med = |get: &dyn Fn(&ExternalIo) -> f64| {
        med(&|f| {
            let held = f.external_io.values().filter(|e| e.lock_holds > 0);
            let v: Vec<f64> = held.map(get).collect();
            (!v.is_empty()).then(|| v.iter().sum())
        })
    };
    let task_count = med(&|f| f.tasks);
    let pickle_s = med(&|f| f.pickle_s);
    let pooled: Vec<f64> = runs
        .iter()
        .flat_map(|f| f.task_durations_s.iter().copied())
        .collect();
    let mut chunks: Vec<u64> = runs
        .iter()
        .flat_map(|f| f.chunksizes.iter().copied())
        .collect();
    chunks.sort_unstable();
    let chunksize = chunks
        .iter()
        .copied()
        .max_by_key(|c| chunks.iter().filter(|x| *x == c).count());
    Some(ProbeSummary {
        ipc_bytes,
        ipc_bytes_per_task: ipc_bytes
            .zip(task_count.filter(|&t| t > 0.0))
            .map(|(b, t)| b / t),
        ipc_tax: pickle_s
            .zip(cpu_s.filter(|&c| c > 0.0))
            .map(|(p, c)| (p / c).min(1.0)),
        ipc_call_s: med(&|f| f.ipc_call_s),
        pickled_bytes: med(&|f| f.pickled_bytes),
        shared_bytes: med(&|f| f.shared_bytes),
        engine: runs.iter().find_map(|f| f.engine),
        actors: runs.iter().filter_map(|f| f.actors).max(),
        task_count,
        messages: med(&|f| f.messages),
        worker_pickle_s: med(&|f| f.worker_pickle_s),
        task_durations: task_stats(&pooled),
        chunksize,
        start_method: runs.iter().find_map(|f| f.start_method),
        max_threads_at_fork: runs.iter().filter_map(|f| f.max_threads_at_fork).max(),
        sink_io: sink_io(runs),
        sink_lock_held_s: lock_med(&|e| e.lock_held_s),
        sink_lock_holds: lock_med(&|e| e.lock_holds as f64),
    })
}

fn sink_io(runs: &[&ProbeFigures]) -> Vec<SinkIo> {
    let mut names: Vec<&String> = runs.iter().flat_map(|f| f.external_io.keys()).collect();
    names.sort();
    names.dedup();
    let mut out: Vec<SinkIo> = names
        .into_iter()
        .map(|name| {
            let ios: Vec<&ExternalIo> = runs
                .iter()
                .filter_map(|f| f.external_io.get(name))
                .collect();
            let med = |get: &dyn Fn(&ExternalIo) -> f64| {
                stats::median(&ios.iter().map(|e| get(e)).collect::<Vec<_>>()).unwrap_or(0.0)
            };
            let writers = ios
                .iter()
                .map(|e| e.bytes_out_by_pid.len() as u32)
                .max()
                .unwrap_or(0);
            let (bytes_out, call_s) = (med(&|e| e.bytes_out as f64), med(&|e| e.call_s));
            SinkIo {
                resource: name.clone(),
                kind: SinkKind::of(ios[0].kind, ios[0].service),
                bytes_out,
                bytes_in: med(&|e| e.bytes_in as f64),
                call_s,
                writers,
                bytes_out_per_writer: bytes_out / f64::from(writers.max(1)),
                call_s_per_writer: call_s / f64::from(writers.max(1)),
                lock_held_s: ios
                    .iter()
                    .any(|e| e.lock_holds > 0)
                    .then(|| med(&|e| e.lock_held_s)),
            }
        })
        .collect();
    // Databases and services first, then the files that moved the most.
    out.sort_by(|a, b| {
        (a.kind == SinkKind::FILE)
            .cmp(&(b.kind == SinkKind::FILE))
            .then(b.bytes_out.total_cmp(&a.bytes_out))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::probes::{IoRow, PreloadData, PreloadProcess};

    fn row(kind: FdKind, peer: &str, dir: IoDir, bytes: u64, ns: u64) -> IoRow {
        IoRow {
            kind,
            peer: Some(peer.into()),
            accepted: false,
            overflow: false,
            // As the probe's reader decides them.
            plumbing: kind == FdKind::Pipe || peer.starts_with("socket:["),
            service: peer
                .ends_with(".s.PGSQL.5432")
                .then_some(crate::measure::Service::Postgresql),
            dir,
            bytes,
            calls: 1,
            blocked_ns: ns,
        }
    }

    fn process(pid: i32, rows: Vec<IoRow>) -> PreloadProcess {
        PreloadProcess {
            pid,
            ppid: 1,
            comm: "python".into(),
            exe: String::new(),
            forked: true,
            exit: None,
            lifetime_s: None,
            rows_overflowed: 0,
            rows,
            locks: Vec::new(),
        }
    }

    #[test]
    fn pipe_bytes_count_once_and_external_peers_are_summed_per_process() {
        let data = ProbeData {
            preload: Some(PreloadData {
                processes: vec![
                    process(
                        1,
                        vec![
                            row(FdKind::Pipe, "pipe:[1]", IoDir::Out, 1000, 10),
                            row(FdKind::Pipe, "pipe:[2]", IoDir::In, 400, 5),
                        ],
                    ),
                    process(
                        2,
                        vec![
                            row(FdKind::Pipe, "pipe:[1]", IoDir::In, 1000, 10),
                            row(FdKind::Pipe, "pipe:[2]", IoDir::Out, 400, 5),
                            row(
                                FdKind::Unix,
                                "/tmp/pg/.s.PGSQL.5432",
                                IoDir::Out,
                                300,
                                2_000_000,
                            ),
                        ],
                    ),
                    process(
                        3,
                        vec![row(
                            FdKind::Unix,
                            "/tmp/pg/.s.PGSQL.5432",
                            IoDir::Out,
                            200,
                            1_000_000,
                        )],
                    ),
                ],
                dropped_processes: 0,
            }),
            python: None,
        };
        let f = figures(&data, None);
        assert_eq!(f.ipc_bytes, Some(1400.0));
        let pg = &f.external_io["unix:/tmp/pg/.s.PGSQL.5432"];
        assert_eq!(
            (
                pg.bytes_out,
                pg.bytes_out_by_pid[&2],
                pg.bytes_out_by_pid[&3]
            ),
            (500, 300, 200)
        );
        assert!((pg.call_s - 0.003).abs() < 1e-12);
        assert!(f.tasks.is_none(), "no python probe, no task count");
    }

    #[test]
    fn forkcasts_own_files_and_files_only_read_are_not_external_io() {
        let rows = vec![
            row(FdKind::File, "/out/runs", IoDir::Out, 100, 1),
            row(FdKind::File, "/usr/lib/python3.11", IoDir::In, 5000, 1),
            row(FdKind::File, "/data/results", IoDir::Out, 700, 1),
        ];
        let data = ProbeData {
            preload: Some(PreloadData {
                processes: vec![process(1, rows)],
                dropped_processes: 0,
            }),
            python: None,
        };
        let f = figures(&data, Some("/out"));
        assert_eq!(
            f.external_io.keys().collect::<Vec<_>>(),
            vec!["file:/data/results"]
        );
    }

    #[test]
    fn task_stats_separate_even_from_skewed_tasks() {
        let even = task_stats(&[1.0; 50]).unwrap();
        let mut skewed = vec![0.01; 99];
        skewed.push(10.0);
        let skewed = task_stats(&skewed).unwrap();
        assert_eq!(even.cv, Some(0.0));
        assert!(skewed.cv.unwrap() > 5.0);
        assert_eq!(skewed.count, 100);
    }
}
