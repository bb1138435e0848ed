//! The exact scheduling timeline (issue 12): perf_event context-switch and task records for
//! every thread of the tree, folded into the same measurement types the procfs sampler fills
//! (`SamplerData`: ticks, process and thread records), so analysis, diagnosis, the plots and
//! the trace read one shape whatever the source; `SamplerData::source` says which it was.
//!
//! Layout: `record` parses the ring's bytes, `ring` opens the per-CPU rings, `intervals` turns
//! records into per-thread intervals and bins (pure), `collect` is the thread that drains the
//! rings and asks the sampler's `namer` what blocked threads wait on. This file picks the
//! source: switch records when perf_event allows them, else the procfs sampler, with the
//! reason recorded in `SamplerData::switches_unavailable`.

mod collect;
mod intervals;
mod record;
mod ring;

use crate::measure::SamplerData;
use crate::run::sampler::{self, namer::thread_cpu_time, SamplerConfig, SamplerHandle};
use collect::Collector;
use intervals::Intervals;
use ring::Rings;
use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Environment variable that turns switch records off (`off`), forcing the procfs sampler.
pub const SWITCHES_ENV: &str = "FORKCAST_SWITCHES";

/// Mean gap between the collector's wake-ups without `--sample-hz`: 50 Hz. Each wake-up costs
/// a drain plus one /proc read per newly blocked thread, so the rate can stay high.
const DEFAULT_PERIOD: Duration = Duration::from_millis(20);

/// Whatever produces the run's timeline.
#[derive(Debug)]
pub enum Timeline {
    Switches(SwitchHandle),
    /// The procfs sampler, and why switch records were not used.
    Sampler(SamplerHandle, String),
}

/// A running switch collector.
#[derive(Debug)]
pub struct SwitchHandle {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<SamplerData>,
    attach: Duration,
}

/// Starts the timeline of the tree rooted at `root_pid` (held before exec): switch records
/// when they can be opened, else the procfs sampler. `t0` is the release instant (times in the
/// data are seconds since it). Fails only when neither can start.
pub fn start(root_pid: i32, t0: Instant, config: SamplerConfig) -> io::Result<Timeline> {
    let why = match std::env::var(SWITCHES_ENV).as_deref() {
        Ok("off" | "0" | "no") => format!(
            "switch records turned off by {SWITCHES_ENV}=off; the procfs sampler gave the \
             timeline (unset it for exact intervals)"
        ),
        _ => match start_switches(root_pid, t0, &config) {
            Ok(h) => return Ok(Timeline::Switches(h)),
            Err(e) => format!(
                "{}; the procfs sampler gave the timeline",
                explain_open_error(&e)
            ),
        },
    };
    sampler::start(root_pid, t0, config).map(|s| Timeline::Sampler(s, why))
}

impl Timeline {
    /// Stops collecting (after the tree is reaped) and returns what was seen.
    pub fn finish(self) -> SamplerData {
        match self {
            Timeline::Switches(h) => {
                let asked = Instant::now();
                let _ = h.stop.send(());
                let mut data = h.thread.join().unwrap_or_else(|_| SamplerData {
                    errors: 1,
                    switches_unavailable: Some("the switch collector panicked".into()),
                    ..SamplerData::default()
                });
                if let Some(s) = data.switches.as_mut() {
                    s.attach_s = h.attach.as_secs_f64();
                    s.collect_s = asked.elapsed().as_secs_f64();
                }
                data
            }
            Timeline::Sampler(s, why) => {
                let mut data = s.finish();
                data.switches_unavailable = Some(why);
                data
            }
        }
    }
}

fn start_switches(root_pid: i32, t0: Instant, config: &SamplerConfig) -> io::Result<SwitchHandle> {
    let (cpu_before, opened) = (thread_cpu_time(), Instant::now());
    let rings = Rings::open(root_pid)?;
    let t0_ns = crate::run::os::mono_ns().saturating_sub(t0.elapsed().as_nanos() as u64);
    let mut iv = Intervals::new(
        t0_ns,
        root_pid,
        std::process::id() as i32,
        String::new(),
        t0_ns,
    );
    iv.cap_processes(config.max_processes);
    let period = config
        .requested_hz
        .filter(|hz| hz.is_finite() && *hz > 0.0)
        .map_or(DEFAULT_PERIOD, |hz| Duration::from_secs_f64(1.0 / hz));
    let mut c = Collector::new(rings, iv, t0_ns, period, config.pss_every.as_secs_f64());
    c.requested_hz = config.requested_hz;
    c.open_cpu = thread_cpu_time().saturating_sub(cpu_before);
    let (stop, stop_rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("forkcast-switches".into())
        .spawn(move || c.run(stop_rx))?;
    Ok(SwitchHandle {
        stop,
        thread,
        attach: opened.elapsed(),
    })
}

/// Whether switch records are available here (tried on forkcast itself); Err says why and how
/// to get them. For `forkcast doctor`.
pub fn available() -> Result<(), String> {
    ring::probe()
}

/// One line on why perf_event_open refused switch records, with the fix.
fn explain_open_error(e: &io::Error) -> String {
    let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    match e.raw_os_error() {
        Some(libc::EACCES | libc::EPERM) => format!(
            "perf_event refused context-switch records ({e}; perf_event_paranoid is \
             {paranoid}): run as root, or lower it with `sudo sysctl kernel.perf_event_paranoid=1`"
        ),
        Some(libc::ENOSYS) => format!(
            "perf_event_open is not available here ({e}): a container or seccomp filter blocks \
             it; allow perf_event_open for exact intervals"
        ),
        Some(libc::ENOENT | libc::EOPNOTSUPP | libc::EINVAL) => format!(
            "this kernel gives no context-switch records ({e}): Linux 4.3 or later is needed"
        ),
        _ => format!("context-switch records could not be opened ({e})"),
    }
}
