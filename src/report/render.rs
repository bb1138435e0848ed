//! A sweep's report in any format, or, when analysis failed (crate::pipeline runs it behind a
//! catch_unwind), the report that says so and keeps every measured point.

use super::{lean_point, FailedReport, Format, Report, Status, Tool, SCHEMA_VERSION};
use crate::analyze::Analysis;
use crate::diagnose::Diagnosis;
use crate::measure::Measurements;

/// A sweep analysed and diagnosed, or why that failed.
pub enum Analysed {
    Ok(Box<(Analysis, Diagnosis)>),
    Failed(String),
}

impl Analysed {
    pub fn error(&self) -> Option<&str> {
        match self {
            Analysed::Ok(_) => None,
            Analysed::Failed(e) => Some(e),
        }
    }
}

/// The report in `format`; `raw` names the raw file beside it, when there is one.
pub fn export(
    m: &Measurements,
    analysed: &Analysed,
    status: Status,
    raw: Option<&str>,
    format: Format,
) -> anyhow::Result<Vec<u8>> {
    match analysed {
        Analysed::Ok(ad) => {
            let report = Report {
                raw,
                ..Report::new(m, &ad.0, &ad.1, status)
            };
            format.exporter().serialize(&report)
        }
        Analysed::Failed(error) if format == Format::Json => {
            let failed = FailedReport {
                schema_version: SCHEMA_VERSION,
                tool: Tool::this(),
                status,
                analysis_error: error,
                raw,
                host: &m.host,
                command: &m.command,
                params: &m.params,
                goal: m.goal,
                points: m.points.iter().map(lean_point).collect(),
            };
            let mut out = serde_json::to_vec_pretty(&failed)?;
            out.push(b'\n');
            Ok(out)
        }
        Analysed::Failed(error) => Ok(format!(
            "analysis failed: {error}\nthe raw measurements are kept in {}; `forkcast report` \
             on that folder re-analyses them\n",
            raw.unwrap_or("the raw file")
        )
        .into_bytes()),
    }
}
