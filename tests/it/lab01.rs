//! Lab 01 under forkcast: processes scale on 2 cores, pure-Python threads do not, and the
//! tree's CPU time agrees between perf_event and rusage.

use crate::support::{python, read_report, repo_root, run_forkcast, TempDir};
use serde_json::Value;

fn lab01() -> String {
    repo_root()
        .join("fixtures/labs/01_cpu_bound_processes_vs_threads.py")
        .display()
        .to_string()
}

fn point<'a>(report: &'a Value, mode: &str, workers: u64) -> &'a Value {
    report["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["params"]["mode"] == mode && p["workers"] == workers)
        .unwrap_or_else(|| panic!("no point mode={mode} workers={workers}"))
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

#[test]
fn processes_scale_and_pure_python_threads_do_not() {
    let dir = TempDir::new("lab01");
    let py = python().display().to_string();
    let lab = lab01();
    let out = run_forkcast(&[
        "run",
        "-q",
        "-o",
        &dir.str(),
        "-w",
        "1,2",
        "--runs",
        "3",
        "--warmup",
        "1",
        "-P",
        "mode=processes,threads",
        "--",
        &py,
        &lab,
        "--mode",
        "{mode}",
        "--work",
        "pure",
        "--workers",
        "{workers}",
        "--size",
        "short",
    ]);
    out.expect(out.code == Some(0), "the sweep succeeds");
    let r = read_report(dir.path());
    let procs2 = &point(&r, "processes", 2)["summary"];
    let threads2 = &point(&r, "threads", 2)["summary"];
    let context = format!("processes@2: {procs2}\nthreads@2: {threads2}");
    assert!(
        num(&procs2["speedup"], "speedup") >= 1.6,
        "processes speed up >= 1.6\n{context}"
    );
    assert!(
        num(&procs2["busy_cores"], "busy_cores") >= 1.7,
        "about 2 busy cores\n{context}"
    );
    assert_eq!(procs2["worker_layout"], "processes", "{context}");
    assert_eq!(procs2["workers_observed"], 2, "{context}");
    assert!(
        num(&threads2["speedup"], "speedup") <= 1.3,
        "threads do not scale\n{context}"
    );
    let busy = num(&threads2["busy_cores"], "busy_cores");
    assert!(
        (0.8..=1.3).contains(&busy),
        "about 1 busy core with threads\n{context}"
    );
    assert_eq!(threads2["worker_layout"], "threads", "{context}");

    let steps = r["diagnosis"]["steps"].as_array().unwrap();
    let answer = |id: &str| {
        steps
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["answer"].clone())
            .unwrap()
    };
    assert_eq!(answer("cpu_bound"), "yes");
    assert_eq!(answer("threads_scale"), "no");
    assert_eq!(r["diagnosis"]["recommendation"]["model"], "processes");
    assert_eq!(r["diagnosis"]["recommendation"]["workers"], 2);
}

#[test]
fn tree_cpu_time_from_perf_event_agrees_with_rusage() {
    let dir = TempDir::new("lab01cpu");
    let py = python().display().to_string();
    let lab = lab01();
    let out = run_forkcast(&[
        "run",
        "-q",
        "-o",
        &dir.str(),
        "-w",
        "2",
        "--runs",
        "1",
        "--warmup",
        "0",
        "--",
        &py,
        &lab,
        "--mode",
        "processes",
        "--workers",
        "{workers}",
        "--size",
        "short",
    ]);
    out.expect(out.code == Some(0), "the run succeeds");
    let r = read_report(dir.path());
    let run = &r["points"][0]["runs"][0];
    let task_clock = num(&run["counters"]["task_clock_s"], "task_clock_s");
    let rusage = num(&run["rusage"]["user_s"], "user_s") + num(&run["rusage"]["sys_s"], "sys_s");
    let ratio = task_clock / rusage;
    assert!(
        (0.95..=1.05).contains(&ratio),
        "task-clock {task_clock:.3} s vs rusage {rusage:.3} s"
    );
    if r["host"]["counters"] == "software" {
        let missing = run["counters"]["unavailable"].to_string();
        assert!(
            missing.contains("cycles"),
            "a host without a PMU says cycles are unavailable: {missing}"
        );
    }
}
