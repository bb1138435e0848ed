//! The terminal summary: the points table, the fits, the steps and the verdict, each figure
//! with its source.

use super::{Exporter, Report, Status};
use crate::analyze::waits::{OffCpuKind, SinkKind};
use crate::analyze::Series;
use crate::diagnose::{Answer, Diagnosis};
use crate::measure::{Rounds, Stopped};
use crate::units::human_bytes;
use std::fmt::Write;

pub struct Terminal;

impl Exporter for Terminal {
    fn serialize(&self, r: &Report) -> anyhow::Result<Vec<u8>> {
        let mut o = String::new();
        let h = r.host;
        writeln!(
            o,
            "forkcast {} · {} usable of {} logical CPUs ({} physical) · {:.1} GiB · counters: {}",
            r.tool.version,
            h.usable_cpus,
            h.logical_cpus,
            h.physical_cpus
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into()),
            h.memory_bytes as f64 / 1073741824.0,
            h.counters
        )?;
        writeln!(o, "command: {}", r.command.join(" "))?;
        if r.status != Status::Complete {
            writeln!(o, "status: {}", status_words(r.status))?;
        }
        writeln!(o)?;
        points_table(&mut o, r)?;
        if let Some(rounds) = r.rounds {
            writeln!(o, "{}", rounds_line(rounds))?;
        }
        writeln!(o)?;
        run_faults(&mut o, r)?;
        where_time_went(&mut o, r)?;
        accounting(&mut o, r)?;
        fits(&mut o, r)?;
        steps(&mut o, r)?;
        Ok(o.into_bytes())
    }
}

/// `--runs auto`: how many rounds, what the first added one was for, and why it stopped.
pub(super) fn rounds_line(r: &Rounds) -> String {
    let n = r.measured_rounds();
    let mut line = format!("measured {n} rounds (--runs auto)");
    if let Some(first) = r.added.first() {
        line += &format!(": {} after {}", first.why.join("; "), r.first_rounds);
    }
    let sep = if r.added.is_empty() { ":" } else { ";" };
    let left = r.still_undecided.join("; ");
    line += &match r.stopped {
        Some(Stopped::Decided) => format!("{sep} every step decided after {n}"),
        Some(Stopped::MaxRuns) => format!(
            "{sep} stopped at --max-runs {}; still undecided, so answered unknown: {left}",
            r.max_runs
        ),
        Some(Stopped::MaxTime) => format!(
            "{sep} stopped at --max-time {:.1} s; still undecided, so answered unknown: {left}",
            r.max_time_s
        ),
        None => format!("{sep} still adding rounds"),
    };
    line
}

fn points_table(o: &mut String, r: &Report) -> std::fmt::Result {
    let header = [
        "workers",
        "params",
        "wall s (median)",
        "min…max",
        "speedup",
        "effic.",
        "busy cores",
        "cpu util",
        "run-queue",
        "layout",
        "runs",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    let opt = |x: Option<f64>, places: usize| {
        x.map(|v| format!("{v:.places$}"))
            .unwrap_or_else(|| "–".into())
    };
    let pct = |x: Option<f64>| {
        x.map(|v| format!("{:.0} %", v * 100.0))
            .unwrap_or_else(|| "–".into())
    };
    for p in &r.points {
        let s = p.summary;
        let params = params_label(&p.measured.params);
        rows.push(vec![
            format!(
                "{}{}",
                p.measured.workers,
                if s.oversubscribed { "*" } else { "" }
            ),
            if params.is_empty() {
                "–".into()
            } else {
                params
            },
            opt(s.wall_s, 3),
            match (s.wall_min_s, s.wall_max_s) {
                (Some(a), Some(b)) => format!("{a:.3}…{b:.3}"),
                _ => "–".into(),
            },
            opt(s.speedup, 2),
            opt(s.efficiency, 2),
            opt(s.busy_cores, 2),
            pct(s.cpu_utilization),
            pct(s.runqueue_share),
            s.worker_layout
                .map(|l| format!("{l:?}").to_lowercase())
                .map(|l| format!("{l} ×{}", s.workers_observed.unwrap_or(0)))
                .unwrap_or_else(|| "–".into()),
            format!(
                "{}{}",
                s.runs_ok,
                if s.runs_failed > 0 {
                    format!(" (+{} failed)", s.runs_failed)
                } else {
                    String::new()
                }
            ),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        writeln!(o, "  {}", cells.join("  "))?;
    }
    writeln!(
        o,
        "  sources: wall = release to exit of the root; busy cores = tree CPU ({}) / wall; \
         run-queue and layout = procfs sampler.{}",
        r.points
            .iter()
            .find_map(|p| p.summary.sources.get("cpu_s"))
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| "n/a".into()),
        if r.points.iter().any(|p| p.summary.oversubscribed) {
            format!(
                " * = more workers than the {} cores (oversubscribed)",
                crate::analyze::parallel_cores(r.host)
            )
        } else {
            String::new()
        }
    )
}

/// Per point: what the workers waited on, sinks, stragglers and what the probes counted.
fn where_time_went(o: &mut String, r: &Report) -> std::fmt::Result {
    let mut any = false;
    for p in &r.points {
        let s = p.summary;
        let mut parts: Vec<String> = Vec::new();
        if let Some(off) = &s.offcpu {
            let mut top: Vec<(&OffCpuKind, &f64)> =
                off.iter().filter(|(_, v)| **v >= 0.01).collect();
            top.sort_by(|a, b| b.1.total_cmp(a.1));
            let on = s
                .on_cpu_share
                .map(|v| format!("on CPU {:.0} %", v * 100.0))
                .unwrap_or_default();
            let waits: Vec<String> = top
                .iter()
                .take(3)
                .map(|(k, v)| format!("{k} {:.0} %", **v * 100.0))
                .collect();
            parts.push(if waits.is_empty() {
                on
            } else {
                format!("{on}, blocked: {}", waits.join(", "))
            });
        }
        for sink in s.sinks.iter().flatten().take(2) {
            parts.push(format!(
                "shared sink {} ({}) {:.1} %",
                sink.resource,
                sink.kind,
                sink.wait_share * 100.0
            ));
        }
        if let Some(t) = s.straggler_tail.filter(|t| *t >= 0.05) {
            parts.push(format!("straggler tail {:.0} %", t * 100.0));
        }
        if let Some(pr) = &s.probes {
            if let Some(b) = pr.ipc_bytes_per_task {
                parts.push(format!("IPC {} per task", human_bytes(b)));
            }
            if let Some(tax) = pr.ipc_tax.filter(|t| *t >= 0.005) {
                parts.push(format!("pickling {:.1} % of CPU", tax * 100.0));
            }
            if let Some(td) = &pr.task_durations {
                parts.push(format!(
                    "{} tasks per run, p50 {:.1} ms, CV {}",
                    pr.task_count
                        .map_or_else(|| td.count.to_string(), |c| format!("{c:.0}")),
                    td.p50_s * 1e3,
                    td.cv
                        .map(|c| format!("{c:.2}"))
                        .unwrap_or_else(|| "–".into())
                ));
            }
            for io in pr
                .sink_io
                .iter()
                .filter(|io| io.kind != SinkKind::FILE)
                .take(2)
            {
                parts.push(format!(
                    "{} ({}): {} out per writer, {:.2} s in calls per writer",
                    io.resource,
                    io.kind,
                    human_bytes(io.bytes_out_per_writer),
                    io.call_s_per_writer
                ));
            }
        }
        if parts.is_empty() {
            continue;
        }
        if !any {
            writeln!(
                o,
                "  where the time went (sampler: waits, tail; probes: IPC, tasks, sink I/O):"
            )?;
            any = true;
        }
        let params = params_label(&p.measured.params);
        writeln!(
            o,
            "    {:>3} {}: {}",
            p.measured.workers,
            params,
            parts.join(" · ")
        )?;
    }
    if any {
        writeln!(o)?;
    }
    Ok(())
}

/// Per point: the ideal cores, each loss, the useful cores, and the speedup rebuilt from them.
fn accounting(o: &mut String, r: &Report) -> std::fmt::Result {
    let all = || {
        r.points
            .iter()
            .filter_map(|p| p.summary.accounting.as_ref())
    };
    if all().next().is_none() {
        return Ok(());
    }
    writeln!(
        o,
        "  where the speedup went (cores of workers × wall; {}):",
        super::losses::sources(all())
    )?;
    for p in &r.points {
        let Some(a) = &p.summary.accounting else {
            continue;
        };
        let workers = match p.measured.workers {
            1 => "1 worker".to_string(),
            n => format!("{n} workers"),
        };
        let params = params_label(&p.measured.params);
        let label = if params.is_empty() {
            workers
        } else {
            format!("{workers} {params}")
        };
        let speedup = super::losses::speedup(a)
            .map(|s| format!(" · {s}"))
            .unwrap_or_default();
        writeln!(o, "    {label}: {}{speedup}", super::losses::line(a))?;
    }
    writeln!(o)
}

/// `name=value` pairs of a point or series, space-separated.
pub(super) fn params_label(params: &std::collections::BTreeMap<String, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn fits(o: &mut String, r: &Report) -> std::fmt::Result {
    for (i, s) in r.series.iter().enumerate() {
        let mark = if Some(i) == r.primary_series {
            " (best)"
        } else {
            ""
        };
        writeln!(o, "  {}{mark}: {}", series_name(s), series_fits(s))?;
    }
    writeln!(o)
}

/// A series' parameters, or "curve" when nothing but workers was swept.
pub(super) fn series_name(s: &Series) -> String {
    let name = params_label(&s.params);
    if name.is_empty() {
        "curve".to_string()
    } else {
        name
    }
}

/// The Amdahl and USL fits of one series, in words.
pub(super) fn series_fits(s: &Series) -> String {
    let amdahl = s
        .scaling
        .amdahl
        .as_ref()
        .map(|a| format!("Amdahl serial fraction {:.3}", a.serial_fraction))
        .unwrap_or_else(|| "Amdahl: needs 2 worker counts".into());
    let usl = s
        .scaling
        .usl
        .as_ref()
        .map(|u| {
            format!(
                "USL σ={:.3} κ={:.4} peak {}",
                u.sigma,
                u.kappa,
                u.peak_workers
                    .map(|p| format!("≈{p:.1} workers"))
                    .unwrap_or_else(|| "none".into())
            )
        })
        .unwrap_or_else(|| "USL: needs 3 worker counts".into());
    format!("{amdahl}; {usl}")
}

fn steps(o: &mut String, r: &Report) -> std::fmt::Result {
    let d = r.diagnosis;
    for st in &d.steps {
        let answer = answer_word(st.answer);
        writeln!(o, "  {:<14} {:<8} {}", st.id, answer, st.evidence)?;
        writeln!(
            o,
            "  {:<14} {:<8} rule: {} · source: {}",
            "", "", st.threshold, st.source
        )?;
    }
    writeln!(o)?;
    writeln!(
        o,
        "recommendation: {} · confidence {}",
        recommendation_words(d),
        confidence_word(d)
    )?;
    for why in &d.confidence_reasons {
        writeln!(o, "  confidence lowered: {why}")?;
    }
    if !d.what_if.is_empty() {
        writeln!(o, "  what each fix buys (replayed; docs/PREDICTIONS.md):")?;
        let now = super::what_if::now_speedup(r);
        for w in &d.what_if {
            writeln!(o, "    {}", super::what_if::line(w, now))?;
        }
    }
    for f in &d.findings {
        writeln!(o, "  • {f}")?;
    }
    Ok(())
}

/// Every recommendation field that was measured, in the contract's words.
pub(super) fn recommendation_words(d: &Diagnosis) -> String {
    let fields: Vec<String> = serde_json::to_value(&d.recommendation)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
        .iter()
        // The contract's null (start_method with no Python pool seen) is not measured.
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            format!(
                "{k} {}",
                v.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string())
            )
        })
        .collect();
    if fields.is_empty() {
        "none measured".into()
    } else {
        fields.join(" · ")
    }
}

pub(super) fn confidence_word(d: &Diagnosis) -> String {
    format!("{:?}", d.confidence).to_lowercase()
}

pub(super) fn answer_word(a: Answer) -> &'static str {
    match a {
        Answer::Yes => "yes",
        Answer::No => "no",
        Answer::Unknown => "unknown",
    }
}

pub(super) fn status_words(s: Status) -> &'static str {
    match s {
        Status::InProgress => "in progress (the sweep had not finished: still running, or killed)",
        Status::Complete => "complete",
        Status::Interrupted => "interrupted (the points measured before the stop)",
        Status::FailedFast => "stopped at the first failed run (--fail-fast)",
    }
}

/// Every run that did not simply succeed, with what happened (from the runner: the keeper's
/// wait status, the timeout, the output cap, the sampler's process cap).
fn run_faults(o: &mut String, r: &Report) -> std::fmt::Result {
    let mut lines = Vec::new();
    for p in &r.points {
        for (i, run) in p.measured.runs.iter().enumerate() {
            let Some(out) = run.outcome.as_ref().filter(|o| !o.faults.is_empty()) else {
                continue;
            };
            let params = params_label(&p.measured.params);
            let params = if params.is_empty() {
                params
            } else {
                format!(" {params}")
            };
            let kind = if run.warmup { "warmup" } else { "run" };
            lines.push(format!(
                "  workers={}{params} {kind} {}: {}",
                p.measured.workers,
                i + 1,
                out.summary
            ));
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(o, "Faults (runner):")?;
    for l in lines {
        writeln!(o, "{l}")?;
    }
    writeln!(o)
}
