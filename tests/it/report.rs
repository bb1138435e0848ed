//! Saved sweeps: report.json stays lean with the raw measurements beside it, `forkcast report`
//! re-analyses them in any format, a failing analysis keeps the run, `forkcast diff` compares
//! two sweeps against their noise, and bad saved files get one line and exit 2.

use crate::support::{
    check_schema, forkcast, read_report, repo_root, run_args, run_forkcast, run_forkcast_env,
    sweep, words, TempDir,
};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// A two-point sweep of a sleeping shell: fast, and every run succeeds.
fn sleeper(tag: &str, seconds: &str) -> (TempDir, Value) {
    let script = format!("sleep {seconds} # {{workers}}");
    sweep(
        tag,
        &words("-w 1,2 --runs 2 --warmup 0"),
        &["sh", "-c", script.as_str()],
    )
}

/// `forkcast ARGS --json`'s stdout as JSON, the call required to succeed.
#[track_caller]
fn json_of(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = run_forkcast(&all);
    out.expect(out.code == Some(0), "the call succeeds");
    serde_json::from_str(&out.stdout).expect("--json prints only JSON")
}

/// The raw file's JSON, decompressed.
fn raw_of(dir: &Path) -> Value {
    let file = std::fs::File::open(dir.join("raw.json.gz")).expect("raw.json.gz beside report");
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("the raw file is gzip");
    serde_json::from_str(&text).expect("the raw file is JSON")
}

#[test]
fn report_json_keeps_scalars_and_the_raw_file_keeps_the_ticks() {
    let (dir, report) = sleeper("lean", "0.2");
    assert_eq!(
        report["raw"], "raw.json.gz",
        "report.json names its raw file"
    );
    let run = &report["points"][0]["runs"][0];
    assert!(run["wall_s"].is_number() && run["rusage"].is_object());
    assert!(
        run["sampled"]["ticks"].as_u64().unwrap() > 0,
        "scalars stay"
    );
    assert!(
        run["sampled"].get("timeline").is_none() && run["sampled"].get("processes").is_none(),
        "ticks and processes are not in report.json: {}",
        run["sampled"]
    );
    let raw = raw_of(dir.path());
    assert_eq!(raw["format"], "forkcast-raw");
    assert_eq!(raw["status"], "complete");
    let raw_run = &raw["measurements"]["points"][0]["runs"][0];
    let ticks = raw_run["sampled"]["timeline"].as_array().expect("ticks");
    assert_eq!(
        ticks.len() as u64,
        run["sampled"]["ticks"].as_u64().unwrap()
    );
    assert!(!raw_run["sampled"]["processes"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn report_replays_the_folder_its_report_json_and_its_raw_file_alike() {
    let (dir, saved) = sleeper("replay3", "0.2");
    for path in [dir.str(), dir.join("report.json").display().to_string()] {
        let again = json_of(&["report", &path]);
        assert_eq!(again["diagnosis"], saved["diagnosis"], "{path}");
        assert_eq!(again["points"], saved["points"], "{path}");
        check_schema(&again, &path);
    }
    let from_raw = json_of(&["report", &dir.join("raw.json.gz").display().to_string()]);
    assert_eq!(from_raw["diagnosis"], saved["diagnosis"]);
}

#[test]
fn report_without_output_writes_nothing_and_names_no_file() {
    let (dir, _) = sleeper("noout", "0.1");
    let listing = |d: &Path| {
        let mut v: Vec<(String, std::time::SystemTime)> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into(),
                    e.metadata().unwrap().modified().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = listing(dir.path());
    let out = run_forkcast(&["report", &dir.str()]);
    out.expect(out.code == Some(0), "replay runs");
    out.expect(
        out.stdout.contains("recommendation:"),
        "the summary is printed",
    );
    out.expect(
        !out.stdout.contains("report:") && !out.stderr.contains("report:"),
        "no report path is claimed when nothing was written",
    );
    assert_eq!(listing(dir.path()), before, "the saved folder is untouched");
}

#[test]
fn report_with_output_writes_a_full_saved_folder() {
    let (dir, saved) = sleeper("reout", "0.1");
    let again = TempDir::new("reout-dst");
    let out = run_forkcast(&["report", &dir.str(), "-o", &again.str()]);
    out.expect(out.code == Some(0), "replay into a folder runs");
    out.expect(out.stderr.contains("report.json"), "it says where it wrote");
    let written = read_report(again.path());
    assert_eq!(written["diagnosis"], saved["diagnosis"]);
    assert!(again.join("raw.json.gz").exists() && again.join("summary.txt").exists());
}

#[test]
fn a_replayed_interrupted_sweep_stays_interrupted() {
    let dir = TempDir::new("int-replay");
    let mut child = forkcast()
        .args(run_args(
            &dir.str(),
            &words("-w 1,2 --runs 1 --warmup 0"),
            &["sh", "-c", "sleep 30 # {workers}"],
        ))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join("runs").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling the forkcast child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(read_report(dir.path())["status"], "interrupted");
    let again = json_of(&["report", &dir.str()]);
    assert_eq!(
        again["status"], "interrupted",
        "replay keeps the saved status"
    );
    let text = run_forkcast(&["report", &dir.str()]);
    text.expect(
        text.stdout.contains("status: interrupted"),
        "the summary says so",
    );
}

#[test]
fn an_analysis_that_panics_keeps_the_run_and_says_so() {
    let dir = TempDir::new("panic");
    let out = forkcast()
        .args(run_args(
            &dir.str(),
            &words("-w 1 --runs 1 --warmup 0"),
            &["sh", "-c", "sleep 0.1 # {workers}"],
        ))
        .env("FORKCAST_INJECT_ANALYSIS_PANIC", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "forkcast failed: exit 1\n{stderr}"
    );
    assert!(
        stderr.contains("analysis failed") && stderr.contains("raw.json.gz"),
        "the error names the failure and where the run is kept:\n{stderr}"
    );
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    check_schema(&report, "the failed report");
    assert!(report["analysis_error"]
        .as_str()
        .unwrap()
        .contains("injected"));
    assert_eq!(report["raw"], "raw.json.gz");
    assert!(report["points"][0]["runs"][0]["wall_s"].is_number());
    // Without the fault, the kept run re-analyses.
    let again = json_of(&["report", &dir.str()]);
    assert!(again["diagnosis"]["steps"].is_array());
}

/// Rebuilds the old layout (every raw record inline in report.json, no raw file) from a saved
/// folder, as forkcast wrote it before the raw file existed.
fn old_style(dir: &Path, report: &Value) -> Value {
    let raw = raw_of(dir);
    let mut fat = report.clone();
    fat.as_object_mut().unwrap().remove("raw");
    for (i, p) in fat["points"].as_array_mut().unwrap().iter_mut().enumerate() {
        p["runs"] = raw["measurements"]["points"][i]["runs"].clone();
    }
    fat
}

#[test]
fn an_old_style_report_with_inline_measurements_still_replays() {
    let (dir, saved) = sleeper("oldstyle", "0.1");
    let fat = old_style(dir.path(), &saved);
    assert!(fat["points"][0]["runs"][0]["sampled"]["timeline"].is_array());
    let old = TempDir::new("oldstyle-file");
    let path = old.join("report.json");
    std::fs::write(&path, serde_json::to_vec(&fat).unwrap()).unwrap();
    let again = json_of(&["report", &path.display().to_string()]);
    assert_eq!(again["diagnosis"], saved["diagnosis"]);
}

#[test]
fn diff_calls_a_slower_sweep_a_regression_and_gates_on_it() {
    let (fast, _) = sleeper("diff-fast", "0.2");
    let (slow, _) = sleeper("diff-slow", "0.5");
    let (f, s) = (fast.str(), slow.str());
    let same = run_forkcast(&["diff", &f, &f, "--fail-above", "5"]);
    same.expect(
        same.code == Some(0),
        "a sweep against itself passes the gate",
    );
    same.expect(
        same.stdout.contains("within noise") && same.stdout.contains("recommendation unchanged"),
        "no change is reported",
    );
    let out = run_forkcast(&["diff", &f, &s, "--fail-above", "20"]);
    out.expect(out.code == Some(1), "0.2 s -> 0.5 s fails a 20 % gate");
    out.expect(out.stdout.contains("slower"), "the table says slower");
    let loose = run_forkcast(&["diff", &f, &s, "--fail-above", "500"]);
    loose.expect(loose.code == Some(0), "a 150 % change passes a 500 % gate");
    let out = run_forkcast(&["diff", &f, &s, "--format", "json"]);
    out.expect(out.code == Some(0), "without a gate, diff succeeds");
    let d: Value = serde_json::from_str(&out.stdout).expect("--format json is JSON");
    let wall = &d["points"][0]["wall_s"];
    assert_eq!(wall["verdict"], "increased", "{wall}");
    let pct = wall["change_pct"].as_f64().unwrap();
    assert!((80.0..=200.0).contains(&pct), "about +150 %: {wall}");
    assert_eq!(wall["noise_measured"], true);
    let md = run_forkcast(&["diff", &f, &s, "--format", "markdown"]);
    md.expect(md.stdout.contains("|---:|"), "markdown prints a table");
}

/// Asserts one line on stderr naming `needle`, exit 2, no panic.
#[track_caller]
fn rejects(args: &[&str], needle: &str) {
    let out = run_forkcast(args);
    out.expect(out.code == Some(2), "bad input must exit 2");
    out.expect(out.stderr.trim().lines().count() == 1, "one line");
    out.expect(out.stderr.contains(needle), &format!("mentions {needle:?}"));
    out.expect(!out.stderr.contains("panicked"), "no panic");
}

#[test]
fn bad_saved_files_are_one_line_and_exit_2_for_report_and_diff() {
    let (good, report) = sleeper("badsaved", "0.1");
    let bad = TempDir::new("badsaved-files");
    let text = serde_json::to_string(&report).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = bad.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };
    let truncated = write("truncated.json", &text.as_bytes()[..text.len() / 2]);
    let mut future = report.clone();
    future["schema_version"] = 99.into();
    let future = write("future.json", future.to_string().as_bytes());
    let corrupt_gz = write("corrupt.json.gz", b"\x1f\x8bnot really gzip");
    let raw = std::fs::read(good.join("raw.json.gz")).unwrap();
    let cut_gz = write("cut.json.gz", &raw[..raw.len() / 2]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"{\"format\": \"forkcast-raw\", \"schema_version\": 7}")
        .unwrap();
    let future_raw = write("future.json.gz", &gz.finish().unwrap());
    let orphan = TempDir::new("badsaved-orphan");
    std::fs::copy(good.join("report.json"), orphan.join("report.json")).unwrap();
    let cases: [(&str, &str); 8] = [
        (&truncated, "truncated"),
        (&future, "newer forkcast"),
        (&corrupt_gz, "truncated or corrupt"),
        (&cut_gz, "truncated or corrupt"),
        (&future_raw, "newer forkcast"),
        (
            &write("hello.json", b"{\"hello\": 1}"),
            "not a forkcast report",
        ),
        (
            &bad.join("absent.json").display().to_string(),
            "absent.json",
        ),
        (&orphan.str(), "raw.json.gz"),
    ];
    let g = good.str();
    for (path, needle) in cases {
        rejects(&["report", path], needle);
        rejects(&["diff", &g, path], needle);
        rejects(&["diff", path, &g], needle);
    }
    rejects(&["report", &bad.str()], "holds no report.json");
}

#[test]
fn schema_is_valid_and_the_committed_recording_matches_it() {
    let out = run_forkcast(&["schema"]);
    out.expect(out.code == Some(0), "schema prints");
    let schema: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(schema["$defs"]["Report"]["properties"]["diagnosis"].is_object());
    let report = json_of(&["report", &recording()]);
    check_schema(&report, "the replayed recording");
    let mut broken = report.clone();
    broken["points"][0]["workers"] = "two".into();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(
        !validator.is_valid(&broken),
        "a wrong type fails the schema"
    );
}

/// fixtures/recordings/lab01: lab 01 short, 1 and 2 workers, processes and threads, 2 runs.
fn recording() -> String {
    repo_root()
        .join("fixtures/recordings/lab01")
        .display()
        .to_string()
}

/// Compares `forkcast report RECORDING --format FORMAT` with tests/it/snapshots/NAME;
/// `UPDATE_SNAPSHOTS=1 scripts/test snapshot` rewrites the files (review the diff).
#[track_caller]
fn snapshot(format: &str, name: &str) {
    snapshot_with(&["--format", format], "100", name);
}

/// Like [`snapshot`], with more arguments and `COLUMNS` set (the one-screen summary's width).
fn snapshot_with(extra: &[&str], columns: &str, name: &str) {
    let format = extra.join(" ");
    let out = run_forkcast_env(
        &[&["report", recording().as_str()], extra].concat(),
        &[("COLUMNS", columns)],
    );
    out.expect(out.code == Some(0), "the exporter runs");
    let path = repo_root().join("tests/it/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &out.stdout).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; UPDATE_SNAPSHOTS=1 writes it", path.display()));
    if out.stdout != expected {
        let first = expected
            .lines()
            .zip(out.stdout.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{format} output differs from {} from line {} (UPDATE_SNAPSHOTS=1 rewrites it \
             after review):\n--- expected\n{}\n--- got\n{}",
            path.display(),
            first + 1,
            expected
                .lines()
                .skip(first)
                .take(5)
                .collect::<Vec<_>>()
                .join("\n"),
            out.stdout
                .lines()
                .skip(first)
                .take(5)
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
}

#[test]
fn snapshot_of_the_full_text_with_v() {
    snapshot_with(&["-v"], "100", "lab01.txt");
}

#[test]
fn snapshot_of_the_one_screen_summary_at_100_columns() {
    snapshot_with(&[], "100", "lab01.screen100.txt");
}

#[test]
fn snapshot_of_the_one_screen_summary_at_80_columns() {
    snapshot_with(&[], "80", "lab01.screen80.txt");
}

/// The quick start's summary fits the terminal it is printed in and one screen, at the
/// default width and where a user sets COLUMNS.
#[test]
fn the_summary_fits_one_screen_at_100_and_80_columns() {
    for columns in [100, 80] {
        let out = run_forkcast_env(
            &["report", recording().as_str()],
            &[("COLUMNS", &columns.to_string())],
        );
        out.expect(out.code == Some(0), "the exporter runs");
        let lines: Vec<&str> = out.stdout.lines().collect();
        out.expect(lines.len() <= 45, &format!("at most 45 lines at {columns}"));
        for line in &lines {
            out.expect(
                line.chars().count() <= columns,
                &format!("{line:?} fits {columns} columns"),
            );
        }
        for want in [
            "where the speedup went",
            "verdict:",
            "recommendation:",
            "confidence:",
        ] {
            out.expect(out.stdout.contains(want), want);
        }
        out.expect(
            !out.stdout.contains("rule:") && !out.stdout.contains("source:"),
            "rules and sources are -v's",
        );
    }
    let full = run_forkcast(&["report", recording().as_str(), "-v"]);
    full.expect(full.stdout.contains("rule:"), "-v gives the rules");
}

#[test]
fn snapshot_of_the_markdown_report() {
    snapshot("markdown", "lab01.md");
}

#[test]
fn snapshot_of_the_csv_report() {
    snapshot("csv", "lab01.csv");
}

#[test]
fn progress_off_a_terminal_is_one_plain_line_per_run() {
    let dir = TempDir::new("progress");
    let mut args = run_args(
        &dir.str(),
        &words("-w 1,2 --runs 2 --warmup 1"),
        &["sh", "-c", "sleep 0.05 # {workers}"],
    );
    args.retain(|a| a != "-q");
    let out = run_forkcast(&args.iter().map(String::as_str).collect::<Vec<_>>());
    out.expect(out.code == Some(0), "the sweep runs");
    let lines: Vec<&str> = out.stderr.lines().collect();
    out.expect(lines.len() == 6, "2 points x (1 warmup + 2 runs) = 6 lines");
    // Runs interleave (every warmup, then rounds of one run per point): each line says where
    // the sweep is, which point and which of its runs.
    let want = [
        "[1/6] point 1/2 workers=1 warmup 1/1 ",
        "[2/6] point 2/2 workers=2 warmup 1/1 ",
        "[3/6] point 1/2 workers=1 run 1/2 ",
        "[4/6] point 2/2 workers=2 run 1/2 ",
        "[5/6] point 1/2 workers=1 run 2/2 ",
        "[6/6] point 2/2 workers=2 run 2/2 ",
    ];
    for (line, want) in lines.iter().zip(want) {
        out.expect(
            line.starts_with(want) && line.ends_with(" s"),
            &format!("each line names the point and the run: {want:?}"),
        );
    }
    out.expect(
        !out.stderr.contains('\r') && !out.stderr.contains('\x1b'),
        "no bar or escape codes off a terminal",
    );
    let quiet = run_forkcast(&[
        "run",
        "-q",
        "-o",
        &dir.str(),
        "-w",
        "1",
        "--runs",
        "1",
        "--warmup",
        "0",
        "--",
        "sh",
        "-c",
        "true # {workers}",
    ]);
    quiet.expect(quiet.stderr.is_empty(), "--quiet prints nothing on stderr");
}

#[test]
fn a_sweep_killed_after_its_first_point_keeps_that_point() {
    let dir = TempDir::new("kill9");
    let mut child = forkcast()
        .args(run_args(
            &dir.str(),
            &words("-w 1,2 --runs 1 --warmup 0"),
            &["sh", "-c", "sleep 1 # {workers}"],
        ))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.join("report.json").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: killing the forkcast child we spawned; no handler can save anything after this.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    let saved = read_report(dir.path());
    assert_eq!(saved["status"], "in_progress");
    let again = json_of(&["report", &dir.str()]);
    assert_eq!(
        again["points"].as_array().unwrap().len(),
        1,
        "the finished point"
    );
    assert!(again["points"][0]["runs"][0]["wall_s"].as_f64().unwrap() >= 1.0);
    // Its sleeping target may outlive forkcast by up to a second (issue 11 item 2).
    std::thread::sleep(Duration::from_millis(1100));
}
