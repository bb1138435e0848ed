//! Steps about how the work meets the world: a shared sink, and uneven tasks.

use super::{primary_points, round, step};
use crate::analyze::{Analysis, Layout};
use crate::diagnose::thresholds::{
    MIN_TASKS_FOR_CV, SINK_RISE_FACTOR, SINK_WAIT_SHARE, STRAGGLER_IDLE_CORES,
    STRAGGLER_TAIL_SHARE, TASK_DURATION_CV,
};
use crate::diagnose::StepId;
use crate::diagnose::{Answer, SinkAdvice, Step};
use crate::measure::Measurements;
use serde_json::json;
use std::collections::BTreeMap;

/// Are task sizes uneven? From outside: the straggler tail at the largest count within cores.
pub fn task_variance(m: &Measurements, a: &Analysis) -> Step {
    let mut st = step(
        StepId::TaskVariance,
        "Is task-size variance high?",
        Answer::Unknown,
        BTreeMap::new(),
    );
    st.threshold = format!(
        "task duration CV >= {TASK_DURATION_CV} (python probe) -> yes; where no tasks were timed, \
         straggler tail >= {STRAGGLER_TAIL_SHARE} -> yes; for task processes in slots, idle \
         slots >= {STRAGGLER_TAIL_SHARE} -> yes as well"
    );
    st.source = "python probe: task durations (CV); procfs sampler: lives of task processes \
                 (process-per-task tools), workers busy per tick (straggler tail), CPU spread \
                 across workers"
        .into();
    let cores = crate::analyze::parallel_cores(&m.host);
    let pts = primary_points(m, a);
    // Task sizes are a property of the tasks: read them where workers contend least (the
    // smallest count), from enough tasks for a spread to mean something.
    // Without the python probe, a process-per-task tool's tasks are its processes.
    let enough = |n: u32, t: &crate::analyze::ipc::TaskStats| {
        (t.count as f64 >= MIN_TASKS_FOR_CV.value).then_some((n, t.cv?, t.count))
    };
    let cv = pts
        .iter()
        .find_map(|(n, s)| enough(*n, s.probes.as_ref()?.task_durations.as_ref()?))
        .or_else(|| {
            pts.iter()
                .find_map(|(n, s)| enough(*n, s.process_tasks.as_ref()?))
        });
    let tail = pts
        .iter()
        .filter(|(n, s)| *n >= 2 && *n <= cores.max(2) && s.straggler_tail.is_some())
        .max_by_key(|(n, _)| *n)
        .map(|&(n, s)| {
            (
                n,
                s.straggler_tail.unwrap_or(0.0),
                s.worker_cpu_cv,
                s.straggler_idle_cores,
            )
        });
    // A process-per-task tool's tail is its slots with no task alive while tasks were still to
    // start (task lives, not CPU): a busy host slows the tasks but leaves them in their slots,
    // and the last round is left out, so idle slots are the driver's own (a `wait` after each
    // batch), which the tasks' CV does not see and a dynamic hand-out removes.
    let idle_slots = tail.is_some_and(|(n, _, _, _)| {
        pts.iter()
            .any(|(pn, s)| *pn == n && s.worker_layout == Some(Layout::Tasks))
    });
    if cv.is_none() && tail.is_none() {
        st.evidence = "Neither task durations (python probe) nor a timeline with two or more \
                       workers were measured."
            .into();
        return st;
    }
    let mut said = Vec::new();
    if let Some((n, cv, count)) = cv {
        st.measured
            .insert("task_duration_cv".into(), json!(round(cv, 3)));
        st.measured.insert("tasks".into(), json!(count));
        said.push(format!(
            "at {n} worker{} {count} tasks varied by CV {cv:.2}",
            if n == 1 { "" } else { "s" }
        ));
    }
    if let Some((n, t, cpu_cv, idle)) = tail {
        st.measured.insert("workers".into(), json!(n));
        st.measured
            .insert("straggler_tail".into(), json!(round(t, 3)));
        st.measured
            .insert("worker_cpu_cv".into(), json!(cpu_cv.map(|c| round(c, 3))));
        if let Some(c) = idle {
            st.measured
                .insert("straggler_idle_cores".into(), json!(round(c, 2)));
        }
        said.push(format!(
            "at {n} workers the last {:.0} % of the pool's active time ran with fewer workers busy than at its widest{}",
            t * 100.0,
            idle.filter(|_| t > 0.0)
                .map(|c| format!(", leaving {c:.2} cores idle that the workers had used before it"))
                .unwrap_or_default()
        ));
    }
    // A tail that idled no capacity: the workers shared something (one GIL) before it.
    let tail_idles_nothing = tail.is_some_and(|(_, t, _, idle)| {
        t >= STRAGGLER_TAIL_SHARE.value && idle.is_some_and(|c| c < STRAGGLER_IDLE_CORES.value)
    });
    // The tasks' own durations measure their spread directly; the straggler tail is the
    // outside-in proxy, which a busy host or the last round of even chunks also produces, so it
    // decides only where the probe timed no tasks.
    let long_tail =
        tail.is_some_and(|(_, t, _, _)| t >= STRAGGLER_TAIL_SHARE.value) && !tail_idles_nothing;
    let high = match cv {
        Some((_, c, _)) => c >= TASK_DURATION_CV.value || (idle_slots && long_tail),
        None => long_tail,
    };
    if tail_idles_nothing {
        said.push(format!(
            "that tail left less than {STRAGGLER_IDLE_CORES} cores idle: the workers were taking \
             turns on something shared (the GIL, a lock) before it, so it is no sign of uneven tasks"
        ));
    }
    if idle_slots && long_tail {
        said.push(
            "those were task slots left idle with tasks still to start (task lives, not a \
                   busy host), which a dynamic hand-out of small tasks keeps filled"
                .into(),
        );
    }
    if cv.is_some() && long_tail && !high {
        said.push("the tail comes from elsewhere (the last round of chunks, or a busy host), as the tasks themselves are even".into());
    }
    st.answer = if high { Answer::Yes } else { Answer::No };
    let mut evidence = said.join("; ");
    evidence[..1].make_ascii_uppercase();
    st.evidence = format!("{evidence}.");
    st
}

