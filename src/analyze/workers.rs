//! Which tasks of a tree were the workers, judged by what they did (CPU used), not by being
//! children: launchers such as the pyenv shell shim add dozens of short processes that are not
//! workers, and a pool's parent that only hands out tasks is not one either.
//!
//! Three shapes: a pool of long-lived processes, a pool of threads in one process, and
//! process-per-task tools (`make -j N`, `xargs -P N`, a shell loop of `cmd &` and `wait`),
//! which have no long-lived workers at all: N slots, each running one short process after
//! another. Their tasks are those processes, and the driver (make, xargs, sh) is not a worker.

use super::engines::{is_engine_service, is_engine_worker_role, is_pool_worker_role};
use super::record::accounted_life_s;
use crate::measure::probes::ProbeData;
use crate::measure::{ProcessRecord, ResourceKind, SamplerData, ThreadRecord};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

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
    /// Process per task: short-lived processes run in slots, one after another (make -j,
    /// xargs -P, a shell loop of `cmd &` and `wait`); `count` is the slots.
    Tasks,
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
    /// For `Layout::Tasks`: each task process's duration (its observed life), seconds, in the
    /// order they started.
    #[serde(default)]
    pub task_s: Vec<f64>,
}

/// Finds the workers of a run that asked for `requested` workers; None when the sampler saw
/// no CPU use at all, or no process used enough of it to stand out.
///
/// CPU use decides first. When it finds another count than requested (a workload that mostly
/// waits gives its workers little CPU, less than the parent spent importing), a group of
/// exactly `requested` sibling processes with one name is taken as the pool instead.
pub fn identify(data: &SamplerData, requested: u32) -> Option<Workers> {
    identify_with(data, requested, &PoolClues::default())
}

/// What the python probe knew of a run's pool: the processes that ran its tasks, and when each
/// began its first one, in seconds on the sampler's timeline (None where the clocks could not
/// be lined up).
#[derive(Debug, Clone, Default)]
pub struct PoolClues {
    pub first_task_s: BTreeMap<i32, Option<f64>>,
    /// The pool is an engine's (joblib's loky, Dask, Ray), and each of its processes ran several
    /// tasks: an engine keeps its workers for the session and starts and retires them as it
    /// pleases (Ray lends a blocked task's slot to another process and kills workers idle past
    /// a second beyond num_cpus), so their lives need not overlap, and they are still no
    /// process-per-task tool's one-task processes.
    pub engine_reused: bool,
}

impl PoolClues {
    pub fn from_probe(probes: Option<&ProbeData>, data: &SamplerData) -> Self {
        let Some(py) = probes.and_then(|p| p.python.as_ref()) else {
            return Self::default();
        };
        let first_task_s = py
            .processes
            .iter()
            .filter(|p| is_pool_worker_role(&p.role))
            .filter(|p| p.tasks > 0)
            .map(|p| {
                let at = data
                    .t0_monotonic_ns
                    .zip(p.first_task_at_ns)
                    .map(|(t0, f)| (f as f64 - t0 as f64) / 1e9);
                (p.pid, at)
            })
            .collect();
        let pool: Vec<_> = py
            .processes
            .iter()
            .filter(|p| is_pool_worker_role(&p.role) && p.tasks > 0)
            .collect();
        let engine_reused = !pool.is_empty()
            && pool
                .iter()
                .all(|p| is_engine_worker_role(&p.role) && p.tasks >= 2);
        Self {
            first_task_s,
            engine_reused,
        }
    }

    /// Seconds on the timeline at which process `pid` began its first pool task.
    pub fn first_task(&self, pid: i32) -> Option<f64> {
        self.first_task_s.get(&pid).copied().flatten()
    }
}

/// As `identify`, told by the python probe which processes ran the pool's tasks: a parent
/// that renders the data before handing it out can out-work its one worker, and a worker's own
/// helper (a resource tracker it started) is not another one.
pub fn identify_with(data: &SamplerData, requested: u32, clues: &PoolClues) -> Option<Workers> {
    if let Some(tasks) = process_per_task(data).filter(|_| !clues.engine_reused) {
        return Some(tasks);
    }
    if let Some(pool) = probe_pool(data, clues) {
        return Some(fill_slots(pool, requested));
    }
    let by_cpu = identify_by_cpu(data)?;
    if let Some(children) = waited_on_children(data, &by_cpu, requested) {
        return Some(children);
    }
    let ppid: HashMap<i32, i32> = data.processes.iter().map(|p| (p.pid, p.ppid)).collect();
    let parent_of = |pid: i32| ppid.get(&pid).copied();
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

/// The pool workers the python probe named, when they lived together (a pool in turn is a
/// process-per-task shape) and did a busy process's share of the work.
fn probe_pool(data: &SamplerData, clues: &PoolClues) -> Option<Workers> {
    let cpu = |p: &ProcessRecord| p.threads.iter().map(|t| t.on_cpu_s).sum::<f64>();
    let mut pool: Vec<&ProcessRecord> = data
        .processes
        .iter()
        .filter(|p| clues.first_task_s.contains_key(&p.pid))
        .collect();
    let max = data.processes.iter().map(cpu).fold(0.0, f64::max);
    let pool_cpu: f64 = pool.iter().map(|p| cpu(p)).sum();
    if pool.is_empty()
        || (most_alive_at_once(&pool) < pool.len() && !clues.engine_reused)
        || pool_cpu < BUSY_SHARE_OF_MAX * max
    {
        return None;
    }
    // One process whose threads ran the tasks (a Dask worker with threads_per_worker=N): its
    // threads are the workers, which the CPU reading finds.
    if let [one] = pool.as_slice() {
        let busiest = one.threads.iter().map(|t| t.on_cpu_s).fold(0.0, f64::max);
        let busy = one.threads.iter().filter(|t| t.on_cpu_s >= 0.5 * busiest);
        if busiest > 0.0 && busy.count() >= 2 {
            return None;
        }
    }
    pool.sort_by(|a, b| cpu(b).total_cmp(&cpu(a)));
    let count = pool.len() as u32;
    Some(Workers {
        layout: if count >= 2 {
            Layout::Processes
        } else {
            Layout::Single
        },
        count,
        cpu_s: pool.iter().map(|p| cpu(p)).collect(),
        pids: pool.iter().map(|p| p.pid).collect(),
        // The busiest thread of each: the GIL knocker and a BLAS pool's idle threads are not
        // the work.
        tids: pool
            .iter()
            .filter_map(|p| {
                p.threads
                    .iter()
                    .max_by(|a, b| a.on_cpu_s.total_cmp(&b.on_cpu_s))
                    .map(|t| t.tid)
            })
            .collect(),
        other_processes: (data.processes.len() - pool.len()) as u32,
        task_s: Vec::new(),
    })
}

/// The `requested` busiest of a probed pool, when more processes than that ran its tasks: Ray
/// lends the CPU slot of a task that blocks (a `ray.get` of an actor's reply) to another
/// worker process, which then runs tasks in that slot while the first waits, and idles once
/// the first takes the slot back (lab 10 `--mode actor` at `num_cpus=1`: a second process ran
/// 3 of the 32 tasks, then waited for work). The slots are the requested count; the
/// accounting fills them with the workers that worked most, and so does this.
fn fill_slots(pool: Workers, requested: u32) -> Workers {
    let mut w = pool;
    while requested >= 1 && w.count > requested {
        let Some(&least) = w.pids.last() else {
            break;
        };
        w = without(w, least);
    }
    w
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
        task_s: Vec::new(),
    }
}

/// The tasks of a process-per-task tool, when the tree is one.
///
/// The work is done by leaf processes (a driver, a shell or a pool's parent has children). The
/// leaves with one name that did most of the tree's CPU are the tasks: a compiler under make, a
/// compressor under xargs. A pool's workers all live at once; tasks succeed each other in
/// slots, so more of them ran than were ever alive together, and the most alive together is
/// the slot count.
fn process_per_task(data: &SamplerData) -> Option<Workers> {
    let parents: HashSet<i32> = data.processes.iter().map(|p| p.ppid).collect();
    let cpu = |p: &ProcessRecord| p.threads.iter().map(|t| t.on_cpu_s).sum::<f64>();
    let total: f64 = data.processes.iter().map(cpu).sum();
    if total <= 0.0 {
        return None;
    }
    // The target itself (seen first) drives whatever it starts; it is never one of the tasks.
    let root = data
        .processes
        .iter()
        .min_by(|a, b| a.first_seen_s.total_cmp(&b.first_seen_s))
        .map(|p| p.pid);
    // The tasks are one tool's, of one name: a subshell the script forked beside the tool (the
    // left side of a pipe into xargs) has the tasks' name but is not one of them. A task's tool
    // is its nearest ancestor with other children too: a shell that only wraps one command
    // (make's `sh -c` for a recipe) is part of that task.
    let mut children: HashMap<i32, u32> = HashMap::new();
    for p in &data.processes {
        *children.entry(p.ppid).or_default() += 1;
    }
    let parent_of: HashMap<i32, i32> = data.processes.iter().map(|p| (p.pid, p.ppid)).collect();
    let tool = |p: &ProcessRecord| {
        let mut at = p.ppid;
        for _ in 0..data.processes.len() {
            match parent_of.get(&at) {
                Some(&up) if children.get(&at) == Some(&1) => at = up,
                _ => break,
            }
        }
        at
    };
    let mut groups: HashMap<(&str, i32), (f64, Vec<&ProcessRecord>)> = HashMap::new();
    for p in data
        .processes
        .iter()
        .filter(|p| !parents.contains(&p.pid) && Some(p.pid) != root)
    {
        let g = groups.entry((p.comm.as_str(), tool(p))).or_default();
        g.0 += cpu(p);
        g.1.push(p);
    }
    let (group_cpu, tasks) = groups.into_values().max_by(|a, b| a.0.total_cmp(&b.0))?;
    // A helper that lives beside the tasks (multiprocessing's resource tracker, a logger)
    // does little of the work and is alive through all of them: it waits beside them.
    let mean = group_cpu / tasks.len() as f64;
    let first = tasks
        .iter()
        .map(|p| p.first_seen_s)
        .fold(f64::MAX, f64::min);
    let last = tasks.iter().map(|p| p.last_seen_s).fold(f64::MIN, f64::max);
    let others_span = |me: i32| {
        let others = tasks.iter().filter(|p| p.pid != me);
        let a = others
            .clone()
            .map(|p| p.first_seen_s)
            .fold(f64::MAX, f64::min);
        let b = others.map(|p| p.last_seen_s).fold(f64::MIN, f64::max);
        (a, b)
    };
    let beside = |p: &ProcessRecord| {
        let (a, b) = others_span(p.pid);
        cpu(p) < mean && p.first_seen_s <= a && p.last_seen_s >= b
    };
    let helpers: Vec<i32> = tasks
        .iter()
        .filter(|p| (p.first_seen_s, p.last_seen_s) == (first, last) && beside(p))
        .map(|p| p.pid)
        .collect();
    // Every task process of the tool is a task, however small: when one batch holds most of
    // the work, the others are a sliver of the mean, and they are what shows the slots idle
    // behind it (fixtures/workloads/xargs_few.sh). A process that never ran did no task.
    let tasks: Vec<&ProcessRecord> = tasks
        .into_iter()
        .filter(|p| cpu(p) > 0.0 && !helpers.contains(&p.pid))
        .collect();
    let slots = most_alive_at_once(&tasks);
    // Most of the work while the tasks ran, and tasks that followed each other. A driver's CPU
    // before the first task (a parent importing numpy and filling 256 MB, then starting a fresh
    // pool per batch) is its set-up, not work beside the tasks.
    let task_threads: Vec<&ThreadRecord> = tasks.iter().flat_map(|p| p.threads.iter()).collect();
    let mostly_tasks = match busy_window(&task_threads) {
        Some((a, b)) => {
            let during = |p: &&ProcessRecord| busy_between(p, a, b);
            2.0 * tasks.iter().map(during).sum::<f64>()
                >= data
                    .processes
                    .iter()
                    .map(|p| busy_between(p, a, b))
                    .sum::<f64>()
        }
        None => group_cpu * 2.0 >= total,
    };
    if !mostly_tasks || tasks.len() <= slots || tasks.len() < 2 {
        return None;
    }
    let mut tasks = tasks;
    tasks.sort_by(|a, b| cpu(b).total_cmp(&cpu(a)));
    // In the order they started (make and xargs fill slots in command order): the replay
    // deals them so.
    let mut started: Vec<&&ProcessRecord> = tasks.iter().collect();
    started.sort_by(|a, b| a.first_seen_s.total_cmp(&b.first_seen_s));
    let task_s = started
        .iter()
        .map(|p| {
            p.threads
                .iter()
                .map(accounted_life_s)
                .fold(p.last_seen_s - p.first_seen_s, f64::max)
        })
        .collect();
    Some(Workers {
        layout: Layout::Tasks,
        count: slots as u32,
        cpu_s: tasks.iter().map(|p| cpu(p)).collect(),
        pids: tasks.iter().map(|p| p.pid).collect(),
        // Each task's busiest thread, as for a pool of processes: a task's idle helper
        // threads (a BLAS pool waiting on its futex) are not its work.
        tids: tasks
            .iter()
            .filter_map(|p| {
                p.threads
                    .iter()
                    .max_by(|a, b| a.on_cpu_s.total_cmp(&b.on_cpu_s))
                    .map(|t| t.tid)
            })
            .collect(),
        other_processes: (data.processes.len() - tasks.len()) as u32,
        task_s,
    })
}

/// The most processes alive at one instant, from their first and last sightings (a process
/// last seen at the tick another was first seen at was alive with it then).
fn most_alive_at_once(procs: &[&ProcessRecord]) -> usize {
    let mut events: Vec<(f64, i32)> = procs
        .iter()
        .flat_map(|p| [(p.first_seen_s, 1), (p.last_seen_s.max(p.first_seen_s), -1)])
        .collect();
    // Starts before ends at the same instant.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    let (mut alive, mut most) = (0i32, 0i32);
    for (_, d) in events {
        alive += d;
        most = most.max(alive);
    }
    most.max(0) as usize
}

/// The children a lone busy thread waited on, when that thread spent most of its life waiting
/// for them to exit (the launcher of `multiprocessing.Process` workers, a shell running one
/// command): its CPU went to setting up (imports, forking), and the `requested` children it
/// waited on are the workers, however little they computed (clients of a slow service).
fn waited_on_children(data: &SamplerData, by_cpu: &Workers, requested: u32) -> Option<Workers> {
    if by_cpu.layout != Layout::Single {
        return None;
    }
    let (&pid, &tid) = by_cpu.pids.first().zip(by_cpu.tids.first())?;
    let t = data
        .processes
        .iter()
        .find(|p| p.pid == pid)?
        .threads
        .iter()
        .find(|t| t.tid == tid)?;
    let ticks: u32 = t.waits.iter().map(|w| w.ticks).sum();
    let on_children: u32 = t
        .waits
        .iter()
        .filter(|w| w.kind == ResourceKind::Wait)
        .map(|w| w.ticks)
        .sum();
    let life = accounted_life_s(t);
    let off = (life - t.on_cpu_s - t.runqueue_s).max(0.0);
    let waited = if ticks == 0 {
        0.0
    } else {
        off * f64::from(on_children) / f64::from(ticks)
    };
    if life <= 0.0 || waited <= 0.5 * life {
        return None;
    }
    sibling_pool_of(data, requested, Some(pid))
}

/// `requested` processes that share a parent and a name, each living most of the run.
fn sibling_pool(data: &SamplerData, requested: u32) -> Option<Workers> {
    sibling_pool_of(data, requested, None)
}

/// As [`sibling_pool`], among the children of `parent` only when given.
fn sibling_pool_of(data: &SamplerData, requested: u32, parent: Option<i32>) -> Option<Workers> {
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
    for p in data
        .processes
        .iter()
        .filter(long_lived)
        .filter(|p| parent.is_none_or(|pp| p.ppid == pp))
    {
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
        layout: if requested >= 2 {
            Layout::Processes
        } else {
            Layout::Single
        },
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
        task_s: Vec::new(),
    })
}

fn identify_by_cpu(data: &SamplerData) -> Option<Workers> {
    let proc_cpu: Vec<(i32, f64)> = data
        .processes
        .iter()
        .filter(|p| !is_engine_service(p))
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
    let ppid: HashMap<i32, i32> = data.processes.iter().map(|p| (p.pid, p.ppid)).collect();
    let parent_of = |pid: i32| ppid.get(&pid).copied();
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
            task_s: Vec::new(),
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
    // The main thread that submits work to a thread pool and waits on its futures is not a
    // worker, at any pool size, unless it works as hard as the others (OpenMP-style main
    // threads take a share of the loop).
    let others: Vec<f64> = threads
        .iter()
        .filter(|(t, _)| *t != top.pid)
        .map(|(_, c)| *c)
        .collect();
    if !others.is_empty() {
        // Compared while the pool runs: before it the main thread imports and sets up, which
        // in a short run can cost as much CPU as one pool thread's whole work.
        let pool: Vec<&ThreadRecord> = top
            .threads
            .iter()
            .filter(|t| t.tid != top.pid && threads.iter().any(|(tid, _)| *tid == t.tid))
            .collect();
        let main = top.threads.iter().find(|t| t.tid == top.pid);
        let window = busy_window(&pool);
        let works = match (main, window) {
            (Some(m), Some((a, b))) => {
                let pool_busy: Vec<f64> = pool.iter().map(|t| mean_busy(t, a, b)).collect();
                mean_busy(m, a, b) >= 0.5 * median(&pool_busy)
            }
            _ => {
                let m = median(&others);
                threads.iter().any(|&(t, c)| t == top.pid && c >= 0.5 * m)
            }
        };
        if !works {
            threads.retain(|&(t, _)| t != top.pid);
        }
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
        task_s: Vec::new(),
    })
}

/// The ticks from the first to the last at which any of `threads` had a busy sample.
fn busy_window(threads: &[&ThreadRecord]) -> Option<(usize, usize)> {
    let spans: Vec<(usize, usize)> = threads
        .iter()
        .filter(|t| !t.busy.is_empty())
        .map(|t| {
            (
                t.first_tick as usize,
                t.first_tick as usize + t.busy.len() - 1,
            )
        })
        .collect();
    let a = spans.iter().map(|s| s.0).min()?;
    let b = spans.iter().map(|s| s.1).max()?;
    Some((a, b))
}

/// A thread's mean cores used over ticks `a..=b` (0 where it was not alive). Only the ticks it
/// has samples for are visited: a fork storm of short processes in a long window would
/// otherwise cost processes x window.
fn mean_busy(t: &ThreadRecord, a: usize, b: usize) -> f64 {
    let ft = t.first_tick as usize;
    let from = a.saturating_sub(ft);
    let to = (b + 1).saturating_sub(ft).min(t.busy.len());
    let sum: f64 = t
        .busy
        .get(from..to)
        .map_or(0.0, |s| s.iter().map(|&x| f64::from(x)).sum());
    sum / (b - a + 1) as f64
}

/// Cores-times-ticks process `p` used over ticks `a..=b`, from its threads' per-tick samples.
fn busy_between(p: &ProcessRecord, a: usize, b: usize) -> f64 {
    p.threads
        .iter()
        .map(|t| mean_busy(t, a, b) * (b - a + 1) as f64)
        .sum()
}

fn median(values: &[f64]) -> f64 {
    super::stats::median(values).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{ProcessRecord, ThreadRecord, WaitCount};

    #[test]
    fn mean_busy_counts_only_the_ticks_a_thread_was_alive_in_the_window() {
        let t = ThreadRecord {
            first_tick: 5,
            busy: vec![1.0, 2.0, 3.0],
            ..Default::default()
        };
        let close = |x: f64, y: f64| (x - y).abs() < 1e-12;
        assert!(close(mean_busy(&t, 0, 6), 3.0 / 7.0));
        assert!(close(mean_busy(&t, 6, 100), 5.0 / 95.0));
        assert!(close(mean_busy(&t, 0, 4), 0.0));
        assert!(close(mean_busy(&t, 8, 9), 0.0));
        assert!(close(mean_busy(&t, 5, 7), 2.0));
    }

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
    fn more_probed_task_processes_than_slots_fill_the_slots_by_cpu() {
        // Ray at num_cpus=2 lent a blocked task's slot to a third process: it ran one task.
        let processes: Vec<ProcessRecord> = [(1, 0.3), (2, 1.0), (3, 0.2), (4, 1.1), (5, 2.0)]
            .iter()
            .map(|&(pid, cpu)| ProcessRecord {
                first_seen_s: 0.0,
                last_seen_s: 10.0,
                ..proc(pid, "ray::IDLE", &[cpu])
            })
            .collect();
        // Process 5 is the actor: no pool task of its own.
        let mut clues = PoolClues {
            first_task_s: [(2, Some(1.0)), (3, Some(1.0)), (4, Some(1.5))].into(),
            engine_reused: false,
        };
        let data = SamplerData {
            processes,
            ..Default::default()
        };
        let w = identify_with(&data, 2, &clues).unwrap();
        assert_eq!(
            (w.layout, w.count, w.pids.clone()),
            (Layout::Processes, 2, vec![4, 2])
        );
        assert_eq!(w.other_processes, 3);
        let all = identify_with(&data, 3, &clues).unwrap();
        assert_eq!(all.count, 3, "as many as asked for: all of them");
        // Ray retired the lent process once idle: the lives no longer overlap, and the pool is
        // still the engine's, not one process per task.
        let mut data = data;
        data.processes[2].last_seen_s = 0.5;
        clues.engine_reused = true;
        let w = identify_with(&data, 2, &clues).unwrap();
        assert_eq!((w.layout, w.pids), (Layout::Processes, vec![4, 2]));
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

    /// A process of `comm` under `ppid`, alive from `from_s` to `to_s`, on a CPU `cpu_s`.
    fn task(pid: i32, ppid: i32, comm: &str, from_s: f64, to_s: f64, cpu_s: f64) -> ProcessRecord {
        let mut p = proc(pid, comm, &[cpu_s]);
        p.ppid = ppid;
        (p.first_seen_s, p.last_seen_s) = (from_s, to_s);
        p.threads[0].first_seen_s = from_s;
        p.threads[0].last_seen_s = to_s;
        p
    }

    #[test]
    fn a_make_with_two_slots_has_its_compilers_as_tasks_and_make_is_not_a_worker() {
        // make (pid 1) runs sh (2..) which runs cc1 (10..): two at a time, one long unit.
        let mut processes = vec![task(1, 0, "make", 0.0, 3.0, 0.02)];
        let units = [
            (0.0, 2.8),
            (0.0, 0.4),
            (0.41, 0.8),
            (0.81, 1.2),
            (1.21, 1.6),
        ];
        for (i, &(a, b)) in units.iter().enumerate() {
            let i = i as i32;
            processes.push(task(2 + i, 1, "sh", a, b, 0.001));
            processes.push(task(10 + i, 2 + i, "cc1", a, b, b - a));
        }
        let w = identify(
            &SamplerData {
                processes,
                ..Default::default()
            },
            2,
        )
        .unwrap();
        assert_eq!((w.layout, w.count), (Layout::Tasks, 2));
        assert_eq!(w.pids.len(), 5, "every compiler is a task: {:?}", w.pids);
        assert!(w.pids.iter().all(|&p| p >= 10));
        assert_eq!(w.other_processes, 6, "make and its shells");
        assert!((w.task_s[0] - 2.8).abs() < 1e-9, "{:?}", w.task_s);
    }

    #[test]
    fn a_pool_whose_workers_live_together_is_not_a_process_per_task_tool() {
        let mut processes = vec![task(1, 0, "python3", 0.0, 3.0, 0.1)];
        processes.extend((2..4).map(|pid| task(pid, 1, "python3", 0.1, 2.9, 2.5)));
        let w = identify(
            &SamplerData {
                processes,
                ..Default::default()
            },
            2,
        )
        .unwrap();
        assert_eq!((w.layout, w.count), (Layout::Processes, 2));
    }

    #[test]
    fn a_thread_pool_of_one_is_its_one_thread_not_the_main_thread_waiting_on_it() {
        // ThreadPoolExecutor(1): main imported and submitted (0.12 s), then waited on futures.
        let w = identify(
            &SamplerData {
                processes: vec![proc(1, "python3", &[0.12, 1.3])],
                ..Default::default()
            },
            1,
        )
        .unwrap();
        assert_eq!(
            (w.layout, w.count, w.tids.clone()),
            (Layout::Single, 1, vec![101])
        );
    }

    #[test]
    fn thousands_of_short_processes_and_a_tree_of_dispatchers_do_not_panic() {
        // A fork storm: 4000 processes, each a parent of the next, none busier than the last.
        let processes: Vec<ProcessRecord> = (1..=4000)
            .map(|pid| task(pid, pid - 1, "sh", f64::from(pid) * 1e-3, 5.0, 0.01))
            .collect();
        let data = SamplerData {
            processes,
            ..Default::default()
        };
        let _ = identify(&data, 512);
        // Every busy process a dispatcher of a busier child: none is left as a worker.
        let chain: Vec<ProcessRecord> = (1..=3)
            .map(|pid| task(pid, pid - 1, "sh", 0.0, 1.0, f64::from(pid).powi(3)))
            .collect();
        let _ = identify(
            &SamplerData {
                processes: chain,
                ..Default::default()
            },
            2,
        );
    }

    #[test]
    fn a_main_thread_that_spent_its_cpu_before_the_pool_started_is_not_a_worker() {
        // Ticks 0-9: main imports (busy); ticks 10-19: the one pool thread works, main waits.
        let mut p = proc(1, "python3", &[0.1, 0.1]);
        p.threads[0].busy = [vec![1.0; 10], vec![0.0; 10]].concat();
        p.threads[1].first_tick = 10;
        p.threads[1].busy = vec![1.0; 10];
        let w = identify(
            &SamplerData {
                processes: vec![p],
                ..Default::default()
            },
            1,
        )
        .unwrap();
        assert_eq!((w.layout, w.tids.clone()), (Layout::Single, vec![101]));
    }

    #[test]
    fn fresh_pools_in_turn_are_one_slot_and_their_resource_tracker_is_not_a_task() {
        // A new Pool(1) per batch: four workers one after another, and the resource tracker
        // alive beside all of them with little CPU.
        let mut processes = vec![
            task(1, 0, "python3", 0.0, 8.0, 0.9),
            task(2, 1, "python3", 3.0, 8.0, 0.04),
        ];
        for (i, a) in [3.2, 4.7, 5.7, 6.7].into_iter().enumerate() {
            processes.push(task(10 + i as i32, 1, "python3", a, a + 0.9, 0.28));
        }
        let w = identify(
            &SamplerData {
                processes,
                ..Default::default()
            },
            1,
        )
        .unwrap();
        assert_eq!((w.layout, w.count), (Layout::Tasks, 1));
        assert!(!w.pids.contains(&2), "{:?}", w.pids);
    }

    #[test]
    fn a_few_tasks_with_one_holding_most_of_the_work_are_all_tasks() {
        // xargs -P 2 over five batches: one burns 4 s, four burn 0.1 s each beside it.
        // The script's subshell feeding the pipe into xargs is no task.
        let mut processes = vec![
            task(1, 0, "sh", 0.0, 4.2, 0.01),
            task(2, 1, "xargs", 0.0, 4.2, 0.01),
            task(3, 1, "sh", 0.0, 0.01, 0.001),
            task(10, 2, "sh", 0.05, 4.05, 4.0),
        ];
        for i in 0..4 {
            let a = 0.05 + 0.11 * f64::from(i);
            processes.push(task(11 + i, 2, "sh", a, a + 0.1, 0.1));
        }
        let w = identify(
            &SamplerData {
                processes,
                ..Default::default()
            },
            2,
        )
        .unwrap();
        assert_eq!((w.layout, w.count), (Layout::Tasks, 2), "{:?}", w.pids);
        assert_eq!(w.task_s.len(), 5, "the small batches are tasks too");
    }

    #[test]
    fn a_launcher_that_waits_on_its_one_child_is_not_the_worker_however_idle_the_child() {
        // socket_wait.py at one worker, as measured on a loaded host: the parent imported and
        // forked (0.074 s of CPU, then blocked in waitpid 47 of 47 ticks); its server threads
        // answered; the one client used 0.007 s, under a tenth of the parent's, waiting on
        // the service.
        let wait = |resource: &str, kind, ticks| WaitCount {
            resource: resource.into(),
            kind,
            syscall: "wait4".into(),
            ticks,
            ..Default::default()
        };
        let mut parent = task(1, 0, "python", 0.0, 1.70, 0.074);
        parent.threads[0].runqueue_s = 0.29;
        parent.threads[0].waits = vec![wait("child", ResourceKind::Wait, 47)];
        parent.threads.push(ThreadRecord {
            tid: 2,
            on_cpu_s: 0.003,
            first_seen_s: 0.4,
            last_seen_s: 1.7,
            waits: vec![wait("sleep", ResourceKind::Sleep, 43)],
            ..Default::default()
        });
        let mut client = task(3, 1, "python", 0.42, 1.69, 0.007);
        client.threads[0].waits = vec![wait("tcp:127.0.0.1:42559", ResourceKind::Tcp, 46)];
        let data = SamplerData {
            processes: vec![parent, client],
            ..Default::default()
        };
        assert_eq!(
            identify_by_cpu(&data).unwrap().tids,
            vec![1],
            "by CPU alone, the parent's main thread"
        );
        let w = identify(&data, 1).unwrap();
        assert_eq!(
            (w.layout, w.count, w.pids.clone(), w.tids.clone()),
            (Layout::Single, 1, vec![3], vec![3])
        );

        // A worker that only briefly waits on a helper it ran stays the worker.
        let mut brief = data.clone();
        brief.processes[0].threads[0].waits[0].ticks = 5;
        brief.processes[0].threads[0].waits.push(WaitCount {
            ticks: 42,
            ..wait("file:/data/in.csv", ResourceKind::File, 0)
        });
        assert_eq!(identify(&brief, 1).unwrap().pids, vec![1]);
    }

    /// A one-thread process alive over ticks `from..to`, using `busy` cores at each.
    fn ticking(pid: i32, ppid: i32, from: u32, busy: &[f32]) -> ProcessRecord {
        let cpu: f64 = busy.iter().map(|&b| f64::from(b) / 100.0).sum();
        let (a, b) = (
            f64::from(from) / 100.0,
            f64::from(from) / 100.0 + busy.len() as f64 / 100.0,
        );
        let mut p = task(pid, ppid, "python3", a, b, cpu);
        p.threads[0].first_tick = from;
        p.threads[0].busy = busy.to_vec();
        p
    }

    #[test]
    fn a_parent_that_set_up_before_its_fresh_pools_is_their_driver_not_their_worker() {
        // Lab 03 at one worker: the parent imports numpy and fills 256 MB for 1.2 s, then runs
        // four Pool(1)s in turn, each worker 0.12 s of CPU. Over the whole run the parent did
        // most of the CPU; while the pools ran it waited on their results.
        let mut parent = vec![1.0f32; 120];
        parent.extend([0.05f32; 60]);
        let mut processes = vec![ticking(1, 0, 0, &parent)];
        for i in 0..4u32 {
            processes.push(ticking(10 + i as i32, 1, 122 + 14 * i, &[0.95; 13]));
        }
        let w = identify(
            &SamplerData {
                processes,
                ..Default::default()
            },
            1,
        )
        .unwrap();
        assert_eq!((w.layout, w.count), (Layout::Tasks, 1), "{:?}", w.pids);
        assert_eq!(w.pids.len(), 4);
        // A parent that works while its children run stays the worker.
        let mut processes = vec![ticking(1, 0, 0, &[1.0; 180])];
        for i in 0..4u32 {
            processes.push(ticking(10 + i as i32, 1, 122 + 14 * i, &[0.95; 13]));
        }
        let w = identify(
            &SamplerData {
                processes,
                ..Default::default()
            },
            1,
        )
        .unwrap();
        assert_ne!(w.layout, Layout::Tasks, "{:?}", w.pids);
    }
}
