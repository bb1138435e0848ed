//! Benchmark of the procfs sampler's own cost: samples a python process with N threads (mostly
//! sleeping, a few spinning) and prints the sampler's CPU per tick, per tick per thread, the
//! rate achieved and its CPU as a share of one core.
//!
//!     cargo run --release --example sampler_cost [-- SECONDS]
//!
//! The interpreter is `FORKCAST_TEST_PYTHON`, else pyenv's real 3.11.7 binary, else `python3`.

use forkcast::measure::SamplerData;
use forkcast::run::sampler::{self, SamplerConfig};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Threads that sleep in a loop or spin for `dur` seconds; prints "ready" once all started.
const SCRIPT: &str = r#"
import sys, threading, time
n, spin, dur = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
end = time.time() + dur
def sleeper():
    while time.time() < end:
        time.sleep(0.05)
def spinner():
    x = 0
    while time.time() < end:
        x += 1
ts = [threading.Thread(target=spinner if i < spin else sleeper) for i in range(n - 1)]
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

fn spawn(threads: usize, spinning: usize, secs: f64) -> Child {
    let mut child = Command::new(python())
        .args(["-c", SCRIPT])
        .args([
            threads.to_string(),
            spinning.to_string(),
            (secs + 2.0).to_string(),
        ])
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

fn measure(label: &str, threads: usize, spinning: usize, hz: Option<f64>, secs: f64) {
    let mut child = spawn(threads, spinning, secs);
    let t0 = Instant::now();
    let handle = sampler::start(
        child.id() as i32,
        t0,
        SamplerConfig {
            requested_hz: hz,
            pss_every: Duration::from_millis(500),
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
        "{label:<28} threads {mean_threads:5.1}  ticks {:5}  achieved {:6.1} Hz  late {:3}  errors {}  \
         cpu/tick {:7.1} µs  cpu/tick/thread {:5.2} µs  sampler {:5.2} % of a core  (target busy {busy:.2} cores)",
        d.ticks,
        d.achieved_hz,
        d.late_ticks,
        d.errors,
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
    for (threads, spinning) in [(4, 1), (64, 2)] {
        measure(
            &format!("{threads} threads, 100 Hz"),
            threads,
            spinning,
            Some(100.0),
            secs,
        );
        measure(
            &format!("{threads} threads, adaptive"),
            threads,
            spinning,
            None,
            secs,
        );
    }
}
