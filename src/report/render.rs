//! Analysis and diagnosis run behind a catch_unwind, so a bug in them costs the verdict, never
//! the run: the caller has already saved the raw measurements, and the report says what failed.

use super::{lean_point, FailedReport, Format, Report, Status, Tool, SCHEMA_VERSION};
use crate::analyze::{self, Analysis};
use crate::diagnose::{self, Diagnosis};
use crate::measure::Measurements;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;

/// Set in the environment, makes analysis panic: how the tests check that a failing analysis
/// keeps the run (tests/it/report.rs).
pub const INJECT_PANIC_ENV: &str = "FORKCAST_INJECT_ANALYSIS_PANIC";

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

/// Runs analyze and diagnose; a panic in them becomes `Failed` with its message and place.
pub fn analyse(m: &Measurements) -> Analysed {
    let result = guard(|| {
        if std::env::var_os(INJECT_PANIC_ENV).is_some() {
            panic!("analysis panic injected by {INJECT_PANIC_ENV}");
        }
        let a = analyze::analyze(m);
        let d = diagnose::diagnose(m, &a);
        (a, d)
    });
    match result {
        Ok(ad) => Analysed::Ok(Box::new(ad)),
        Err(msg) => Analysed::Failed(msg),
    }
}

/// Runs `f`; a panic in it becomes its message and place, one line, instead of unwinding.
pub fn guard<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let line = info.to_string().replace('\n', ": ");
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(line);
    }));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(previous);
    result.map_err(|_| {
        LAST_PANIC
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| "panicked".into())
    })
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
