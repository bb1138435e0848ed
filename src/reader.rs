//! Reading a saved report back into Measurements: one function over bytes, so `forkcast report`,
//! `forkcast diff` and the fuzzer (fuzz/fuzz_targets/report_reader.rs) share every check.

use crate::error::UsageError;
use crate::measure::Measurements;
use crate::report::SCHEMA_VERSION;
use serde::Deserialize;

/// The one field read before anything else, so a newer report is named as newer rather than as
/// a report missing fields this forkcast expects.
#[derive(Deserialize)]
struct Version {
    schema_version: Option<serde_json::Value>,
}

/// Parses a saved report (`report.json`, or the raw measurements file) named `name` in errors.
/// Never panics: every malformed input is a `UsageError` naming the problem and the fix.
pub fn parse_report(bytes: &[u8], name: &str) -> Result<Measurements, UsageError> {
    let not_report = |why: String| UsageError::NotAReport(name.to_string(), why);
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        not_report(if e.is_eof() {
            format!("it ends early ({e}); it may be truncated")
        } else {
            format!("it is not valid JSON ({e})")
        })
    })?;
    if !value.is_object() {
        return Err(not_report("it is not a JSON object".into()));
    }
    let version = Version::deserialize(&value)
        .map_err(|e| not_report(e.to_string()))?
        .schema_version;
    match version.as_ref().map(|v| v.as_u64()) {
        // The raw measurements file carries no schema_version; report.json always does.
        None => {}
        Some(Some(v)) if v > u64::from(SCHEMA_VERSION) => {
            let v = u32::try_from(v).unwrap_or(u32::MAX);
            return Err(UsageError::NewerReport(name.to_string(), v, SCHEMA_VERSION));
        }
        Some(Some(v)) if v >= 1 => {}
        Some(_) => {
            return Err(not_report(format!(
                "its schema_version is {}, not a version forkcast wrote",
                version.unwrap_or_default()
            )))
        }
    }
    let m = Measurements::deserialize(&value).map_err(|e| not_report(e.to_string()))?;
    if m.points.is_empty() {
        return Err(not_report("it has no points".into()));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(bytes: &[u8]) -> String {
        parse_report(bytes, "r.json").unwrap_err().to_string()
    }

    #[test]
    fn malformed_reports_are_named_by_what_is_wrong() {
        assert!(why(b"").contains("ends early"));
        assert!(why(b"{\"schema_version\": 1, \"host\"").contains("truncated"));
        assert!(why(b"not json").contains("not valid JSON"));
        assert!(why(b"[1, 2]").contains("not a JSON object"));
        assert!(why(b"{\"schema_version\": 9}").contains("newer forkcast"));
        assert!(why(b"{\"schema_version\": \"one\"}").contains("schema_version"));
        assert!(why(b"{\"schema_version\": 0}").contains("schema_version"));
        assert!(why(b"{\"schema_version\": 1}").contains("missing field"));
    }
}
