//! The pictures of a report written beside report.json: the plots, report.html and trace.json.
//! One entry point so `forkcast run` and `forkcast report -o` write the same files.

use super::plots::write_plots;
use super::trace::write_trace;
use super::trace::TraceScope;
use super::{Exporter, Html, Report, Status};
use crate::output::write_atomic;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// What to write besides the SVG plots and report.html, which are always written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Also write each plot as PNG (`--png`); once the sweep has ended (rasterising costs more
    /// than the SVGs, which are rewritten after every point).
    pub png: bool,
    /// Which points trace.json covers (`--trace`); written once the sweep has ended.
    pub trace: TraceScope,
}

/// Writes the plots, report.html and (once the sweep ended) the PNGs and trace.json into `dir`;
/// returns the files written.
pub fn write(report: &Report, dir: &Path, opts: Options) -> anyhow::Result<Vec<PathBuf>> {
    let ended = report.status != Status::InProgress;
    let mut written =
        write_plots(report, dir, opts.png && ended).context("cannot write the plots")?;
    let html = dir.join("report.html");
    write_atomic(&html, &Html.serialize(report)?).context("cannot write report.html")?;
    written.push(html);
    if ended {
        let trace = write_trace(report.measurements, report.analysis, dir, opts.trace)
            .context("cannot write trace.json")?;
        written.extend(trace);
    }
    Ok(written)
}
