//! `--runs auto`: after the first 3 rounds, one interleaved round at a time while a step is
//! undecided, up to --max-runs and --max-time, each recorded with why; `--runs N` as before.
//! Driven by FORKCAST_TEST_UNDECIDED_UNTIL, which keeps a fake step undecided until every
//! point has that many measured runs, on single-worker points that the real steps settle at
//! once (no step of a one-count curve turns on the runs' noise).

use crate::support::{forkcast, read_report, run_args, words, Outcome, TempDir};
use serde_json::Value;
use std::time::Duration;

const UNTIL_ENV: &str = "FORKCAST_TEST_UNDECIDED_UNTIL";

/// Two single-worker points (tag a and b); each run appends its tag to `log` when it ends.
fn target(log: &std::path::Path) -> Vec<String> {
    let script = format!("sleep 0.01; echo {{tag}}{{workers}} >> {}", log.display());
    vec!["sh".into(), "-c".into(), script]
}

const POINTS: &str = "-w 1 -P tag=a,b --probes none";

/// `forkcast run -o DIR/out OPTIONS -- target`, with the fake step undecided until `until`
/// measured runs per point. Returns the outcome (progress on stderr) and the run order.
fn sweep(dir: &TempDir, until: Option<u32>, options: &str) -> (Outcome, Vec<String>) {
    let log = dir.join("order.log");
    let out = dir.join("out").display().to_string();
    let mut args = run_args(&out, &words(&format!("{POINTS} {options}")), &target(&log));
    args.retain(|a| a != "-q");
    let mut cmd = forkcast();
    cmd.args(&args);
    match until {
        Some(n) => cmd.env(UNTIL_ENV, n.to_string()),
        None => cmd.env_remove(UNTIL_ENV),
    };
    let o = cmd.output().expect("forkcast runs");
    let outcome = Outcome {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        described: format!("{UNTIL_ENV}={until:?} forkcast {}", args.join(" ")),
    };
    outcome.expect(outcome.code == Some(0), "the sweep succeeds");
    let order = std::fs::read_to_string(&log).unwrap_or_default();
    (
        outcome,
        order.split_whitespace().map(String::from).collect(),
    )
}

/// Measured runs of each point in report.json.
fn measured_runs(report: &Value) -> Vec<usize> {
    report["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let runs = p["runs"].as_array().unwrap();
            runs.iter().filter(|r| r["warmup"] != true).count()
        })
        .collect()
}

fn added_rounds(report: &Value) -> Vec<u64> {
    report["rounds"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["round"].as_u64().unwrap())
        .collect()
}

#[test]
fn runs_auto_adds_interleaved_rounds_while_a_step_is_undecided_then_stops_decided() {
    let dir = TempDir::new("auto-two-more");
    let (out, order) = sweep(&dir, Some(5), "");
    let report = read_report(&dir.join("out"));
    assert_eq!(measured_runs(&report), [5, 5], "3 first rounds and 2 added");
    assert_eq!(report["rounds"]["runs_mode"], "auto");
    assert_eq!(report["rounds"]["first_rounds"], 3);
    assert_eq!(added_rounds(&report), [4, 5]);
    assert_eq!(report["rounds"]["stopped"], "decided");
    let why = report["rounds"]["added"][0]["why"][0].as_str().unwrap();
    assert!(why.contains("test's runs 3 straddles its bar 5"), "{why}");
    assert!(report["rounds"].get("still_undecided").is_none());
    // The added rounds interleave like the first ones: one run of every point per round.
    assert_eq!(
        order,
        ["a1", "b1"].repeat(6),
        "warmup, 3 first and 2 added rounds"
    );
    // A replay reads the same rounds from the saved runs.
    let out_dir = dir.join("out").display().to_string();
    let replay = crate::support::run_forkcast(&["report", &out_dir, "--json"]);
    replay.expect(replay.code == Some(0), "the saved sweep replays");
    let replayed: Value = serde_json::from_str(&replay.stdout).unwrap();
    assert_eq!(replayed["rounds"], report["rounds"]);
    out.expect(
        out.stderr
            .contains("round 4 (of 10 at most): test's runs 3")
            && out.stderr.contains("round 5 (of 10 at most)")
            && !out.stderr.contains("round 6"),
        "the progress names each added round and why",
    );
    // The one-screen summary wraps its words at the terminal's width.
    let said = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    out.expect(
        said.contains(
            "measured 5 rounds (--runs auto): test's runs 3 straddles its bar 5 \
             (FORKCAST_TEST_UNDECIDED_UNTIL) after 3; every step decided after 5",
        ),
        "the summary says how many rounds and why",
    );
}

#[test]
fn runs_auto_adds_nothing_when_the_first_rounds_decide() {
    let dir = TempDir::new("auto-at-once");
    let (out, order) = sweep(&dir, None, "");
    let report = read_report(&dir.join("out"));
    assert_eq!(measured_runs(&report), [3, 3]);
    assert_eq!(order.len(), 8, "a warmup and 3 runs of each point");
    assert!(added_rounds(&report).is_empty());
    assert_eq!(report["rounds"]["stopped"], "decided");
    out.expect(
        out.stdout
            .contains("measured 3 rounds (--runs auto): every step decided after 3"),
        "the summary says the first rounds decided",
    );
}

#[test]
fn runs_auto_stops_at_max_runs_and_says_what_is_still_undecided() {
    let dir = TempDir::new("auto-max-runs");
    let (out, _) = sweep(&dir, Some(100), "--max-runs 4");
    let report = read_report(&dir.join("out"));
    assert_eq!(measured_runs(&report), [4, 4]);
    assert_eq!(added_rounds(&report), [4]);
    assert_eq!(report["rounds"]["stopped"], "max_runs");
    assert_eq!(report["rounds"]["max_runs"], 4);
    let left = report["rounds"]["still_undecided"][0].as_str().unwrap();
    assert!(
        left.contains("test's runs 4 straddles its bar 100"),
        "{left}"
    );
    out.expect(
        out.stdout
            .contains("stopped at --max-runs 4; still undecided"),
        "the summary says the budget stopped it",
    );
}

#[test]
fn runs_auto_stops_when_the_next_round_would_pass_max_time() {
    let dir = TempDir::new("auto-max-time");
    // Each round of two runs takes at least 20 ms: none fits in 1 ms.
    let (_, order) = sweep(&dir, Some(100), "--max-time 1ms");
    let report = read_report(&dir.join("out"));
    assert_eq!(measured_runs(&report), [3, 3]);
    assert_eq!(order.len(), 8);
    assert!(added_rounds(&report).is_empty());
    assert_eq!(report["rounds"]["stopped"], "max_time");
    assert_eq!(report["rounds"]["max_time_s"], 0.001);
}

#[test]
fn runs_n_keeps_its_fixed_runs_and_records_no_rounds() {
    let dir = TempDir::new("auto-fixed");
    let (out, order) = sweep(&dir, Some(100), "--runs 3");
    let report = read_report(&dir.join("out"));
    assert_eq!(measured_runs(&report), [3, 3]);
    assert_eq!(order, ["a1", "b1"].repeat(4));
    assert!(report.get("rounds").is_none(), "no rounds field");
    out.expect(
        !out.stdout.contains("rounds (--runs auto)") && !out.stderr.contains("round 4"),
        "nothing about rounds",
    );
}

#[test]
fn a_killed_runs_auto_sweep_resumes_in_its_added_round_and_goes_on_deciding() {
    let dir = TempDir::new("auto-resume");
    let (log, hung) = (dir.join("order.log"), dir.join("hung.flag"));
    // After 11 finished runs (a warmup, 3 first rounds and the first added round of two
    // points, then point a of round 5), point b's run of round 5 hangs until forkcast is
    // killed: the sweep dies in the middle of an added round.
    let script = format!(
        "if [ $(wc -l < {log} 2>/dev/null || echo 0) -ge 11 ] && [ ! -e {hung} ]; then \
         touch {hung}; sleep 60; fi; echo {{tag}}{{workers}} >> {log}",
        log = log.display(),
        hung = hung.display()
    );
    let out_dir = dir.join("out").display().to_string();
    let target = ["sh", "-c", script.as_str()];
    let mut child = forkcast()
        .args(run_args(&out_dir, &words(POINTS), &target))
        .env(UNTIL_ENV, "6")
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !hung.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(hung.exists(), "the sweep reached its hanging run");
    child.kill().unwrap();
    child.wait().unwrap();
    let before = read_report(&dir.join("out"));
    assert_eq!(measured_runs(&before), [5, 4], "round 5 was cut short");
    assert_eq!(added_rounds(&before), [4, 5]);
    assert!(before["rounds"].get("stopped").is_none());

    let mut resume = forkcast();
    resume
        .args(["run", "-q", "--resume", &out_dir])
        .env(UNTIL_ENV, "6");
    let resumed = resume.output().unwrap();
    assert!(resumed.status.success(), "{resumed:?}");
    let report = read_report(&dir.join("out"));
    assert_eq!(report["status"], "complete");
    assert_eq!(measured_runs(&report), [6, 6]);
    assert_eq!(
        added_rounds(&report),
        [4, 5, 6],
        "round 5 finished, not asked again"
    );
    assert_eq!(report["rounds"]["stopped"], "decided");
    let order = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        order.split_whitespace().collect::<Vec<_>>(),
        ["a1", "b1"].repeat(7),
        "only the missing runs were made"
    );
}

/// `--runs auto` asks only for the steps after each round (`diagnose::steps_of`: no replayed
/// curve, no what-if, no finding). On every recorded sweep, as recorded and with its runs
/// made to disagree (the first run of each point 30 % slower), those steps are the full
/// diagnosis' own, word for word, so the rounds it adds are the ones it always added.
#[test]
fn the_question_after_each_round_reads_the_full_diagnosis_steps_on_every_recorded_sweep() {
    let root = crate::support::repo_root().join("fixtures/recordings");
    let mut dirs = vec![root.join("lab01")];
    for group in ["variants", "flakes"] {
        let found = std::fs::read_dir(root.join(group)).unwrap();
        dirs.extend(found.map(|e| e.unwrap().path()).filter(|p| p.is_dir()));
    }
    let mut straddled = 0;
    for dir in &dirs {
        let recorded = forkcast::saved::load(dir).unwrap();
        let mut disagreeing = recorded.clone();
        for p in &mut disagreeing.points {
            if let Some(r) = p.runs.iter_mut().find(|r| !r.warmup) {
                r.wall_s *= 1.3;
            }
        }
        for m in [recorded, disagreeing] {
            let a = forkcast::analyze::analyze(&m);
            let full = forkcast::diagnose::diagnose(&m, &a);
            let asked = forkcast::diagnose::steps_of(&m);
            assert_eq!(
                serde_json::to_value(&asked).unwrap(),
                serde_json::to_value(&full.steps).unwrap(),
                "{}",
                dir.display()
            );
            straddled += usize::from(!forkcast::diagnose::undecided(&full).is_empty());
        }
    }
    assert!(straddled > 0, "some sweep leaves a step undecided");
}
