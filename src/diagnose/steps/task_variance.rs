//! Are task sizes uneven? From the tasks' own durations where they were timed (python probe,
//! or a process-per-task tool's processes), which measure the spread directly; and from the
//! accounting's `imbalance` at the largest count within the cores: the share of the worker
//! slots' time with no task while other workers still worked, which is what uneven work costs
//! a static split.
//!
//! The accounting's imbalance is what the outside-in straggler tail approximated, without two
//! of the tail's special cases: a thread waiting for the GIL with a task in hand is `gil`
//! (analyze/accounting/run.rs ends a pool thread's span before its idle tail), so threads
//! taking turns never show as imbalance (threadpool.py: a tail of 31 % of the span, 2 % of the
//! slots' time in imbalance); and a worker's own wait for a CPU is `run_queue`. The third
//! case, a worker that finished early beside one the host gave fewer cycles, is imbalance in
//! the accounting too, and is no longer set apart: where no task was timed, 15 % of the slots
//! idle is capacity the static split wasted whatever slowed the last worker, and a dynamic
//! hand-out of small tasks gives it back (the slowed worker takes fewer of them); where tasks
//! were timed, their spread decides anyway.
//!
//! A pool's imbalance can still come from elsewhere than the tasks' sizes: a worker that holds
//! the last task while it sleeps in a sink's back-off leaves the others idle (sqlite_pool.py
//! `--hold compute`: 19 % of the slots' time once a wait on an empty task pipe counts as
//! imbalance, beside tasks of CV 0.25), and so does a worker the host gives fewer cycles, or the last round of
//! even chunks. So where the tasks were timed, their spread decides for a pool, and the
//! imbalance only where none was. A process-per-task tool is the exception: its imbalance is
//! its slots with no task process alive while others ran (a task waiting on a sink or for a
//! CPU is alive and fills its slot), which is the driver's hand-out (a `wait` after each
//! batch, fixtures/workloads/batch_wait.sh) or too few tasks to share (xargs_few.sh): the
//! tasks' lives do not see it, and a dynamic hand-out of small tasks removes it, so there it
//! answers yes beside the spread.

use crate::analyze::ipc::TaskStats;
use crate::analyze::select::{largest_parallel, primary_points};
use crate::analyze::{parallel_cores, Analysis, Layout};
use crate::diagnose::deciding::Deciding;
use crate::diagnose::step::{plural, round, Measured, Step, Words};
use crate::diagnose::step::{Answer, StepId};
use crate::diagnose::thresholds::{IMBALANCE_SHARE, MIN_TASKS_FOR_CV, TASK_DURATION_CV};
use crate::measure::Measurements;

const QUESTION: &str = "Is task-size variance high?";

/// The spread of the task durations at one count.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    pub workers: u32,
    pub cv: f64,
    pub tasks: u64,
}

/// The accounting's imbalance at the largest parallel count within the cores.
#[derive(Debug, Clone, Copy)]
pub struct Imbalance {
    pub workers: u32,
    /// Cores lost to workers with no task while others still worked.
    pub lost_cores: f64,
    /// `lost_cores` over the worker slots: their share of the slots' time.
    pub share: f64,
    /// The workers were task processes in slots (a process-per-task tool).
    pub task_slots: bool,
}

#[derive(Debug, Clone)]
pub struct Figures {
    /// Task-duration spreads, in the order they are preferred: the python probe's per count
    /// ascending (task sizes are a property of the tasks: read them where workers contend
    /// least), then a process-per-task tool's processes.
    pub spreads: Vec<Spread>,
    pub imbalance: Option<Imbalance>,
}

pub fn figures(m: &Measurements, a: &Analysis) -> Figures {
    let pts = primary_points(m, a);
    let spread = |n: u32, t: &TaskStats| {
        Some(Spread {
            workers: n,
            cv: t.cv?,
            tasks: t.count,
        })
    };
    let probed = pts
        .iter()
        .filter_map(|(n, s)| spread(*n, s.probes.as_ref()?.task_durations.as_ref()?));
    let processes = pts
        .iter()
        .filter_map(|(n, s)| spread(*n, s.process_tasks.as_ref()?));
    let imbalance = largest_parallel(&pts, parallel_cores(&m.host), |s| s.accounting.is_some())
        .and_then(|(n, s)| {
            let acc = s.accounting.as_ref()?;
            let lost = acc
                .lost_cores
                .get("imbalance")
                .map_or(0.0, |f| f.value.max(0.0));
            Some(Imbalance {
                workers: n,
                lost_cores: lost,
                share: lost / f64::from(acc.workers.max(1)),
                task_slots: s.worker_layout == Some(Layout::Tasks),
            })
        });
    Figures {
        spreads: probed.chain(processes).collect(),
        imbalance,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub answer: Answer,
    /// The spread read: the first from enough tasks for a spread to mean something.
    pub spread: Option<Spread>,
    /// The imbalance answered: no spread was read, or task slots' spread said no.
    pub by_imbalance: bool,
}

pub fn decide(f: &Figures) -> Decision {
    let spread = f
        .spreads
        .iter()
        .copied()
        .find(|s| s.tasks as f64 >= MIN_TASKS_FOR_CV.value);
    let uneven = |s: &Spread| s.cv >= TASK_DURATION_CV.value;
    let over_bar = |i: &Imbalance| i.share >= IMBALANCE_SHARE.value;
    let (answer, by_imbalance) = match (spread, f.imbalance) {
        (None, None) => (Answer::Unknown, false),
        (Some(s), _) if uneven(&s) => (Answer::Yes, false),
        // Task slots: their idle slots are the driver's hand-out, which the lives do not see.
        (Some(_), Some(i)) if i.task_slots => (yes_if(over_bar(&i)), true),
        (Some(_), _) => (Answer::No, false),
        (None, Some(i)) => (yes_if(over_bar(&i)), true),
    };
    Decision {
        answer,
        spread,
        by_imbalance,
    }
}

fn yes_if(b: bool) -> Answer {
    if b {
        Answer::Yes
    } else {
        Answer::No
    }
}

impl Figures {
    /// The figure that decided: the tasks' spread, else the accounting's imbalance share.
    pub fn deciding(&self, d: &Decision) -> Option<Deciding> {
        if d.by_imbalance {
            let i = self.imbalance?;
            return Some(Deciding::above(
                "imbalance_share",
                i.share,
                IMBALANCE_SHARE.value,
            ));
        }
        let s = d.spread?;
        Some(Deciding::above(
            "task_duration_cv",
            s.cv,
            TASK_DURATION_CV.value,
        ))
    }
}

fn measured(f: &Figures, d: &Decision) -> Measured {
    let mut out = Measured::default();
    if d.answer == Answer::Unknown {
        return out;
    }
    if let Some(s) = d.spread {
        out.put("task_duration_cv", round(s.cv, 3));
        out.put("tasks", s.tasks);
    }
    if let Some(i) = f.imbalance {
        out.put("workers", i.workers);
        out.put("imbalance_cores", round(i.lost_cores, 3));
        out.put("imbalance_share", round(i.share, 3));
    }
    out
}

fn evidence(f: &Figures, d: &Decision) -> String {
    if d.answer == Answer::Unknown {
        return "Neither task durations (python probe) nor an accounting of the workers' time \
                at two or more workers were measured."
            .into();
    }
    let mut said = Vec::new();
    if let Some(s) = d.spread {
        said.push(format!(
            "at {} worker{} {} tasks varied by CV {:.2}",
            s.workers,
            plural(s.workers),
            s.tasks,
            s.cv
        ));
    }
    if let Some(i) = f.imbalance {
        said.push(format!(
            "at {} worker{} the accounting gave {:.2} of the {} cores to imbalance ({}), {:.0} \
             % of the slots' time",
            i.workers,
            plural(i.workers),
            i.lost_cores,
            i.workers,
            if i.task_slots {
                "slots with no task process alive while others ran"
            } else {
                "workers with no task while others still worked"
            },
            i.share * 100.0
        ));
    }
    let over = f.imbalance.filter(|i| i.share >= IMBALANCE_SHARE.value);
    match (over, d.spread) {
        (Some(i), Some(_)) if i.task_slots && d.by_imbalance => said.push(
            "those idle slots are the driver's hand-out, which the tasks' own lives do not see \
             and a dynamic hand-out of small tasks keeps filled"
                .into(),
        ),
        (Some(i), None) if i.task_slots => said.push(
            "too few task processes for a spread: the slots idle behind the ones still \
             running, which smaller tasks handed out dynamically would spread"
                .into(),
        ),
        (Some(_), Some(_)) if d.answer == Answer::No => said.push(
            "the imbalance comes from elsewhere than the tasks' sizes (a worker holding the \
             last task while it waits on a sink or for a CPU, or the last round of chunks), as \
             the tasks themselves are even"
                .into(),
        ),
        _ => {}
    }
    let mut evidence = said.join("; ");
    evidence[..1].make_ascii_uppercase();
    format!("{evidence}.")
}

pub fn step(f: &Figures, d: &Decision) -> Step {
    let words = Words {
        threshold: format!(
            "task duration CV >= {TASK_DURATION_CV} (python probe, or task processes' lives, \
             from {MIN_TASKS_FOR_CV} tasks) -> yes; where no tasks were timed, and for task \
             processes in slots beside their CV, the accounting's imbalance (lost cores over n \
             at the largest count within the cores) >= {IMBALANCE_SHARE} -> yes"
        ),
        evidence: evidence(f, d),
        source: "python probe: task durations (CV); procfs sampler: lives of task processes \
                 (process-per-task tools); accounting of the worker slots' time (imbalance)"
            .into(),
    };
    Step::new(
        StepId::TaskVariance,
        QUESTION,
        d.answer,
        measured(f, d),
        words,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(cv: f64, tasks: u64) -> Spread {
        Spread {
            workers: 1,
            cv,
            tasks,
        }
    }

    fn imbalance(share: f64, task_slots: bool) -> Imbalance {
        Imbalance {
            workers: 2,
            lost_cores: 2.0 * share,
            share,
            task_slots,
        }
    }

    /// The answer and the name and value of the figure that decided it.
    fn judged(
        spreads: Vec<Spread>,
        imb: Option<Imbalance>,
    ) -> (Answer, Option<(&'static str, f64)>) {
        let f = Figures {
            spreads,
            imbalance: imb,
        };
        let d = decide(&f);
        (d.answer, f.deciding(&d).map(|x| (x.name, x.value)))
    }

    #[test]
    fn timed_tasks_decide_for_a_pool_and_its_imbalance_where_none_were_timed() {
        let cv = "task_duration_cv";
        let imb = "imbalance_share";
        // Skewed tasks (lab 05): yes on the CV, whatever the imbalance.
        assert_eq!(
            judged(vec![spread(4.8, 399)], Some(imbalance(0.0, false))),
            (Answer::Yes, Some((cv, 4.8)))
        );
        // Even timed tasks beside a pool's imbalance (sqlite_pool.py --hold compute): the
        // imbalance came from the sink's back-off, not the tasks.
        assert_eq!(
            judged(vec![spread(0.25, 399)], Some(imbalance(0.19, false))),
            (Answer::No, Some((cv, 0.25)))
        );
        // No task timed: the imbalance decides, both ways.
        assert_eq!(
            judged(vec![], Some(imbalance(0.32, false))),
            (Answer::Yes, Some((imb, 0.32)))
        );
        assert_eq!(
            judged(vec![], Some(imbalance(0.02, false))),
            (Answer::No, Some((imb, 0.02)))
        );
        // Too few tasks for a spread is none timed.
        assert_eq!(
            judged(vec![spread(1.9, 5)], Some(imbalance(0.47, true))),
            (Answer::Yes, Some((imb, 0.47)))
        );
        assert_eq!(judged(vec![], None), (Answer::Unknown, None));
    }

    #[test]
    fn task_slots_answer_on_their_idle_slots_beside_an_even_spread() {
        // batch_wait.sh: lives of CV 0.6, slots idle 37 % at the driver's waits.
        assert_eq!(
            judged(vec![spread(0.61, 12)], Some(imbalance(0.37, true))),
            (Answer::Yes, Some(("imbalance_share", 0.37)))
        );
        // sqlite_xargs.sh: even lives, slots filled.
        assert_eq!(
            judged(vec![spread(0.01, 12)], Some(imbalance(0.05, true))),
            (Answer::No, Some(("imbalance_share", 0.05)))
        );
        // make_uneven.mk: the CV answers first.
        assert_eq!(
            judged(vec![spread(1.5, 12)], Some(imbalance(0.3, true))),
            (Answer::Yes, Some(("task_duration_cv", 1.5)))
        );
    }
}
