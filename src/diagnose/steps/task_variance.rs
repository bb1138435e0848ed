//! Are task sizes uneven? From the tasks' own durations where they were timed (python probe,
//! or a process-per-task tool's processes); from outside, the straggler tail at the largest
//! count within the cores.

use crate::analyze::ipc::TaskStats;
use crate::analyze::select::{largest_parallel, primary_points};
use crate::analyze::{parallel_cores, Analysis, Layout};
use crate::diagnose::deciding::Deciding;
use crate::diagnose::step::{plural, round, Measured, Step, Words};
use crate::diagnose::step::{Answer, StepId};
use crate::diagnose::thresholds::{
    MIN_TASKS_FOR_CV, STRAGGLER_IDLE_CORES, STRAGGLER_TAIL_SHARE, TASK_DURATION_CV,
};
use crate::measure::Measurements;

const QUESTION: &str = "Is task-size variance high?";

/// The spread of the task durations at one count.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    pub workers: u32,
    pub cv: f64,
    pub tasks: u64,
}

/// The straggler tail at the largest parallel count within the cores.
#[derive(Debug, Clone, Copy)]
pub struct Tail {
    pub workers: u32,
    /// Share of the pool's active span ending with fewer workers busy than at its widest.
    pub share: f64,
    pub worker_cpu_cv: Option<f64>,
    /// Cores the workers used fewer over the tail than before it.
    pub idle_cores: Option<f64>,
    /// How much of the tail was more work (the last worker busy on its own account beyond
    /// the first one to finish).
    pub work_share: Option<f64>,
    /// The workers were task processes in slots (a process-per-task tool).
    pub task_slots: bool,
    /// For task processes: slot-time with no task while another task still ran, the last
    /// round included (`timeline::Stragglers::idle_slot_share`).
    pub idle_slot_share: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Figures {
    /// Task-duration spreads, in the order they are preferred: the python probe's per count
    /// ascending (task sizes are a property of the tasks: read them where workers contend
    /// least), then a process-per-task tool's processes.
    pub spreads: Vec<Spread>,
    pub tail: Option<Tail>,
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
    let tail = largest_parallel(&pts, parallel_cores(&m.host), |s| {
        s.straggler_tail.is_some()
    })
    .map(|(n, s)| Tail {
        workers: n,
        share: s.straggler_tail.unwrap_or(0.0),
        worker_cpu_cv: s.worker_cpu_cv,
        idle_cores: s.straggler_idle_cores,
        work_share: s.straggler_work_share,
        task_slots: s.worker_layout == Some(Layout::Tasks),
        idle_slot_share: s.idle_slot_share,
    });
    Figures {
        spreads: probed.chain(processes).collect(),
        tail,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub answer: Answer,
    /// The spread read: the first from enough tasks for a spread to mean something.
    pub spread: Option<Spread>,
    /// A tail that idled no capacity: the workers shared something (one GIL) before it.
    pub tail_idles_nothing: bool,
    /// A tail that is no more work: the last worker was only queued for a CPU longer than the
    /// first one done before the tail. No sign of uneven tasks either.
    pub tail_is_lag: bool,
    pub long_tail: bool,
    /// Too few task processes for a spread, and their slots idle behind the ones still
    /// running (one holding most of the work) at least the tail's bar.
    pub few_uneven_tasks: bool,
}

pub fn decide(f: &Figures) -> Decision {
    let spread = f
        .spreads
        .iter()
        .copied()
        .find(|s| s.tasks as f64 >= MIN_TASKS_FOR_CV.value);
    let tail_idles_nothing = f.tail.is_some_and(|t| {
        t.share >= STRAGGLER_TAIL_SHARE.value
            && t.idle_cores.is_some_and(|c| c < STRAGGLER_IDLE_CORES.value)
    });
    // The tasks' own durations measure their spread directly; the straggler tail is the
    // outside-in proxy, which a busy host or the last round of even chunks also produces, so
    // it decides only where no tasks were timed. A process-per-task tool's tail is its slots
    // with no task alive while tasks were still to start (task lives, not CPU): a busy host
    // slows the tasks but leaves them in their slots, and the last round is left out, so idle
    // slots are the driver's own (a `wait` after each batch), which the tasks' CV does not see
    // and a dynamic hand-out removes.
    let idle_slots = f.tail.is_some_and(|t| t.task_slots);
    let tail_over_bar = f
        .tail
        .is_some_and(|t| t.share >= STRAGGLER_TAIL_SHARE.value);
    let tail_is_lag = !idle_slots
        && !tail_idles_nothing
        && tail_over_bar
        && f.tail
            .and_then(|t| t.work_share)
            .is_some_and(|w| w < STRAGGLER_TAIL_SHARE.value);
    let long_tail = tail_over_bar && !tail_idles_nothing && !tail_is_lag;
    // A handful of task processes gives no spread, and the tail above leaves the last round
    // out: with one task holding most of the work, the slots idle behind it are the tasks'
    // imbalance itself (fixtures/workloads/xargs_few.sh).
    let few_uneven_tasks = spread.is_none()
        && f.tail.is_some_and(|t| {
            t.task_slots
                && t.idle_slot_share
                    .is_some_and(|i| i >= STRAGGLER_TAIL_SHARE.value)
        });
    let answer = match (spread, f.tail) {
        (None, None) => Answer::Unknown,
        (Some(s), _) if s.cv >= TASK_DURATION_CV.value || (idle_slots && long_tail) => Answer::Yes,
        (None, Some(_)) if long_tail || few_uneven_tasks => Answer::Yes,
        _ => Answer::No,
    };
    Decision {
        answer,
        spread,
        tail_idles_nothing,
        tail_is_lag,
        long_tail,
        few_uneven_tasks,
    }
}

impl Figures {
    /// The figure that decided: the tasks' spread, else the tail (or what read the tail as no
    /// sign of uneven tasks).
    pub fn deciding(&self, d: &Decision) -> Option<Deciding> {
        let tail_bar = STRAGGLER_TAIL_SHARE.value;
        let by_slots = self.tail.is_some_and(|t| t.task_slots) && d.long_tail;
        if let Some(s) = d
            .spread
            .filter(|s| s.cv >= TASK_DURATION_CV.value || !by_slots)
        {
            return Some(Deciding::above(
                "task_duration_cv",
                s.cv,
                TASK_DURATION_CV.value,
            ));
        }
        let t = self.tail?;
        match (t.idle_cores, t.work_share) {
            (Some(c), _) if d.tail_idles_nothing => Some(Deciding::above(
                "straggler_idle_cores",
                c,
                STRAGGLER_IDLE_CORES.value,
            )),
            (_, Some(w)) if d.tail_is_lag => {
                Some(Deciding::above("straggler_work_share", w, tail_bar))
            }
            _ => Some(Deciding::above("straggler_tail", t.share, tail_bar)),
        }
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
    if let Some(t) = f.tail {
        out.put("workers", t.workers);
        out.put("straggler_tail", round(t.share, 3));
        out.put("worker_cpu_cv", t.worker_cpu_cv.map(|c| round(c, 3)));
        out.put_some("straggler_idle_cores", t.idle_cores.map(|c| round(c, 2)));
        out.put_some(
            "straggler_work_share",
            t.work_share.filter(|_| d.tail_is_lag).map(|w| round(w, 3)),
        );
        if d.spread.is_none() {
            out.put_some("idle_slot_share", t.idle_slot_share.map(|i| round(i, 3)));
        }
    }
    out
}

fn evidence(f: &Figures, d: &Decision) -> String {
    if d.answer == Answer::Unknown {
        return "Neither task durations (python probe) nor a timeline with two or more workers \
                were measured."
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
    if let Some(t) = f.tail {
        said.push(format!(
            "at {} workers the last {:.0} % of the pool's active time ran with fewer workers \
             busy than at its widest{}",
            t.workers,
            t.share * 100.0,
            t.idle_cores
                .filter(|_| t.share > 0.0)
                .map(|c| format!(", leaving {c:.2} cores idle that the workers had used before it"))
                .unwrap_or_default()
        ));
    }
    if d.tail_idles_nothing {
        said.push(format!(
            "that tail left less than {STRAGGLER_IDLE_CORES} cores idle: the workers were taking \
             turns on something shared (the GIL, a lock) before it, so it is no sign of uneven \
             tasks"
        ));
    }
    if let Some(w) = f.tail.and_then(|t| t.work_share).filter(|_| d.tail_is_lag) {
        said.push(format!(
            "the last worker was busy on its own account (running, or waiting on anything but a \
             CPU) only {:.0} % longer than the first one to finish (below the same {:.0} % bar): \
             it waited longer for a CPU before the tail and had no more work, so it is no sign \
             of uneven tasks",
            w * 100.0,
            STRAGGLER_TAIL_SHARE.value * 100.0
        ));
    }
    let idle_slots = f.tail.is_some_and(|t| t.task_slots);
    if idle_slots && d.long_tail {
        said.push(
            "those were task slots left idle with tasks still to start (task lives, not a busy \
             host), which a dynamic hand-out of small tasks keeps filled"
                .into(),
        );
    }
    if let Some(i) = f
        .tail
        .and_then(|t| t.idle_slot_share)
        .filter(|_| d.few_uneven_tasks)
    {
        said.push(format!(
            "too few task processes for a spread, and their slots sat idle {:.0} % of their \
             time while a task still ran (the last round included): one task held most of the \
             work, which smaller tasks handed out dynamically would spread",
            i * 100.0
        ));
    }
    if d.spread.is_some() && d.long_tail && d.answer == Answer::No {
        said.push(
            "the tail comes from elsewhere (the last round of chunks, or a busy host), as the \
             tasks themselves are even"
                .into(),
        );
    }
    let mut evidence = said.join("; ");
    evidence[..1].make_ascii_uppercase();
    format!("{evidence}.")
}

pub fn step(f: &Figures, d: &Decision) -> Step {
    let words = Words {
        threshold: format!(
            "task duration CV >= {TASK_DURATION_CV} (python probe) -> yes; where no tasks were \
             timed, straggler tail >= {STRAGGLER_TAIL_SHARE} -> yes; for task processes in \
             slots, idle slots >= {STRAGGLER_TAIL_SHARE} -> yes as well (the last round \
             included when they are too few for a CV)"
        ),
        evidence: evidence(f, d),
        source: "python probe: task durations (CV); procfs sampler: lives of task processes \
                 (process-per-task tools), workers busy per tick (straggler tail), CPU spread \
                 across workers"
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
