//! The predicate `--runs auto` asks after each round: which steps are still undecided because
//! of run-to-run noise, with the figure, its interval over the runs, and the bar it straddles.
//! More runs narrow those intervals; a step that is unknown for want of a measurement (no
//! threads run, no probe) is not listed, since more of the same runs would not settle it.
//!
//! Read from the diagnosis as its steps record it today: threads_scale's GIL-held share or
//! efficiency interval, and worker_count's `within_noise_at`.

use super::analyse;
use crate::diagnose::thresholds::{threads_scale_efficiency, WORKER_STEP_MARGINAL_EFFICIENCY};
use crate::diagnose::Step;
use crate::measure::Measurements;
use crate::report::render::Analysed;
use serde_json::Value;
use std::fmt;

/// Set in the environment to N, adds a step undecided until every point has N measured runs:
/// how the tests drive `--runs auto` on a target whose verdict is settled (tests/it/rounds.rs).
pub const TEST_UNDECIDED_UNTIL_ENV: &str = "FORKCAST_TEST_UNDECIDED_UNTIL";

/// A step whose deciding figure's interval over the runs straddles its bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Undecided {
    /// The step's id (threads_scale, worker_count, ...).
    pub step: String,
    /// The figure that decides it, as the step's `measured` names it.
    pub figure: String,
    pub value: f64,
    pub low: f64,
    pub high: f64,
    /// The bar the step compares the figure with, in the figure's unit.
    pub bar: f64,
}

impl fmt::Display for Undecided {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}'s {} {:.2} ({:.2} to {:.2}) straddles its bar {:.2}",
            self.step, self.figure, self.value, self.low, self.high, self.bar
        )
    }
}

/// The steps of `m`'s diagnosis still undecided, each as a line for the progress and the
/// report; empty when every step decided, or when analysis failed (more runs of a sweep the
/// analysis cannot read would not help; the report says why).
pub fn undecided_lines(m: &Measurements) -> Vec<String> {
    let mut lines: Vec<String> = match analyse(m) {
        Analysed::Ok(ad) => undecided(&ad.1.steps)
            .iter()
            .map(|u| u.to_string())
            .collect(),
        Analysed::Failed(_) => Vec::new(),
    };
    if let Some(until) = std::env::var(TEST_UNDECIDED_UNTIL_ENV)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
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

/// The steps (of a diagnosis) whose answer run-to-run noise left open.
pub fn undecided(steps: &[Step]) -> Vec<Undecided> {
    steps
        .iter()
        .filter_map(|s| match s.id.as_str() {
            "threads_scale" => threads_scale(s),
            "worker_count" => worker_count(s),
            _ => None,
        })
        .collect()
}

/// threads_scale: the GIL-held share's interval across the share at which n threads reach the
/// bar, or (a threads run) the efficiency's interval across the bar, unless the processes' GIL
/// figure decided it instead.
fn threads_scale(s: &Step) -> Option<Undecided> {
    let get = |k: &str| s.measured.get(k).and_then(Value::as_f64);
    let n = get("workers")?;
    let bar = threads_scale_efficiency(n);
    if let (Some(h), Some(lo), Some(hi)) = (
        get("gil_held_share"),
        get("gil_held_share_low"),
        get("gil_held_share_high"),
    ) {
        // n threads at efficiency `bar` hold the GIL at most this share (Amdahl, solved for h).
        let share_bar = (1.0 / bar - 1.0) / (n - 1.0).max(1.0);
        return (lo <= share_bar && share_bar < hi).then(|| Undecided {
            step: s.id.to_string(),
            figure: "gil_held_share".into(),
            value: h,
            low: lo,
            high: hi,
            bar: share_bar,
        });
    }
    if s.measured.contains_key("decided_by") {
        return None;
    }
    let (lo, hi) = (get("speedup_low")? / n, get("speedup_high")? / n);
    (lo < bar && hi >= bar).then(|| Undecided {
        step: s.id.to_string(),
        figure: "efficiency".into(),
        value: get("efficiency").unwrap_or((lo + hi) / 2.0),
        low: lo,
        high: hi,
        bar,
    })
}

/// worker_count: the step to `within_noise_at` workers returned a marginal gain whose interval
/// holds the bar.
fn worker_count(s: &Step) -> Option<Undecided> {
    let n = s.measured.get("within_noise_at")?.as_u64()?;
    let at = s
        .measured
        .get("steps")?
        .as_array()?
        .iter()
        .find(|v| v.get("workers").and_then(Value::as_u64) == Some(n))?;
    let get = |k: &str| at.get(k).and_then(Value::as_f64);
    let value = get("marginal_efficiency")?;
    Some(Undecided {
        step: s.id.to_string(),
        figure: format!("marginal_efficiency at {n} workers"),
        value,
        low: get("low").unwrap_or(value),
        high: get("high").unwrap_or(value),
        bar: WORKER_STEP_MARGINAL_EFFICIENCY.value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Answer;
    use serde_json::json;

    fn step(id: &str, measured: Value) -> Step {
        Step {
            id: serde_json::from_value(json!(id)).expect("a step id"),
            question: String::new(),
            answer: Answer::Unknown,
            measured: serde_json::from_value(measured).expect("a map"),
            threshold: String::new(),
            evidence: String::new(),
            source: String::new(),
        }
    }

    fn found(s: Step) -> Option<Undecided> {
        match s.id.as_str() {
            "threads_scale" => threads_scale(&s),
            _ => worker_count(&s),
        }
    }

    #[test]
    fn a_gil_share_whose_interval_holds_the_bar_is_undecided() {
        // At 4 threads the bar is an efficiency of 0.625, reached below a held share of 0.2.
        let s = step(
            "threads_scale",
            json!({"workers": 4, "gil_held_share": 0.13, "gil_held_share_low": 0.04,
                   "gil_held_share_high": 0.31}),
        );
        let u = found(s).expect("undecided");
        assert_eq!(u.figure, "gil_held_share");
        assert!((u.bar - 0.2).abs() < 1e-9, "bar {}", u.bar);
        assert_eq!(
            u.to_string(),
            "threads_scale's gil_held_share 0.13 (0.04 to 0.31) straddles its bar 0.20"
        );
    }

    #[test]
    fn a_gil_share_clear_of_the_bar_is_decided() {
        for (lo, hi) in [(0.25, 0.4), (0.01, 0.15)] {
            let s = step(
                "threads_scale",
                json!({"workers": 4, "gil_held_share": (lo + hi) / 2.0,
                       "gil_held_share_low": lo, "gil_held_share_high": hi}),
            );
            assert_eq!(found(s), None, "{lo}..{hi}");
        }
    }

    #[test]
    fn a_threads_efficiency_straddling_the_bar_is_undecided_unless_the_gil_figure_decided() {
        let measured = json!({"workers": 2, "efficiency": 0.74, "speedup_low": 1.3,
                              "speedup_high": 1.7});
        let u = found(step("threads_scale", measured.clone())).expect("undecided");
        assert_eq!(
            (u.figure.as_str(), u.low, u.high),
            ("efficiency", 0.65, 0.85)
        );
        let mut decided = measured;
        decided["decided_by"] = json!("gil_figure");
        assert_eq!(found(step("threads_scale", decided)), None);
        let clear = json!({"workers": 2, "efficiency": 0.9, "speedup_low": 1.7,
                           "speedup_high": 1.9});
        assert_eq!(found(step("threads_scale", clear)), None);
    }

    #[test]
    fn a_worker_step_within_the_noise_is_undecided_with_its_interval() {
        let s = step(
            "worker_count",
            json!({"within_noise_at": 4, "steps": [
                {"workers": 2, "marginal_efficiency": 0.9, "low": 0.8, "high": 1.0},
                {"workers": 4, "marginal_efficiency": 0.3, "low": 0.1, "high": 0.5}]}),
        );
        let u = found(s).expect("undecided");
        assert_eq!(u.figure, "marginal_efficiency at 4 workers");
        assert_eq!((u.value, u.low, u.high), (0.3, 0.1, 0.5));
        assert_eq!(u.bar, WORKER_STEP_MARGINAL_EFFICIENCY.value);
        let settled = step("worker_count", json!({"steps": []}));
        assert_eq!(found(settled), None);
    }

    #[test]
    fn a_step_unknown_for_want_of_a_measurement_asks_for_no_more_runs() {
        assert_eq!(found(step("threads_scale", json!({}))), None);
        let steps = [
            step("cpu_bound", json!({})),
            step("worker_count", json!({})),
        ];
        assert!(undecided(&steps).is_empty());
    }
}
