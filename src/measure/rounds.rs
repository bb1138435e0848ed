//! How many rounds a `--runs auto` sweep made and why: plain data saved with the runs, so a
//! resumed sweep knows how far it got and report.json says what each added round was for.

use serde::{Deserialize, Serialize};

/// The rounds of a `--runs auto` sweep (a `--runs N` sweep records none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rounds {
    /// Always "auto": a fixed `--runs N` sweep has no record.
    pub runs_mode: RunsMode,
    /// Measured runs per point made before any step was asked (`--runs auto` makes 3).
    pub first_rounds: u32,
    /// The most measured runs per point (`--max-runs`).
    pub max_runs: u32,
    /// The time the added rounds could take, in seconds (`--max-time`, or its default).
    pub max_time_s: f64,
    /// Each round added after the first ones, with the undecided steps that asked for it.
    pub added: Vec<AddedRound>,
    /// Why no more rounds were added; absent while the sweep is still deciding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
    /// The steps still undecided when the budget stopped it, worded as in `why`; they answer
    /// unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub still_undecided: Vec<String>,
}

/// How the number of runs per point was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunsMode {
    Auto,
}

/// One round added by `--runs auto`: one more measured run of every point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AddedRound {
    /// Which measured round it is (the first added one after 3 first rounds is 4).
    pub round: u32,
    /// The steps still undecided before it, each as "step's figure value (low to high)
    /// straddles its bar".
    pub why: Vec<String>,
}

/// Why a `--runs auto` sweep stopped adding rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stopped {
    /// Every step's deciding figure cleared its bar.
    Decided,
    /// `--max-runs` measured runs per point were made; the rest answers unknown.
    MaxRuns,
    /// Another round would have run past `--max-time`; the rest answers unknown.
    MaxTime,
}

impl Rounds {
    /// Measured runs per point the sweep made (or is making).
    pub fn measured_rounds(&self) -> u32 {
        self.first_rounds + self.added.len() as u32
    }
}
