//! The decision tree, walked with measured answers: a pure function of the analysis.
//!
//! Each step is a file in steps/ with three parts: `figures` (a pure function of the
//! analysis: the step's typed figures), `decide` (a small function of the figures and the
//! thresholds) and `step` (the words, and the `measured` values report.json writes, derived
//! from the figures). `diagnose` below walks them in the tree's order; confidence and advice
//! read the typed figures and decisions.
//!
//! A new step touches three places: its file in steps/ (figures, decide, step), this file (a
//! `StepId` variant with its id, the `mod` line, and its call in `diagnose` with the leaf it
//! gives the recommendation), and its rows in thresholds.rs. Arithmetic it needs on the
//! measurements goes to analyze/ as a pure function.

mod advice;
pub mod cited;
mod confidence;
mod findings;
mod read;
mod step;
pub mod thresholds;
mod verdict;

/// The steps, a file each (src/diagnose/steps/).
mod steps {
    pub mod cpu_bound;
    pub mod large_payload;
    pub mod latency_goal;
    pub mod shared_sink;
    pub mod start_method;
    pub mod task_variance;
    pub mod threads_scale;
    pub mod worker_count;
}

use crate::analyze::Analysis;
use crate::measure::Measurements;
use serde::{Deserialize, Serialize};
pub use step::{Answer, Step};
use steps::*;
pub use verdict::*;

/// The steps of the tree, in the order `diagnose` walks them; serde writes the snake_case ids
/// report.json has always carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepId {
    CpuBound,
    ThreadsScale,
    LargePayload,
    SharedSink,
    LatencyGoal,
    TaskVariance,
    StartMethod,
    WorkerCount,
}

impl StepId {
    /// The id as report.json writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            StepId::CpuBound => "cpu_bound",
            StepId::ThreadsScale => "threads_scale",
            StepId::LargePayload => "large_payload",
            StepId::SharedSink => "shared_sink",
            StepId::LatencyGoal => "latency_goal",
            StepId::TaskVariance => "task_variance",
            StepId::StartMethod => "start_method",
            StepId::WorkerCount => "worker_count",
        }
    }
}

/// Pads like a string, so tables can align ids with `{:<14}`.
impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Walks the tree.
pub fn diagnose(m: &Measurements, a: &Analysis) -> Diagnosis {
    // large_payload first: when its leaf (references, shared memory) takes the payloads' waits
    // off the workers, cpu_bound judges the work without them.
    let payload = large_payload::figures(m, a);
    let payload_answer = large_payload::decide(payload.as_ref());
    let work = cpu_bound::figures(m, a, payload_answer == Answer::Yes);
    let work_answer = cpu_bound::decide(&work);
    let threads = threads_scale::figures(m, a);
    let threads_decision = threads_scale::decide(&threads);
    let sinks = shared_sink::figures(m, a);
    let sinks_decision = shared_sink::decide(&sinks);
    let goal = latency_goal::figures(m, a);
    let goal_answer = latency_goal::decide(&goal);
    let variance = task_variance::figures(m, a);
    let variance_decision = task_variance::decide(&variance);
    let pools = start_method::figures(m, a);
    let pools_decision = start_method::decide(pools.as_ref());
    let curve = worker_count::figures(m, a);
    let curve_decision = worker_count::decide(curve.as_ref());

    let recommendation = Recommendation {
        model: match (work_answer, threads_decision.answer) {
            (Answer::No, _) => Some(Model::AsyncOrThreads),
            (Answer::Yes, Answer::Yes) => Some(Model::Threads),
            (Answer::Yes, _) => Some(Model::Processes),
            (Answer::Unknown, _) => None,
        },
        data_passing: large_payload::data_passing(payload_answer),
        sink: sinks_decision.sink,
        scheduling: match (variance_decision.answer, goal_answer) {
            (Answer::Unknown, _) => None,
            // For latency every result should wait behind as little work as possible: small
            // tasks handed out one at a time, whatever their spread.
            (_, Answer::Yes) | (Answer::Yes, _) => Some(Scheduling::DynamicSmallTasks),
            (Answer::No, _) => Some(Scheduling::Chunked),
        },
        workers: curve_decision.recommended,
        start_method: pools_decision.choice,
    };
    let (confidence, confidence_reasons) = confidence::judge(
        m,
        a,
        &confidence::FromSteps {
            cpu_bound: work_answer,
            threads: &threads,
            threads_decision: &threads_decision,
            worker_count: &curve_decision,
        },
    );
    let mut findings = findings::findings(m, a);
    findings.extend(advice::for_goal(
        a,
        &advice::FromSteps {
            latency: &goal,
            payload: payload.as_ref(),
            task_variance: variance_decision.answer,
        },
        &recommendation,
    ));
    Diagnosis {
        steps: vec![
            cpu_bound::step(&work, work_answer),
            threads_scale::step(&threads, &threads_decision),
            large_payload::step(payload.as_ref(), payload_answer),
            shared_sink::step(&sinks, &sinks_decision),
            latency_goal::step(&goal, goal_answer),
            task_variance::step(&variance, &variance_decision),
            start_method::step(pools.as_ref(), &pools_decision),
            worker_count::step(curve.as_ref(), &curve_decision),
        ],
        recommendation,
        confidence,
        confidence_reasons,
        findings,
    }
}

#[cfg(test)]
mod tests;
