//! What the procfs sampler saw during one run: a timeline of the tree and a record per task.

use super::resource::{ResourceKind, Service, Written};
use serde::{Deserialize, Serialize};

/// The procfs sampler's output for one run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Which source built the timeline, the threads' on-CPU, run-queue and lifetime figures:
    /// `perf_switch` (exact, from context-switch and task records) or `procfs` (ticks; absent in
    /// reports written before switch records existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<super::Source>,
    /// Why switch records were not used for this run (no permission, forced off), with the fix;
    /// None when they were used or never tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switches_unavailable: Option<String>,
    /// What the context-switch collector did, when it built this data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switches: Option<SwitchStats>,
    /// One entry per tick, in time order. From switch records a tick is a fixed-width bin
    /// (`switches.bin_s`) ending at `t_s`, never late. Kept in the raw file only (report.json
    /// leaves it out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Tick>,
    /// Every process of the tree that the sampler saw (exited ones included). Raw file only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessRecord>,
    /// The cap on processes tracked at once (`--max-processes`), when the tree reached it.
    #[serde(default)]
    pub process_cap: Option<u32>,
    /// Processes of the tree that joined while the cap was reached and were never sampled.
    #[serde(default)]
    pub untracked_processes: u64,
    /// CLOCK_MONOTONIC (ns) at t = 0 of the timeline: where the python probe's clock stamps
    /// (a worker's first task) fall on it. Absent in reports written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t0_monotonic_ns: Option<u64>,
}

/// The whole tree at one tick; rates are over the interval since the previous tick.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IoCounters {
    pub rchar: u64,
    pub wchar: u64,
    pub syscr: u64,
    pub syscw: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
}

/// One thread (task) of a process.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Exact off-CPU time not runnable (blocked, asleep), in seconds; switch records only. A
    /// woken thread's wait for a CPU is in `runqueue_s` when `switches.wakeups_traced`, else
    /// here (switch records alone cannot split it from the sleep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_s: Option<f64>,
    /// Voluntary switches out (the thread blocked); switch records only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voluntary_switches: Option<u64>,
    /// Switches out while still runnable (preempted); switch records only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preempted_switches: Option<u64>,
}

/// What the context-switch collector did in one run (all counts over the whole run).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SwitchStats {
    /// CPUs with a ring buffer.
    pub cpus: u32,
    /// Bytes of ring buffer per CPU (data pages, a power of two).
    pub ring_bytes_per_cpu: u64,
    /// Records read: switches, forks, exits, comms.
    pub records: u64,
    pub switch_records: u64,
    pub task_records: u64,
    /// sched_wakeup records: a woken thread's wait for a CPU counts as runnable.
    #[serde(default)]
    pub wake_records: u64,
    /// Whether sched_wakeup could be traced (root and tracefs); without it a woken thread's
    /// wait for a CPU counts as blocked, and `wakeups_unavailable` says why.
    #[serde(default)]
    pub wakeups_traced: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wakeups_unavailable: Option<String>,
    /// Switches in straight from blocked, with no wake-up record between: how many wake-ups
    /// the records missed (all of them when wake-ups are not traced).
    #[serde(default)]
    pub unseen_wakeups: u64,
    /// Wake-up records for a thread that was not blocked then (already runnable or running).
    #[serde(default)]
    pub ignored_wakeups: u64,
    /// Records older than their thread's last one (clamped): a sign of rings drained unevenly.
    #[serde(default)]
    pub reordered_records: u64,
    /// Records the kernel dropped because a ring was full (PERF_RECORD_LOST); when not 0 the
    /// intervals around the loss are wrong and the report says so.
    pub lost_records: u64,
    /// Records that could not be parsed (short, unknown layout).
    pub bad_records: u64,
    /// Width of one timeline bin, in seconds (doubled whenever the run outgrew the bin cap).
    pub bin_s: f64,
    /// Times the collector woke to drain the rings and name waits (jittered, exponential gaps).
    pub wakeups: u64,
    /// Wake-ups that came later than one mean gap after they were due (the timeline's bins
    /// are never late: they come from the records' own times).
    pub late_wakeups: u64,
    /// Blocked intervals named by reading /proc (syscall, fd): at most one read per interval.
    pub wait_lookups: u64,
    /// Largest number of records one drain found in one ring, and that ring's capacity in
    /// records of the usual size: how close the rings came to overflowing.
    pub max_drain_records: u64,
    pub ring_capacity_records: u64,
    /// Threads and processes the task records showed.
    pub threads_seen: u64,
    pub processes_seen: u64,
    /// Wall time to open the rings on the gated child, in seconds.
    #[serde(default)]
    pub attach_s: f64,
    /// Wall time from the tree's reaping to the data in hand (last drain, bins into ticks),
    /// in seconds.
    #[serde(default)]
    pub collect_s: f64,
    /// Memory the collector held for intervals and bins at its peak, in bytes (estimate:
    /// element counts times sizes).
    pub peak_state_bytes: u64,
}

/// Ticks (and off-CPU time) a thread spent blocked on one resource in one syscall.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
