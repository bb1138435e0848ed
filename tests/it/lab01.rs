//! Lab 01 under forkcast: processes scale on 2 cores, pure-Python threads do not, and the
//! tree's CPU time agrees between perf_event and rusage.

use crate::support::{lab_command, num, point, step, sweep, words};

const LAB01: &str = "01_cpu_bound_processes_vs_threads.py";

#[test]
fn processes_scale_and_pure_python_threads_do_not() {
    let (d, r) = sweep(
        "lab01",
        &words("-w 1,2 --runs 3 --warmup 1 -P mode=processes,threads"),
        &lab_command(
            LAB01,
            "--mode {mode} --work pure --workers {workers} --size short",
        ),
    );
    // The README's sweep shape (2 x 2 points, 1 warmup + 3 runs): report.json stays lean.
    let bytes = std::fs::metadata(d.join("report.json")).unwrap().len();
    assert!(bytes <= 100 * 1024, "report.json is {bytes} B, over 100 KB");
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

    assert_eq!(step(&r, "cpu_bound")["answer"], "yes");
    assert_eq!(step(&r, "threads_scale")["answer"], "no");
    assert_eq!(r["diagnosis"]["recommendation"]["model"], "processes");
    assert_eq!(r["diagnosis"]["recommendation"]["workers"], 2);
}

#[test]
fn tree_cpu_time_from_perf_event_agrees_with_rusage() {
    let (_d, r) = sweep(
        "lab01cpu",
        &words("-w 2 --runs 1 --warmup 0"),
        &lab_command(LAB01, "--mode processes --workers {workers} --size short"),
    );
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
