//! The report: the contract's shape (schema_version 1) assembled from measurements, analysis
//! and diagnosis, and the exporters that turn it into bytes.

mod json;
mod terminal;

pub use json::Json;
pub use terminal::Terminal;

use crate::analyze::point::PointSummary;
use crate::analyze::{Analysis, Scaling, Series};
use crate::diagnose::Diagnosis;
use crate::measure::{Host, Measurements, PointMeasurements};
use serde::Serialize;
use std::collections::BTreeMap;

/// Bumped only when a contract field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// One small trait for every output: the finished report in, bytes out.
pub trait Exporter {
    fn serialize(&self, report: &Report) -> anyhow::Result<Vec<u8>>;
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

/// Whether the sweep finished.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Still running: the report is rewritten after each point.
    InProgress,
    Complete,
    /// Stopped by Ctrl-C/SIGTERM; the points measured so far are kept.
    Interrupted,
    /// Stopped at the first failed run (`--fail-fast`); the runs so far are kept.
    FailedFast,
}

#[derive(Debug, Serialize)]
pub struct ReportPoint<'a> {
    #[serde(flatten)]
    pub measured: &'a PointMeasurements,
    pub summary: &'a PointSummary,
}

#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub schema_version: u32,
    pub tool: Tool,
    pub status: Status,
    pub host: &'a Host,
    pub command: &'a [String],
    pub params: &'a BTreeMap<String, Vec<String>>,
    pub goal: &'a str,
    /// How speedup is computed, so nobody misreads it.
    pub assumptions: Vec<&'static str>,
    pub points: Vec<ReportPoint<'a>>,
    /// The scaling fits of the primary series (the one the diagnosis describes).
    pub scaling: Option<&'a Scaling>,
    /// Every parameter combination's curve and fits.
    pub series: &'a [Series],
    pub primary_series: Option<usize>,
    pub diagnosis: &'a Diagnosis,
}

impl<'a> Report<'a> {
    pub fn new(m: &'a Measurements, a: &'a Analysis, d: &'a Diagnosis, status: Status) -> Self {
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool { name: "forkcast", version: env!("CARGO_PKG_VERSION") },
            status,
            host: &m.host,
            command: &m.command,
            params: &m.params,
            goal: &m.goal,
            assumptions: vec![
                "speedup = wall(smallest count) / wall(n): the same total work at every worker count",
                "medians over measured runs; warmup and failed runs are left out",
            ],
            points: m.points.iter().zip(&a.points).map(|(measured, summary)| ReportPoint { measured, summary }).collect(),
            scaling: a.primary.map(|p| &a.series[p].scaling),
            series: &a.series,
            primary_series: a.primary,
            diagnosis: d,
        }
    }
}
