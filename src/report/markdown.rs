//! The report as GitHub-flavoured Markdown: the points table, the fits, the decision steps and
//! the verdict, for a pull request comment or a wiki page.

use super::terminal::{
    answer_word, confidence_word, params_label, recommendation_words, series_fits, series_name,
    status_words,
};
use super::{Exporter, Report, Status};
use std::fmt::Write;

pub struct Markdown;

impl Exporter for Markdown {
    fn serialize(&self, r: &Report) -> anyhow::Result<Vec<u8>> {
        let mut o = String::new();
        let h = r.host;
        writeln!(o, "# forkcast report\n")?;
        writeln!(o, "`{}`\n", r.command.join(" ").replace('`', "'"))?;
        writeln!(
            o,
            "forkcast {} · {} usable of {} logical CPUs · counters: {}{}\n",
            r.tool.version,
            h.usable_cpus,
            h.logical_cpus,
            cell(&h.counters),
            if r.status == Status::Complete {
                String::new()
            } else {
                format!(" · status: {}", status_words(r.status))
            }
        )?;
        writeln!(
            o,
            "| workers | params | wall s (median) | min…max | speedup | efficiency | busy cores \
             | run-queue | runs |"
        )?;
        writeln!(o, "|---:|---|---:|---:|---:|---:|---:|---:|---:|")?;
        for p in &r.points {
            let s = p.summary;
            writeln!(
                o,
                "| {}{} | {} | {} | {} | {} | {} | {} | {} | {}{} |",
                p.measured.workers,
                if s.oversubscribed { "*" } else { "" },
                match params_label(&p.measured.params) {
                    l if l.is_empty() => "–".into(),
                    l => cell(&l),
                },
                num(s.wall_s, 3),
                match (s.wall_min_s, s.wall_max_s) {
                    (Some(a), Some(b)) => format!("{a:.3}…{b:.3}"),
                    _ => "–".into(),
                },
                num(s.speedup, 2),
                num(s.efficiency, 2),
                num(s.busy_cores, 2),
                s.runqueue_share
                    .map_or("–".into(), |v| format!("{:.0} %", v * 100.0)),
                s.runs_ok,
                if s.runs_failed > 0 {
                    format!(" (+{} failed)", s.runs_failed)
                } else {
                    String::new()
                }
            )?;
        }
        writeln!(
            o,
            "\nSpeedup against the smallest worker count of the same params; busy cores = the \
             tree's CPU time / wall time; run-queue from the procfs sampler.{}\n",
            if r.points.iter().any(|p| p.summary.oversubscribed) {
                " `*` = more workers than cores (oversubscribed)."
            } else {
                ""
            }
        )?;
        accounting(&mut o, r)?;
        writeln!(o, "## Fits\n")?;
        for (i, s) in r.series.iter().enumerate() {
            let best = if Some(i) == r.primary_series {
                " (best)"
            } else {
                ""
            };
            writeln!(
                o,
                "- **{}**{best}: {}",
                cell(&series_name(s)),
                series_fits(s)
            )?;
        }
        let d = r.diagnosis;
        writeln!(o, "\n## Decision tree\n")?;
        writeln!(o, "| step | answer | evidence | rule | source |")?;
        writeln!(o, "|---|---|---|---|---|")?;
        for st in &d.steps {
            writeln!(
                o,
                "| `{}` | {} | {} | {} | {} |",
                st.id,
                answer_word(st.answer),
                cell(&st.evidence),
                cell(&st.threshold),
                cell(&st.source)
            )?;
        }
        writeln!(
            o,
            "\n**Recommendation:** {} · confidence **{}**\n",
            recommendation_words(d),
            confidence_word(d)
        )?;
        what_to_do(&mut o, r)?;
        for why in &d.confidence_reasons {
            writeln!(o, "- confidence lowered: {}", cell(why))?;
        }
        for f in &d.findings {
            writeln!(o, "- {}", cell(f))?;
        }
        what_each_fix_buys(&mut o, r)?;
        past_this_host(&mut o, r)?;
        Ok(o.into_bytes())
    }
}

/// The recommendation in words, and a few lines of code for the API the workload used.
fn what_to_do(o: &mut String, r: &Report) -> std::fmt::Result {
    let Some(s) = crate::diagnose::sketch::sketch(r.analysis, r.diagnosis) else {
        return Ok(());
    };
    writeln!(o, "**What to do:** {}\n", cell(&s.sentence))?;
    if let Some(code) = &s.code {
        let lang = match s.lang {
            crate::diagnose::sketch::Lang::Python => "python",
            crate::diagnose::sketch::Lang::Shell => "sh",
        };
        writeln!(o, "```{lang}\n{code}```\n")?;
    }
    Ok(())
}

/// One row per what-if: the fix, its replayed speedup and interval, its wall against today's.
fn what_each_fix_buys(o: &mut String, r: &Report) -> std::fmt::Result {
    let d = r.diagnosis;
    if d.what_if.is_empty() {
        return Ok(());
    }
    writeln!(o, "\n### What each fix buys\n")?;
    writeln!(
        o,
        "| fix | workers | speedup | low | high | wall vs today | bound | basis |"
    )?;
    writeln!(o, "|---|---:|---:|---:|---:|---:|---|---|")?;
    for w in &d.what_if {
        writeln!(
            o,
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
            cell(&super::what_if::label(w)),
            w.workers,
            w.speedup,
            w.low,
            w.high,
            w.wall_vs_now,
            cell(&super::what_if::bound_words(w)),
            cell(&w.basis)
        )?;
    }
    Ok(())
}

/// The "bigger machine or a cluster" figures, each with its source, where the finding applies.
fn past_this_host(o: &mut String, r: &Report) -> std::fmt::Result {
    let Some(k) = &r.diagnosis.cluster else {
        return Ok(());
    };
    writeln!(
        o,
        "\n### Past this host (forkcast measured this host only)\n"
    )?;
    writeln!(o, "| figure | value | source |")?;
    writeln!(o, "|---|---|---|")?;
    for [f, v, s] in super::cluster::rows(k) {
        writeln!(o, "| {} | {} | {} |", cell(&f), cell(&v), cell(&s))?;
    }
    Ok(())
}

/// One row per point: the ideal cores, the cores each cause lost, the useful cores and the
/// speedup rebuilt from them (docs/ACCOUNTING.md).
fn accounting(o: &mut String, r: &Report) -> std::fmt::Result {
    let all = || {
        r.points
            .iter()
            .filter_map(|p| p.summary.accounting.as_ref())
    };
    if all().next().is_none() {
        return Ok(());
    }
    // Every cause that cost some point a hundredth of a core, largest first at its worst.
    let mut causes: Vec<(&str, f64)> = Vec::new();
    for (c, v) in all().flat_map(|a| a.losses_over(super::losses::SHOWN_CORES)) {
        match causes.iter_mut().find(|(k, _)| *k == c) {
            Some(e) => e.1 = e.1.max(v),
            None => causes.push((c, v)),
        }
    }
    causes.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    writeln!(o, "## Where the speedup went\n")?;
    let heads: Vec<String> = causes
        .iter()
        .map(|(c, _)| format!("− {}", cell(c)))
        .collect();
    writeln!(
        o,
        "| workers | params | ideal | {} | = useful | × computation scaling | / baseline efficiency | = speedup |",
        heads.join(" | ")
    )?;
    writeln!(
        o,
        "|---:|---|---:|{}---:|---:|---:|---:|",
        "---:|".repeat(causes.len())
    )?;
    for p in &r.points {
        let Some(a) = &p.summary.accounting else {
            continue;
        };
        let lost: Vec<String> = causes
            .iter()
            .map(|(c, _)| num(a.lost_cores.get(*c).map(|f| f.value), 2))
            .collect();
        writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            p.measured.workers,
            match params_label(&p.measured.params) {
                l if l.is_empty() => "–".into(),
                l => cell(&l),
            },
            num(Some(f64::from(a.workers)), 2),
            lost.join(" | "),
            num(Some(a.useful_cores.value), 2),
            num(a.computation_scaling.map(|f| f.value), 2),
            num(a.baseline_efficiency.map(|f| f.value), 2),
            num(a.speedup.map(|f| f.value), 2),
        )?;
    }
    writeln!(
        o,
        "\nCores of workers × wall, mean over the runs; causes under {} cores left out. \
         Sources: {}.\n",
        super::losses::SHOWN_CORES,
        super::losses::sources(all())
    )
}

fn num(x: Option<f64>, places: usize) -> String {
    x.map_or_else(|| "–".into(), |v| format!("{v:.places$}"))
}

/// Text safe inside a table cell or list item: no pipes or line breaks, no HTML tags.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_cannot_break_the_table_or_open_a_tag() {
        assert_eq!(
            cell("a|b\n<script>alert(1)</script>"),
            "a\\|b &lt;script>alert(1)&lt;/script>"
        );
    }
}
