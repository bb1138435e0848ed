//! What the injected probes recorded in one run: I/O per process, fd kind and peer from the
//! LD_PRELOAD probe; pickling, tasks, chunksizes, start methods and threads at fork per process
//! from the Python probe. Plain data; `run::probes` fills it, `analyze` reads it.

use serde::{Deserialize, Serialize};

/// A probe forkcast can inject: written as "preload" or "python".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// The LD_PRELOAD library (dynamically linked targets).
    Preload,
    /// The sitecustomize probe (CPython targets and descendants).
    Python,
}

/// How multiprocessing starts a process: written as the name it uses ("fork", "forkserver",
/// "spawn"). Declared in the order of those names, so maps keyed by it sort as the words do.
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
pub enum StartMethod {
    Fork,
    Forkserver,
    Spawn,
}

impl StartMethod {
    /// The name multiprocessing uses (and report.json writes).
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Forkserver => "forkserver",
            StartMethod::Spawn => "spawn",
        }
    }

    /// The method multiprocessing calls `name`; None for a name it does not have.
    pub fn from_name(name: &str) -> Option<StartMethod> {
        [
            StartMethod::Fork,
            StartMethod::Forkserver,
            StartMethod::Spawn,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }
}

/// Everything the probes of one run wrote. A probe that was not injected is None.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeData {
    pub preload: Option<PreloadData>,
    pub python: Option<PythonData>,
}

/// The LD_PRELOAD probe's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PreloadData {
    /// One entry per process image (a process that execs shows up once per image, same pid).
    pub processes: Vec<PreloadProcess>,
    /// Process images that found the counter file full and ran uncounted.
    pub dropped_processes: u64,
}

/// One process image's I/O, as the preload probe saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PreloadProcess {
    pub pid: i32,
    pub ppid: i32,
    /// The thread name when the image started (`/proc/PID/comm`, at most 15 bytes).
    pub comm: String,
    /// `/proc/PID/exe` when the image started.
    pub exe: String,
    /// The image is a fork child that had not exec'd (it shares the parent's executable).
    pub forked: bool,
    /// How the process was seen to leave; None: killed by a signal, replaced by exec, or still
    /// running when the run ended.
    pub exit: Option<ExitPath>,
    /// From the image's start to its exit, when an exit was seen.
    pub lifetime_s: Option<f64>,
    /// Classifications that found the row table full and went to a kind's overflow row.
    pub rows_overflowed: u64,
    pub rows: Vec<IoRow>,
    /// SQLite's write lock held by this process, per resource it was held on (empty where it
    /// never was, and in recordings older than the counters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<LockRow>,
}

/// SQLite's write lock held by one process on files of one resource (the preload probe times
/// each hold from the `fcntl` that takes the lock's byte to the one that releases it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LockRow {
    pub kind: FdKind,
    /// The resource, as in [`IoRow::peer`]: for a database, its folder.
    pub peer: Option<String>,
    /// Holds taken and released.
    pub holds: u64,
    /// Wall time from each take to its release, summed, in ns.
    pub held_ns: u64,
}

/// How a process left, as far as the preload probe could see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExitPath {
    /// `exit()` / return from main (atexit handlers ran).
    Exit,
    /// `_exit()` / `_Exit()` (e.g. Python's `os._exit`, how multiprocessing fork workers leave).
    UnderscoreExit,
}

/// What an fd was.
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
pub enum FdKind {
    Pipe,
    Unix,
    Tcp,
    Udp,
    File,
    Other,
}

/// Direction of an I/O call.
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
pub enum IoDir {
    /// read, recv, ... (and the source side of sendfile/splice/copy_file_range).
    In,
    /// write, send, ... (and the destination side of sendfile/splice/copy_file_range).
    Out,
    /// fsync / fdatasync: calls and time, no bytes.
    Sync,
}

/// Totals of one (kind, peer, direction) in one process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(from = "IoRowWire")]
pub struct IoRow {
    pub kind: FdKind,
    /// The resource: `pipe:[ino]`; a unix socket's path (or `socket:[ino]` when unnamed); a tcp/udp
    /// `addr:port`; a regular file's directory; what `/proc/PID/fd` shows for anything else.
    /// None for an unconnected socket, or for the overflow row.
    pub peer: Option<String>,
    /// `peer` is this process's own listening address: the process accepted these connections
    /// (it is the server of this resource).
    #[serde(default)]
    pub accepted: bool,
    /// The row collects the peers of this kind that did not fit in the per-process table.
    #[serde(default)]
    pub overflow: bool,
    /// A pipe or an unnamed socket pair: the pool's own plumbing, decided when the row was read.
    #[serde(default)]
    pub plumbing: bool,
    /// The service at `peer`, where its port or socket name says which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<super::Service>,
    pub dir: IoDir,
    pub bytes: u64,
    pub calls: u64,
    /// Wall time spent inside the calls (blocked plus copying), in ns. For a two-fd copy the time
    /// is on the `out` side only.
    pub blocked_ns: u64,
}

/// The Python probe's records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PythonData {
    /// One entry per interpreter (fork children included).
    pub processes: Vec<PythonProcess>,
}

/// One interpreter's multiprocessing picture.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PythonProcess {
    pub pid: i32,
    pub ppid: i32,
    /// `process`, `mp_child`, `pool_worker`, `process_pool_worker`, `forkserver`,
    /// `resource_tracker`, or an engine's: `loky_worker`, `dask_worker`, `ray_worker`, `ray_actor`.
    pub role: String,
    /// How the interpreter started: `exec`, `fork`, `spawn` or `forkserver`.
    pub started_by: String,
    /// Bytes and time of multiprocessing/concurrent.futures pickling in this process (sending).
    pub pickled_bytes: u64,
    pub pickle_s: f64,
    pub pickle_calls: u64,
    /// Bytes and time of unpickling in this process (receiving).
    pub unpickled_bytes: u64,
    pub unpickle_s: f64,
    pub unpickle_calls: u64,
    /// Bytes passed by reference through shared memory: arrays joblib memory-maps into
    /// /dev/shm, objects `ray.put` places in Ray's object store once (sending side).
    #[serde(default)]
    pub shared_bytes: u64,
    /// Seconds spent placing them (joblib's first dump of each array into /dev/shm happens
    /// inside a pickling call; this time is not the pickling's).
    #[serde(default)]
    pub shared_s: f64,
    /// Bytes serialised into an object store once per call: a large argument passed to a Ray
    /// task by value is copied into the store for every task. A copy, like pickled bytes.
    #[serde(default)]
    pub stored_bytes: u64,
    #[serde(default)]
    pub stored_s: f64,
    /// Tasks run in this process: one call of the user's function (each item of a map chunk).
    pub tasks: u64,
    pub tasks_by_source: TaskSources,
    /// Pool / ProcessPoolExecutor work messages this worker handled (map chunks count once).
    pub chunks: u64,
    /// Each task's duration, in completion order; cut at 262144 (`task_durations_truncated`),
    /// while the sums below cover every task.
    pub task_durations_s: Vec<f64>,
    pub task_durations_truncated: bool,
    pub task_s_sum: f64,
    /// Sum of squared durations, in s².
    pub task_s_sumsq: f64,
    pub task_s_min: Option<f64>,
    pub task_s_max: Option<f64>,
    /// Chunksizes of the map calls this process made.
    pub chunksizes: Vec<ChunksizeRecord>,
    /// Pools and executors this process created.
    pub pools: Vec<PoolRecord>,
    /// The start method of the processes this process started (the most used one), else of the
    /// last process pool it created; None when it started none.
    pub start_method: Option<StartMethod>,
    pub process_starts: ProcessStarts,
    /// `os.fork()` calls in this process and the threads alive at the first ones.
    pub forks: u64,
    pub threads_at_fork: Vec<ThreadsAtFork>,
    pub max_python_threads_at_fork: Option<u64>,
    pub max_os_threads_at_fork: Option<u64>,
    /// Events (pools, chunksizes, forks) that did not fit in the record; their sums are still right.
    pub events_dropped: u64,
    /// Processes this process started (multiprocessing, any method), in order; the events that
    /// did not fit are counted in `events_dropped`.
    #[serde(default)]
    pub starts: Vec<ProcessStart>,
    /// Most threads alive in this process when it started a process (any method); None when it
    /// started none.
    #[serde(default)]
    pub max_python_threads_at_start: Option<u64>,
    #[serde(default)]
    pub max_os_threads_at_start: Option<u64>,
    /// The monotonic clock (CLOCK_MONOTONIC, ns) when the probe started recording in this
    /// interpreter (at its start, or right after its fork).
    #[serde(default)]
    pub created_at_ns: Option<u64>,
    /// The monotonic clock (CLOCK_MONOTONIC, ns, one clock for the host) when this worker's
    /// first pool task began; None when it ran none.
    #[serde(default)]
    pub first_task_at_ns: Option<u64>,
    /// The GIL knocker's counts in this pool worker; None where it did not run.
    #[serde(default)]
    pub gil_knocks: Option<GilKnocks>,
    /// The interpreter runs with a GIL (always before 3.13); false on a free-threaded build with
    /// the GIL off; None when the record predates the field.
    #[serde(default)]
    pub gil_enabled: Option<bool>,
    /// A free-threaded build (Py_GIL_DISABLED); `gil_enabled` is then read again at the first
    /// task, after the worker's imports (an extension can turn the GIL back on). None when the
    /// record predates the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_threaded: Option<bool>,
    /// The Ray actor this process served (its id and class), when it served one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<RayActor>,
    /// Time this process's tasks waited for Ray actors' replies (a `ray.get` of an actor
    /// method's result), per actor: Ray's core worker waits on a condition variable, which the
    /// sampler sees only as a futex.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actor_waits: Vec<ActorWait>,
    /// Database transactions (psycopg) that wrote a row an earlier transaction of this process
    /// wrote (the same statement, the same parameters: a hot row), and the seconds from that
    /// write to their end, while they held its lock. Every worker running the same code takes
    /// that lock, so the span is serial across workers, even where one worker shows no wait.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub row_holds: u64,
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub row_hold_s: f64,
}

/// A Ray actor, as the process that serves it names itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RayActor {
    /// Ray's actor id, hex.
    pub id: String,
    /// The actor's class (`Writer` for `@ray.remote class Writer`).
    pub class_name: String,
}

/// The waits of one process's tasks on one actor's replies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActorWait {
    /// The actor's id, hex (`RayActor::id` of the process that serves it).
    pub actor: String,
    /// Seconds inside `ray.get` for its results.
    pub wait_s: f64,
    /// How many such gets.
    pub calls: u64,
}

/// One process started by multiprocessing, as its parent saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProcessStart {
    pub pid: Option<i32>,
    pub method: StartMethod,
    /// The parent's monotonic clock (ns) when it called `Process.start()`.
    pub at_ns: u64,
    /// Threads alive in the parent then (`threading.active_count()`, `/proc/self/task`).
    pub python_threads: u64,
    pub os_threads: u64,
}

/// How often a pool worker's knocker thread found the GIL held while a task ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GilKnocks {
    /// Knocks that fell inside a task.
    pub knocks: u64,
    /// ... that waited at least a fifth of the switch interval for the GIL (it was held).
    pub held: u64,
    /// Their summed waits for the GIL (past the sleep, run-queue time taken out), seconds.
    pub wait_s: f64,
    /// The knocker's sleep between knocks, seconds.
    pub interval_s: f64,
    /// `sys.getswitchinterval()`, seconds.
    pub switch_interval_s: f64,
    /// The knocker thread's own on-CPU time, seconds: what it cost.
    #[serde(default)]
    pub cpu_s: f64,
}

/// Tasks per kind of pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskSources {
    /// multiprocessing.Pool (and ThreadPool) tasks.
    pub pool: u64,
    /// concurrent.futures.ProcessPoolExecutor calls.
    pub process_pool: u64,
    /// concurrent.futures.ThreadPoolExecutor work items.
    pub thread_pool: u64,
    /// Calls run by an engine's workers: joblib (any backend), Dask, Ray.
    #[serde(default)]
    pub engine: u64,
}

/// Processes started, by start method.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProcessStarts {
    pub fork: u64,
    pub spawn: u64,
    pub forkserver: u64,
}

/// One map call's chunking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChunksizeRecord {
    /// `map` (also map_async), `starmap`, `imap`, `imap_unordered`, `executor_map`.
    pub api: String,
    pub chunksize: u64,
    /// The caller left chunksize out and this is the library's default.
    pub default: bool,
    /// Items in the iterable, when it had a length.
    pub items: Option<u64>,
    /// Workers in the pool.
    pub workers: Option<u64>,
}

/// One pool or executor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PoolRecord {
    /// `Pool`, `ThreadPool`, `ProcessPoolExecutor`.
    pub api: String,
    pub workers: Option<u64>,
    /// `multiprocessing.get_start_method(allow_none=True)` of the pool's context; None for thread
    /// pools and when no method was fixed yet.
    pub start_method: Option<StartMethod>,
}

/// Threads alive in the parent at one fork.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ThreadsAtFork {
    /// `threading.active_count()`.
    pub python_threads: u64,
    /// Entries of `/proc/self/task` (native threads too, e.g. a BLAS pool).
    pub os_threads: u64,
}

/// [`IoRow`] as read from a report: reports written before the probe's reader decided
/// `plumbing` lack it, and get it from the peer it wrote then (a pipe, or an unnamed socket
/// pair's `socket:[ino]`), once, here.
#[derive(Deserialize, schemars::JsonSchema)]
struct IoRowWire {
    kind: FdKind,
    peer: Option<String>,
    #[serde(default)]
    accepted: bool,
    #[serde(default)]
    overflow: bool,
    #[serde(default)]
    plumbing: Option<bool>,
    #[serde(default)]
    service: Option<super::Service>,
    dir: IoDir,
    bytes: u64,
    calls: u64,
    blocked_ns: u64,
}

impl From<IoRowWire> for IoRow {
    fn from(w: IoRowWire) -> Self {
        let unnamed = w.peer.as_deref().is_some_and(|p| p.starts_with("socket:["));
        IoRow {
            plumbing: w
                .plumbing
                .unwrap_or(w.kind == FdKind::Pipe || (w.kind == FdKind::Unix && unnamed)),
            kind: w.kind,
            peer: w.peer,
            accepted: w.accepted,
            overflow: w.overflow,
            service: w.service,
            dir: w.dir,
            bytes: w.bytes,
            calls: w.calls,
            blocked_ns: w.blocked_ns,
        }
    }
}

fn is_zero(x: &u64) -> bool {
    *x == 0
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}
