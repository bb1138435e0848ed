//! Facts about one measured record that several analyses share: whether a run counts, how long
//! a thread lived. The bottom of analyze/: it imports only measure/.

use crate::measure::{Run, ThreadRecord};

/// Did this run produce a usable measurement?
pub fn run_ok(run: &Run) -> bool {
    run.exit_code == Some(0) && !run.timed_out && !run.interrupted
}

/// A thread's observed life: first to last sight, or what was accounted in it when that is
/// more (the first interval's waits are attributed before the first sighting).
pub fn accounted_life_s(t: &ThreadRecord) -> f64 {
    let waited: f64 = t.waits.iter().map(|w| w.blocked_s).sum();
    (t.last_seen_s - t.first_seen_s)
        .max(t.on_cpu_s + t.runqueue_s + waited)
        .max(0.0)
}
