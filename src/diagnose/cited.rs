//! Every figure an answer's evidence prints must be one its report holds: the step's measured
//! values, the points' summaries, the worker counts, the host's cores, the threshold. A check,
//! used by the tests on hand-built analyses and on every recording.

use serde_json::Value;

/// Every number anywhere in a JSON value.
pub fn numbers_in(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Number(n) => out.extend(n.as_f64()),
        Value::Array(xs) => xs.iter().for_each(|x| numbers_in(x, out)),
        Value::Object(o) => o.values().for_each(|x| numbers_in(x, out)),
        _ => {}
    }
}

/// `text` without the strings of `v` (a resource's name, a parameter's value): the digits in
/// `unix:/tmp/pg-17263/.s.PGSQL.5432` are a name the step cites, not a figure.
pub fn without_names(text: &str, v: &Value) -> String {
    fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(xs) => xs.iter().for_each(|x| strings(x, out)),
            Value::Object(o) => o.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    let mut names = Vec::new();
    strings(v, &mut names);
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    names
        .into_iter()
        .filter(|n| n.len() > 2)
        .fold(text.to_string(), |t, n| t.replace(n, " "))
}

/// The numbers of `text` that none of `known` gives at the printed precision, as is or as a
/// percentage, milliseconds, KiB, MiB or GiB.
pub fn uncited(text: &str, known: &[f64]) -> Vec<f64> {
    const SCALES: [f64; 6] = [
        1.0,
        100.0,
        1e3,
        1.0 / 1024.0,
        1.0 / 1048576.0,
        1.0 / 1073741824.0,
    ];
    numbers(text)
        .into_iter()
        .filter(|&(x, decimals)| {
            let unit = 10f64.powi(-(decimals as i32));
            !known
                .iter()
                .any(|v| SCALES.iter().any(|s| (v * s - x).abs() <= unit + 1e-9))
        })
        .map(|(x, _)| x)
        .collect()
}

/// The numbers of a text with their decimals; digits glued to a letter (p99, sha256) are names.
pub fn numbers(text: &str) -> Vec<(f64, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let glued = i > 0 && (b[i - 1].is_ascii_alphabetic() || b[i - 1] == b'_');
        if b[i].is_ascii_digit() && !glued {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            let token = text[start..i].trim_end_matches('.');
            let decimals = token.split_once('.').map_or(0, |(_, d)| d.len());
            let negative = start > 0 && b[start - 1] == b'-';
            if let Ok(x) = token.parse::<f64>() {
                out.push((if negative { -x } else { x }, decimals));
            }
        } else if b[i].is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_with_their_decimals_and_names_are_skipped() {
        assert_eq!(
            numbers("took 12.5 ms at p99, -0.21 of 3 (sha256)."),
            vec![(12.5, 1), (-0.21, 2), (3.0, 0)]
        );
    }

    #[test]
    fn a_figure_is_cited_as_is_as_a_percentage_or_in_milliseconds() {
        let known = [0.4213, 0.0125, 2.0];
        assert!(uncited("42 % at 2 workers, 12.5 ms", &known).is_empty());
        assert_eq!(uncited("speedup 7.77", &known), vec![7.77]);
    }
}
