//! `forkcast diff base new`: two saved sweeps compared point by point. A change counts only
//! beyond the noise: when the runs' min..max ranges of the two sides do not overlap.

use crate::analyze::Analysis;
use crate::diagnose::Diagnosis;
use crate::measure::Measurements;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// What `forkcast diff --format` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
    Markdown,
}

/// The rule, printed with every diff so nobody has to guess it.
const NOISE_RULE: &str = "medians over the measured runs; a change counts when the two sides' \
                          min..max ranges do not overlap, otherwise it is within the noise";

/// One analysed sweep.
pub struct Side<'a> {
    m: &'a Measurements,
    a: &'a Analysis,
    d: &'a Diagnosis,
    name: String,
}

impl<'a> Side<'a> {
    pub fn new(m: &'a Measurements, a: &'a Analysis, d: &'a Diagnosis, path: &Path) -> Self {
        Side {
            m,
            a,
            d,
            name: path.display().to_string(),
        }
    }
}

/// Which way a figure moved, judged against the noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Increased,
    Decreased,
    WithinNoise,
}

/// One figure on both sides with its spread.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub base: f64,
    pub base_range: [f64; 2],
    pub new: f64,
    pub new_range: [f64; 2],
    /// (new - base) / base, in percent.
    pub change_pct: f64,
    pub verdict: Verdict,
    /// Both sides had two or more successful runs; with one run a side's range is a single
    /// value, so any difference counts as beyond the noise.
    pub noise_measured: bool,
}

impl Change {
    fn new(base: f64, base_range: [f64; 2], new: f64, new_range: [f64; 2], noise: bool) -> Self {
        let verdict = if new_range[0] > base_range[1] {
            Verdict::Increased
        } else if new_range[1] < base_range[0] {
            Verdict::Decreased
        } else {
            Verdict::WithinNoise
        };
        Change {
            base,
            base_range,
            new,
            new_range,
            change_pct: (new - base) / base * 100.0,
            verdict,
            noise_measured: noise,
        }
    }
}

/// One (workers, params) point present in both sweeps.
#[derive(Debug, Clone, Serialize)]
pub struct PointDiff {
    pub workers: u32,
    pub params: BTreeMap<String, String>,
    /// Median wall time in seconds; None when a side has no successful run.
    pub wall_s: Option<Change>,
    /// The runs' wall-time standard deviation on each side (base, new), seconds; None with
    /// fewer than two successful runs.
    pub wall_stddev_s: [Option<f64>; 2],
    /// Speedup against the series' smallest count; None at that count (always 1) or when a
    /// side lacks it.
    pub speedup: Option<Change>,
}

/// A point only one sweep measured.
#[derive(Debug, Clone, Serialize)]
pub struct PointKey {
    pub workers: u32,
    pub params: BTreeMap<String, String>,
}

/// A recommendation field (or the confidence) that changed.
#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub base: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub base: String,
    pub new: String,
    pub noise_rule: &'static str,
    /// The two sweeps ran different command templates (the comparison may still be wanted,
    /// e.g. before and after a change of the workload's flags).
    pub commands_differ: bool,
    pub points: Vec<PointDiff>,
    pub only_in_base: Vec<PointKey>,
    pub only_in_new: Vec<PointKey>,
    pub base_recommendation: BTreeMap<String, String>,
    pub recommendation_changes: Vec<FieldChange>,
}

impl Diff {
    /// Some point's wall time grew by more than `pct` percent, beyond the noise.
    pub fn regressed_above(&self, pct: f64) -> bool {
        self.points
            .iter()
            .filter_map(|p| p.wall_s.as_ref())
            .any(|w| w.verdict == Verdict::Increased && w.change_pct > pct)
    }
}

/// Compares `new` against `base`.
pub fn diff(base: Side, new: Side) -> Diff {
    let mut points = Vec::new();
    let mut only_in_base = Vec::new();
    for (i, p) in base.m.points.iter().enumerate() {
        let key = PointKey {
            workers: p.workers,
            params: p.params.clone(),
        };
        match find(&new, &key) {
            Some(j) => points.push(PointDiff {
                wall_s: wall_change(&base, i, &new, j),
                wall_stddev_s: [
                    base.a.points[i].wall_stddev_s,
                    new.a.points[j].wall_stddev_s,
                ],
                speedup: speedup_range(&base, i)
                    .zip(speedup_range(&new, j))
                    .map(|((b, br, bn), (n, nr, nn))| Change::new(b, br, n, nr, bn && nn)),
                workers: key.workers,
                params: key.params,
            }),
            None => only_in_base.push(key),
        }
    }
    let only_in_new = new
        .m
        .points
        .iter()
        .map(|p| PointKey {
            workers: p.workers,
            params: p.params.clone(),
        })
        .filter(|k| find(&base, k).is_none())
        .collect();
    let (b, n) = (verdict_fields(base.d), verdict_fields(new.d));
    let recommendation_changes = b
        .keys()
        .chain(n.keys().filter(|k| !b.contains_key(*k)))
        .filter(|k| b.get(*k) != n.get(*k))
        .map(|k| FieldChange {
            field: k.clone(),
            base: b.get(k).cloned(),
            new: n.get(k).cloned(),
        })
        .collect();
    Diff {
        base: base.name,
        new: new.name,
        noise_rule: NOISE_RULE,
        commands_differ: base.m.command != new.m.command,
        points,
        only_in_base,
        only_in_new,
        base_recommendation: b,
        recommendation_changes,
    }
}

fn find(side: &Side, key: &PointKey) -> Option<usize> {
    side.m
        .points
        .iter()
        .position(|p| p.workers == key.workers && p.params == key.params)
}

fn wall_change(base: &Side, i: usize, new: &Side, j: usize) -> Option<Change> {
    let (b, n) = (&base.a.points[i], &new.a.points[j]);
    Some(Change::new(
        b.wall_s?,
        [b.wall_min_s?, b.wall_max_s?],
        n.wall_s?,
        [n.wall_min_s?, n.wall_max_s?],
        b.runs_ok >= 2 && n.runs_ok >= 2,
    ))
}

/// The speedup at point `i` with its range from the wall ranges of the point and of its
/// series' baseline (slowest baseline over fastest point, and the reverse), and whether both
/// had spread measured.
fn speedup_range(side: &Side, i: usize) -> Option<(f64, [f64; 2], bool)> {
    let series = side.a.series.iter().find(|s| s.points.contains(&i))?;
    let base = *series
        .points
        .iter()
        .find(|&&k| side.a.points[k].wall_s.is_some())?;
    if base == i {
        return None;
    }
    let (p, b) = (&side.a.points[i], &side.a.points[base]);
    let range = [b.wall_min_s? / p.wall_max_s?, b.wall_max_s? / p.wall_min_s?];
    Some((p.speedup?, range, p.runs_ok >= 2 && b.runs_ok >= 2))
}

/// The recommendation's fields and the confidence, as words.
fn verdict_fields(d: &Diagnosis) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = serde_json::to_value(&d.recommendation)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), String::from)))
        .collect();
    out.insert(
        "confidence".into(),
        format!("{:?}", d.confidence).to_lowercase(),
    );
    out
}

/// The diff in `format`.
pub fn export(d: &Diff, format: DiffFormat) -> anyhow::Result<Vec<u8>> {
    Ok(match format {
        DiffFormat::Json => {
            let mut out = serde_json::to_vec_pretty(d)?;
            out.push(b'\n');
            out
        }
        DiffFormat::Text => table(d, false).into_bytes(),
        DiffFormat::Markdown => table(d, true).into_bytes(),
    })
}

fn table(d: &Diff, markdown: bool) -> String {
    let mut o = String::new();
    let header = [
        "workers",
        "params",
        "base wall s (min…max)",
        "new wall s (min…max)",
        "wall change",
        "speedup base → new",
        "speedup change",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for p in &d.points {
        let wall = |c: &Option<Change>, new: bool| {
            c.as_ref().map_or("no successful run".into(), |c| {
                let (v, r) = if new {
                    (c.new, c.new_range)
                } else {
                    (c.base, c.base_range)
                };
                format!("{v:.3} ({:.3}…{:.3})", r[0], r[1])
            })
        };
        rows.push(vec![
            p.workers.to_string(),
            label(&p.params),
            wall(&p.wall_s, false),
            wall(&p.wall_s, true),
            p.wall_s
                .as_ref()
                .map_or("–".into(), |c| change_words(c, "slower", "faster")),
            p.speedup
                .as_ref()
                .map_or("–".into(), |c| format!("{:.2} → {:.2}", c.base, c.new)),
            p.speedup
                .as_ref()
                .map_or("–".into(), |c| change_words(c, "higher", "lower")),
        ]);
    }
    if markdown {
        writeln!(o, "## forkcast diff\n\n`{}` → `{}`\n", d.base, d.new).ok();
        writeln!(o, "| {} |", header.join(" | ")).ok();
        writeln!(o, "|---:|---|---:|---:|---|---:|---|").ok();
        for r in &rows {
            writeln!(o, "| {} |", r.join(" | ").replace('\n', " ")).ok();
        }
        writeln!(o, "\n{}.\n", NOISE_RULE).ok();
    } else {
        writeln!(o, "forkcast diff: {} → {}", d.base, d.new).ok();
        let all: Vec<Vec<String>> = std::iter::once(header.map(String::from).to_vec())
            .chain(rows)
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|c| all.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for r in &all {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:>w$}"))
                .collect();
            writeln!(o, "  {}", cells.join("  ")).ok();
        }
        writeln!(o, "  ({})", NOISE_RULE).ok();
    }
    let bullet = if markdown { "- " } else { "  " };
    if d.commands_differ {
        writeln!(o, "{bullet}note: the two sweeps ran different commands").ok();
    }
    for (what, keys) in [
        ("only in base", &d.only_in_base),
        ("only in new", &d.only_in_new),
    ] {
        for k in keys {
            writeln!(
                o,
                "{bullet}{what}: workers={} {}",
                k.workers,
                label(&k.params)
            )
            .ok();
        }
    }
    if d.recommendation_changes.is_empty() {
        let fields: Vec<String> = d
            .base_recommendation
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(
            o,
            "{bullet}recommendation unchanged: {}",
            fields.join(" · ")
        )
        .ok();
    } else {
        let changes: Vec<String> = d
            .recommendation_changes
            .iter()
            .map(|c| {
                format!(
                    "{} {} → {}",
                    c.field,
                    c.base.as_deref().unwrap_or("(none)"),
                    c.new.as_deref().unwrap_or("(none)")
                )
            })
            .collect();
        writeln!(o, "{bullet}recommendation changed: {}", changes.join("; ")).ok();
    }
    o
}

fn change_words(c: &Change, up: &str, down: &str) -> String {
    let dir = match c.verdict {
        Verdict::Increased => up,
        Verdict::Decreased => down,
        Verdict::WithinNoise => "within noise",
    };
    let note = if c.noise_measured || c.verdict == Verdict::WithinNoise {
        ""
    } else {
        " (1 run: noise not measured)"
    };
    format!("{:+.1} % {dir}{note}", c.change_pct)
}

fn label(params: &BTreeMap<String, String>) -> String {
    if params.is_empty() {
        return "–".into();
    }
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(base: [f64; 2], new: [f64; 2]) -> Change {
        let mid = |r: [f64; 2]| (r[0] + r[1]) / 2.0;
        Change::new(mid(base), base, mid(new), new, true)
    }

    #[test]
    fn overlapping_ranges_are_within_the_noise() {
        let c = wall([1.0, 1.2], [1.1, 1.3]);
        assert_eq!(c.verdict, Verdict::WithinNoise);
        assert!((c.change_pct - 100.0 / 11.0).abs() < 1e-9);
    }

    #[test]
    fn disjoint_ranges_are_a_change_either_way() {
        assert_eq!(wall([1.0, 1.1], [1.2, 1.3]).verdict, Verdict::Increased);
        assert_eq!(wall([1.2, 1.3], [1.0, 1.1]).verdict, Verdict::Decreased);
    }

    #[test]
    fn the_gate_needs_both_the_noise_and_the_threshold() {
        let point = |c: Change| PointDiff {
            workers: 1,
            params: BTreeMap::new(),
            wall_s: Some(c),
            wall_stddev_s: [None, None],
            speedup: None,
        };
        let d = |c: Change| Diff {
            base: "a".into(),
            new: "b".into(),
            noise_rule: NOISE_RULE,
            commands_differ: false,
            points: vec![point(c)],
            only_in_base: vec![],
            only_in_new: vec![],
            base_recommendation: BTreeMap::new(),
            recommendation_changes: vec![],
        };
        // +25 % beyond the noise: fails a 10 % gate, passes a 30 % one.
        let slower = d(wall([1.0, 1.0], [1.25, 1.25]));
        assert!(slower.regressed_above(10.0) && !slower.regressed_above(30.0));
        // +20 % but within the noise: never fails.
        assert!(!d(wall([0.5, 1.5], [0.7, 1.7])).regressed_above(1.0));
        // Faster: never fails.
        assert!(!d(wall([1.2, 1.3], [1.0, 1.1])).regressed_above(0.0));
    }
}
