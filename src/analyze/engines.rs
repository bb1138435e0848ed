//! The shapes of the engines Python users scale with (joblib's loky, Dask distributed, Ray):
//! which of their processes run the user's tasks, and which are the engine's own services.
//! A service never counts as a worker, whatever CPU it used: Ray's gcs_server and raylet poll
//! and log while a short run's tasks compute, and at one worker they can out-work it.

use crate::measure::probes::{FdKind, ProbeData};
use crate::measure::{ProcessRecord, SamplerData};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// Roles the python probe gives the processes that ran a pool's tasks (its `_WORKER_ROLES`).
/// `ray_actor` is not one: an actor is a service the tasks call, a sink when they wait on it.
pub const POOL_WORKER_ROLES: [&str; 5] = [
    "pool_worker",
    "process_pool_worker",
    "loky_worker",
    "dask_worker",
    "ray_worker",
];

/// Whether the python probe's `role` marks an engine's worker (loky, Dask, Ray).
pub fn is_engine_worker_role(role: &str) -> bool {
    matches!(role, "loky_worker" | "dask_worker" | "ray_worker")
}

/// Whether the python probe's `role` marks a process that ran a pool's tasks.
pub fn is_pool_worker_role(role: &str) -> bool {
    POOL_WORKER_ROLES.contains(&role)
}

/// Ray's services by their process name (comm, at most 15 bytes): the GCS, the raylet (which
/// holds the object store), and the agents, which rename themselves `ray::<Agent>`.
const RAY_SERVICE_COMMS: [&str; 4] = ["gcs_server", "raylet", "ray::DashboardA", "ray::RuntimeEnv"];

/// Engine services started as Python scripts or modules, by a word of their command line:
/// Ray's log monitor and agents, loky's and multiprocessing's resource trackers.
const SERVICE_ARGS: [&str; 6] = [
    "ray/_private/log_monitor.py",
    "ray/dashboard/agent.py",
    "ray/_private/runtime_env/agent/main.py",
    "ray/autoscaler/_private/monitor.py",
    "loky.backend.resource_tracker import main",
    "multiprocessing.resource_tracker import main",
];

/// Whether `p` is one of an engine's own services (never a worker).
pub fn is_engine_service(p: &ProcessRecord) -> bool {
    RAY_SERVICE_COMMS.contains(&p.comm.as_str())
        || p.cmdline
            .iter()
            .any(|arg| SERVICE_ARGS.iter().any(|s| arg.contains(s)))
}

/// The engine that ran a sweep's tasks, as the python probe saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// joblib.Parallel, on loky or any other backend.
    Joblib,
    /// Dask distributed.
    Dask,
    Ray,
}

impl Engine {
    /// The engine of a run: its workers' roles say which, and a process that ran joblib's
    /// calls without a loky worker (prefer="threads") is joblib's too.
    pub fn of(data: &ProbeData) -> Option<Engine> {
        let procs = &data.python.as_ref()?.processes;
        let any = |f: &dyn Fn(&crate::measure::probes::PythonProcess) -> bool| procs.iter().any(f);
        if any(&|p| p.role.starts_with("ray_")) {
            Some(Engine::Ray)
        } else if any(&|p| p.role == "dask_worker") {
            Some(Engine::Dask)
        } else if any(&|p| p.role == "loky_worker" || p.tasks_by_source.engine > 0) {
            Some(Engine::Joblib)
        } else {
            None
        }
    }
}

/// Roles that only an engine's processes take: their presence makes the tree an engine's.
const ENGINE_ROLES: [&str; 4] = ["loky_worker", "dask_worker", "ray_worker", "ray_actor"];

/// Linux's default ephemeral port range (net.ipv4.ip_local_port_range): the client end of a
/// loopback connection has its port in it.
const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 32768..=60999;

/// Whether the preload row of process `pid` to `peer` is an engine's own traffic: to an address
/// the engine's processes served (`served`), or, from one of the engine's Python processes, to
/// the client end of a loopback connection (the server side of a connection whose accept the
/// probe did not see: Dask's scheduler talking back to its workers). The cost of that guess: a
/// service of its own on a loopback port in the ephemeral range, talked to by an engine's
/// process, reads as plumbing too (docs/ENGINES.md says so).
pub fn is_engine_plumbing(
    served: &BTreeSet<String>,
    engine_pids: &BTreeSet<i32>,
    pid: i32,
    peer: &str,
) -> bool {
    if served.contains(peer) {
        return true;
    }
    let Some((host, port)) = peer.rsplit_once(':') else {
        return false;
    };
    let loopback = host.starts_with("127.") || host == "[::1]" || host.starts_with("[::ffff:127.");
    engine_pids.contains(&pid)
        && loopback
        && port.parse().is_ok_and(|p| EPHEMERAL_PORTS.contains(&p))
}

/// The Python processes of an engine's tree (its driver, scheduler, nannies, workers), without
/// its actors. Empty unless the python probe saw an engine's worker.
pub fn engine_pids(data: &ProbeData) -> BTreeSet<i32> {
    let Some(py) = &data.python else {
        return BTreeSet::new();
    };
    if !py
        .processes
        .iter()
        .any(|p| ENGINE_ROLES.contains(&p.role.as_str()))
    {
        return BTreeSet::new();
    }
    py.processes
        .iter()
        .filter(|p| p.role != "ray_actor")
        .map(|p| p.pid)
        .collect()
}

/// The addresses (tcp, named unix socket) that the engine's own processes of this tree served:
/// Dask's scheduler, nannies and workers, Ray's gcs_server, raylet and workers. Traffic to
/// them is the engine's plumbing, like a Pool's pipes, never a sink. Empty unless the python
/// probe saw an engine's worker. A Ray actor's address is left out: tasks that wait on an
/// actor wait on a service inside the engine, and that is a sink.
pub fn plumbing_addresses(data: &ProbeData) -> BTreeSet<String> {
    let roles: HashMap<i32, &str> = data
        .python
        .iter()
        .flat_map(|py| &py.processes)
        .map(|p| (p.pid, p.role.as_str()))
        .collect();
    let Some(pre) = &data.preload else {
        return BTreeSet::new();
    };
    if !roles.values().any(|r| ENGINE_ROLES.contains(r)) {
        return BTreeSet::new();
    }
    pre.processes
        .iter()
        .filter(|p| match roles.get(&p.pid) {
            Some(role) => *role != "ray_actor",
            None => RAY_SERVICE_COMMS.contains(&p.comm.as_str()),
        })
        .flat_map(|p| &p.rows)
        .filter(|row| row.accepted && matches!(row.kind, FdKind::Tcp | FdKind::Unix))
        .filter_map(|row| row.peer.clone())
        .collect()
}

/// The resources (the sampler's names) that an engine's services served: Ray's raylet (the
/// object store's and its own unix sockets, its gRPC ports) and gcs_server. A worker that waits
/// on one waits on the engine's plumbing, never on a sink.
pub fn served_by_services(data: &SamplerData) -> BTreeSet<String> {
    data.processes
        .iter()
        .filter(|p| is_engine_service(p))
        .flat_map(|p| &p.held)
        .filter_map(|h| {
            if let Some(addr) = h.strip_prefix("tcp:listen:") {
                Some(format!("tcp:{addr}"))
            } else {
                h.starts_with("unix:/").then(|| h.clone())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(comm: &str, cmdline: &[&str]) -> ProcessRecord {
        ProcessRecord {
            comm: comm.into(),
            cmdline: cmdline.iter().map(|s| s.to_string()).collect(),
            ..ProcessRecord::default()
        }
    }

    #[test]
    fn ray_services_and_resource_trackers_are_services_and_workers_are_not() {
        assert!(is_engine_service(&proc("raylet", &["/x/raylet", "--head"])));
        assert!(is_engine_service(&proc("gcs_server", &[])));
        assert!(is_engine_service(&proc(
            "python",
            &["python", "-u", "/v/ray/_private/log_monitor.py"]
        )));
        assert!(is_engine_service(&proc(
            "python",
            &[
                "python",
                "-c",
                "from joblib.externals.loky.backend.resource_tracker import main; main(5, False)"
            ]
        )));
        assert!(!is_engine_service(&proc("ray::IDLE", &["ray::IDLE"])));
        assert!(!is_engine_service(&proc(
            "python",
            &[
                "python",
                "-m",
                "joblib.externals.loky.backend.popen_loky_posix",
                "--process-name",
                "LokyProcess-1"
            ]
        )));
    }

    #[test]
    fn engine_workers_are_pool_workers_and_an_actor_is_not() {
        for role in ["loky_worker", "dask_worker", "ray_worker", "pool_worker"] {
            assert!(is_pool_worker_role(role), "{role}");
        }
        assert!(!is_pool_worker_role("ray_actor"));
        assert!(!is_pool_worker_role("process"));
    }

    #[test]
    fn an_engines_own_addresses_are_plumbing_and_a_database_is_not() {
        let served: BTreeSet<String> = ["127.0.0.1:44827".to_string()].into();
        let engine: BTreeSet<i32> = [10].into();
        // Served by the engine (Dask's scheduler), from any process.
        assert!(is_engine_plumbing(&served, &engine, 99, "127.0.0.1:44827"));
        // The client end of a loopback connection, seen from the engine's scheduler.
        assert!(is_engine_plumbing(&served, &engine, 10, "127.0.0.1:41564"));
        // A database on its own port, or any address off loopback, stays outside.
        assert!(!is_engine_plumbing(&served, &engine, 10, "127.0.0.1:5432"));
        assert!(!is_engine_plumbing(&served, &engine, 10, "10.0.0.7:41564"));
        // Outside an engine's tree nothing changes.
        assert!(!is_engine_plumbing(
            &BTreeSet::new(),
            &BTreeSet::new(),
            10,
            "127.0.0.1:41564"
        ));
    }

    #[test]
    fn what_rays_services_serve_is_named_as_the_sampler_names_waits() {
        let mut raylet = proc("raylet", &["/x/raylet"]);
        raylet.held = vec![
            "unix:/tmp/ray/s/sockets/plasma_store".into(),
            "tcp:listen:[::ffff:127.0.0.1]:43597".into(),
            "tcp:[::ffff:127.0.0.1]:40065".into(),
            "unix:[5,6]".into(),
        ];
        let mut worker = proc("ray::IDLE", &["ray::IDLE"]);
        worker.held = vec!["tcp:listen:127.0.0.1:45105".into()];
        let data = SamplerData {
            processes: vec![raylet, worker],
            ..SamplerData::default()
        };
        let served: Vec<String> = served_by_services(&data).into_iter().collect();
        assert_eq!(
            served,
            [
                "tcp:[::ffff:127.0.0.1]:43597",
                "unix:/tmp/ray/s/sockets/plasma_store"
            ]
        );
    }
}
