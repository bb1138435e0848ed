//! "Past this host": what the replayed curve (`scaling.predicted`) says about more cores than
//! this host has, as findings. A curve still rising past the cores gives 2x and 4x the cores
//! and their bound; a curve held by a serial resource says more cores will not help, and
//! which fix would.

use super::what_if::WhatIf;
use crate::analyze::replay::Predicted;
use crate::analyze::{parallel_cores, Analysis};
use crate::measure::Measurements;

/// The curve rises past the cores when 2 x the cores beat the host's own cores by this much.
const STILL_RISING: f64 = 1.1;

/// The findings of the primary series' predicted curve.
pub fn findings(m: &Measurements, a: &Analysis, what_if: &[WhatIf]) -> Vec<String> {
    let Some(s) = a.primary.map(|p| &a.series[p]) else {
        return Vec::new();
    };
    let c = parallel_cores(&m.host);
    let at = |n: u32| s.scaling.predicted.iter().find(|p| p.workers == n);
    let (Some(here), Some(two), Some(four)) =
        (at(c), at(c.saturating_mul(2)), at(c.saturating_mul(4)))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if two.speedup >= STILL_RISING * here.speedup {
        out.push(format!(
            "past this host's {c} cores the replayed curve still rises: {} cores give {:.2}× \
             ({:.2}–{:.2}, bound: {}), {} cores {:.2}× ({:.2}–{:.2}, bound: {}); a bigger machine \
             or a cluster would pay",
            two.cores,
            two.speedup,
            two.low,
            two.high,
            two.bound,
            four.cores,
            four.speedup,
            four.low,
            four.high,
            four.bound
        ));
    } else if let Some(fix) = serial_fix(two, what_if) {
        out.push(format!(
            "at {} workers the replayed curve is held by {}: more cores will not help \
             ({:.2}× at {c} cores, {:.2}× at {}); {fix}",
            two.workers, two.bound, here.speedup, two.speedup, two.cores
        ));
    }
    out
}

/// The fix that lifts a serial bound, with its replayed worth where the diagnosis has it.
fn serial_fix(p: &Predicted, what_if: &[WhatIf]) -> Option<String> {
    let (field, words) = match p.bound.as_str() {
        "gil" => ("model", "processes (no GIL) would"),
        "driver" => (
            "data_passing",
            "passing references instead of data, or fewer and bigger results, would",
        ),
        b if b.starts_with("sink:") => ("sink", "one batched writer would"),
        _ => return None,
    };
    let worth = what_if
        .iter()
        .find(|w| w.field == field)
        .map(|w| format!(" ({:.2}× at {} workers, replayed)", w.speedup, w.workers))
        .unwrap_or_default();
    Some(format!("{words}{worth}"))
}
