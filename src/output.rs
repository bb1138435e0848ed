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

/// Removes whatever an earlier, killed attempt at run `label` left in `runs_dir` (its probe
/// folder, its saved output), so the run is made again from a clean folder of its own: probe
/// files are created with O_EXCL and must not meet a stale one. Nothing is followed: a symlink
/// is removed itself, never what it points at, and a `runs_dir` that is not a real folder is
/// refused, so nothing outside the output folder is ever removed.
pub fn clear_stale_run(runs_dir: &Path, label: &str) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(runs_dir)?;
    if !meta.is_dir() {
        anyhow::bail!(
            "{} is not a folder (a symlink?): remove it or pick another -o DIR",
            runs_dir.display()
        );
    }
    let leftovers = [
        label.to_string(),
        format!("{label}.stdout"),
        format!("{label}.stderr"),
        format!("{label}.capped"),
    ];
    for name in leftovers {
        let path = runs_dir.join(name);
        let removed = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => Err(e),
            // remove_dir_all does not follow symlinks inside the folder either.
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
        };
        removed.map_err(|e| anyhow::anyhow!("cannot remove the stale {}: {e}", path.display()))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_run_is_cleared_without_following_symlinks_out() {
        let base = std::env::temp_dir().join(format!("forkcast-stale-{}", std::process::id()));
        let runs = base.join("out/runs");
        let outside = base.join("outside");
        std::fs::create_dir_all(runs.join("02-w2-r0/probes")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep"), "x").unwrap();
        std::fs::write(runs.join("02-w2-r0/probes/preload.bin"), "old").unwrap();
        std::os::unix::fs::symlink(&outside, runs.join("02-w2-r0/probes/link")).unwrap();
        std::os::unix::fs::symlink(outside.join("keep"), runs.join("02-w2-r0.stdout")).unwrap();
        std::fs::write(runs.join("01-w1-r0.stdout"), "finished run").unwrap();
        clear_stale_run(&runs, "02-w2-r0").unwrap();
        assert!(!runs.join("02-w2-r0").exists());
        assert!(std::fs::symlink_metadata(runs.join("02-w2-r0.stdout")).is_err());
        assert!(outside.join("keep").exists(), "nothing outside is touched");
        assert!(runs.join("01-w1-r0.stdout").exists(), "other runs stay");
        clear_stale_run(&runs, "03-w4-r0").unwrap();
        let linked = base.join("linked-runs");
        std::os::unix::fs::symlink(&outside, &linked).unwrap();
        assert!(clear_stale_run(&linked, "keep").is_err());
        assert!(outside.join("keep").exists());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
