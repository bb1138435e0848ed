//! Where the time goes, measured from outside: futex waits of GIL-bound threads, a shared
//! PostgreSQL sink, a workload blocked on a socket or asleep, and the straggler tail.

use crate::support::postgres::PrivatePostgres;
use crate::support::{python, read_report, repo_root, run_forkcast, TempDir};
use serde_json::Value;

fn lab(name: &str) -> String {
    repo_root()
        .join("fixtures/labs")
        .join(name)
        .display()
        .to_string()
}

/// Runs forkcast quietly with `args`, then returns the report.
fn sweep(tag: &str, args: &[&str]) -> (TempDir, Value) {
    let dir = TempDir::new(tag);
    let o = dir.str();
    let mut all = vec!["run", "-q", "-o", &o];
    all.extend_from_slice(args);
    let out = run_forkcast(&all);
    out.expect(out.code == Some(0), "the sweep succeeds");
    let report = read_report(dir.path());
    (dir, report)
}

fn summary_at(r: &Value, workers: u64) -> &Value {
    let p = r["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["workers"] == workers)
        .expect("point exists");
    &p["summary"]
}

fn step<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["diagnosis"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .expect("step exists")
}

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
    let py = python().display().to_string();
    let lab01 = lab("01_cpu_bound_processes_vs_threads.py");
    let (_d, r) = sweep(
        "offcpu-lab01",
        &[
            "-w",
            "2",
            "--runs",
            "1",
            "--warmup",
            "0",
            "-P",
            "mode=threads,processes",
            "--",
            &py,
            &lab01,
            "--mode",
            "{mode}",
            "--workers",
            "{workers}",
            "--size",
            "short",
        ],
    );
    let points = r["points"].as_array().unwrap();
    let threads = &points
        .iter()
        .find(|p| p["params"]["mode"] == "threads")
        .unwrap()["summary"];
    let processes = &points
        .iter()
        .find(|p| p["params"]["mode"] == "processes")
        .unwrap()["summary"];
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
    let py = python().display().to_string();
    let script = repo_root()
        .join("fixtures/workloads/socket_wait.py")
        .display()
        .to_string();
    let (_d, r) = sweep(
        "offcpu-socket",
        &[
            "-w",
            "2",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--",
            &py,
            &script,
            "--workers",
            "{workers}",
        ],
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
    assert_eq!(step(&r, "cpu_bound")["answer"], "no");
    assert_eq!(
        r["diagnosis"]["recommendation"]["model"],
        "async_or_threads"
    );
}

#[test]
fn a_sleeping_command_is_measured_as_asleep() {
    let (_d, r) = sweep(
        "offcpu-sleep",
        &[
            "-w",
            "1",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--workers-env",
            "N",
            "--",
            "sleep",
            "0.5",
        ],
    );
    let (kind, share) = largest(&summary_at(&r, 1)["offcpu"]);
    assert_eq!(kind, "sleep");
    assert!(share > 0.8, "asleep nearly all the time: {share}");
    assert_eq!(step(&r, "cpu_bound")["answer"], "no");
}

#[test]
fn direct_writers_share_the_postgres_sink_and_a_single_writer_does_not() {
    let pg = PrivatePostgres::start();
    let dsn = pg.dsn();
    let py = python().display().to_string();
    let lab06 = lab("06_pipeline_cpu_procs_to_postgres_writer.py");
    // Three runs for the direct sweep: the wait per CPU second moves by a third between runs.
    let args = |sink: &'static str, runs: &'static str| {
        vec![
            "-w".to_string(),
            "1,2".into(),
            "--runs".into(),
            runs.into(),
            "--warmup".into(),
            "0".into(),
            "--".into(),
            py.clone(),
            lab06.clone(),
            "--sink".into(),
            sink.into(),
            "--dsn".into(),
            dsn.clone(),
            "--workers".into(),
            "{workers}".into(),
            "--size".into(),
            "short".into(),
        ]
    };
    let direct_args = args("direct", "3");
    let (_d, direct) = sweep(
        "sink-direct",
        &direct_args.iter().map(String::as_str).collect::<Vec<_>>(),
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
    let evidence = step(&direct, "shared_sink")["evidence"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        evidence.contains(".s.PGSQL.5432"),
        "the step names the endpoint: {evidence}"
    );
    assert_ne!(
        direct["diagnosis"]["recommendation"]["sink"], "none",
        "a sink exists"
    );

    let single_args = args("single-writer", "1");
    let (_d, single) = sweep(
        "sink-single",
        &single_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let at2 = summary_at(&single, 2);
    assert_eq!(
        at2["sinks"],
        serde_json::json!([]),
        "no shared sink among the CPU workers: {at2}"
    );
    assert_ne!(
        single["diagnosis"]["recommendation"]["sink"],
        "single_writer"
    );
}

#[test]
fn skewed_documents_in_big_chunks_leave_a_straggler_tail() {
    let py = python().display().to_string();
    let lab05 = lab("05_process_pool_chunking_nlp.py");
    let tail = |sizes: &str| {
        let (_d, r) = sweep(
            &format!("strag-{sizes}"),
            &[
                "-w",
                "2",
                "--runs",
                "1",
                "--warmup",
                "0",
                "--",
                &py,
                &lab05,
                "--sizes",
                sizes,
                "--chunksize",
                "300",
                "--workers",
                "{workers}",
                "--size",
                "short",
            ],
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
