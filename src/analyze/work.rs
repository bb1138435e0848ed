//! How long the workers waited on the pool's own pipes (the sampler's off-CPU picture), which
//! the GIL figure takes out of the task time it weighs (gil.rs). cpu_bound reads the accounting
//! instead (diagnose/steps/cpu_bound.rs).

use super::point::PointSummary;
use super::waits::OffCpuKind;

/// Share of the workers' lives spent waiting on the pool's own pipes; 0 when none was seen.
pub fn pipe_wait_share(s: &PointSummary) -> f64 {
    s.offcpu
        .as_ref()
        .and_then(|o| o.get(&OffCpuKind::PIPE))
        .copied()
        .unwrap_or(0.0)
}
