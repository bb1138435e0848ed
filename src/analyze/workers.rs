//! Which tasks of a tree were the workers, judged by what they did (CPU used), not by being
//! children: launchers such as the pyenv shell shim add dozens of short processes that are not
//! workers, and a pool's parent that only hands out tasks is not one either.

use crate::measure::{ProcessRecord, SamplerData};
use serde::{Deserialize, Serialize};

/// A task counts as busy when it used at least this share of the busiest task's CPU: workers
/// of one pool get similar shares (a straggler-heavy pool still within 10x), launchers get a
/// small fraction.
const BUSY_SHARE_OF_MAX: f64 = 0.1;

/// ...and at least this share of the whole tree's CPU, so a tree of idle tasks has no workers.
const BUSY_SHARE_OF_TOTAL: f64 = 0.02;

/// A busy process whose busy children each use more than twice its CPU is their dispatcher
/// (a pool's parent, make, a shell script), not one of the workers.
const DISPATCHER_SHARE_OF_CHILDREN: f64 = 0.5;

/// How the workers of a run were laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Two or more busy processes.
    Processes,
    /// Two or more busy threads in one process.
    Threads,
    /// One busy task.
    Single,
}

/// The workers found in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Workers {
    pub layout: Layout,
    /// How many busy tasks (processes or threads) were seen.
    pub count: u32,
    /// On-CPU seconds of each worker, busiest first.
    pub cpu_s: Vec<f64>,
    /// Worker pids (the process of each worker thread, for threads).
    pub pids: Vec<i32>,
    /// Worker thread ids.
    pub tids: Vec<i32>,
    /// Processes in the tree that were not workers (launchers, parents, helpers).
    pub other_processes: u32,
}

/// Finds the workers of a run that asked for `requested` workers; None when the sampler saw
/// no CPU use at all, or no process used enough of it to stand out.
///
/// CPU use decides first. When it finds another count than requested (a workload that mostly
/// waits gives its workers little CPU, less than the parent spent importing), a group of
/// exactly `requested` sibling processes with one name is taken as the pool instead.
pub fn identify(data: &SamplerData, requested: u32) -> Option<Workers> {
    let by_cpu = identify_by_cpu(data)?;
    let parent_of = |pid: i32| data.processes.iter().find(|p| p.pid == pid).map(|p| p.ppid);
    // Busy processes that are the parent of another busy one: dispatchers, not pool members.
    let parents: Vec<i32> = if by_cpu.layout == Layout::Processes {
        by_cpu
            .pids
            .iter()
            .copied()
            .filter(|&pid| by_cpu.pids.iter().any(|&c| parent_of(c) == Some(pid)))
            .collect()
    } else {
        Vec::new()
    };
    if by_cpu.count == requested && parents.is_empty() {
        return Some(by_cpu);
    }
    // One busy process too many, and it is the parent of the others: a dispatcher that also
    // pickles or merges results (lab 02's payload parent), not one of the pool.
    if by_cpu.count.checked_sub(1) == Some(requested) && parents.len() == 1 {
        return Some(without(by_cpu, parents[0]));
    }
    if requested < 2 {
        return Some(by_cpu);
    }
    // CPU cannot tell (the pool mostly waits, or a dispatcher out-worked a member): the shape can.
    Some(sibling_pool(data, requested).unwrap_or(by_cpu))
}

/// `w` without process `pid` (its layout recomputed from what is left).
fn without(w: Workers, pid: i32) -> Workers {
    let keep: Vec<usize> = (0..w.pids.len()).filter(|&i| w.pids[i] != pid).collect();
    let count = keep.len() as u32;
    Workers {
        layout: if count >= 2 {
            Layout::Processes
        } else {
            Layout::Single
        },
        count,
        cpu_s: keep.iter().map(|&i| w.cpu_s[i]).collect(),
        pids: keep.iter().map(|&i| w.pids[i]).collect(),
        tids: keep
            .iter()
            .filter_map(|&i| w.tids.get(i).copied())
            .collect(),
        other_processes: w.other_processes + 1,
    }
}

/// `requested` processes that share a parent and a name, each living most of the run.
fn sibling_pool(data: &SamplerData, requested: u32) -> Option<Workers> {
    let first = data
        .processes
        .iter()
        .map(|p| p.first_seen_s)
        .fold(f64::MAX, f64::min);
    let last = data
        .processes
        .iter()
        .map(|p| p.last_seen_s)
        .fold(f64::MIN, f64::max);
    let long_lived = |p: &&ProcessRecord| p.last_seen_s - p.first_seen_s >= 0.5 * (last - first);
    let mut groups: Vec<Vec<&ProcessRecord>> = Vec::new();
    for p in data.processes.iter().filter(long_lived) {
        match groups
            .iter_mut()
            .find(|g| g[0].ppid == p.ppid && g[0].comm == p.comm)
        {
            Some(g) => g.push(p),
            None => groups.push(vec![p]),
        }
    }
    let pool = groups.into_iter().find(|g| g.len() == requested as usize)?;
    let cpu = |p: &ProcessRecord| p.threads.iter().map(|t| t.on_cpu_s).sum::<f64>();
    let members: Vec<i32> = pool.iter().map(|p| p.pid).collect();
    Some(Workers {
        layout: Layout::Processes,
        count: requested,
        cpu_s: pool.iter().map(|p| cpu(p)).collect(),
        pids: members.clone(),
        tids: pool
            .iter()
            .flat_map(|p| p.threads.iter().map(|t| t.tid))
            .collect(),
        other_processes: data
            .processes
            .iter()
            .filter(|p| !members.contains(&p.pid))
            .count() as u32,
    })
}

fn identify_by_cpu(data: &SamplerData) -> Option<Workers> {
    let proc_cpu: Vec<(i32, f64)> = data
        .processes
        .iter()
        .map(|p| (p.pid, p.threads.iter().map(|t| t.on_cpu_s).sum::<f64>()))
        .collect();
    let total: f64 = proc_cpu.iter().map(|(_, c)| c).sum();
    let max = proc_cpu.iter().map(|(_, c)| *c).fold(0.0, f64::max);
    if total <= 0.0 {
        return None;
    }
    let busy =
        |cpu: f64, max: f64| cpu >= BUSY_SHARE_OF_MAX * max && cpu >= BUSY_SHARE_OF_TOTAL * total;
    let mut busy_procs: Vec<(i32, f64)> = proc_cpu
        .iter()
        .copied()
        .filter(|&(_, c)| busy(c, max))
        .collect();
    busy_procs.sort_by(|a, b| b.1.total_cmp(&a.1));
    // A pool's parent hands out tasks: busy, but less than the workers it started.
    let parent_of = |pid: i32| data.processes.iter().find(|p| p.pid == pid).map(|p| p.ppid);
    let dispatchers: Vec<i32> = busy_procs
        .iter()
        .filter(|&&(pid, cpu)| {
            let children: Vec<f64> = busy_procs
                .iter()
                .filter(|(c, _)| parent_of(*c) == Some(pid))
                .map(|(_, cpu)| *cpu)
                .collect();
            !children.is_empty() && cpu < DISPATCHER_SHARE_OF_CHILDREN * median(&children)
        })
        .map(|(pid, _)| *pid)
        .collect();
    busy_procs.retain(|(pid, _)| !dispatchers.contains(pid));
    let other_processes = (data.processes.len() - busy_procs.len()) as u32;

    if busy_procs.len() >= 2 {
        let tids = busy_procs
            .iter()
            .filter_map(|(pid, _)| {
                let p = data.processes.iter().find(|p| p.pid == *pid)?;
                p.threads
                    .iter()
                    .max_by(|a, b| a.on_cpu_s.total_cmp(&b.on_cpu_s))
                    .map(|t| t.tid)
            })
            .collect();
        return Some(Workers {
            layout: Layout::Processes,
            count: busy_procs.len() as u32,
            cpu_s: busy_procs.iter().map(|(_, c)| *c).collect(),
            pids: busy_procs.iter().map(|(p, _)| *p).collect(),
            tids,
            other_processes,
        });
    }
    // One busy process: are its threads the workers?
    // No busy process at all: a fork storm of equal sleepers, where nothing stands out.
    let top_pid = busy_procs.first()?.0;
    let top = data.processes.iter().find(|p| p.pid == top_pid)?;
    let max_thread = top.threads.iter().map(|t| t.on_cpu_s).fold(0.0, f64::max);
    let mut threads: Vec<(i32, f64)> = top
        .threads
        .iter()
        .filter(|t| busy(t.on_cpu_s, max_thread))
        .map(|t| (t.tid, t.on_cpu_s))
        .collect();
    threads.sort_by(|a, b| b.1.total_cmp(&a.1));
    // The main thread that submits work to a thread pool is not a worker, unless it works as
    // hard as the others (OpenMP-style main threads do).
    let others: Vec<f64> = threads
        .iter()
        .filter(|(t, _)| *t != top.pid)
        .map(|(_, c)| *c)
        .collect();
    if others.len() >= 2 {
        let m = median(&others);
        threads.retain(|&(t, c)| t != top.pid || c >= 0.5 * m);
    }
    Some(Workers {
        layout: if threads.len() >= 2 {
            Layout::Threads
        } else {
            Layout::Single
        },
        count: threads.len().max(1) as u32,
        cpu_s: threads.iter().map(|(_, c)| *c).collect(),
        pids: vec![top.pid; threads.len()],
        tids: threads.iter().map(|(t, _)| *t).collect(),
        other_processes,
    })
}

fn median(values: &[f64]) -> f64 {
    super::stats::median(values).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{ProcessRecord, ThreadRecord};

    fn proc(pid: i32, comm: &str, thread_cpu: &[f64]) -> ProcessRecord {
        ProcessRecord {
            pid,
            ppid: if pid > 1 && pid < 1000 { 1 } else { 0 },
            comm: comm.into(),
            threads: thread_cpu
                .iter()
                .enumerate()
                .map(|(i, &c)| ThreadRecord {
                    tid: if i == 0 { pid } else { pid * 100 + i as i32 },
                    on_cpu_s: c,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_pool_of_processes_behind_a_launcher_shim_has_its_busy_processes_as_workers() {
        let mut processes: Vec<ProcessRecord> =
            (0..40).map(|i| proc(1000 + i, "bash", &[0.003])).collect();
        processes.push(proc(1, "python3", &[0.05]));
        processes.push(proc(2, "python3", &[2.0]));
        processes.push(proc(3, "python3", &[1.9]));
        let w = identify_by_cpu(&SamplerData {
            processes,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(w.layout, Layout::Processes);
        assert_eq!(w.count, 2);
        assert_eq!(w.pids, vec![2, 3]);
        assert_eq!(w.other_processes, 41);
    }

    #[test]
    fn a_pool_parent_that_only_dispatches_is_not_a_worker_even_when_workers_get_little_each() {
        // 4 workers with 0.35 s each; the parent spent 0.14 s importing and dispatching.
        let mut processes = vec![proc(1, "python3", &[0.14])];
        processes.extend((2..6).map(|pid| proc(pid, "python3", &[0.35])));
        processes.push(proc(6, "python3", &[0.08])); // a straggler with less work is still a worker
        let w = identify_by_cpu(&SamplerData {
            processes,
            ..Default::default()
        })
        .unwrap();
        assert_eq!((w.layout, w.count), (Layout::Processes, 5));
        assert!(!w.pids.contains(&1));
    }

    #[test]
    fn a_pool_of_one_worker_is_a_single_worker_not_two_processes() {
        let processes = vec![proc(1, "python3", &[0.125]), proc(2, "python3", &[1.35])];
        let w = identify_by_cpu(&SamplerData {
            processes,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (w.layout, w.count, w.pids.clone()),
            (Layout::Single, 1, vec![2])
        );
    }

    #[test]
    fn a_parent_that_pickles_for_its_one_worker_is_still_not_a_worker() {
        // Lab 02 at one worker: the parent pickles the payloads and is busy, but it dispatches.
        let processes = vec![proc(1, "python3", &[0.6]), proc(2, "python3", &[0.9])];
        let data = SamplerData {
            processes,
            ..Default::default()
        };
        let w = identify(&data, 1).unwrap();
        assert_eq!(
            (w.layout, w.count, w.pids.clone()),
            (Layout::Single, 1, vec![2])
        );
    }

    #[test]
    fn a_main_thread_that_submits_work_is_not_a_worker_but_one_that_computes_is() {
        let pool = vec![proc(1, "python3", &[0.12, 0.32, 0.31, 0.30, 0.33])];
        let w = identify_by_cpu(&SamplerData {
            processes: pool,
            ..Default::default()
        })
        .unwrap();
        assert_eq!((w.layout, w.count), (Layout::Threads, 4));
        let openmp = vec![proc(1, "solver", &[1.0, 1.0, 0.98, 1.01])];
        let w = identify_by_cpu(&SamplerData {
            processes: openmp,
            ..Default::default()
        })
        .unwrap();
        assert_eq!((w.layout, w.count), (Layout::Threads, 4));
    }

    #[test]
    fn a_pool_that_mostly_waits_is_found_by_its_shape_when_cpu_cannot_tell() {
        // The parent spent more CPU importing than the two waiting workers did in total.
        let mut parent = proc(1, "python3", &[0.20, 0.01]);
        (parent.first_seen_s, parent.last_seen_s) = (0.0, 2.0);
        let mut processes = vec![parent];
        for pid in [2, 3] {
            let mut w = proc(pid, "python3", &[0.03]);
            (w.first_seen_s, w.last_seen_s) = (0.1, 1.9);
            processes.push(w);
        }
        let data = SamplerData {
            processes,
            ..Default::default()
        };
        let w = identify(&data, 2).unwrap();
        assert_eq!(
            (w.layout, w.count, w.pids.clone()),
            (Layout::Processes, 2, vec![2, 3])
        );
        assert_eq!(
            identify(&data, 1).unwrap().count,
            3,
            "one requested: the CPU view stands"
        );
    }

    #[test]
    fn a_waiting_pool_whose_parent_outworks_one_member_is_still_found_by_its_shape() {
        // By CPU, the parent and one worker look like a pool of two; the other worker idled.
        let mut parent = proc(1, "python3", &[0.20]);
        (parent.first_seen_s, parent.last_seen_s) = (0.0, 2.0);
        let mut processes = vec![parent];
        for (pid, cpu) in [(2, 0.03), (3, 0.001)] {
            let mut w = proc(pid, "python3", &[cpu]);
            (w.first_seen_s, w.last_seen_s) = (0.1, 1.9);
            processes.push(w);
        }
        let w = identify(
            &SamplerData {
                processes,
                ..Default::default()
            },
            2,
        )
        .unwrap();
        assert_eq!((w.layout, w.pids.clone()), (Layout::Processes, vec![2, 3]));
    }

    #[test]
    fn threads_sharing_one_process_are_the_workers() {
        let processes = vec![
            proc(1, "python3", &[0.01, 1.0, 0.9, 1.1, 0.95]),
            proc(7, "bash", &[0.002]),
        ];
        let w = identify_by_cpu(&SamplerData {
            processes,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(w.layout, Layout::Threads);
        assert_eq!(w.count, 4);
    }

    #[test]
    fn one_busy_task_is_a_single_worker_and_an_idle_tree_has_none() {
        let w = identify_by_cpu(&SamplerData {
            processes: vec![proc(1, "gzip", &[3.0])],
            ..Default::default()
        })
        .unwrap();
        assert_eq!((w.layout, w.count), (Layout::Single, 1));
        assert!(identify_by_cpu(&SamplerData {
            processes: vec![proc(1, "sleep", &[0.0])],
            ..Default::default()
        })
        .is_none());
    }
}
