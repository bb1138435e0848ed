//! report.json: the contract, pretty-printed, lean. The sampler's ticks, processes and threads
//! and the probes' records stay in the raw file (src/saved.rs); each run keeps its scalars.

use super::{Exporter, Report, ReportPoint};
use crate::measure::PointMeasurements;

pub struct Json;

impl Exporter for Json {
    fn serialize(&self, report: &Report) -> anyhow::Result<Vec<u8>> {
        let lean: Vec<PointMeasurements> = report
            .points
            .iter()
            .map(|p| lean_point(p.measured))
            .collect();
        let view = Report {
            points: lean
                .iter()
                .zip(&report.points)
                .map(|(measured, p)| ReportPoint {
                    measured,
                    summary: p.summary,
                })
                .collect(),
            ..report.clone()
        };
        let mut out = serde_json::to_vec_pretty(&view)?;
        out.push(b'\n');
        Ok(out)
    }
}

/// A point with its runs' raw records left out: what report.json carries.
pub fn lean_point(p: &PointMeasurements) -> PointMeasurements {
    let mut p = p.clone();
    for run in &mut p.runs {
        run.probes = None;
        if let Some(s) = &mut run.sampled {
            s.timeline = Vec::new();
            s.processes = Vec::new();
        }
    }
    p
}
