//! Helpers shared by the integration tests: paths, the lab interpreter, running the real binary.

pub mod postgres;

use std::path::PathBuf;

/// The repository root (where Cargo.toml lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python interpreter the labs run under: `FORKCAST_TEST_PYTHON`, else the venv that
/// `scripts/test` creates. A real interpreter path, never the pyenv shell shim.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("FORKCAST_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no lab interpreter: run scripts/test (it creates .venv) or set FORKCAST_TEST_PYTHON"
    );
    venv
}
