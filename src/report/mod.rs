//! The report: the contract's shape (schema_version 1) assembled from measurements, analysis
//! and diagnosis, and the exporters that turn it into bytes, chosen by [`Format`].

mod cluster;
mod csv;
pub mod diff;
pub mod html;
mod json;
mod losses;
mod markdown;
mod pick;
pub mod plots;
pub mod progress;
pub mod render;
pub mod screen;
mod terminal;
pub mod trace;
pub mod visuals;
mod what_if;

pub use csv::Csv;
pub use html::Html;
pub use json::{lean_point, Json};
pub use markdown::Markdown;
pub use terminal::Terminal;

use crate::analyze::point::PointSummary;
use crate::analyze::{Analysis, Scaling, Series};
use crate::diagnose::Diagnosis;
use crate::measure::{Goal, Host, Measurements, PointMeasurements, Rounds};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped only when a contract field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// One small trait for every output: the finished report in, bytes out.
pub trait Exporter {
    fn serialize(&self, report: &Report) -> anyhow::Result<Vec<u8>>;
}

/// One file of the output folder besides report.json (a plot, report.html, trace.json): its
/// name and its bytes. The pipeline writes it; report/ only makes it.
pub struct Picture {
    pub file: String,
    pub bytes: Vec<u8>,
}

/// The single-file formats `forkcast report --format` writes (hyperfine's ExportManager shape:
/// one enum arm per exporter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The summary on one screen (what `forkcast run` prints); with `-v`, the full text.
    Text,
    /// report.json, the contract.
    Json,
    /// The points table, fits, steps and verdict as GitHub-flavoured Markdown.
    Markdown,
    /// One row per point, for spreadsheets.
    Csv,
    /// The full text (summary.txt, and `text` with `-v`): every step's evidence, rule and
    /// source.
    #[value(skip)]
    TextVerbose,
}

impl Format {
    /// `-v` turns the one-screen summary into the full text.
    pub fn verbose(self, verbose: bool) -> Format {
        match self {
            Format::Text if verbose => Format::TextVerbose,
            other => other,
        }
    }

    pub fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Text => Box::new(screen::Screen::from_env()),
            Format::TextVerbose => Box::new(Terminal),
            Format::Json => Box::new(Json),
            Format::Markdown => Box::new(Markdown),
            Format::Csv => Box::new(Csv),
        }
    }
}

/// report.html for `forkcast report --html`.
pub fn html(report: &Report) -> anyhow::Result<Vec<u8>> {
    Html.serialize(report)
}

/// The plots (scaling, efficiency, breakdown, timeline) for `forkcast report --plots DIR`.
pub fn plots(report: &Report, png: bool) -> anyhow::Result<Vec<Picture>> {
    plots::plot_files(report, png)
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

impl Tool {
    pub fn this() -> Tool {
        Tool {
            name: "forkcast",
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// Whether the sweep finished.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
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

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReportPoint<'a> {
    #[serde(flatten)]
    pub measured: &'a PointMeasurements,
    pub summary: &'a PointSummary,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report<'a> {
    pub schema_version: u32,
    pub tool: Tool,
    pub status: Status,
    /// The compressed file beside report.json holding every raw measurement (sampler ticks,
    /// processes, threads, probe records) that report.json leaves out; `forkcast report`
    /// re-analyses from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<&'a str>,
    pub host: &'a Host,
    pub command: &'a [String],
    pub params: &'a BTreeMap<String, Vec<String>>,
    pub goal: Goal,
    /// `--runs auto`: how many rounds each point took and why; absent for `--runs N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounds: Option<&'a Rounds>,
    /// How speedup is computed, so nobody misreads it.
    pub assumptions: Vec<&'static str>,
    pub points: Vec<ReportPoint<'a>>,
    /// The scaling fits of the primary series (the one the diagnosis describes).
    pub scaling: Option<&'a Scaling>,
    /// Every parameter combination's curve and fits.
    pub series: &'a [Series],
    pub primary_series: Option<usize>,
    pub diagnosis: &'a Diagnosis,
    /// What the report was built from, for the exporters that draw (plots, html, trace).
    #[serde(skip)]
    pub measurements: &'a Measurements,
    #[serde(skip)]
    pub analysis: &'a Analysis,
}

impl<'a> Report<'a> {
    pub fn new(m: &'a Measurements, a: &'a Analysis, d: &'a Diagnosis, status: Status) -> Self {
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool::this(),
            status,
            raw: None,
            host: &m.host,
            command: &m.command,
            params: &m.params,
            goal: m.goal,
            rounds: m.rounds.as_ref(),
            assumptions: vec![
                "speedup = wall(smallest count) / wall(n): the same total work at every worker count",
                "medians over measured runs; warmup and failed runs are left out",
            ],
            points: m
                .points
                .iter()
                .zip(&a.points)
                .map(|(measured, summary)| ReportPoint { measured, summary })
                .collect(),
            scaling: a.primary.map(|p| &a.series[p].scaling),
            series: &a.series,
            primary_series: a.primary,
            diagnosis: d,
            measurements: m,
            analysis: a,
        }
    }
}

/// report.json when analysis failed: the runs' scalars, why analysis failed, and where the raw
/// measurements are kept, so the run is never lost (`forkcast report DIR` retries).
#[derive(Debug, Serialize, JsonSchema)]
pub struct FailedReport<'a> {
    pub schema_version: u32,
    pub tool: Tool,
    pub status: Status,
    /// The panic or error analysis stopped with, one line.
    pub analysis_error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<&'a str>,
    pub host: &'a Host,
    pub command: &'a [String],
    pub params: &'a BTreeMap<String, Vec<String>>,
    pub goal: Goal,
    pub points: Vec<PointMeasurements>,
}

/// Every shape report.json takes: what `forkcast schema` prints.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ReportFile<'a> {
    Analysed(Report<'a>),
    AnalysisFailed(FailedReport<'a>),
}

/// The JSON Schema of report.json, generated from the types that write it.
pub fn schema() -> schemars::Schema {
    let mut s = schemars::schema_for!(ReportFile);
    s.insert(
        "title".into(),
        "forkcast report.json (schema_version 1)".into(),
    );
    s
}
