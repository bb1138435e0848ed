//! How sure the diagnosis is, and why not more.

use super::read::wait_is_unreadable;
use super::step::Answer;
use super::steps::threads_scale::{self, CrossCheck};
use super::steps::worker_count;
use super::thresholds::{CONFIDENT_RUNS, NOISY_POINT_CV, UNREADABLE_WAIT_SHARE};
use super::verdict::Confidence;
use crate::analyze::Analysis;
use crate::diagnose::StepId;
use crate::measure::Measurements;

/// What the steps decided that bears on how sure the whole is.
pub struct FromSteps<'a> {
    pub cpu_bound: Answer,
    pub threads_decision: &'a threads_scale::Decision,
    pub worker_count: &'a worker_count::Decision,
    /// Steps left unknown because their figure straddles its bar over the runs.
    pub straddling: &'a [StepId],
}

/// Starts at high and lowers one level per kind of doubt, two for the gravest.
pub fn judge(m: &Measurements, a: &Analysis, steps: &FromSteps) -> (Confidence, Vec<String>) {
    let mut doubt = 0;
    let mut reasons = Vec::new();
    let mut doubt_if = |cond: bool, weight: u32, reason: String| {
        if cond {
            doubt += weight;
            reasons.push(reason);
        }
    };
    let ok_points = a.points.iter().filter(|p| p.wall_s.is_some()).count();
    doubt_if(
        ok_points < 2,
        2,
        "fewer than two worker counts produced a successful run".into(),
    );
    let failed: u32 = a.points.iter().map(|p| p.runs_failed).sum();
    doubt_if(
        failed > 0,
        1,
        format!("{failed} measured run(s) failed, timed out or were interrupted"),
    );
    let few_runs = a
        .points
        .iter()
        .any(|p| p.wall_s.is_some() && f64::from(p.runs_ok) < CONFIDENT_RUNS.value);
    doubt_if(
        few_runs,
        1,
        format!("some points have fewer than {CONFIDENT_RUNS} successful runs"),
    );
    let noisy: Vec<u32> = a
        .points
        .iter()
        .zip(&m.points)
        .filter(|(p, _)| match (p.wall_stddev_s, p.wall_s) {
            (Some(sd), Some(w)) if w > 0.0 => sd / w > NOISY_POINT_CV.value,
            _ => false,
        })
        .map(|(_, pm)| pm.workers)
        .collect();
    doubt_if(
        !noisy.is_empty(),
        1,
        format!(
            "wall time varies more than {:.0} % between runs at {noisy:?} workers",
            NOISY_POINT_CV.value * 100.0
        ),
    );
    doubt_if(
        a.points.iter().any(|p| p.noisy_host),
        1,
        "other processes used a noticeable share of the host's CPU during the runs".into(),
    );
    let sampled = a.points.iter().any(|p| p.worker_layout.is_some());
    doubt_if(
        !sampled,
        1,
        "the procfs sampler saw no workers, so per-worker shares are estimates".into(),
    );
    if let Some(share) = unreadable_wait_share(m).filter(|&s| s > UNREADABLE_WAIT_SHARE.value) {
        doubt_if(
            true,
            1,
            format!(
                "what the threads blocked on could not be read for {:.0} % of their blocked time \
                 (/proc/PID/syscall refused: a target of another user, setuid or non-dumpable), \
                 so shared_sink and the off-CPU breakdown are less sure; run forkcast as root to \
                 read it (see forkcast doctor)",
                share * 100.0
            ),
        );
    }
    // A step of the curve whose runs' spread straddles the threshold decided nothing.
    let within_noise = steps.worker_count.within_noise_at();
    doubt_if(
        within_noise.is_some(),
        1,
        format!(
            "the step to {} workers is within the run-to-run noise (see worker_count)",
            within_noise.unwrap_or(0)
        ),
    );
    doubt_if(
        steps.threads_decision.cross_check == Some(CrossCheck::Disagrees),
        1,
        "the threads run and the processes' GIL figure disagree on threads_scale (a busy host \
         bends the threads' timing; rerun when it is quiet)"
            .into(),
    );
    let straddling: Vec<&str> = steps.straddling.iter().map(|id| id.as_str()).collect();
    doubt_if(
        !straddling.is_empty(),
        1,
        format!(
            "undecided over the runs: {} (its figure's interval straddles its bar; more runs \
             settle it)",
            straddling.join(", ")
        ),
    );
    doubt_if(
        steps.cpu_bound == Answer::Unknown,
        2,
        format!("unanswered: {}", StepId::CpuBound),
    );
    let level = match doubt {
        0 => Confidence::High,
        1 | 2 => Confidence::Medium,
        _ => Confidence::Low,
    };
    (level, reasons)
}

/// Share of the measured runs' sampled blocked time whose cause the sampler could not read (it
/// records those waits as resource and syscall `unknown`); None when nothing was seen blocked.
fn unreadable_wait_share(m: &Measurements) -> Option<f64> {
    let waits = m
        .points
        .iter()
        .flat_map(|p| &p.runs)
        .filter(|r| !r.warmup)
        .filter_map(|r| r.sampled.as_ref())
        .flat_map(|s| &s.processes)
        .flat_map(|p| &p.threads)
        .flat_map(|t| &t.waits);
    let (mut unknown, mut total) = (0.0, 0.0);
    for w in waits {
        let blocked = w.blocked_s.clamp(0.0, f64::MAX);
        total += blocked;
        if wait_is_unreadable(&w.resource, &w.syscall) {
            unknown += blocked;
        }
    }
    (total > 0.0 && total.is_finite()).then(|| unknown / total)
}
