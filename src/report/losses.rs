//! The accounting in words, shared by the text exporters: one line per point from the ideal
//! cores through each loss to the useful ones.

use crate::analyze::accounting::{Accounting, AccountingSource};

/// Losses under this many cores are left out of a line (they still add up in report.json).
pub const SHOWN_CORES: f64 = 0.01;

/// `2.00 ideal − 0.53 imbalance − 0.03 gil = 1.44` (cores).
pub fn line(a: &Accounting) -> String {
    let mut s = format!("{:.2} ideal", f64::from(a.workers));
    for (cause, cores) in a.losses_over(SHOWN_CORES) {
        s.push_str(&format!(" − {cores:.2} {cause}"));
    }
    s.push_str(&format!(" = {}", figure(a.useful_cores.value)));
    s
}

/// `speedup 1.44 × 0.98 / 0.91 = 1.55` (useful cores × computation scaling / baseline
/// efficiency), when the series has a baseline.
pub fn speedup(a: &Accounting) -> Option<String> {
    let (cs, be, s) = (a.computation_scaling?, a.baseline_efficiency?, a.speedup?);
    Some(format!(
        "speedup {} × {} / {} = {:.2}",
        figure(a.useful_cores.value),
        figure(cs.value),
        figure(be.value),
        s.value
    ))
}

/// Two decimals, or three significant digits for a small figure (a workload that mostly
/// waits has a baseline of a few thousandths of a core, and 0.00 would read as nothing).
fn figure(x: f64) -> String {
    if x != 0.0 && x.abs() < 0.1 {
        format!(
            "{:.1$}",
            x,
            (2.0 - x.abs().log10().floor()).min(6.0) as usize
        )
    } else {
        format!("{x:.2}")
    }
}

/// What the accountings of a report rest on, in words.
pub fn sources<'a>(all: impl Iterator<Item = &'a Accounting>) -> String {
    let mut seen: Vec<AccountingSource> = all.flat_map(|a| a.sources.iter().copied()).collect();
    seen.sort();
    seen.dedup();
    seen.iter()
        .map(|s| match s {
            AccountingSource::SwitchIntervals => "switch intervals",
            AccountingSource::ProcfsTicks => "procfs ticks",
            AccountingSource::PythonProbe => "python probe task starts",
            AccountingSource::TaskProcesses => "task processes' lives",
            AccountingSource::PreloadProbe => "preload probe sink calls",
            AccountingSource::OutsideIn => "outside-in (no task boundaries)",
        })
        .collect::<Vec<_>>()
        .join(", ")
}
