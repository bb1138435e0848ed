//! Do threads scale? From a run whose workers were threads, else from the share of the process
//! workers' CPU time in their tasks they held the GIL (python probe), else unknown.

use crate::analyze::gil::{
    all_working_efficiency, busy_core_efficiency, free_threaded, knocker_cost, pooled_knocks,
    thread_speedup, PooledKnocks,
};
use crate::analyze::point::PointSummary;
use crate::analyze::select::{largest_parallel, primary_points, series_points};
use crate::analyze::stats::wilson_interval;
use crate::analyze::{parallel_cores, Analysis, Layout};
use crate::diagnose::deciding::Deciding;
use crate::diagnose::free_threaded as ft;
use crate::diagnose::step::{round, Measured, Step, Words};
use crate::diagnose::step::{Answer, StepId};
use crate::diagnose::thresholds::{threads_scale_efficiency, GIL_SHARE_Z, THREADS_SCALE_MARGINAL};
use crate::measure::Measurements;
use std::collections::BTreeMap;

const QUESTION: &str = "Does the work release the GIL / do threads scale?";

/// What a threads series measured at its largest parallel count within the cores.
#[derive(Debug, Clone)]
pub struct ThreadsRun {
    pub workers: u32,
    pub efficiency: f64,
    pub speedup: f64,
    pub speedup_bounds: Option<(f64, f64)>,
    pub busy_cores: Option<f64>,
    /// How much of the ideal each added thread grew the busy cores.
    pub busy_core_efficiency: Option<f64>,
    /// Cores the threads used while every one of them had work, and that per thread against
    /// one thread at the smallest count (`gil::all_working_efficiency`).
    pub all_working: Option<(f64, f64)>,
}

impl ThreadsRun {
    /// The efficiency judged: over the time every thread had work where the timeline shows
    /// it (a thread with no task left idles from imbalance, which task_variance answers, not
    /// from serialisation). Else the smaller of the wall-time and busy-core efficiencies: a
    /// wall-time gain the busy cores do not show (pure Python taking turns on the GIL, the host
    /// faster in one run than the other) came from the host, not from the threads.
    fn judged(&self) -> f64 {
        if let Some((_, e)) = self.all_working.filter(|_| !self.gil_hidden()) {
            return e;
        }
        self.busy_core_efficiency
            .map_or(self.efficiency, |ce| self.efficiency.min(ce))
    }

    /// Threads taking turns on a GIL keep one core busy. Where the ideal (each thread at one
    /// thread's measured share) fits in one core, as on a host loaded enough to give each
    /// thread under 1/n of a core, a high all-working figure cannot tell them from threads
    /// that scale: it says only that they did not serialise below one core.
    fn gil_hidden(&self) -> bool {
        self.all_working.is_some_and(|(cores, e)| {
            e >= threads_scale_efficiency(f64::from(self.workers))
                && cores / e.max(f64::MIN_POSITIVE) <= 1.0
        })
    }

    /// Do the runs' speedup bounds, as the report gives them, straddle the bar?
    pub fn straddles(&self) -> bool {
        let n = f64::from(self.workers);
        let bar = threads_scale_efficiency(n);
        self.speedup_bounds
            .is_some_and(|(lo, hi)| round(lo, 2) / n < bar && round(hi, 2) / n >= bar)
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

fn threads_run(pts: &[(u32, &PointSummary)], cores: u32) -> Option<ThreadsRun> {
    let (n, s) = largest_parallel(pts, cores, |s| s.efficiency.is_some())?;
    Some(ThreadsRun {
        workers: n,
        efficiency: s.efficiency?,
        speedup: s.speedup?,
        speedup_bounds: s.speedup_low.zip(s.speedup_high),
        busy_cores: s.busy_cores,
        busy_core_efficiency: busy_core_efficiency(pts, n, s),
        all_working: s.all_working_cores.zip(all_working_efficiency(pts, n, s)),
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

/// How a threads run and the processes' GIL figure compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossCheck {
    Agrees,
    /// They disagree and the threads' bounds straddle the bar: the GIL figure decided.
    GilDecides,
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
}

fn decide_gil(g: &Gil) -> Option<GilDecision> {
    let held = g.held()?;
    let n = g.workers;
    let bar = threads_scale_efficiency(f64::from(n));
    let efficiency_at = |h: f64| thread_speedup(h, n) / f64::from(n);
    let (lo, hi) = match g.knocks.held_share() {
        Some(h) if !g.free_threaded => wilson_interval(h, g.knocks.knocks, GIL_SHARE_Z.value),
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

fn decide_run(r: &ThreadsRun) -> Answer {
    if r.judged() >= threads_scale_efficiency(f64::from(r.workers)) {
        Answer::Yes
    } else {
        Answer::No
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
            }
        }
        Figures::Threads { run, gil, .. } => {
            let run_answer = run.as_ref().map_or(Answer::Unknown, decide_run);
            let gil = gil.as_ref().and_then(decide_gil);
            let known = |a: Answer| a != Answer::Unknown;
            // Beside a threads run that answered, a GIL figure that answered is compared. A
            // run whose efficiency bounds straddle the threshold cannot tell: then the GIL
            // figure, which is no timing, decides.
            let cross_check = match (run, gil) {
                (Some(r), Some(g)) if known(run_answer) && known(g.answer) => {
                    Some(match (g.answer == run_answer, r.straddles()) {
                        (true, _) => CrossCheck::Agrees,
                        (false, true) => CrossCheck::GilDecides,
                        (false, false) => CrossCheck::Disagrees,
                    })
                }
                _ => None,
            };
            Decision {
                answer: match (cross_check, gil) {
                    (Some(CrossCheck::GilDecides), Some(g)) => g.answer,
                    _ => run_answer,
                },
                gil,
                cross_check,
            }
        }
    }
}

impl Figures {
    /// The figure the answer rests on: the threads run's judged efficiency, or the efficiency
    /// the GIL-held share predicts, with the Wilson interval of the pooled knocks as its own.
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
            Figures::Threads { gil: Some(g), .. }
                if d.cross_check == Some(CrossCheck::GilDecides) =>
            {
                gil(g)
            }
            Figures::Threads { run: Some(r), .. } => {
                let bar = threads_scale_efficiency(f64::from(r.workers));
                Some(Deciding::above("judged_efficiency", r.judged(), bar))
            }
            Figures::Threads { .. } => None,
        }
    }

    /// A threads run whose speedup bounds straddle the bar: its answer is within the noise.
    pub fn run_straddles(&self) -> bool {
        matches!(self, Figures::Threads { run: Some(r), .. } if r.straddles())
    }
}

fn measured_run(r: &ThreadsRun, out: &mut Measured) {
    out.put("workers", r.workers);
    out.put("efficiency", round(r.efficiency, 2));
    out.put("speedup", round(r.speedup, 2));
    if let Some((lo, hi)) = r.speedup_bounds {
        out.put("speedup_low", round(lo, 2));
        out.put("speedup_high", round(hi, 2));
    }
    out.put_some("busy_cores", r.busy_cores.map(|b| round(b, 2)));
    out.put_some(
        "busy_core_efficiency",
        r.busy_core_efficiency.map(|ce| round(ce, 2)),
    );
    if let Some((cores, e)) = r.all_working {
        out.put("all_working_cores", round(cores, 2));
        out.put("all_working_efficiency", round(e, 2));
    }
    out.put(
        "required_efficiency",
        round(threads_scale_efficiency(f64::from(r.workers)), 3),
    );
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
            // Beside an answering threads run, the GIL figure's keys that the run has not.
            if let (Some(g), Some(check)) = (gil, d.cross_check) {
                measured_gil(g, d.gil, &mut out);
                out.put("gil_figure_agrees", check == CrossCheck::Agrees);
                if check == CrossCheck::GilDecides {
                    out.put("decided_by", "gil_figure");
                }
            }
            if let Some(r) = run {
                measured_run(r, &mut out);
            }
            out.put("params", params);
        }
    }
    out
}

fn run_evidence(r: Option<&ThreadsRun>) -> String {
    let Some(r) = r else {
        return "The threads series has no point with 2 or more workers within the core count."
            .into();
    };
    let n = r.workers;
    let speedup = r.speedup;
    format!(
        "With {n} threads the speedup was {speedup:.2}{} (efficiency {:.2}; scaling needs \
         {:.2} at {n}, each thread past the first adding half a core){}{}.",
        r.speedup_bounds
            .map(|(lo, hi)| format!(" ({lo:.2} to {hi:.2} over the runs)"))
            .unwrap_or_default(),
        r.efficiency,
        threads_scale_efficiency(f64::from(n)),
        r.busy_cores
            .map(|b| format!(" and the tree kept {b:.2} cores busy"))
            .unwrap_or_default(),
        r.busy_core_efficiency
            .map(|ce| format!("; the busy cores grew {ce:.2} of the ideal per thread"))
            .unwrap_or_default()
            + &r.all_working
                .map(|(cores, e)| {
                    format!(
                        "; while every thread had work they kept {cores:.2} cores busy, {e:.2} of \
                         the ideal per thread{}",
                        if r.gil_hidden() {
                            ", within the one core that threads taking turns on a GIL keep \
                             busy too, so the wall time and busy cores judge"
                        } else if decide_run(r) == Answer::Yes && r.efficiency < e {
                            ", so the speedup lost went to threads with no task left (uneven \
                             tasks), not to serialisation"
                        } else {
                            ""
                        }
                    )
                })
                .unwrap_or_default()
            + if decide_run(r) == Answer::No {
                ": the threads serialise (a GIL or a lock)"
            } else {
                ""
            }
    )
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
            let (Some(g), Some(check)) = (gil, d.cross_check) else {
                return said;
            };
            let verdict = match check {
                CrossCheck::Agrees => "agrees",
                CrossCheck::GilDecides => {
                    "decides, as the threads' runs straddle the threshold (within the noise)"
                }
                CrossCheck::Disagrees => "disagrees (see confidence)",
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
        Figures::Threads { .. } => "procfs sampler (worker layout) and wall-time scaling",
        Figures::GilOnly(_) => "python probe (GIL knocker in each pool worker)",
    }
}

pub fn step(f: &Figures, d: &Decision) -> Step {
    let words = Words {
        threshold: format!(
            "each thread past the first adds >= {THREADS_SCALE_MARGINAL} of a core (measured, \
             or predicted from the GIL-held share) at n = min(cores, max n): efficiency >= \
             (1 + (n - 1) * {THREADS_SCALE_MARGINAL}) / n -> yes; a GIL-held share decides when \
             its 95 % interval is on one side of the bar, else unknown"
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
    use crate::analyze::pools::PoolSummary;
    use crate::analyze::Layout;
    use crate::diagnose::tests::{busy, sweep};
    use crate::diagnose::{diagnose, Answer, StepId};

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
        let st = d
            .steps
            .iter()
            .find(|s| s.id == StepId::ThreadsScale)
            .unwrap();
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
        let st = d
            .steps
            .iter()
            .find(|s| s.id == StepId::ThreadsScale)
            .unwrap();
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
        let st = d
            .steps
            .iter()
            .find(|s| s.id == StepId::ThreadsScale)
            .unwrap();
        assert_eq!(st.answer, Answer::Yes, "{}", st.evidence);
    }

    #[test]
    fn threads_idle_behind_a_big_last_task_are_judged_on_the_time_all_had_work() {
        // threadpool_straggler.py recorded: 1.24x at 2 threads (the big task ran alone at the
        // end), while both threads had work they kept 1.95 cores busy against 1.0 for one.
        let mut two = busy_threads(1.24);
        two.all_working_cores = Some(1.95);
        let (m, a) = sweep(
            2,
            vec![(1, 1.24, busy_threads(1.0)), (2, 1.0, two.clone())],
            Layout::Threads,
            "throughput",
        );
        let d = diagnose(&m, &a);
        let st = d
            .steps
            .iter()
            .find(|s| s.id == StepId::ThreadsScale)
            .unwrap();
        assert_eq!(st.answer, Answer::Yes, "{}", st.evidence);
        assert_eq!(st.measured["all_working_efficiency"], 0.98);
        assert!(st.evidence.contains("no task left"), "{}", st.evidence);
        // Threads taking turns on the GIL keep one core busy even while all have work.
        two.all_working_cores = Some(1.0);
        let (m, a) = sweep(
            2,
            vec![(1, 1.24, busy_threads(1.0)), (2, 1.0, two)],
            Layout::Threads,
            "throughput",
        );
        let d = diagnose(&m, &a);
        let st = d
            .steps
            .iter()
            .find(|s| s.id == StepId::ThreadsScale)
            .unwrap();
        assert_eq!(st.answer, Answer::No, "{}", st.evidence);
    }

    #[test]
    fn threads_that_fit_in_one_core_are_not_judged_on_the_time_all_had_work() {
        // 09_threads_pure recorded (Dask, pure Python, a loaded host): one thread got 0.44 of
        // a core, so two kept 0.83 busy while both had work, 0.94 of the ideal, yet within the
        // one core a GIL allows. The wall time (1.49x) and busy cores (0.68) judge instead.
        let mut two = busy_threads(0.6);
        two.all_working_cores = Some(0.83);
        let (m, a) = sweep(
            2,
            vec![(1, 1.49, busy_threads(0.44)), (2, 1.0, two)],
            Layout::Threads,
            "throughput",
        );
        let d = diagnose(&m, &a);
        let st = d
            .steps
            .iter()
            .find(|s| s.id == StepId::ThreadsScale)
            .unwrap();
        assert_eq!(st.answer, Answer::No, "{}", st.evidence);
        assert!(
            st.evidence.contains("within the one core"),
            "{}",
            st.evidence
        );
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
