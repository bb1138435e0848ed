//! One step of the tree as report.json writes it, and what every step builds it from: its
//! `measured` values (derived from the step's typed figures) and its words.

use super::deciding::Weighed;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

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
    pub id: StepId,
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
    /// The one figure that decided, with its interval over the runs; not written (its value
    /// and interval are in `measured`).
    #[serde(skip)]
    #[schemars(skip)]
    pub deciding: Option<Weighed>,
}

/// What a step says about its figures and its decision.
pub struct Words {
    pub threshold: String,
    pub evidence: String,
    pub source: String,
}

impl Step {
    pub(super) fn new(
        id: StepId,
        question: &str,
        answer: Answer,
        measured: Measured,
        words: Words,
    ) -> Step {
        Step {
            id,
            question: question.into(),
            answer,
            measured: measured.0,
            threshold: words.threshold,
            evidence: words.evidence,
            source: words.source,
            deciding: None,
        }
    }
}

/// A step's `measured` values as report.json writes them: keys sorted, figures rounded to the
/// places the step gives them.
#[derive(Debug, Default)]
pub struct Measured(BTreeMap<String, Value>);

impl Measured {
    pub fn put(&mut self, key: impl Into<String>, value: impl Serialize) {
        let v = serde_json::to_value(value).unwrap_or(Value::Null);
        self.0.insert(key.into(), v);
    }

    /// Puts `value` when there is one; leaves the key out otherwise.
    pub fn put_some(&mut self, key: impl Into<String>, value: Option<impl Serialize>) {
        if let Some(v) = value {
            self.put(key, v);
        }
    }
}

pub use crate::analyze::stats::round;

/// "" for one, "s" for more: `worker{}`.
pub fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
