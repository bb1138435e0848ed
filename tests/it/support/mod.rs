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

/// The forkcast binary under test.
pub fn forkcast() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_forkcast"))
}

/// What a finished forkcast call left behind.
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The call, for failure messages.
    pub described: String,
}

impl Outcome {
    /// Panics with the command, stdout and stderr when `cond` is false.
    #[track_caller]
    pub fn expect(&self, cond: bool, what: &str) {
        assert!(
            cond,
            "{what}\n--- command: {}\n--- exit: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.described, self.code, self.stdout, self.stderr
        );
    }
}

/// Runs forkcast with `args` to completion.
pub fn run_forkcast(args: &[&str]) -> Outcome {
    let mut cmd = forkcast();
    cmd.args(args);
    let out = cmd.output().expect("forkcast binary runs");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        described: format!("forkcast {}", args.join(" ")),
    }
}

/// A fresh, empty folder under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("forkcast-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn str(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads a report.json and checks it against the shared contract checker when available.
pub fn read_report(dir: &std::path::Path) -> serde_json::Value {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    check_contract(&path);
    serde_json::from_str(&text).expect("report.json is JSON")
}

/// Runs ../shared/tools/check_report.py (the contract's checker) on a report, when present.
pub fn check_contract(path: &std::path::Path) {
    let checker = repo_root().join("../shared/tools/check_report.py");
    let checker = if checker.exists() {
        checker
    } else {
        repo_root().join("tests/contract/check_report.py")
    };
    let out = std::process::Command::new(python())
        .arg(&checker)
        .arg(path)
        .output()
        .expect("python runs the contract checker");
    assert!(
        out.status.success(),
        "{} breaks the contract:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}
