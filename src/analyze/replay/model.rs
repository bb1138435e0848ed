//! The workload a replay runs, built from one measured point: the driver's serial part, each
//! worker's start-up, the tasks' parallel seconds in dispatch order, and the serial resources
//! (the GIL, each sink) with their total demand.
//!
//! Every figure comes from the point's accounting (`src/analyze/accounting.rs`), so the parts
//! add up to what was measured: the tasks hold the useful CPU and the per-worker losses that
//! grow with the work (the workers' pickling, locks, other). The run queue is not work: the
//! replay recreates it from the cores busy beside the workers (the driver's CPU while they
//! work, the host's other load). The probes give the tasks' shape; the accounting their total.

use crate::analyze::api::PoolApi;
use crate::analyze::point::PointSummary;
use crate::analyze::Layout;
use crate::measure::Service;

pub use super::workload::{Assumption, Dispatch, Messages, Resource, Side, Workload, SQLITE};

/// Tasks synthesised where none were measured (enough that n up to a few dozen stays even).
const EVEN_TASKS: usize = 256;

/// The most tasks a replay deals (consecutive ones merged past it).
const MAX_TASKS: usize = 1024;

/// A thread pool's GIL held share when nothing measured it (`Assumption::GilShareUnknown`).
const UNKNOWN_GIL_SHARE: f64 = 0.5;

/// A run queue of at least this share of the workers' time is a steady load beside them
/// (lab 01's recording on a loaded VM: half), not a burst (the variants at 1 worker: under
/// 4 %).
const STEADY_RUN_QUEUE: f64 = 0.1;

/// A replayed run queue this close to the measured one keeps the background's estimate.
const RUN_QUEUE_TOLERANCE: f64 = 0.05;

/// Halvings of a demand's bracket: 2^-30 of it is far below any measured wait.
const CALIBRATION_STEPS: usize = 30;

/// Where the big tasks sit in the queue, which the quantiles cannot say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// As one run recorded them (task processes in the order they started; a probe's tasks
    /// worker after worker).
    Recorded,
    /// Side by side at the end (lab 05's skewed documents; the straggler's tail).
    BigLast,
    /// Spread over the queue.
    Spread,
}

/// Builds the workload of one point; None without a wall time or an accounting. Past one
/// worker, the unknowns the count can show (where the big tasks sit; for a process-per-task
/// tool, slots refilled at once or in waves) take the choice whose replay at the measured
/// count comes closest to its measured wall.
pub fn workload(
    s: &PointSummary,
    workers: u32,
    layout: Option<Layout>,
    cores: u32,
    side: Side,
) -> Option<Workload> {
    if workers <= 1 {
        let order = match side {
            Side::Value => Order::Recorded,
            Side::Low => Order::BigLast,
            Side::High => Order::Spread,
        };
        // One worker runs a wave of one task at a time, so its wall cannot tell waves from
        // slots refilled at once; the tool that started the tasks can. A shell's `cmd &` ...
        // `wait` waits for the whole batch (fixtures/workloads/batch_wait.sh: 1.27x measured
        // at 2 workers, 1.94x replayed without waves); bash's `wait -n` refills at once, the
        // high side.
        let shell = s.apis.contains(&PoolApi::ShellJobs) && layout == Some(Layout::Tasks);
        let waves = shell && side != Side::High;
        let mut w = build(s, workers, layout, cores, side, order, waves)?;
        if shell {
            w.assumptions.retain(|a| *a != Assumption::Waves);
            w.assumptions.push(Assumption::ShellWaves);
        }
        return Some(w);
    }
    let waves: &[bool] = if layout == Some(Layout::Tasks) {
        &[false, true]
    } else {
        &[false]
    };
    let mut best: Option<(f64, Workload)> = None;
    for order in [Order::Recorded, Order::BigLast, Order::Spread] {
        for &wave in waves {
            let Some(mut w) = build(s, workers, layout, cores, side, order, wave) else {
                continue;
            };
            let makespan = super::sim::replay(&w, workers, cores, 1.0, &[]).makespan_s;
            let miss = (w.serial_s + w.startup_s + makespan - w.measured_wall_s).abs();
            if best.as_ref().is_none_or(|(m, _)| miss < *m) {
                if w.assumptions.contains(&Assumption::TaskOrderFromQuantiles) {
                    w.assumptions
                        .retain(|a| *a != Assumption::TaskOrderFromQuantiles);
                    w.assumptions.push(Assumption::TaskOrderMatched);
                }
                best = Some((miss, w));
            }
        }
    }
    best.map(|(_, w)| w)
}

/// A hot row's lock, measured at one worker: the seconds the workers' transactions held a row
/// every transaction writes again (the python probe's psycopg hook) are the database lock's
/// hold, as `held_for` shares it. The same statement and parameters in one worker's
/// transactions are the same row for every worker running the same code, unless the
/// parameters name the worker (a row per worker), which one worker cannot show: `high` takes
/// that side (no shared lock), `low` holds the lock through each whole task. False where no
/// hold was seen.
fn hold_hot_row(w: &mut Workload, s: &PointSummary, side: Side) -> bool {
    let Some(held) = s.worker_row_hold_s.filter(|&h| h > 0.0) else {
        return false;
    };
    let r = held_for(w, &format!("sink:{}", Service::Postgresql.as_str()), held);
    match side {
        Side::Low => w.resources[r].held_share = 1.0,
        Side::High => w.resources[r].held_share = 0.0,
        Side::Value => {}
    }
    w.assumptions.push(Assumption::HotRowMeasured);
    true
}

/// The sink `bound` (added where the point did not wait on it) held `held` seconds in all, as
/// measured: its service (the waits at one worker, if any) is part of each hold, and the rest
/// is the tasks' own work done holding it, their `held_share`. Its index.
fn held_for(w: &mut Workload, bound: &str, held: f64) -> usize {
    let r = match w.resources.iter().position(|x| x.bound == bound) {
        Some(r) => r,
        None => {
            w.resources.push(Resource {
                bound: bound.into(),
                demand_s: 0.0,
                held_share: 0.0,
            });
            w.resources.len() - 1
        }
    };
    let total: f64 = w.tasks.iter().sum();
    let service = w.resources[r].demand_s;
    w.resources[r].held_share = if total > 0.0 {
        ((held - service).max(0.0) / total).min(1.0)
    } else {
        0.0
    };
    r
}

fn build(
    s: &PointSummary,
    workers: u32,
    layout: Option<Layout>,
    cores: u32,
    side: Side,
    order: Order,
    waves: bool,
) -> Option<Workload> {
    let wall = s.wall_s?;
    let acc = s.accounting.as_ref()?;
    let n = f64::from(workers.max(1));
    let ws = |key: &str| acc.lost(key) * wall;
    let useful = acc.useful_cores.value * wall;
    // The workers' pickling is work; the rest of `transfer` is waits on the pool's pipes,
    // which the replay recreates (idle workers) rather than adds.
    let pickling = s
        .probes
        .as_ref()
        .and_then(|p| Some(p.ipc_tax? * s.cpu_s?))
        .map_or(ws("transfer"), |p| p.min(ws("transfer")));
    let parallel = useful + pickling + ws("locks") + ws("other");
    // The run queue is not work: the replay recreates it from what competes for the cores
    // beside the workers, the driver's own CPU while they work and the host's other load.
    let part = (wall - (ws("serial") + ws("startup")) / n).max(f64::MIN_POSITIVE);
    let driver_cpu = s.cpu_s.map_or(0.0, |cpu| {
        (cpu - useful - pickling - ws("serial") / n - ws("startup")).max(0.0)
    });
    let process_starts = s
        .pools
        .as_ref()
        .map_or(0.0, |p| p.started_by_method.values().sum());
    // A pool's driver that only hands out tasks and takes back results spends its CPU per task
    // (lab 05 at chunksize 1: 0.29 cores beside one worker, 0.47 beside two), so it is
    // replayed per task, one task at a time beside the workers. A driver that also starts
    // pools again and again (lab 03: a fresh pool per batch) spends it on the starts as well,
    // which one point cannot tell apart: there, and beside task processes, it stays as
    // measured, as does the host's other load.
    let per_task = s
        .probes
        .as_ref()
        .and_then(|p| p.messages)
        .is_some_and(|m| m > 0.0)
        && process_starts <= n;
    let (background, driver_cpu_per_run) = if per_task {
        (0.0, driver_cpu)
    } else {
        (driver_cpu / part, 0.0)
    };
    let background = background + s.host_other_cpu_cores.unwrap_or(0.0);
    // A pool's messages and what each cost: the workers' pickling and the rest of the tree's.
    let messages = s.probes.as_ref().and_then(|p| {
        let worker_pickle_s = p.worker_pickle_s.unwrap_or(0.0);
        let tree_pickle_s = p.ipc_tax.zip(s.cpu_s).map_or(0.0, |(t, c)| t * c);
        Some(Messages {
            count: p.messages.filter(|&m| m > 0.0)?,
            tasks: p.task_count.filter(|&t| t > 0.0)?,
            worker_pickle_s,
            driver_pickle_s: (tree_pickle_s - worker_pickle_s).max(0.0),
        })
    });
    let mut assumptions = vec![
        Assumption::StartupPerWorkerFixed,
        if per_task {
            Assumption::DriverCpuPerTask
        } else {
            Assumption::BackgroundAsMeasured
        },
    ];
    let mut resources = Vec::new();
    let threads = layout == Some(Layout::Threads);
    let gil_on = s.pools.as_ref().and_then(|p| p.gil_enabled) != Some(false);
    let mut waits: Vec<(String, f64)> = acc
        .lost_cores
        .keys()
        .filter(|k| k.starts_with("sink:") || (*k == "gil"))
        .map(|k| (k.clone(), ws(k)))
        .filter(|(_, w)| *w > 0.0)
        .collect();
    // Waits on the pool's pipes beyond the workers' own pickling: the driver handing out
    // tasks and taking results, one at a time.
    let pipe_waits = ws("transfer") - pickling;
    if pipe_waits > 0.0 {
        waits.push(("driver".into(), pipe_waits));
    }
    if threads && gil_on && workers <= 1 {
        let share = s.pools.as_ref().and_then(|p| p.gil_held_share);
        let share = share.unwrap_or_else(|| {
            assumptions.push(Assumption::GilShareUnknown);
            match side {
                Side::Value => UNKNOWN_GIL_SHARE,
                Side::Low => 1.0,
                Side::High => 0.0,
            }
        });
        if share > 0.0 {
            resources.push(Resource {
                bound: "gil".into(),
                demand_s: useful * share,
                held_share: 0.0,
            });
        }
    }
    let (tasks, mut dispatch) = tasks_of(
        s,
        workers,
        parallel,
        ws("imbalance"),
        order,
        &mut assumptions,
    );
    if waves {
        dispatch = Dispatch::Waves;
        assumptions.push(Assumption::Waves);
    }
    let driver_per_task_s = driver_cpu_per_run / tasks.len().max(1) as f64;
    let mut w = Workload {
        measured_workers: workers,
        measured_wall_s: wall,
        serial_s: ws("serial") / n,
        startup_s: ws("startup") / n,
        tasks,
        dispatch,
        resources,
        transfer_s: pickling,
        background_cores: background,
        messages,
        driver_per_task_s,
        memory_per_worker: s.pss_bytes_per_worker,
        useful_s: useful,
        layout,
        start_method: s.pools.as_ref().and_then(|p| p.start_method),
        gil_held_share: s.pools.as_ref().and_then(|p| p.gil_held_share),
        startup_per_process_s: s
            .pools
            .as_ref()
            .and_then(|p| p.worker_startup.as_ref())
            .map(|st| st.median_s),
        process_starts,
        busy_handler: false,
        assumptions,
    };
    // The cores busy beside the workers (the estimate, moved until the replay's run queue is
    // the measured one where this count can show it), and each measured wait as queueing (and,
    // for a sink, service) on a one-at-a-time resource: the demand whose replay at the point's
    // count waits as long is the resource's. Each moves the other, so twice.
    let first = w.resources.len();
    for (bound, _) in &waits {
        w.resources.push(Resource {
            bound: bound.clone(),
            demand_s: 0.0,
            held_share: 0.0,
        });
    }
    let mut conflicts = false;
    for _ in 0..2 {
        w.background_cores = calibrate_background(&w, cores, ws("run_queue"));
        conflicts = false;
        for (k, (bound, wait)) in waits.iter().enumerate() {
            let r = first + k;
            if bound == "gil" {
                w.resources[r].demand_s = bisect(&w, r, cores, *wait, Knob::GilDemand, 0.0, useful);
                continue;
            }
            let service = (workers > 1 && bound.starts_with("sink:"))
                .then(|| sink_service(s, bound, *wait))
                .flatten();
            conflicts |= calibrate_server(&mut w, r, cores, *wait, wait + parallel, service);
        }
    }
    if conflicts {
        w.assumptions.push(Assumption::SinkConflicts);
    }
    // One worker shows a sink's service (if it waited on it at all), never its lock held while
    // computing: `low` holds it through each whole task. Unless a probe timed the lock
    // (SQLite's write lock, a hot row): then each task holds it as long as measured.
    let is_sink = |x: &Resource| x.bound.starts_with("sink:");
    let waited_on = w.resources.iter().any(is_sink);
    if workers <= 1 && (hold_hot_row(&mut w, s, side) || hold_sqlite_lock(&mut w, s, side)) {
        return Some(w);
    }
    if workers <= 1 && (waited_on || s.workers_write_sinks == Some(true)) {
        w.assumptions.push(Assumption::SinkHoldUnknown);
        if side == Side::Low && !waited_on {
            let kind = s.probes.iter().flat_map(|p| &p.sink_io).next();
            w.resources.push(Resource {
                bound: format!(
                    "sink:{}",
                    kind.map_or("writes".into(), |k| k.kind.to_string())
                ),
                demand_s: 0.0,
                held_share: 0.0,
            });
        }
        // The most serial case is one lock held through each whole task. The replay holds each
        // sink in turn, so holding every sink through the task would run the work once per
        // sink, and two locks pipeline (sqlite_xargs: its database file and its folder's
        // files, low 1.76x against 0.95x measured): the sink waited on most takes the task.
        // SQLite has no queue for its write lock: a writer that finds it taken sleeps its busy
        // handler's back-off, 1 ms and longer, past the other's commit (a fifth of a
        // millisecond in sqlite_pool). One writer never meets it; the second writer's sleeps
        // are the physics of the sink, not a fit (`high`: the writers queue).
        if side != Side::High {
            w.busy_handler = w.resources.iter().any(|x| x.bound == SQLITE);
            if w.busy_handler {
                w.assumptions.push(Assumption::BusyBackoff);
            }
        }
        if side == Side::Low {
            let most = w
                .resources
                .iter()
                .enumerate()
                .filter(|(_, x)| is_sink(x))
                .max_by(|a, b| a.1.demand_s.total_cmp(&b.1.demand_s))
                .map(|(i, _)| i);
            if let Some(i) = most {
                w.resources[i].held_share = 1.0;
            }
        }
    }
    Some(w)
}

/// At one worker, SQLite's write lock held as long per task as the preload probe timed it
/// (`sink_lock_held_s`): the SQLite sink's service (its measured waits, outside the tasks) is
/// part of each hold, and the rest is the task's own work done holding it, its `held_share`.
/// A writer that finds the lock taken sleeps the busy handler's back-off (`high`: it queues).
/// False, and the workload untouched, where no hold was measured.
fn hold_sqlite_lock(w: &mut Workload, s: &PointSummary, side: Side) -> bool {
    let Some(held) = s
        .probes
        .as_ref()
        .and_then(|p| p.sink_lock_held_s)
        .filter(|&h| h > 0.0)
    else {
        return false;
    };
    held_for(w, SQLITE, held);
    if side != Side::High {
        w.busy_handler = true;
        w.assumptions.push(Assumption::BusyBackoff);
    }
    true
}

/// The seconds a sink's own calls take at a point where several workers wait on it: the workers
/// blocked on it (its replies, writes, fsyncs; not a busy handler's sleeps), and no more than
/// the preload probe's time inside calls on it. None where neither was measured.
fn sink_service(s: &PointSummary, bound: &str, wait: f64) -> Option<f64> {
    let sinks: Vec<_> = s
        .sinks
        .as_ref()?
        .iter()
        .filter(|x| format!("sink:{}", x.kind) == bound)
        .collect();
    let share: f64 = sinks.iter().map(|x| x.wait_share).sum();
    let blocked =
        (share > 0.0).then(|| wait * sinks.iter().map(|x| x.direct_share).sum::<f64>() / share);
    // The probe names a database's files by their folder (the file, its journal and WAL).
    let calls: Vec<f64> = s
        .probes
        .iter()
        .flat_map(|p| &p.sink_io)
        .filter(|io| {
            sinks.iter().any(|x| {
                x.resource == io.resource || x.resource.starts_with(&format!("{}/", io.resource))
            })
        })
        .map(|io| io.call_s)
        .collect();
    let calls = (!calls.is_empty()).then(|| calls.iter().sum::<f64>());
    match (blocked, calls) {
        (Some(b), Some(c)) => Some(b.min(c)),
        (b, c) => b.or(c),
    }
}

/// A server's demand (a sink, the driver's pipes): the demand whose replay at the measured count
/// waits `wait`, as a queue. Where that passes the service the sink's own calls show
/// (`service`), a queue cannot explain the waits: they are conflicts (a lock held while
/// working, a busy handler's back-off that outsleeps the holder), and the demand is that
/// service, its lock held through the share of each task that waits as long (all of each
/// task, and the demand higher, where even that waits less). True for conflicts.
fn calibrate_server(
    w: &mut Workload,
    r: usize,
    cores: u32,
    wait: f64,
    hi: f64,
    service: Option<f64>,
) -> bool {
    w.resources[r].held_share = 0.0;
    let queue = bisect(w, r, cores, wait, Knob::Demand, 0.0, hi);
    let Some(service) = service.filter(|&svc| queue > svc) else {
        w.resources[r].demand_s = queue;
        return false;
    };
    w.resources[r].demand_s = service;
    w.resources[r].held_share = 1.0;
    if waited(&mut w.clone(), r, cores, Knob::Held, 1.0) < wait {
        w.resources[r].demand_s = bisect(w, r, cores, wait, Knob::Demand, service, hi);
    } else {
        w.resources[r].held_share = bisect(w, r, cores, wait, Knob::Held, 0.0, 1.0);
    }
    true
}

/// Bisection on the background cores until the replay at the measured count waits `target`
/// worker-seconds for a CPU; the estimate stays where the replay cannot tell (fewer workers
/// than cores, or the same wait either way).
fn calibrate_background(w: &Workload, cores: u32, target: f64) -> f64 {
    let est = w.background_cores;
    let steady = STEADY_RUN_QUEUE * f64::from(w.measured_workers.max(1)) * w.measured_wall_s;
    let mut w = w.clone();
    let mut queued = |b: f64| {
        w.background_cores = b;
        super::sim::replay(&w, w.measured_workers, cores, 1.0, &[]).run_queue_s
    };
    let at = queued(est);
    if (at - target).abs() <= RUN_QUEUE_TOLERANCE * target.max(1e-3) {
        return est;
    }
    if at < target && target < steady {
        // A short wait is a burst of the host's other load, not a steady load beside the
        // workers: raising the background for it would take a whole core away.
        return est;
    }
    let (mut lo, mut hi) = if at > target {
        (0.0, est)
    } else {
        (est, est + 4.0 * f64::from(cores))
    };
    for _ in 0..CALIBRATION_STEPS {
        let mid = 0.5 * (lo + hi);
        if queued(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// What a calibration moves of a resource.
#[derive(Clone, Copy)]
enum Knob {
    /// A server's demand; its waits are its queue and its service.
    Demand,
    /// The GIL's demand; its service is part of the work, so its waits are the queue alone.
    GilDemand,
    /// The share of each task done holding it.
    Held,
}

/// The worker-seconds the replay at the measured count waits at resource `r` with `knob` set
/// to `x`: its residence less the work done there (the GIL's service, the work done holding a
/// lock), which the accounting counts as work, not as a wait.
fn waited(w: &mut Workload, r: usize, cores: u32, knob: Knob, x: f64) -> f64 {
    match knob {
        Knob::Demand | Knob::GilDemand => w.resources[r].demand_s = x,
        Knob::Held => w.resources[r].held_share = x,
    }
    let at = super::sim::replay(w, w.measured_workers, cores, 1.0, &[]);
    match knob {
        Knob::GilDemand => at.residence_s[r] - x,
        Knob::Demand | Knob::Held => at.residence_s[r] - at.held_s[r],
    }
}

/// Bisection on `knob` of resource `r` within `lo..hi` until the replay at the measured count
/// waits `wait` worker-seconds at it.
fn bisect(w: &Workload, r: usize, cores: u32, wait: f64, knob: Knob, lo: f64, hi: f64) -> f64 {
    let (mut lo, mut hi) = (lo, hi.max(lo));
    let mut w = w.clone();
    for _ in 0..CALIBRATION_STEPS {
        let mid = 0.5 * (lo + hi);
        if waited(&mut w, r, cores, knob, mid) < wait {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}
/// The tasks' parallel seconds in dispatch order, summing to `parallel`.
fn tasks_of(
    s: &PointSummary,
    workers: u32,
    parallel: f64,
    imbalance_ws: f64,
    order: Order,
    assumptions: &mut Vec<Assumption>,
) -> (Vec<f64>, Dispatch) {
    let probe = s.probes.as_ref();
    // Where the workers were task processes, the recorded tasks are their lives (a fresh
    // pool per batch: each worker's life in one pool), one per slot as it frees; a probe's
    // chunksize is the pool's, inside each life.
    let lives = s.worker_layout == Some(Layout::Tasks) && !s.task_order_s.is_empty();
    let dispatch = match probe.and_then(|p| p.chunksize) {
        Some(k) if k > 1 && !lives => Dispatch::Chunks(k as usize),
        _ => Dispatch::OnDemand,
    };
    let recorded = &s.task_order_s;
    if recorded.is_empty() || recorded.iter().sum::<f64>() <= 0.0 {
        assumptions.push(Assumption::EvenTasks);
        // The straggler: n - 1 workers idle through its last stretch.
        let tail = if workers > 1 {
            (imbalance_ws / f64::from(workers - 1)).min(parallel)
        } else {
            0.0
        };
        let rest = (parallel - tail).max(0.0);
        let mut tasks = vec![rest / EVEN_TASKS as f64; EVEN_TASKS];
        if tail > 0.0 {
            tasks.push(tail);
        }
        return (tasks, Dispatch::OnDemand);
    }
    if order != Order::Recorded {
        assumptions.push(Assumption::TaskOrderFromQuantiles);
    }
    let sum: f64 = recorded.iter().sum();
    // Consecutive tasks merged into at most MAX_TASKS, so a run of a quarter million tasks
    // replays as fast as a small one; a chunk holds proportionally fewer of them.
    let group = recorded.len().div_ceil(MAX_TASKS);
    let mut sizes: Vec<f64> = recorded
        .chunks(group)
        .map(|g| g.iter().sum::<f64>() * parallel / sum)
        .collect();
    let dispatch = match dispatch {
        Dispatch::Chunks(k) => Dispatch::Chunks((k / group).max(1)),
        d => d,
    };
    let ordered = match order {
        Order::Recorded => sizes,
        Order::BigLast => {
            sizes.sort_by(f64::total_cmp);
            sizes
        }
        Order::Spread => {
            sizes.sort_by(|a, b| b.total_cmp(a));
            interleave(sizes)
        }
    };
    (ordered, dispatch)
}

/// Sizes largest first, dealt so consecutive stretches hold a fair mix: the big ones spread
/// over the queue rather than side by side.
fn interleave(sorted: Vec<f64>) -> Vec<f64> {
    let len = sorted.len();
    let mut out = vec![0.0; len];
    // Bit-reversal-like stride: task i goes to slot (i * stride) mod len, stride coprime.
    let stride = (1..)
        .map(|k| len / 2 + k)
        .find(|&s| gcd(s, len) == 1)
        .unwrap_or(1)
        .max(1);
    for (i, x) in sorted.into_iter().enumerate() {
        out[(i * stride) % len.max(1)] = x;
    }
    out
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
