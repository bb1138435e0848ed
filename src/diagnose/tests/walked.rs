//! Replays of cpu_bound, shared_sink and latency_goal on hand-built analyses: yes, no and
//! unknown (where the step can be unknown), the recommendation each leads to, and every number
//! their evidence prints found in the same report. The other steps are in owned.rs.

use super::owned::assert_evidence_cites_the_report;
use super::*;

fn step(d: &Diagnosis, id: StepId) -> &Step {
    d.steps.iter().find(|s| s.id == id).unwrap()
}

#[track_caller]
fn check(m: &Measurements, a: &Analysis, id: StepId, want: Answer) -> Diagnosis {
    let d = diagnose(m, a);
    let st = step(&d, id);
    assert_eq!(st.answer, want, "{id}: {}", st.evidence);
    assert!(!st.evidence.is_empty(), "{id} has no evidence");
    assert_evidence_cites_the_report(m, a, st);
    d
}

/// Workers of one SQLite file: `direct` blocked on it, `sleep` asleep in its busy handler.
fn writing(on_cpu: f64, direct: f64, sleep: f64, writers: u32) -> PointSummary {
    let sink = Sink {
        resource: "file:/data/results.db".into(),
        kind: "sqlite".parse().unwrap(),
        wait_share: direct + sleep,
        direct_share: direct,
        sleep_share: sleep,
        workers_waiting: writers,
        workers_writing: writers,
    };
    let s = PointSummary {
        external_waits: Some(vec![sink.clone()]),
        sinks: Some(if writers >= 2 { vec![sink] } else { vec![] }),
        workers_write_sinks: Some(true),
        ..busy(on_cpu)
    };
    // One slot per writer: the accounting's cores are its shares of each.
    let n = f64::from(writers);
    sink_accounted(s, writers, "sqlite", &[((direct + sleep) * n, on_cpu * n)])
}

#[test]
fn cpu_bound_answers_yes_no_and_unknown() {
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, worked(0.97)), (2, 2.1, worked(0.96))],
        Layout::Processes,
        "throughput",
    );
    let d = check(&m, &a, StepId::CpuBound, Answer::Yes);
    assert_eq!(d.recommendation.model, Some(Model::Processes));

    let (m, a) = sweep(
        2,
        vec![(1, 4.0, worked(0.3)), (2, 2.1, worked(0.3))],
        Layout::Processes,
        "throughput",
    );
    let d = check(&m, &a, StepId::CpuBound, Answer::No);
    assert_eq!(d.recommendation.model, Some(Model::AsyncOrThreads));

    // Committing workers: net of the sink's waits the work computes.
    let (m, a) = sweep(
        2,
        vec![
            (1, 4.0, writing(0.62, 0.36, 0.0, 1)),
            (2, 3.0, writing(0.5, 0.1, 0.38, 2)),
        ],
        Layout::Processes,
        "throughput",
    );
    let d = check(&m, &a, StepId::CpuBound, Answer::Yes);
    let measured = &step(&d, StepId::CpuBound).measured;
    assert_eq!(measured["sink_cores"], 0.36);
    assert_eq!(measured["work_on_cpu_share"], 0.969, "0.62 / (0.62 + 0.02)");

    // No successful run: nothing to judge.
    let (m, mut a) = sweep(
        2,
        vec![(1, 4.0, busy(0.97)), (2, 2.1, busy(0.96))],
        Layout::Processes,
        "throughput",
    );
    for p in &mut a.points {
        p.wall_s = None;
    }
    let d = check(&m, &a, StepId::CpuBound, Answer::Unknown);
    assert_eq!(d.recommendation.model, None);
}

#[test]
fn cpu_bound_without_the_sampler_judges_the_whole_tree_and_says_so() {
    let bare = |busy_cores: f64| PointSummary {
        busy_cores: Some(busy_cores),
        ..Default::default()
    };
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, bare(0.98)), (2, 2.1, bare(1.9))],
        Layout::Processes,
        "throughput",
    );
    let d = check(&m, &a, StepId::CpuBound, Answer::Yes);
    assert!(step(&d, StepId::CpuBound)
        .evidence
        .contains("without the sampler"));
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, bare(0.2)), (2, 2.1, bare(0.4))],
        Layout::Processes,
        "throughput",
    );
    check(&m, &a, StepId::CpuBound, Answer::No);
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, PointSummary::default())],
        Layout::Single,
        "throughput",
    );
    check(&m, &a, StepId::CpuBound, Answer::Unknown);
}

#[test]
fn shared_sink_answers_yes_no_and_unknown() {
    // Writers whose waits per CPU second grow with n, asleep between tries: one writer.
    let (m, a) = sweep(
        2,
        vec![
            (1, 10.0, writing(0.95, 0.02, 0.0, 1)),
            (2, 9.0, writing(0.5, 0.02, 0.45, 2)),
        ],
        Layout::Processes,
        "throughput",
    );
    let d = check(&m, &a, StepId::SharedSink, Answer::Yes);
    assert_eq!(d.recommendation.sink, Some(SinkAdvice::SingleWriter));
    assert_eq!(
        step(&d, StepId::SharedSink).measured["resource"],
        "file:/data/results.db"
    );

    // The same file, written without queueing: direct writes are fine.
    let (m, a) = sweep(
        2,
        vec![
            (1, 10.0, writing(0.95, 0.02, 0.0, 1)),
            (2, 5.1, writing(0.95, 0.02, 0.0, 2)),
        ],
        Layout::Processes,
        "throughput",
    );
    let d = check(&m, &a, StepId::SharedSink, Answer::No);
    assert_eq!(d.recommendation.sink, Some(SinkAdvice::Direct));

    // Nothing written, nothing waited on.
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, busy(0.97)), (2, 2.1, busy(0.96))],
        Layout::Processes,
        "throughput",
    );
    let d = check(&m, &a, StepId::SharedSink, Answer::No);
    assert_eq!(d.recommendation.sink, Some(SinkAdvice::None));

    // No sampler: waits were never seen.
    let bare = PointSummary {
        busy_cores: Some(0.98),
        ..Default::default()
    };
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, bare.clone()), (2, 2.1, bare)],
        Layout::Processes,
        "throughput",
    );
    let d = check(&m, &a, StepId::SharedSink, Answer::Unknown);
    assert_eq!(d.recommendation.sink, None);
}

#[test]
fn latency_goal_is_the_users_and_states_task_latencies_where_measured() {
    use crate::analyze::ipc::{ProbeSummary, TaskStats};
    let timed = PointSummary {
        probes: Some(ProbeSummary {
            task_durations: Some(TaskStats {
                count: 40,
                mean_s: 0.02,
                p50_s: 0.018,
                p99_s: 0.09,
                cv: Some(0.4),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..busy(0.97)
    };
    for (goal, want) in [("latency", Answer::Yes), ("throughput", Answer::No)] {
        let (m, a) = sweep(
            2,
            vec![(1, 4.0, timed.clone()), (2, 2.1, timed.clone())],
            Layout::Processes,
            goal,
        );
        let d = check(&m, &a, StepId::LatencyGoal, want);
        let ev = &step(&d, StepId::LatencyGoal).evidence;
        assert!(ev.contains("18.0 ms") && ev.contains("90.0 ms"), "{ev}");
    }
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, busy(0.97)), (2, 2.1, busy(0.96))],
        Layout::Processes,
        "throughput",
    );
    let d = check(&m, &a, StepId::LatencyGoal, Answer::No);
    assert!(step(&d, StepId::LatencyGoal)
        .evidence
        .contains("not measured"));
}
