//! One run's worker-seconds, n x wall, each given to exactly one cause.
//!
//! A worker slot's wall time is cut at four instants: the worker's start, its first task, its
//! last moment of work, and the pool's last moment of work. Before the pool's first task (or the
//! worker's start, whichever is first) the driver works alone: `serial`. From there to the
//! worker's first task: `startup`. After its last work while others still work: `imbalance`.
//! After the pool's last work: `serial` again. Inside the worker's span of work, its on-CPU and
//! run-queue time are exact (schedstat or switch records) and its blocked time is split over
//! what the sampler caught it blocked on. A slot with no worker is idle: `serial` outside the
//! pool's span, `imbalance` inside it.
//!
//! Process-per-task tools (make -j, xargs -P) have no long-lived workers: each task process
//! fills a slot for its life, and slot time between tasks while others run is `imbalance`. A
//! pool worker that lives like one (a fresh pool per batch) spends its life's start, to its first
//! task, in `startup`.

use super::{AccountingSource, Cause};
use crate::analyze::actors::{self, ActorWaits};
use crate::analyze::ipc::{self, ProbeFigures};
use crate::analyze::waits::{self, SinkKind};
use crate::analyze::workers::{self, Layout, PoolClues, Workers};
use crate::measure::probes::PythonData;
use crate::measure::{ResourceKind, Run, SamplerData, Service, Source, ThreadRecord};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Without thread states, a worker counts as working over a tick when it used half a core
/// (the rule of `timeline::steady_state`).
const WORKER_BUSY_FRACTION: f32 = 0.5;

/// One run's accounting: worker-seconds per cause (`Cause::Useful` included), summing to
/// `slots x wall_s`.
#[derive(Debug, Clone, Default)]
pub struct RunAccount {
    pub wall_s: f64,
    pub slots: u32,
    pub seconds: BTreeMap<Cause, f64>,
    pub sources: BTreeSet<AccountingSource>,
}

impl RunAccount {
    /// Adds `s` seconds to `cause` (a negative `s` takes them back).
    fn add(&mut self, cause: Cause, s: f64) {
        if s != 0.0 && s.is_finite() {
            *self.seconds.entry(cause).or_default() += s;
        }
    }

    /// Worker-seconds given to `cause`.
    pub fn get(&self, cause: &Cause) -> f64 {
        self.seconds.get(cause).copied().unwrap_or(0.0)
    }
}

/// Accounts one run of a point that asked for `n` workers; None without the sampler's picture of
/// the workers, or without a wall time.
/// `own_dir` is forkcast's output folder (its files are not the workload's sinks).
pub fn account_run(run: &Run, n: u32, own_dir: Option<&str>) -> Option<RunAccount> {
    let data = run.sampled.as_ref()?;
    let wall = run.wall_s;
    if !(wall > 0.0 && wall.is_finite()) || n == 0 {
        return None;
    }
    let clues = PoolClues::from_probe(run.probes.as_ref(), data);
    let w = workers::identify_with(data, n, &clues)?;
    let python = run.probes.as_ref().and_then(|p| p.python.as_ref());
    let actors = actors::of(run.probes.as_ref());
    let probed_io = run.probes.as_ref().map(|p| ipc::figures(p, own_dir));
    let ctx = Context::new(data, &w, python, probed_io.as_ref(), &actors);
    let mut acc = RunAccount {
        wall_s: wall,
        slots: n,
        ..Default::default()
    };
    acc.sources.insert(match data.source {
        Some(Source::PerfSwitch) => AccountingSource::SwitchIntervals,
        _ => AccountingSource::ProcfsTicks,
    });
    if w.layout == Layout::Tasks {
        acc.sources.insert(AccountingSource::TaskProcesses);
        tasks(&mut acc, data, &w, &clues, &ctx, n)?;
    } else {
        let probed = !clues.first_task_s.is_empty();
        acc.sources.insert(if probed {
            AccountingSource::PythonProbe
        } else {
            AccountingSource::OutsideIn
        });
        pool(&mut acc, data, &w, &clues, &ctx, n)?;
    }
    Some(acc)
}

/// What a run's waits mean, worked out once: which resources are sinks and their names, which
/// database each worker process backs off from, which processes hold a GIL, what each pickled.
struct Context {
    layout: Layout,
    sink_of: HashMap<String, String>,
    database_of: HashMap<i32, String>,
    gil_pids: BTreeSet<i32>,
    pickle_s: HashMap<i32, f64>,
    /// Per worker process, seconds inside calls on each connection to a sink (the preload
    /// probe's timing), by the sink's name.
    sink_calls_s: HashMap<i32, Vec<(String, f64)>>,
    /// Per worker process, seconds its tasks waited for each Ray actor's replies (the python
    /// probe's timing), by the sink's name.
    actor_waits_s: HashMap<i32, Vec<(String, f64)>>,
    /// For a process pool, per timeline tick: whether the driver (the workers' ancestors) was
    /// working, caught on a CPU or runnable, or using half a core.
    driver_working: Vec<bool>,
}

impl Context {
    fn new(
        data: &SamplerData,
        w: &Workers,
        python: Option<&PythonData>,
        io: Option<&ProbeFigures>,
        actors: &[ActorWaits],
    ) -> Self {
        let pids: BTreeSet<i32> = w.pids.iter().copied().collect();
        // Resources outside the pool that the workers wrote to and waited on (waits.rs): sinks,
        // named by what they are so that a database in a fresh folder per run is one cause.
        let sink_of = waits::offcpu(data, w, actors)
            .map(|off| {
                off.external
                    .into_iter()
                    .map(|s| (s.resource, s.kind.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let database_of = data
            .processes
            .iter()
            .filter(|p| pids.contains(&p.pid))
            .filter_map(|p| {
                let db = p.written.iter().find(|wr| wr.service.is_some())?;
                Some((p.pid, SinkKind::of(db.kind, db.service).to_string()))
            })
            .collect();
        let (mut gil_pids, mut pickle_s) = (BTreeSet::new(), HashMap::new());
        for p in python.map(|py| py.processes.as_slice()).unwrap_or_default() {
            if p.gil_enabled != Some(false) {
                gil_pids.insert(p.pid);
            }
            pickle_s.insert(p.pid, p.pickle_s + p.unpickle_s);
        }
        // Connections only: a call on a socket waits for its peer, while a write to a file is
        // mostly copying into the page cache, which is CPU the sampler already counted.
        let mut sink_calls_s: HashMap<i32, Vec<(String, f64)>> = HashMap::new();
        for e in io.iter().flat_map(|f| f.external_io.values()).filter(|e| {
            matches!(
                e.kind,
                ResourceKind::Tcp | ResourceKind::Udp | ResourceKind::Unix
            )
        }) {
            for (&pid, &call_s) in e.call_s_by_pid.iter().filter(|(p, _)| pids.contains(p)) {
                sink_calls_s
                    .entry(pid)
                    .or_default()
                    .push((SinkKind::of(e.kind, e.service).to_string(), call_s));
            }
        }
        let actor_kind = SinkKind::of(ResourceKind::Tcp, Some(Service::RayActor)).to_string();
        let mut actor_waits_s: HashMap<i32, Vec<(String, f64)>> = HashMap::new();
        for a in actors {
            for (&pid, &s) in a.wait_s_by_pid.iter().filter(|(p, _)| pids.contains(p)) {
                actor_waits_s
                    .entry(pid)
                    .or_default()
                    .push((actor_kind.clone(), s));
            }
        }
        Context {
            driver_working: driver_working(data, w),
            sink_calls_s,
            actor_waits_s,
            layout: w.layout,
            sink_of,
            database_of,
            gil_pids,
            pickle_s,
        }
    }

    /// The cause of a wait of a thread of process `pid`.
    fn cause_of(&self, pid: i32, wc: &crate::measure::WaitCount) -> Cause {
        // A sink first: a unix socket sampled as plumbing that a third process of the tree
        // serves (a multiprocessing manager) is a sink by waits.rs, not the pool's transfer.
        if let Some(name) = self.sink_of.get(&wc.resource) {
            return Cause::Sink(name.clone());
        }
        if wc.plumbing {
            return Cause::Transfer;
        }
        match wc.kind {
            // Threads of one interpreter queue for its GIL on a futex; another process's GIL
            // is not theirs to wait for.
            ResourceKind::Futex
                if self.layout == Layout::Threads && self.gil_pids.contains(&pid) =>
            {
                Cause::Gil
            }
            ResourceKind::Futex => Cause::Locks,
            // A database client that sleeps is backing off from its database (waits.rs).
            ResourceKind::Sleep => self
                .database_of
                .get(&pid)
                .map_or(Cause::Other, |db| Cause::Sink(db.clone())),
            _ => Cause::Other,
        }
    }
}

impl Context {
    /// Of the ticks inside `a..=b` at which worker thread `t` was blocked, the share at which
    /// the driver was working; 1 when no tick caught it blocked, or the driver was not seen.
    ///
    /// A pool worker blocked on its task pipe waits for the driver: while the driver works
    /// (loads, pickles, writes the next payload, reads a big result) the wait is the payload's
    /// transfer; while the driver is idle too, no task exists for this worker anywhere, and the
    /// wait is the pool's imbalance (fixtures/labs/05 with chunksize 50: one worker holds the
    /// big documents' chunk, the other waits on an empty pipe with 33 bytes per task moved).
    fn fed_share(&self, data: &SamplerData, t: &ThreadRecord, a: f64, b: f64) -> f64 {
        if self.driver_working.is_empty() {
            return 1.0;
        }
        let ft = t.first_tick as usize;
        let (mut blocked, mut fed) = (0u32, 0u32);
        for (i, state) in t.states.bytes().enumerate() {
            let k = ft + i;
            let inside = data
                .timeline
                .get(k)
                .is_some_and(|x| x.t_s > a && x.t_s <= b);
            if inside && matches!(state, b'S' | b'D') {
                blocked += 1;
                fed += u32::from(self.driver_working.get(k).copied().unwrap_or(true));
            }
        }
        if blocked == 0 {
            1.0
        } else {
            f64::from(fed) / f64::from(blocked)
        }
    }
}

/// Per timeline tick, whether a process-pool's driver (the workers' ancestors in the tree,
/// the pool's creator and a forkserver among them) was working: some thread caught on a CPU or
/// runnable, or using half a core over the tick. Empty for other layouts, or when no ancestor
/// was sampled.
fn driver_working(data: &SamplerData, w: &Workers) -> Vec<bool> {
    if w.layout != Layout::Processes {
        return Vec::new();
    }
    let workers: BTreeSet<i32> = w.pids.iter().copied().collect();
    let parent: HashMap<i32, i32> = data.processes.iter().map(|p| (p.pid, p.ppid)).collect();
    let mut driver = BTreeSet::new();
    for &pid in &workers {
        let mut at = parent.get(&pid).copied();
        while let Some(p) = at.filter(|p| !workers.contains(p) && driver.insert(*p)) {
            at = parent.get(&p).copied();
        }
    }
    let mut working = vec![false; data.timeline.len()];
    let mut seen = false;
    for p in data.processes.iter().filter(|p| driver.contains(&p.pid)) {
        for t in &p.threads {
            seen = true;
            let ft = t.first_tick as usize;
            let states = t.states.as_bytes();
            for i in 0..states.len().max(t.busy.len()) {
                let caught = matches!(states.get(i), Some(b'R' | b'Q'));
                let busy = t.busy.get(i).is_some_and(|&b| b >= WORKER_BUSY_FRACTION);
                if let Some(slot) = working.get_mut(ft + i) {
                    *slot |= caught || busy;
                }
            }
        }
    }
    if seen {
        working
    } else {
        Vec::new()
    }
}

/// One worker thread's slot.
struct Slot<'a> {
    pid: i32,
    thread: &'a ThreadRecord,
    born_s: f64,
    /// First task to last work, when it worked at all.
    span: Option<(f64, f64)>,
}

fn pool(
    acc: &mut RunAccount,
    data: &SamplerData,
    w: &Workers,
    clues: &PoolClues,
    ctx: &Context,
    n: u32,
) -> Option<()> {
    let wall = acc.wall_s;
    let clamp = |t: f64| t.clamp(0.0, wall);
    let mut slots: Vec<Slot> = data
        .processes
        .iter()
        .flat_map(|p| p.threads.iter().map(move |t| (p.pid, t)))
        .filter(|(_, t)| w.tids.contains(&t.tid))
        .map(|(pid, t)| Slot {
            pid,
            thread: t,
            born_s: clamp(t.first_seen_s),
            span: work_span(data, pid, t, clues, w.layout == Layout::Threads)
                .map(|(a, b)| (clamp(a), clamp(b))),
        })
        .collect();
    // More workers seen than asked for: the n that worked most fill the n slots.
    slots.sort_by(|a, b| b.thread.on_cpu_s.total_cmp(&a.thread.on_cpu_s));
    slots.truncate(n as usize);
    let first = slots
        .iter()
        .filter_map(|s| s.span.map(|x| x.0))
        .reduce(f64::min)?;
    let last = slots
        .iter()
        .filter_map(|s| s.span.map(|x| x.1))
        .reduce(f64::max)?;
    let idle = n as usize - slots.len();
    acc.add(Cause::Serial, idle as f64 * (first + wall - last));
    acc.add(Cause::Imbalance, idle as f64 * (last - first));
    for s in &slots {
        let Some((f, e)) = s.span else {
            acc.add(Cause::Serial, first + wall - last);
            acc.add(Cause::Imbalance, last - first);
            continue;
        };
        let ready = s.born_s.min(first);
        acc.add(Cause::Serial, ready + (wall - last));
        acc.add(Cause::Startup, f - ready);
        acc.add(Cause::Imbalance, last - e);
        let share = busy_share_between(data, s.thread, f, e);
        let (pickle, fed) = if ctx.layout == Layout::Processes {
            (
                ctx.pickle_s.get(&s.pid).copied().unwrap_or(0.0),
                ctx.fed_share(data, s.thread, f, e),
            )
        } else {
            (0.0, 1.0)
        };
        working(acc, ctx, s.pid, s.thread, (e - f, share), pickle, fed);
    }
    Some(())
}

fn tasks(
    acc: &mut RunAccount,
    data: &SamplerData,
    w: &Workers,
    clues: &PoolClues,
    ctx: &Context,
    n: u32,
) -> Option<()> {
    let wall = acc.wall_s;
    let clamp = |t: f64| t.clamp(0.0, wall);
    // Each task process by its busiest thread (as workers.rs picks them), over its life.
    let lives: Vec<(i32, &ThreadRecord, f64, f64)> = data
        .processes
        .iter()
        .filter(|p| w.pids.contains(&p.pid))
        .filter_map(|p| {
            let t = p.threads.iter().find(|t| w.tids.contains(&t.tid))?;
            Some((p.pid, t, clamp(p.first_seen_s), clamp(p.last_seen_s)))
        })
        .collect();
    let first = lives.iter().map(|l| l.2).reduce(f64::min)?;
    let last = lives.iter().map(|l| l.3).reduce(f64::max)?;
    let capacity = f64::from(n) * (last - first);
    let lived: f64 = lives.iter().map(|l| l.3 - l.2).sum();
    // More tasks alive at once than slots (sampling at the edges of their lives): their lives
    // shrink in proportion, so the slots are never overfilled.
    let fit = if lived > capacity && lived > 0.0 {
        capacity / lived
    } else {
        1.0
    };
    acc.add(Cause::Serial, f64::from(n) * (first + wall - last));
    acc.add(Cause::Imbalance, capacity - lived * fit);
    let mut parts = RunAccount::default();
    for &(pid, t, a, b) in &lives {
        // A pool's worker in a process of its own (a fresh pool per batch lives and dies like
        // a task process) starts up before its first task: an interpreter's start and, for
        // spawn, the main module's imports, paid once per worker per pool. That stretch is
        // `startup`, as in a long-lived pool, not the task's work.
        match clues.first_task(pid).filter(|&f| f > a && f <= b) {
            Some(f) => {
                parts.add(Cause::Startup, f - a);
                let share = busy_share_between(data, t, f, b);
                working(&mut parts, ctx, pid, t, (b - f, share), 0.0, 1.0);
            }
            None => working(&mut parts, ctx, pid, t, (b - a, 1.0), 0.0, 1.0),
        }
    }
    acc.sources.extend(parts.sources);
    for (cause, s) in parts.seconds {
        acc.add(cause, s * fit);
    }
    Some(())
}

/// Gives `span_s` of a worker's time at work to its causes: `share` of its on-CPU and run-queue
/// time fell inside the span; `pickle_s` of that CPU was pickling; the rest of the span it was
/// blocked, split over what the sampler caught it blocked on. Of its waits on the pool's own
/// pipes, `fed` were while the driver worked (`Context::fed_share`): the rest had no task to
/// wait for.
fn working(
    acc: &mut RunAccount,
    ctx: &Context,
    pid: i32,
    t: &ThreadRecord,
    (span_s, share): (f64, f64),
    pickle_s: f64,
    fed: f64,
) {
    if span_s <= 0.0 {
        return;
    }
    let mut part = RunAccount::default();
    let (mut cpu, mut rq) = (t.on_cpu_s * share, t.runqueue_s * share);
    // Tick edges can put a little more CPU inside the span than it is long.
    if cpu + rq > span_s {
        let k = span_s / (cpu + rq);
        (cpu, rq) = (cpu * k, rq * k);
    }
    let pickling = pickle_s.min(cpu);
    part.add(Cause::Useful, cpu - pickling);
    part.add(Cause::Transfer, pickling);
    part.add(Cause::RunQueue, rq);
    let blocked = span_s - cpu - rq;
    let ticks: u64 = t.waits.iter().map(|w| u64::from(w.ticks)).sum();
    if ticks == 0 {
        part.add(Cause::Other, blocked);
    }
    for wc in t.waits.iter().filter(|_| ticks > 0) {
        let s = blocked * f64::from(wc.ticks) / ticks as f64;
        match ctx.cause_of(pid, wc) {
            Cause::Transfer => {
                part.add(Cause::Transfer, s * fed);
                part.add(Cause::Imbalance, s * (1.0 - fed));
            }
            cause => part.add(cause, s),
        }
    }
    // Waits too short for any tick to name them are `other`; the preload probe timed the
    // worker's calls on each sink's connection, and that much of them was the sink's. A
    // process of a thread pool holds every thread's calls, so there it cannot say whose.
    if ctx.layout != Layout::Threads {
        // A Ray task waits for an actor's reply on a futex (a lock, to the sampler); the
        // python probe timed those waits, and that much of the locks was the actor's.
        for (name, wait_s) in ctx.actor_waits_s.get(&pid).into_iter().flatten() {
            let moved = wait_s.min(part.get(&Cause::Locks));
            if moved > 0.0 {
                part.add(Cause::Sink(name.clone()), moved);
                part.add(Cause::Locks, -moved);
                acc.sources.insert(AccountingSource::PythonProbe);
            }
        }
        for (name, call_s) in ctx.sink_calls_s.get(&pid).into_iter().flatten() {
            let sink = Cause::Sink(name.clone());
            let moved = (call_s - part.get(&sink)).min(part.get(&Cause::Other));
            if moved > 0.0 {
                part.add(sink, moved);
                part.add(Cause::Other, -moved);
                acc.sources.insert(AccountingSource::PreloadProbe);
            }
        }
    }
    for (cause, s) in part.seconds {
        acc.add(cause, s);
    }
}

/// A worker's span of work: from its first task (the python probe's stamp) or its first tick
/// wanting a CPU, to the end of its last tick wanting one (the rule of
/// `timeline::steady_state`, which ends the span at the thread's end instead: here the time
/// after the last work is imbalance or the driver's, not the worker's).
fn work_span(
    data: &SamplerData,
    pid: i32,
    t: &ThreadRecord,
    clues: &PoolClues,
    pooled_thread: bool,
) -> Option<(f64, f64)> {
    let at = |i: usize| data.timeline.get(i).map(|k| k.t_s);
    let n = t.states.len().max(t.busy.len());
    let used_cpu = |i: usize| t.busy.get(i).is_some_and(|&b| b > 0.0);
    let caught = |i: usize| matches!(t.states.as_bytes().get(i), Some(b'R' | b'Q'));
    let wants = |i: usize| match t.states.as_bytes().get(i) {
        Some(_) => caught(i) || used_cpu(i),
        None => t.busy.get(i).is_some_and(|&b| b >= WORKER_BUSY_FRACTION),
    };
    let ft = t.first_tick as usize;
    let (first, mut last) = ((0..n).find(|&i| wants(i))?, (0..n).rfind(|&i| wants(i))?);
    if pooled_thread && !t.busy.is_empty() {
        last = before_idle_tail(
            first,
            last,
            |i| caught(i) || used_cpu(i),
            |i| caught(i) || t.busy.get(i).is_some_and(|&b| b >= WORKER_BUSY_FRACTION),
        );
    }
    let end = at(ft + last)?.min(t.last_seen_s).max(t.first_seen_s);
    let start = match clues.first_task(pid) {
        Some(f) if f >= t.first_seen_s && f <= t.last_seen_s => f,
        _ if first == 0 => t.first_seen_s,
        _ => at(ft + first - 1)?,
    };
    Some((start.min(end), end))
}

/// A pool thread's last tick of work: `last`, unless the thread ends idle. A thread waiting for
/// the GIL with a task in hand wakes at least every switch interval (5 ms) to ask for it, so it
/// uses some CPU in every tick; a whole tick without any, after the thread's last work (caught
/// running or runnable, or half a core), is a thread with no task left, idle on the pool's
/// queue until its exit's wake (fixtures/workloads/threadpool_straggler.py: 0.38 s idle, then
/// 0.15 ms to exit). Its span ends before that tick: the rest is imbalance, not `gil` or `locks`.
fn before_idle_tail(
    first: usize,
    last: usize,
    ran: impl Fn(usize) -> bool,
    worked: impl Fn(usize) -> bool,
) -> usize {
    let Some(w) = (first..=last).rfind(|&i| worked(i)) else {
        return last;
    };
    (w + 1..=last)
        .find(|&i| !ran(i))
        .map_or(last, |idle| idle - 1)
}

/// Share of thread `t`'s CPU (by its per-tick series) that fell between `a` and `b`; 1 without
/// a series.
fn busy_share_between(data: &SamplerData, t: &ThreadRecord, a: f64, b: f64) -> f64 {
    let ft = t.first_tick as usize;
    let (mut inside, mut total) = (0.0, 0.0);
    for (i, &busy) in t.busy.iter().enumerate() {
        let k = ft + i;
        let Some(end) = data.timeline.get(k).map(|x| x.t_s) else {
            continue;
        };
        let start = k
            .checked_sub(1)
            .and_then(|j| data.timeline.get(j))
            .map_or(t.first_seen_s.min(end), |x| x.t_s);
        let busy = f64::from(busy);
        total += busy;
        let width = end - start;
        let overlap = (end.min(b) - start.max(a)).max(0.0);
        inside += if width > 0.0 {
            busy * overlap / width
        } else if end >= a && end <= b {
            busy
        } else {
            0.0
        };
    }
    if total > 0.0 {
        (inside / total).clamp(0.0, 1.0)
    } else {
        1.0
    }
}
