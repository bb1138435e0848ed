//! Helpers shared by the integration tests: paths, the lab interpreter, running the real binary,
//! and reading what it reported.

pub mod chromium;
pub mod postgres;

use forkcast::diagnose::StepId;
use serde_json::Value;
use std::path::{Path, PathBuf};

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

/// The interpreter of the engine labs (07-10: joblib, Dask, Ray): `FORKCAST_TEST_ENGINES_PYTHON`,
/// else the venv that `scripts/venv.sh --engines` creates. Missing, the engine tests fail and
/// say how to make it: an engine that cannot run is a failure here, never a skip.
pub fn engines_python() -> PathBuf {
    if let Some(p) = std::env::var_os("FORKCAST_TEST_ENGINES_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv-engines/bin/python");
    assert!(
        venv.exists(),
        "no engine interpreter: run `bash scripts/venv.sh --engines` (scripts/test does) or set \
         FORKCAST_TEST_ENGINES_PYTHON"
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

/// Runs forkcast with `args` and these environment variables set, to completion.
pub fn run_forkcast_env(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = forkcast();
    cmd.args(args).envs(env.iter().copied());
    let out = cmd.output().expect("forkcast binary runs");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        described: format!("COLUMNS etc. {env:?} forkcast {}", args.join(" ")),
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

/// Reads a report.json and checks it against the contract checker (tests/contract/) and
/// against the JSON Schema that `forkcast schema` prints.
pub fn read_report(dir: &std::path::Path) -> serde_json::Value {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    check_contract(&path);
    let report: Value = serde_json::from_str(&text).expect("report.json is JSON");
    check_schema(&report, &path.display().to_string());
    report
}

/// The raw measurements beside a report (raw.json.gz's `measurements`): the sampler's processes,
/// threads and ticks, which the lean report.json leaves out. Its `points[i].runs[j]` are
/// report.json's, in the same order.
pub fn read_raw(dir: &Path) -> Value {
    read_raw_file(dir)["measurements"].take()
}

/// The whole raw.json.gz beside a report, wrapper included (format, schema, status).
pub fn read_raw_file(dir: &Path) -> Value {
    let path = dir.join("raw.json.gz");
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("no raw file at {}: {e}", path.display()));
    let raw: Value = serde_json::from_reader(flate2::read::GzDecoder::new(file))
        .unwrap_or_else(|e| panic!("{} is not gzip JSON: {e}", path.display()));
    assert_eq!(
        raw["format"],
        "forkcast-raw",
        "{} is a raw file",
        path.display()
    );
    raw
}

/// Validates a report against `forkcast schema` (generated once per test binary).
#[track_caller]
pub fn check_schema(report: &Value, what: &str) {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let out = run_forkcast(&["schema"]);
        out.expect(out.code == Some(0), "forkcast schema runs");
        let schema: Value = serde_json::from_str(&out.stdout).expect("the schema is JSON");
        jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
    });
    let errors: Vec<String> = validator
        .iter_errors(report)
        .take(10)
        .map(|e| format!("  {} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match `forkcast schema`:\n{}",
        errors.join("\n")
    );
}

/// Runs tests/contract/check_report.py (the contract's checker) on a report.
pub fn check_contract(path: &std::path::Path) {
    let checker = repo_root().join("tests/contract/check_report.py");
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

/// Splits a fixed list of words on whitespace, so a call reads like the command a user types:
/// `words("-w 1,2 --runs 1 --warmup 0")`. Paths and DSNs, which may hold spaces, go in whole.
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// A file under fixtures/, as an argument: `fixture_path("workloads/socket_wait.py")`.
pub fn fixture_path(rel: &str) -> String {
    repo_root().join("fixtures").join(rel).display().to_string()
}

/// A lab script under fixtures/labs/, as an argument.
pub fn lab_path(name: &str) -> String {
    fixture_path(&format!("labs/{name}"))
}

/// `PYTHON SCRIPT OPTIONS...`: a Python script under the lab interpreter, `options` split on
/// whitespace.
pub fn python_command(script: &str, options: &str) -> Vec<String> {
    let mut argv = vec![python().display().to_string(), script.to_string()];
    argv.extend(words(options).into_iter().map(String::from));
    argv
}

/// `PYTHON fixtures/labs/NAME OPTIONS...`: a lab's command line.
pub fn lab_command(name: &str, options: &str) -> Vec<String> {
    python_command(&lab_path(name), options)
}

/// Lab 06 (CPU workers feeding PostgreSQL) writing through `sink` to the database at `dsn`,
/// short size. The DSN holds spaces, so it stays one argument.
pub fn lab06_command(sink: &str, dsn: &str) -> Vec<String> {
    let mut argv = lab_command(
        "06_pipeline_cpu_procs_to_postgres_writer.py",
        &format!("--sink {sink} --dsn"),
    );
    argv.push(dsn.to_string());
    argv.extend(["--workers", "{workers}", "--size", "short"].map(String::from));
    argv
}

/// The arguments of `forkcast run -q -o OUT OPTIONS -- TARGET`.
pub fn run_args(out: &str, options: &[&str], target: &[impl AsRef<str>]) -> Vec<String> {
    let mut args: Vec<String> = ["run", "-q", "-o", out].map(String::from).to_vec();
    args.extend(options.iter().map(|o| o.to_string()));
    args.push("--".to_string());
    args.extend(target.iter().map(|t| t.as_ref().to_string()));
    args
}

/// Runs `forkcast run -q -o DIR OPTIONS -- TARGET` to completion, whatever its exit.
pub fn run_quietly(dir: &TempDir, options: &[&str], target: &[impl AsRef<str>]) -> Outcome {
    let args = run_args(&dir.str(), options, target);
    run_forkcast(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Runs `forkcast run -q -o DIR OPTIONS -- TARGET` into a fresh folder; the sweep must succeed.
/// Returns the folder (removed on drop) and its report.
#[track_caller]
pub fn sweep(tag: &str, options: &[&str], target: &[impl AsRef<str>]) -> (TempDir, Value) {
    let dir = TempDir::new(tag);
    let out = run_quietly(&dir, options, target);
    out.expect(out.code == Some(0), "the sweep succeeds");
    let report = read_report(dir.path());
    (dir, report)
}

/// The point measured with parameter `mode` at `workers` workers.
pub fn point<'a>(report: &'a Value, mode: &str, workers: u64) -> &'a Value {
    report["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["params"]["mode"] == mode && p["workers"] == workers)
        .unwrap_or_else(|| panic!("no point mode={mode} workers={workers}"))
}

/// The summary of the point at `workers` workers.
pub fn summary_at(report: &Value, workers: u64) -> &Value {
    let p = report["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["workers"] == workers)
        .expect("point exists");
    &p["summary"]
}

/// The diagnosis step with this `id`.
pub fn step(report: &Value, id: StepId) -> &Value {
    report["diagnosis"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .expect("step exists")
}

/// A report number, or a panic naming `what` and the value found instead.
pub fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

/// A file the report names relative to its folder `dir` (a run's `stdout_file`, `stderr_file`).
pub fn saved_text(dir: &Path, file: &Value) -> String {
    let path = dir.join(file.as_str().expect("a file name"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("no {}: {e}", path.display()))
}
