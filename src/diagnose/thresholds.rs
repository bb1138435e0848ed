//! Every threshold of the decision tree, in one place, each with why it is what it is.
//! `forkcast explain` prints this table.

/// One named threshold.
pub struct Threshold {
    pub step: &'static str,
    pub name: &'static str,
    pub value: f64,
    pub why: &'static str,
}

/// A worker that wants a CPU (running or runnable) at least this share of its life is
/// CPU-bound: below it, waits take over 30 % of its time and overlapping them (async, threads)
/// gains more than adding cores.
pub const CPU_BOUND_ON_CPU_SHARE: f64 = 0.7;

/// The sink sets the pace when the workers wait on it longer than they compute (more than
/// one second per CPU second): even one writer overlapping those waits with the work could
/// not keep up with one worker, so the waits are the workload, not a cost to move aside.
pub const SINK_SETS_PACE_WAIT_PER_CPU_S: f64 = 1.0;

/// Threads scale when each thread past the first adds at least this share of a core's
/// throughput: (S(n) - 1) / (n - 1) >= 0.5. Threads taking turns on the GIL add none, work that
/// releases it adds ~0.9: half is the midpoint, so the answer says which of the two the work is
/// nearer. A flat bar on efficiency cannot say that at every n: 0.6 at 2 threads is a speedup
/// of 1.2, a fifth of a core for the thread added (lab 02's work, holding the GIL 45 % of its
/// time, reaches 1.2-1.3 in real threads while its processes reach 1.9).
pub const THREADS_SCALE_MARGINAL: f64 = 0.5;

/// The efficiency at `n` threads that `THREADS_SCALE_MARGINAL` asks for: (1 + (n - 1) / 2) / n,
/// 0.75 at 2 threads, 0.625 at 4, towards 0.5 on many cores.
pub fn threads_scale_efficiency(n: f64) -> f64 {
    (1.0 + THREADS_SCALE_MARGINAL * (n - 1.0).max(0.0)) / n.max(1.0)
}

/// A step to more workers pays while it returns at least a quarter of the ideal gain for the
/// workers added; past that, the extra memory and contention buy little.
pub const WORKER_STEP_MARGINAL_EFFICIENCY: f64 = 0.25;

/// A sink is contended when the workers spend at least this share of their time waiting on
/// it at the largest count: a tenth of the pool's time queued on one resource is capacity a
/// single batched writer would give back.
pub const SINK_WAIT_SHARE: f64 = 0.10;

/// The sink's wait per second of work must grow by at least this factor from the smallest to
/// the largest count to count as rising: run-to-run noise moves it by a few percent.
pub const SINK_RISE_FACTOR: f64 = 1.1;

/// Task durations vary a lot when their standard deviation reaches their mean: then a static
/// split leaves workers idle behind the longest chunk.
pub const TASK_DURATION_CV: f64 = 1.0;

/// A spread of task durations needs this many tasks to mean anything.
pub const MIN_TASKS_FOR_CV: u64 = 10;

/// Where no task was timed (no python probe), at least this share of the pool's active span
/// ending with workers idle while others still run (a straggler tail, measured from outside)
/// stands in for the CV.
pub const STRAGGLER_TAIL_SHARE: f64 = 0.15;

/// ... and the tail left capacity idle: the workers used at least this many cores fewer over
/// it than before it (a worker's worth, as a worker counts busy at half a core). Threads taking
/// turns on the GIL keep one core busy before the tail and in it, so their tail costs nothing
/// and says nothing about the tasks.
pub const STRAGGLER_IDLE_CORES: f64 = 0.5;

/// A task ships a big object when a mebibyte or more crosses a pipe for it: pickling and
/// copying that much costs milliseconds, the size of a small task's whole work.
pub const LARGE_PAYLOAD_BYTES_PER_TASK: f64 = 1048576.0;

/// ... or when pickling and unpickling take a tenth of the tree's CPU.
pub const LARGE_PAYLOAD_IPC_TAX: f64 = 0.10;

/// The GIL knocks (python probe, one per 40 ms of task time, pooled over a series) are a
/// binomial sample of the task time: the GIL-held share decides only when its Wilson interval
/// at this many standard errors (95 %) lies on one side of the bar. A dozen knocks settle work
/// that holds the GIL always or never; near the bar it takes many more, and short of them the
/// answer is unknown, not a coin toss.
pub const GIL_SHARE_Z: f64 = 1.96;

/// fork is safe only from a parent with this many threads (itself): a forked child gets a
/// snapshot of every lock another thread held at that instant, and nobody to release it.
pub const FORK_SAFE_THREADS: u64 = 1;

/// Workers may use at most this share of the memory available at the start.
pub const WORKER_MEMORY_SHARE: f64 = 0.8;

/// Speedup below this from the smallest to the largest (non-oversubscribed) count means wall
/// time barely moved: something other than CPU is the bottleneck.
pub const FLAT_CURVE_SPEEDUP: f64 = 1.2;

/// Wall-time coefficient of variation above which a point's timing is too noisy to trust fully.
pub const NOISY_POINT_CV: f64 = 0.10;

/// Fewer measured runs than this per point lowers confidence.
pub const CONFIDENT_RUNS: u32 = 3;

/// Share of the sampled blocked time whose cause could not be read (/proc/PID/syscall refused)
/// above which the answers built on what threads wait on (sinks, off-CPU breakdown) are doubted.
pub const UNREADABLE_WAIT_SHARE: f64 = 0.2;

/// The table `forkcast explain` prints.
pub fn all() -> Vec<Threshold> {
    vec![
        Threshold {
            step: "cpu_bound",
            name: "on-CPU (running + runnable) share of the workers' steady state, net of sink waits, at the smallest count",
            value: CPU_BOUND_ON_CPU_SHARE,
            why:
                "below it, waits take over 30 % of the time: overlapping them gains more than cores",
        },
        Threshold {
            step: "cpu_bound",
            name: "sink wait per CPU second above which sink waits are not netted out",
            value: SINK_SETS_PACE_WAIT_PER_CPU_S,
            why: "a sink that waits longer than the work computes sets the pace even behind one writer",
        },
        Threshold {
            step: "threads_scale",
            name: "throughput each thread past the first adds, in cores, at n = min(cores, max n)",
            value: THREADS_SCALE_MARGINAL,
            why: "GIL-bound threads add ~0, code releasing the GIL ~0.9: the midpoint says which the work is nearer",
        },
        Threshold {
            step: "worker_count",
            name: "marginal efficiency of a step to more workers",
            value: WORKER_STEP_MARGINAL_EFFICIENCY,
            why: "a step must return a quarter of the ideal gain for the workers it adds",
        },
        Threshold {
            step: "large_payload",
            name: "bytes between processes per task",
            value: LARGE_PAYLOAD_BYTES_PER_TASK,
            why: "a mebibyte per task costs milliseconds of pickling and copying",
        },
        Threshold {
            step: "large_payload",
            name: "share of the tree's CPU spent pickling (the IPC tax)",
            value: LARGE_PAYLOAD_IPC_TAX,
            why: "a tenth of the CPU moving data is worth passing references instead",
        },
        Threshold {
            step: "shared_sink",
            name: "workers' wait share on one sink at the largest count (and rising with n)",
            value: SINK_WAIT_SHARE,
            why: "a tenth of the pool's time queued on one resource is worth a batched writer",
        },
        Threshold {
            step: "shared_sink",
            name: "growth of the sink wait per CPU second from the smallest to the largest count",
            value: SINK_RISE_FACTOR,
            why: "rising means more than run-to-run noise; per CPU second so CPU contention cannot hide it",
        },
        Threshold {
            step: "task_variance",
            name: "coefficient of variation of task durations",
            value: TASK_DURATION_CV,
            why: "stddev >= mean: static chunks leave workers idle behind the longest one",
        },
        Threshold {
            step: "task_variance",
            name: "straggler tail: share of the active span with fewer workers busy",
            value: STRAGGLER_TAIL_SHARE,
            why: "the outside-in sign of uneven tasks: cores idle at the end of the run",
        },
        Threshold {
            step: "task_variance",
            name: "cores the workers used fewer over the tail than before it",
            value: STRAGGLER_IDLE_CORES,
            why: "a tail that idles no capacity (threads taking turns on the GIL) is not uneven tasks",
        },
        Threshold {
            step: "threads_scale",
            name: "standard errors of the GIL-held share's interval that must clear the bar",
            value: GIL_SHARE_Z,
            why: "the knocks sample the task time: a 95 % interval on one side of the bar decides",
        },
        Threshold {
            step: "start_method",
            name: "threads in the parent when it starts workers for fork to be safe",
            value: FORK_SAFE_THREADS as f64,
            why: "a forked child inherits other threads' held locks with nobody to release them",
        },
        Threshold {
            step: "worker_count",
            name: "share of available memory the workers may use",
            value: WORKER_MEMORY_SHARE,
            why: "leave room for the page cache and everything else on the host",
        },
        Threshold {
            step: "finding",
            name: "speedup below which the curve is called flat",
            value: FLAT_CURVE_SPEEDUP,
            why: "wall time that barely moves as workers grow means another bottleneck",
        },
        Threshold {
            step: "confidence",
            name: "wall-time coefficient of variation of a point",
            value: NOISY_POINT_CV,
            why: "above 10 % run-to-run spread, single steps of the curve are within noise",
        },
        Threshold {
            step: "confidence",
            name: "measured runs per point",
            value: f64::from(CONFIDENT_RUNS),
            why: "a median of fewer than 3 runs cannot reject one bad run",
        },
        Threshold {
            step: "confidence",
            name: "share of blocked time whose cause /proc/PID/syscall could not tell",
            value: UNREADABLE_WAIT_SHARE,
            why: "with a fifth of the waits unnamed, a sink of that size could hide among them",
        },
    ]
}
