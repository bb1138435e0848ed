//! Every threshold of the decision tree, in one place, each with why it is what it is.
//!
//! Each threshold is a `Threshold` constant, a row of the table `ALL`: the steps, the findings
//! and the confidence read `X.value` (or print `{X}`), and `forkcast explain` prints `ALL`. Two
//! tests keep it so: every constant here is in `ALL`, and no step writes a number of its own
//! (thresholds/literals.rs).

use crate::diagnose::StepId;
use std::fmt;

/// One named threshold: a row of the table.
#[derive(Debug)]
pub struct Threshold {
    /// The constant's name, as the code reads it.
    pub name: &'static str,
    /// Where it is read.
    pub used_by: UsedBy,
    /// What is compared with it.
    pub what: &'static str,
    pub value: f64,
    /// The unit of `value` (a share is 0..1).
    pub unit: &'static str,
    /// Why the value is what it is, in a line.
    pub why: &'static str,
}

/// Prints the value, so a step's rule text can say `{CPU_BOUND_ON_CPU_SHARE}`.
impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}

/// The part of the diagnosis that reads a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsedBy {
    Step(StepId),
    Findings,
    Confidence,
}

impl fmt::Display for UsedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsedBy::Step(id) => f.pad(id.as_str()),
            UsedBy::Findings => f.pad("finding"),
            UsedBy::Confidence => f.pad("confidence"),
        }
    }
}

/// Work that wants a CPU (running or runnable) at least this share of the time the workers
/// held it (the accounting at the smallest count, net of sinks and transfer) is CPU-bound:
/// below it, waits take over 30 % of that time and overlapping them (async, threads) gains
/// more than adding cores.
pub const CPU_BOUND_ON_CPU_SHARE: Threshold = Threshold {
    name: "CPU_BOUND_ON_CPU_SHARE",
    used_by: UsedBy::Step(StepId::CpuBound),
    what: "the accounting's (useful + run_queue) / (useful + run_queue + gil + locks + other + waits on sources) at the smallest count: the on-CPU share of the time the workers held work, net of sinks however long and of transfer",
    value: 0.7,
    unit: "share",
    why: "below it, waits take over 30 % of the time: overlapping them gains more than cores",
};

/// Threads scale when each thread past the first adds at least this share of a core's
/// throughput: (S(n) - 1) / (n - 1) >= 0.5. Threads taking turns on the GIL add none, work that
/// releases it adds ~0.9: half is the midpoint, so the answer says which of the two the work is
/// nearer. A flat bar on efficiency cannot say that at every n: 0.6 at 2 threads is a speedup
/// of 1.2, a fifth of a core for the thread added (lab 02's work, holding the GIL 45 % of its
/// time, reaches 1.2-1.3 in real threads while its processes reach 1.9).
pub const THREADS_SCALE_MARGINAL: Threshold = Threshold {
    name: "THREADS_SCALE_MARGINAL",
    used_by: UsedBy::Step(StepId::ThreadsScale),
    what: "throughput each thread past the first adds, in cores, at n = min(cores, max n)",
    value: 0.5,
    unit: "cores",
    why: "GIL-bound threads add ~0, code releasing the GIL ~0.9: the midpoint says which the work is nearer",
};

/// The efficiency at `n` threads that `THREADS_SCALE_MARGINAL` asks for: (1 + (n - 1) / 2) / n,
/// 0.75 at 2 threads, 0.625 at 4, towards 0.5 on many cores.
pub fn threads_scale_efficiency(n: f64) -> f64 {
    (1.0 + THREADS_SCALE_MARGINAL.value * (n - 1.0).max(0.0)) / n.max(1.0)
}

/// The share of their working time (useful, plus waits for the GIL and locks while holding a
/// task) that threads measured at `n` may lose to taking turns and still add
/// `THREADS_SCALE_MARGINAL` of a core each past the first: 1 - threads_scale_efficiency(n) =
/// (n - 1) / (2n), 0.25 at 2 threads, towards 0.5 on many cores. Threads on one GIL lose
/// (n - 1) / n of it (one of n runs at a time), threads that release it ~0: the bar is their
/// midpoint. Past it, threads give up more than half of every added worker, which processes win
/// back unless their start-up and pickling cost as much (start_method and large_payload measure
/// those). The GIL figure's Amdahl prediction is the same quantity, 1 - S(n) / n, so both paths
/// hold one share to one bar.
pub fn threads_serialised_share(n: f64) -> f64 {
    1.0 - threads_scale_efficiency(n)
}

/// A step to more workers pays while it returns at least a quarter of the ideal gain for the
/// workers added; past that, the extra memory and contention buy little.
pub const WORKER_STEP_MARGINAL_EFFICIENCY: Threshold = Threshold {
    name: "WORKER_STEP_MARGINAL_EFFICIENCY",
    used_by: UsedBy::Step(StepId::WorkerCount),
    what: "marginal efficiency of a step to more workers",
    value: 0.25,
    unit: "share",
    why: "a step must return a quarter of the ideal gain for the workers it adds",
};

/// A sink is contended when it costs at least this share of the worker slots' time at the
/// largest count (its `sink:<name>` lost cores over n, from the accounting): a tenth of the
/// pool's time queued on one resource is capacity a single batched writer would give back.
pub const SINK_WAIT_SHARE: Threshold = Threshold {
    name: "SINK_WAIT_SHARE",
    used_by: UsedBy::Step(StepId::SharedSink),
    what: "one sink's lost cores over n at the largest count (and rising with n)",
    value: 0.10,
    unit: "share",
    why: "a tenth of the pool's time queued on one resource is worth a batched writer",
};

/// The sink's lost cores per useful core (its wait per second of useful CPU) must grow by at
/// least this factor from the smallest to the largest count to count as rising. A sink that
/// serves the workers side by side keeps it flat (each task waits as long at every count);
/// one they queue on grows it. The growth is the ratio of the runs' means, and decides only
/// when its 90 % interval over the runs clears the bar, so the margin need only cover what
/// the interval does not: the same work measured at two counts (caches, the host) differs by
/// a few percent.
pub const SINK_RISE_FACTOR: Threshold = Threshold {
    name: "SINK_RISE_FACTOR",
    used_by: UsedBy::Step(StepId::SharedSink),
    what: "growth of the sink's lost cores per useful core from the smallest to the largest count",
    value: 1.1,
    unit: "factor",
    why: "rising means more than run-to-run noise; per CPU second so CPU contention cannot hide it",
};

/// Task durations vary a lot when their standard deviation reaches their mean: then a static
/// split leaves workers idle behind the longest chunk.
pub const TASK_DURATION_CV: Threshold = Threshold {
    name: "TASK_DURATION_CV",
    used_by: UsedBy::Step(StepId::TaskVariance),
    what: "coefficient of variation of task durations",
    value: 1.0,
    unit: "CV",
    why: "stddev >= mean: static chunks leave workers idle behind the longest one",
};

/// A spread of task durations needs this many tasks to mean anything.
pub const MIN_TASKS_FOR_CV: Threshold = Threshold {
    name: "MIN_TASKS_FOR_CV",
    used_by: UsedBy::Step(StepId::TaskVariance),
    what: "tasks a duration spread is read from",
    value: 10.0,
    unit: "tasks",
    why: "fewer tasks give a CV that one long task can swing",
};

/// At least this share of the worker slots' time with no task while other workers still
/// worked (the accounting's `imbalance` lost cores over n, at the largest count within the
/// cores) answers uneven tasks where none was timed, and for task processes in slots beside
/// their spread: a static split that leaves 15 % of the slots idle is capacity a dynamic
/// hand-out of small tasks gives back, whatever left them idle (uneven tasks, a worker the host
/// slowed). The accounting puts threads taking turns on the GIL in `gil` and a worker's own
/// wait for a CPU in `run_queue`, so those never reach it.
pub const IMBALANCE_SHARE: Threshold = Threshold {
    name: "IMBALANCE_SHARE",
    used_by: UsedBy::Step(StepId::TaskVariance),
    what: "the accounting's imbalance: lost cores over n at the largest count within the cores (slots with no task while others work)",
    value: 0.15,
    unit: "share",
    why: "a static split that idles 15 % of the slots is capacity a dynamic hand-out gives back",
};

/// A task ships a big object when a mebibyte or more crosses a pipe for it: pickling and
/// copying that much costs milliseconds, the size of a small task's whole work.
pub const LARGE_PAYLOAD_BYTES_PER_TASK: Threshold = Threshold {
    name: "LARGE_PAYLOAD_BYTES_PER_TASK",
    used_by: UsedBy::Step(StepId::LargePayload),
    what: "bytes between processes per task",
    value: 1048576.0,
    unit: "bytes",
    why: "a mebibyte per task costs milliseconds of pickling and copying",
};

/// A Linux pipe holds 16 pages (64 KiB) by default: a message that fits moves in one write,
/// and the workers' waits on such messages are the driver's handling of each, not their bytes.
pub const LARGE_PAYLOAD_PIPE_BYTES: Threshold = Threshold {
    name: "LARGE_PAYLOAD_PIPE_BYTES",
    used_by: UsedBy::Step(StepId::LargePayload),
    what: "bytes per task over which the transfer share decides (a pipe's default capacity)",
    value: 65536.0,
    unit: "bytes",
    why: "a message a pipe holds whole moves in one write: waits on it are per message, which references do not remove",
};

/// ... or, over a pipeful, when moving them costs the workers a tenth of their time.
pub const LARGE_PAYLOAD_TRANSFER_SHARE: Threshold = Threshold {
    name: "LARGE_PAYLOAD_TRANSFER_SHARE",
    used_by: UsedBy::Step(StepId::LargePayload),
    what: "share of the workers' slot-time (n x wall) lost to transfer: pickling, and waits on the pool's pipes while the driver fed them (the accounting), at the largest probed count",
    value: 0.10,
    unit: "share",
    why: "a tenth of the workers' time spent moving data is worth passing references instead",
};

/// The GIL knocks (python probe, one per 40 ms of task time, pooled over a series) are a
/// binomial sample of the task time: the GIL-held share decides only when its Wilson interval
/// at this many standard errors (95 %) lies on one side of the bar. A dozen knocks settle work
/// that holds the GIL always or never; near the bar it takes many more, and short of them the
/// answer is unknown, not a coin toss.
pub const GIL_SHARE_Z: Threshold = Threshold {
    name: "GIL_SHARE_Z",
    used_by: UsedBy::Step(StepId::ThreadsScale),
    what: "standard errors of the GIL-held share's interval that must clear the bar",
    value: 1.96,
    unit: "std errors",
    why: "the knocks sample the task time: a 95 % interval on one side of the bar decides",
};

/// fork is safe only from a parent with this many threads (itself): a forked child gets a
/// snapshot of every lock another thread held at that instant, and nobody to release it.
pub const FORK_SAFE_THREADS: Threshold = Threshold {
    name: "FORK_SAFE_THREADS",
    used_by: UsedBy::Step(StepId::StartMethod),
    what: "threads in the parent when it starts workers for fork to be safe",
    value: 1.0,
    unit: "threads",
    why: "a forked child inherits other threads' held locks with nobody to release them",
};

/// Workers may use at most this share of the memory available at the start.
pub const WORKER_MEMORY_SHARE: Threshold = Threshold {
    name: "WORKER_MEMORY_SHARE",
    used_by: UsedBy::Step(StepId::WorkerCount),
    what: "share of available memory the workers may use",
    value: 0.8,
    unit: "share",
    why: "leave room for the page cache and everything else on the host",
};

/// Speedup below this from the smallest to the largest (non-oversubscribed) count means wall
/// time barely moved: something other than CPU is the bottleneck.
pub const FLAT_CURVE_SPEEDUP: Threshold = Threshold {
    name: "FLAT_CURVE_SPEEDUP",
    used_by: UsedBy::Findings,
    what: "speedup below which the curve is called flat",
    value: 1.2,
    unit: "speedup",
    why: "wall time that barely moves as workers grow means another bottleneck",
};

/// A larger count came out slower than a smaller one only when even its fastest run took this
/// factor longer than the smaller count's slowest run: 2 % over the whole spread of the runs.
pub const SLOWER_BEYOND_NOISE: Threshold = Threshold {
    name: "SLOWER_BEYOND_NOISE",
    used_by: UsedBy::Findings,
    what: "fastest run at n+ over slowest run at n for \"n+ workers came out slower\"",
    value: 1.02,
    unit: "factor",
    why: "beyond the runs' whole spread, with a margin, so noise is never called a slowdown",
};

/// Up to this many processes of the tree that were not workers are not worth a word; more are
/// launchers (a pyenv shim, shells, helpers) the reader should know were left out.
pub const LAUNCHERS_WORTH_A_FINDING: Threshold = Threshold {
    name: "LAUNCHERS_WORTH_A_FINDING",
    used_by: UsedBy::Findings,
    what: "processes of the tree that were not workers",
    value: 10.0,
    unit: "processes",
    why: "a few helpers are normal; ten or more change what the per-worker figures leave out",
};

/// The replayed curve rises past this host when 2 x its cores beat the cores' own speedup (or
/// one worker's, when the cores did worse) by this factor: a tenth more, beyond the replay's
/// rounding, before a bigger machine is worth its price.
pub const PAST_HOST_STILL_RISING: Threshold = Threshold {
    name: "PAST_HOST_STILL_RISING",
    used_by: UsedBy::Findings,
    what: "replayed speedup at 2 x the cores over the cores' own (at least 1 worker's)",
    value: 1.1,
    unit: "factor",
    why: "a tenth more throughput is the least a bigger machine or a cluster must buy",
};

/// A cluster pays while the network time of a task's bytes stays under this share of its
/// compute: a remote worker that waits that share on the wire delivers 1 / (1 + share) of a
/// local one, which eats the tenth that `PAST_HOST_STILL_RISING` asks the curve to gain; and
/// one link to the driver carrying every task's bytes feeds at most 1 / share workers.
pub const CLUSTER_NETWORK_SHARE: Threshold = Threshold {
    name: "CLUSTER_NETWORK_SHARE",
    used_by: UsedBy::Findings,
    what: "a task's bytes on the wire (bytes x 8 / link rate) over its median duration",
    value: 0.1,
    unit: "share",
    why: "past it the wire eats the tenth the curve must gain past this host",
};

/// Wall-time coefficient of variation above which a point's timing is too noisy to trust fully.
pub const NOISY_POINT_CV: Threshold = Threshold {
    name: "NOISY_POINT_CV",
    used_by: UsedBy::Confidence,
    what: "wall-time coefficient of variation of a point",
    value: 0.10,
    unit: "CV",
    why: "above 10 % run-to-run spread, single steps of the curve are within noise",
};

/// Fewer measured runs than this per point lowers confidence.
pub const CONFIDENT_RUNS: Threshold = Threshold {
    name: "CONFIDENT_RUNS",
    used_by: UsedBy::Confidence,
    what: "measured runs per point",
    value: 3.0,
    unit: "runs",
    why: "a median of fewer than 3 runs cannot reject one bad run",
};

/// Share of the sampled blocked time whose cause could not be read (/proc/PID/syscall refused)
/// above which the answers built on what threads wait on (sinks, off-CPU breakdown) are doubted.
pub const UNREADABLE_WAIT_SHARE: Threshold = Threshold {
    name: "UNREADABLE_WAIT_SHARE",
    used_by: UsedBy::Confidence,
    what: "share of blocked time whose cause /proc/PID/syscall could not tell",
    value: 0.2,
    unit: "share",
    why: "with a fifth of the waits unnamed, a sink of that size could hide among them",
};

/// The table: every threshold above, in the order of the tree. `forkcast explain` prints it,
/// and `every_threshold_is_in_the_table` checks that none is left out.
pub const ALL: &[&Threshold] = &[
    &CPU_BOUND_ON_CPU_SHARE,
    &THREADS_SCALE_MARGINAL,
    &GIL_SHARE_Z,
    &LARGE_PAYLOAD_BYTES_PER_TASK,
    &LARGE_PAYLOAD_PIPE_BYTES,
    &LARGE_PAYLOAD_TRANSFER_SHARE,
    &SINK_WAIT_SHARE,
    &SINK_RISE_FACTOR,
    &TASK_DURATION_CV,
    &MIN_TASKS_FOR_CV,
    &IMBALANCE_SHARE,
    &FORK_SAFE_THREADS,
    &WORKER_STEP_MARGINAL_EFFICIENCY,
    &WORKER_MEMORY_SHARE,
    &FLAT_CURVE_SPEEDUP,
    &SLOWER_BEYOND_NOISE,
    &LAUNCHERS_WORTH_A_FINDING,
    &PAST_HOST_STILL_RISING,
    &CLUSTER_NETWORK_SHARE,
    &NOISY_POINT_CV,
    &CONFIDENT_RUNS,
    &UNREADABLE_WAIT_SHARE,
];

/// The table as `forkcast explain` prints it: a row per threshold, then what it is compared
/// with and why it is what it is.
pub fn table() -> String {
    let mut out = String::from("The decision tree's thresholds (src/diagnose/thresholds.rs):\n");
    for t in ALL {
        out.push_str(&format!(
            "  {:<14} {:<32} {:>9} {}\n  {:<14} {} — {}\n",
            t.used_by, t.name, t.value, t.unit, "", t.what, t.why
        ));
    }
    out
}

#[cfg(test)]
mod literals;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `pub const X: Threshold` of this file is a row of `ALL`, so `explain` prints all
    /// of them (MIN_TASKS_FOR_CV once went missing from a hand-kept list).
    #[test]
    fn every_threshold_is_in_the_table() {
        let src = include_str!("thresholds.rs");
        let defined: Vec<&str> = src
            .lines()
            .filter_map(|l| {
                l.strip_prefix("pub const ")?
                    .strip_suffix(": Threshold = Threshold {")
            })
            .collect();
        assert!(defined.len() >= ALL.len(), "{defined:?}");
        let listed: Vec<&str> = ALL.iter().map(|t| t.name).collect();
        assert_eq!(
            defined.len(),
            listed.len(),
            "defined {defined:?}\nlisted {listed:?}"
        );
        for name in &defined {
            assert!(listed.contains(name), "{name} is defined but not in ALL");
        }
        // The network's share eats exactly the rise the curve must show past the host.
        assert!(
            (1.0 + CLUSTER_NETWORK_SHARE.value - PAST_HOST_STILL_RISING.value).abs() < 1e-12,
            "CLUSTER_NETWORK_SHARE and PAST_HOST_STILL_RISING describe one margin"
        );
        let rows = table();
        for t in ALL {
            assert!(
                rows.contains(t.name) && rows.contains(t.why),
                "{} missing",
                t.name
            );
        }
    }
}
