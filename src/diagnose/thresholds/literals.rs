//! The steps read every threshold from the table: a test scans the steps' code
//! (src/diagnose/steps/, findings.rs and confidence.rs, up to each file's `#[cfg(test)]`) for
//! number literals and fails on any that is not a unit or a count that names no threshold.
//!
//! What it catches: a literal written into a step's decision or figures (`share >= 0.7`, a
//! local `const BAR: f64 = 0.3`, `0.99` as a clamp). What it lets through, by design: 0, 1 and 2
//! (nothing, one, the fewest workers that run in parallel), the unit factors 100 (percent),
//! 1e3 (ms), 1024, 1048576 and 1073741824 (KiB, MiB, GiB), and the places of `round(x, 3)`.
//! What it cannot see: numbers in strings and comments, a threshold computed from allowed
//! literals (`1.0 / 2.0`), and the arithmetic in analyze/, which it does not scan.

/// Literals that are units or counts, never thresholds.
const ALLOWED: [f64; 8] = [0.0, 1.0, 2.0, 100.0, 1e3, 1024.0, 1048576.0, 1073741824.0];

/// The code of a file with its comments and string literals blanked (newlines kept, so line
/// numbers hold), up to its `#[cfg(test)]`.
fn code_only(src: &str) -> String {
    let src = src.split("#[cfg(test)]").next().unwrap_or("");
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &src[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |e| e + 2);
            out.extend(rest[..end].chars().filter(|&c| c == '\n'));
            i += end;
        } else if b[i] == b'"' {
            // A string: skip to its closing quote, escapes included.
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            out.extend(src[i..j.min(b.len())].chars().filter(|&c| c == '\n'));
            out.push_str("\"\"");
            i = j + 1;
        } else if rest.starts_with("'\"'") {
            i += 3;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// (line, literal) of every number literal in `src`'s code that `ALLOWED` does not hold.
pub fn unlisted_literals(src: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in code_only(src).lines().enumerate() {
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let prev = if i > 0 { b[i - 1] } else { b' ' };
            let glued = prev.is_ascii_alphanumeric() || prev == b'_' || prev == b'.';
            if !b[i].is_ascii_digit() || glued {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                i += 1;
            }
            // A fraction, not a range (`0..n`) or a method call (`1.max(..)`).
            if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i + 1 < b.len() && (b[i] == b'e' || b[i] == b'E') && b[i + 1].is_ascii_digit() {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let literal = line[start..i].replace('_', "");
            // A type suffix (`2u32`, `0.5f64`) belongs to the literal.
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let value: f64 = literal.parse().unwrap_or(f64::NAN);
            let places = line[..start].contains("round(")
                && line[..start].trim_end().ends_with(',')
                && line[i..].trim_start().starts_with(')')
                && !literal.contains('.');
            if !places && !ALLOWED.contains(&value) {
                found.push((n + 1, literal));
            }
        }
    }
    found
}

#[test]
fn a_planted_threshold_is_caught_and_units_comments_strings_and_tests_are_not() {
    let src = r#"
        // A comment with 0.3 in it.
        let big = x >= 0.3; // and 0.4 here
        let kib = b / 1024.0;
        let pct = share * 100.0;
        let r = round(w, 3);
        let s = format!("{:.1} %, 95 % interval", x);
        let range = 0..n;
        let t = pair.1;
        let two = n >= 2;
        const BAR: f64 = 0.25;
        let clamp = x.min(0.99);
        let typed = 5u32;
        #[cfg(test)]
        mod tests { const X: f64 = 0.42; }
    "#;
    assert_eq!(
        unlisted_literals(src),
        vec![
            (3, "0.3".to_string()),
            (11, "0.25".to_string()),
            (12, "0.99".to_string()),
            (13, "5".to_string()),
        ]
    );
}

#[test]
fn the_steps_take_every_threshold_from_the_table() {
    let diagnose = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/diagnose");
    let mut files: Vec<_> = std::fs::read_dir(diagnose.join("steps"))
        .expect("src/diagnose/steps")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "the eight steps: {files:?}");
    // The other readers of the table.
    files.extend(["findings.rs", "confidence.rs"].map(|f| diagnose.join(f)));
    let mut unlisted = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).expect("a step's source");
        for (line, literal) in unlisted_literals(&src) {
            unlisted.push(format!("{}:{line}: {literal}", f.display()));
        }
    }
    assert!(
        unlisted.is_empty(),
        "numbers in the steps that are not in the threshold table (src/diagnose/thresholds.rs); \
         add a row there and read it:\n{}",
        unlisted.join("\n")
    );
}
