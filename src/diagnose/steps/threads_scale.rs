//! Do threads scale? Where threads ran, from the accounting of their largest parallel point
//! within the cores: the share of their working time they lost to the GIL and locks while they
//! held tasks. What else the speedup lost (the host's run queue, the driver's serial part, the
//! idle tail behind a big task) processes would lose too, so it says nothing of threads. Where
//! no threads ran, from the share of the process workers' task time they held the GIL (python
//! probe); else unknown.

use crate::analyze::gil::{
    free_threaded, knocker_cost, pooled_knocks, thread_speedup, PooledKnocks, Serialised,
};
use crate::analyze::point::PointSummary;
use crate::analyze::select::{largest_parallel, primary_points, series_points};
use crate::analyze::stats::wilson_interval;
use crate::analyze::{parallel_cores, Analysis, Layout};
use crate::diagnose::deciding::Deciding;
use crate::diagnose::free_threaded as ft;
use crate::diagnose::step::{round, Measured, Step, Words};
use crate::diagnose::step::{Answer, StepId};
use crate::diagnose::thresholds::{
    threads_scale_efficiency, threads_serialised_share, GIL_SHARE_Z, THREADS_SCALE_MARGINAL,
};
use crate::measure::Measurements;
use std::collections::BTreeMap;

const QUESTION: &str = "Does the work release the GIL / do threads scale?";

/// What a threads series measured at its largest parallel count within the cores.
#[derive(Debug, Clone)]
pub struct ThreadsRun {
    pub workers: u32,
    pub speedup: Option<f64>,
    pub efficiency: Option<f64>,
    /// Where the threads' working time went (the point's accounting); None without one.
    pub serialised: Option<Serialised>,
    /// The point's other losses in cores, largest first: where the rest of the speedup went.
    pub other_losses: Vec<(String, f64)>,
}

impl ThreadsRun {
    /// The share of their working time the threads lost to the GIL and locks.
    pub fn share(&self) -> Option<f64> {
        self.serialised?.share()
    }

    /// The most that share may be for threads to scale, at this count.
    pub fn bar(&self) -> f64 {
        threads_serialised_share(f64::from(self.workers))
    }
}

/// A series' GIL figure: the speedup threads would reach with the GIL-held share serial.
#[derive(Debug, Clone)]
pub struct Gil {
    /// min(cores, largest count), at least 2.
    pub workers: u32,
    pub free_threaded: bool,
    /// On a free-threaded build, the share of the workers' time waiting on locks: what
    /// threads would still take turns on.
    pub lock_share: f64,
    pub knocks: PooledKnocks,
    /// The processes' own speedup at their largest parallel count, stated beside.
    pub processes: Option<(u32, f64)>,
    pub knocker_cost: Option<f64>,
}

impl Gil {
    /// The held share the prediction uses: on a free-threaded build the locks' share (no GIL
    /// to take turns on); None unmeasured.
    fn held(&self) -> Option<f64> {
        if self.free_threaded {
            Some(self.lock_share)
        } else {
            self.knocks.held_share()
        }
    }

    fn predicted_speedup(&self) -> Option<f64> {
        Some(thread_speedup(self.held()?, self.workers))
    }
}

/// threads_scale's figures: a threads run (with a processes series' GIL figure beside it), or
/// the GIL figure alone.
#[derive(Debug, Clone)]
pub enum Figures {
    Threads {
        params: BTreeMap<String, String>,
        run: Option<ThreadsRun>,
        gil: Option<Gil>,
        /// The threads ran on a free-threaded build with the GIL off.
        gil_off: bool,
    },
    GilOnly(Gil),
}

pub fn figures(m: &Measurements, a: &Analysis) -> Figures {
    let cores = parallel_cores(&m.host);
    let with_layout = |layout| a.series.iter().find(|s| s.layout == Some(layout));
    if let Some(series) = with_layout(Layout::Threads) {
        let pts = series_points(m, a, series);
        return Figures::Threads {
            params: series.params.clone(),
            run: threads_run(&pts, cores),
            gil: with_layout(Layout::Processes).map(|p| gil(&series_points(m, a, p), cores)),
            gil_off: ft::gil_off(m),
        };
    }
    Figures::GilOnly(gil(&primary_points(m, a), cores))
}

/// The largest parallel point within the cores that has an accounting (else one with a speedup,
/// for the words).
fn threads_run(pts: &[(u32, &PointSummary)], cores: u32) -> Option<ThreadsRun> {
    let (n, s) = largest_parallel(pts, cores, |s| s.accounting.is_some())
        .or_else(|| largest_parallel(pts, cores, |s| s.speedup.is_some()))?;
    let acc = s.accounting.as_ref();
    let other_losses = acc
        .map(|a| a.losses_over(0.0))
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, v)| !matches!(*k, "gil" | "locks") && round(*v, 2) > 0.0)
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    Some(ThreadsRun {
        workers: n,
        speedup: s.speedup,
        efficiency: s.efficiency,
        serialised: acc.map(Serialised::of),
        other_losses,
    })
}

fn gil(pts: &[(u32, &PointSummary)], cores: u32) -> Gil {
    let max_n = pts.iter().map(|(n, _)| *n).max().unwrap_or(1);
    Gil {
        workers: max_n.min(cores).max(2),
        free_threaded: free_threaded(pts),
        lock_share: if free_threaded(pts) {
            ft::lock_share(pts)
        } else {
            0.0
        },
        knocks: pooled_knocks(pts),
        processes: largest_parallel(pts, cores, |s| s.efficiency.is_some())
            .and_then(|(pn, s)| Some((pn, s.speedup?))),
        knocker_cost: knocker_cost(pts),
    }
}

/// How a threads run and the processes' GIL figure compared, where both answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossCheck {
    Agrees,
    Disagrees,
}

/// The GIL figure's verdict: the share decides when its whole 95 % interval is on one side of
/// the bar.
#[derive(Debug, Clone, Copy)]
pub struct GilDecision {
    pub answer: Answer,
    /// The interval of the held share (the share itself on a free-threaded build).
    pub held_bounds: (f64, f64),
}

#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub answer: Answer,
    pub gil: Option<GilDecision>,
    /// Set when both a threads run and a GIL figure answered.
    pub cross_check: Option<CrossCheck>,
    /// A threads series without an accounting: the processes' GIL figure answered instead.
    pub by_gil_figure: bool,
}

fn decide_gil(g: &Gil) -> Option<GilDecision> {
    let held = g.held()?;
    let n = g.workers;
    let bar = threads_scale_efficiency(f64::from(n));
    let efficiency_at = |h: f64| thread_speedup(h, n) / f64::from(n);
    let (lo, hi) = match g.knocks.held_share() {
        Some(h) if !g.free_threaded => {
            wilson_interval(h, g.knocks.effective_knocks(), GIL_SHARE_Z.value)
        }
        _ => (held, held),
    };
    let answer = if efficiency_at(hi) >= bar {
        Answer::Yes
    } else if efficiency_at(lo) < bar {
        Answer::No
    } else {
        Answer::Unknown
    };
    Some(GilDecision {
        answer,
        held_bounds: (lo, hi),
    })
}

/// One rule: the threads scale when the share of their working time lost to the GIL and locks
/// is at most the bar (its interval over the runs is weighed in deciding.rs).
fn decide_run(r: &ThreadsRun) -> Answer {
    match r.share() {
        Some(g) if g <= r.bar() => Answer::Yes,
        Some(_) => Answer::No,
        None => Answer::Unknown,
    }
}

pub fn decide(f: &Figures) -> Decision {
    match f {
        Figures::GilOnly(g) => {
            let gil = decide_gil(g);
            Decision {
                answer: gil.map_or(Answer::Unknown, |d| d.answer),
                gil,
                cross_check: None,
                by_gil_figure: false,
            }
        }
        Figures::Threads { run, gil, .. } => {
            let run_answer = run.as_ref().map_or(Answer::Unknown, decide_run);
            let gil = gil.as_ref().and_then(decide_gil);
            let known = |a: Answer| a != Answer::Unknown;
            // Beside a threads run that answered, a GIL figure that answered is compared (the
            // confidence reads a disagreement); the threads' own accounting decides.
            let cross_check = gil
                .filter(|g| known(run_answer) && known(g.answer))
                .map(|g| {
                    if g.answer == run_answer {
                        CrossCheck::Agrees
                    } else {
                        CrossCheck::Disagrees
                    }
                });
            let by_gil_figure = !known(run_answer) && gil.is_some();
            Decision {
                answer: match gil {
                    Some(g) if by_gil_figure => g.answer,
                    _ => run_answer,
                },
                gil,
                cross_check,
                by_gil_figure,
            }
        }
    }
}

impl Figures {
    /// The figure the answer rests on: the threads' serialised share, or the efficiency the
    /// GIL-held share predicts, with the Wilson interval of the pooled knocks as its own (over
    /// the knocks the runs' spread leaves: `PooledKnocks::effective_knocks`).
    pub fn deciding(&self, d: &Decision) -> Option<Deciding> {
        let gil = |g: &Gil| {
            let gd = d.gil?;
            let n = g.workers;
            let eff = |h: f64| thread_speedup(h, n) / f64::from(n);
            let bar = threads_scale_efficiency(f64::from(n));
            let (lo, hi) = gd.held_bounds;
            Some(
                Deciding::above("predicted_efficiency", eff(g.held()?), bar)
                    .within(eff(hi), eff(lo)),
            )
        };
        match self {
            Figures::GilOnly(g) => gil(g),
            Figures::Threads { gil: Some(g), .. } if d.by_gil_figure => gil(g),
            Figures::Threads { run: Some(r), .. } => {
                Some(Deciding::below("serialised_share", r.share()?, r.bar()))
            }
            Figures::Threads { .. } => None,
        }
    }
}

fn measured_run(r: &ThreadsRun, out: &mut Measured) {
    out.put("workers", r.workers);
    out.put_some("speedup", r.speedup.map(|x| round(x, 2)));
    out.put_some("efficiency", r.efficiency.map(|x| round(x, 2)));
    if let (Some(s), Some(share)) = (r.serialised, r.share()) {
        out.put("useful_cores", round(s.useful_cores, 2));
        out.put("gil_cores", round(s.gil_cores, 2));
        out.put("lock_cores", round(s.lock_cores, 2));
        out.put("serialised_share", round(share, 3));
        out.put("max_serialised_share", round(r.bar(), 3));
    }
}

fn measured_gil(g: &Gil, d: Option<GilDecision>, out: &mut Measured) {
    let (Some(predicted), Some(d)) = (g.predicted_speedup(), d) else {
        return;
    };
    let n = g.workers;
    out.put("workers", n);
    out.put("predicted_thread_speedup", round(predicted, 2));
    out.put("predicted_efficiency", round(predicted / f64::from(n), 2));
    if let Some((pn, sp)) = g.processes {
        out.put("process_workers", pn);
        out.put("process_speedup", round(sp, 2));
    }
    out.put(
        "required_efficiency",
        round(threads_scale_efficiency(f64::from(n)), 3),
    );
    if g.free_threaded {
        out.put("free_threaded", true);
        out.put("lock_share", round(g.lock_share, 3));
        return;
    }
    let (lo, hi) = d.held_bounds;
    out.put("gil_held_share", round(g.held().unwrap_or(0.0), 2));
    out.put("gil_held_share_low", round(lo, 2));
    out.put("gil_held_share_high", round(hi, 2));
    out.put("gil_knocks", g.knocks.knocks);
    out.put("gil_knocks_dispersion", round(g.knocks.dispersion, 2));
    out.put_some(
        "gil_held_share_of_task_time",
        g.knocks.held_share_of_task_time().map(|h| round(h, 2)),
    );
    out.put_some("gil_knocker_cost", g.knocker_cost.map(|c| round(c, 4)));
}

fn measured(f: &Figures, d: &Decision) -> Measured {
    let mut out = Measured::default();
    match f {
        Figures::GilOnly(g) => measured_gil(g, d.gil, &mut out),
        Figures::Threads {
            params, run, gil, ..
        } => {
            // Beside the threads run, the GIL figure's keys that the run has not.
            if let Some(g) = gil
                .as_ref()
                .filter(|_| d.cross_check.is_some() || d.by_gil_figure)
            {
                measured_gil(g, d.gil, &mut out);
            }
            if let Some(check) = d.cross_check {
                out.put("gil_figure_agrees", check == CrossCheck::Agrees);
            }
            if d.by_gil_figure {
                out.put("decided_by", "gil_figure");
            }
            if let Some(r) = run {
                measured_run(r, &mut out);
            }
            out.put("params", params);
        }
    }
    out
}

/// Where the rest of the speedup went, in the accounting's words.
fn other_losses_words(r: &ThreadsRun) -> String {
    if r.other_losses.is_empty() {
        return String::new();
    }
    let list: Vec<String> = r
        .other_losses
        .iter()
        .map(|(k, v)| format!("{k} {v:.2}"))
        .collect();
    format!(
        "; the other cores lost ({}) are not the threads' doing: processes would lose them too \
         (run_queue is the host's, serial the driver's alone, imbalance task_variance's)",
        list.join(", ")
    )
}

fn run_evidence(r: Option<&ThreadsRun>) -> String {
    let Some(r) = r else {
        return "The threads series has no point with 2 or more workers within the core count."
            .into();
    };
    let n = r.workers;
    let speedup = r
        .speedup
        .zip(r.efficiency)
        .map(|(sp, e)| format!("the speedup was {sp:.2} (efficiency {e:.2})"))
        .unwrap_or_else(|| "the speedup was not measured".into());
    let (Some(s), Some(share)) = (r.serialised, r.share()) else {
        return format!(
            "With {n} threads {speedup}, but the point has no accounting (no sampler picture \
             of the threads), so what they lost to the GIL and locks is unknown."
        );
    };
    let bar = r.bar();
    let verdict = match decide_run(r) {
        Answer::Yes => "they do not take turns: threads scale",
        _ => "the threads take turns (the GIL or a lock)",
    };
    format!(
        "With {n} threads, {:.2} cores worked while {:.2} waited for the GIL and {:.2} for other \
         locks, holding a task: {:.1} % of their working time serialised, against at most \
         {:.1} % for each thread past the first to add {THREADS_SCALE_MARGINAL} of a core; \
         {verdict}. {}{}.",
        s.useful_cores,
        s.gil_cores,
        s.lock_cores,
        share * 100.0,
        bar * 100.0,
        capitalised(&speedup),
        other_losses_words(r),
    )
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn gil_evidence(g: &Gil, d: Option<GilDecision>) -> String {
    let (Some(predicted), Some(d)) = (g.predicted_speedup(), d) else {
        return "No run had its workers as threads of one process, and no GIL figure was \
                measured (not CPython, probes off, or tasks too short for the knocker): sweep a \
                threads mode (e.g. -P mode=processes,threads) to answer it."
            .into();
    };
    let n = g.workers;
    let eff = predicted / f64::from(n);
    let bar = threads_scale_efficiency(f64::from(n));
    let beside = g
        .processes
        .map(|(pn, sp)| format!("; the processes measured {sp:.2} at {pn}"))
        .unwrap_or_default();
    let verdict = match d.answer {
        Answer::Yes => "threads would scale, without starting processes or pickling",
        Answer::No if g.free_threaded => "threads would take turns on those locks",
        Answer::No => "threads would take turns on the GIL",
        Answer::Unknown => {
            "too few knocks to tell which side of the bar the work is on: run longer, or sweep \
             a threads mode (e.g. -P mode=processes,threads)"
        }
    };
    if g.free_threaded {
        return format!(
            "{}; {n} threads could reach a speedup of {predicted:.2} (efficiency {eff:.2}, \
             against {bar:.2} needed at {n}){beside}: {verdict}.",
            ft::predicted_words(g.lock_share)
        );
    }
    let (h_lo, h_hi) = d.held_bounds;
    format!(
        "The process workers held the GIL in {:.0} % of {} knocks during their tasks \
         ({:.0} to {:.0} % at 95 %), counted over the time they wanted a CPU (waits on a sink or \
         a peer let it go; the knocker cost {}); with that share serial, {n} threads would reach \
         at most a speedup of {predicted:.2} (efficiency {eff:.2}, against {bar:.2} needed at \
         {n}){beside}: {verdict}.",
        g.held().unwrap_or(0.0) * 100.0,
        g.knocks.knocks,
        h_lo * 100.0,
        h_hi * 100.0,
        g.knocker_cost
            .map_or("an unmeasured share".into(), |c| format!(
                "{:.2} % of their task time",
                c * 100.0
            )),
    )
}

fn evidence(f: &Figures, d: &Decision) -> String {
    match f {
        Figures::GilOnly(g) => gil_evidence(g, d.gil),
        Figures::Threads {
            run, gil, gil_off, ..
        } => {
            let note = ft::contention_note(*gil_off, d.answer == Answer::Yes).unwrap_or_default();
            let said = format!("{}{note}", run_evidence(run.as_ref()));
            let Some(g) = gil.as_ref() else {
                return said;
            };
            let verdict = match (d.cross_check, d.by_gil_figure) {
                (_, true) => "answers in its place",
                (Some(CrossCheck::Agrees), _) => "agrees",
                (Some(CrossCheck::Disagrees), _) => "disagrees (see confidence)",
                (None, false) => return said,
            };
            format!(
                "{said} The processes' GIL figure {verdict}: {}",
                gil_evidence(g, d.gil)
            )
        }
    }
}

fn source(f: &Figures) -> &'static str {
    match f {
        Figures::Threads { .. } => {
            "accounting of the threads' worker-seconds (switch intervals or procfs ticks)"
        }
        Figures::GilOnly(_) => "python probe (GIL knocker in each pool worker)",
    }
}

pub fn step(f: &Figures, d: &Decision) -> Step {
    let words = Words {
        threshold: format!(
            "each thread past the first adds >= {THREADS_SCALE_MARGINAL} of a core at n = \
             min(cores, max n): measured threads lose at most (n - 1) * (1 - \
             {THREADS_SCALE_MARGINAL}) / n of their working time (useful + gil + locks) to the \
             GIL and locks while holding tasks -> yes, its interval over the runs clear of the \
             bar; without threads, the efficiency the GIL-held share predicts >= (1 + (n - 1) * \
             {THREADS_SCALE_MARGINAL}) / n, decided when its 95 % interval is on one side; else \
             unknown"
        ),
        evidence: evidence(f, d),
        source: source(f).into(),
    };
    Step::new(
        StepId::ThreadsScale,
        QUESTION,
        d.answer,
        measured(f, d),
        words,
    )
}

#[cfg(test)]
mod tests {
    use crate::analyze::point::PointSummary;
    use crate::analyze::pools::PoolSummary;
    use crate::analyze::Layout;
    use crate::diagnose::tests::{accounted, busy, sweep};
    use crate::diagnose::{diagnose, Answer, Step, StepId};

    /// Process workers wanting a CPU `on_cpu` of their time, whose GIL knocks found it held
    /// `held` times in `knocks`.
    fn knocked(on_cpu: f64, knocks: u64, held: u64) -> PointSummary {
        let mut s = busy(on_cpu);
        s.pools = Some(PoolSummary {
            gil_knocks: Some(knocks),
            gil_knocks_held: Some(held),
            gil_enabled: Some(true),
            ..Default::default()
        });
        s
    }

    fn threads_scale(points: Vec<(u32, f64, PointSummary)>) -> Answer {
        let (m, a) = sweep(2, points, Layout::Processes, "throughput");
        let d = diagnose(&m, &a);
        let st = d
            .steps
            .iter()
            .find(|s| s.id == StepId::ThreadsScale)
            .unwrap();
        st.answer
    }

    /// threads_scale on a threads series of 1 and 2 threads; `wall2` the wall at 2 (4 s at 1).
    fn threads_step(two: PointSummary, wall2: f64) -> Step {
        let one = accounted(1, 0.98, &[("serial", 0.02)]);
        let (m, a) = sweep(
            2,
            vec![(1, 4.0, one), (2, wall2, two)],
            Layout::Threads,
            "throughput",
        );
        let d = diagnose(&m, &a);
        d.steps
            .into_iter()
            .find(|s| s.id == StepId::ThreadsScale)
            .unwrap()
    }

    #[test]
    fn threads_taking_turns_on_the_gil_lose_half_their_working_time_and_do_not_scale() {
        // lab 01's pure-Python threads recorded: 0.88 cores worked, 0.89 waited on the GIL.
        let st = threads_step(accounted(2, 0.88, &[("gil", 0.89), ("serial", 0.22)]), 4.0);
        assert_eq!(st.answer, Answer::No, "{}", st.evidence);
        assert_eq!(st.measured["serialised_share"], 0.503);
        assert_eq!(st.measured["max_serialised_share"], 0.25);
        assert!(st.evidence.contains("take turns"), "{}", st.evidence);
        // Locks count as the GIL does (a native pool, or the GIL off).
        let st = threads_step(accounted(2, 1.2, &[("locks", 0.6)]), 3.0);
        assert_eq!(st.answer, Answer::No, "{}", st.evidence);
        // Work that releases the GIL: both threads work, next to nothing waits.
        let st = threads_step(accounted(2, 1.9, &[("gil", 0.02)]), 2.1);
        assert_eq!(st.answer, Answer::Yes, "{}", st.evidence);
    }

    #[test]
    fn what_the_host_the_driver_and_the_tail_cost_is_not_the_threads_serialising() {
        // 07_threads_numpy recorded on a loaded host: a speedup of 1.72 (0.86), with 0.87 cores
        // lost to the run queue and 0.28 to the driver alone, 0.035 to the GIL.
        let numpy = accounted(
            2,
            0.82,
            &[("gil", 0.035), ("run_queue", 0.87), ("serial", 0.28)],
        );
        let st = threads_step(numpy, 2.32);
        assert_eq!(st.answer, Answer::Yes, "{}", st.evidence);
        assert_eq!(st.measured["serialised_share"], 0.041);
        assert!(
            st.evidence.contains("run_queue 0.87") && st.evidence.contains("not the threads"),
            "{}",
            st.evidence
        );
        // threadpool_straggler: the big last task runs alone, the other thread idles on the
        // pool's queue (imbalance): task_variance's, not a GIL.
        let straggler = accounted(2, 1.15, &[("imbalance", 0.66), ("serial", 0.16)]);
        let st = threads_step(straggler, 3.2);
        assert_eq!(st.answer, Answer::Yes, "{}", st.evidence);
        // Pure Python on the same loaded host: the run queue hides no GIL waits.
        let pure = accounted(
            2,
            0.32,
            &[("gil", 0.26), ("run_queue", 0.85), ("serial", 0.55)],
        );
        let st = threads_step(pure, 3.0);
        assert_eq!(st.answer, Answer::No, "{}", st.evidence);
    }

    #[test]
    fn threads_without_an_accounting_are_unknown() {
        let st = threads_step(busy(0.95), 2.1);
        assert_eq!(st.answer, Answer::Unknown, "{}", st.evidence);
        assert!(st.evidence.contains("no accounting"), "{}", st.evidence);
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
