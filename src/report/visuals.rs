//! The pictures of a report that go beside report.json: the plots, report.html and trace.json,
//! as named bytes. One entry point so `forkcast run` and `forkcast report -o` make the same
//! files; crate::pipeline writes them.

use super::plots::plot_files;
use super::trace::{trace_json, TraceScope};
use super::{Exporter, Html, Picture, Report, Status};
use anyhow::Context;

/// What to make besides the SVG plots and report.html, which are always made.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Also each plot as PNG (`--png`); once the sweep has ended (rasterising costs more than
    /// the SVGs, which are rewritten after every point).
    pub png: bool,
    /// Which points trace.json covers (`--trace`); made once the sweep has ended.
    pub trace: TraceScope,
}

/// The plots, report.html and (once the sweep ended) the PNGs and trace.json.
pub fn pictures(report: &Report, opts: Options) -> anyhow::Result<Vec<Picture>> {
    let ended = report.status != Status::InProgress;
    let mut files = plot_files(report, opts.png && ended).context("cannot draw the plots")?;
    files.push(Picture {
        file: "report.html".into(),
        bytes: Html.serialize(report)?,
    });
    if ended {
        let trace = trace_json(report.measurements, report.analysis, opts.trace)
            .context("cannot make trace.json")?;
        files.extend(trace.map(|bytes| Picture {
            file: "trace.json".into(),
            bytes,
        }));
    }
    Ok(files)
}
