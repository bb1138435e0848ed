//! Injected probes: prepares the environment that loads them into the target, and reads back
//! what they wrote once the run is over.
//!
//! - `preload`: `libforkcast_preload.so` (probes/preload, embedded in forkcast and written out by
//!   `embedded`) appended to LD_PRELOAD, counting into a shared file named by
//!   `FORKCAST_PRELOAD_OUT`.
//! - `python`: `sitecustomize.py` (probes/python) in a folder put first on PYTHONPATH, recording
//!   into per-process files in the folder named by `FORKCAST_PYTHON_OUT`.
//!
//! Both keep what the target already had: the target's own LD_PRELOAD entries stay (ours goes
//! last, so theirs still wrap what the program calls), and the probe's sitecustomize runs the
//! target's own sitecustomize after itself.

mod embedded;
mod preload;
pub mod private;
mod python;
mod target;

pub use preload::{locate_preload_lib, ENV_PRELOAD_LIB, ENV_PRELOAD_OUT};
pub use python::ENV_PYTHON_OUT;
pub use target::{looks_like_python, target_is_dynamic, target_is_setuid};

use crate::measure::probes::ProbeData;
use anyhow::Result;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

pub use crate::measure::probes::ProbeKind;

/// The probes of one run, ready to inject: the variables to set, and where their data will land.
#[derive(Debug)]
pub struct PreparedProbes {
    env: Vec<(OsString, OsString)>,
    preload_file: Option<PathBuf>,
    python_dir: Option<PathBuf>,
}

/// Sets up `kinds` for one run under `run_dir/probes/`. `base_env` is the environment the target
/// would get without probes (its LD_PRELOAD and PYTHONPATH, if any, are kept). The returned
/// `env()` pairs override those variables for the target.
pub fn prepare(
    kinds: &[ProbeKind],
    run_dir: &Path,
    base_env: &[(OsString, OsString)],
) -> Result<PreparedProbes> {
    let dir = run_dir.join("probes");
    private::dir(&dir)?;
    let mut prepared = PreparedProbes {
        env: Vec::new(),
        preload_file: None,
        python_dir: None,
    };
    if kinds.contains(&ProbeKind::Preload) {
        let lib = locate_preload_lib(Some(&dir))?;
        let file = dir.join("preload.bin");
        preload::create_counter_file(&file, preload::DEFAULT_SLOTS)?;
        let value = chain(
            &lib,
            env_value(base_env, "LD_PRELOAD"),
            Chain::Append,
            "LD_PRELOAD",
        )?;
        prepared.env.push(("LD_PRELOAD".into(), value));
        prepared
            .env
            .push((ENV_PRELOAD_OUT.into(), file.clone().into()));
        prepared.preload_file = Some(file);
    }
    if kinds.contains(&ProbeKind::Python) {
        let (site_dir, out_dir) = python::install(&dir)?;
        let value = chain(
            &site_dir,
            env_value(base_env, "PYTHONPATH"),
            Chain::Prepend,
            "PYTHONPATH",
        )?;
        prepared.env.push(("PYTHONPATH".into(), value));
        prepared
            .env
            .push((ENV_PYTHON_OUT.into(), out_dir.clone().into()));
        prepared.python_dir = Some(out_dir);
    }
    Ok(prepared)
}

impl PreparedProbes {
    /// Variables to set in the target's environment (they replace any of the same name).
    pub fn env(&self) -> &[(OsString, OsString)] {
        &self.env
    }

    /// Reads what the probes wrote. Call after the whole process tree is gone.
    pub fn collect(self) -> Result<ProbeData> {
        Ok(ProbeData {
            preload: self
                .preload_file
                .as_deref()
                .map(preload::read_counter_file)
                .transpose()?,
            python: self
                .python_dir
                .as_deref()
                .map(python::read_records)
                .transpose()?,
        })
    }
}

/// The last value of `name` in `env` (later entries win, as when building a Command).
fn env_value<'a>(env: &'a [(OsString, OsString)], name: &str) -> Option<&'a OsStr> {
    env.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_os_str())
}

enum Chain {
    Append,
    Prepend,
}

/// `existing` with `ours` added once. LD_PRELOAD splits on spaces and colons, PYTHONPATH on
/// colons, so a path holding either cannot be passed and is refused with the reason.
fn chain(ours: &Path, existing: Option<&OsStr>, how: Chain, var: &str) -> Result<OsString> {
    let ours_s = ours.as_os_str();
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(ours_s);
    if bytes
        .iter()
        .any(|&b| b == b':' || (var == "LD_PRELOAD" && b == b' '))
    {
        anyhow::bail!(
            "cannot put {} in {var}: the path contains a separator (':' or ' '); use a run folder without them",
            ours.display()
        );
    }
    let existing = existing.filter(|e| !e.is_empty());
    let Some(existing) = existing else {
        return Ok(ours_s.to_owned());
    };
    let already = std::os::unix::ffi::OsStrExt::as_bytes(existing)
        .split(|&b| b == b':' || (var == "LD_PRELOAD" && b == b' '))
        .any(|part| part == bytes);
    if already {
        return Ok(existing.to_owned());
    }
    let mut out = OsString::new();
    match how {
        Chain::Append => {
            out.push(existing);
            out.push(":");
            out.push(ours_s);
        }
        Chain::Prepend => {
            out.push(ours_s);
            out.push(":");
            out.push(existing);
        }
    }
    Ok(out)
}

/// Text up to the first NUL.
fn c_text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Native-endian integers at a byte offset: probe files never leave the machine that wrote them.
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaining_keeps_the_targets_entries() {
        let ours = Path::new("/x/libp.so");
        let v = chain(
            ours,
            Some(OsStr::new("/a.so /b.so")),
            Chain::Append,
            "LD_PRELOAD",
        )
        .unwrap();
        assert_eq!(v, "/a.so /b.so:/x/libp.so");
        let v = chain(
            ours,
            Some(OsStr::new("/x/libp.so")),
            Chain::Append,
            "LD_PRELOAD",
        )
        .unwrap();
        assert_eq!(v, "/x/libp.so");
        let v = chain(ours, None, Chain::Append, "LD_PRELOAD").unwrap();
        assert_eq!(v, "/x/libp.so");
        let site = Path::new("/run/probes/python");
        let v = chain(
            site,
            Some(OsStr::new("/u:/v")),
            Chain::Prepend,
            "PYTHONPATH",
        )
        .unwrap();
        assert_eq!(v, "/run/probes/python:/u:/v");
        assert!(chain(Path::new("/a b/l.so"), None, Chain::Append, "LD_PRELOAD").is_err());
    }

    #[test]
    fn later_environment_entries_win() {
        let env = vec![
            ("PYTHONPATH".into(), "/first".into()),
            ("PYTHONPATH".into(), "/second".into()),
        ];
        assert_eq!(env_value(&env, "PYTHONPATH"), Some(OsStr::new("/second")));
        assert_eq!(env_value(&env, "LD_PRELOAD"), None);
    }
}
