//! The replay's data: how a pool hands out its tasks, the serial resources, the assumptions a
//! replay makes, and the workload itself. Below both model.rs (which builds a workload from a
//! measured point) and sim.rs (which replays one), so neither imports the other's types.

use crate::analyze::Layout;

/// The sink whose writers sleep a busy handler's back-off (`Workload::busy_handler`).
pub const SQLITE: &str = "sink:sqlite";

/// How the pool hands out tasks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dispatch {
    /// `map` chunks of this many tasks, dealt in order as workers free up.
    Chunks(usize),
    /// One task to each worker, the next round when all are done (a shell's `cmd &` ... `wait`).
    Waves,
    /// One task at a time to the next free worker (imap, apply_async, a thread pool's queue,
    /// make and xargs slots in command order).
    OnDemand,
}

/// A pool's messages per run: each hands the worker a chunk of tasks and takes back its results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Messages {
    /// Work messages the workers took (a map chunk counts once).
    pub count: f64,
    /// Tasks they carried.
    pub tasks: f64,
    /// The workers' pickling and unpickling seconds.
    pub worker_pickle_s: f64,
    /// The driver's (every process but the workers) pickling and unpickling seconds.
    pub driver_pickle_s: f64,
}

/// A resource that serves one worker at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// `gil` or `sink:<name>`: the bound it names.
    pub bound: String,
    /// Seconds of service over the whole run, shared among the tasks by their size.
    pub demand_s: f64,
    /// Share of each task's parallel part the worker does while holding it: a lock held
    /// while working (a transaction open while it computes). 0 for a server that only serves.
    pub held_share: f64,
}

/// What a replay cannot know from the point, and which choice the value used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Assumption {
    /// The tasks' durations are measured, their order is not: `low` puts the big ones side
    /// by side at the end, `high` spreads them out.
    TaskOrderFromQuantiles,
    /// No task was seen: the work is many even tasks, plus one straggler as long as the
    /// measured imbalance shows.
    EvenTasks,
    /// The tasks sit in the order (as recorded, big ones last, spread) where the replay at the measured count matches its wall (side by side
    /// at the end, or spread out).
    TaskOrderMatched,
    /// A sink waited on at one worker: whether its lock is held while the workers compute
    /// cannot show until two contend (value: only while writing; `low`: through each whole
    /// task).
    SinkHoldUnknown,
    /// A sink's waits past what a queue at its measured service gives (its own calls, not the
    /// busy handler's sleeps): conflicts, replayed as its lock held through a share of each
    /// task, fitted at the measured count, and gone at one worker.
    SinkConflicts,
    /// Task processes start in waves: a slot is refilled only when the whole wave is done (the
    /// replay at the measured count matched this better than refilling at once).
    Waves,
    /// A shell's `cmd &` ... `wait` seen at one worker, where every wave is one task: the
    /// value and `low` replay the waves that idiom makes (a slot refilled only when the whole
    /// wave is done); `high` refills each slot at once (bash's `wait -n`).
    ShellWaves,
    /// A row every transaction writes again (a progress counter), its lock's hold measured at
    /// one worker (the python probe's psycopg hook): the value holds the database's lock that
    /// long in each task; `low` through each whole task; `high` not at all (a row per worker).
    HotRowMeasured,
    /// A SQLite sink seen at one worker: a second writer that finds its write lock taken
    /// sleeps SQLite's busy-handler back-off and tries again rather than queueing (`high`:
    /// it queues).
    BusyBackoff,
    /// A thread pool with one worker at this point: the GIL's held share is unknown (value
    /// half the CPU, `low` all of it, `high` none).
    GilShareUnknown,
    /// Each worker's start-up is the one measured, per pool, at any count, stretched or shrunk
    /// by the cores the workers starting together get there (`Replay::startup_at`).
    StartupPerWorkerFixed,
    /// The cores busy beside the workers (the driver's CPU while they work, the host's other
    /// load) stay as measured at the point, at any count.
    BackgroundAsMeasured,
    /// A pool's driver that only hands out tasks and takes back results: its CPU beside the
    /// workers is so much per task, replayed one task at a time beside them; the host's other
    /// load stays as measured.
    DriverCpuPerTask,
    /// The work grows with the count as the measured counts' computation scaling shows; one
    /// count cannot show it, and then it does not grow.
    WorkInflation,
}

impl Assumption {
    /// The words the report gives it.
    pub fn words(self) -> &'static str {
        match self {
            Assumption::TaskOrderFromQuantiles => {
                "task order unknown (low: the big ones side by side at the end; high: spread out)"
            }
            Assumption::TaskOrderMatched => {
                "the measured tasks in the order (as recorded, big ones last, or spread) whose replay matches the measured count's wall"
            }
            Assumption::Waves => "task processes start in waves, as the measured count's wall shows",
            Assumption::ShellWaves => {
                "a shell's & and wait run the tasks in waves of the worker count (high: each slot refilled at once, as wait -n does)"
            }
            Assumption::BusyBackoff => {
                "a SQLite writer that finds the write lock taken sleeps the busy handler's back-off (1, 2, 5, 10 ms ...) and tries again (high: it queues)"
            }
            Assumption::EvenTasks => {
                "no task durations measured: even tasks, plus the measured straggler"
            }
            Assumption::GilShareUnknown => {
                "the GIL's held share is unknown at this count (half the CPU; low: all, high: none)"
            }
            Assumption::SinkHoldUnknown => {
                "whether the sink's lock is held while the workers compute is unknown at one worker (only while writing; low: through each whole task)"
            }
            Assumption::HotRowMeasured => {
                "a row every transaction writes again stays locked from that write to the transaction's end, as long as measured at one worker, for every worker (low: through each whole task; high: a row per worker, no shared lock)"
            }
            Assumption::SinkConflicts => {
                "the sink's waits past a queue at its measured service are conflicts (a lock held while working, a busy handler's back-off), replayed as its lock held through a share of each task, as the measured count shows"
            }
            Assumption::StartupPerWorkerFixed => {
                "each worker's start-up as measured, per pool, at any count, stretched by the cores the workers starting together share"
            }
            Assumption::BackgroundAsMeasured => {
                "the driver's CPU and the host's other load beside the workers as measured"
            }
            Assumption::DriverCpuPerTask => {
                "the driver's CPU beside the workers as measured per task, one task at a time (it grows with the rate the workers finish them); the host's other load as measured"
            }
            Assumption::WorkInflation => "work grows with the count as the measured counts show",
        }
    }
}

/// Which side of an unknown the workload takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Value,
    Low,
    High,
}

/// The replayable picture of one point.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Worker count the point ran.
    pub measured_workers: u32,
    /// The point's median wall, seconds.
    pub measured_wall_s: f64,
    /// Only the driver works: before the first task and after the last.
    pub serial_s: f64,
    /// Each worker's start to its first task.
    pub startup_s: f64,
    /// Each task's parallel seconds, in dispatch order.
    pub tasks: Vec<f64>,
    pub dispatch: Dispatch,
    pub resources: Vec<Resource>,
    /// The tasks' pickling and pipe waits (inside `tasks`), for the data-passing what-if.
    pub transfer_s: f64,
    /// Cores busy beside the workers while they work: the driver's CPU and the host's other
    /// load, as measured.
    pub background_cores: f64,
    /// The pool's work messages per run (python probe); None where no pool worker took one.
    pub messages: Option<Messages>,
    /// CPU seconds the driver spends on each replayed task's messages, one task at a time
    /// beside the workers, once the task is done: the scheduling what-if's per-message cost
    /// (0 elsewhere, where the driver's pickling is in `tasks` and its other CPU in
    /// `background_cores`).
    pub driver_per_task_s: f64,
    /// Largest PSS of a worker, bytes.
    pub memory_per_worker: Option<f64>,
    /// Seconds of useful CPU (inside `tasks`).
    pub useful_s: f64,
    pub layout: Option<Layout>,
    /// The start method most processes were started by (python probe).
    pub start_method: Option<crate::measure::probes::StartMethod>,
    /// The GIL knocker's held share in the workers (python probe).
    pub gil_held_share: Option<f64>,
    /// A started process's start-up, median seconds (python probe).
    pub startup_per_process_s: Option<f64>,
    /// Processes the pool started per run.
    pub process_starts: f64,
    /// A SQLite sink's (`sink:sqlite`) waiters do not queue: a writer that finds the lock
    /// taken sleeps the busy handler's back-off and tries again. By name, not index: a what-if
    /// removes resources.
    pub busy_handler: bool,
    pub assumptions: Vec<Assumption>,
}

#[cfg(test)]
impl Workload {
    /// Tasks of pure CPU handed out on demand, measured at one worker, with nothing else.
    pub fn of_tasks(tasks: Vec<f64>) -> Workload {
        Workload {
            measured_workers: 1,
            measured_wall_s: 0.0,
            serial_s: 0.0,
            startup_s: 0.0,
            useful_s: tasks.iter().sum(),
            tasks,
            dispatch: Dispatch::OnDemand,
            resources: vec![],
            transfer_s: 0.0,
            background_cores: 0.0,
            messages: None,
            driver_per_task_s: 0.0,
            memory_per_worker: None,
            layout: None,
            start_method: None,
            gil_held_share: None,
            startup_per_process_s: None,
            process_starts: 0.0,
            busy_handler: false,
            assumptions: vec![],
        }
    }
}
