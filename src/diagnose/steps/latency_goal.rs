//! Latency or throughput? The user's `--goal`, with the task latencies where the python probe
//! timed tasks.

use crate::analyze::select::primary_points;
use crate::analyze::Analysis;
use crate::diagnose::read::goal_is_latency;
use crate::diagnose::step::{Answer, StepId};
use crate::diagnose::step::{Measured, Step, Words};
use crate::measure::Measurements;

const QUESTION: &str = "Is the goal latency (rather than throughput)?";

/// The goal and the task durations at the largest count that timed tasks.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The user's `--goal`, as given.
    pub goal: String,
    pub latency: bool,
    /// (workers, p50 s, p99 s).
    pub tasks: Option<(u32, f64, f64)>,
}

pub fn figures(m: &Measurements, a: &Analysis) -> Figures {
    let tasks = primary_points(m, a).into_iter().rev().find_map(|(n, s)| {
        let t = s.probes.as_ref()?.task_durations.as_ref()?;
        Some((n, t.p50_s, t.p99_s))
    });
    Figures {
        goal: m.goal.as_str().to_string(),
        latency: goal_is_latency(m),
        tasks,
    }
}

/// The user decides.
pub fn decide(f: &Figures) -> Answer {
    if f.latency {
        Answer::Yes
    } else {
        Answer::No
    }
}

fn measured(f: &Figures) -> Measured {
    let mut out = Measured::default();
    out.put("goal", &f.goal);
    if let Some((_, p50, p99)) = f.tasks {
        out.put("task_p50_s", p50);
        out.put("task_p99_s", p99);
    }
    out
}

pub fn step(f: &Figures, answer: Answer) -> Step {
    let evidence = match f.tasks {
        Some((n, p50, p99)) => format!(
            "Goal {} (--goal); at {n} workers tasks took {:.1} ms at the median and {:.1} ms at p99.",
            f.goal,
            p50 * 1e3,
            p99 * 1e3
        ),
        None => format!(
            "Goal {} (--goal); task latencies were not measured.",
            f.goal
        ),
    };
    let words = Words {
        threshold: "the user's --goal".into(),
        evidence,
        source: "--goal; task durations from the python probe".into(),
    };
    Step::new(StepId::LatencyGoal, QUESTION, answer, measured(f), words)
}
