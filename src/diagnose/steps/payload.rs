//! Steps about data and goals: big objects between processes, and latency vs throughput.

use super::{primary_points, round, step};
use crate::analyze::Analysis;
use crate::diagnose::thresholds::{LARGE_PAYLOAD_BYTES_PER_TASK, LARGE_PAYLOAD_IPC_TAX};
use crate::diagnose::{Answer, DataPassing, Step};
use crate::measure::Measurements;
use serde_json::json;
use std::collections::BTreeMap;

/// Are big objects sent between processes? From the probes at the largest measured count.
pub fn large_payload(m: &Measurements, a: &Analysis) -> (Step, Option<DataPassing>) {
    let mut st = step(
        "large_payload",
        "Are big objects sent between processes?",
        Answer::Unknown,
        BTreeMap::new(),
    );
    st.threshold = format!(
        ">= {} MiB per task, or pickling >= {:.0} % of CPU -> yes",
        LARGE_PAYLOAD_BYTES_PER_TASK / 1048576.0,
        LARGE_PAYLOAD_IPC_TAX * 100.0
    );
    st.source = "preload probe (bytes through pipes and socket pairs) and python probe (tasks, pickling time)".into();
    let measured = primary_points(m, a).into_iter().rev().find_map(|(n, s)| {
        s.probes
            .as_ref()
            .filter(|p| p.ipc_bytes.is_some() || p.ipc_tax.is_some())
            .map(|p| (n, p))
    });
    let Some((n, p)) = measured else {
        st.evidence = "No probe measured the bytes between processes (probes off, or a target they cannot reach).".into();
        return (st, None);
    };
    let per_task = p.ipc_bytes_per_task;
    let tax = p.ipc_tax;
    st.measured.insert("workers".into(), json!(n));
    st.measured.insert("ipc_bytes".into(), json!(p.ipc_bytes));
    st.measured.insert(
        "ipc_bytes_per_task".into(),
        json!(per_task.map(|b| b.round())),
    );
    st.measured
        .insert("ipc_tax".into(), json!(tax.map(|t| round(t, 4))));
    let big = per_task.is_some_and(|b| b >= LARGE_PAYLOAD_BYTES_PER_TASK);
    let taxed = tax.is_some_and(|t| t >= LARGE_PAYLOAD_IPC_TAX);
    // Without a task count, a run whose pipes and socket pairs carried less than the bar in
    // all cannot have carried it per task (a native thread pool shares its data; make and
    // xargs pass names): that is a measured no.
    let small_in_all = per_task.is_none()
        && p.ipc_bytes
            .is_some_and(|b| b < LARGE_PAYLOAD_BYTES_PER_TASK);
    st.answer = match (
        big || taxed,
        per_task.is_some() || tax.is_some() || small_in_all,
    ) {
        (true, _) => Answer::Yes,
        (false, true) => Answer::No,
        (false, false) => Answer::Unknown,
    };
    let per_task_text = match (per_task, p.ipc_bytes) {
        (Some(b), _) => format!("{:.0} KiB per task", b / 1024.0),
        (None, Some(total)) if small_in_all => format!(
            "{:.0} KiB in all (task count unknown; under the bar even as one task)",
            total / 1024.0
        ),
        (None, Some(total)) => format!("{:.0} KiB in all (task count unknown)", total / 1024.0),
        (None, None) => "an unmeasured number of bytes (the preload probe did not run)".into(),
    };
    // Pickling is only stated where the python probe saw the tree's interpreters; `+ 0.0`
    // keeps a rounded zero from printing as "-0.0".
    st.evidence = format!(
        "At {n} workers the processes exchanged {per_task_text}{}.",
        tax.map(|t| format!(
            ", and pickling took {:.1} % of the tree's CPU",
            (t * 100.0).max(0.0) + 0.0
        ))
        .unwrap_or_else(|| {
            ", with no pickling measured (the python probe saw no interpreter)".into()
        })
    );
    let advice = match st.answer {
        Answer::Yes => Some(DataPassing::ReferencesOrSharedMemory),
        Answer::No => Some(DataPassing::Direct),
        Answer::Unknown => None,
    };
    (st, advice)
}

/// Latency or throughput? The user's `--goal`, with the task latencies when measured.
pub fn latency_goal(m: &Measurements, a: &Analysis) -> Step {
    let latency = m.goal == crate::measure::Goal::Latency;
    let mut st = step(
        "latency_goal",
        "Is the goal latency (rather than throughput)?",
        if latency { Answer::Yes } else { Answer::No },
        BTreeMap::new(),
    );
    st.threshold = "the user's --goal".into();
    st.source = "--goal; task durations from the python probe".into();
    st.measured.insert("goal".into(), json!(m.goal));
    let tasks = primary_points(m, a).into_iter().rev().find_map(|(n, s)| {
        s.probes
            .as_ref()
            .and_then(|p| p.task_durations.clone())
            .map(|t| (n, t))
    });
    st.evidence = match tasks {
        Some((n, t)) => {
            st.measured.insert("task_p50_s".into(), json!(t.p50_s));
            st.measured.insert("task_p99_s".into(), json!(t.p99_s));
            format!(
                "Goal {} (--goal); at {n} workers tasks took {:.1} ms at the median and {:.1} ms at p99.",
                m.goal,
                t.p50_s * 1e3,
                t.p99_s * 1e3
            )
        }
        None => format!(
            "Goal {} (--goal); task latencies were not measured.",
            m.goal
        ),
    };
    st
}
