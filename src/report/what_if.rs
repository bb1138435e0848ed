//! "What each fix buys" in words, for every text exporter: one line per what-if of the
//! diagnosis (`crate::diagnose::what_if`), today's measured speedup beside the replayed one.

use super::Report;
use crate::diagnose::what_if::WhatIf;

/// The fix in a few words.
pub fn label(w: &WhatIf) -> String {
    match (w.field.as_str(), w.value.as_str()) {
        ("scheduling", _) => "small tasks on demand".into(),
        ("sink", _) => "single writer".into(),
        ("model", v) => v.to_string(),
        ("data_passing", _) => "references or shared memory".into(),
        ("start_method", v) => format!("start method {v}"),
        ("workers", v) => format!("{v} workers"),
        (f, v) => format!("{f} {v}"),
    }
}

/// Today's measured speedup at the largest count of the primary series.
pub fn now_speedup(r: &Report) -> Option<f64> {
    let s = &r.series[r.primary_series?];
    s.points
        .iter()
        .rev()
        .find_map(|&i| r.analysis.points[i].speedup)
}

/// The bound in words: a sink by its name, the single writer's sink as the writer.
pub fn bound_words(w: &WhatIf) -> String {
    if w.field == "sink" && w.bound.starts_with("sink:") {
        "writer".into()
    } else {
        w.bound.trim_start_matches("sink:").to_string()
    }
}

/// `single writer: 1.19× → 1.80× at 2 workers (1.55–1.95); bound: writer`.
pub fn line(w: &WhatIf, now: Option<f64>) -> String {
    let now = now.map_or_else(String::new, |s| format!("{s:.2}× → "));
    format!(
        "{}: {now}{:.2}× at {} workers ({:.2}–{:.2}); wall {:.2}× today's; bound: {}",
        label(w),
        w.speedup,
        w.workers,
        w.low,
        w.high,
        w.wall_vs_now,
        bound_words(w)
    )
}
