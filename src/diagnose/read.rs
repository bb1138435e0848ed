//! The names measure/ and analyze/ still carry as strings, each compared in one place: the
//! goal, resource kinds, start methods. When they become enums end to end, these are the only
//! lines of the diagnosis to change.

use super::StartMethod;
use crate::analyze::point::PointSummary;
use crate::measure::{Measurements, ResourceKind};

/// Did the user ask for latency (`--goal latency`) rather than throughput?
pub fn goal_is_latency(m: &Measurements) -> bool {
    m.goal == "latency"
}

/// The start method a python probe's pool reported, when it is one multiprocessing knows.
pub fn start_method(name: &str) -> Option<StartMethod> {
    match name {
        "fork" => Some(StartMethod::Fork),
        "spawn" => Some(StartMethod::Spawn),
        "forkserver" => Some(StartMethod::Forkserver),
        _ => None,
    }
}

/// The share of the workers' lives spent waiting on the pool's own pipes (the payloads'
/// transfer); 0 when nothing was seen.
pub fn pipe_wait_share(s: &PointSummary) -> f64 {
    s.offcpu
        .as_ref()
        .and_then(|o| o.get(ResourceKind::Pipe.as_str()))
        .copied()
        .unwrap_or(0.0)
}

/// Is a sink the preload probe saw written a file (rather than a service)?
pub fn sink_is_file(kind: &str) -> bool {
    kind == "file"
}

/// A wait whose resource and syscall the sampler could not read (/proc/PID/syscall refused).
pub fn wait_is_unreadable(resource: &str, syscall: &str) -> bool {
    resource == "unknown" && syscall == "unknown"
}
