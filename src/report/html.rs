//! report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched) that
//! reads top-down: the recommendation, the decision path with its evidence, the plots, the
//! points table, the host and the data sources. Every string from the command line or the
//! target goes through `esc`.

use super::plots::{series_name, svg_plots};
use super::{Exporter, Report};
use crate::diagnose::{Answer, Confidence};
use std::collections::BTreeSet;
use std::fmt::Write;

pub struct Html;

impl Exporter for Html {
    fn serialize(&self, r: &Report) -> anyhow::Result<Vec<u8>> {
        let mut o = String::with_capacity(256 * 1024);
        let command = r.command.join(" ");
        write!(
            o,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>forkcast: {}</title><style>{CSS}</style></head><body><main>\n",
            esc(&command)
        )?;
        writeln!(
            o,
            "<header><h1>forkcast report</h1><p class=\"cmd\"><code>{}</code></p>\
             <p class=\"meta\">forkcast {} · status {} · goal {}</p></header>",
            esc(&command),
            esc(r.tool.version),
            esc(&json_word(&r.status)),
            esc(r.goal.as_str())
        )?;
        recommendation(&mut o, r)?;
        decision_path(&mut o, r)?;
        plots(&mut o, r)?;
        points(&mut o, r)?;
        host(&mut o, r)?;
        sources(&mut o, r)?;
        o.push_str("</main></body></html>\n");
        Ok(o.into_bytes())
    }
}

/// HTML-escapes text for element content and quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A serde enum's wire name ("single_writer"), as report.json spells it.
fn json_word<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

fn recommendation(o: &mut String, r: &Report) -> std::fmt::Result {
    let d = r.diagnosis;
    let conf = match d.confidence {
        Confidence::High => "high",
        Confidence::Medium => "medium",
        Confidence::Low => "low",
    };
    writeln!(
        o,
        "<section id=\"recommendation\"><h2>Recommendation</h2><div class=\"verdict\">"
    )?;
    write!(
        o,
        "<p class=\"todo\">{}</p>",
        esc(&super::screen::recommendation_sentence(r))
    )?;
    if let Some(code) = crate::diagnose::sketch::sketch(r.analysis, d).and_then(|s| s.code) {
        write!(o, "<pre class=\"sketch\"><code>{}</code></pre>", esc(&code))?;
    }
    let fields = serde_json::to_value(&d.recommendation).unwrap_or_default();
    let mut any = false;
    if let Some(map) = fields.as_object() {
        o.push_str("<dl>");
        for (k, v) in map {
            // A field that does not apply (no process pool for a start method) is a dash.
            let v = match v {
                serde_json::Value::Null => "—".to_string(),
                v => v.as_str().map_or_else(|| v.to_string(), str::to_string),
            };
            write!(o, "<div><dt>{}</dt><dd>{}</dd></div>", esc(k), esc(&v))?;
            any = true;
        }
        o.push_str("</dl>");
    }
    if !any {
        o.push_str("<p>No recommendation: no point produced a usable run.</p>");
    }
    writeln!(
        o,
        "<p class=\"confidence {conf}\">confidence: <strong>{conf}</strong></p>"
    )?;
    if !d.confidence_reasons.is_empty() {
        o.push_str("<ul class=\"reasons\">");
        for reason in &d.confidence_reasons {
            write!(o, "<li>confidence lowered: {}</li>", esc(reason))?;
        }
        o.push_str("</ul>");
    }
    o.push_str("</div>");
    if !d.what_if.is_empty() {
        o.push_str(
            "<h3>What each fix buys</h3><table class=\"what-if\"><thead><tr><th>fix</th>\
             <th>workers</th><th>speedup</th><th>interval</th><th>wall vs today</th>\
             <th>bound</th><th>basis</th></tr></thead><tbody>",
        );
        for w in &d.what_if {
            write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{:.2}×</td><td>{:.2}–{:.2}</td><td>{:.2}</td>\
                 <td>{}</td><td>{}</td></tr>",
                esc(&super::what_if::label(w)),
                w.workers,
                w.speedup,
                w.low,
                w.high,
                w.wall_vs_now,
                esc(&super::what_if::bound_words(w)),
                esc(&w.basis)
            )?;
        }
        o.push_str("</tbody></table>");
    }
    if let Some(k) = &d.cluster {
        o.push_str(
            "<h3>Past this host</h3><p>forkcast measured this host only: the curve past it is \
             replayed, and a cluster's network is priced, not measured.</p><table \
             class=\"past-host\"><thead><tr><th>figure</th><th>value</th><th>source</th></tr>\
             </thead><tbody>",
        );
        for [f, v, s] in super::cluster::rows(k) {
            write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f),
                esc(&v),
                esc(&s)
            )?;
        }
        o.push_str("</tbody></table>");
    }
    if !d.findings.is_empty() {
        o.push_str("<h3>Findings</h3><ul class=\"findings\">");
        for f in &d.findings {
            write!(o, "<li>{}</li>", esc(f))?;
        }
        o.push_str("</ul>");
    }
    writeln!(o, "</section>")
}

fn decision_path(o: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(
        o,
        "<section id=\"decision-path\"><h2>Decision path</h2><ol class=\"steps\">"
    )?;
    for s in &r.diagnosis.steps {
        let answer = match s.answer {
            Answer::Yes => "yes",
            Answer::No => "no",
            Answer::Unknown => "unknown",
        };
        write!(
            o,
            "<li><div class=\"q\"><span class=\"id\">{}</span> {} <span class=\"answer {answer}\">{answer}</span></div>\
             <p class=\"evidence\">{}</p><p class=\"rule\">rule: {} · source: {}</p>",
            esc(s.id.as_str()),
            esc(&s.question),
            esc(&s.evidence),
            esc(&s.threshold),
            esc(&s.source)
        )?;
        if !s.measured.is_empty() {
            o.push_str("<p class=\"measured\">measured: ");
            let parts: Vec<String> = s
                .measured
                .iter()
                .map(|(k, v)| format!("<code>{}</code> = {}", esc(k), esc(&value(v))))
                .collect();
            o.push_str(&parts.join(" · "));
            o.push_str("</p>");
        }
        o.push_str("</li>\n");
    }
    writeln!(o, "</ol></section>")
}

/// A measured value, numbers rounded for reading (report.json keeps them whole).
fn value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if x.abs() >= 100.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.3}")
            }
        }
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".into(),
        other => other.to_string(),
    }
}

const CAPTIONS: &[(&str, &str)] = &[
    ("scaling", "Speedup against workers for each series, with the ideal line, the Amdahl and USL fits and each point's slowest..fastest run; hollow points and the shaded side have more workers than physical cores."),
    ("efficiency", "Parallel efficiency (speedup / relative workers) and the marginal efficiency of each step, against the thresholds of threads_scale and worker_count."),
    ("breakdown", "Where the workers' time went at each point: on a CPU, in a run queue, in the pool's pipes and socket pairs, on locks, on each shared sink, and other waits (procfs sampler)."),
    ("accounting", "Where the speedup went at each point: from the ideal cores (the workers) through the cores each cause lost (serial, start-up, imbalance, the GIL, locks, each sink, transfer, the run queue, other) to the useful ones; see docs/ACCOUNTING.md."),
    ("timeline", "Cores busy and workers active over the typical run of the largest point: a flat top at the core count is saturation; a falling edge before the end is a straggler tail."),
];

fn plots(o: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(o, "<section id=\"plots\"><h2>Plots</h2>")?;
    match svg_plots(r) {
        Ok(svgs) if !svgs.is_empty() => {
            for p in svgs {
                let caption = CAPTIONS
                    .iter()
                    .find(|(n, _)| *n == p.name)
                    .map_or("", |c| c.1);
                // plotters escapes the text it writes into the SVG (labels carry param values).
                writeln!(
                    o,
                    "<figure id=\"plot-{}\">{}<figcaption>{}</figcaption></figure>",
                    p.name,
                    strip_xml_decl(&p.svg),
                    esc(caption)
                )?;
            }
        }
        Ok(_) => o.push_str("<p>No point produced a usable run, so there is nothing to plot.</p>"),
        Err(e) => write!(
            o,
            "<p>The plots could not be drawn: {}</p>",
            esc(&format!("{e:#}"))
        )?,
    }
    writeln!(o, "</section>")
}

fn strip_xml_decl(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

fn points(o: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(
        o,
        "<section id=\"points\"><h2>Points</h2><div class=\"scroll\"><table><thead><tr>\
         <th>workers</th><th>params</th><th>wall s (median)</th><th>min…max</th><th>speedup</th>\
         <th>efficiency</th><th>busy cores</th><th>CPU util.</th><th>on CPU</th><th>run queue</th>\
         <th>straggler tail</th><th>layout</th><th>runs ok / failed</th></tr></thead><tbody>"
    )?;
    let num = |x: Option<f64>, places: usize| x.map_or("–".into(), |v| format!("{v:.places$}"));
    let pct = |x: Option<f64>| x.map_or("–".into(), |v| format!("{:.0} %", v * 100.0));
    for p in &r.points {
        let s = p.summary;
        let params: Vec<String> = p
            .measured
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let over = if s.oversubscribed {
            " class=\"over\" title=\"more workers than cores\""
        } else {
            ""
        };
        writeln!(
            o,
            "<tr{over}><td>{}{}</td><td>{}</td><td>{}</td><td>{}…{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td></tr>",
            p.measured.workers,
            if s.oversubscribed { " *" } else { "" },
            esc(&params.join(", ")),
            num(s.wall_s, 3),
            num(s.wall_min_s, 3),
            num(s.wall_max_s, 3),
            num(s.speedup, 2),
            pct(s.efficiency),
            num(s.busy_cores, 2),
            pct(s.cpu_utilization),
            pct(s.on_cpu_share),
            pct(s.runqueue_share),
            pct(s.straggler_tail),
            s.worker_layout.map_or("–".into(), |l| json_word(&l)),
            s.runs_ok,
            s.runs_failed
        )?;
    }
    writeln!(
        o,
        "</tbody></table></div><p class=\"note\">* more workers than cores: the point measures \
         time-sharing, not parallelism. {}</p>",
        esc(&r.assumptions.join("; "))
    )?;
    if let Some(sc) = r.scaling {
        let series = r
            .primary_series
            .and_then(|i| r.series.get(i))
            .map(series_name)
            .unwrap_or_default();
        o.push_str("<p class=\"fits\">Fits of the best series");
        if !series.is_empty() {
            write!(o, " ({})", esc(&series))?;
        }
        o.push_str(": ");
        let mut parts = Vec::new();
        if let Some(a) = &sc.amdahl {
            parts.push(format!("Amdahl serial fraction {:.3}", a.serial_fraction));
        }
        if let Some(u) = &sc.usl {
            let peak = u
                .peak_workers
                .map_or("no peak".into(), |p| format!("peak at {p:.1} workers"));
            parts.push(format!("USL σ {:.3}, κ {:.4}, {peak}", u.sigma, u.kappa));
        }
        if parts.is_empty() {
            parts.push("too few worker counts to fit".into());
        }
        write!(o, "{}.</p>", parts.join("; "))?;
    }
    writeln!(o, "</section>")
}

fn host(o: &mut String, r: &Report) -> std::fmt::Result {
    let h = r.host;
    let opt = |x: Option<u32>| x.map_or("unknown".into(), |v| v.to_string());
    writeln!(o, "<section id=\"host\"><h2>Host</h2><dl class=\"facts\">")?;
    let rows = [
        (
            "CPUs usable / logical / physical",
            format!(
                "{} / {} / {}",
                h.usable_cpus,
                h.logical_cpus,
                opt(h.physical_cpus)
            ),
        ),
        (
            "CPU model",
            h.cpu_model.clone().unwrap_or_else(|| "unknown".into()),
        ),
        (
            "memory",
            format!("{:.1} GiB", h.memory_bytes as f64 / 1073741824.0),
        ),
        ("kernel", h.kernel.clone()),
        ("perf counters", h.counters.clone()),
        (
            "perf_event_paranoid",
            h.perf_event_paranoid
                .map_or("unreadable".into(), |p| p.to_string()),
        ),
    ];
    for (k, v) in rows {
        write!(o, "<div><dt>{}</dt><dd>{}</dd></div>", esc(k), esc(&v))?;
    }
    writeln!(o, "</dl></section>")
}

fn sources(o: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(o, "<section id=\"sources\"><h2>Data sources</h2><ul>")?;
    let mut figures: BTreeSet<(String, String)> = BTreeSet::new();
    let mut probes: BTreeSet<String> = BTreeSet::new();
    let mut notes: BTreeSet<String> = BTreeSet::new();
    let mut rates: Vec<f64> = Vec::new();
    for p in &r.points {
        for (figure, source) in &p.summary.sources {
            figures.insert((figure.clone(), json_word(source)));
        }
        for run in &p.measured.runs {
            probes.extend(run.probes_injected.iter().map(json_word));
            notes.extend(run.probe_notes.iter().cloned());
            if let Some(c) = &run.counters {
                notes.extend(c.unavailable.iter().cloned());
            }
            if let Some(s) = &run.sampled {
                rates.push(s.achieved_hz);
            }
        }
    }
    o.push_str("<li>wall time: the runner (release at the pre-exec barrier to the last descendant reaped)</li>");
    for (figure, source) in &figures {
        write!(o, "<li><code>{}</code>: {}</li>", esc(figure), esc(source))?;
    }
    if let (Some(lo), Some(hi)) = (
        rates.iter().copied().reduce(f64::min),
        rates.iter().copied().reduce(f64::max),
    ) {
        write!(o, "<li>procfs sampler: {lo:.0}–{hi:.0} Hz achieved</li>")?;
    }
    let probes: Vec<String> = probes.into_iter().collect();
    write!(
        o,
        "<li>probes injected: {}</li>",
        if probes.is_empty() {
            "none".into()
        } else {
            esc(&probes.join(", "))
        }
    )?;
    for n in &notes {
        write!(o, "<li class=\"note\">{}</li>", esc(n))?;
    }
    writeln!(o, "</ul></section>")
}

const CSS: &str = "\
:root{color-scheme:light;--ink:#222;--mute:#666;--line:#ddd;--yes:#0a7f5a;--no:#555;--unk:#b36b00}\
body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:var(--ink);background:#fafafa}\
main{max-width:960px;margin:0 auto;padding:16px 20px 48px;background:#fff}\
h1{font-size:24px;margin:8px 0 4px}h2{font-size:19px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}\
h3{font-size:16px;margin:16px 0 6px}code{font:13px/1.4 ui-monospace,Menlo,Consolas,monospace}\
.cmd code{display:block;white-space:pre-wrap;word-break:break-all;background:#f3f3f3;padding:6px 8px;border-radius:4px}\
.meta,.note,.rule,.measured{color:var(--mute);font-size:13px}\
.verdict{border:2px solid var(--yes);border-radius:8px;padding:10px 16px;background:#f2faf6}\
.verdict dl{display:flex;flex-wrap:wrap;gap:6px 28px;margin:4px 0}.verdict dt{font-size:12px;color:var(--mute)}\
.verdict dd{margin:0;font-size:19px;font-weight:600}\
.todo{font-size:17px;font-weight:600;margin:4px 0 8px}\
.sketch{background:#f3f3f3;border-radius:4px;padding:8px 10px;overflow-x:auto;margin:6px 0 10px}\
.confidence strong{text-transform:uppercase}.confidence.low strong{color:#b00020}.confidence.medium strong{color:var(--unk)}\
.confidence.high strong{color:var(--yes)}.reasons{margin:4px 0;color:var(--mute);font-size:13px}\
.steps{padding-left:22px}.steps li{margin:0 0 12px}.q{font-weight:600}.id{font-family:ui-monospace,monospace;font-weight:400;color:var(--mute)}\
.evidence,.rule,.measured{margin:2px 0}\
.answer{display:inline-block;min-width:56px;text-align:center;border-radius:10px;padding:0 8px;font-size:12px;color:#fff}\
.answer.yes{background:var(--yes)}.answer.no{background:var(--no)}.answer.unknown{background:var(--unk)}\
figure{margin:12px 0 24px}figure svg{display:block;max-width:100%;height:auto;border:1px solid var(--line)}\
figcaption{color:var(--mute);font-size:13px;margin-top:4px}\
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:13px;white-space:nowrap}\
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:right}th{background:#f3f3f3}\
td:nth-child(2),th:nth-child(2){text-align:left}tr.over td{background:#fbf4ec}\
.facts div{display:flex;gap:12px}.facts dt{min-width:240px;color:var(--mute)}.facts dd{margin:0}\
";
