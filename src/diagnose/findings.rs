//! Findings in words: the seed's sanity checks and what the measurement itself could not see.

use super::thresholds::{FLAT_CURVE_SPEEDUP, LAUNCHERS_WORTH_A_FINDING, SLOWER_BEYOND_NOISE};
use crate::analyze::select::series_points;
use crate::analyze::Analysis;
use crate::measure::Measurements;

/// Plain-language statements about the sweep, most important first.
pub fn findings(m: &Measurements, a: &Analysis) -> Vec<String> {
    let mut out = Vec::new();
    let cores = crate::analyze::parallel_cores(&m.host);
    if let Some(p) = a.primary {
        let pts: Vec<_> = series_points(m, a, &a.series[p])
            .into_iter()
            .filter(|(_, s)| s.wall_s.is_some())
            .collect();
        let within: Vec<_> = pts.iter().filter(|(n, _)| *n <= cores).collect();
        let last_speedup = within.last().and_then(|l| l.1.speedup);
        if let (Some(first), Some(last), Some(s)) = (within.first(), within.last(), last_speedup) {
            // Flat only when even the runs' best case stays under the mark.
            let best = last.1.speedup_high.unwrap_or(s);
            if last.0 > first.0 && best < FLAT_CURVE_SPEEDUP.value {
                out.push(format!(
                    "Wall time barely moved from {} to {} workers (speedup {s:.2}): something other \
                     than CPU limits this workload (a lock, the GIL, I/O or a shared sink).",
                    first.0, last.0
                ));
            }
        }
        // "Why did 8 come out slower than 4?": every drop of throughput, with its likely cause.
        for pair in pts.windows(2) {
            let ((n_a, a_s), (n_b, b_s)) = (pair[0], pair[1]);
            if let (Some(wa), Some(wb)) = (a_s.wall_s, b_s.wall_s) {
                // Slower beyond the noise: even the fastest run of the larger count took longer
                // than the slowest run of the smaller one.
                let (fastest_b, slowest_a) =
                    (b_s.wall_min_s.unwrap_or(wb), a_s.wall_max_s.unwrap_or(wa));
                if fastest_b > slowest_a * SLOWER_BEYOND_NOISE.value {
                    let cause = if n_b > cores {
                        format!("{n_b} workers exceed the {cores} cores, so they time-share")
                    } else {
                        "the extra workers add contention (see the off-CPU and sink figures)".into()
                    };
                    out.push(format!(
                        "{n_b} workers came out slower than {n_a} ({wb:.2} s vs {wa:.2} s): {cause}{}.",
                        b_s.runqueue_share
                            .map(|r| format!("; workers waited for a CPU {:.0} % of the time", r * 100.0))
                            .unwrap_or_default()
                    ));
                }
            }
        }
    }
    let over: Vec<u32> = m
        .points
        .iter()
        .map(|p| p.workers)
        .filter(|&n| n > cores)
        .collect::<Vec<_>>();
    if !over.is_empty() {
        let mut over = over;
        over.dedup();
        out.push(format!(
            "Worker counts {over:?} exceed the {cores} cores: those points measure \
             oversubscription (time-sharing), not parallel speedup."
        ));
    }
    let launchers = a
        .points
        .iter()
        .filter_map(|p| p.other_processes)
        .max()
        .unwrap_or(0);
    if launchers as f64 >= LAUNCHERS_WORTH_A_FINDING.value {
        out.push(format!(
            "Up to {launchers} processes of the tree were not workers (launchers such as a pyenv \
             shim, shells, helpers); they were left out of the per-worker figures."
        ));
    }
    let failed: Vec<String> = a
        .points
        .iter()
        .zip(&m.points)
        .filter(|(s, _)| s.runs_failed > 0)
        .map(|(s, p)| format!("{} at {} workers", s.runs_failed, p.workers))
        .collect();
    if !failed.is_empty() {
        out.push(format!(
            "Failed runs were left out of the medians: {} (see the saved stderr files).",
            failed.join(", ")
        ));
    }
    out.extend(timeline_findings(m));
    if let Some(c) = m
        .points
        .iter()
        .flat_map(|p| &p.runs)
        .find_map(|r| r.counters.as_ref())
    {
        for why in &c.unavailable {
            out.push(format!("Counter unavailable: {why}."));
        }
    } else if m.points.iter().any(|p| !p.runs.is_empty()) {
        out.push("perf_event counters could not be opened: CPU time comes from rusage.".into());
    }
    out
}

/// Where the timeline came from when it was not exact (switch records unavailable), and
/// switch records the kernel dropped.
fn timeline_findings(m: &Measurements) -> Vec<String> {
    let sampled = || {
        m.points
            .iter()
            .flat_map(|p| &p.runs)
            .filter_map(|r| r.sampled.as_ref())
    };
    let mut out = Vec::new();
    if let Some(why) = sampled().find_map(|s| s.switches_unavailable.as_deref()) {
        out.push(format!(
            "Timeline estimated from /proc ticks, not exact: {why}."
        ));
    }
    if let Some(why) = sampled()
        .filter_map(|s| s.switches.as_ref())
        .find_map(|s| s.wakeups_unavailable.as_deref())
    {
        out.push(format!(
            "Wake-ups not traced ({why}): a woken thread's wait for a CPU counts as blocked, \
             not as run-queue time."
        ));
    }
    let lost: u64 = sampled()
        .filter_map(|s| s.switches.as_ref())
        .map(|s| s.lost_records)
        .sum();
    if lost > 0 {
        out.push(format!(
            "The kernel dropped {lost} context-switch records (rings full): the intervals \
             around the loss are approximate."
        ));
    }
    out
}
