//! The names measure/ and analyze/ still carry as strings, each compared in one place: the
//! goal, sink kinds, start methods, unreadable waits. When they become enums end to end, these
//! bodies are the only lines of the diagnosis to change (the pipes' share of the off-CPU time
//! is read in one place of analyze/, `work::pipe_wait_share`).

use super::StartMethod;
use crate::analyze::ipc::SinkIo;
use crate::analyze::point::PointSummary;
use crate::measure::Measurements;

/// Did the user ask for latency (`--goal latency`) rather than throughput?
pub fn goal_is_latency(m: &Measurements) -> bool {
    m.goal == "latency"
}

/// The start method a point's python pools used, when it is one multiprocessing knows.
pub fn start_method(s: &PointSummary) -> Option<StartMethod> {
    match s.pools.as_ref()?.start_method.as_deref()? {
        "fork" => Some(StartMethod::Fork),
        "spawn" => Some(StartMethod::Spawn),
        "forkserver" => Some(StartMethod::Forkserver),
        _ => None,
    }
}

/// Is a sink the preload probe saw written a file (rather than a service)?
pub fn sink_is_file(io: &SinkIo) -> bool {
    io.kind == "file"
}

/// A wait whose resource and syscall the sampler could not read (/proc/PID/syscall refused).
pub fn wait_is_unreadable(resource: &str, syscall: &str) -> bool {
    resource == "unknown" && syscall == "unknown"
}
