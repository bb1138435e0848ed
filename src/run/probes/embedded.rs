//! The preload library inside forkcast's own binary (build.rs builds probes/preload and embeds
//! it), written out once per build of the probe into a private folder for LD_PRELOAD to load.
//!
//! The file is `libforkcast_preload-<version>-<hash>.so`, so two forkcast versions side by side
//! never share one. Before each use its bytes are compared with the embedded ones; a missing,
//! cut or changed file is written again, to a temporary name and renamed, so a concurrent run, or
//! a target still mapping the old file, never sees half a library.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The release build of probes/preload this forkcast was built with.
pub static LIBRARY: &[u8] = include_bytes!(env!("FORKCAST_PRELOAD_EMBED_PATH"));

/// The written file's name: the version, and the FNV-1a hash build.rs took of the bytes.
pub fn file_name() -> String {
    format!(
        "libforkcast_preload-{}-{}.so",
        env!("CARGO_PKG_VERSION"),
        env!("FORKCAST_PRELOAD_HASH")
    )
}

/// The library in `dir` (a folder `private::dir` has checked), written there unless its bytes
/// already match.
pub fn install_in(dir: &Path) -> Result<PathBuf> {
    let file = dir.join(file_name());
    if std::fs::read(&file).is_ok_and(|have| have == LIBRARY) {
        return Ok(file);
    }
    let tmp = dir.join(format!(".{}.{}", file_name(), std::process::id()));
    let write = || -> std::io::Result<()> {
        let _ = std::fs::remove_file(&tmp);
        let mut f = super::private::new_file(&tmp)?;
        f.write_all(LIBRARY)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &file)
    };
    write()
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
        .with_context(|| format!("writing the preload library to {}", file.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_library_is_written_once_and_rewritten_when_changed() {
        let dir = std::env::temp_dir().join(format!("forkcast-embedded-{}", std::process::id()));
        super::super::private::dir(&dir).unwrap();
        let file = install_in(&dir).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), LIBRARY);
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        let inode = std::fs::metadata(&file).unwrap().ino();
        assert_eq!(install_in(&dir).unwrap(), file);
        assert_eq!(
            std::fs::metadata(&file).unwrap().ino(),
            inode,
            "an intact file is used as it is"
        );
        std::fs::write(&file, &LIBRARY[..LIBRARY.len() / 2]).unwrap();
        install_in(&dir).unwrap();
        assert_eq!(
            std::fs::read(&file).unwrap(),
            LIBRARY,
            "a cut file is rewritten"
        );
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_embedded_library_is_a_shared_object() {
        assert_eq!(&LIBRARY[..4], b"\x7fELF");
        assert!(file_name().starts_with(concat!(
            "libforkcast_preload-",
            env!("CARGO_PKG_VERSION"),
            "-"
        )));
    }
}
