//! The steps of the tree, each a pure function of the analysis returning its `Step`.

mod count;
mod payload;
mod start;
mod threads;
mod workload;
pub use count::worker_count;
pub use payload::{large_payload, latency_goal};
pub use start::start_method;
pub use threads::threads_scale;
pub use workload::{shared_sink, task_variance};

use crate::analyze::point::PointSummary;
use crate::analyze::Analysis;
use crate::diagnose::thresholds::*;
use crate::diagnose::{Answer, Step};
use crate::measure::Measurements;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub(super) fn step(
    id: &str,
    question: &str,
    answer: Answer,
    measured: BTreeMap<String, Value>,
) -> Step {
    Step {
        id: id.into(),
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
    (x * f).round() / f
}

/// Is the work CPU-bound? At the smallest count of the best series, does a worker want a CPU
/// (running or runnable) most of its life?
pub fn cpu_bound(m: &Measurements, a: &Analysis) -> Step {
    let question = "Is the work CPU-bound?";
    let base = primary_points(m, a)
        .into_iter()
        .find(|(_, s)| s.wall_s.is_some());
    let mut st = step("cpu_bound", question, Answer::Unknown, BTreeMap::new());
    st.threshold = format!("on-CPU share >= {CPU_BOUND_ON_CPU_SHARE} -> yes");
    let Some((n, s)) = base else {
        st.evidence = "No point produced a successful run, so nothing was measured.".into();
        st.source = "none".into();
        return st;
    };
    // Prefer the sampler's per-worker view; fall back to tree CPU / (wall x workers).
    let (share, source) = match (s.on_cpu_share, s.runqueue_share) {
        (Some(on), rq) => (
            Some(on + rq.unwrap_or(0.0)),
            "procfs sampler (schedstat of the worker threads)",
        ),
        _ => (
            s.busy_cores.map(|b| (b / f64::from(n)).min(1.0)),
            "tree CPU time (perf task-clock or rusage) / wall time / workers",
        ),
    };
    st.source = source.into();
    let Some(share) = share else {
        st.evidence = format!("At {n} workers no CPU time was measured.");
        return st;
    };
    st.measured.insert("workers".into(), json!(n));
    st.measured
        .insert("on_cpu_share".into(), json!(round(share, 3)));
    if let Some(b) = s.busy_cores {
        st.measured.insert("busy_cores".into(), json!(round(b, 2)));
    }
    st.answer = if share >= CPU_BOUND_ON_CPU_SHARE {
        Answer::Yes
    } else {
        Answer::No
    };
    st.evidence =
        format!(
        "At {n} worker{}, the workers wanted a CPU {:.0} % of their time (threshold {:.0} %){}.",
        if n == 1 { "" } else { "s" },
        share * 100.0,
        CPU_BOUND_ON_CPU_SHARE * 100.0,
        s.busy_cores.map(|b| format!("; the tree kept {b:.2} cores busy")).unwrap_or_default()
    );
    st
}
