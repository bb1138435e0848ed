//! Which pool API ran the tasks at one point: the python probe's pools and task sources, or,
//! for a process-per-task layout, the tool whose children the task processes were (make,
//! xargs, a shell's `cmd &` and `wait`). The advice is written in that API's terms, and never
//! names one the workload did not use.

use super::engines::Engine;
use super::workers::{Layout, Workers};
use crate::measure::probes::PythonData;
use crate::measure::{Run, SamplerData};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A pool API or a process-per-task tool.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PoolApi {
    /// `multiprocessing.Pool`.
    MultiprocessingPool,
    /// `concurrent.futures.ProcessPoolExecutor`.
    ProcessPoolExecutor,
    /// `multiprocessing.Process`, started one by one (no pool).
    MultiprocessingProcess,
    /// `multiprocessing.pool.ThreadPool`.
    ThreadPool,
    /// `concurrent.futures.ThreadPoolExecutor`.
    ThreadPoolExecutor,
    Joblib,
    Dask,
    Ray,
    /// `make -j`: one process per recipe.
    Make,
    /// `xargs -P`: one process per batch of arguments.
    Xargs,
    /// A shell's `cmd &` ... `wait`.
    ShellJobs,
}

impl PoolApi {
    /// The name a user reads in their own code.
    pub fn name(self) -> &'static str {
        match self {
            PoolApi::MultiprocessingPool => "multiprocessing.Pool",
            PoolApi::ProcessPoolExecutor => "ProcessPoolExecutor",
            PoolApi::MultiprocessingProcess => "multiprocessing.Process",
            PoolApi::ThreadPool => "multiprocessing.pool.ThreadPool",
            PoolApi::ThreadPoolExecutor => "ThreadPoolExecutor",
            PoolApi::Joblib => "joblib",
            PoolApi::Dask => "Dask",
            PoolApi::Ray => "Ray",
            PoolApi::Make => "make -j",
            PoolApi::Xargs => "xargs -P",
            PoolApi::ShellJobs => "the shell's & and wait",
        }
    }

    /// Its workers are processes (else threads of one process).
    pub fn runs_processes(self) -> bool {
        !matches!(self, PoolApi::ThreadPool | PoolApi::ThreadPoolExecutor)
    }

    /// An engine that runs its tasks in threads or in processes by a setting (joblib's
    /// prefer, Dask's threads_per_worker).
    pub fn runs_threads_too(self) -> bool {
        matches!(self, PoolApi::Joblib | PoolApi::Dask)
    }

    /// A command-line tool, advised in shell rather than Python.
    pub fn is_shell(self) -> bool {
        matches!(self, PoolApi::Make | PoolApi::Xargs | PoolApi::ShellJobs)
    }
}

/// The APIs seen at one point, over its successful runs, with the sampler's workers of each
/// run that has them.
pub fn of_point<'a>(
    ok: &[&Run],
    sampled: impl Iterator<Item = (&'a SamplerData, &'a Workers)>,
) -> Vec<PoolApi> {
    let mut seen = BTreeSet::new();
    for run in ok {
        // An engine's own pools (joblib's ThreadPool under prefer="threads") are its
        // internals: the user wrote the engine's calls.
        if let Some(api) = engine(run) {
            seen.insert(api);
            continue;
        }
        let probes = run.probes.as_ref();
        if let Some(py) = probes.and_then(|p| p.python.as_ref()) {
            seen.extend(python_apis(py));
        }
    }
    for (d, w) in sampled {
        seen.extend(task_tool(d, w));
    }
    seen.into_iter().collect()
}

/// The engine (joblib, Dask, Ray) that ran a run's tasks, by the python probe's engine roles.
fn engine(run: &Run) -> Option<PoolApi> {
    Some(match Engine::of(run.probes.as_ref()?)? {
        Engine::Joblib => PoolApi::Joblib,
        Engine::Dask => PoolApi::Dask,
        Engine::Ray => PoolApi::Ray,
    })
}

/// The pools the probe saw created, and the kinds of pool that ran tasks.
fn python_apis(py: &PythonData) -> BTreeSet<PoolApi> {
    let mut seen = BTreeSet::new();
    for p in &py.processes {
        for pool in &p.pools {
            seen.extend(match pool.api.as_str() {
                "Pool" => Some(PoolApi::MultiprocessingPool),
                "ThreadPool" => Some(PoolApi::ThreadPool),
                "ProcessPoolExecutor" => Some(PoolApi::ProcessPoolExecutor),
                "ThreadPoolExecutor" => Some(PoolApi::ThreadPoolExecutor),
                _ => None,
            });
        }
        let src = &p.tasks_by_source;
        if src.thread_pool > 0 {
            seen.insert(PoolApi::ThreadPoolExecutor);
        }
        if src.process_pool > 0 {
            seen.insert(PoolApi::ProcessPoolExecutor);
        }
        if p.role == "mp_child" {
            seen.insert(PoolApi::MultiprocessingProcess);
        }
    }
    // Pool and ThreadPool tasks share a source: a pool task with neither pool recorded (its
    // record was full) is a Pool's, the common case.
    let pool_tasks = py.processes.iter().any(|p| p.tasks_by_source.pool > 0);
    if pool_tasks && !seen.contains(&PoolApi::ThreadPool) {
        seen.insert(PoolApi::MultiprocessingPool);
    }
    seen
}

/// For task processes in slots: the tool that started them, by the name of their parent.
fn task_tool(d: &SamplerData, w: &Workers) -> Option<PoolApi> {
    if w.layout != Layout::Tasks {
        return None;
    }
    let parents: BTreeSet<i32> = d
        .processes
        .iter()
        .filter(|p| w.pids.contains(&p.pid))
        .map(|p| p.ppid)
        .collect();
    let names: Vec<&str> = d
        .processes
        .iter()
        .filter(|p| parents.contains(&p.pid))
        .map(|p| p.comm.as_str())
        .collect();
    // Another parent (a Python pool replacing its workers, maxtasksperchild) is no tool.
    let named = |set: &[&str]| names.iter().any(|n| set.contains(n));
    if named(&["make", "gmake"]) {
        Some(PoolApi::Make)
    } else if named(&["xargs"]) {
        Some(PoolApi::Xargs)
    } else if named(&["sh", "bash", "dash", "zsh", "ksh"]) {
        Some(PoolApi::ShellJobs)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::probes::{PoolRecord, PythonProcess, TaskSources};

    fn process(role: &str, pools: &[&str], sources: TaskSources) -> PythonProcess {
        PythonProcess {
            role: role.into(),
            pools: pools
                .iter()
                .map(|api| PoolRecord {
                    api: (*api).into(),
                    workers: Some(2),
                    start_method: None,
                })
                .collect(),
            tasks_by_source: sources,
            ..PythonProcess::default()
        }
    }

    #[test]
    fn a_thread_pool_executor_is_known_by_its_tasks_and_a_process_by_its_role() {
        let py = PythonData {
            processes: vec![
                process(
                    "process",
                    &[],
                    TaskSources {
                        thread_pool: 8,
                        ..TaskSources::default()
                    },
                ),
                process("mp_child", &[], TaskSources::default()),
            ],
        };
        let seen: Vec<PoolApi> = python_apis(&py).into_iter().collect();
        assert_eq!(
            seen,
            [PoolApi::MultiprocessingProcess, PoolApi::ThreadPoolExecutor]
        );
    }

    #[test]
    fn pool_tasks_are_a_thread_pools_only_when_a_thread_pool_was_created() {
        let tasks = TaskSources {
            pool: 4,
            ..TaskSources::default()
        };
        let threads = PythonData {
            processes: vec![process("process", &["ThreadPool"], tasks.clone())],
        };
        let unrecorded = PythonData {
            processes: vec![process("pool_worker", &[], tasks)],
        };
        assert_eq!(
            python_apis(&threads).into_iter().collect::<Vec<_>>(),
            [PoolApi::ThreadPool]
        );
        assert_eq!(
            python_apis(&unrecorded).into_iter().collect::<Vec<_>>(),
            [PoolApi::MultiprocessingPool]
        );
    }
}
