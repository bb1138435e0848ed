//! Host facts (cores, memory, kernel, counters) and whole-host CPU snapshots for the
//! noisy-host check.

use crate::measure::Host;

/// Reads the host facts once per sweep.
pub fn describe_host() -> Host {
    use sysinfo::{MemoryRefreshKind, RefreshKind, System};
    let sys = System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::everything()),
    )
    .ok();
    // sysinfo ignores affinity and cgroups; the sweep is judged against the CPUs we may use.
    let usable = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    let logical = std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count() as u32)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(usable);
    Host {
        logical_cpus: logical,
        physical_cpus: System::physical_core_count().ok().map(|n| n as u32),
        usable_cpus: usable,
        memory_bytes: sys.as_ref().map_or(0, |s| s.total_memory()),
        available_memory_bytes: sys.as_ref().map(|s| s.available_memory()),
        kernel: System::kernel_version().unwrap_or_else(|_| "unknown".into()),
        cpu_model: std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        }),
        counters: super::counters::host_counter_kind().to_string(),
        perf_event_paranoid: std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
            .ok()
            .and_then(|s| s.trim().parse().ok()),
    }
}

/// Busy CPU seconds of the whole host (all CPUs, from /proc/stat), for the noisy-host check.
pub fn host_busy_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    let busy: u64 = ticks
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4 && *i < 8)
        .map(|(_, v)| v)
        .sum();
    Some(busy as f64 / clock_ticks_per_s())
}

/// CPU seconds forkcast itself has used so far (sampler included).
pub fn self_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}
