//! The steps of the tree, each a pure function of the analysis returning its `Step`.

mod cpu;
mod payload;
mod workload;
pub use cpu::cpu_bound;
pub use payload::{large_payload, latency_goal};
pub use workload::{shared_sink, task_variance};

use crate::analyze::point::PointSummary;
use crate::analyze::{Analysis, Layout};
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

/// Do threads scale? Judged from a series whose workers were threads of one process.
pub fn threads_scale(m: &Measurements, a: &Analysis) -> Step {
    let mut st = step(
        "threads_scale",
        "Does the work release the GIL / do threads scale?",
        Answer::Unknown,
        BTreeMap::new(),
    );
    st.threshold =
        format!("thread efficiency >= {THREADS_SCALE_EFFICIENCY} at n = min(cores, max n) -> yes");
    st.source = "procfs sampler (worker layout) and wall-time scaling".into();
    let cores = crate::analyze::parallel_cores(&m.host);
    let threaded = a.series.iter().find(|s| s.layout == Some(Layout::Threads));
    let Some(series) = threaded else {
        st.evidence = "No run had its workers as threads of one process, so thread scaling was \
                       not measured; sweep a threads mode (e.g. -P mode=processes,threads) to answer it."
            .into();
        return st;
    };
    let target = series
        .points
        .iter()
        .map(|&i| (m.points[i].workers, &a.points[i]))
        .filter(|(n, s)| *n >= 2 && *n <= cores.max(2) && s.efficiency.is_some())
        .max_by_key(|(n, _)| *n);
    let Some((n, s)) = target else {
        st.evidence =
            "The threads series has no point with 2 or more workers within the core count.".into();
        return st;
    };
    let eff = s.efficiency.unwrap_or(0.0);
    st.measured.insert("workers".into(), json!(n));
    st.measured
        .insert("efficiency".into(), json!(round(eff, 3)));
    st.measured
        .insert("speedup".into(), json!(s.speedup.map(|x| round(x, 3))));
    st.measured.insert(
        "busy_cores".into(),
        json!(s.busy_cores.map(|x| round(x, 2))),
    );
    st.measured.insert("params".into(), json!(series.params));
    st.answer = if eff >= THREADS_SCALE_EFFICIENCY {
        Answer::Yes
    } else {
        Answer::No
    };
    st.evidence = format!(
        "With {n} threads the speedup was {:.2} (efficiency {:.2}) and the tree kept {} cores busy{}.",
        s.speedup.unwrap_or(0.0),
        eff,
        s.busy_cores.map(|b| format!("{b:.2}")).unwrap_or_else(|| "an unknown number of".into()),
        if st.answer == Answer::No { ": the threads serialise (a GIL or a lock)" } else { "" }
    );
    st
}

/// How many workers? The largest count whose step still pays, capped by cores and memory.
pub fn worker_count(m: &Measurements, a: &Analysis) -> (Step, Option<u32>) {
    let mut st = step(
        "worker_count",
        "How many workers?",
        Answer::Unknown,
        BTreeMap::new(),
    );
    st.threshold = format!(
        "largest count whose step from the previous one has marginal efficiency >= \
         {WORKER_STEP_MARGINAL_EFFICIENCY}; capped by cores (usable, physical) and {:.0} % of available memory",
        WORKER_MEMORY_SHARE * 100.0
    );
    st.source = "wall-time scaling curve (median of runs), host cores, procfs PSS".into();
    let pts: Vec<(u32, &PointSummary)> = primary_points(m, a)
        .into_iter()
        .filter(|(_, s)| s.wall_s.is_some())
        .collect();
    if pts.len() < 2 {
        st.evidence =
            "Fewer than two worker counts produced successful runs; no curve to read.".into();
        return (st, pts.first().map(|(n, _)| *n));
    }
    let cores = crate::analyze::parallel_cores(&m.host);
    let mem_cap = m
        .host
        .available_memory_bytes
        .map(|b| b as f64 * WORKER_MEMORY_SHARE);
    let mut chosen = pts[0].0;
    let mut stopped_by = String::new();
    for &(n, s) in &pts[1..] {
        if n > cores {
            stopped_by = format!("{n} workers exceed the {cores} cores");
            break;
        }
        if let (Some(cap), Some(pss)) = (mem_cap, s.pss_bytes_per_worker) {
            if pss * f64::from(n) > cap {
                stopped_by = format!(
                    "{n} workers would need {:.1} GiB",
                    pss * f64::from(n) / 1073741824.0
                );
                break;
            }
        }
        match s.marginal_efficiency {
            Some(me) if me >= WORKER_STEP_MARGINAL_EFFICIENCY => chosen = n,
            Some(me) => {
                stopped_by = format!("the step to {n} returned {me:.2} of the ideal gain");
                break;
            }
            None => break,
        }
    }
    let steps: Vec<Value> = pts
        .iter()
        .filter_map(|(n, s)| {
            s.marginal_efficiency
                .map(|me| json!({"workers": n, "marginal_efficiency": round(me, 3)}))
        })
        .collect();
    st.measured.insert("recommended".into(), json!(chosen));
    st.measured.insert("usable_cores".into(), json!(cores));
    st.measured.insert("steps".into(), Value::Array(steps));
    if let Some(peak) = a
        .primary
        .and_then(|p| a.series[p].scaling.usl.as_ref())
        .and_then(|u| u.peak_workers)
    {
        st.measured
            .insert("usl_peak_workers".into(), json!(round(peak, 1)));
    }
    st.answer = if chosen > pts[0].0 {
        Answer::Yes
    } else {
        Answer::No
    };
    let speedup = pts
        .iter()
        .find(|(n, _)| *n == chosen)
        .and_then(|(_, s)| s.speedup)
        .unwrap_or(1.0);
    st.evidence = format!(
        "{chosen} workers: speedup {speedup:.2} over {} worker{}{}.",
        pts[0].0,
        if pts[0].0 == 1 { "" } else { "s" },
        if stopped_by.is_empty() {
            String::new()
        } else {
            format!("; stopped there because {stopped_by}")
        }
    );
    (st, Some(chosen))
}
