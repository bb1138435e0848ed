//! The steps left unknown because their deciding figure's interval straddles its bar: what
//! `--runs auto` measures more for, and what would settle each.

use super::deciding::IntervalKind;
use super::{Diagnosis, Step, StepId};

/// A step left unknown because its figure's interval straddles its bar.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Undecided {
    pub step: StepId,
    pub figure: &'static str,
    pub value: f64,
    pub low: f64,
    pub high: f64,
    pub bar: f64,
    /// What would settle it, in words.
    pub settle: String,
}

/// One line for the progress and the report.
impl std::fmt::Display for Undecided {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}'s {} {:.2} ({:.2} to {:.2}) straddles its bar {:.2}; to settle it: {}",
            self.step.as_str(),
            self.figure,
            self.value,
            self.low,
            self.high,
            self.bar,
            self.settle
        )
    }
}

/// The steps left unknown because their deciding figure straddles its bar: what `--runs auto`
/// measures more for. A step that decided (worker_count stopping its walk at a noisy step)
/// is not listed.
pub fn undecided(d: &Diagnosis) -> Vec<Undecided> {
    undecided_in(&d.steps)
}

/// [`undecided`] of the steps alone (`super::steps_of`, which `--runs auto` asks after each
/// round without the rest of the diagnosis).
pub fn undecided_in(steps: &[Step]) -> Vec<Undecided> {
    steps
        .iter()
        .filter(|s| s.answer == super::Answer::Unknown)
        .filter_map(|s| {
            let w = s.deciding.filter(|w| w.straddles())?;
            let (low, high) = w.interval?;
            let settle = match (w.kind, s.id) {
                (Some(IntervalKind::Own), StepId::ThreadsScale) => format!(
                    "more GIL knocks (longer runs, or more of them): the held share's interval \
                     puts {} at {low:.3}..{high:.3}, which must clear {}",
                    w.figure.name, w.figure.bar
                ),
                (Some(IntervalKind::Own), _) => format!(
                    "more runs: the spread of {} over the runs ({low:.3}..{high:.3}) must clear \
                     {}",
                    w.figure.name, w.figure.bar
                ),
                _ => format!(
                    "more runs: the interval of {} over the runs ({low:.3}..{high:.3}) must \
                     clear {}, which it narrows to as runs agree",
                    w.figure.name, w.figure.bar
                ),
            };
            Some(Undecided {
                step: s.id,
                figure: w.figure.name,
                value: w.figure.value,
                low,
                high,
                bar: w.figure.bar,
                settle,
            })
        })
        .collect()
}
