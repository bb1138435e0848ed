//! What the procfs sampler saw during one run: a timeline of the tree and a record per task.

use super::resource::{ResourceKind, Service, Written};
use serde::{Deserialize, Serialize};

/// The procfs sampler's output for one run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SamplerData {
    /// Rate asked for with `--sample-hz`; None means adaptive.
    pub requested_hz: Option<f64>,
    /// Ticks taken divided by the sampled duration.
    pub achieved_hz: f64,
    /// Ticks taken.
    pub ticks: u64,
    /// Ticks that started later than one period after they were due.
    pub late_ticks: u64,
    /// Reads that failed for a reason other than the task having exited.
    pub errors: u64,
    /// CPU time the sampler thread itself used, in seconds.
    pub sampler_cpu_s: f64,
    /// Ticks that listed /proc for new processes (the others saw no task created on the host:
    /// the last allocated pid in /proc/loadavg had not moved).
    #[serde(default)]
    pub discovery_scans: u64,
    /// Sampler CPU spent listing /proc and reading the stat of pids not seen before, in seconds.
    #[serde(default)]
    pub discovery_cpu_s: f64,
    /// One entry per tick, in time order.
    pub timeline: Vec<Tick>,
    /// Every process of the tree that the sampler saw (exited ones included).
    pub processes: Vec<ProcessRecord>,
}

/// The whole tree at one tick; rates are over the interval since the previous tick.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tick {
    /// Seconds since the target was released.
    pub t_s: f64,
    /// Cores in use by the tree: delta of on-CPU time (schedstat) over the interval.
    pub on_cpu_cores: f64,
    /// Threads of the tree waiting in a run queue, on average over the interval (run_delay delta).
    pub runqueue_threads: f64,
    /// Threads in state R at the tick.
    pub running_threads: u32,
    /// Threads alive at the tick.
    pub threads: u32,
    /// Processes alive at the tick.
    pub processes: u32,
    /// How late this tick started after it was due, in seconds (0 when on time).
    #[serde(default)]
    pub late_s: f64,
    /// Reads at this tick that failed for a reason other than the task having exited.
    #[serde(default)]
    pub errors: u32,
}

/// One process of the tree.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub pid: i32,
    pub ppid: i32,
    /// Short name (comm) at the last sample; a process that exec'd shows its last image.
    pub comm: String,
    /// Executable path (/proc/PID/exe), when readable.
    pub exe: Option<String>,
    /// Command line at the last sample.
    pub cmdline: Vec<String>,
    /// Seconds since release when first and last seen.
    pub first_seen_s: f64,
    pub last_seen_s: f64,
    /// Largest proportional set size seen, in bytes.
    pub max_pss_bytes: Option<u64>,
    /// /proc/PID/io at the last sample.
    pub io: Option<IoCounters>,
    /// Pipes, sockets and regular files this process held open, named as in
    /// [`WaitCount::resource`] (both ends of a pipe or socket pair share a name), union over its
    /// sampled life (fds scanned at each slow read; at most 64 names). Tells the pool's own
    /// plumbing (a pipe held by the workers and their parent) from a sink.
    #[serde(default)]
    pub held: Vec<String>,
    /// Files this process held open for writing and named sockets it held (at most 64), with
    /// their class: the resources it can write to, the pool's plumbing left out.
    #[serde(default)]
    pub written: Vec<Written>,
    pub threads: Vec<ThreadRecord>,
}

/// /proc/PID/io counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IoCounters {
    pub rchar: u64,
    pub wchar: u64,
    pub syscr: u64,
    pub syscw: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
}

/// One thread (task) of a process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ThreadRecord {
    pub tid: i32,
    pub comm: String,
    pub first_seen_s: f64,
    pub last_seen_s: f64,
    /// On-CPU time (schedstat sum_exec_runtime) at the last sample, in seconds.
    pub on_cpu_s: f64,
    /// Time runnable but waiting for a CPU (schedstat run_delay) at the last sample, in seconds.
    pub runqueue_s: f64,
    /// Index into the run's timeline of the first tick this thread was seen at.
    pub first_tick: u32,
    /// Cores this thread used over each tick interval from `first_tick` on (0..=1).
    pub busy: Vec<f32>,
    /// The thread's state at each tick from `first_tick` on, one letter per tick: `R` on a CPU,
    /// `Q` runnable but waiting for a CPU (state R with no CPU time over the interval), `S`
    /// sleeping, `D` uninterruptible, `T`/`t` stopped, `Z` exited.
    #[serde(default)]
    pub states: String,
    /// What the thread waited on at the ticks it was found blocked (S or D), one entry per
    /// (resource, syscall).
    #[serde(default)]
    pub waits: Vec<WaitCount>,
}

/// Ticks (and off-CPU time) a thread spent blocked on one resource in one syscall.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "super::resource::WaitCountWire")]
pub struct WaitCount {
    /// The resource: `futex`, `sleep`, `child`, `pipe:[1234]`, `unix:/tmp/x/.s.PGSQL.5432`,
    /// `unix:[a,b]` (an unnamed socket pair, same name from both ends), `tcp:127.0.0.1:5432`,
    /// `tcp:listen:0.0.0.0:80`, `udp:...`, `file:/tmp/out/x.log`, `dev:/dev/pts/0`,
    /// `poll:<r1>,<r2>,+N` (several fds; a poll on one fd is named by that fd), `other:<syscall>`.
    pub resource: String,
    /// Its class: pipe, unix, tcp, udp, file, dev, socket, event, futex, sleep, poll, wait, other.
    pub kind: ResourceKind,
    /// The pool's own plumbing (a pipe, an unnamed socket pair): IPC, never a sink.
    #[serde(default)]
    pub plumbing: bool,
    /// The service it is, where the sampler could tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    /// The syscall the thread was blocked in ("read", "futex", ...; "sys_NR" when unnamed,
    /// "none" when blocked outside a syscall).
    pub syscall: String,
    /// Ticks at which the thread was found blocked on it.
    pub ticks: u32,
    /// Off-CPU seconds attributed to it: at each such tick, the interval minus the thread's
    /// on-CPU and run-queue time in it.
    pub blocked_s: f64,
}
