//! What the diagnosis asks of measure/'s and analyze/'s typed kinds, each asked in one place:
//! the goal, sink kinds, start methods, unreadable waits (the pipes' share of the off-CPU time
//! is read in one place of analyze/, `work::pipe_wait_share`).

use super::StartMethod;
use crate::analyze::ipc::SinkIo;
use crate::analyze::point::PointSummary;
use crate::analyze::waits::SinkKind;
use crate::measure::{Goal, Measurements};

/// Did the user ask for latency (`--goal latency`) rather than throughput?
pub fn goal_is_latency(m: &Measurements) -> bool {
    m.goal == Goal::Latency
}

/// The start method a point's python pools used, when it is one multiprocessing knows.
pub fn start_method(s: &PointSummary) -> Option<StartMethod> {
    s.pools.as_ref()?.start_method
}

/// Is a sink the preload probe saw written a file (rather than a service)?
pub fn sink_is_file(io: &SinkIo) -> bool {
    io.kind == SinkKind::FILE
}

/// A wait whose resource and syscall the sampler could not read (/proc/PID/syscall refused).
pub fn wait_is_unreadable(resource: &str, syscall: &str) -> bool {
    resource == "unknown" && syscall == "unknown"
}
