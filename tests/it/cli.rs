//! The command line: bad input is one clear line and exit 2; failing, hanging and interrupted
//! targets are recorded, their trees cleaned up, and the report survives.

use crate::support::{
    read_report, run_args, run_forkcast, run_quietly, saved_text, sweep, words, TempDir,
};
use std::time::{Duration, Instant};

/// Asserts a usage error: exit 2, one line on stderr naming `needle`, nothing written.
#[track_caller]
fn rejects(args: &[&str], needle: &str) {
    let out = run_forkcast(args);
    out.expect(out.code == Some(2), "bad input must exit 2");
    out.expect(
        out.stderr.trim().lines().count() == 1,
        "the error must be one line",
    );
    out.expect(
        out.stderr.contains(needle),
        &format!("the error must mention {needle:?}"),
    );
    out.expect(!out.stderr.contains("panicked"), "no panic");
}

/// `run -o OUT` followed by `line` split on whitespace.
fn run_into<'a>(out: &'a str, line: &'a str) -> Vec<&'a str> {
    let mut args = vec!["run", "-o", out];
    args.extend(words(line));
    args
}

#[test]
fn a_command_without_a_workers_placeholder_is_rejected_with_the_fix() {
    let dir = TempDir::new("noplace");
    rejects(&run_into(&dir.str(), "-- true"), "--workers-env");
    assert!(!dir.join("report.json").exists(), "no report for bad input");
}

#[test]
fn malformed_flags_are_rejected_with_one_line() {
    let dir = TempDir::new("badflags");
    let o = dir.str();
    rejects(&run_into(&o, "-w 1,x -- echo {workers}"), "--workers");
    rejects(&run_into(&o, "-w 0,1 -- echo {workers}"), "start at 1");
    rejects(
        &run_into(&o, "--timeout soon -- echo {workers}"),
        "--timeout",
    );
    rejects(&run_into(&o, "-P mode -- echo {workers}"), "NAME=v1,v2");
    rejects(&run_into(&o, "-P mode=a,b -- echo {workers}"), "{mode}");
    rejects(&run_into(&o, "--runs 0 -- echo {workers}"), "--runs");
    rejects(
        &run_into(&o, "--workers-env 1BAD -- true"),
        "environment variable",
    );
}

#[test]
fn a_missing_command_is_named_in_the_error() {
    let dir = TempDir::new("missing");
    rejects(
        &run_into(&dir.str(), "-- no-such-program-forkcast {workers}"),
        "no-such-program-forkcast",
    );
}

#[test]
fn an_output_folder_with_foreign_files_is_refused() {
    let dir = TempDir::new("foreign");
    std::fs::write(dir.join("precious.txt"), "keep me").unwrap();
    rejects(&run_into(&dir.str(), "-- echo {workers}"), "not empty");
    assert!(dir.join("precious.txt").exists());
}

#[test]
fn report_rejects_a_file_that_is_not_a_report() {
    let dir = TempDir::new("notreport");
    std::fs::write(dir.join("x.json"), "{\"hello\": 1}").unwrap();
    rejects(
        &["report", &dir.join("x.json").display().to_string()],
        "not a forkcast report",
    );
    rejects(
        &["report", &dir.join("absent.json").display().to_string()],
        "absent.json",
    );
}

#[test]
fn workers_env_exports_the_count_and_params_fill_placeholders() {
    let (dir, report) = sweep(
        "env",
        &words("-w 1,3 --runs 1 --warmup 0 --workers-env NPROC -P tag=a,b"),
        &["sh", "-c", "echo n=$NPROC tag={tag}"],
    );
    let points = report["points"].as_array().unwrap();
    assert_eq!(points.len(), 4, "grid is 2 workers x 2 tags");
    for p in points {
        let printed = saved_text(dir.path(), &p["runs"][0]["stdout_file"]);
        let expected = format!(
            "n={} tag={}\n",
            p["workers"],
            p["params"]["tag"].as_str().unwrap()
        );
        assert_eq!(
            printed, expected,
            "the target saw its worker count and parameter"
        );
    }
}

#[test]
fn a_failing_target_is_recorded_and_exits_3() {
    let dir = TempDir::new("fail");
    let out = run_quietly(
        &dir,
        &words("-w 1,2 --runs 2 --warmup 0"),
        &["sh", "-c", "echo oops >&2; exit 7 # {workers}"],
    );
    out.expect(out.code == Some(3), "every run failed: exit 3");
    let report = read_report(dir.path());
    let p0 = &report["points"][0];
    assert_eq!(p0["runs"][0]["exit_code"], 7);
    assert_eq!(p0["summary"]["runs_failed"], 2);
    assert!(
        p0["summary"]["wall_s"].is_null(),
        "failed runs are not averaged in"
    );
    let err = saved_text(dir.path(), &p0["runs"][0]["stderr_file"]);
    assert_eq!(
        err, "oops\n",
        "the target's stderr is saved, not mixed into ours"
    );
}

/// True when a process whose argv[0] is `marker` (set with `exec -a`) is still alive.
fn alive_with(marker: &str) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| c.split(|&b| b == 0).next() == Some(marker.as_bytes()))
                .unwrap_or(false)
        })
}

#[test]
fn a_hanging_target_is_killed_at_the_timeout_with_its_whole_tree() {
    let dir = TempDir::new("hang");
    let marker = format!("forkcast-hang-{}", std::process::id());
    // A child that ignores SIGTERM (needs SIGKILL) and a grandchild in its own session.
    let script = format!(
        "trap '' TERM; (exec -a {marker} sleep 300) & setsid sh -c 'exec -a {marker} sleep 300' & \
         exec -a {marker} sleep 300 # {{workers}}"
    );
    let started = Instant::now();
    let out = run_quietly(
        &dir,
        &words("-w 1 --runs 1 --warmup 0 --timeout 1s"),
        &["bash", "-c", script.as_str()],
    );
    out.expect(
        started.elapsed() < Duration::from_secs(20),
        "timeout and cleanup take seconds, not minutes",
    );
    out.expect(out.code == Some(3), "the only run failed: exit 3");
    let report = read_report(dir.path());
    let run = &report["points"][0]["runs"][0];
    assert_eq!(run["timed_out"], true);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive_with(&marker), "every process of the tree is gone");
}

#[test]
fn ctrl_c_stops_the_sweep_kills_the_tree_and_keeps_the_report() {
    let dir = TempDir::new("sigint");
    let marker = format!("forkcast-int-{}", std::process::id());
    let script = format!("(exec -a {marker} sleep 300) & exec -a {marker} sleep 300 # {{workers}}");
    let mut child = crate::support::forkcast()
        .args(run_args(
            &dir.str(),
            &words("-w 1,2 --runs 1 --warmup 0"),
            &["bash", "-c", script.as_str()],
        ))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !alive_with(&marker) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling the forkcast child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted: exit 130");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive_with(&marker), "the target's tree was killed");
    let report = read_report(dir.path());
    assert_eq!(report["status"], "interrupted");
    assert_eq!(report["points"][0]["runs"][0]["interrupted"], true);
}

#[test]
fn report_replays_a_saved_report_through_the_same_analysis() {
    let (dir, saved) = sweep(
        "replay",
        &words("-w 1,2 --runs 1 --warmup 0"),
        &["sh", "-c", "sleep 0.2 # {workers}"],
    );
    let again = TempDir::new("replay-out");
    let out = run_forkcast(&[
        "report",
        &dir.join("report.json").display().to_string(),
        "-o",
        &again.str(),
        "--json",
    ]);
    out.expect(out.code == Some(0), "replay runs");
    let replayed: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("--json prints only the report");
    assert_eq!(replayed["diagnosis"], saved["diagnosis"]);
    assert_eq!(replayed["points"], saved["points"]);
    assert_eq!(read_report(again.path())["diagnosis"], saved["diagnosis"]);
}

#[test]
fn explain_prints_every_threshold() {
    let out = run_forkcast(&["explain"]);
    out.expect(out.code == Some(0), "explain runs");
    // The table the steps read, every row of it (MIN_TASKS_FOR_CV once went missing).
    for t in forkcast::diagnose::thresholds::ALL {
        out.expect(out.stdout.contains(t.name), t.name);
        out.expect(out.stdout.contains(&t.used_by.to_string()), t.name);
    }
}
