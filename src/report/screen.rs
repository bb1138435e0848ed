//! The default summary, on one screen: the points table, the accounting line per point, the
//! verdict (one line per step: its answer and the figure that decided it), the what-ifs, the
//! recommendation in words, and the confidence. `-v` prints the full text (terminal.rs)
//! instead. Lines wrap between words, never inside a number, at `COLUMNS` (else 100).

use super::terminal::{answer_word, confidence_word, params_label};
use super::{Exporter, Report, Status};
use crate::diagnose::sketch::sketch;
use crate::diagnose::{Model, Step};
use serde_json::Value;
use std::fmt::Write;

/// Width when `COLUMNS` is unset or unreadable.
pub const DEFAULT_WIDTH: usize = 100;
/// Narrowest width honoured: below it, numbers and step names would not fit a line.
const MIN_WIDTH: usize = 60;

pub struct Screen {
    pub width: usize,
}

impl Screen {
    /// The width from `COLUMNS` when set to a number (at least 60), else 100.
    pub fn from_env() -> Screen {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .map_or(DEFAULT_WIDTH, |c| c.max(MIN_WIDTH));
        Screen { width }
    }
}

impl Exporter for Screen {
    fn serialize(&self, r: &Report) -> anyhow::Result<Vec<u8>> {
        let mut o = String::new();
        let w = self.width;
        let h = r.host;
        wrap(
            &mut o,
            w,
            "",
            "  ",
            &format!(
                "forkcast {} · {} of {} CPUs usable · {}",
                r.tool.version,
                h.usable_cpus,
                h.logical_cpus,
                r.command.join(" ")
            ),
        );
        if r.status != Status::Complete {
            wrap(
                &mut o,
                w,
                "",
                "  ",
                &format!("status: {}", super::terminal::status_words(r.status)),
            );
        }
        faults(&mut o, r, w);
        o.push('\n');
        table(&mut o, r, w);
        if let Some(rounds) = r.rounds {
            wrap(&mut o, w, "", "  ", &super::terminal::rounds_line(rounds));
        }
        accounting(&mut o, r, w);
        verdict(&mut o, r, w);
        what_ifs(&mut o, r, w);
        past_host(&mut o, r, w);
        recommendation(&mut o, r, w);
        Ok(o.into_bytes())
    }
}

/// The table's columns, most needed first: at a narrow width the last ones are left out.
const COLUMNS: [&str; 8] = [
    "workers",
    "params",
    "wall s",
    "speedup",
    "busy cores",
    "min…max",
    "layout",
    "effic.",
];

fn table(o: &mut String, r: &Report, width: usize) {
    let opt =
        |x: Option<f64>, places: usize| x.map_or_else(|| "–".into(), |v| format!("{v:.places$}"));
    let mut rows: Vec<Vec<String>> = vec![COLUMNS.iter().map(|s| s.to_string()).collect()];
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
            opt(s.speedup, 2),
            opt(s.busy_cores, 2),
            match (s.wall_min_s, s.wall_max_s) {
                (Some(a), Some(b)) => format!("{a:.3}…{b:.3}"),
                _ => "–".into(),
            },
            s.worker_layout.map_or_else(
                || "–".into(),
                |l| {
                    format!(
                        "{} ×{}",
                        format!("{l:?}").to_lowercase(),
                        s.workers_observed.unwrap_or(0)
                    )
                },
            ),
            opt(s.efficiency, 2),
        ]);
    }
    // Drop params when nothing was swept but workers.
    let keep_params = r.points.iter().any(|p| !p.measured.params.is_empty());
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut shown: Vec<usize> = (0..COLUMNS.len())
        .filter(|&c| c != 1 || keep_params)
        .collect();
    let line_width = |cols: &[usize]| 2 + cols.iter().map(|&c| widths[c] + 2).sum::<usize>() - 2;
    while shown.len() > 3 && line_width(&shown) > width {
        shown.pop();
    }
    for row in &rows {
        let cells: Vec<String> = shown
            .iter()
            .map(|&c| {
                let w = widths[c];
                // Params read left-aligned; figures line up on the right.
                if c == 1 {
                    format!("{:<w$}", row[c])
                } else {
                    format!("{:>w$}", row[c])
                }
            })
            .collect();
        let _ = writeln!(o, "  {}", cells.join("  ").trim_end());
    }
    if r.points.iter().any(|p| p.summary.oversubscribed) {
        wrap(
            o,
            width,
            "  ",
            "  ",
            &format!(
                "* more workers than the {} cores",
                crate::analyze::parallel_cores(r.host)
            ),
        );
    }
    o.push('\n');
}

/// How many runs did not simply succeed (the runner's faults; `-v` lists each).
fn faults(o: &mut String, r: &Report, width: usize) {
    let faulty = r
        .points
        .iter()
        .flat_map(|p| &p.measured.runs)
        .filter(|run| run.outcome.as_ref().is_some_and(|o| !o.faults.is_empty()))
        .count();
    if faulty > 0 {
        wrap(
            o,
            width,
            "",
            "  ",
            &format!("faults: {faulty} runs did not simply succeed (-v lists each)"),
        );
    }
}

/// One line per point: the ideal cores, each loss, the useful cores.
fn accounting(o: &mut String, r: &Report, width: usize) {
    if !r.points.iter().any(|p| p.summary.accounting.is_some()) {
        return;
    }
    let _ = writeln!(o, "where the speedup went (cores):");
    let labels: Vec<String> = r
        .points
        .iter()
        .map(|p| {
            let params = params_label(&p.measured.params);
            format!("{} {params}", p.measured.workers)
                .trim_end()
                .to_string()
        })
        .collect();
    let lw = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    for (p, label) in r.points.iter().zip(&labels) {
        let Some(a) = &p.summary.accounting else {
            continue;
        };
        let first = format!("  {label:<lw$}  ");
        let rest = " ".repeat(first.chars().count());
        wrap(o, width, &first, &rest, &super::losses::line(a));
    }
    o.push('\n');
}

/// One line per step: its id, its answer and the figure that decided it.
fn verdict(o: &mut String, r: &Report, width: usize) {
    let _ = writeln!(o, "verdict:");
    let idw = r
        .diagnosis
        .steps
        .iter()
        .map(|s| s.id.as_str().chars().count())
        .max()
        .unwrap_or(0);
    for st in &r.diagnosis.steps {
        let first = format!(
            "  {:<idw$}  {:<7}  ",
            st.id.as_str(),
            answer_word(st.answer)
        );
        let rest = " ".repeat(first.chars().count());
        let figure = deciding_figure(st).unwrap_or_else(|| "no figure (-v says why)".into());
        wrap(o, width, &first, &rest, &figure);
    }
    o.push('\n');
}

/// The one figure that decided a step, in a few words. It reads the Step's `measured` values,
/// the one place that knows their names.
pub fn deciding_figure(st: &Step) -> Option<String> {
    let f = |k: &str| st.measured.get(k).and_then(Value::as_f64);
    let pct = |x: f64| format!("{:.0} %", x * 100.0);
    let at = |k: &str| {
        f(k).map(|n| match n as u32 {
            1 => " at 1 worker".to_string(),
            n => format!(" at {n} workers"),
        })
        .unwrap_or_default()
    };
    match st.id.as_str() {
        "cpu_bound" => f("work_on_cpu_share")
            .or_else(|| f("steady_on_cpu_share"))
            .or_else(|| f("on_cpu_share"))
            .map(|x| format!("workers on CPU {} of their work{}", pct(x), at("workers"))),
        "threads_scale" if st.measured.is_empty() => {
            Some("no threads run, no GIL figure: sweep a threads mode".into())
        }
        "threads_scale" => match (f("serialised_share"), f("predicted_efficiency")) {
            (Some(g), _) => Some(format!(
                "{} of the threads' working time on the GIL or locks with {:.0} threads{}",
                pct(g),
                f("workers").unwrap_or(0.0),
                f("max_serialised_share")
                    .map(|q| format!(" (at most {})", pct(q)))
                    .unwrap_or_default()
            )),
            (None, Some(p)) => Some(format!(
                "predicted efficiency {p:.2}{}",
                f("gil_held_share")
                    .map(|g| format!(" from the GIL held {}", pct(g)))
                    .unwrap_or_default()
            )),
            _ => None,
        },
        "large_payload" => {
            let moved = match (f("ipc_bytes_per_task"), f("ipc_bytes")) {
                (Some(per), _) => format!("{} per task", bytes(per)),
                (None, Some(all)) => format!("{} between processes in all", bytes(all)),
                (None, None) => return None,
            };
            Some(format!(
                "{moved}{}",
                f("ipc_tax")
                    .map(|t| format!(", pickling {:.1} % of CPU", t * 100.0))
                    .unwrap_or_default()
            ))
        }
        "shared_sink" if st.measured.is_empty() => Some("no worker waited on a sink".into()),
        "start_method" if st.measured.is_empty() => Some("no process start measured".into()),
        "shared_sink" => f("wait_share").map(|x| {
            let kind = st
                .measured
                .get("kind")
                .and_then(Value::as_str)
                .map(|k| format!(" ({k})"))
                .unwrap_or_default();
            let growth = f("wait_per_cpu_second_growth")
                .map(|g| format!(", {g:.2} times the smallest count's per CPU second"))
                .unwrap_or_default();
            format!("sink wait {} of worker time{kind}{growth}", pct(x))
        }),
        "latency_goal" => st
            .measured
            .get("goal")
            .and_then(Value::as_str)
            .map(|g| format!("--goal {g}")),
        "task_variance" => match (f("task_duration_cv"), f("straggler_tail")) {
            (Some(cv), _) => Some(format!("task durations CV {cv:.2}")),
            (None, Some(t)) => Some(format!("straggler tail {}", pct(t))),
            _ => None,
        },
        "start_method" => {
            let m = st.measured.get("recommended").and_then(Value::as_str)?;
            let startup = f(&format!("{m}_worker_startup_ms"))
                .map(|ms| format!(", worker start-up {ms:.1} ms"))
                .unwrap_or_default();
            Some(format!("{m}{startup}"))
        }
        "worker_count" => {
            let last = st
                .measured
                .get("steps")
                .and_then(Value::as_array)
                .and_then(|s| s.last())?;
            let n = last.get("workers").and_then(Value::as_f64)?;
            let e = last.get("marginal_efficiency").and_then(Value::as_f64)?;
            Some(format!("step to {n:.0} returned {e:.2} of the ideal gain"))
        }
        _ => None,
    }
}

fn bytes(b: f64) -> String {
    match b {
        b if b >= 1048576.0 => format!("{:.1} MiB", b / 1048576.0),
        b if b >= 1024.0 => format!("{:.1} KiB", b / 1024.0),
        b => format!("{b:.0} B"),
    }
}

/// What each fix buys, when the diagnosis carries them (`diagnosis.what_if`, one object per
/// fix). WHAT-IFS GO HERE: until the diagnosis has the field there are none; each entry reads
/// as its `text`, else its `fix` and `speedup`. The HTML shows the same lines.
pub(super) fn what_if_lines(r: &Report) -> Vec<String> {
    let now = super::what_if::now_speedup(r);
    r.diagnosis
        .what_if
        .iter()
        .map(|w| super::what_if::line(w, now))
        .collect()
}

fn what_ifs(o: &mut String, r: &Report, width: usize) {
    let lines = what_if_lines(r);
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(o, "what if:");
    for text in lines {
        wrap(o, width, "  ", "    ", &text);
    }
    o.push('\n');
}

fn past_host(o: &mut String, r: &Report, width: usize) {
    if let Some(k) = &r.diagnosis.cluster {
        wrap(o, width, "past this host: ", "  ", &super::cluster::line(k));
        o.push('\n');
    }
}

/// The recommendation in words: the sketch's sentence for the API the workload used, else the
/// model and the worker count.
pub(super) fn recommendation_sentence(r: &Report) -> String {
    let d = r.diagnosis;
    match (sketch(r.analysis, d), d.recommendation.model) {
        (Some(s), _) => s.sentence,
        (None, Some(m)) => format!(
            "Use {}{}.",
            match m {
                Model::Processes => "processes",
                Model::Threads => "threads",
                Model::AsyncOrThreads => "threads or async I/O",
            },
            d.recommendation
                .workers
                .map(|n| format!(" with {n} workers"))
                .unwrap_or_default()
        ),
        (None, None) => "No recommendation: the tree could not decide the model.".into(),
    }
}

fn recommendation(o: &mut String, r: &Report, width: usize) {
    let d = r.diagnosis;
    let words = recommendation_sentence(r);
    wrap(o, width, "recommendation: ", "  ", &words);
    if let Some(case) = crate::diagnose::free_threaded::finding(r.measurements) {
        wrap(o, width, "", "  ", &case);
    }
    let reasons = d.confidence_reasons.len();
    let conf = if reasons == 0 {
        format!("confidence: {}", confidence_word(d))
    } else {
        let more = match reasons {
            1 => String::new(),
            n => format!("; {} more with -v", n - 1),
        };
        format!(
            "confidence: {} ({}{more})",
            confidence_word(d),
            d.confidence_reasons[0]
        )
    };
    wrap(o, width, "", "  ", &conf);
    wrap(
        o,
        width,
        "",
        "  ",
        "-v (or summary.txt beside report.json): every step's evidence, rule and source; \
         `forkcast report --html` draws them.",
    );
}

/// Writes `text` after `first`, wrapped at `width` with `rest` before each further line. It
/// breaks only at spaces, and never after a number or an operator, so a figure stays whole
/// and with its unit.
pub fn wrap(o: &mut String, width: usize, first: &str, rest: &str, text: &str) {
    let mut units: Vec<String> = Vec::new();
    let mut glue = false;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        match units.last_mut() {
            Some(last) if glue => {
                last.push(' ');
                last.push_str(word);
            }
            _ => units.push(word.to_string()),
        }
        glue = is_figure(word);
    }
    let mut line = first.to_string();
    let mut empty = true;
    for u in units {
        let len = line.chars().count() + usize::from(!empty) + u.chars().count();
        if !empty && len > width {
            let _ = writeln!(o, "{}", line.trim_end());
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(&u);
        empty = false;
    }
    let _ = writeln!(o, "{}", line.trim_end());
}

/// A number (with its sign or unit glued on: `0.85`, `−`, `1.45`, `99`) or an operator: the
/// word after it belongs with it.
fn is_figure(word: &str) -> bool {
    matches!(word, "−" | "-" | "+" | "=" | "×" | "/" | "·")
        || word
            .trim_end_matches([',', ';', ':'])
            .parse::<f64>()
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_between_words_and_keeps_figures_with_their_units() {
        let mut o = String::new();
        wrap(
            &mut o,
            30,
            "  ",
            "    ",
            "2.00 ideal − 0.85 run_queue − 0.55 serial = 0.32",
        );
        assert_eq!(
            o,
            "  2.00 ideal − 0.85 run_queue\n    − 0.55 serial = 0.32\n"
        );
        for line in o.lines() {
            assert!(line.chars().count() <= 30, "{line:?}");
        }
    }
}
