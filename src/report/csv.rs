//! One row per point, for spreadsheets and dashboards: the summary's figures in their units,
//! an empty cell where a figure was not measured.

use super::{Exporter, Report};
use crate::analyze::accounting::Accounting;
use crate::analyze::point::PointSummary;
use std::fmt::Write;

pub struct Csv;

/// Reads one figure of a point's summary.
type Figure = fn(&PointSummary) -> Option<f64>;

/// The figure columns after `workers` and the params, each a summary field in its unit.
const COLUMNS: [(&str, Figure); 14] = [
    ("wall_s", |s| s.wall_s),
    ("wall_min_s", |s| s.wall_min_s),
    ("wall_max_s", |s| s.wall_max_s),
    ("wall_stddev_s", |s| s.wall_stddev_s),
    ("speedup", |s| s.speedup),
    ("efficiency", |s| s.efficiency),
    ("cpu_s", |s| s.cpu_s),
    ("busy_cores", |s| s.busy_cores),
    ("cpu_utilization", |s| s.cpu_utilization),
    ("runqueue_share", |s| s.runqueue_share),
    ("straggler_tail", |s| s.straggler_tail),
    ("ipc_bytes_per_task", |s| {
        s.probes.as_ref().and_then(|p| p.ipc_bytes_per_task)
    }),
    ("ipc_tax", |s| s.probes.as_ref().and_then(|p| p.ipc_tax)),
    ("pss_bytes_per_worker", |s| s.pss_bytes_per_worker),
];

/// Reads one figure of a point's accounting.
type AccountingFigure = fn(&Accounting) -> Option<f64>;

/// The accounting's figures (mean over runs), after the summary's columns.
const ACCOUNTING: [(&str, AccountingFigure); 4] = [
    ("useful_cores", |a| Some(a.useful_cores.value)),
    ("computation_scaling", |a| {
        a.computation_scaling.map(|f| f.value)
    }),
    ("baseline_efficiency", |a| {
        a.baseline_efficiency.map(|f| f.value)
    }),
    ("accounting_speedup", |a| a.speedup.map(|f| f.value)),
];

/// Every cause any point's accounting lists, in its order (a column each).
fn lost_causes(r: &Report) -> Vec<String> {
    let mut causes: Vec<String> = Vec::new();
    for a in r
        .points
        .iter()
        .filter_map(|p| p.summary.accounting.as_ref())
    {
        for c in a.lost_cores.keys() {
            if !causes.contains(c) {
                causes.push(c.clone());
            }
        }
    }
    causes
}

impl Exporter for Csv {
    fn serialize(&self, r: &Report) -> anyhow::Result<Vec<u8>> {
        let params: Vec<&String> = r.params.keys().collect();
        let mut header: Vec<String> = vec!["workers".into()];
        header.extend(params.iter().map(|p| field(p)));
        header.extend(COLUMNS.iter().map(|(name, _)| name.to_string()));
        header.extend(["runs_ok", "runs_failed", "oversubscribed"].map(String::from));
        let causes = lost_causes(r);
        header.extend(ACCOUNTING.iter().map(|(name, _)| name.to_string()));
        header.extend(causes.iter().map(|c| field(&format!("lost_cores_{c}"))));
        let mut o = header.join(",");
        o.push('\n');
        for p in &r.points {
            let s = p.summary;
            let mut row: Vec<String> = vec![p.measured.workers.to_string()];
            row.extend(
                params
                    .iter()
                    .map(|k| field(p.measured.params.get(*k).map_or("", String::as_str))),
            );
            row.extend(
                COLUMNS
                    .iter()
                    // + 0.0 turns a -0 into 0.
                    .map(|(_, get)| get(s).map_or(String::new(), |v| (v + 0.0).to_string())),
            );
            row.extend([
                s.runs_ok.to_string(),
                s.runs_failed.to_string(),
                s.oversubscribed.to_string(),
            ]);
            let acc = s.accounting.as_ref();
            row.extend(ACCOUNTING.iter().map(|(_, get)| {
                acc.and_then(get)
                    .map_or(String::new(), |v| (v + 0.0).to_string())
            }));
            row.extend(causes.iter().map(|c| {
                acc.and_then(|a| a.lost_cores.get(c))
                    .map_or(String::new(), |f| (f.value + 0.0).to_string())
            }));
            writeln!(o, "{}", row.join(","))?;
        }
        Ok(o.into_bytes())
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_with_separators_are_quoted_and_quotes_doubled() {
        assert_eq!(field("processes"), "processes");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
    }
}
