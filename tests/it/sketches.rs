//! The recommendation's code sketch, replayed from every recording: it parses (Python with
//! `ast.parse`, shell with `sh -n`), and names no pool API the workload did not use.

use crate::support::{python, repo_root, run_forkcast};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Each API's name as a sketch writes it, with the wire name report.json gives it.
const NAMES: &[(&str, &str)] = &[
    ("multiprocessing_pool", "Pool("),
    ("process_pool_executor", "ProcessPoolExecutor"),
    ("thread_pool_executor", "ThreadPoolExecutor"),
    ("thread_pool", "ThreadPool("),
    ("joblib", "joblib"),
    ("dask", "dask"),
    ("ray", "ray."),
    ("make", "make -j"),
    ("xargs", "xargs"),
];

fn recordings() -> Vec<PathBuf> {
    let root = repo_root().join("fixtures/recordings");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("variants"))
        .expect("fixtures/recordings/variants")
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs.insert(0, root.join("lab01"));
    dirs
}

/// Feeds `text` to a checker's stdin; its exit status and stderr.
fn check(mut cmd: Command, text: &str) -> (bool, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the checker starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The "What to do" paragraph and its code block, from the markdown report.
fn what_to_do(markdown: &str) -> Option<(String, Option<(String, String)>)> {
    let start = markdown.find("**What to do:**")?;
    let rest = &markdown[start..];
    let sentence = rest.lines().next()?.to_string();
    let after = &rest[sentence.len()..];
    let block = after.trim_start().strip_prefix("```").and_then(|b| {
        let (lang, body) = b.split_once('\n')?;
        let end = body.find("```")?;
        Some((lang.to_string(), body[..end].to_string()))
    });
    Some((sentence, block))
}

#[test]
fn every_recordings_sketch_parses_and_names_only_the_apis_it_used() {
    let mut with_code = 0;
    let mut shell = 0;
    for dir in recordings() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let out = run_forkcast(&["report", &dir.display().to_string(), "--format", "markdown"]);
        out.expect(out.code == Some(0), "the markdown exporter runs");
        let json = run_forkcast(&["report", &dir.display().to_string(), "--json"]);
        let report: Value = serde_json::from_str(&json.stdout).expect("report JSON");
        let used: Vec<String> = report["points"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["summary"]["apis"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a.as_str().map(String::from))
            .collect();
        let Some((sentence, block)) = what_to_do(&out.stdout) else {
            out.expect(
                used.is_empty() || report["diagnosis"]["recommendation"]["model"].is_null(),
                &format!("{name}: a workload whose API is known gets advice in its terms"),
            );
            continue;
        };
        let text = format!(
            "{sentence}\n{}",
            block.as_ref().map_or("", |(_, code)| code.as_str())
        );
        for (wire, written) in NAMES {
            // ThreadPool( is also in ThreadPoolExecutor's name; Pool( in ThreadPool('s.
            let named = match *wire {
                "thread_pool" => text.contains("ThreadPool(") && !text.contains("Executor"),
                "multiprocessing_pool" => text.contains("ctx.Pool(") || text.contains("mp.Pool("),
                _ => text.contains(written),
            };
            assert!(
                !named || used.iter().any(|u| u == wire),
                "{name}: the sketch names {written} but the workload used {used:?}:\n{text}"
            );
        }
        let Some((lang, code)) = block else { continue };
        with_code += 1;
        let (ok, err) = if lang == "python" {
            let mut cmd = Command::new(python());
            cmd.args(["-c", "import ast, sys; ast.parse(sys.stdin.read())"]);
            check(cmd, &code)
        } else {
            assert_eq!(lang, "sh", "{name}");
            shell += 1;
            let mut cmd = Command::new("sh");
            cmd.arg("-n");
            check(cmd, &code)
        };
        assert!(
            ok,
            "{name}: the {lang} sketch does not parse: {err}\n{code}"
        );
    }
    assert!(
        with_code >= 15 && shell >= 2,
        "most recordings get code ({with_code}, {shell} in shell)"
    );
}

/// `variant`'s recording edited at the edge into a free-threaded build's (no such interpreter
/// installs on this host): every interpreter free-threaded, the GIL off in the ones that ran
/// tasks, but on in the first of them when `gil_on_in_one`. Replayed with -v.
fn replay_free_threaded(variant: &str, gil_on_in_one: bool) -> crate::support::Outcome {
    use crate::support::{read_raw_file, TempDir};
    let source = repo_root()
        .join("fixtures/recordings/variants")
        .join(variant);
    let mut raw = read_raw_file(&source);
    let mut first = true;
    for point in raw["measurements"]["points"].as_array_mut().unwrap() {
        for run in point["runs"].as_array_mut().unwrap() {
            let procs = &mut run["probes"]["python"]["processes"];
            for p in procs.as_array_mut().into_iter().flatten() {
                let worker = p["tasks"].as_u64().unwrap_or(0) > 0;
                p["free_threaded"] = Value::Bool(true);
                p["gil_enabled"] = Value::Bool(!worker || (gil_on_in_one && first));
                first &= !worker;
            }
        }
    }
    let dir = TempDir::new("free-threaded");
    let file = std::fs::File::create(dir.join("raw.json.gz")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    serde_json::to_writer(&mut gz, &raw).unwrap();
    gz.finish().unwrap();
    let raw_path = dir.join("raw.json.gz").display().to_string();
    let out = run_forkcast(&["report", &raw_path, "-v"]);
    out.expect(out.code == Some(0), "the edited recording replays");
    out
}

/// The report says which case it is: the GIL off in every worker, or back on in one of them
/// after its imports; a GIL build is not called free-threaded.
#[test]
fn the_report_says_which_free_threaded_case_the_workers_ran_in() {
    for (gil_on_in_one, want) in [
        (false, "with the GIL off in the workers"),
        (true, "ran with the GIL on after their imports"),
    ] {
        let out = replay_free_threaded("01_processes_pure", gil_on_in_one);
        out.expect(
            out.stdout.contains("Free-threaded CPython"),
            "the case is named",
        );
        out.expect(out.stdout.contains(want), want);
    }
    let source = repo_root().join("fixtures/recordings/variants/01_processes_pure");
    let plain = run_forkcast(&["report", &source.display().to_string(), "-v"]);
    plain.expect(
        !plain.stdout.contains("Free-threaded"),
        "a GIL build is not called free-threaded",
    );
}

/// Threads measured on a free-threaded build with the GIL off that did not scale: the report
/// calls it contention, not a GIL.
#[test]
fn threads_that_do_not_scale_with_the_gil_off_are_called_contention() {
    let out = replay_free_threaded("01_threads_pure", false);
    let threads = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("threads_scale"))
        .unwrap_or_default();
    out.expect(
        threads.contains(" no ") && threads.contains("this is contention"),
        "threads_scale names contention",
    );
}
