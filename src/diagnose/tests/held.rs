//! A verdict that holds still: a step decides only when its figure's interval over the runs
//! clears the bar; a straddling one answers unknown, and more runs that agree settle it.

use super::*;
use crate::diagnose::deciding::{weigh, IntervalKind};

/// Two counts, the second losing `share` of its slots' time to imbalance: task_variance
/// decides on that share (no task was timed).
fn tailed(share: f64) -> (Measurements, Analysis) {
    let tailed = accounted(2, 2.0 * (1.0 - share), &[("imbalance", 2.0 * share)]);
    sweep(
        2,
        vec![(1, 4.0, accounted(1, 0.99, &[])), (2, 2.9, tailed)],
        Layout::Processes,
        "throughput",
    )
}

/// The sweep pooled with a tail of `pooled`, and each run alone with its own.
fn over_runs(pooled: f64, runs: &[f64]) -> Diagnosis {
    let (m, a) = tailed(pooled);
    let runs: Vec<_> = runs.iter().map(|&t| tailed(t)).collect();
    diagnose_over_runs(&m, &a, &runs)
}

fn variance(d: &Diagnosis) -> &Step {
    crate::diagnose::tests::step_of(d, StepId::TaskVariance)
}

#[test]
fn a_figure_whose_runs_all_clear_the_bar_decides() {
    let d = over_runs(0.3, &[0.28, 0.3, 0.32]);
    let st = variance(&d);
    assert_eq!(st.answer, Answer::Yes, "{}", st.evidence);
    assert_eq!(st.measured["decided_over_runs"], 3);
    let low = st.measured["imbalance_share_low"].as_f64().unwrap();
    assert!(low > 0.15 && low < 0.3, "{low}");
    assert!(st.evidence.contains("clear of its bar"), "{}", st.evidence);
    assert_eq!(
        d.recommendation.scheduling,
        Some(Scheduling::DynamicSmallTasks)
    );
    assert!(undecided(&d).is_empty());
    let w = st.deciding.unwrap();
    assert_eq!((w.figure.name, w.figure.bar), ("imbalance_share", 0.15));
}

#[test]
fn a_figure_whose_runs_straddle_the_bar_answers_unknown_and_says_what_would_settle_it() {
    // Pooled, the tail is over the bar; one run says yes and the other no: a coin toss.
    let d = over_runs(0.2, &[0.1, 0.3]);
    let st = variance(&d);
    assert_eq!(st.answer, Answer::Unknown, "{}", st.evidence);
    assert_eq!(
        st.measured["imbalance_share"], 0.2,
        "the figure is still given"
    );
    assert_eq!(st.measured["imbalance_share_low"], 0.1);
    assert_eq!(st.measured["imbalance_share_high"], 0.3);
    assert!(st.evidence.contains("undecided"), "{}", st.evidence);
    assert_eq!(d.recommendation.scheduling, None, "its leaf is left out");
    assert!(
        d.confidence_reasons
            .iter()
            .any(|r| r.contains("undecided over the runs: task_variance")),
        "{:?}",
        d.confidence_reasons
    );
    let u = undecided(&d);
    assert_eq!(u.len(), 1, "{u:?}");
    let u = &u[0];
    assert_eq!(
        (u.step, u.figure, u.value, u.low, u.high, u.bar),
        (StepId::TaskVariance, "imbalance_share", 0.2, 0.1, 0.3, 0.15)
    );
    assert!(u.settle.contains("more runs"), "{}", u.settle);
    assert!(
        u.to_string().starts_with(
            "task_variance's imbalance_share 0.20 (0.10 to 0.30) straddles its bar 0.15"
        ),
        "{u}"
    );
}

#[test]
fn measuring_more_runs_that_agree_settles_what_two_could_not() {
    let two = [0.1, 0.3];
    assert_eq!(variance(&over_runs(0.2, &two)).answer, Answer::Unknown);
    // The same two runs, and eight more that agree on 0.2: the interval narrows past the bar.
    let mut ten = two.to_vec();
    ten.extend([0.2; 8]);
    let d = over_runs(0.2, &ten);
    assert_eq!(
        variance(&d).answer,
        Answer::Yes,
        "{}",
        variance(&d).evidence
    );
    assert!(undecided(&d).is_empty());
    // One run alone decides on its value as before, and says it rests on one run.
    let one = over_runs(0.2, &[]);
    let st = variance(&one);
    assert_eq!(st.answer, Answer::Yes);
    assert_eq!(st.measured["decided_over_runs"], 1);
    assert!(!st.measured.contains_key("imbalance_share_low"));
}

#[test]
fn intervals_are_a_t_interval_from_three_runs_a_range_from_two_and_the_steps_own_kept() {
    let d = |v: f64| Deciding::above("x", v, 1.0);
    let three = weigh(d(2.0), &[d(1.0), d(2.0), d(3.0)]);
    let (lo, hi) = three.interval.unwrap();
    // mean 2, sd 1, t(0.95, 2 df) = 2.920: 2 ± 2.920 / sqrt 3.
    assert!(
        (lo - 0.3141).abs() < 1e-3 && (hi - 3.6859).abs() < 1e-3,
        "{lo} {hi}"
    );
    assert_eq!(three.kind, Some(IntervalKind::TMean90));
    assert!(three.straddles());
    let two = weigh(d(2.0), &[d(1.5), d(2.5)]);
    assert_eq!(two.interval, Some((1.5, 2.5)));
    assert!(!two.straddles());
    // A pooled value on the other side of the bar from every run is no decision either.
    assert!(weigh(d(0.9), &[d(1.5), d(2.5)]).straddles());
    let own = weigh(d(2.0).within(0.5, 2.5), &[d(0.1), d(5.0)]);
    assert_eq!(
        (own.interval, own.kind),
        (Some((0.5, 2.5)), Some(IntervalKind::Own))
    );
    // A run that decided on another figure says nothing about this one.
    let other = Deciding {
        name: "y",
        ..d(0.0)
    };
    assert_eq!(weigh(d(2.0), &[d(1.5), other]).interval, None);
    // Below: yes at or under the bar.
    let fork = Deciding::below("threads_at_start", 1.0, 1.0);
    assert!(fork.yes_at(1.0) && !fork.yes_at(2.0));
}

#[test]
fn a_step_within_its_own_interval_is_undecided_too_and_keeps_its_own_interval() {
    let (m, mut a) = sweep(
        2,
        vec![(1, 4.0, busy(0.99)), (2, 3.0, busy(0.99))],
        Layout::Processes,
        "throughput",
    );
    // The step to 2 workers returned between -0.18 and 0.83 of the ideal gain over its runs.
    a.points[1].marginal_efficiency_low = Some(-0.18);
    a.points[1].marginal_efficiency_high = Some(0.83);
    let d = diagnose(&m, &a);
    let u = undecided(&d);
    assert_eq!(u.len(), 1, "{u:?}");
    assert_eq!(
        (u[0].step, u[0].figure, u[0].low, u[0].high, u[0].bar),
        (
            StepId::WorkerCount,
            "marginal_efficiency",
            -0.18,
            0.83,
            0.25
        )
    );
    assert!(u[0].settle.contains("more runs"), "{}", u[0].settle);
    // Tight runs: decided, nothing left to measure.
    a.points[1].marginal_efficiency_low = Some(0.30);
    a.points[1].marginal_efficiency_high = Some(0.36);
    assert!(undecided(&diagnose(&m, &a)).is_empty());
}
