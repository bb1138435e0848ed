//! Faults of forkcast and of the target: forkcast killed with -9 takes the target's whole tree
//! with it; crashes, signals, hangs, floods, fork storms and instant runs are recorded per run;
//! an interrupted sweep resumes.

use crate::support::{read_report, run_args, words, TempDir};
use std::time::{Duration, Instant};

/// Pids of live processes whose argv[0] is `marker` (set with bash's `exec -a`).
fn processes_with(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            (cmdline.split(|&b| b == 0).next() == Some(marker.as_bytes())).then_some(pid)
        })
        .collect()
}

/// Waits until `cond` holds or `limit` passes; returns how long it took, None on timeout.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// A bash target that leaves four long sleepers named `marker`: a plain child, a double-forked
/// orphan, a setsid daemon, and a double-forked setsid daemon.
fn escaping_tree(marker: &str) -> String {
    format!(
        "(exec -a {marker} sleep 300) & \
         ( (exec -a {marker} sleep 300) & ) ; \
         setsid bash -c 'exec -a {marker} sleep 300' & \
         ( setsid bash -c 'exec -a {marker} sleep 300' & ) ; \
         wait # {{workers}}"
    )
}

#[test]
fn kill_9_of_forkcast_takes_the_whole_tree_with_it_within_2_s() {
    let dir = TempDir::new("kill9");
    let marker = format!("forkcast-kill9-{}", std::process::id());
    let script = escaping_tree(&marker);
    let mut forkcast = crate::support::forkcast()
        .args(run_args(
            &dir.str(),
            &words("-w 1 --runs 1 --warmup 0"),
            &["bash", "-c", script.as_str()],
        ))
        .spawn()
        .unwrap();
    let started = wait_for(Duration::from_secs(10), || {
        processes_with(&marker).len() == 4
    });
    assert!(
        started.is_some(),
        "the target started its four sleepers: {:?}",
        processes_with(&marker)
    );
    forkcast.kill().unwrap(); // SIGKILL: no handler, no cleanup in forkcast itself
    forkcast.wait().unwrap();
    let gone = wait_for(Duration::from_secs(2), || {
        processes_with(&marker).is_empty()
    });
    eprintln!(
        "kill -9 cleanup: {gone:?}, left: {:?}",
        processes_with(&marker)
    );
    assert!(
        gone.is_some(),
        "2 s after kill -9 of forkcast, no process of the tree is left: {:?}",
        processes_with(&marker)
    );
}

#[test]
fn daemons_of_a_finished_run_are_killed_and_counted_even_one_that_ignores_sigterm() {
    let dir = TempDir::new("daemons");
    let marker = format!("forkcast-daemons-{}", std::process::id());
    let script = format!(
        "( setsid bash -c \"trap '' TERM; exec -a {marker} sleep 300\" & ) ; \
         ( (exec -a {marker} sleep 300) & ) ; sleep 0.3 # {{workers}}"
    );
    let out = crate::support::run_quietly(
        &dir,
        &words("-w 1 --runs 1 --warmup 0"),
        &["bash", "-c", script.as_str()],
    );
    out.expect(out.code == Some(0), "the run itself succeeded");
    assert!(
        processes_with(&marker).is_empty(),
        "no daemon outlived the run"
    );
    let report = read_report(dir.path());
    let run = &report["points"][0]["runs"][0];
    assert_eq!(
        run["leftover_processes"], 2,
        "both daemons were counted: {run}"
    );
}

/// The run of the point whose parameter `case` is `value` (one run per point).
fn run_of<'a>(report: &'a serde_json::Value, value: &str) -> &'a serde_json::Value {
    let p = report["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["params"]["case"] == value)
        .unwrap_or_else(|| panic!("no point case={value}"));
    &p["runs"][0]
}

/// The kinds of fault recorded for a run.
fn fault_kinds(run: &serde_json::Value) -> Vec<String> {
    run["outcome"]["faults"]
        .as_array()
        .unwrap_or_else(|| panic!("no outcome in {run}"))
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_fault_is_recorded_with_its_story_and_the_other_points_still_run() {
    let dir = TempDir::new("faults");
    let script = "case {case} in \
        segv) kill -SEGV $$ ;; \
        usr1) kill -USR1 $$ ;; \
        exit) echo bad input >&2; exit 4 ;; \
        hang) trap '' TERM; sleep 300 ;; \
        instant) true ;; \
        ok) sleep 0.2 ;; \
        esac # {workers}";
    let out = crate::support::run_quietly(
        &dir,
        &words("-w 1 --runs 1 --warmup 0 --timeout 1s -P case=segv,usr1,exit,hang,instant,ok"),
        &["bash", "-c", script],
    );
    out.expect(out.code == Some(0), "some runs succeeded: exit 0");
    let report = read_report(dir.path());
    let expect = |case: &str, ended: &str, kinds: &[&str]| {
        let run = run_of(&report, case);
        assert_eq!(run["outcome"]["ended"], ended, "case {case}: {run}");
        assert_eq!(fault_kinds(run), kinds, "case {case}");
        let summary = run["outcome"]["summary"].as_str().unwrap();
        assert!(summary.starts_with(&ended.replace('_', " ")), "{summary}");
    };
    expect("segv", "crashed", &["crash"]);
    expect("usr1", "killed", &["signal"]);
    expect("exit", "failed", &["exit_code"]);
    expect("hang", "timed_out", &["timeout", "sigterm_ignored"]);
    // `bash -c true` takes a few ms, but a loaded host can stretch it past the 50 ms mark: the
    // rule must follow the measured wall time either way (src/run/outcome.rs tests it exactly).
    let instant_s = crate::support::num(&run_of(&report, "instant")["wall_s"], "instant wall");
    let too_short: &[&str] = if instant_s < 0.05 {
        &["too_short"]
    } else {
        &[]
    };
    expect("instant", "ok", too_short);
    expect("ok", "ok", &[]);
    assert!(run_of(&report, "segv")["outcome"]["summary"]
        .as_str()
        .unwrap()
        .contains("SIGSEGV"));
    let hang = run_of(&report, "hang");
    assert_eq!(hang["sigterm_ignored"], true);
    assert!(
        crate::support::num(&hang["wall_s"], "hang wall") >= 3.0,
        "SIGKILL came after the 2 s grace"
    );
    let summary = std::fs::read_to_string(dir.join("summary.txt")).unwrap();
    assert!(summary.contains("Faults (runner):"), "{summary}");
    assert!(
        summary.contains("crashed: killed by SIGSEGV (11)"),
        "{summary}"
    );
}

#[test]
fn fail_fast_stops_at_the_first_failed_run_and_keeps_the_report() {
    let dir = TempDir::new("failfast");
    let out = crate::support::run_quietly(
        &dir,
        &words("-w 1,2 --runs 1 --warmup 0 --fail-fast -P case=exit,ok"),
        &["bash", "-c", "[ {case} = ok ] || exit 9 # {workers}"],
    );
    out.expect(out.code == Some(3), "the only run made failed: exit 3");
    let report = read_report(dir.path());
    assert_eq!(report["status"], "failed_fast");
    let runs: usize = report["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["runs"].as_array().unwrap().len())
        .sum();
    assert_eq!(runs, 1, "nothing ran after the failure");
}

#[test]
fn an_output_flood_keeps_the_first_and_last_mib_and_counts_every_byte() {
    let dir = TempDir::new("flood");
    let started = Instant::now();
    let out = crate::support::run_quietly(
        &dir,
        &words("-w 1 --runs 1 --warmup 0 --output-cap 1MiB"),
        &[
            "bash",
            "-c",
            "echo first line; yes {workers} | head -c 50000000; echo last line",
        ],
    );
    out.expect(out.code == Some(0), "the flood itself succeeds");
    eprintln!("flood of 50 MB: {:?}", started.elapsed());
    let report = read_report(dir.path());
    let run = &report["points"][0]["runs"][0];
    assert_eq!(
        run["stdout_bytes"],
        50_000_000 + 11 + 10,
        "every byte is counted"
    );
    assert_eq!(fault_kinds(run), ["output_capped"]);
    let saved = dir.path().join(run["stdout_file"].as_str().unwrap());
    let bytes = std::fs::read(&saved).unwrap();
    assert!(
        bytes.len() < 2 * 1024 * 1024 + 200,
        "{} bytes saved",
        bytes.len()
    );
    assert!(bytes.starts_with(b"first line\n1\n1\n"));
    assert!(bytes.ends_with(b"\n1\n1\nlast line\n") || bytes.ends_with(b"1last line\n"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("bytes left out here"), "the cut is marked");
}

#[test]
fn a_fork_storm_is_capped_with_a_clear_message_and_the_report_is_written() {
    let dir = TempDir::new("storm");
    // 512 children alive at once: each blocks on a pipe until the parent has forked them all.
    let storm = "import os\n\
                 r, w = os.pipe()\n\
                 kids = []\n\
                 for i in range(512):\n    \
                     pid = os.fork()\n    \
                     if pid == 0:\n        os.close(w); os.read(r, 1); os._exit(0)\n    \
                     kids.append(pid)\n\
                 os.close(w)\n\
                 for p in kids:\n    os.waitpid(p, 0)\n";
    let python = crate::support::python().display().to_string();
    let started = Instant::now();
    let out = crate::support::run_quietly(
        &dir,
        &words("-w 1 --runs 1 --warmup 0 --probes none --max-processes 64 --workers-env N"),
        &[python.as_str(), "-c", storm],
    );
    eprintln!("fork storm of 512: {:?}", started.elapsed());
    out.expect(out.code == Some(0), "the storm itself succeeds");
    let report = read_report(dir.path());
    let run = &report["points"][0]["runs"][0];
    assert_eq!(fault_kinds(run), ["process_cap"], "{}", run["outcome"]);
    // How many go unsampled depends on how many the sampler saw before the first ones exited;
    // what must hold is that it never swept more than the cap, and counted the rest.
    let untracked = crate::support::num(&run["sampled"]["untracked_processes"], "untracked");
    assert!(untracked >= 100.0, "hundreds went unsampled: {untracked}");
    // The timeline is in the raw file (report.json keeps the scalars).
    let raw: serde_json::Value = {
        use std::io::Read;
        let file = std::fs::File::open(dir.path().join("raw.json.gz")).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let most_swept = raw["measurements"]["points"][0]["runs"][0]["sampled"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["processes"].as_u64().unwrap())
        .max()
        .unwrap();
    assert!(
        most_swept <= 64,
        "never more than the cap swept at once: {most_swept}"
    );
    assert_eq!(run["sampled"]["process_cap"], 64);
    let message = run["outcome"]["faults"][0]["message"].as_str().unwrap();
    assert!(message.contains("more than 64 processes") && message.contains("--max-processes"));
}

#[test]
fn runs_are_interleaved_across_points_with_warmups_first() {
    let dir = TempDir::new("order");
    let log = dir.join("order.log");
    let script = format!("echo {{workers}} >> {}", log.display());
    let out = crate::support::run_quietly(
        &dir,
        &words("-w 1,2,4 --runs 2 --warmup 1"),
        &["bash", "-c", script.as_str()],
    );
    out.expect(out.code == Some(0), "the sweep succeeds");
    let order = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        order.split_whitespace().collect::<Vec<_>>(),
        ["1", "2", "4", "1", "2", "4", "1", "2", "4"]
    );
    let report = read_report(dir.path());
    for p in report["points"].as_array().unwrap() {
        let warmups: Vec<bool> = p["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["warmup"] == true)
            .collect();
        assert_eq!(
            warmups,
            [true, false, false],
            "each point: its warmup, then its runs"
        );
    }
}

#[test]
fn a_killed_sweep_resumes_without_redoing_its_finished_runs() {
    let dir = TempDir::new("resume");
    let out_dir = dir.join("out");
    let (log, hung) = (dir.join("done.log"), dir.join("hung.flag"));
    let marker = format!("forkcast-resume-{}", std::process::id());
    // The first run at 2 workers hangs (and is killed with forkcast); every later run is quick.
    // A run logs its worker count only when it finishes.
    let script = format!(
        "if [ {{workers}} = 2 ] && [ ! -e {hung} ]; then touch {hung}; exec -a {marker} sleep 300; fi; \
         echo {{workers}} >> {log}",
        hung = hung.display(),
        log = log.display()
    );
    let target = ["bash", "-c", script.as_str()];
    let options = words("-w 1,2 --runs 2 --warmup 0");
    let mut forkcast = crate::support::forkcast()
        .args(run_args(&out_dir.display().to_string(), &options, &target))
        .spawn()
        .unwrap();
    let hanging = wait_for(Duration::from_secs(20), || {
        !processes_with(&marker).is_empty()
    });
    assert!(hanging.is_some(), "the sweep reached its hanging run");
    forkcast.kill().unwrap();
    forkcast.wait().unwrap();
    assert!(wait_for(Duration::from_secs(2), || processes_with(&marker)
        .is_empty())
    .is_some());
    let before = read_report(&out_dir);
    assert_eq!(
        before["status"], "in_progress",
        "the killed sweep's report says so"
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "1\n",
        "one run had finished"
    );

    let out_str = out_dir.display().to_string();
    let other = crate::support::run_forkcast(&[
        "run", "-q", "--resume", &out_str, "--", "bash", "-c", "true",
    ]);
    other.expect(other.code == Some(2), "a different command is refused");
    other.expect(
        other.stderr.trim().lines().count() == 1 && other.stderr.contains("leave the command out"),
        "in one line that says what to do",
    );

    let resumed = crate::support::run_forkcast(&["run", "-q", "--resume", &out_str]);
    resumed.expect(resumed.code == Some(0), "the resumed sweep finishes");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        log_text.split_whitespace().collect::<Vec<_>>(),
        ["1", "2", "1", "2"],
        "only the missing runs were made"
    );
    let report = read_report(&out_dir);
    assert_eq!(report["status"], "complete");
    for p in report["points"].as_array().unwrap() {
        assert_eq!(
            p["runs"].as_array().unwrap().len(),
            2,
            "{} has both its runs",
            p["workers"]
        );
    }
    let again = crate::support::run_forkcast(&["run", "-q", "--resume", &out_str]);
    again.expect(
        again.code == Some(2) && again.stderr.contains("nothing to resume"),
        "a finished sweep is refused",
    );
    let stranger = dir.join("stranger");
    std::fs::create_dir_all(&stranger).unwrap();
    let no = crate::support::run_forkcast(&["run", "--resume", &stranger.display().to_string()]);
    no.expect(
        no.code == Some(2) && no.stderr.contains("no sweep.json"),
        "a folder that is not a sweep is refused",
    );
}

#[test]
fn sigterm_mid_sweep_stops_the_tree_and_keeps_a_consistent_report() {
    let dir = TempDir::new("sigterm");
    let marker = format!("forkcast-term-{}", std::process::id());
    let script = format!("[ {{workers}} = 2 ] && exec -a {marker} sleep 300; sleep 0.1");
    let mut forkcast = crate::support::forkcast()
        .args(run_args(
            &dir.str(),
            &words("-w 1,2 --runs 2 --warmup 0"),
            &["bash", "-c", script.as_str()],
        ))
        .spawn()
        .unwrap();
    let hanging = wait_for(Duration::from_secs(20), || {
        !processes_with(&marker).is_empty()
    });
    assert!(hanging.is_some(), "the sweep reached the hanging point");
    // SAFETY: signalling the forkcast child we spawned.
    unsafe { libc::kill(forkcast.id() as i32, libc::SIGTERM) };
    let status = forkcast.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted: exit 130");
    assert!(processes_with(&marker).is_empty(), "the tree was stopped");
    let report = read_report(dir.path());
    assert_eq!(report["status"], "interrupted");
    let runs = |w: u64| {
        report["points"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["workers"] == w)
            .map(|p| p["runs"].as_array().unwrap().clone())
            .unwrap()
    };
    assert_eq!(runs(1).len(), 1, "the finished run at 1 worker is kept");
    assert_eq!(runs(1)[0]["outcome"]["ended"], "ok");
    assert_eq!(runs(2).len(), 1);
    assert_eq!(runs(2)[0]["outcome"]["ended"], "interrupted");
}
