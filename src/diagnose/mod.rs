//! The decision tree, walked with measured answers: a pure function of the analysis.
//!
//! Each step is a file in steps/ with three parts: `figures` (a pure function of the
//! analysis: the step's typed figures), `decide` (a small function of the figures and the
//! thresholds) and `step` (the words, and the `measured` values report.json writes, derived
//! from the figures). `diagnose` below walks them in the tree's order; confidence and advice
//! read the typed figures and decisions.
//!
//! A new step touches three places: its file in steps/ (figures, decide, step), this file (a
//! `StepId` variant with its id, the `mod` line, and its call in `diagnose` with the leaf it
//! gives the recommendation), and its rows in thresholds.rs. Arithmetic it needs on the
//! measurements goes to analyze/ as a pure function.

mod advice;
pub mod cited;
pub mod cluster;
mod confidence;
pub mod deciding;
mod engine;
mod findings;
pub mod free_threaded;
mod past_host;
mod read;
mod runs;
pub mod sketch;
mod step;
pub mod thresholds;
mod undecided;
mod verdict;
pub mod what_if;

/// The steps, a file each (src/diagnose/steps/).
mod steps {
    pub mod cpu_bound;
    pub mod large_payload;
    pub mod latency_goal;
    pub mod shared_sink;
    pub mod start_method;
    pub mod task_variance;
    pub mod threads_scale;
    pub mod worker_count;
}

use crate::analyze::Analysis;
use crate::measure::Measurements;
use deciding::IntervalKind;
pub use deciding::{Deciding, Weighed, YesWhen};

pub use step::{Answer, Step, StepId};
use steps::*;
pub use undecided::{undecided, undecided_in, Undecided};
pub use verdict::*;

/// Every step's figures and decision, in the tree's order.
struct Walk {
    payload: Option<large_payload::Figures>,
    payload_answer: Answer,
    work: cpu_bound::Figures,
    work_answer: Answer,
    threads: threads_scale::Figures,
    threads_decision: threads_scale::Decision,
    sinks: shared_sink::Figures,
    sinks_decision: shared_sink::Decision,
    goal: latency_goal::Figures,
    goal_answer: Answer,
    variance: task_variance::Figures,
    variance_decision: task_variance::Decision,
    pools: Option<start_method::Pools>,
    pools_decision: start_method::Decision,
    curve: Option<worker_count::Figures>,
    curve_decision: worker_count::Decision,
}

fn walk(m: &Measurements, a: &Analysis) -> Walk {
    let payload = large_payload::figures(m, a);
    let payload_answer = large_payload::decide(payload.as_ref());
    // cpu_bound nets the accounting's transfer whatever large_payload answers: pickling and
    // the pool's pipes are the cost of passing data between processes, not the work's time.
    let work = cpu_bound::figures(m, a);
    let work_answer = cpu_bound::decide(&work);
    let threads = threads_scale::figures(m, a);
    let threads_decision = threads_scale::decide(&threads);
    let sinks = shared_sink::figures(m, a);
    let sinks_decision = shared_sink::decide(&sinks);
    let goal = latency_goal::figures(m, a);
    let goal_answer = latency_goal::decide(&goal);
    let variance = task_variance::figures(m, a);
    let variance_decision = task_variance::decide(&variance);
    let pools = start_method::figures(m, a);
    let pools_decision = start_method::decide(pools.as_ref());
    let curve = worker_count::figures(m, a);
    let curve_decision = worker_count::decide(curve.as_ref());
    Walk {
        payload,
        payload_answer,
        work,
        work_answer,
        threads,
        threads_decision,
        sinks,
        sinks_decision,
        goal,
        goal_answer,
        variance,
        variance_decision,
        pools,
        pools_decision,
        curve,
        curve_decision,
    }
}

impl Walk {
    /// Each step's deciding figure (latency_goal has none: it is the user's answer).
    fn deciding(&self) -> Vec<(StepId, Deciding)> {
        [
            (StepId::CpuBound, self.work.deciding()),
            (
                StepId::ThreadsScale,
                self.threads.deciding(&self.threads_decision),
            ),
            (
                StepId::LargePayload,
                self.payload.as_ref().and_then(|f| f.deciding()),
            ),
            (StepId::SharedSink, self.sinks.deciding()),
            (
                StepId::TaskVariance,
                self.variance.deciding(&self.variance_decision),
            ),
            (
                StepId::StartMethod,
                self.pools
                    .as_ref()
                    .and_then(|p| p.deciding(&self.pools_decision)),
            ),
            (
                StepId::WorkerCount,
                self.curve
                    .as_ref()
                    .and_then(|c| c.deciding(&self.curve_decision)),
            ),
        ]
        .into_iter()
        .filter_map(|(id, d)| Some((id, d?)))
        .collect()
    }

    /// Leaves unknown each step whose figure straddles its bar over the runs, and the
    /// recommendation field it feeds out. worker_count and the GIL figure decide on their own
    /// intervals already.
    fn hold_still(&mut self, straddling: &[StepId]) {
        for id in straddling {
            match id {
                StepId::CpuBound => self.work_answer = Answer::Unknown,
                StepId::ThreadsScale => self.threads_decision.answer = Answer::Unknown,
                StepId::LargePayload => self.payload_answer = Answer::Unknown,
                StepId::SharedSink => {
                    self.sinks_decision.answer = Answer::Unknown;
                    self.sinks_decision.sink = None;
                }
                StepId::TaskVariance => self.variance_decision.answer = Answer::Unknown,
                StepId::StartMethod => {
                    self.pools_decision.answer = Answer::Unknown;
                    self.pools_decision.choice = None;
                }
                StepId::LatencyGoal | StepId::WorkerCount => {}
            }
        }
    }
}

/// Walks the tree, and weighs each step's deciding figure over the runs (each diagnosed
/// alone) where there are two or more.
pub fn diagnose(m: &Measurements, a: &Analysis) -> Diagnosis {
    diagnose_over_runs(m, a, &runs::each_run(m))
}

/// The steps of `m`'s diagnosis alone, each weighed over the runs: what `--runs auto` asks
/// after each round (`undecided`). The same steps as [`diagnose`]'s, without the replayed
/// curves, the what-ifs, the findings and the confidence, which no step reads.
pub fn steps_of(m: &Measurements) -> Vec<Step> {
    let a = crate::analyze::analyze_for_steps(m);
    weighed_steps(m, &a, &runs::each_run(m)).1
}

/// `diagnose` with the runs cut apart already: one (measurements, analysis) per run.
fn diagnose_over_runs(
    m: &Measurements,
    a: &Analysis,
    runs: &[(Measurements, Analysis)],
) -> Diagnosis {
    let (w, steps, straddling) = weighed_steps(m, a, runs);
    let recommendation = Recommendation {
        model: match (w.work_answer, w.threads_decision.answer) {
            (Answer::No, _) => Some(Model::AsyncOrThreads),
            (Answer::Yes, Answer::Yes) => Some(Model::Threads),
            (Answer::Yes, _) => Some(Model::Processes),
            (Answer::Unknown, _) => None,
        },
        data_passing: large_payload::data_passing(w.payload_answer),
        sink: w.sinks_decision.sink,
        scheduling: match (w.variance_decision.answer, w.goal_answer) {
            (Answer::Unknown, _) => None,
            // For latency every result should wait behind as little work as possible: small
            // tasks handed out one at a time, whatever their spread.
            (_, Answer::Yes) | (Answer::Yes, _) => Some(Scheduling::DynamicSmallTasks),
            (Answer::No, _) => Some(Scheduling::Chunked),
        },
        workers: w.curve_decision.recommended,
        start_method: w.pools_decision.choice,
    };
    let (confidence, confidence_reasons) = confidence::judge(
        m,
        a,
        &confidence::FromSteps {
            cpu_bound: w.work_answer,
            threads_decision: &w.threads_decision,
            worker_count: &w.curve_decision,
            straddling: &straddling,
        },
    );
    let mut findings = findings::findings(m, a);
    findings.extend(free_threaded::finding(m));
    findings.extend(advice::for_goal(
        a,
        &advice::FromSteps {
            latency: &w.goal,
            payload: w.payload.as_ref(),
            task_variance: w.variance_decision.answer,
        },
        &recommendation,
    ));
    let what_if = what_if::what_ifs(m, a, &recommendation);
    let past = past_host::read(m, a, &what_if);
    findings.extend(past.findings);
    findings.extend(engine::findings(m, a, &recommendation));
    Diagnosis {
        what_if,
        cluster: past.cluster,
        steps,
        recommendation,
        confidence,
        confidence_reasons,
        findings,
    }
}

/// The walk, its steps weighed over the runs, and the steps left unknown because their figure
/// straddles its bar (held still in the walk too, so the recommendation leaves them out).
fn weighed_steps(
    m: &Measurements,
    a: &Analysis,
    runs: &[(Measurements, Analysis)],
) -> (Walk, Vec<Step>, Vec<StepId>) {
    let mut w = walk(m, a);
    let per_run: Vec<_> = runs.iter().map(|(m, a)| walk(m, a).deciding()).collect();
    let weighed = deciding::weigh_all(&w.deciding(), &per_run);
    let straddling: Vec<StepId> = weighed
        .iter()
        .filter(|(_, x)| x.kind != Some(IntervalKind::Own) && x.straddles())
        .map(|(id, _)| *id)
        .collect();
    // The words are the pooled figures' own; the answer and the leaf are then held still.
    let mut steps = vec![
        cpu_bound::step(&w.work, w.work_answer),
        threads_scale::step(&w.threads, &w.threads_decision),
        large_payload::step(w.payload.as_ref(), w.payload_answer),
        shared_sink::step(&w.sinks, &w.sinks_decision),
        latency_goal::step(&w.goal, w.goal_answer),
        task_variance::step(&w.variance, &w.variance_decision),
        start_method::step(w.pools.as_ref(), &w.pools_decision),
        worker_count::step(w.curve.as_ref(), &w.curve_decision),
    ];
    for step in &mut steps {
        let Some((_, x)) = weighed.iter().find(|(id, _)| *id == step.id) else {
            continue;
        };
        step.deciding = Some(*x);
        for (key, value) in x.keys() {
            step.measured.entry(key).or_insert(value);
        }
        if let Some(said) = x.sentence() {
            step.evidence.push_str(&said);
        }
        if straddling.contains(&step.id) {
            step.answer = Answer::Unknown;
        }
    }
    w.hold_still(&straddling);
    (w, steps, straddling)
}

#[cfg(test)]
mod tests;
