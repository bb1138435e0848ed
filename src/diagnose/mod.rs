//! The decision tree, walked with measured answers: a pure function of the analysis.

mod advice;
pub mod cited;
mod confidence;
mod findings;
mod past_host;
mod steps;
pub mod thresholds;
pub mod what_if;

use crate::analyze::Analysis;
use crate::measure::Measurements;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The answer to one question of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Yes,
    No,
    Unknown,
}

/// One step of the tree with the numbers that decided it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Step {
    pub id: String,
    pub question: String,
    pub answer: Answer,
    /// The measured values the answer rests on.
    pub measured: BTreeMap<String, serde_json::Value>,
    /// The rule applied, in words with its number.
    pub threshold: String,
    /// One or two sentences a user can check against the numbers.
    pub evidence: String,
    /// Which measurement produced the figures (procfs sampler, perf_event, rusage, ...).
    pub source: String,
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
    /// What each fix buys, replayed (`what_if`); empty without a replay.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub what_if: Vec<what_if::WhatIf>,
}

/// Walks the tree.
pub fn diagnose(m: &Measurements, a: &Analysis) -> Diagnosis {
    // large_payload first: when its leaf (references, shared memory) takes the payloads' waits
    // off the workers, cpu_bound judges the work without them.
    let (large_payload, data_passing) = steps::large_payload(m, a);
    let cpu_bound = steps::cpu_bound(m, a, large_payload.answer == Answer::Yes);
    let threads_scale = steps::threads_scale(m, a);
    let latency_goal = steps::latency_goal(m, a);
    let (shared_sink, sink) = steps::shared_sink(m, a);
    let task_variance = steps::task_variance(m, a);
    let scheduling = match (task_variance.answer, latency_goal.answer) {
        (Answer::Unknown, _) => None,
        // For latency every result should wait behind as little work as possible: small
        // tasks handed out one at a time, whatever their spread.
        (_, Answer::Yes) | (Answer::Yes, _) => Some(Scheduling::DynamicSmallTasks),
        (Answer::No, _) => Some(Scheduling::Chunked),
    };
    let (start_method, start) = steps::start_method(m, a);
    let (worker_count, workers) = steps::worker_count(m, a);
    let model = match (cpu_bound.answer, threads_scale.answer) {
        (Answer::No, _) => Some(Model::AsyncOrThreads),
        (Answer::Yes, Answer::Yes) => Some(Model::Threads),
        (Answer::Yes, _) => Some(Model::Processes),
        (Answer::Unknown, _) => None,
    };
    let steps = vec![
        cpu_bound,
        threads_scale,
        large_payload,
        shared_sink,
        latency_goal,
        task_variance,
        start_method,
        worker_count,
    ];
    let (confidence, confidence_reasons) = confidence::judge(m, a, &steps);
    let recommendation = Recommendation {
        model,
        data_passing,
        sink,
        scheduling,
        workers,
        start_method: start,
    };
    let mut findings = findings::findings(m, a);
    findings.extend(advice::for_goal(m, a, &steps, &recommendation));
    let what_if = what_if::what_ifs(m, a, &recommendation);
    findings.extend(past_host::findings(m, a, &what_if));
    Diagnosis {
        what_if,
        recommendation,
        findings,
        steps,
        confidence,
        confidence_reasons,
    }
}

#[cfg(test)]
mod tests;
