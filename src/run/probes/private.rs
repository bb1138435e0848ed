//! Where the probes' files live: folders only forkcast's user can enter, files created with
//! O_EXCL and mode 0600, so another user can neither read a probe's records nor plant a file or
//! a symlink for forkcast (or the target) to write through.

use anyhow::{bail, Context, Result};
use std::fs::{DirBuilder, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Creates `dir` (and missing parents) with mode 0700 and checks that it is a real folder owned
/// by this user that nobody else can write; an existing one of ours is tightened to 0700.
pub fn dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the probe folder {}", dir.display()))?;
    let meta = std::fs::symlink_metadata(dir)
        .with_context(|| format!("reading the probe folder {}", dir.display()))?;
    let me = crate::run::os::effective_uid();
    if !meta.is_dir() || meta.uid() != me {
        bail!(
            "the probe folder {} is not a folder of this user (uid {me}): remove it or pick another -o DIR",
            dir.display()
        );
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", dir.display()))?;
    }
    Ok(())
}

/// forkcast's folder in the user's cache (`$XDG_CACHE_HOME/forkcast`, else `~/.cache/forkcast`),
/// where the probes' files are written once and serve every later run; None when neither
/// variable is set. Callers make it private with [`dir`] and fall back to the run's own probe
/// folder when that fails (a HOME this user cannot write).
pub fn cache_folder() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("forkcast"))
}

/// Creates a new file, mode 0600; fails if anything (a file, a symlink) is already there.
pub fn new_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_files_are_private_and_never_written_through_what_is_there() {
        let base = std::env::temp_dir().join(format!("forkcast-private-{}", std::process::id()));
        let d = base.join("probes");
        dir(&d).unwrap();
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        let f = d.join("x.bin");
        new_file(&f).unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
        assert!(
            new_file(&f).is_err(),
            "O_EXCL: an existing file is not reused"
        );
        let link = d.join("link.bin");
        std::os::unix::fs::symlink(base.join("target"), &link).unwrap();
        assert!(
            new_file(&link).is_err(),
            "O_EXCL: a planted symlink is not followed"
        );
        assert!(!base.join("target").exists());
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        dir(&d).unwrap();
        assert_eq!(
            std::fs::metadata(&d).unwrap().mode() & 0o777,
            0o700,
            "tightened"
        );
        std::fs::remove_dir_all(&base).unwrap();
    }
}
