//! The decision tree, walked with measured answers: a pure function of the analysis.

mod advice;
pub mod cited;
mod confidence;
mod findings;
mod read;
mod step;
mod steps;
pub mod thresholds;

use crate::analyze::Analysis;
use crate::measure::Measurements;
use serde::{Deserialize, Serialize};
pub use step::Step;

/// The answer to one question of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Yes,
    No,
    Unknown,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    AsyncOrThreads,
    Threads,
    Processes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    High,
    Medium,
    Low,
}

/// How workers should write to a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SinkAdvice {
    /// No database, file or service was waited on.
    None,
    /// There is a sink but no contention: writing from each worker is fine.
    Direct,
    /// Workers contend: one batched writer behind a bounded queue.
    SingleWriter,
}

/// How to pass data to workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataPassing {
    Direct,
    ReferencesOrSharedMemory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scheduling {
    DynamicSmallTasks,
    Chunked,
}

/// How a Python pool should start its workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StartMethod {
    Fork,
    Forkserver,
    Spawn,
}

impl StartMethod {
    /// The name multiprocessing uses (and report.json writes).
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Forkserver => "forkserver",
            StartMethod::Spawn => "spawn",
        }
    }
}

/// The verdict. Fields whose step is not measured yet are left out, never guessed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Recommendation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<Model>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_passing: Option<DataPassing>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sink: Option<SinkAdvice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<Scheduling>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    /// null when no Python process pool was seen, or fork's safety could not be judged.
    #[serde(default)]
    pub start_method: Option<StartMethod>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Diagnosis {
    pub steps: Vec<Step>,
    pub recommendation: Recommendation,
    pub confidence: Confidence,
    /// Why confidence is not higher, one reason each.
    pub confidence_reasons: Vec<String>,
    /// Statements in words about the curve and the measurement (the seed's sanity checks).
    pub findings: Vec<String>,
}

/// Walks the tree.
pub fn diagnose(m: &Measurements, a: &Analysis) -> Diagnosis {
    // large_payload first: when its leaf (references, shared memory) takes the payloads' waits
    // off the workers, cpu_bound judges the work without them.
    let payload = steps::large_payload::figures(m, a);
    let payload_answer = steps::large_payload::decide(payload.as_ref());
    let work = steps::cpu_bound::figures(m, a, payload_answer == Answer::Yes);
    let cpu_answer = steps::cpu_bound::decide(&work);
    let threads = steps::threads_scale::figures(m, a);
    let threads_decision = steps::threads_scale::decide(&threads);
    let threads_scale = steps::threads_scale::step(&threads, &threads_decision);
    let latency = steps::latency_goal::figures(m, a);
    let latency_goal = steps::latency_goal::step(&latency, steps::latency_goal::decide(&latency));
    let sinks = steps::shared_sink::figures(m, a);
    let sink_decision = steps::shared_sink::decide(&sinks);
    let variance = steps::task_variance::figures(m, a);
    let variance_decision = steps::task_variance::decide(&variance);
    let variance_answer = variance_decision.answer;
    let scheduling = match (variance_answer, latency_goal.answer) {
        (Answer::Unknown, _) => None,
        // For latency every result should wait behind as little work as possible: small
        // tasks handed out one at a time, whatever their spread.
        (_, Answer::Yes) | (Answer::Yes, _) => Some(Scheduling::DynamicSmallTasks),
        (Answer::No, _) => Some(Scheduling::Chunked),
    };
    let (start_method, start) = steps::start_method(m, a);
    let curve = steps::worker_count::figures(m, a);
    let count = steps::worker_count::decide(curve.as_ref());
    let model = match (cpu_answer, threads_scale.answer) {
        (Answer::No, _) => Some(Model::AsyncOrThreads),
        (Answer::Yes, Answer::Yes) => Some(Model::Threads),
        (Answer::Yes, _) => Some(Model::Processes),
        (Answer::Unknown, _) => None,
    };
    let data_passing = steps::large_payload::data_passing(payload_answer);
    let steps = vec![
        steps::cpu_bound::step(&work, cpu_answer),
        threads_scale,
        steps::large_payload::step(payload.as_ref(), payload_answer),
        steps::shared_sink::step(&sinks, &sink_decision),
        latency_goal,
        steps::task_variance::step(&variance, &variance_decision),
        start_method,
        steps::worker_count::step(curve.as_ref(), &count),
    ];
    let (confidence, confidence_reasons) = confidence::judge(
        m,
        a,
        &confidence::FromSteps {
            cpu_bound: cpu_answer,
            threads: &threads,
            threads_decision: &threads_decision,
            worker_count: &count,
        },
    );
    let recommendation = Recommendation {
        model,
        data_passing,
        sink: sink_decision.sink,
        scheduling,
        workers: count.recommended,
        start_method: start,
    };
    let mut findings = findings::findings(m, a);
    findings.extend(advice::for_goal(
        a,
        &advice::FromSteps {
            latency: &latency,
            payload: payload.as_ref(),
            task_variance: variance_answer,
        },
        &recommendation,
    ));
    Diagnosis {
        recommendation,
        findings,
        steps,
        confidence,
        confidence_reasons,
    }
}

#[cfg(test)]
mod tests;
