//! Writing a sweep's outputs into its folder: the raw file first, then the analysed report in
//! each format, then the pictures. Called after every run of a live sweep and once by
//! `forkcast report -o`.

use super::{analyse, guard};
use crate::measure::Measurements;
use crate::output;
use crate::report::render::{export, Analysed};
use crate::report::{visuals, Format, Picture, Report, Status};
use crate::saved::{write_raw, RAW_FILE, REPORT_FILE, SUMMARY_FILE};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// What [`save`] wrote, for the caller to print and to pick the exit code.
pub struct Written {
    pub analysed: Analysed,
    pub json: Vec<u8>,
    /// The full text (summary.txt).
    pub text: Vec<u8>,
    /// The summary on one screen.
    pub screen: Vec<u8>,
}

/// Writes raw.json.gz, then analyses and writes report.json, summary.txt and the report's
/// pictures (plots, report.html, trace.json: [`visuals::pictures`]), into `dir`.
pub fn save(
    dir: &Path,
    m: &Measurements,
    status: Status,
    vis: visuals::Options,
) -> anyhow::Result<Written> {
    write_raw(&dir.join(RAW_FILE), m, status)?;
    let mut analysed = analyse(m);
    let export = |analysed: &Analysed| -> anyhow::Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        Ok((
            export(m, analysed, status, Some(RAW_FILE), Format::Json)?,
            export(m, analysed, status, Some(RAW_FILE), Format::TextVerbose)?,
            export(m, analysed, status, Some(RAW_FILE), Format::Text)?,
        ))
    };
    // An exporter's panic costs the verdict like an analysis panic does, never the run.
    let (json, text, screen) = match guard(|| export(&analysed)) {
        Ok(done) => done?,
        Err(panic) => {
            analysed = Analysed::Failed(format!("writing the report: {panic}"));
            export(&analysed)?
        }
    };
    output::write_atomic(&dir.join(REPORT_FILE), &json)
        .with_context(|| format!("cannot write {REPORT_FILE} in {}", dir.display()))?;
    output::write_atomic(&dir.join(SUMMARY_FILE), &text)
        .with_context(|| format!("cannot write {SUMMARY_FILE} in {}", dir.display()))?;
    if let Analysed::Ok(ad) = &analysed {
        let report = Report::new(m, &ad.0, &ad.1, status);
        write_files(dir, &visuals::pictures(&report, vis)?)?;
    }
    Ok(Written {
        analysed,
        json,
        text,
        screen,
    })
}

/// Writes each file into `dir`, atomically; returns their paths.
pub fn write_files(dir: &Path, files: &[Picture]) -> anyhow::Result<Vec<PathBuf>> {
    files
        .iter()
        .map(|f| {
            let path = dir.join(&f.file);
            output::write_atomic(&path, &f.bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(path)
        })
        .collect()
}
