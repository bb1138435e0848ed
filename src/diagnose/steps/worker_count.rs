//! How many workers? The largest count whose step from the previous count still pays beyond
//! the run-to-run noise, capped by cores and memory.

use crate::analyze::point::PointSummary;
use crate::analyze::select::primary_points;
use crate::analyze::{parallel_cores, Analysis};
use crate::diagnose::deciding::Deciding;
use crate::diagnose::step::{plural, round, Measured, Step, Words};
use crate::diagnose::step::{Answer, StepId};
use crate::diagnose::thresholds::{WORKER_MEMORY_SHARE, WORKER_STEP_MARGINAL_EFFICIENCY};
use crate::measure::Measurements;
use serde::Serialize;

const QUESTION: &str = "How many workers?";

/// One successful point of the primary curve.
#[derive(Debug, Clone)]
pub struct Point {
    pub workers: u32,
    /// What the step from the previous count returned, of the ideal gain, with its bounds.
    pub marginal_efficiency: Option<f64>,
    pub marginal_efficiency_low: Option<f64>,
    pub marginal_efficiency_high: Option<f64>,
    pub pss_bytes_per_worker: Option<f64>,
    pub speedup: Option<f64>,
    pub speedup_bounds: Option<(f64, f64)>,
}

/// The curve and what caps it.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Two or more points, workers ascending.
    pub curve: Vec<Point>,
    pub usable_cores: u32,
    pub available_memory_bytes: Option<u64>,
    pub usl_peak_workers: Option<f64>,
}

/// None when fewer than two counts produced successful runs: no curve to read.
pub fn figures(m: &Measurements, a: &Analysis) -> Option<Figures> {
    let curve: Vec<Point> = primary_points(m, a)
        .into_iter()
        .filter(|(_, s)| s.wall_s.is_some())
        .map(|(n, s)| point(n, s))
        .collect();
    (curve.len() >= 2).then(|| Figures {
        curve,
        usable_cores: parallel_cores(&m.host),
        available_memory_bytes: m.host.available_memory_bytes,
        usl_peak_workers: a
            .primary
            .and_then(|p| a.series[p].scaling.usl.as_ref())
            .and_then(|u| u.peak_workers),
    })
}

fn point(workers: u32, s: &PointSummary) -> Point {
    Point {
        workers,
        marginal_efficiency: s.marginal_efficiency,
        marginal_efficiency_low: s.marginal_efficiency_low,
        marginal_efficiency_high: s.marginal_efficiency_high,
        pss_bytes_per_worker: s.pss_bytes_per_worker,
        speedup: s.speedup,
        speedup_bounds: s.speedup_low.zip(s.speedup_high),
    }
}

/// Why the walk up the curve stopped.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    ExceedsCores {
        workers: u32,
    },
    Memory {
        workers: u32,
        bytes: f64,
    },
    DoesNotPay {
        workers: u32,
        efficiency: f64,
    },
    /// The bounds straddle the threshold: neither a gain nor a loss can be read from it.
    WithinNoise {
        workers: u32,
        efficiency: f64,
        low: f64,
        high: f64,
    },
    /// The step has no marginal efficiency.
    Unmeasured,
}

/// The count the curve supports, where the walk stopped, and the answer.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub answer: Answer,
    /// The recommended count; None when the first step is within the noise.
    pub recommended: Option<u32>,
    pub stop: Option<Stop>,
}

impl Decision {
    /// The count whose step decided nothing, when the walk stopped on one.
    pub fn within_noise_at(&self) -> Option<u32> {
        match self.stop {
            Some(Stop::WithinNoise { workers, .. }) => Some(workers),
            _ => None,
        }
    }
}

impl Figures {
    /// The figure that decided: the marginal efficiency of the step that stopped the walk, else
    /// of the last step taken, with its runs' spread as its own interval.
    pub fn deciding(&self, d: &Decision) -> Option<Deciding> {
        let at = match d.stop {
            Some(Stop::DoesNotPay { workers, .. } | Stop::WithinNoise { workers, .. }) => workers,
            _ => d.recommended.filter(|&n| n > self.curve[0].workers)?,
        };
        let p = self.curve.iter().find(|p| p.workers == at)?;
        let me = p.marginal_efficiency?;
        let low = p.marginal_efficiency_low.unwrap_or(me);
        let high = p.marginal_efficiency_high.unwrap_or(me);
        Some(
            Deciding::above(
                "marginal_efficiency",
                me,
                WORKER_STEP_MARGINAL_EFFICIENCY.value,
            )
            .within(low, high),
        )
    }
}

/// Walks up the curve while each step pays beyond its runs' spread, within cores and memory.
pub fn decide(f: Option<&Figures>) -> Decision {
    let Some(f) = f else {
        return Decision {
            answer: Answer::Unknown,
            recommended: None,
            stop: None,
        };
    };
    let base = f.curve[0].workers;
    let mem_cap = f
        .available_memory_bytes
        .map(|b| b as f64 * WORKER_MEMORY_SHARE.value);
    let mut chosen = base;
    let mut stop = None;
    for p in &f.curve[1..] {
        stop = step_stop(p, f.usable_cores, mem_cap);
        match stop {
            None => chosen = p.workers,
            Some(_) => break,
        }
    }
    let noisy = matches!(stop, Some(Stop::WithinNoise { .. }));
    if chosen == base && noisy {
        return Decision {
            answer: Answer::Unknown,
            recommended: None,
            stop,
        };
    }
    Decision {
        answer: if chosen > base {
            Answer::Yes
        } else {
            Answer::No
        },
        recommended: Some(chosen),
        stop,
    }
}

/// None when the step to `p` pays; otherwise why it stops the walk.
fn step_stop(p: &Point, cores: u32, mem_cap: Option<f64>) -> Option<Stop> {
    let n = p.workers;
    if n > cores {
        return Some(Stop::ExceedsCores { workers: n });
    }
    if let (Some(cap), Some(pss)) = (mem_cap, p.pss_bytes_per_worker) {
        if pss * f64::from(n) > cap {
            return Some(Stop::Memory {
                workers: n,
                bytes: pss * f64::from(n),
            });
        }
    }
    let Some(me) = p.marginal_efficiency else {
        return Some(Stop::Unmeasured);
    };
    let low = p.marginal_efficiency_low.unwrap_or(me);
    let high = p.marginal_efficiency_high.unwrap_or(me);
    let t = WORKER_STEP_MARGINAL_EFFICIENCY.value;
    if low >= t {
        None
    } else if high < t {
        Some(Stop::DoesNotPay {
            workers: n,
            efficiency: me,
        })
    } else {
        Some(Stop::WithinNoise {
            workers: n,
            efficiency: me,
            low,
            high,
        })
    }
}

/// One step of the curve as `measured.steps` lists it.
#[derive(Serialize)]
struct CurveStep {
    workers: u32,
    marginal_efficiency: f64,
    low: Option<f64>,
    high: Option<f64>,
}

fn measured(f: Option<&Figures>, d: &Decision) -> Measured {
    let mut out = Measured::default();
    let Some(f) = f else {
        return out;
    };
    let steps: Vec<CurveStep> = f
        .curve
        .iter()
        .filter_map(|p| {
            Some(CurveStep {
                workers: p.workers,
                marginal_efficiency: round(p.marginal_efficiency?, 2),
                low: p.marginal_efficiency_low.map(|x| round(x, 2)),
                high: p.marginal_efficiency_high.map(|x| round(x, 2)),
            })
        })
        .collect();
    out.put("usable_cores", f.usable_cores);
    out.put("steps", steps);
    out.put_some("within_noise_at", d.within_noise_at());
    out.put_some("usl_peak_workers", f.usl_peak_workers.map(|p| round(p, 1)));
    let Some(chosen) = d.recommended else {
        return out;
    };
    out.put("recommended", chosen);
    let (speedup, bounds) = speedup_at(f, chosen);
    out.put("speedup", round(speedup, 2));
    if let Some((lo, hi)) = bounds {
        out.put("speedup_low", round(lo, 2));
        out.put("speedup_high", round(hi, 2));
    }
    out
}

/// The speedup at the chosen count, with its bounds where it is above the base.
fn speedup_at(f: &Figures, chosen: u32) -> (f64, Option<(f64, f64)>) {
    let at = f.curve.iter().find(|p| p.workers == chosen);
    let speedup = at.and_then(|p| p.speedup).unwrap_or(1.0);
    let bounds = at
        .and_then(|p| p.speedup_bounds)
        .filter(|_| chosen > f.curve[0].workers);
    (speedup, bounds)
}

fn stopped_by(stop: Option<Stop>, cores: u32) -> String {
    match stop {
        None | Some(Stop::Unmeasured) => String::new(),
        Some(Stop::ExceedsCores { workers }) => {
            format!("{workers} workers exceed the {cores} cores")
        }
        Some(Stop::Memory { workers, bytes }) => format!(
            "{workers} workers would need {:.1} GiB",
            bytes / 1073741824.0
        ),
        Some(Stop::DoesNotPay {
            workers,
            efficiency,
        }) => format!("the step to {workers} returned {efficiency:.2} of the ideal gain"),
        Some(Stop::WithinNoise {
            workers,
            efficiency,
            low,
            high,
        }) => format!(
            "the step to {workers} returned {efficiency:.2} of the ideal gain, between {low:.2} \
             and {high:.2} over the runs: within the noise, read as neither a gain nor a loss"
        ),
    }
}

fn evidence(f: Option<&Figures>, d: &Decision) -> String {
    let Some(f) = f else {
        return "Fewer than two worker counts produced successful runs; no curve to read.".into();
    };
    let base = f.curve[0].workers;
    let stopped_by = stopped_by(d.stop, f.usable_cores);
    let Some(chosen) = d.recommended else {
        return format!(
            "From {base} worker{}, {stopped_by}; rerun with more --runs (or on a quieter host) to \
             tell.",
            plural(base)
        );
    };
    let (speedup, bounds) = speedup_at(f, chosen);
    format!(
        "{chosen} workers: speedup {speedup:.2}{} over {base} worker{}{}.",
        bounds
            .map(|(lo, hi)| format!(" ({lo:.2} to {hi:.2} over the runs)"))
            .unwrap_or_default(),
        plural(base),
        if stopped_by.is_empty() {
            String::new()
        } else {
            format!("; stopped there because {stopped_by}")
        }
    )
}

pub fn step(f: Option<&Figures>, d: &Decision) -> Step {
    let words = Words {
        threshold: format!(
            "largest count whose step from the previous one has marginal efficiency >= \
             {WORKER_STEP_MARGINAL_EFFICIENCY} over the runs' whole spread; capped by cores \
             (usable, physical) and {:.0} % of available memory",
            WORKER_MEMORY_SHARE.value * 100.0
        ),
        evidence: evidence(f, d),
        source: "wall-time scaling curve (median, min and max of runs), host cores, procfs PSS"
            .into(),
    };
    Step::new(
        StepId::WorkerCount,
        QUESTION,
        d.answer,
        measured(f, d),
        words,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(steps: &[(u32, f64, f64, f64)]) -> Figures {
        let mut curve = vec![Point {
            workers: 1,
            marginal_efficiency: None,
            marginal_efficiency_low: None,
            marginal_efficiency_high: None,
            pss_bytes_per_worker: None,
            speedup: Some(1.0),
            speedup_bounds: None,
        }];
        curve.extend(steps.iter().map(|&(n, me, lo, hi)| Point {
            workers: n,
            marginal_efficiency: Some(me),
            marginal_efficiency_low: Some(lo),
            marginal_efficiency_high: Some(hi),
            pss_bytes_per_worker: None,
            speedup: Some(f64::from(n) * me),
            speedup_bounds: None,
        }));
        Figures {
            curve,
            usable_cores: 8,
            available_memory_bytes: None,
            usl_peak_workers: None,
        }
    }

    #[test]
    fn the_walk_stops_at_the_first_step_that_does_not_pay_beyond_its_spread() {
        let f = curve(&[
            (2, 0.9, 0.85, 0.95),
            (4, 0.6, 0.5, 0.7),
            (8, 0.1, 0.05, 0.15),
        ]);
        let d = decide(Some(&f));
        assert_eq!((d.answer, d.recommended), (Answer::Yes, Some(4)));
        assert!(matches!(d.stop, Some(Stop::DoesNotPay { workers: 8, .. })));
    }

    #[test]
    fn a_first_step_within_the_noise_recommends_no_count_and_says_where() {
        let f = curve(&[(2, 0.3, 0.1, 0.5)]);
        let d = decide(Some(&f));
        assert_eq!((d.answer, d.recommended), (Answer::Unknown, None));
        assert_eq!(d.within_noise_at(), Some(2));
        assert_eq!(decide(None).answer, Answer::Unknown, "no curve, no count");
    }
}
