//! The "bigger machine or a cluster" finding (`diagnosis.cluster`) for the exporters: a line
//! for the one-screen summary, and its figures with their sources for the Markdown and HTML
//! tables.

use crate::diagnose::cluster::{bytes_words, percent_words, seconds_words, Cluster};
use crate::measure::Source;

/// The "bigger machine or a cluster" finding in a line, only where it applies: the replayed
/// curve past the cores, the engine, and a task's bytes on a gigabit link against the task.
pub fn line(k: &Cluster) -> String {
    let curve: Vec<String> = k
        .curve
        .iter()
        .skip(1)
        .map(|p| format!("{} cores {:.2}×", p.cores, p.speedup))
        .collect();
    let net = &k.network;
    let wire = match (net.bytes_per_task, net.links.first()) {
        (Some(b), Some(l)) => format!(
            "{} per task = {} at {} Gbit/s{}",
            bytes_words(b),
            seconds_words(l.transfer_s),
            l.gbit_per_s,
            l.share_of_task
                .map(|s| format!(", {} of a task", percent_words(s)))
                .unwrap_or_default()
        ),
        _ => "bytes per task not measured".into(),
    };
    format!(
        "{} (replayed; measured here only); memory fits {} workers; on a cluster, {} ({}): \
         {wire}",
        curve.join(", "),
        k.workers_memory_holds,
        k.engine.name(),
        k.shape.words()
    )
}

/// (figure, value, source) rows: the curve past the cores, memory, the engine and each link.
pub fn rows(k: &Cluster) -> Vec<[String; 3]> {
    let src = |key: &str| {
        k.sources
            .get(key)
            .map_or("–".to_string(), |s| source_words(*s).to_string())
    };
    let mut out = Vec::new();
    for p in k.curve.iter().skip(1) {
        out.push([
            format!("speedup at {} cores", p.cores),
            format!(
                "{:.2}× ({:.2}–{:.2}), bound: {}",
                p.speedup, p.low, p.high, p.bound
            ),
            "replayed from the measured points (scaling.predicted)".into(),
        ]);
    }
    out.push([
        "memory per worker (PSS)".into(),
        bytes_words(k.pss_bytes_per_worker),
        src("pss_bytes_per_worker"),
    ]);
    out.push([
        "workers the available memory holds".into(),
        format!(
            "{} (of {} available, {} cores)",
            k.workers_memory_holds,
            bytes_words(k.available_memory_bytes as f64),
            k.host_cores
        ),
        src("available_memory_bytes"),
    ]);
    out.push([
        "engine for a cluster".into(),
        format!("{} ({})", k.engine.name(), k.shape.words()),
        "the measured shape".into(),
    ]);
    let n = &k.network;
    match n.bytes_per_task {
        Some(b) => out.push([
            "bytes per task over a network".into(),
            bytes_words(b),
            ["pickled_bytes_per_task", "shared_bytes_per_task"]
                .iter()
                .filter(|key| k.sources.contains_key(**key))
                .map(|key| src(key))
                .collect::<Vec<_>>()
                .join(", "),
        ]),
        None => out.push([
            "bytes per task over a network".into(),
            "not measured".into(),
            n.unmeasured.clone().unwrap_or_default(),
        ]),
    }
    if let Some(t) = n.task_s {
        out.push([
            "task median duration".into(),
            seconds_words(t),
            src("task_s"),
        ]);
    }
    for l in &n.links {
        out.push([
            format!("on a {} Gbit/s link", l.gbit_per_s),
            format!(
                "{} per task{}",
                seconds_words(l.transfer_s),
                l.share_of_task
                    .map(|s| format!(", {} of the task", percent_words(s)))
                    .unwrap_or_default()
            ),
            "bytes × 8 / rate".into(),
        ]);
    }
    out
}

fn source_words(s: Source) -> &'static str {
    match s {
        Source::PerfEvent => "perf_event",
        Source::Rusage => "rusage",
        Source::Procfs => "procfs",
        Source::PerfSwitch => "perf_switch",
        Source::PreloadProbe => "preload probe",
        Source::PythonProbe => "python probe",
        Source::Host => "host",
    }
}
