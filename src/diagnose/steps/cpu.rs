//! Is the work CPU-bound? Judged on the work itself: the workers' steady state, net of the
//! waits the tree's later steps take off them: on a sink (one batched writer), and on the pool's
//! pipes when they carry big payloads (references or shared memory).

use super::{primary_points, round, step};
use crate::analyze::point::PointSummary;
use crate::analyze::Analysis;
use crate::diagnose::thresholds::{CPU_BOUND_ON_CPU_SHARE, SINK_SETS_PACE_WAIT_PER_CPU_S};
use crate::diagnose::{Answer, Step};
use crate::measure::{Measurements, ResourceKind};
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
///
/// `payloads_move` is large_payload's yes: the waits on the pool's own pipes are then the
/// payloads' transfer, which passing references takes off the workers, and are netted too.
pub fn cpu_bound(m: &Measurements, a: &Analysis, payloads_move: bool) -> Step {
    let question = "Is the work CPU-bound?";
    let base = primary_points(m, a)
        .into_iter()
        .find(|(_, s)| s.wall_s.is_some());
    let mut st = step("cpu_bound", question, Answer::Unknown, BTreeMap::new());
    st.threshold = format!(
        "on-CPU share of the workers' steady state, net of sink waits (and of pipe waits when \
         large_payload is yes), >= {CPU_BOUND_ON_CPU_SHARE} -> yes (not netted when the sink \
         waits more than {SINK_SETS_PACE_WAIT_PER_CPU_S} s per CPU second)"
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
    let sink_life: f64 = s
        .external_waits
        .iter()
        .flatten()
        .map(|k| k.wait_share)
        .sum();
    // Who sets the pace is judged on the whole lives: a sink waited on longer than the work
    // computes sets it even behind one writer, and then nothing is taken out.
    let per_cpu_s = (life_share > 0.0).then(|| sink_life / life_share);
    let sets_pace = per_cpu_s.is_some_and(|w| w > SINK_SETS_PACE_WAIT_PER_CPU_S);
    // Otherwise the work is judged after start-up, net of the sink waits (as shares of the
    // steady state).
    let span = steady.map_or(1.0, |(_, l)| l).max(f64::EPSILON);
    let work = steady.map_or(life_share, |(w, _)| w);
    let payload_life = if payloads_move {
        s.offcpu
            .as_ref()
            .and_then(|o| {
                o.get(&crate::analyze::waits::OffCpuKind::Resource(
                    ResourceKind::Pipe,
                ))
            })
            .copied()
            .unwrap_or(0.0)
    } else {
        0.0
    };
    let sink = ((sink_life + payload_life) / span).min(1.0 - work).max(0.0);
    let judged = if sets_pace {
        life_share
    } else if sink > 0.0 {
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
        .insert("sink_wait_share".into(), json!(round(sink_life, 3)));
    if payloads_move {
        st.measured
            .insert("payload_wait_share".into(), json!(round(payload_life, 3)));
    }
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
    if let Some(k) = top {
        st.measured.insert("top_sink".into(), json!(k.resource));
    }
    match (top, per_cpu_s) {
        (Some(k), Some(w)) if sink_life > 0.0 => said.push(format!(
            "they waited {:.0} % of their lives on sinks (most on {}, {}), {w:.2} s per CPU second: {}",
            sink_life * 100.0,
            k.resource,
            k.kind,
            if sets_pace {
                "the sink sets the pace even behind one writer, so the waits stay in and the \
                 whole lives are judged"
                    .to_string()
            } else {
                format!(
                    "net of them the work wanted a CPU {:.0} % of its time",
                    judged * 100.0
                )
            }
        )),
        _ => said.push("no worker waited on a sink".into()),
    }
    if payload_life > 0.0 && !sets_pace {
        said.push(format!(
            "{:.0} % of their lives went waiting on the pool's pipes for payloads (large_payload: \
             yes), which passing references takes off them: net of the waits the work wanted a \
             CPU {:.0} % of its time",
            payload_life * 100.0,
            judged * 100.0
        ));
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

#[cfg(test)]
mod tests {
    use crate::analyze::waits::Sink;
    use crate::analyze::Layout;
    use crate::diagnose::tests::{answer, busy, sweep};
    use crate::diagnose::{diagnose, Answer, Model};

    /// Workers at 1 worker on a CPU `on_cpu` of their lives and waiting `sink` of them on a
    /// SQLite file they write.
    fn writing(on_cpu: f64, sink: f64) -> crate::analyze::point::PointSummary {
        let mut s = busy(on_cpu);
        s.external_waits = Some(vec![Sink {
            resource: "file:/data/results.db".into(),
            kind: "sqlite".parse().unwrap(),
            wait_share: sink,
            direct_share: sink,
            workers_waiting: 1,
            workers_writing: 1,
            ..Default::default()
        }]);
        s
    }

    #[test]
    fn workers_committing_to_a_database_are_judged_on_their_work_net_of_the_commits() {
        // 55 % on a CPU, 40 % in commits: the work itself wants a CPU 92 % of its time.
        let (m, a) = sweep(
            2,
            vec![
                (1, 10.0, writing(0.55, 0.40)),
                (2, 5.5, writing(0.55, 0.40)),
            ],
            Layout::Processes,
            "throughput",
        );
        let d = diagnose(&m, &a);
        assert_eq!(answer(&d, "cpu_bound"), Answer::Yes);
        let st = d.steps.iter().find(|s| s.id == "cpu_bound").unwrap();
        assert_eq!(st.measured["on_cpu_share"], 0.55, "the raw figure is given");
        assert!(st.measured["work_on_cpu_share"].as_f64().unwrap() > 0.9);
        assert!(
            st.evidence.contains("file:/data/results.db"),
            "{}",
            st.evidence
        );
        assert_eq!(d.recommendation.model, Some(Model::Processes));
    }

    #[test]
    fn clients_that_wait_on_a_service_longer_than_they_compute_stay_not_cpu_bound() {
        let (m, a) = sweep(
            2,
            vec![
                (1, 10.0, writing(0.03, 0.95)),
                (2, 5.0, writing(0.03, 0.95)),
            ],
            Layout::Processes,
            "throughput",
        );
        let d = diagnose(&m, &a);
        assert_eq!(answer(&d, "cpu_bound"), Answer::No);
        assert_eq!(d.recommendation.model, Some(Model::AsyncOrThreads));
    }

    #[test]
    fn start_up_is_judged_apart_from_the_steady_state() {
        // A pool's workers wait 60 % of their lives for start-up; once working they compute.
        let mut s = busy(0.38);
        s.steady_on_cpu_share = Some(0.95);
        s.steady_share_of_life = Some(0.4);
        s.worker_startup_s = Some(0.6);
        let (m, a) = sweep(2, vec![(1, 3.0, s)], Layout::Single, "throughput");
        let d = diagnose(&m, &a);
        assert_eq!(answer(&d, "cpu_bound"), Answer::Yes);
        let st = d.steps.iter().find(|s| s.id == "cpu_bound").unwrap();
        assert!(st.evidence.contains("start-up 0.60 s"), "{}", st.evidence);
    }
}
