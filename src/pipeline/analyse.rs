//! Analysis and diagnosis run behind a catch_unwind, so a bug in them costs the verdict, never
//! the run: the caller has already saved the raw measurements, and the report says what failed.

use crate::analyze;
use crate::diagnose;
use crate::measure::Measurements;
use crate::report::render::Analysed;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;

/// Set in the environment, makes analysis panic: how the tests check that a failing analysis
/// keeps the run (tests/it/report.rs).
pub const INJECT_PANIC_ENV: &str = "FORKCAST_INJECT_ANALYSIS_PANIC";

/// Runs analyze and diagnose; a panic in them becomes `Failed` with its message and place.
pub fn analyse(m: &Measurements) -> Analysed {
    let result = guard(|| {
        inject_panic();
        let a = analyze::analyze(m);
        let d = diagnose::diagnose(m, &a);
        (a, d)
    });
    match result {
        Ok(ad) => Analysed::Ok(Box::new(ad)),
        Err(msg) => Analysed::Failed(msg),
    }
}

/// The diagnosis' steps alone (`diagnose::steps_of`), behind the same guard as [`analyse`]:
/// `--runs auto`'s question after each round, which reads nothing else of the diagnosis.
pub fn analyse_steps(m: &Measurements) -> Result<Vec<diagnose::Step>, String> {
    guard(|| {
        inject_panic();
        diagnose::steps_of(m)
    })
}

fn inject_panic() {
    if std::env::var_os(INJECT_PANIC_ENV).is_some() {
        panic!("analysis panic injected by {INJECT_PANIC_ENV}");
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
