//! Facts about the machine a report was measured on.

use serde::{Deserialize, Serialize};

/// Host facts (sysinfo, sched_getaffinity, perf_event probing).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Host {
    /// Logical CPUs the kernel reports.
    pub logical_cpus: u32,
    /// Physical cores; None when the host cannot tell.
    pub physical_cpus: Option<u32>,
    /// CPUs this process may run on (affinity / cgroup), what worker counts are judged against.
    pub usable_cpus: u32,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// Memory available when the run started, in bytes.
    pub available_memory_bytes: Option<u64>,
    /// Kernel release (uname -r).
    pub kernel: String,
    /// CPU model name, when known.
    pub cpu_model: Option<String>,
    /// Which perf counters work here: "hardware", "software" or "none".
    pub counters: String,
    /// /proc/sys/kernel/perf_event_paranoid, when readable.
    pub perf_event_paranoid: Option<i32>,
}
