//! The shapes of the engines Python users scale with (joblib's loky, Dask distributed, Ray):
//! which of their processes run the user's tasks, and which are the engine's own services.
//! A service never counts as a worker, whatever CPU it used: Ray's gcs_server and raylet poll
//! and log while a short run's tasks compute, and at one worker they can out-work it.

use crate::measure::ProcessRecord;

/// Roles the python probe gives the processes that ran a pool's tasks (its `_WORKER_ROLES`).
/// `ray_actor` is not one: an actor is a service the tasks call, a sink when they wait on it.
pub const POOL_WORKER_ROLES: [&str; 5] = [
    "pool_worker",
    "process_pool_worker",
    "loky_worker",
    "dask_worker",
    "ray_worker",
];

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
}
