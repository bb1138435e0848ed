//! The names measure/ and analyze/ still carry as strings, each compared in one place: the
//! goal, resource kinds, start methods. When they become enums end to end, these are the only
//! lines of the diagnosis to change.

use super::StartMethod;
use crate::measure::Measurements;

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

/// Is a sink the preload probe saw written a file (rather than a service)?
pub fn sink_is_file(kind: &str) -> bool {
    kind == "file"
}

/// A wait whose resource and syscall the sampler could not read (/proc/PID/syscall refused).
pub fn wait_is_unreadable(resource: &str, syscall: &str) -> bool {
    resource == "unknown" && syscall == "unknown"
}
