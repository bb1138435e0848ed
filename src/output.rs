//! The output folder: choosing it, and writing report files atomically so a reader (or an
//! interrupted sweep) never sees a half-written report.

use crate::error::UsageError;
use std::io::Write;
use std::path::Path;

/// Makes sure `dir` can take a report: new, empty, or holding an earlier forkcast report.
pub fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .map_err(|e| UsageError::BadFile(dir.display().to_string(), e.to_string()))?;
        let empty = entries.next().is_none();
        let ours = ["report.json", "raw.json.gz"]
            .iter()
            .any(|f| dir.join(f).exists());
        if !empty && !ours {
            return Err(UsageError::OutputNotEmpty(dir.display().to_string()).into());
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| UsageError::BadFile(dir.display().to_string(), e.to_string()))?;
    Ok(())
}

/// Removes the target's saved output of an earlier sweep in `dir`, before a new sweep.
pub fn clear_old_runs(dir: &Path) -> anyhow::Result<()> {
    let old_runs = dir.join("runs");
    if old_runs.exists() {
        std::fs::remove_dir_all(&old_runs)?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a synced temporary file beside it and a rename, so the
/// file is always either the old or the new version, also after a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    Ok(())
}
