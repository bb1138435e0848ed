//! "A bigger machine or a cluster": the finding past_host.rs gives when the replayed curve still
//! rises past this host's cores, nothing serial holds it there, and the memory per worker fits
//! more workers than cores. It names the engine that fits the measured shape (Dask for a pool
//! of functions; Ray for actors, a service the tasks call, or objects shared between tasks),
//! the bytes per task a network would then carry, and what they cost at 1 and 10 Gbit/s
//! against the task's median duration. forkcast measured this host only: every figure here is
//! this host's, and the curve past it is replayed, not measured.

use super::thresholds::{CLUSTER_NETWORK_SHARE, WORKER_MEMORY_SHARE};
use crate::analyze::point::PointSummary;
use crate::analyze::replay::Predicted;
use crate::analyze::Layout;
use crate::measure::Source;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The link rates a task's bytes are priced at: gigabit and ten-gigabit Ethernet, the two
/// links a cluster's machines commonly have.
pub const LINK_GBIT_PER_S: [f64; 2] = [1.0, 10.0];

/// The finding, as report.json's `diagnosis.cluster` carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Cluster {
    /// This host's parallel cores (host).
    pub host_cores: u32,
    /// The replayed curve at this host's cores, at 2 x and at 4 x them (scaling.predicted).
    pub curve: Vec<Predicted>,
    /// The largest PSS of a worker at the largest count (procfs), bytes.
    pub pss_bytes_per_worker: f64,
    /// Memory available when the run started (host), bytes.
    pub available_memory_bytes: u64,
    /// Workers that `WORKER_MEMORY_SHARE` of the available memory holds at that PSS.
    pub workers_memory_holds: u32,
    pub engine: ClusterEngine,
    /// What in the measured shape names the engine.
    pub shape: Shape,
    /// The service the tasks wait on, for `shape: service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub network: Network,
    /// The source of each measured figure above, by field (the curve is replayed from them).
    pub sources: BTreeMap<String, Source>,
}

/// The engine that runs the same work across machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClusterEngine {
    Dask,
    Ray,
}

/// The measured shape the engine is chosen by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Independent calls of a function over the inputs: Dask's `client.map`.
    PoolOfFunctions,
    /// Commands run one per task (make, xargs, a shell's `&`): Dask's `client.map` over
    /// `subprocess.run`.
    Commands,
    /// Ray actors ran beside the tasks: state that lives between calls.
    Actors,
    /// Objects passed by reference through shared memory: Ray's object store shares them.
    SharedObjects,
    /// The tasks wait on one service (a database, a socket): a Ray actor owns its connection.
    Service,
}

impl ClusterEngine {
    pub fn name(self) -> &'static str {
        match self {
            ClusterEngine::Dask => "Dask",
            ClusterEngine::Ray => "Ray",
        }
    }
}

impl Shape {
    /// The shape in a few words.
    pub fn words(self) -> &'static str {
        match self {
            Shape::PoolOfFunctions => "a pool of functions",
            Shape::Commands => "a command per task",
            Shape::Actors => "actors",
            Shape::SharedObjects => "objects shared between tasks",
            Shape::Service => "tasks calling one service",
        }
    }
}

/// What would cross a network per task, and what it would cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Network {
    /// Bytes moved between the tree's processes per task today, both ways (preload probe's
    /// bytes over the python probe's tasks).
    pub pickled_bytes_per_task: Option<f64>,
    /// Bytes passed by reference per run, spread over its tasks (python probe).
    pub shared_bytes_per_task: Option<f64>,
    /// Their sum: the bytes per task a network would carry.
    pub bytes_per_task: Option<f64>,
    /// The task's median duration, seconds (python probe, or the task processes' lives).
    pub task_s: Option<f64>,
    /// One entry per rate of `LINK_GBIT_PER_S`; empty without the bytes.
    pub links: Vec<Link>,
    /// Why the bytes are not known, when they are not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmeasured: Option<String>,
}

/// A task's bytes on one link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Link {
    pub gbit_per_s: f64,
    /// bytes x 8 / rate, seconds per task.
    pub transfer_s: f64,
    /// transfer_s over the task's median duration.
    pub share_of_task: Option<f64>,
    /// Workers one such link to the driver feeds when it carries every task's bytes: the task
    /// over its transfer (the operational law on a serial resource).
    pub workers_fed: Option<f64>,
    /// The share stays under `CLUSTER_NETWORK_SHARE`.
    pub pays: Option<bool>,
}

/// What the finding reads of the largest measured count of the primary curve.
pub struct Inputs<'a> {
    pub host_cores: u32,
    pub available_memory_bytes: Option<u64>,
    pub point: &'a PointSummary,
}

/// Workers the memory holds at the point's PSS: None when either is not measured.
pub fn workers_memory_holds(available: Option<u64>, pss: Option<f64>) -> Option<u32> {
    let (avail, pss) = (available?, pss.filter(|&p| p > 0.0)?);
    Some((avail as f64 * WORKER_MEMORY_SHARE.value / pss).floor() as u32)
}

/// The finding, when memory holds more workers than the cores (`curve`: here, 2 x, 4 x).
pub fn read(i: &Inputs, curve: &[Predicted]) -> Option<Cluster> {
    let p = i.point;
    let pss = p.pss_bytes_per_worker?;
    let avail = i.available_memory_bytes?;
    let holds = workers_memory_holds(Some(avail), Some(pss))?;
    if holds <= i.host_cores {
        return None;
    }
    let (engine, shape, service) = engine_for(p);
    let network = network(p);
    let mut sources = BTreeMap::from([
        ("host_cores".to_string(), Source::Host),
        ("available_memory_bytes".to_string(), Source::Host),
        ("pss_bytes_per_worker".to_string(), Source::Procfs),
    ]);
    if network.pickled_bytes_per_task.is_some() {
        sources.insert("pickled_bytes_per_task".into(), Source::PreloadProbe);
    }
    if network.shared_bytes_per_task.is_some() {
        sources.insert("shared_bytes_per_task".into(), Source::PythonProbe);
    }
    if network.task_s.is_some() {
        let python = p.probes.as_ref().and_then(|x| x.task_durations.as_ref());
        let from = if python.is_some() {
            Source::PythonProbe
        } else {
            Source::Procfs
        };
        sources.insert("task_s".into(), from);
    }
    Some(Cluster {
        host_cores: i.host_cores,
        curve: curve.to_vec(),
        pss_bytes_per_worker: pss,
        available_memory_bytes: avail,
        workers_memory_holds: holds,
        engine,
        shape,
        service,
        network,
        sources,
    })
}

/// The engine by the measured shape: Ray where state outlives a call (actors, a service the
/// tasks wait on) or objects are shared between tasks; Dask for independent calls.
pub fn engine_for(p: &PointSummary) -> (ClusterEngine, Shape, Option<String>) {
    let probes = p.probes.as_ref();
    if probes.and_then(|x| x.actors).is_some() {
        return (ClusterEngine::Ray, Shape::Actors, None);
    }
    if probes.and_then(|x| x.shared_bytes).is_some() {
        return (ClusterEngine::Ray, Shape::SharedObjects, None);
    }
    if let Some(s) = p.sinks.as_ref().and_then(|s| s.first()) {
        return (ClusterEngine::Ray, Shape::Service, Some(s.resource.clone()));
    }
    let commands = p.apis.iter().any(|a| a.is_shell());
    let shape = if commands {
        Shape::Commands
    } else {
        Shape::PoolOfFunctions
    };
    (ClusterEngine::Dask, shape, None)
}

/// The bytes per task a network would carry, and their cost on each link.
pub fn network(p: &PointSummary) -> Network {
    let probes = p.probes.as_ref();
    let task_s = probes
        .and_then(|x| x.task_durations.as_ref())
        .or(p.process_tasks.as_ref())
        .map(|t| t.p50_s)
        .filter(|&t| t > 0.0);
    let unmeasured = |why: &str| Network {
        pickled_bytes_per_task: None,
        shared_bytes_per_task: None,
        bytes_per_task: None,
        task_s,
        links: Vec::new(),
        unmeasured: Some(why.into()),
    };
    // Threads hand each other objects in one memory: nothing crossed a pipe to count.
    if p.worker_layout == Some(Layout::Threads) {
        return unmeasured(
            "threads share their objects in one memory, so no bytes crossed between processes \
             to count; sweep a processes mode to measure them",
        );
    }
    let pickled = probes.and_then(|x| x.ipc_bytes_per_task);
    let tasks = probes.and_then(|x| x.task_count).filter(|&t| t > 0.0);
    let shared = probes
        .and_then(|x| x.shared_bytes)
        .zip(tasks)
        .map(|(b, t)| b / t);
    let bytes =
        match (pickled, shared) {
            (None, None) => return unmeasured(
                "no probe counted the bytes per task (the preload and python probes count them)",
            ),
            (a, b) => a.unwrap_or(0.0) + b.unwrap_or(0.0),
        };
    Network {
        pickled_bytes_per_task: pickled,
        shared_bytes_per_task: shared,
        bytes_per_task: Some(bytes),
        task_s,
        links: LINK_GBIT_PER_S
            .iter()
            .map(|&g| link(bytes, g, task_s))
            .collect(),
        unmeasured: None,
    }
}

/// `bytes` per task on a link of `gbit_per_s`, against a task of `task_s`.
pub fn link(bytes: f64, gbit_per_s: f64, task_s: Option<f64>) -> Link {
    let transfer_s = bytes * 8.0 / (gbit_per_s * 1e9);
    let share = task_s.map(|t| transfer_s / t);
    Link {
        gbit_per_s,
        transfer_s,
        share_of_task: share,
        workers_fed: task_s.filter(|_| transfer_s > 0.0).map(|t| t / transfer_s),
        pays: share.map(|s| s < CLUSTER_NETWORK_SHARE.value),
    }
}

impl Cluster {
    /// The engine's words: its name, the shape that names it, and how the work moves to it.
    pub fn engine_words(&self) -> String {
        let service = self.service.as_deref().unwrap_or("a service");
        match (self.engine, self.shape) {
            (_, Shape::Actors) => {
                "Ray fits the measured shape: its actors keep their state between calls, on \
                 any machine of the cluster"
                    .into()
            }
            (_, Shape::SharedObjects) => {
                "Ray fits the measured shape: objects passed by reference here go into its \
                 object store, fetched once per machine rather than per task"
                    .into()
            }
            (_, Shape::Service) => format!(
                "Ray fits the measured shape: the tasks wait on {service}, and one actor that \
                 owns its connection and batches keeps it a single client however many \
                 machines run the tasks"
            ),
            (_, Shape::Commands) => {
                "Dask fits the measured shape, a command per task: client.map(subprocess.run, \
                 commands) on a distributed Client"
                    .into()
            }
            (_, Shape::PoolOfFunctions) => {
                "Dask fits the measured shape, a pool of functions: client.map(f, inputs) on a \
                 distributed Client, the same calls as a LocalCluster"
                    .into()
            }
        }
    }

    /// The network's words: the bytes per task, their cost on each link against the task.
    pub fn network_words(&self) -> String {
        let n = &self.network;
        let Some(bytes) = n.bytes_per_task else {
            return format!(
                "the bytes a task would send over a network are not measured: {}",
                n.unmeasured.as_deref().unwrap_or("")
            );
        };
        let what = match (n.pickled_bytes_per_task, n.shared_bytes_per_task) {
            (Some(p), Some(s)) => format!(
                "{} pickled both ways, preload probe; {} by reference, python probe",
                bytes_words(p),
                bytes_words(s)
            ),
            (None, Some(_)) => "by reference, python probe".into(),
            _ => "pickled both ways, preload probe".into(),
        };
        let costs: Vec<String> = n
            .links
            .iter()
            .map(|l| format!("{} at {} Gbit/s", seconds_words(l.transfer_s), l.gbit_per_s))
            .collect();
        let mut out = format!(
            "{} per task would cross the network ({what}): {}",
            bytes_words(bytes),
            costs.join(", ")
        );
        let Some(task) = n.task_s else {
            out.push_str(", against a task duration not measured (python probe)");
            return out;
        };
        let mut shares: Vec<String> = n
            .links
            .iter()
            .filter_map(|l| l.share_of_task)
            .map(percent_words)
            .collect();
        // "under 0.01 % and under 0.01 %" says it once.
        shares.dedup();
        let source = self.sources.get("task_s").copied();
        out.push_str(&format!(
            ", against its {} median ({}): {} of the task",
            seconds_words(task),
            match source {
                Some(Source::PythonProbe) => "python probe",
                _ => "the task processes' lives, procfs",
            },
            shares.join(" and ")
        ));
        let bar = CLUSTER_NETWORK_SHARE.value * 100.0;
        let paying: Vec<&Link> = n.links.iter().filter(|l| l.pays == Some(true)).collect();
        let fastest = n.links.last();
        if paying.len() == n.links.len() {
            out.push_str(&format!(
                ", under the {bar:.0} % past which the wire eats the gain"
            ));
        } else if let Some(l) = paying.first() {
            out.push_str(&format!(
                "; only from {} Gbit/s does it stay under the {bar:.0} % past which the wire \
                 eats the gain",
                l.gbit_per_s
            ));
        } else if let Some(l) = fastest {
            out.push_str(&format!(
                ", over the {bar:.0} % past which the wire eats the gain (one {} Gbit/s link \
                 to the driver feeds {:.1} such workers): pass less per task before a cluster",
                l.gbit_per_s,
                l.workers_fed.unwrap_or(0.0)
            ));
        }
        out
    }
}

pub fn bytes_words(b: f64) -> String {
    match b {
        b if b >= 1073741824.0 => format!("{:.1} GiB", b / 1073741824.0),
        b if b >= 1048576.0 => format!("{:.1} MiB", b / 1048576.0),
        b if b >= 1024.0 => format!("{:.1} KiB", b / 1024.0),
        b => format!("{b:.0} B"),
    }
}

pub fn seconds_words(s: f64) -> String {
    match s {
        s if s >= 1.0 => format!("{s:.2} s"),
        s if s >= 1e-3 => format!("{:.1} ms", s * 1e3),
        s => format!("{:.1} µs", s * 1e6),
    }
}

pub fn percent_words(share: f64) -> String {
    let pct = share * 100.0;
    if pct >= 10.0 {
        format!("{pct:.0} %")
    } else if pct >= 0.01 {
        format!("{pct:.2} %")
    } else {
        "under 0.01 %".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::api::PoolApi;
    use crate::analyze::ipc::{ProbeSummary, TaskStats};
    use crate::analyze::waits::Sink;

    fn point(probes: ProbeSummary) -> PointSummary {
        PointSummary {
            probes: Some(probes),
            worker_layout: Some(Layout::Processes),
            ..Default::default()
        }
    }

    fn tasks(p50_s: f64) -> Option<TaskStats> {
        Some(TaskStats {
            count: 64,
            p50_s,
            ..Default::default()
        })
    }

    #[test]
    fn the_shape_names_the_engine() {
        let pool = point(ProbeSummary::default());
        assert_eq!(
            engine_for(&pool),
            (ClusterEngine::Dask, Shape::PoolOfFunctions, None)
        );
        let shared = point(ProbeSummary {
            shared_bytes: Some(8e8),
            ..Default::default()
        });
        assert_eq!(engine_for(&shared).1, Shape::SharedObjects);
        let actors = point(ProbeSummary {
            actors: Some(1),
            shared_bytes: Some(8e8),
            ..Default::default()
        });
        assert_eq!(
            engine_for(&actors),
            (ClusterEngine::Ray, Shape::Actors, None)
        );
        let service = PointSummary {
            sinks: Some(vec![Sink {
                resource: "tcp:127.0.0.1:5432".into(),
                ..Default::default()
            }]),
            ..pool.clone()
        };
        assert_eq!(
            engine_for(&service),
            (
                ClusterEngine::Ray,
                Shape::Service,
                Some("tcp:127.0.0.1:5432".into())
            )
        );
        let make = PointSummary {
            apis: vec![PoolApi::Make],
            ..pool
        };
        assert_eq!(
            engine_for(&make),
            (ClusterEngine::Dask, Shape::Commands, None)
        );
    }

    #[test]
    fn a_tasks_bytes_are_priced_per_link_against_its_duration() {
        // 8 MB pickled per 20 ms task: 64 ms at 1 Gbit/s, 6.4 ms at 10.
        let p = point(ProbeSummary {
            ipc_bytes_per_task: Some(8e6),
            task_count: Some(48.0),
            task_durations: tasks(0.02),
            ..Default::default()
        });
        let n = network(&p);
        assert_eq!(n.bytes_per_task, Some(8e6));
        let [one, ten] = [&n.links[0], &n.links[1]];
        assert!((one.transfer_s - 0.064).abs() < 1e-12, "{one:?}");
        assert!((ten.transfer_s - 0.0064).abs() < 1e-12, "{ten:?}");
        assert!((ten.share_of_task.unwrap() - 0.32).abs() < 1e-9);
        assert!((ten.workers_fed.unwrap() - 3.125).abs() < 1e-9);
        assert_eq!((one.pays, ten.pays), (Some(false), Some(false)));
        // A reference shared by the run counts once per task of it, beside the pickled bytes.
        let q = point(ProbeSummary {
            ipc_bytes_per_task: Some(100.0),
            shared_bytes: Some(6400.0),
            task_count: Some(64.0),
            task_durations: tasks(0.01),
            ..Default::default()
        });
        let n = network(&q);
        assert_eq!(n.shared_bytes_per_task, Some(100.0));
        assert_eq!(n.bytes_per_task, Some(200.0));
        assert_eq!(n.links[0].pays, Some(true));
    }

    #[test]
    fn threads_and_unprobed_runs_say_the_bytes_are_not_measured() {
        let threads = PointSummary {
            worker_layout: Some(Layout::Threads),
            ..point(ProbeSummary {
                ipc_bytes_per_task: Some(0.0),
                ..Default::default()
            })
        };
        let n = network(&threads);
        assert!(n.bytes_per_task.is_none() && n.links.is_empty());
        assert!(n.unmeasured.unwrap().contains("threads"));
        let bare = PointSummary::default();
        assert!(network(&bare).unmeasured.unwrap().contains("probe"));
    }

    #[test]
    fn memory_must_hold_more_workers_than_the_cores() {
        assert_eq!(workers_memory_holds(Some(10_000), Some(1000.0)), Some(8));
        assert_eq!(workers_memory_holds(None, Some(1000.0)), None);
        assert_eq!(workers_memory_holds(Some(10_000), None), None);
        let p = PointSummary {
            pss_bytes_per_worker: Some(1000.0),
            ..Default::default()
        };
        let at = |cores| {
            read(
                &Inputs {
                    host_cores: cores,
                    available_memory_bytes: Some(10_000),
                    point: &p,
                },
                &[],
            )
        };
        assert!(at(4).is_some());
        assert!(at(8).is_none(), "8 workers fit, not more than the 8 cores");
    }
}
