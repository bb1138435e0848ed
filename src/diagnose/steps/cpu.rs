//! Is the work CPU-bound? Judged on the work itself: the workers' steady state, net of the
//! waits on a sink the tree's later steps take off them (one batched writer).

use super::{primary_points, round, step};
use crate::analyze::point::PointSummary;
use crate::analyze::Analysis;
use crate::diagnose::thresholds::{CPU_BOUND_ON_CPU_SHARE, SINK_SETS_PACE_WAIT_PER_CPU_S};
use crate::diagnose::{Answer, Step};
use crate::measure::Measurements;
use serde_json::json;
use std::collections::BTreeMap;

/// Is the work CPU-bound? At the smallest count of the best series, does a worker want a CPU
/// (running or runnable) most of the time it works?
///
/// Three figures, each in the evidence: the share over the workers' whole lives; over their
/// steady state (start-up, such as a spawned interpreter importing or a worker waiting for its
/// first task, left out); and that share net of the waits on sinks (a database, a file, a
/// service written to). The last decides, unless the sink waits more than the work computes:
/// then the sink sets the pace even behind one writer, and the work is waiting, not computing.
pub fn cpu_bound(m: &Measurements, a: &Analysis) -> Step {
    let question = "Is the work CPU-bound?";
    let base = primary_points(m, a)
        .into_iter()
        .find(|(_, s)| s.wall_s.is_some());
    let mut st = step("cpu_bound", question, Answer::Unknown, BTreeMap::new());
    st.threshold = format!(
        "on-CPU share of the workers' steady state, net of sink waits, >= {CPU_BOUND_ON_CPU_SHARE} \
         -> yes (not netted when the sink waits more than {SINK_SETS_PACE_WAIT_PER_CPU_S} s per CPU second)"
    );
    let Some((n, s)) = base else {
        st.evidence = "No point produced a successful run, so nothing was measured.".into();
        st.source = "none".into();
        return st;
    };
    let Some(life_share) = s
        .on_cpu_share
        .map(|on| (on + s.runqueue_share.unwrap_or(0.0)).min(1.0))
    else {
        return whole_tree(st, n, s);
    };
    st.source = "procfs sampler (schedstat of the worker threads, per-tick states, blocked \
                 threads' resources)"
        .into();
    let steady = s.steady_on_cpu_share.zip(s.steady_share_of_life);
    // Sink waits, from shares of the whole lives to shares of the steady state.
    let sink_life: f64 = s
        .external_waits
        .iter()
        .flatten()
        .map(|k| k.wait_share)
        .sum();
    let span = steady.map_or(1.0, |(_, l)| l).max(f64::EPSILON);
    let work = steady.map_or(life_share, |(w, _)| w);
    let sink = (sink_life / span).min(1.0 - work);
    let per_cpu_s = (work > 0.0).then(|| sink / work);
    let sets_pace = per_cpu_s.is_some_and(|w| w > SINK_SETS_PACE_WAIT_PER_CPU_S);
    let judged = if sink > 0.0 && !sets_pace {
        work / (1.0 - sink)
    } else {
        work
    }
    .min(1.0);

    st.measured.insert("workers".into(), json!(n));
    st.measured
        .insert("on_cpu_share".into(), json!(round(life_share, 3)));
    if let Some((w, l)) = steady {
        st.measured
            .insert("steady_on_cpu_share".into(), json!(round(w, 3)));
        st.measured
            .insert("steady_share_of_life".into(), json!(round(l, 3)));
    }
    if let Some(su) = s.worker_startup_s {
        st.measured
            .insert("worker_startup_s".into(), json!(round(su, 3)));
    }
    st.measured
        .insert("sink_wait_share".into(), json!(round(sink, 3)));
    st.measured.insert(
        "sink_wait_per_cpu_second".into(),
        json!(per_cpu_s.map(|w| round(w, 3))),
    );
    st.measured
        .insert("work_on_cpu_share".into(), json!(round(judged, 3)));
    if let Some(b) = s.busy_cores {
        st.measured.insert("busy_cores".into(), json!(round(b, 2)));
    }
    st.answer = if judged >= CPU_BOUND_ON_CPU_SHARE {
        Answer::Yes
    } else {
        Answer::No
    };
    let mut said = vec![format!(
        "At {n} worker{}, the workers wanted a CPU {:.0} % of their lives",
        if n == 1 { "" } else { "s" },
        life_share * 100.0
    )];
    if let (Some((w, l)), Some(su)) = (steady, s.worker_startup_s) {
        said.push(format!(
            "{:.0} % of their steady state ({:.0} % of their lives; start-up {su:.2} s each)",
            w * 100.0,
            l * 100.0
        ));
    }
    let top = s.external_waits.iter().flatten().next();
    match (top, per_cpu_s) {
        (Some(k), Some(w)) if sink > 0.0 => said.push(format!(
            "they waited {:.0} % of it on sinks (most on {}, {}), {w:.2} s per CPU second: {}",
            sink * 100.0,
            k.resource,
            k.kind,
            if sets_pace {
                "the sink sets the pace even behind one writer, so the waits stay in".to_string()
            } else {
                format!(
                    "net of them the work wanted a CPU {:.0} % of its time",
                    judged * 100.0
                )
            }
        )),
        _ => said.push("no worker waited on a sink".into()),
    }
    st.evidence = format!(
        "{} (threshold {:.0} %){}.",
        said.join("; "),
        CPU_BOUND_ON_CPU_SHARE * 100.0,
        s.busy_cores
            .map(|b| format!("; the tree kept {b:.2} cores busy"))
            .unwrap_or_default()
    );
    st
}

/// Without the sampler's per-worker view: tree CPU / (wall x workers).
fn whole_tree(mut st: Step, n: u32, s: &PointSummary) -> Step {
    st.source = "tree CPU time (perf task-clock or rusage) / wall time / workers".into();
    let Some(share) = s.busy_cores.map(|b| (b / f64::from(n)).min(1.0)) else {
        st.evidence = format!("At {n} workers no CPU time was measured.");
        return st;
    };
    st.measured.insert("workers".into(), json!(n));
    st.measured
        .insert("on_cpu_share".into(), json!(round(share, 3)));
    st.answer = if share >= CPU_BOUND_ON_CPU_SHARE {
        Answer::Yes
    } else {
        Answer::No
    };
    st.evidence = format!(
        "At {n} worker{}, the tree used {:.0} % of {n} core{} (threshold {:.0} %); without the \
         sampler the workers' waits were not seen.",
        if n == 1 { "" } else { "s" },
        share * 100.0,
        if n == 1 { "" } else { "s" },
        CPU_BOUND_ON_CPU_SHARE * 100.0
    );
    st
}
