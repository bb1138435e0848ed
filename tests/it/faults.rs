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
fn daemons_of_a_finished_run_are_killed_and_counted() {
    let dir = TempDir::new("daemons");
    let marker = format!("forkcast-daemons-{}", std::process::id());
    let script = format!(
        "( setsid bash -c 'exec -a {marker} sleep 300' & ) ; ( (exec -a {marker} sleep 300) & ) ; \
         sleep 0.3 # {{workers}}"
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
