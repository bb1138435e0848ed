//! Where the time goes, measured from outside: futex waits of GIL-bound threads, a shared
//! PostgreSQL sink, a workload blocked on a socket or asleep, and the straggler tail.

use crate::support::postgres::PrivatePostgres;
use crate::support::{
    fixture_path, lab06_command, lab_command, point, python_command, step, summary_at, sweep, words,
};
use forkcast::diagnose::StepId;
use serde_json::Value;

/// The key with the largest share in an offcpu map.
fn largest(map: &Value) -> (String, f64) {
    map.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or_default()
}

#[test]
fn gil_bound_threads_wait_on_a_futex_and_processes_stay_on_cpu() {
    let (_d, r) = sweep(
        "offcpu-lab01",
        &words("-w 2 --runs 1 --warmup 0 -P mode=threads,processes"),
        &lab_command(
            "01_cpu_bound_processes_vs_threads.py",
            "--mode {mode} --workers {workers} --size short",
        ),
    );
    let threads = &point(&r, "threads", 2)["summary"];
    let processes = &point(&r, "processes", 2)["summary"];
    let (kind, share) = largest(&threads["offcpu"]);
    assert_eq!(
        kind, "futex",
        "GIL waits show as futex waits: {}",
        threads["offcpu"]
    );
    assert!(
        share > 0.05,
        "and a real share of their time: {}",
        threads["offcpu"]
    );
    let on_cpu = processes["on_cpu_share"].as_f64().unwrap();
    let runq = processes["runqueue_share"].as_f64().unwrap_or(0.0);
    assert!(
        on_cpu + runq > 0.9,
        "process workers want a CPU > 90 % of their time: {processes}"
    );
}

#[test]
fn workers_blocked_on_a_local_socket_are_measured_as_blocked_on_it() {
    let (_d, r) = sweep(
        "offcpu-socket",
        &words("-w 2 --runs 1 --warmup 0"),
        &python_command(
            &fixture_path("workloads/socket_wait.py"),
            "--workers {workers}",
        ),
    );
    let s = summary_at(&r, 2);
    let (kind, share) = largest(&s["offcpu"]);
    assert_eq!(kind, "tcp", "the workers wait on TCP: {}", s["offcpu"]);
    assert!(share > 0.5, "most of their time: {}", s["offcpu"]);
    let (resource, _) = largest(&s["offcpu_resources"]);
    assert!(
        resource.starts_with("tcp:127.0.0.1:"),
        "named by its peer address: {resource}"
    );
    assert_eq!(step(&r, StepId::CpuBound)["answer"], "no");
    assert_eq!(
        r["diagnosis"]["recommendation"]["model"],
        "async_or_threads"
    );
}

#[test]
fn a_sleeping_command_is_measured_as_asleep() {
    let (_d, r) = sweep(
        "offcpu-sleep",
        &words("-w 1 --runs 1 --warmup 0 --workers-env N"),
        &["sleep", "0.5"],
    );
    let (kind, share) = largest(&summary_at(&r, 1)["offcpu"]);
    assert_eq!(kind, "sleep");
    assert!(share > 0.8, "asleep nearly all the time: {share}");
    assert_eq!(step(&r, StepId::CpuBound)["answer"], "no");
}

#[test]
fn direct_writers_share_the_postgres_sink_and_a_single_writer_does_not() {
    let pg = PrivatePostgres::start();
    let dsn = pg.dsn();
    // Three runs for the direct sweep: the wait per CPU second moves by a third between runs.
    let (_d, direct) = sweep(
        "sink-direct",
        &words("-w 1,2 --runs 3 --warmup 0"),
        &lab06_command("direct", &dsn),
    );
    let at2 = summary_at(&direct, 2);
    let sink = &at2["sinks"][0];
    assert_eq!(
        sink["kind"], "postgresql",
        "the shared sink is named as PostgreSQL: {}",
        at2["sinks"]
    );
    let share2 = sink["wait_share"].as_f64().unwrap();
    let resource = sink["resource"].as_str().unwrap();
    // Per second of CPU work: the server shares the two cores, so CPU contention stretches
    // the workers' lives and a share of life can stay flat while the wait per row grows.
    let per_work = |s: &Value, share: f64| share / s["on_cpu_share"].as_f64().unwrap();
    let at1 = summary_at(&direct, 1);
    let share1 = at1["offcpu_resources"][resource].as_f64().unwrap_or(0.0);
    let (w1, w2) = (per_work(at1, share1), per_work(at2, share2));
    assert!(
        w2 > w1,
        "its wait per CPU second grows from 1 to 2 workers: {w1} -> {w2}"
    );
    assert_eq!(sink["workers_waiting"], 2, "both workers wait on it");
    let evidence = step(&direct, StepId::SharedSink)["evidence"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        evidence.contains(".s.PGSQL.5432"),
        "the step names the endpoint: {evidence}"
    );
    assert_eq!(
        step(&direct, StepId::SharedSink)["answer"],
        "yes",
        "{evidence}"
    );
    assert_eq!(
        direct["diagnosis"]["recommendation"]["sink"],
        "single_writer"
    );

    let (_d, single) = sweep(
        "sink-single",
        &words("-w 1,2 --runs 1 --warmup 0"),
        &lab06_command("single-writer", &dsn),
    );
    let at2 = summary_at(&single, 2);
    assert_eq!(
        at2["sinks"],
        serde_json::json!([]),
        "no shared sink among the CPU workers: {at2}"
    );
    assert_eq!(
        single["diagnosis"]["recommendation"]["sink"], "direct",
        "the one writer already writes directly, uncontended"
    );
}

#[test]
fn skewed_documents_in_big_chunks_leave_a_straggler_tail() {
    // The median of three runs: which worker draws the big chunks, and when, moves with the
    // host, and one run in about 25 CI runs left no tail (0.025).
    let tail = |sizes: &str| {
        let (_d, r) = sweep(
            &format!("strag-{sizes}"),
            &words("-w 2 --runs 3 --warmup 0"),
            &lab_command(
                "05_process_pool_chunking_nlp.py",
                &format!("--sizes {sizes} --chunksize 50 --workers {{workers}} --size short"),
            ),
        );
        summary_at(&r, 2)["straggler_tail"]
            .as_f64()
            .expect("a straggler tail is measured")
    };
    let (skewed, uniform) = (tail("skewed"), tail("uniform"));
    assert!(skewed > 0.15, "skewed sizes leave a tail: {skewed}");
    assert!(
        skewed > uniform + 0.1,
        "clearly above uniform: skewed {skewed} vs uniform {uniform}"
    );
}
