//! The steps of the tree, each a pure function of the analysis returning its `Step`.

pub mod cpu_bound;
pub mod large_payload;
pub mod latency_goal;
pub mod shared_sink;
mod start;
pub mod task_variance;
pub mod threads_scale;
pub mod worker_count;
pub use start::start_method;

use crate::analyze::point::PointSummary;
use crate::analyze::Analysis;
use crate::diagnose::{Answer, Step, StepId};
use crate::measure::Measurements;
use serde_json::Value;
use std::collections::BTreeMap;

pub(super) fn step(
    id: StepId,
    question: &str,
    answer: Answer,
    measured: BTreeMap<String, Value>,
) -> Step {
    Step {
        id,
        question: question.into(),
        answer,
        measured,
        threshold: String::new(),
        evidence: String::new(),
        source: String::new(),
    }
}

/// (workers, summary) of the primary series, workers ascending.
pub(super) fn primary_points<'a>(
    m: &Measurements,
    a: &'a Analysis,
) -> Vec<(u32, &'a PointSummary)> {
    a.primary
        .map(|s| {
            a.series[s]
                .points
                .iter()
                .map(|&i| (m.points[i].workers, &a.points[i]))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    // + 0.0 turns -0.0 (an empty f64 sum, a tiny negative rounded) into 0, never shown as "-0".
    (x * f).round() / f + 0.0
}
