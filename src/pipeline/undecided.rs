//! The predicate `--runs auto` asks after each round: which steps are still undecided because
//! their deciding figure's interval over the runs straddles its bar (`diagnose::undecided`).
//! More runs narrow those intervals; a step that is unknown for want of a measurement (no
//! threads run, no probe) is not listed, since more of the same runs would not settle it.

use super::analyse::analyse_steps;
use crate::measure::Measurements;

/// Set in the environment to N, a step is undecided until every point has N measured runs (and
/// the real diagnosis is not asked):
/// how the tests drive `--runs auto` on a target whose verdict is settled (tests/it/rounds.rs).
pub const TEST_UNDECIDED_UNTIL_ENV: &str = "FORKCAST_TEST_UNDECIDED_UNTIL";

/// The steps of `m`'s diagnosis still undecided, each as a line for the progress and the
/// report; empty when every step decided, or when analysis failed (more runs of a sweep the
/// analysis cannot read would not help; the report says why).
pub fn undecided_lines(m: &Measurements) -> Vec<String> {
    let test_until = std::env::var(TEST_UNDECIDED_UNTIL_ENV)
        .ok()
        .and_then(|v| v.parse::<usize>().ok());
    // Under the test hook the fake step alone decides, so a test's trivial target (whose real
    // figures are noise) adds exactly the rounds the test asks for.
    let mut lines: Vec<String> = match test_until {
        Some(_) => Vec::new(),
        None => analyse_steps(m).map_or_else(
            |_| Vec::new(),
            |steps| {
                crate::diagnose::undecided_in(&steps)
                    .iter()
                    .map(|u| u.to_string())
                    .collect()
            },
        ),
    };
    if let Some(until) = test_until {
        let fewest = m
            .points
            .iter()
            .map(|p| p.runs.iter().filter(|r| !r.warmup).count())
            .min()
            .unwrap_or(0);
        if fewest < until {
            lines.push(format!(
                "test's runs {fewest} straddles its bar {until} ({TEST_UNDECIDED_UNTIL_ENV})"
            ));
        }
    }
    lines
}
