//! How many workers? The largest count whose step from the previous count still pays beyond
//! the run-to-run noise, capped by cores and memory.

use super::{primary_points, round, step};
use crate::analyze::point::PointSummary;
use crate::analyze::Analysis;
use crate::diagnose::thresholds::{WORKER_MEMORY_SHARE, WORKER_STEP_MARGINAL_EFFICIENCY};
use crate::diagnose::StepId;
use crate::diagnose::{Answer, Step};
use crate::measure::Measurements;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What one step to more workers returned, judged with its bounds.
enum Verdict {
    Pays,
    DoesNotPay,
    /// The bounds straddle the threshold: neither a gain nor a loss can be read from it.
    WithinNoise,
}

fn judge(s: &PointSummary) -> Option<(Verdict, f64)> {
    let me = s.marginal_efficiency?;
    let lo = s.marginal_efficiency_low.unwrap_or(me);
    let hi = s.marginal_efficiency_high.unwrap_or(me);
    let t = WORKER_STEP_MARGINAL_EFFICIENCY.value;
    let verdict = if lo >= t {
        Verdict::Pays
    } else if hi < t {
        Verdict::DoesNotPay
    } else {
        Verdict::WithinNoise
    };
    Some((verdict, me))
}

/// How many workers? Answers `unknown` (and recommends no count) when the curve cannot say.
pub fn worker_count(m: &Measurements, a: &Analysis) -> (Step, Option<u32>) {
    let mut st = step(
        StepId::WorkerCount,
        "How many workers?",
        Answer::Unknown,
        BTreeMap::new(),
    );
    st.threshold = format!(
        "largest count whose step from the previous one has marginal efficiency >= \
         {WORKER_STEP_MARGINAL_EFFICIENCY} over the runs' whole spread; capped by cores (usable, \
         physical) and {:.0} % of available memory",
        WORKER_MEMORY_SHARE.value * 100.0
    );
    st.source =
        "wall-time scaling curve (median, min and max of runs), host cores, procfs PSS".into();
    let pts: Vec<(u32, &PointSummary)> = primary_points(m, a)
        .into_iter()
        .filter(|(_, s)| s.wall_s.is_some())
        .collect();
    if pts.len() < 2 {
        st.evidence =
            "Fewer than two worker counts produced successful runs; no curve to read.".into();
        return (st, None);
    }
    let cores = crate::analyze::parallel_cores(&m.host);
    let mem_cap = m
        .host
        .available_memory_bytes
        .map(|b| b as f64 * WORKER_MEMORY_SHARE.value);
    let mut chosen = pts[0].0;
    let mut stopped_by = String::new();
    let mut noisy: Option<u32> = None;
    for &(n, s) in &pts[1..] {
        if n > cores {
            stopped_by = format!("{n} workers exceed the {cores} cores");
            break;
        }
        if let (Some(cap), Some(pss)) = (mem_cap, s.pss_bytes_per_worker) {
            if pss * f64::from(n) > cap {
                stopped_by = format!(
                    "{n} workers would need {:.1} GiB",
                    pss * f64::from(n) / 1073741824.0
                );
                break;
            }
        }
        match judge(s) {
            Some((Verdict::Pays, _)) => chosen = n,
            Some((Verdict::DoesNotPay, me)) => {
                stopped_by = format!("the step to {n} returned {me:.2} of the ideal gain");
                break;
            }
            Some((Verdict::WithinNoise, me)) => {
                stopped_by = format!(
                    "the step to {n} returned {me:.2} of the ideal gain, between {:.2} and {:.2} \
                     over the runs: within the noise, read as neither a gain nor a loss",
                    s.marginal_efficiency_low.unwrap_or(me),
                    s.marginal_efficiency_high.unwrap_or(me)
                );
                noisy = Some(n);
                break;
            }
            None => break,
        }
    }
    let steps: Vec<Value> = pts
        .iter()
        .filter_map(|(n, s)| {
            let me = s.marginal_efficiency?;
            Some(json!({
                "workers": n,
                "marginal_efficiency": round(me, 2),
                "low": s.marginal_efficiency_low.map(|x| round(x, 2)),
                "high": s.marginal_efficiency_high.map(|x| round(x, 2)),
            }))
        })
        .collect();
    st.measured.insert("usable_cores".into(), json!(cores));
    st.measured.insert("steps".into(), Value::Array(steps));
    if let Some(n) = noisy {
        st.measured.insert("within_noise_at".into(), json!(n));
    }
    if let Some(peak) = a
        .primary
        .and_then(|p| a.series[p].scaling.usl.as_ref())
        .and_then(|u| u.peak_workers)
    {
        st.measured
            .insert("usl_peak_workers".into(), json!(round(peak, 1)));
    }
    let base = pts[0].0;
    if chosen == base && noisy.is_some() {
        st.evidence = format!(
            "From {base} worker{}, {stopped_by}; rerun with more --runs (or on a quieter host) to \
             tell.",
            if base == 1 { "" } else { "s" }
        );
        return (st, None);
    }
    st.answer = if chosen > base {
        Answer::Yes
    } else {
        Answer::No
    };
    st.measured.insert("recommended".into(), json!(chosen));
    let at = pts.iter().find(|(n, _)| *n == chosen).map(|(_, s)| *s);
    let speedup = at.and_then(|s| s.speedup).unwrap_or(1.0);
    st.measured
        .insert("speedup".into(), json!(round(speedup, 2)));
    let bounds = at.and_then(|s| s.speedup_low.zip(s.speedup_high));
    if let Some((lo, hi)) = bounds.filter(|_| chosen > base) {
        st.measured
            .insert("speedup_low".into(), json!(round(lo, 2)));
        st.measured
            .insert("speedup_high".into(), json!(round(hi, 2)));
    }
    st.evidence = format!(
        "{chosen} workers: speedup {speedup:.2}{} over {base} worker{}{}.",
        bounds
            .filter(|_| chosen > base)
            .map(|(lo, hi)| format!(" ({lo:.2} to {hi:.2} over the runs)"))
            .unwrap_or_default(),
        if base == 1 { "" } else { "s" },
        if stopped_by.is_empty() {
            String::new()
        } else {
            format!("; stopped there because {stopped_by}")
        }
    );
    (st, Some(chosen))
}
