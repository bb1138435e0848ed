//! Exact against sampled off-CPU shares (issue 12, item 4): runs one command with both
//! timelines attached to the same run, the context-switch records and the procfs sampler (at
//! its adaptive default), and prints the workers' shares from each side by side: on CPU,
//! runnable (waiting for a CPU), blocked, and blocked per resource class, with the difference
//! in percentage points.
//!
//!     cargo run --release --example offcpu_exact -- WORKERS COMMAND...
//!     benches/offcpu_exact.sh        # lab 01 threads, lab 06 direct, 8-thread GIL ping-pong
//!
//! The two sides see the same threads; they differ in how lifetimes are known (task records
//! against first and last sight), in what "runnable" holds (the switch records count the time
//! after a preemption; schedstat's run_delay also counts a woken thread's wait for a CPU,
//! which switch records file under blocked), and in how blocked time is split among resources
//! (both by /proc reads at ticks: exponential gaps for the collector, the sampler's own ticks).

use forkcast::analyze::record::accounted_life_s;
use forkcast::analyze::waits::{offcpu, OffCpuKind};
use forkcast::analyze::workers::{identify, Workers};
use forkcast::measure::SamplerData;
use forkcast::run::{reap, sampler, spawn, switches};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::time::{Duration, Instant};

/// The workers' shares of their accounted life.
struct Shares {
    on_cpu: f64,
    runnable: f64,
    blocked: f64,
    by_kind: BTreeMap<OffCpuKind, f64>,
    workers: u32,
}

fn shares(d: &SamplerData, requested: u32) -> Option<Shares> {
    let w: Workers = identify(d, requested)?;
    let threads: Vec<_> = d
        .processes
        .iter()
        .flat_map(|p| &p.threads)
        .filter(|t| w.tids.contains(&t.tid))
        .collect();
    let life: f64 = threads.iter().map(|t| accounted_life_s(t)).sum();
    let on: f64 = threads.iter().map(|t| t.on_cpu_s).sum();
    let rq: f64 = threads.iter().map(|t| t.runqueue_s).sum();
    let off = offcpu(d, &w, &[])?;
    Some(Shares {
        on_cpu: on / life,
        runnable: rq / life,
        blocked: (1.0 - (on + rq) / life).max(0.0),
        by_kind: off.by_kind,
        workers: w.count,
    })
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(args.len() >= 2, "usage: offcpu_exact WORKERS COMMAND...");
    let workers: u32 = args[0].parse()?;
    let argv: Vec<String> = args[1..].to_vec();
    let program =
        spawn::resolve_program(&argv[0]).ok_or_else(|| anyhow::anyhow!("{} not found", argv[0]))?;
    reap::install_process_handling()?;
    let stdio = spawn::Stdio {
        stdout: File::create("/dev/null")?,
        stderr: File::create("/dev/null")?,
    };
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let mut child = spawn::spawn_gated(&program, &argv, &env, &stdio)?;
    let t0 = Instant::now();
    let config = sampler::SamplerConfig::default;
    let exact = switches::start(child.pid, t0, config())?;
    anyhow::ensure!(
        matches!(exact, switches::Timeline::Switches(_)),
        "switch records are not available here"
    );
    let sampled = sampler::start(child.pid, t0, config())?;
    child.release()?;
    let ended = reap::wait_and_reap(&mut child, t0, Some(Duration::from_secs(600)))?;
    let (exact, sampled) = (exact.finish(), sampled.finish());
    println!(
        "{} (wall {:.2} s, exit {:?}; sampler at {:.1} Hz, {} late ticks; {} switch records, \
         {} wake-up records, {} lost)",
        argv.join(" "),
        ended.wall.as_secs_f64(),
        ended.exit_code,
        sampled.achieved_hz,
        sampled.late_ticks,
        exact.switches.as_ref().map_or(0, |s| s.switch_records),
        exact.switches.as_ref().map_or(0, |s| s.wake_records),
        exact.switches.as_ref().map_or(0, |s| s.lost_records),
    );
    if let Some(sw) = &exact.switches {
        println!(
            "  switches in without a wake-up record: {}, wake-ups of threads not blocked: {}, \
             reordered records: {}",
            sw.unseen_wakeups, sw.ignored_wakeups, sw.reordered_records
        );
    }
    let (Some(e), Some(s)) = (shares(&exact, workers), shares(&sampled, workers)) else {
        anyhow::bail!("no workers found on one side");
    };
    println!(
        "  workers found: exact {}, sampled {}",
        e.workers, s.workers
    );
    println!(
        "  {:<16} {:>8} {:>8} {:>9}",
        "share", "exact", "sampled", "diff (pp)"
    );
    let row = |name: &str, a: f64, b: f64| {
        println!(
            "  {name:<16} {:>7.1}% {:>7.1}% {:>+9.1}",
            a * 100.0,
            b * 100.0,
            (b - a) * 100.0
        )
    };
    row("on CPU", e.on_cpu, s.on_cpu);
    row("runnable", e.runnable, s.runnable);
    row("blocked", e.blocked, s.blocked);
    let kinds: std::collections::BTreeSet<&OffCpuKind> =
        e.by_kind.keys().chain(s.by_kind.keys()).collect();
    for k in kinds {
        let get = |m: &BTreeMap<OffCpuKind, f64>| m.get(k).copied().unwrap_or(0.0);
        row(&format!("  blocked: {k}"), get(&e.by_kind), get(&s.by_kind));
    }
    Ok(())
}
