//! What `--goal` changes in the advice, tied to the measured steps: for latency smaller tasks,
//! bounded queues and minimal payloads; for throughput batching, chunking and shared memory for
//! arrays. Each line names the step whose figures it rests on.

use super::step::Answer;
use super::steps::{large_payload, latency_goal};
use super::verdict::{DataPassing, Recommendation, SinkAdvice};
use crate::analyze::Analysis;

/// The chunksize the primary series' map calls used, when the python probe saw one.
fn chunksize(a: &Analysis) -> Option<u64> {
    let series = &a.series[a.primary?];
    series
        .points
        .iter()
        .find_map(|&i| a.points[i].probes.as_ref()?.chunksize)
}

/// What the steps measured and decided that the advice rests on.
pub struct FromSteps<'a> {
    pub latency: &'a latency_goal::Figures,
    pub payload: Option<&'a large_payload::Figures>,
    pub task_variance: Answer,
}

/// The advice for the user's goal, most direct first.
pub fn for_goal(a: &Analysis, steps: &FromSteps, rec: &Recommendation) -> Vec<String> {
    let tasks_ms = steps
        .latency
        .tasks
        .map(|(_, p50, p99)| (p50 * 1e3, p99 * 1e3));
    let (p50_ms, p99_ms) = (tasks_ms.map(|t| t.0), tasks_ms.map(|t| t.1));
    // The bytes per task as report.json gives them (whole bytes).
    let per_task_kib = steps
        .payload
        .and_then(|p| p.ipc_bytes_per_task)
        .map(|b| b.round() / 1024.0);
    let chunk = chunksize(a);
    let mut out = Vec::new();
    if steps.latency.latency {
        let tasks = match (p50_ms, p99_ms) {
            (Some(p50), Some(p99)) => format!(
                "tasks took {p50:.1} ms at the median and {p99:.1} ms at p99 (latency_goal)"
            ),
            _ => "task durations were not measured".into(),
        };
        let chunk_text = chunk
            .filter(|&c| c > 1)
            .map(|c| format!("; the map calls used chunksize {c}, so a result waited behind up to {} other tasks", c - 1))
            .unwrap_or_default();
        out.push(format!(
            "For latency (--goal latency): small tasks, handed out one at a time (chunksize 1, \
             imap_unordered or submit): {tasks}{chunk_text}."
        ));
        let writer = if rec.sink == Some(SinkAdvice::SingleWriter) {
            ", and so is the queue to the single writer (shared_sink)"
        } else {
            ""
        };
        out.push(format!(
            "For latency: keep the queue of submitted work bounded (about two tasks per worker) so \
             a burst waits before the pool, not inside it{writer}."
        ));
        if let Some(kib) = per_task_kib {
            out.push(format!(
                "For latency: minimal payloads: each task moved {kib:.0} KiB between processes \
                 (large_payload); send only what the task needs (ids, paths, offsets)."
            ));
        }
        return out;
    }
    if let (Some(p50), Some(c)) = (p50_ms, chunk) {
        out.push(format!(
            "For throughput (--goal throughput): chunking: tasks took {p50:.1} ms at the median \
             (latency_goal) and the map calls used chunksize {c}{}.",
            if steps.task_variance == Answer::Yes {
                "; their sizes vary (task_variance), so keep the chunks small enough to balance"
            } else {
                "; even tasks can go in chunks of about items / (4 x workers)"
            }
        ));
    }
    if matches!(
        rec.sink,
        Some(SinkAdvice::SingleWriter | SinkAdvice::Direct)
    ) {
        out.push(
            "For throughput: batch the writes to the sink (many rows per statement or commit), \
             so each round trip carries many tasks' results (shared_sink)."
                .into(),
        );
    }
    if rec.data_passing == Some(DataPassing::ReferencesOrSharedMemory) {
        let kib = per_task_kib
            .map(|k| format!(": each task moved {k:.0} KiB between processes"))
            .unwrap_or_default();
        out.push(format!(
            "For throughput: keep arrays in multiprocessing.shared_memory (or files) and pass \
             their names and offsets{kib} (large_payload)."
        ));
    }
    out
}
