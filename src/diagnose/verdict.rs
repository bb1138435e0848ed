//! What the diagnosis concludes: the recommendation's leaves, the confidence, and the whole
//! `diagnosis` object of report.json.

use super::Step;
use serde::{Deserialize, Serialize};

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

pub use crate::measure::probes::StartMethod;

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
    pub what_if: Vec<super::what_if::WhatIf>,
    /// "A bigger machine or a cluster": the replayed curve still rises past this host's cores
    /// and memory holds more workers than cores; the engine, the bytes per task a network
    /// would carry and their cost. Absent where it does not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<super::cluster::Cluster>,
}
