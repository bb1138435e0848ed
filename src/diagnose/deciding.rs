//! The one figure each step decides on, its interval over the runs, and the rule that a step
//! answers only when that interval clears its bar: measured again, the answer holds still; a
//! figure whose runs straddle the bar answers `unknown` with what would settle it.
//!
//! The interval is read from the runs alike for every step: the sweep is diagnosed once per
//! run (run i of every point, its failed runs skipped, see runs.rs) and each step's deciding
//! value read from each. With 3 or more runs it is the 90 % t-interval of the mean of those
//! values; with 2, their min..max; with 1, none, and the step decides on its value as before.
//! A step whose figure carries an interval better founded than the runs' (threads_scale's
//! Wilson interval on the pooled GIL knocks, worker_count's spread of the curve) keeps it.
//! A ratio of two counts' figures (shared_sink's growth) brings its own interval over the
//! runs, Fieller's on the ratio of the means (analyze::stats::ratio_of_means): the ratio of
//! one run's values is skewed by a small denominator, so a t-interval over the per-run ratios
//! would be neither centred nor honest. It holds the step still like the t-interval does.

use super::StepId;
use crate::analyze::stats::{summarize, t_quantile_95};

/// Which side of the bar answers yes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YesWhen {
    /// value >= bar
    Above,
    /// value <= bar
    Below,
}

/// The figure a step's answer rests on, and the bar it was held to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deciding {
    /// Its name, as the step's `measured` values or evidence give it.
    pub name: &'static str,
    pub value: f64,
    pub bar: f64,
    pub yes_when: YesWhen,
    /// The step's own interval, where better founded than one over the runs; the step has
    /// already decided on it.
    pub own_interval: Option<(f64, f64)>,
    /// A 90 % interval over the runs that the step drew itself (a ratio of means), to be
    /// weighed like the per-run t-interval: (low, high, the runs it rests on).
    pub over_runs: Option<(f64, f64, usize)>,
}

impl Deciding {
    /// Yes at or above `bar`.
    pub fn above(name: &'static str, value: f64, bar: f64) -> Deciding {
        Deciding {
            name,
            value,
            bar,
            yes_when: YesWhen::Above,
            own_interval: None,
            over_runs: None,
        }
    }

    /// With a 90 % interval over the runs drawn by the step itself (a ratio of means).
    pub fn over_runs(self, low: f64, high: f64, runs: usize) -> Deciding {
        Deciding {
            over_runs: Some((low, high, runs)),
            ..self
        }
    }

    /// Yes at or below `bar`.
    pub fn below(name: &'static str, value: f64, bar: f64) -> Deciding {
        Deciding {
            yes_when: YesWhen::Below,
            ..Deciding::above(name, value, bar)
        }
    }

    /// With the step's own interval.
    pub fn within(self, low: f64, high: f64) -> Deciding {
        Deciding {
            own_interval: Some((low, high)),
            ..self
        }
    }

    /// Is `x` on the yes side of the bar?
    pub fn yes_at(&self, x: f64) -> bool {
        match self.yes_when {
            YesWhen::Above => x >= self.bar,
            YesWhen::Below => x <= self.bar,
        }
    }
}

/// How an interval was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalKind {
    /// The 90 % t-interval of the mean of the per-run values (3 or more runs).
    TMean90,
    /// The min..max of two runs' values.
    MinMax,
    /// Fieller's 90 % interval of a ratio of the means of two counts' runs.
    RatioOfMeans90,
    /// The step's own (see `Deciding::own_interval`).
    Own,
}

/// A deciding figure with its interval; `interval` None when one run decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weighed {
    pub figure: Deciding,
    pub interval: Option<(f64, f64)>,
    pub kind: Option<IntervalKind>,
    /// Runs whose own diagnosis read this figure (1 when only the pooled one did).
    pub runs: usize,
}

impl Weighed {
    /// Does the interval lie on both sides of the bar, or on the side the value is not?
    pub fn straddles(&self) -> bool {
        self.interval.is_some_and(|(lo, hi)| {
            let side = self.figure.yes_at(self.figure.value);
            self.figure.yes_at(lo) != side || self.figure.yes_at(hi) != side
        })
    }

    /// The interval as report.json gives it beside the figure: `<name>_low`, `_high`, and
    /// `decided_over_runs`; and the figure itself under its name, where the step's own values
    /// do not give it (they win).
    pub fn keys(&self) -> Vec<(String, serde_json::Value)> {
        let r = |x: f64| crate::analyze::stats::round(x, 3);
        let mut out = vec![
            ("decided_over_runs".to_string(), self.runs.into()),
            (self.figure.name.to_string(), r(self.figure.value).into()),
        ];
        if let (
            Some((lo, hi)),
            Some(IntervalKind::TMean90 | IntervalKind::MinMax | IntervalKind::RatioOfMeans90),
        ) = (self.interval, self.kind)
        {
            out.push((format!("{}_low", self.figure.name), r(lo).into()));
            out.push((format!("{}_high", self.figure.name), r(hi).into()));
        }
        out
    }

    /// A sentence for the evidence: the interval, and whether it cleared the bar.
    pub fn sentence(&self) -> Option<String> {
        let (lo, hi) = self.interval?;
        let f = &self.figure;
        let how = match self.kind? {
            IntervalKind::TMean90 => {
                format!("90 % interval of the mean over {} runs", self.runs)
            }
            IntervalKind::MinMax => format!("range over {} runs", self.runs),
            IntervalKind::RatioOfMeans90 => format!(
                "90 % interval of the ratio of the means over {} runs",
                self.runs
            ),
            IntervalKind::Own => return None,
        };
        Some(if self.straddles() {
            format!(
                " Over the runs {} was {lo:.3}..{hi:.3} ({how}), across its bar {}: undecided \
                 until more runs settle it.",
                f.name, f.bar
            )
        } else {
            format!(
                " Over the runs {} was {lo:.3}..{hi:.3} ({how}), clear of its bar {}.",
                f.name, f.bar
            )
        })
    }
}

/// Weighs the pooled figure against the same figure read from each run alone.
pub fn weigh(pooled: Deciding, per_run: &[Deciding]) -> Weighed {
    if let Some(own) = pooled.own_interval {
        return Weighed {
            figure: pooled,
            interval: Some(own),
            kind: Some(IntervalKind::Own),
            runs: per_run.len().max(1),
        };
    }
    if let Some((low, high, runs)) = pooled.over_runs {
        return Weighed {
            figure: pooled,
            interval: Some((low, high)),
            kind: Some(IntervalKind::RatioOfMeans90),
            runs,
        };
    }
    // A run that decided on another figure (a spread where the pool read a tail) says nothing
    // about this one.
    let values: Vec<f64> = per_run
        .iter()
        .filter(|d| d.name == pooled.name)
        .map(|d| d.value)
        .filter(|v| v.is_finite())
        .collect();
    let (interval, kind) = match values.len() {
        0 | 1 => (None, None),
        2 => (
            Some((values[0].min(values[1]), values[0].max(values[1]))),
            Some(IntervalKind::MinMax),
        ),
        k => {
            let s = summarize(&values);
            let half = s
                .as_ref()
                .and_then(|s| s.stddev)
                .map(|sd| t_quantile_95(k - 1) * sd / (k as f64).sqrt());
            match (s, half) {
                (Some(s), Some(h)) => (Some((s.mean - h, s.mean + h)), Some(IntervalKind::TMean90)),
                _ => (None, None),
            }
        }
    };
    Weighed {
        figure: pooled,
        interval,
        kind,
        runs: values.len().max(1),
    }
}

/// Weighs every step's pooled figure against the per-run ones.
pub fn weigh_all(
    pooled: &[(StepId, Deciding)],
    per_run: &[Vec<(StepId, Deciding)>],
) -> Vec<(StepId, Weighed)> {
    pooled
        .iter()
        .map(|(id, d)| {
            let runs: Vec<Deciding> = per_run
                .iter()
                .filter_map(|r| r.iter().find(|(i, _)| i == id).map(|(_, d)| *d))
                .collect();
            (*id, weigh(*d, &runs))
        })
        .collect()
}
