//! CPython's free-threaded build (Py_GIL_DISABLED): which case the workers ran in, read from the
//! python probe's records (each worker checks `sys._is_gil_enabled()` again at its first task,
//! after its imports, since an extension can turn the GIL back on), and what that changes in
//! threads_scale: with the GIL off, threads are predicted from the locks measured, not a GIL.

use crate::analyze::point::PointSummary;
use crate::analyze::record::run_ok;
use crate::measure::probes::PythonProcess;
use crate::measure::Measurements;

/// The interpreter the workers ran in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpreter {
    /// A build with a GIL (every CPython before 3.13, and the default build since).
    GilBuild,
    /// A free-threaded build with the GIL off in the workers.
    FreeThreadedGilOff,
    /// A free-threaded build whose workers ran with the GIL on (an extension that does not
    /// declare itself free-threading safe turned it back on, or PYTHON_GIL=1).
    FreeThreadedGilOn,
}

/// The case of the processes that ran tasks (else of every interpreter) over the measured
/// successful runs; None without the python probe's word.
pub fn interpreter(m: &Measurements) -> Option<Interpreter> {
    let procs: Vec<_> = m
        .points
        .iter()
        .flat_map(|p| &p.runs)
        .filter(|r| !r.warmup && run_ok(r))
        .filter_map(|r| r.probes.as_ref()?.python.as_ref())
        .flat_map(|py| &py.processes)
        .collect();
    case_of(&procs)
}

fn case_of(procs: &[&PythonProcess]) -> Option<Interpreter> {
    let working: Vec<_> = procs.iter().filter(|p| p.tasks > 0).collect();
    let seen = if working.is_empty() {
        procs.iter().collect()
    } else {
        working
    };
    let free: Vec<_> = seen
        .iter()
        .filter(|p| p.free_threaded == Some(true))
        .collect();
    if free.is_empty() {
        return seen
            .iter()
            .any(|p| p.free_threaded.is_some() || p.gil_enabled.is_some())
            .then_some(Interpreter::GilBuild);
    }
    Some(if free.iter().any(|p| p.gil_enabled == Some(true)) {
        Interpreter::FreeThreadedGilOn
    } else {
        Interpreter::FreeThreadedGilOff
    })
}

/// The report's line on a free-threaded build; None for a GIL build (the common case, said by
/// the accounting's `gil` cause) or without the probe.
pub fn finding(m: &Measurements) -> Option<String> {
    match interpreter(m)? {
        Interpreter::GilBuild => None,
        Interpreter::FreeThreadedGilOff => Some(
            "Free-threaded CPython (Py_GIL_DISABLED) with the GIL off in the workers after their \
             imports: threads run Python in parallel, and threads_scale predicts them from the \
             locks measured, not a GIL."
                .into(),
        ),
        Interpreter::FreeThreadedGilOn => Some(
            "Free-threaded CPython (Py_GIL_DISABLED), but the workers ran with the GIL on after \
             their imports: an extension that does not declare itself free-threading safe turned \
             it back on (or PYTHON_GIL=1); threads are judged as under a GIL. `python -X gil=0` \
             keeps it off, at that extension's risk."
                .into(),
        ),
    }
}

/// With the GIL off, the share of the workers' time spent waiting on locks at the largest
/// count that has an accounting: what threads would still take turns on (0 when none was
/// measured).
pub fn lock_share(pts: &[(u32, &PointSummary)]) -> f64 {
    pts.iter()
        .rev()
        .find_map(|(n, s)| {
            let a = s.accounting.as_ref()?;
            let locks = a.lost("locks");
            Some((locks / f64::from((*n).max(1))).clamp(0.0, 1.0))
        })
        .unwrap_or(0.0)
}

/// Did the workers run on a free-threaded build with the GIL off?
pub fn gil_off(m: &Measurements) -> bool {
    interpreter(m) == Some(Interpreter::FreeThreadedGilOff)
}

/// threads_scale's words for a free-threaded build with the GIL off, where threads were
/// predicted from the processes' lock waits.
pub fn predicted_words(locks: f64) -> String {
    format!(
        "The interpreter is a free-threaded build running with the GIL off (checked in the \
         workers after their imports), so threads are predicted from the locks measured, not a \
         GIL: the workers waited on locks {:.0} % of their time",
        locks * 100.0
    )
}

/// Added to threads_scale's words where threads were measured on a free-threaded build with
/// the GIL off and did not scale: the loss is contention, which a GIL build would not show
/// the same way.
pub fn contention_note(gil_off: bool, threads_scaled: bool) -> Option<&'static str> {
    (!threads_scaled && gil_off).then_some(
        " The interpreter ran free-threaded with the GIL off: this is contention (locks, \
         shared objects' reference counts), which can make a free-threaded build scale worse \
         than the GIL build.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(workers: &[(Option<bool>, Option<bool>)]) -> Option<Interpreter> {
        let procs: Vec<PythonProcess> = workers
            .iter()
            .map(|&(free_threaded, gil_enabled)| PythonProcess {
                tasks: 10,
                free_threaded,
                gil_enabled,
                ..PythonProcess::default()
            })
            .collect();
        case_of(&procs.iter().collect::<Vec<_>>())
    }

    #[test]
    fn each_case_is_told_from_the_workers_records() {
        let (t, f) = (Some(true), Some(false));
        assert_eq!(
            case(&[(t, f), (t, f)]),
            Some(Interpreter::FreeThreadedGilOff)
        );
        // One worker's import turned the GIL back on: the threads would share it.
        assert_eq!(
            case(&[(t, f), (t, t)]),
            Some(Interpreter::FreeThreadedGilOn)
        );
        assert_eq!(case(&[(f, t)]), Some(Interpreter::GilBuild));
        // Records from before the field: the GIL word alone, a GIL build.
        assert_eq!(case(&[(None, t)]), Some(Interpreter::GilBuild));
        assert_eq!(case(&[(None, None)]), None);
    }
}
