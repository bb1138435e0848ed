//! Do threads scale? From a run whose workers were threads, else from the share of the process
//! workers' CPU time in their tasks they held the GIL (python probe), else unknown.

use super::{primary_points, round, step};
use crate::analyze::point::PointSummary;
use crate::analyze::{Analysis, Layout};
use crate::diagnose::thresholds::{threads_scale_efficiency, GIL_SHARE_Z, THREADS_SCALE_MARGINAL};
use crate::diagnose::{free_threaded, Answer, Step};
use crate::measure::{Measurements, ResourceKind};
use serde_json::json;
use std::collections::BTreeMap;

/// Does the work release the GIL / do threads scale?
pub fn threads_scale(m: &Measurements, a: &Analysis) -> Step {
    let mut st = step(
        "threads_scale",
        "Does the work release the GIL / do threads scale?",
        Answer::Unknown,
        BTreeMap::new(),
    );
    st.threshold = format!(
        "each thread past the first adds >= {THREADS_SCALE_MARGINAL} of a core (measured, or \
         predicted from the GIL-held share) at n = min(cores, max n): efficiency >= \
         (1 + (n - 1) * {THREADS_SCALE_MARGINAL}) / n -> yes; a GIL-held share decides when \
         its 95 % interval is on one side of the bar, else unknown"
    );
    let cores = crate::analyze::parallel_cores(&m.host);
    if let Some(series) = a.series.iter().find(|s| s.layout == Some(Layout::Threads)) {
        let pts: Vec<(u32, &PointSummary)> = series
            .points
            .iter()
            .map(|&i| (m.points[i].workers, &a.points[i]))
            .collect();
        measured_threads(&mut st, &pts, cores);
        st.measured.insert("params".into(), json!(series.params));
        cross_check(&mut st, m, a, cores);
        let scaled = st.answer == Answer::Yes;
        st.evidence
            .push_str(free_threaded::contention_note(m, scaled).unwrap_or_default());
        return st;
    }
    from_gil(&mut st, &primary_points(m, a), cores);
    st
}

/// Beside a threads run, the GIL figure of a processes series of the same sweep: both are
/// stated, and a disagreement is flagged (a busy host bends a threads run; the GIL share is not
/// a timing).
fn cross_check(st: &mut Step, m: &Measurements, a: &Analysis, cores: u32) {
    let Some(series) = a
        .series
        .iter()
        .find(|s| s.layout == Some(Layout::Processes))
    else {
        return;
    };
    let pts: Vec<(u32, &PointSummary)> = series
        .points
        .iter()
        .map(|&i| (m.points[i].workers, &a.points[i]))
        .collect();
    let mut gil = step("gil", "", Answer::Unknown, BTreeMap::new());
    from_gil(&mut gil, &pts, cores);
    if gil.answer == Answer::Unknown || st.answer == Answer::Unknown {
        return;
    }
    for (key, v) in gil.measured {
        st.measured.entry(key).or_insert(v);
    }
    let agree = gil.answer == st.answer;
    st.measured.insert("gil_figure_agrees".into(), json!(agree));
    // A threads run whose efficiency bounds straddle the threshold cannot tell: then the GIL
    // figure, which is no timing, decides.
    let n = st.measured.get("workers").and_then(|v| v.as_f64());
    let bound = |key: &str| st.measured.get(key).and_then(|v| v.as_f64());
    let straddles = match (n, bound("speedup_low"), bound("speedup_high")) {
        (Some(n), Some(lo), Some(hi)) => {
            let bar = threads_scale_efficiency(n);
            lo / n < bar && hi / n >= bar
        }
        _ => false,
    };
    let verdict = match (agree, straddles) {
        (true, _) => "agrees",
        (false, true) => {
            st.answer = gil.answer;
            st.measured.insert("decided_by".into(), json!("gil_figure"));
            "decides, as the threads' runs straddle the threshold (within the noise)"
        }
        (false, false) => "disagrees (see confidence)",
    };
    st.evidence = format!(
        "{} The processes' GIL figure {verdict}: {}",
        st.evidence, gil.evidence
    );
}

/// The largest point with 2..=cores workers and a speedup.
fn target<'a>(pts: &[(u32, &'a PointSummary)], cores: u32) -> Option<(u32, &'a PointSummary)> {
    pts.iter()
        .copied()
        .filter(|(n, s)| *n >= 2 && *n <= cores.max(2) && s.efficiency.is_some())
        .max_by_key(|(n, _)| *n)
}

/// A run whose workers were threads of one process: its efficiency decides.
fn measured_threads(st: &mut Step, pts: &[(u32, &PointSummary)], cores: u32) {
    st.source = "procfs sampler (worker layout) and wall-time scaling".into();
    let Some((n, s)) = target(pts, cores) else {
        st.evidence =
            "The threads series has no point with 2 or more workers within the core count.".into();
        return;
    };
    let (Some(eff), Some(speedup)) = (s.efficiency, s.speedup) else {
        return;
    };
    st.measured.insert("workers".into(), json!(n));
    st.measured
        .insert("efficiency".into(), json!(round(eff, 2)));
    st.measured
        .insert("speedup".into(), json!(round(speedup, 2)));
    let bounds = s.speedup_low.zip(s.speedup_high);
    if let Some((lo, hi)) = bounds {
        st.measured
            .insert("speedup_low".into(), json!(round(lo, 2)));
        st.measured
            .insert("speedup_high".into(), json!(round(hi, 2)));
    }
    if let Some(b) = s.busy_cores {
        st.measured.insert("busy_cores".into(), json!(round(b, 2)));
    }
    // Threads that run in parallel keep more cores busy. A wall-time gain the busy cores do not
    // show (pure Python taking turns on the GIL, the host faster in one run than the other)
    // came from the host, not from the threads: judge the smaller of the two.
    let core_eff = busy_core_efficiency(pts, n, s);
    if let Some(ce) = core_eff {
        st.measured
            .insert("busy_core_efficiency".into(), json!(round(ce, 2)));
    }
    let judged = core_eff.map_or(eff, |ce| eff.min(ce));
    st.measured.insert(
        "required_efficiency".into(),
        json!(round(threads_scale_efficiency(f64::from(n)), 3)),
    );
    st.answer = if judged >= threads_scale_efficiency(f64::from(n)) {
        Answer::Yes
    } else {
        Answer::No
    };
    st.evidence = format!(
        "With {n} threads the speedup was {speedup:.2}{} (efficiency {eff:.2}; scaling needs \
         {:.2} at {n}, each thread past the first adding half a core){}{}.",
        bounds
            .map(|(lo, hi)| format!(" ({lo:.2} to {hi:.2} over the runs)"))
            .unwrap_or_default(),
        threads_scale_efficiency(f64::from(n)),
        s.busy_cores
            .map(|b| format!(" and the tree kept {b:.2} cores busy"))
            .unwrap_or_default(),
        core_eff
            .map(|ce| format!("; the busy cores grew {ce:.2} of the ideal per thread"))
            .unwrap_or_default()
            + if st.answer == Answer::No {
                ": the threads serialise (a GIL or a lock)"
            } else {
                ""
            }
    );
}

/// Busy cores at `n` threads over busy cores at the series' smallest count, per thread added:
/// 1.0 when every added thread keeps another core busy, 1/n when they take turns.
fn busy_core_efficiency(pts: &[(u32, &PointSummary)], n: u32, s: &PointSummary) -> Option<f64> {
    let (base, b) = pts.iter().copied().min_by_key(|(w, _)| *w)?;
    if base >= n {
        return None;
    }
    let (busy_n, busy_base) = (s.busy_cores?, b.busy_cores?);
    (busy_base > 0.0).then(|| busy_n / busy_base * f64::from(base) / f64::from(n))
}

/// Share of their time in tasks the workers wanted a CPU: running, or runnable in a queue, over
/// their steady state (else their lives), less the waits on the pool's own pipes. Those fall
/// between tasks (a worker waiting for its next payload, or to hand back its result), where no
/// knock is counted, so they dilute nothing. Without the sampler, the wall time stands.
fn wanted_cpu_share(s: &PointSummary) -> f64 {
    let Some(wanted) = s
        .steady_on_cpu_share
        .or_else(|| Some(s.on_cpu_share? + s.runqueue_share.unwrap_or(0.0)))
        .filter(|w| *w > 0.0)
    else {
        return 1.0;
    };
    let pipes = s
        .offcpu
        .as_ref()
        .and_then(|o| o.get(ResourceKind::Pipe.as_str()))
        .copied()
        .unwrap_or(0.0)
        / s.steady_share_of_life.filter(|l| *l > 0.0).unwrap_or(1.0);
    let between = pipes.clamp(0.0, (1.0 - wanted).max(0.0));
    (wanted / (1.0 - between).max(f64::EPSILON)).min(1.0)
}

/// Processes only: predict n threads from the GIL alone. The share of the task time a worker
/// holds the GIL is serial among threads (Amdahl): S_threads(n) = 1 / (h + (1 - h) / n). The
/// host's other limits (cores, memory bandwidth, a loaded machine) bound processes and threads
/// alike, so they do not decide between them; the processes' speedup is stated beside it.
fn from_gil(st: &mut Step, pts: &[(u32, &PointSummary)], cores: u32) {
    st.source = "python probe (GIL knocker in each pool worker)".into();
    let free_threaded = pts
        .iter()
        .any(|(_, s)| s.pools.as_ref().and_then(|p| p.gil_enabled) == Some(false));
    // Process workers do not share a GIL, so the share is the work's at every count: pool the
    // knocks of every point of the series. The knocks fall over the tasks' wall time, and a
    // worker waiting on a sink (an fsync, a lock, a reply) has let the GIL go: those knocks
    // find it free although the work holds it whenever it runs. Only a thread that runs (or
    // is runnable) can hold the GIL, so each point's held share is judged over the time its
    // workers wanted a CPU: held knocks / (knocks x that share), at most all of them.
    let (knocks, held_raw, held_knocks) = pts
        .iter()
        .filter_map(|(_, s)| {
            let p = s.pools.as_ref()?;
            let (k, h) = p.gil_knocks.zip(p.gil_knocks_held)?;
            Some((k, h, (h as f64 / wanted_cpu_share(s)).min(k as f64)))
        })
        .fold((0, 0, 0.0), |(k, r, h), (pk, pr, ph)| {
            (k + pk, r + pr, h + ph)
        });
    let gil = (knocks > 0).then(|| (held_knocks / knocks as f64, knocks));
    let max_n = pts.iter().map(|(n, _)| *n).max().unwrap_or(1);
    let n = max_n.min(cores).max(2);
    let held = match (free_threaded, gil) {
        // No GIL to take turns on: the locks the workers waited on are what stays serial.
        (true, _) => free_threaded::lock_share(pts),
        (false, Some((h, _))) => h,
        (false, None) => {
            st.evidence = "No run had its workers as threads of one process, and no GIL figure \
                           was measured (not CPython, probes off, or tasks too short for the \
                           knocker): sweep a threads mode (e.g. -P mode=processes,threads) to \
                           answer it."
                .into();
            return;
        }
    };
    let predicted = 1.0 / (held + (1.0 - held) / f64::from(n));
    let eff = predicted / f64::from(n);
    let bar = threads_scale_efficiency(f64::from(n));
    st.measured.insert("workers".into(), json!(n));
    st.measured.insert(
        "predicted_thread_speedup".into(),
        json!(round(predicted, 2)),
    );
    st.measured
        .insert("predicted_efficiency".into(), json!(round(eff, 2)));
    let processes = target(pts, cores).and_then(|(pn, s)| Some((pn, s.speedup?)));
    if let Some((pn, sp)) = processes {
        st.measured.insert("process_workers".into(), json!(pn));
        st.measured
            .insert("process_speedup".into(), json!(round(sp, 2)));
    }
    let beside = processes
        .map(|(pn, sp)| format!("; the processes measured {sp:.2} at {pn}"))
        .unwrap_or_default();
    st.measured
        .insert("required_efficiency".into(), json!(round(bar, 3)));
    // The knocks sample the task time: the share decides when its whole interval is on one
    // side of the bar (a free-threaded build has no GIL to sample).
    let efficiency_at = |h: f64| 1.0 / (h + (1.0 - h) / f64::from(n)) / f64::from(n);
    let (h_lo, h_hi) = match gil {
        Some((h, k)) if !free_threaded => crate::analyze::stats::wilson_interval(h, k, GIL_SHARE_Z),
        _ => (held, held),
    };
    st.answer = if efficiency_at(h_hi) >= bar {
        Answer::Yes
    } else if efficiency_at(h_lo) < bar {
        Answer::No
    } else {
        Answer::Unknown
    };
    let verdict = match st.answer {
        Answer::Yes => "threads would scale, without starting processes or pickling",
        Answer::No if free_threaded => "threads would take turns on those locks",
        Answer::No => "threads would take turns on the GIL",
        Answer::Unknown => {
            "too few knocks to tell which side of the bar the work is on: run longer, or sweep \
             a threads mode (e.g. -P mode=processes,threads)"
        }
    };
    if free_threaded {
        st.measured.insert("free_threaded".into(), json!(true));
        st.measured
            .insert("lock_share".into(), json!(round(held, 3)));
        st.evidence = format!(
            "{}; {n} threads could reach a speedup of {predicted:.2} (efficiency {eff:.2}, \
             against {bar:.2} needed at {n}){beside}: {verdict}.",
            free_threaded::predicted_words(held)
        );
        return;
    }
    let (h, knocks) = gil.unwrap_or((held, 0));
    st.measured
        .insert("gil_held_share".into(), json!(round(h, 2)));
    st.measured
        .insert("gil_held_share_low".into(), json!(round(h_lo, 2)));
    st.measured
        .insert("gil_held_share_high".into(), json!(round(h_hi, 2)));
    st.measured.insert("gil_knocks".into(), json!(knocks));
    if knocks > 0 {
        st.measured.insert(
            "gil_held_share_of_task_time".into(),
            json!(round(held_raw as f64 / knocks as f64, 2)),
        );
    }
    let cost = pts
        .iter()
        .filter_map(|(_, s)| s.pools.as_ref()?.gil_knocker_cost)
        .fold(None, |m: Option<f64>, c| Some(m.map_or(c, |m| m.max(c))));
    if let Some(c) = cost {
        st.measured
            .insert("gil_knocker_cost".into(), json!(round(c, 4)));
    }
    st.evidence = format!(
        "The process workers held the GIL in {:.0} % of {knocks} knocks during their tasks \
         ({:.0} to {:.0} % at 95 %), counted over the time they wanted a CPU (waits on a sink or \
         a peer let it go; the knocker cost {}); with that share serial, {n} threads would reach \
         at most a speedup of {predicted:.2} (efficiency {eff:.2}, against {bar:.2} needed at \
         {n}){beside}: {verdict}.",
        h * 100.0,
        h_lo * 100.0,
        h_hi * 100.0,
        cost.map_or("an unmeasured share".into(), |c| format!(
            "{:.2} % of their task time",
            c * 100.0
        )),
    );
}

#[cfg(test)]
mod tests {
    use crate::analyze::pools::PoolSummary;
    use crate::analyze::Layout;
    use crate::diagnose::tests::{busy, sweep};
    use crate::diagnose::{diagnose, Answer};

    /// Process workers wanting a CPU `on_cpu` of their time, whose GIL knocks found it held
    /// `held` times in `knocks`.
    fn knocked(on_cpu: f64, knocks: u64, held: u64) -> crate::analyze::point::PointSummary {
        let mut s = busy(on_cpu);
        s.pools = Some(PoolSummary {
            gil_knocks: Some(knocks),
            gil_knocks_held: Some(held),
            gil_enabled: Some(true),
            ..Default::default()
        });
        s
    }

    fn threads_scale(points: Vec<(u32, f64, crate::analyze::point::PointSummary)>) -> Answer {
        let (m, a) = sweep(2, points, Layout::Processes, "throughput");
        let d = diagnose(&m, &a);
        let st = d.steps.iter().find(|s| s.id == "threads_scale").unwrap();
        st.answer
    }

    fn busy_threads(cores: f64) -> crate::analyze::point::PointSummary {
        let mut s = busy(0.98);
        s.busy_cores = Some(cores);
        s
    }

    #[test]
    fn a_wall_time_gain_without_more_busy_cores_is_not_thread_scaling() {
        // Pure Python threads on a drifting host: the 2-thread run came out 1.24x faster, but
        // the tree kept one core busy in both, so the threads took turns.
        let (m, a) = sweep(
            2,
            vec![(1, 1.24, busy_threads(1.0)), (2, 1.0, busy_threads(0.94))],
            Layout::Threads,
            "throughput",
        );
        let d = diagnose(&m, &a);
        let st = d.steps.iter().find(|s| s.id == "threads_scale").unwrap();
        assert_eq!(st.answer, Answer::No, "{}", st.evidence);
        assert_eq!(st.measured["busy_core_efficiency"], 0.47);
        // Threads that release the GIL keep both cores busy and are judged on their speedup.
        let (m, a) = sweep(
            2,
            vec![(1, 2.0, busy_threads(1.0)), (2, 1.05, busy_threads(1.9))],
            Layout::Threads,
            "throughput",
        );
        let d = diagnose(&m, &a);
        let st = d.steps.iter().find(|s| s.id == "threads_scale").unwrap();
        assert_eq!(st.answer, Answer::Yes, "{}", st.evidence);
    }

    #[test]
    fn the_gil_share_is_judged_over_the_work_not_the_waits_on_a_sink() {
        // Pure Python that commits each row: on a CPU half the time, the GIL held in half the
        // knocks (the commits let it go). All of its CPU time holds the GIL.
        let committing = vec![
            (1, 4.0, knocked(0.5, 100, 48)),
            (2, 2.2, knocked(0.5, 100, 50)),
        ];
        assert_eq!(threads_scale(committing), Answer::No);
        // Work that releases the GIL while it computes stays free over its CPU time too.
        let hashing = vec![
            (1, 4.0, knocked(0.97, 100, 5)),
            (2, 2.1, knocked(0.97, 100, 6)),
        ];
        assert_eq!(threads_scale(hashing), Answer::Yes);
    }
}
