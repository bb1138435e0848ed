//! Benchmark of the procfs sampler's own cost: samples a python process with N threads (mostly
//! sleeping, a few spinning) and prints the sampler's CPU per tick, per tick per thread, the
//! rate achieved and its CPU as a share of one core.
//!
//! Sleepers either park (block once, never wake: the sampler skips them cheaply) or nap 50 ms
//! in a loop (they run between most ticks, so each is re-read: stat, syscall, wait).
//!
//!     cargo run --release --example sampler_cost [-- SECONDS]
//!
//! The interpreter is `FORKCAST_TEST_PYTHON`, else pyenv's real 3.11.7 binary, else `python3`.

use forkcast::measure::SamplerData;
use forkcast::run::sampler::{self, SamplerConfig};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Threads that park, nap in a loop or spin for `dur` seconds; prints "ready" once started.
const SCRIPT: &str = r#"
import sys, threading, time
n, spin, dur, nap = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
end = time.time() + dur
def sleeper():
    if nap == 0:
        threading.Event().wait(dur)
    while time.time() < end:
        time.sleep(nap)
def spinner():
    x = 0
    while time.time() < end:
        x += 1
ts = [threading.Thread(target=spinner if i >= n - 1 - spin else sleeper) for i in range(n - 1)]
for t in ts: t.start()
print("ready", flush=True)
for t in ts: t.join()
"#;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("FORKCAST_TEST_PYTHON") {
        return p.into();
    }
    let pyenv = PathBuf::from("/root/.pyenv/versions/3.11.7/bin/python3");
    if pyenv.exists() {
        pyenv
    } else {
        "python3".into()
    }
}

fn spawn(threads: usize, spinning: usize, nap: f64, secs: f64) -> Child {
    let mut child = Command::new(python())
        .args(["-c", SCRIPT])
        .args([threads, spinning].map(|n| n.to_string()))
        .args([secs + 60.0, nap].map(|s| s.to_string()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start python");
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    child
}

fn measure(label: &str, (threads, spinning, nap): (usize, usize, f64), hz: Option<f64>, secs: f64) {
    let mut child = spawn(threads, spinning, nap, secs);
    let t0 = Instant::now();
    let handle = sampler::start(
        child.id() as i32,
        t0,
        SamplerConfig {
            requested_hz: hz,
            pss_every: Duration::from_millis(500),
            ..SamplerConfig::default()
        },
    )
    .expect("start sampler");
    std::thread::sleep(Duration::from_secs_f64(secs));
    let data = handle.finish();
    let wall = t0.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    report(label, &data, wall);
}

fn report(label: &str, d: &SamplerData, wall_s: f64) {
    let ticks = d.ticks.max(1) as f64;
    let thread_ticks: f64 = d
        .timeline
        .iter()
        .map(|t| f64::from(t.threads))
        .sum::<f64>()
        .max(1.0);
    let mean_threads = thread_ticks / ticks;
    let busy: f64 = d.timeline.iter().map(|t| t.on_cpu_cores).sum::<f64>() / ticks;
    println!(
        "{label:<34} threads {mean_threads:3.0}  ticks {:4}  {:5.1} Hz  late {:2}  errors {}  \
         discovery {:3}/{:<4} ticks {:5.1} µs/scan  cpu/tick {:6.1} µs  cpu/tick/thread {:5.2} µs  \
         sampler {:4.2} % of a core  (target busy {busy:.2} cores)",
        d.ticks,
        d.achieved_hz,
        d.late_ticks,
        d.errors,
        d.discovery_scans,
        d.ticks,
        d.discovery_cpu_s / d.discovery_scans.max(1) as f64 * 1e6,
        d.sampler_cpu_s / ticks * 1e6,
        d.sampler_cpu_s / thread_ticks * 1e6,
        d.sampler_cpu_s / wall_s * 100.0,
    );
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let cases = [
        ("4 threads (1 spin, 3 nap 50 ms)", (4, 1, 0.05)),
        ("64 threads (2 spin, 62 parked)", (64, 2, 0.0)),
        ("64 threads (2 spin, 62 nap 50 ms)", (64, 2, 0.05)),
    ];
    for (label, case) in cases {
        measure(&format!("{label}, 100 Hz"), case, Some(100.0), secs);
        measure(&format!("{label}, adaptive"), case, None, secs);
    }
}
