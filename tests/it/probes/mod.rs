//! The injected probes in real targets: the LD_PRELOAD library and the Python probe load through
//! `run::probes::prepare`, count what the target did, and change nothing it does.
//!
//! Needs the preload library built by this same cargo invocation (`cargo test --workspace` or
//! `cargo nextest run --workspace` build it next to the test binary) and a real CPython
//! (`support::python()`, else what `python3` on PATH resolves to). This file holds the helpers;
//! the tests are in the submodules.

mod behaviour;
mod gil;
mod pools;
mod preload;
mod rows;

use crate::support;
use forkcast::measure::probes::{
    FdKind, IoDir, PreloadProcess, ProbeData, PythonData, PythonProcess,
};
use forkcast::run::probes::{self, ProbeKind};
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BOTH: &[ProbeKind] = &[ProbeKind::Preload, ProbeKind::Python];

/// A real interpreter: the suite's lab interpreter when one is set up, else the one that
/// `python3` on PATH really runs (not a pyenv shell shim).
fn python() -> PathBuf {
    let venv = support::repo_root().join(".venv/bin/python");
    if std::env::var_os("FORKCAST_TEST_PYTHON").is_some() || venv.exists() {
        return support::python();
    }
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("no python3 on PATH: set FORKCAST_TEST_PYTHON");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A scratch folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("forkcast-it-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child killed on drop, so a failing test never leaves a process tree behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one run of a script produced.
struct Ran {
    pid: i32,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// The last stdout line, parsed as the JSON summary the scripts print.
    fn summary(&self) -> Value {
        serde_json::from_str(self.stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| {
            panic!(
                "no JSON summary ({e}); stdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `python script args` in `dir` with exactly `env` on top of the test's environment (minus
/// any LD_PRELOAD/PYTHONPATH/FORKCAST_* it had); stdout and stderr go to files.
fn run_script(dir: &Path, script: &Path, args: &[&str], env: &[(OsString, OsString)]) -> Ran {
    let tag = unique();
    let (out_path, err_path) = (
        dir.join(format!("out-{tag}")),
        dir.join(format!("err-{tag}")),
    );
    let mut cmd = Command::new(python());
    cmd.arg(script).args(args).current_dir(dir);
    for var in [
        "LD_PRELOAD",
        "PYTHONPATH",
        probes::ENV_PRELOAD_OUT,
        probes::ENV_PYTHON_OUT,
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = Running(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}")),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "{cmd:?} ran over 120 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    let ran = Ran {
        pid: child.0.id() as i32,
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
    };
    assert_eq!(
        ran.code,
        Some(0),
        "{cmd:?} failed\nstdout:\n{}\nstderr:\n{}",
        ran.stdout,
        ran.stderr
    );
    ran
}

/// A number no other call in this test process returns.
fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs the script with `kinds` injected (on top of `base_env`) and collects what they wrote.
fn run_probed(
    scratch: &Scratch,
    kinds: &[ProbeKind],
    script: &Path,
    args: &[&str],
    base_env: &[(OsString, OsString)],
) -> (Ran, ProbeData) {
    let run_dir = scratch.0.join(format!("run-{}", unique()));
    let prepared = probes::prepare(kinds, &run_dir, base_env).unwrap();
    let mut env = base_env.to_vec();
    env.extend(prepared.env().iter().cloned());
    let ran = run_script(&scratch.0, script, args, &env);
    let data = prepared.collect().unwrap();
    (ran, data)
}

fn preload_of(data: &ProbeData, pid: i32) -> &PreloadProcess {
    let pre = data.preload.as_ref().expect("preload data");
    pre.processes
        .iter()
        .find(|p| p.pid == pid && !p.forked)
        .unwrap_or_else(|| panic!("no preload slot for pid {pid}: {pre:#?}"))
}

fn preload_children(data: &ProbeData, pid: i32) -> Vec<&PreloadProcess> {
    let pre = data.preload.as_ref().expect("preload data");
    pre.processes.iter().filter(|p| p.ppid == pid).collect()
}

/// Bytes of `kind` in direction `dir` over the given processes.
fn io_bytes<'a>(
    procs: impl IntoIterator<Item = &'a PreloadProcess>,
    kind: FdKind,
    dir: IoDir,
) -> u64 {
    procs
        .into_iter()
        .flat_map(|p| &p.rows)
        .filter(|r| r.kind == kind && r.dir == dir)
        .map(|r| r.bytes)
        .sum()
}

fn python_data(data: &ProbeData) -> &PythonData {
    data.python.as_ref().expect("python data")
}

fn python_of(data: &ProbeData, pid: i32) -> &PythonProcess {
    let py = python_data(data);
    py.processes
        .iter()
        .find(|p| p.pid == pid)
        .unwrap_or_else(|| panic!("no python record for pid {pid}: {py:#?}"))
}

fn with_role<'a>(data: &'a ProbeData, role: &str) -> Vec<&'a PythonProcess> {
    python_data(data)
        .processes
        .iter()
        .filter(|p| p.role == role)
        .collect()
}

#[track_caller]
fn assert_close(what: &str, got: u64, want: u64, tolerance: f64) {
    let err = (got as f64 - want as f64).abs() / want as f64;
    assert!(
        err <= tolerance,
        "{what}: got {got}, want {want} (off by {:.2} %)",
        err * 100.0
    );
}
