//! The output folder: choosing it, and writing report files atomically so a reader (or an
//! interrupted sweep) never sees a half-written report.

use crate::error::UsageError;
use std::path::Path;

/// Makes sure `dir` can take a report: new, empty, or holding an earlier forkcast report.
pub fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .map_err(|e| UsageError::BadFile(dir.display().to_string(), e.to_string()))?;
        let empty = entries.next().is_none();
        if !empty && !dir.join("report.json").exists() {
            return Err(UsageError::OutputNotEmpty(dir.display().to_string()).into());
        }
        let old_runs = dir.join("runs");
        if old_runs.exists() {
            std::fs::remove_dir_all(&old_runs)?;
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| UsageError::BadFile(dir.display().to_string(), e.to_string()))?;
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
