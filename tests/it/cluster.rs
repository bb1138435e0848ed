//! "A bigger machine or a cluster" (issue 19 item 5, issue 18's "Past this host"), replayed
//! from the recordings: where the replayed curve still rises past the host's cores on cores
//! alone and memory holds more workers, the finding names the engine by the measured shape and
//! prices the bytes per task on a network; where a serial resource (a sink, the GIL) holds the
//! curve, it says more cores or machines will not help and which fix would.

use crate::support::{check_contract, repo_root, run_forkcast_env, TempDir};
use forkcast::analyze::analyze;
use forkcast::diagnose::cluster::{Cluster, ClusterEngine, Shape};
use forkcast::diagnose::{diagnose, Diagnosis};
use forkcast::measure::Measurements;
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    repo_root().join("fixtures/recordings/variants").join(name)
}

fn load(name: &str) -> Measurements {
    forkcast::saved::load(&dir(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn diagnosed(m: &Measurements) -> Diagnosis {
    diagnose(m, &analyze(m))
}

fn cluster_of(name: &str) -> (Cluster, Diagnosis) {
    let d = diagnosed(&load(name));
    let k = d
        .cluster
        .clone()
        .unwrap_or_else(|| panic!("{name}: no cluster finding: {:#?}", d.findings));
    (k, d)
}

/// The finding's line among the findings.
fn past_host_line(d: &Diagnosis) -> &str {
    d.findings
        .iter()
        .find(|f| f.contains("replayed curve"))
        .map_or("", |f| f.as_str())
}

#[test]
fn a_pool_of_functions_rising_past_the_cores_gets_dask_and_its_bytes_priced() {
    // Lab 01's hashlib work in a multiprocessing.Pool: 4 and 8 cores keep rising on the CPU.
    let (k, d) = cluster_of("01_processes_hashlib");
    assert_eq!(
        (k.engine, k.shape),
        (ClusterEngine::Dask, Shape::PoolOfFunctions)
    );
    assert_eq!(k.host_cores, 2);
    assert_eq!(k.curve.len(), 3);
    assert!(
        k.curve[1].speedup >= 1.1 * k.curve[0].speedup,
        "{:?}",
        k.curve
    );
    assert!(k.workers_memory_holds > k.host_cores);
    // The bytes are the ones the probes counted per task at the largest count, both ways.
    let a = analyze(&load("01_processes_hashlib"));
    let last = a.series[a.primary.unwrap()].points.last().copied().unwrap();
    let probes = a.points[last].probes.as_ref().unwrap();
    let bytes = probes.ipc_bytes_per_task.unwrap();
    let task = probes.task_durations.as_ref().unwrap().p50_s;
    assert_eq!(k.network.bytes_per_task, Some(bytes));
    assert_eq!(k.network.task_s, Some(task));
    let gbit: Vec<f64> = k.network.links.iter().map(|l| l.gbit_per_s).collect();
    assert_eq!(gbit, [1.0, 10.0]);
    for l in &k.network.links {
        let want = bytes * 8.0 / (l.gbit_per_s * 1e9);
        assert!((l.transfer_s - want).abs() < 1e-15, "{l:?}");
        assert!(
            (l.share_of_task.unwrap() - want / task).abs() < 1e-12,
            "{l:?}"
        );
        // A few hundred bytes against milliseconds of work: the wire costs nothing.
        assert_eq!(l.pays, Some(true), "{l:?}");
    }
    let line = past_host_line(&d);
    for want in [
        "a bigger machine or a cluster would pay",
        "Dask",
        "1 Gbit/s",
        "10 Gbit/s",
    ] {
        assert!(line.contains(want), "{want:?} in {line}");
    }
    assert!(line.contains("forkcast measured this host only"), "{line}");
    for source in ["PSS, procfs", "preload probe", "python probe", "host"] {
        assert!(line.contains(source), "{source:?} named in {line}");
    }
}

#[test]
fn megabytes_pickled_per_task_make_the_network_eat_the_gain() {
    // Lab 01's hashlib pool (its curve rises past the cores on the CPU), its analysis told that
    // 8 MB crossed per 12 ms task, as lab 04 pickles an image: 64 ms on a gigabit link, 6.4 ms
    // on ten.
    let m = load("01_processes_hashlib");
    let mut a = analyze(&m);
    let mut told = 0;
    for p in &mut a.points {
        if let Some(probes) = p.probes.as_mut() {
            probes.ipc_bytes_per_task = Some(8e6);
            told += 1;
        }
    }
    assert!(told >= 2, "every point has the probes' figures");
    let d = diagnose(&m, &a);
    let k = d.cluster.as_ref().expect("a cluster finding");
    assert_eq!(k.engine, ClusterEngine::Dask);
    let bytes = k.network.bytes_per_task.unwrap();
    assert!(bytes > 7e6, "{bytes}");
    assert!(k.network.links.iter().all(|l| l.pays == Some(false)));
    let ten = &k.network.links[1];
    assert!(ten.workers_fed.unwrap() < 4.0, "{ten:?}");
    assert!(
        past_host_line(&d).contains("pass less per task before a cluster"),
        "{}",
        past_host_line(&d)
    );
}

#[test]
fn a_parent_that_feeds_megabytes_per_task_holds_the_curve_itself() {
    // Lab 04 pickles an 8 MB image per task through its parent, whose own CPU (8 ms a task
    // beside its pickling) goes with the tasks: at 4 workers the parent is busy all the time.
    // No cluster lifts that; passing references does.
    let d = diagnosed(&load("04_pickle"));
    assert!(d.cluster.is_none(), "{:?}", d.cluster);
    let line = past_host_line(&d);
    assert!(line.contains("held by driver"), "{line}");
    assert!(line.contains("passing references"), "{line}");
}

#[test]
fn objects_shared_by_reference_name_ray() {
    // The same pool, its runs told they passed 64 KB by reference (as joblib's memory-mapped
    // arrays or ray.put are counted): objects shared between tasks are Ray's object store.
    let mut m = load("01_processes_hashlib");
    let mut told = 0;
    for run in m.points.iter_mut().flat_map(|p| p.runs.iter_mut()) {
        let py = run.probes.as_mut().and_then(|p| p.python.as_mut());
        if let Some(first) = py.and_then(|py| py.processes.first_mut()) {
            first.shared_bytes = 65536;
            told += 1;
        }
    }
    assert!(told >= 2, "every run has the python probe's records");
    let d = diagnosed(&m);
    let k = d.cluster.as_ref().expect("still a cluster finding");
    assert_eq!(
        (k.engine, k.shape),
        (ClusterEngine::Ray, Shape::SharedObjects)
    );
    // 64 KiB over the run's 64 tasks: a KiB each, beside the pickled bytes.
    assert_eq!(k.network.shared_bytes_per_task, Some(1024.0));
    let pickled = k.network.pickled_bytes_per_task.unwrap();
    assert_eq!(k.network.bytes_per_task, Some(pickled + 1024.0));
    assert!(past_host_line(&d).contains("Ray fits the measured shape"));
}

#[test]
fn threads_and_commands_get_their_engine_and_say_what_was_not_measured() {
    // joblib threads on numpy: the threads pass objects in memory, so no bytes were counted.
    let (k, _) = cluster_of("07_threads_numpy");
    assert_eq!(k.engine, ClusterEngine::Dask);
    assert!(k.network.bytes_per_task.is_none() && k.network.links.is_empty());
    assert!(k.network.unmeasured.as_deref().unwrap().contains("threads"));
    // make -j: a command per task.
    let (k, _) = cluster_of("make_uneven");
    assert_eq!((k.engine, k.shape), (ClusterEngine::Dask, Shape::Commands));
}

#[test]
fn a_serial_bound_says_more_cores_or_machines_will_not_help_and_names_the_fix() {
    // Lab 06 writes to PostgreSQL from each worker; lab 01's threads take turns on the GIL.
    for (name, bound, fix) in [
        ("06_direct", "sink:", "one batched writer would"),
        ("01_threads_pure", "gil", "processes (no GIL) would"),
        ("threadpool_one", "gil", "processes (no GIL) would"),
    ] {
        let d = diagnosed(&load(name));
        assert!(d.cluster.is_none(), "{name}: {:?}", d.cluster);
        let line = past_host_line(&d);
        assert!(line.contains(&format!("held by {bound}")), "{name}: {line}");
        assert!(line.contains("more machines"), "{name}: {line}");
        assert!(line.contains(fix), "{name}: {line}");
    }
}

#[test]
fn a_curve_under_one_worker_is_not_called_rising() {
    // SQLite-writing workers at 2 ran slower than 1: a bigger machine that stays under one
    // worker's speed pays nothing, however the curve moves past the cores.
    // (Before this rule its 0.88× at 4 cores, against 0.77× at 2, read as "would pay".)
    let d = diagnosed(&load("sqlite_pool_compute"));
    assert!(d.cluster.is_none(), "{:?}", d.cluster);
    let line = past_host_line(&d);
    assert!(!line.contains("would pay"), "{line}");
}

#[test]
fn the_screen_has_the_cluster_line_only_where_it_applies_and_stays_one_screen() {
    let root = repo_root().join("fixtures/recordings/variants");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .expect("the recordings")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .to_string()
        })
        .collect();
    names.sort();
    let mut shown = 0;
    for name in &names {
        let applies = diagnosed(&load(name)).cluster.is_some();
        for columns in [100, 80] {
            let d = dir(name).display().to_string();
            let out = run_forkcast_env(&["report", &d], &[("COLUMNS", &columns.to_string())]);
            out.expect(out.code == Some(0), "the report replays");
            let lines: Vec<&str> = out.stdout.lines().collect();
            out.expect(lines.len() <= 45, &format!("{name}: at most 45 lines"));
            for line in &lines {
                out.expect(line.chars().count() <= columns, &format!("{line:?} fits"));
            }
            out.expect(
                out.stdout.contains("past this host:") == applies,
                &format!("{name}: the cluster line only where it applies"),
            );
            shown += usize::from(applies);
        }
    }
    // Both kinds are among the recordings: the line is shown for some, and not for others.
    assert!(
        shown >= 2 && shown < 2 * names.len(),
        "{shown} of {}",
        names.len()
    );
}

#[test]
fn the_cluster_finding_is_in_report_json_markdown_and_html_and_keeps_the_contract() {
    let out_dir = TempDir::new("cluster-report");
    let d = dir("01_processes_hashlib").display().to_string();
    let o = out_dir.path().display().to_string();
    let out = run_forkcast_env(&["report", &d, "-o", &o, "--html"], &[]);
    out.expect(out.code == Some(0), "the report replays into a folder");
    let json = crate::support::read_report(out_dir.path());
    let k = &json["diagnosis"]["cluster"];
    assert_eq!(k["engine"], "dask", "{k}");
    assert_eq!(k["sources"]["pss_bytes_per_worker"], "procfs", "{k}");
    check_contract(&out_dir.path().join("report.json"));
    let html = std::fs::read_to_string(out_dir.path().join("report.html")).unwrap();
    assert!(html.contains("<h3>Past this host</h3>") && html.contains("Gbit/s link"));
    let md = run_forkcast_env(&["report", &d, "--format", "markdown"], &[]);
    md.expect(
        md.stdout.contains("### Past this host") && md.stdout.contains("| on a 1 Gbit/s link |"),
        "the markdown table",
    );
    // Where it does not apply, report.json has no such object.
    let held = run_forkcast_env(
        &[
            "report",
            &dir("06_direct").display().to_string(),
            "--format",
            "json",
        ],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&held.stdout).unwrap();
    assert!(v["diagnosis"].get("cluster").is_none());
}
