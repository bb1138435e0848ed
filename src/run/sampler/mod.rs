//! The procfs sampler (DESIGN 2.3): a thread that sweeps the target's whole process tree
//! (short-lived children and every thread included) at up to 100 Hz and records the busy-cores
//! timeline, run-queue delay, a record per process and thread, and what blocked threads wait on.
//!
//! Layout: `sys` is the raw ABI (kept-open fds, getdents64, thread clock, netlink,
//! process_vm_readv), `parse` the file formats, `discover` finds the tree's processes, `process`
//! and `thread` sweep them, `blocked` reads a blocked thread's syscall, `wait` classifies it,
//! `resolve` (with `unixdiag`) names the resource, `tree` folds a sweep into the data, `rate`
//! paces the ticks. This file is the thread and its API.
//!
//! Ticks come at jittered, exponentially distributed gaps around the period (`jitter`), so a
//! periodic workload cannot alias with them. Where switch records give the timeline
//! (`run::switches`), only `namer` runs: it names the waits of threads that stay blocked.
//!
//! Each tick is a value: a [`Tick`](crate::measure::Tick) with its lateness and errors attached
//! (STYLE 7). A bad read is counted, never fatal; a task that vanished is not an error.

mod blocked;
mod discover;
pub(crate) mod jitter;
pub(crate) mod namer;
mod parse;
mod process;
mod rate;
mod resolve;
mod sys;
mod thread;
mod tree;
mod unixdiag;
mod wait;

pub(crate) use resolve::{pool_socket_path, service_at_path, service_at_port};

use crate::measure::{SamplerData, Source};
use jitter::Jitter;
use rate::Pace;
use std::io;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tree::Tree;

/// How the sampler paces itself.
#[derive(Debug, Clone)]
pub struct SamplerConfig {
    /// Ticks per second; None = adaptive (100 Hz for small trees, lowered so the sampler stays
    /// under ~2 % of one core).
    pub requested_hz: Option<f64>,
    /// Time between the slower per-process reads (PSS from smaps_rollup, /proc/PID/io,
    /// exe/cmdline), e.g. 0.5 s; stretched when reading every process that often would cost
    /// more than the budget.
    pub pss_every: Duration,
    /// Most processes tracked at once; later ones are counted, not sampled (a fork storm must
    /// not make the sampler's cost and the report grow without bound).
    pub max_processes: u32,
    /// The tree's subreaper (the runner's keeper), whose children are all orphans of the tree.
    pub adopter: Option<i32>,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            requested_hz: None,
            pss_every: Duration::from_millis(500),
            max_processes: 256,
            adopter: None,
        }
    }
}

/// A running sampler; [`SamplerHandle::finish`] stops it and returns what it saw.
#[derive(Debug)]
pub struct SamplerHandle {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<SamplerData>,
    requested_hz: Option<f64>,
}

/// Starts the sampler thread on the tree rooted at `root_pid`; `t0` is the instant the target
/// is released (times in the data are seconds since t0, negative before it).
///
/// The baseline sweep runs before this returns, so a gated root is known before release.
/// Fails when the root does not exist or /proc cannot be listed.
pub fn start(root_pid: i32, t0: Instant, config: SamplerConfig) -> io::Result<SamplerHandle> {
    // More fds than the default soft limit are needed for big trees; when raising fails the
    // sampler still runs and counts the opens that fail.
    let _ = sys::raise_nofile_limit();
    let cpu_before = sys::thread_cpu_time();
    let pace = Pace::new(config.requested_hz, config.pss_every);
    let tree = Tree::new(
        root_pid,
        t0,
        pace,
        config.requested_hz,
        config.max_processes,
        config.adopter,
    )?;
    let baseline_cpu = sys::thread_cpu_time().saturating_sub(cpu_before);
    let (stop, stop_rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("forkcast-sampler".into())
        .spawn(move || run(tree, stop_rx, baseline_cpu))?;
    Ok(SamplerHandle {
        stop,
        thread,
        requested_hz: config.requested_hz,
    })
}

impl SamplerHandle {
    /// Stops sampling (takes a last tick first) and returns what was seen.
    pub fn finish(self) -> SamplerData {
        let _ = self.stop.send(());
        match self.thread.join() {
            Ok(data) => data,
            // A panic in the sampler must not take the run down: report an empty, errored sample.
            Err(_) => SamplerData {
                requested_hz: self.requested_hz,
                errors: 1,
                ..SamplerData::default()
            },
        }
    }
}

/// The sampler thread: sleep until the next tick is due (or the stop message), sweep, adapt.
fn run(mut tree: Tree, stop: mpsc::Receiver<()>, baseline_cpu: Duration) -> SamplerData {
    let cpu_start = sys::thread_cpu_time();
    let mut cpu_prev = cpu_start;
    let mut jitter = Jitter::new();
    let mut due = Instant::now() + jitter.gap(tree.pace.period());
    // Anything but a timeout (the stop message, or the handle dropped) ends the loop.
    while let Err(RecvTimeoutError::Timeout) =
        stop.recv_timeout(due.saturating_duration_since(Instant::now()))
    {
        let now = Instant::now();
        let late = now.saturating_duration_since(due);
        let cost = tree.sweep(now, late.as_secs_f64());
        let cpu_now = sys::thread_cpu_time();
        tree.pace.tick_cost(
            cpu_now
                .saturating_sub(cpu_prev)
                .saturating_sub(cost.slow_cpu),
        );
        cpu_prev = cpu_now;
        let period = tree.pace.period();
        let gap = jitter.gap(period);
        // Fell behind by more than a period: start afresh from now instead of bursting.
        due = if late > period { now + gap } else { due + gap };
    }
    tree.sweep(Instant::now(), 0.0);
    let cpu = sys::thread_cpu_time().saturating_sub(cpu_start) + baseline_cpu;
    let mut data = tree.into_data(cpu);
    data.source = Some(Source::Procfs);
    data
}
