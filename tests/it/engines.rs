//! The engines Python users scale with (labs 07-10: joblib on loky, Dask distributed, Ray),
//! swept through forkcast at their short sizes: their workers are found and their services
//! are not workers, their own traffic is plumbing rather than a sink, bytes they pass through
//! shared memory count as references, and every peer any of their processes talked to is on
//! 127.0.0.0/8. An engine that cannot start fails its test with the target's stderr: never a
//! silent skip. The verdicts themselves (scaling, at forkcast's default runs) are
//! scripts/check-expected.py's, and replayed from fixtures/recordings/variants/.

use crate::support::{engines_python, lab_path, read_raw, repo_root, run_quietly, TempDir};
use serde_json::Value;
use std::net::IpAddr;

/// Sweeps engine lab `lab` at 1 and 2 workers, one run each, short size, with `options`; every
/// run of the target must succeed (else the test fails with its stderr), and every address any
/// process of the tree talked to or listened on must be a loopback one.
fn engine_sweep(tag: &str, lab: &str, options: &str) -> (TempDir, Value, Value) {
    let dir = TempDir::new(tag);
    let mut target = vec![engines_python().display().to_string(), lab_path(lab)];
    target.extend(options.split_whitespace().map(str::to_string));
    target.extend(["--workers", "{workers}", "--size", "short"].map(str::to_string));
    let out = run_quietly(
        &dir,
        &["-w", "1,2", "--runs", "1", "--warmup", "0"],
        &target,
    );
    let failed_target = target_failures(&dir);
    assert!(
        failed_target.is_empty(),
        "{lab} {options}: the engine did not run (its stderr follows; Ray needs /dev/shm \
         space and a writable /tmp/ray)\n{}",
        failed_target.join("\n")
    );
    out.expect(out.code == Some(0), "the sweep succeeds");
    let report = crate::support::read_report(dir.path());
    let raw = read_raw(dir.path());
    let outside = non_loopback_addresses(&raw);
    assert!(
        outside.is_empty(),
        "{lab} {options}: processes of the tree reached past 127.0.0.0/8: {outside:?}"
    );
    (dir, report, raw)
}

/// The target's stderr tail of each run that exited non-zero.
fn target_failures(dir: &TempDir) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(dir.join("report.json")) else {
        return vec!["(no report.json)".into()];
    };
    let report: Value = serde_json::from_str(&text).unwrap_or_default();
    let mut out = Vec::new();
    for p in report["points"].as_array().into_iter().flatten() {
        for r in p["runs"].as_array().into_iter().flatten() {
            if r["exit_code"] == 0 {
                continue;
            }
            let file = r["stderr_file"].as_str().unwrap_or_default();
            let path = dir.path().join(file);
            let stderr = std::fs::read_to_string(&path).unwrap_or_default();
            let tail: String = stderr
                .chars()
                .rev()
                .take(3000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            out.push(format!(
                "--- {} workers, exit {}: {}\n{tail}",
                p["workers"],
                r["exit_code"],
                path.display()
            ));
        }
    }
    out
}

/// Every tcp/udp address in the raw measurements (the preload probe's peers and listening
/// addresses, the sampler's named sockets) that is not a loopback one.
fn non_loopback_addresses(raw: &Value) -> Vec<String> {
    let mut seen = addresses(raw);
    seen.retain(|s| !is_loopback(s.rsplit_once(": ").map_or("", |(_, a)| a)));
    seen
}

/// Every tcp/udp address in the raw measurements, as "comm: address", sorted and unique.
fn addresses(raw: &Value) -> Vec<String> {
    let mut seen = Vec::new();
    for p in raw["points"].as_array().into_iter().flatten() {
        for r in p["runs"].as_array().into_iter().flatten() {
            let pre = &r["probes"]["preload"]["processes"];
            for proc in pre.as_array().into_iter().flatten() {
                for row in proc["rows"].as_array().into_iter().flatten() {
                    if matches!(row["kind"].as_str(), Some("tcp" | "udp")) {
                        if let Some(peer) = row["peer"].as_str() {
                            seen.push(format!("{}: {peer}", proc["comm"]));
                        }
                    }
                }
            }
            for proc in r["sampled"]["processes"].as_array().into_iter().flatten() {
                for held in proc["held"].as_array().into_iter().flatten() {
                    let name = held.as_str().unwrap_or_default();
                    let addr = name
                        .strip_prefix("tcp:listen:")
                        .or_else(|| name.strip_prefix("tcp:"))
                        .or_else(|| name.strip_prefix("udp:"));
                    if let Some(addr) = addr {
                        seen.push(format!("{}: {addr}", proc["comm"]));
                    }
                }
            }
        }
    }
    seen.sort();
    seen.dedup();
    seen
}

/// `127.0.0.1:5432`, `[::1]:80`, `[::ffff:127.0.0.1]:80`: a loopback address with its port.
fn is_loopback(addr: &str) -> bool {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

#[test]
fn recorded_engine_sweeps_reached_no_peer_past_loopback() {
    // The recordings the engine tests replay were made under the same rule as a live sweep:
    // every address any process of their trees talked to or listened on is on 127.0.0.0/8.
    let root = repo_root().join("fixtures/recordings/variants");
    let mut seen = 0;
    for name in ["07_", "08_", "09_", "10_"] {
        for entry in std::fs::read_dir(&root).expect("the recordings") {
            let dir = entry.expect("an entry").path();
            let file = dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            if !file.starts_with(name) {
                continue;
            }
            let raw = read_raw(&dir);
            let outside = non_loopback_addresses(&raw);
            assert!(
                outside.is_empty(),
                "{file}: reached past 127.0.0.0/8: {outside:?}"
            );
            // Not a vacuous pass: Dask's and Ray's trees did talk over sockets.
            if name == "09_" || name == "10_" {
                assert!(
                    !addresses(&raw).is_empty(),
                    "{file}: no address recorded at all"
                );
            }
            seen += 1;
        }
    }
    assert!(seen >= 10, "{seen} engine recordings checked");
}

/// The summary of the point at `workers`.
fn at(report: &Value, workers: u64) -> &Value {
    let p = report["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["workers"] == workers)
        .unwrap_or_else(|| panic!("no point at {workers} workers"));
    &p["summary"]
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

#[test]
fn loopback_addresses_are_told_from_others() {
    for a in [
        "127.0.0.1:5432",
        "127.3.2.1:1",
        "[::1]:80",
        "[::ffff:127.0.0.1]:40347",
    ] {
        assert!(is_loopback(a), "{a}");
    }
    for a in [
        "169.254.169.254:80",
        "10.0.0.2:6379",
        "0.0.0.0:8787",
        "[::]:80",
        "[::ffff:10.0.0.1]:1",
        "x",
    ] {
        assert!(!is_loopback(a), "{a}");
    }
}

#[test]
fn joblib_loky_workers_are_the_workers_and_its_resource_tracker_is_not_one() {
    let (_dir, r, _) = engine_sweep(
        "engine-loky",
        "07_joblib_loky_vs_threads.py",
        "--backend loky --work pure",
    );
    let s = at(&r, 2);
    let context = format!("{s:#}");
    assert_eq!(s["engine"], "joblib", "{context}");
    assert_eq!(s["worker_layout"], "processes", "{context}");
    assert_eq!(s["workers_observed"], 2, "the two loky workers\n{context}");
    // Every call of the user's function, timed inside the loky workers.
    assert_eq!(num(&s["task_count"], "task_count"), 64.0, "{context}");
    // The GIL figure comes from inside the loky workers too.
    assert!(
        num(&s["pools"]["gil_knocks"], "gil_knocks") > 0.0,
        "{context}"
    );
    assert_eq!(
        r["diagnosis"]["recommendation"]["sink"], "none",
        "{context}"
    );
    let findings = r["diagnosis"]["findings"].to_string();
    assert!(
        findings.contains("In joblib's terms: Parallel(n_jobs="),
        "{findings}"
    );
}

#[test]
fn joblib_threads_are_found_as_threads_of_one_process() {
    let (_dir, r, _) = engine_sweep(
        "engine-joblib-threads",
        "07_joblib_loky_vs_threads.py",
        "--backend threads --work numpy",
    );
    let s = at(&r, 2);
    assert_eq!(s["engine"], "joblib", "{s:#}");
    assert_eq!(s["worker_layout"], "threads", "{s:#}");
    assert_eq!(num(&s["task_count"], "task_count"), 64.0, "{s:#}");
}

#[test]
fn joblib_memmaps_a_large_array_by_reference_and_max_nbytes_none_pickles_it_per_call() {
    let (_m, mmap, _) = engine_sweep(
        "engine-memmap",
        "08_joblib_memmap_vs_pickle.py",
        "--pass mmap",
    );
    let (_p, pickle, _) = engine_sweep(
        "engine-pickle",
        "08_joblib_memmap_vs_pickle.py",
        "--pass pickle",
    );
    let (m, p) = (at(&mmap, 2), at(&pickle, 2));
    let array = 24.0 * 1024.0 * 1024.0;
    // 32 calls, each carrying a reference to the whole 24 MiB array in /dev/shm.
    assert!(
        num(&m["shared_bytes"], "shared_bytes") >= 32.0 * array,
        "{m:#}"
    );
    assert!(
        num(&m["ipc_bytes_per_task"], "ipc") < 64.0 * 1024.0,
        "{m:#}"
    );
    assert!(p["shared_bytes"].is_null(), "{p:#}");
    assert!(num(&p["ipc_bytes_per_task"], "ipc") >= array, "{p:#}");
    assert_eq!(
        mmap["diagnosis"]["recommendation"]["data_passing"], "direct",
        "{m:#}"
    );
    assert_eq!(
        pickle["diagnosis"]["recommendation"]["data_passing"], "references_or_shared_memory",
        "{p:#}"
    );
    let findings = pickle["diagnosis"]["findings"].to_string();
    assert!(findings.contains("max_nbytes"), "{findings}");
}

#[test]
fn dask_worker_processes_are_the_workers_and_its_tcp_is_plumbing() {
    let (_dir, r, _) = engine_sweep(
        "engine-dask",
        "09_dask_workers_vs_threads.py",
        "--layout processes --work pure",
    );
    let s = at(&r, 2);
    assert_eq!(s["engine"], "dask", "{s:#}");
    assert_eq!(s["worker_layout"], "processes", "{s:#}");
    assert_eq!(s["workers_observed"], 2, "{s:#}");
    assert_eq!(num(&s["task_count"], "task_count"), 64.0, "{s:#}");
    // The scheduler, nannies and workers talk TCP on 127.0.0.1: plumbing, never a sink.
    assert_eq!(s["workers_write_sinks"], false, "{s:#}");
    assert_eq!(r["diagnosis"]["recommendation"]["sink"], "none", "{s:#}");
    let findings = r["diagnosis"]["findings"].to_string();
    assert!(
        findings.contains("In Dask's terms: LocalCluster("),
        "{findings}"
    );
}

#[test]
fn a_dask_worker_with_threads_has_its_threads_as_the_workers() {
    let (_dir, r, _) = engine_sweep(
        "engine-dask-threads",
        "09_dask_workers_vs_threads.py",
        "--layout threads --work pure",
    );
    let s = at(&r, 2);
    assert_eq!(s["worker_layout"], "threads", "{s:#}");
    assert_eq!(s["workers_observed"], 2, "{s:#}");
    assert_eq!(num(&s["task_count"], "task_count"), 64.0, "{s:#}");
}

#[test]
fn ray_tasks_run_in_its_workers_and_its_services_are_not_workers() {
    let (_dir, r, raw) = engine_sweep(
        "engine-ray",
        "10_ray_tasks_actor_objects.py",
        "--mode tasks",
    );
    let s = at(&r, 2);
    assert_eq!(s["engine"], "ray", "{s:#}");
    assert_eq!(s["worker_layout"], "processes", "{s:#}");
    assert_eq!(s["workers_observed"], 2, "{s:#}");
    assert_eq!(num(&s["task_count"], "task_count"), 32.0, "{s:#}");
    assert_eq!(r["diagnosis"]["recommendation"]["sink"], "none", "{s:#}");
    // The services ran: the test saw the real engine, not a stand-in.
    let comms: Vec<String> = raw["points"][1]["runs"][0]["sampled"]["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["comm"].as_str().unwrap_or_default().to_string())
        .collect();
    for service in ["gcs_server", "raylet"] {
        assert!(comms.iter().any(|c| c == service), "{service} in {comms:?}");
    }
}

/// The pids the python probe gave `role` in the run at `workers` (its first run).
fn pids_with_role(raw: &Value, workers: u64, role: &str) -> Vec<i64> {
    let point = raw["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["workers"] == workers)
        .unwrap_or_else(|| panic!("no point at {workers} workers"));
    point["runs"][0]["probes"]["python"]["processes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["role"] == role)
        .filter_map(|p| p["pid"].as_i64())
        .collect()
}

#[test]
fn a_ray_actor_every_task_waits_on_is_a_sink_and_the_tasks_stay_the_workers() {
    let (_dir, r, raw) = engine_sweep(
        "engine-ray-actor",
        "10_ray_tasks_actor_objects.py",
        "--mode actor",
    );
    let s = at(&r, 2);
    assert_eq!(s["engine"], "ray", "{s:#}");
    assert_eq!(s["worker_layout"], "processes", "{s:#}");
    // Every task ran in a task worker; the actor's process ran none of them. Ray lends a
    // blocked task's slot to another process, and the two busiest fill the two slots.
    assert_eq!(num(&s["task_count"], "task_count"), 32.0, "{s:#}");
    assert_eq!(s["workers_observed"], 2, "{s:#}");
    let actor = pids_with_role(&raw, 2, "ray_actor");
    assert_eq!(actor.len(), 1, "one Writer actor: {actor:?}");
    // The actor's process is a sink the task workers waited on, by its class, not a worker.
    let sinks = s["sinks"].as_array().expect("sinks at 2 workers");
    let writer = sinks
        .iter()
        .find(|k| k["resource"] == "actor:Writer")
        .unwrap_or_else(|| panic!("the actor is a sink: {s:#}"));
    assert_eq!(writer["kind"], "ray actor", "{writer:#}");
    assert!(
        writer["workers_waiting"].as_u64() >= Some(2),
        "both task workers waited on it: {writer:#}"
    );
    assert!(num(&writer["wait_share"], "wait_share") > 0.0, "{writer:#}");
    let roles = &s["peer_roles"]["actor:Writer"];
    assert_eq!(roles, "sink", "rows out, acknowledgements back: {s:#}");
}

#[test]
fn ray_put_passes_by_reference_and_an_argument_by_value_is_copied_per_task() {
    let (_p, put, _) = engine_sweep(
        "engine-ray-put",
        "10_ray_tasks_actor_objects.py",
        "--mode put",
    );
    let (_v, value, _) = engine_sweep(
        "engine-ray-value",
        "10_ray_tasks_actor_objects.py",
        "--mode value",
    );
    let (p, v) = (at(&put, 2), at(&value, 2));
    let array = 24.0 * 1024.0 * 1024.0;
    assert!(num(&p["shared_bytes"], "shared_bytes") >= array, "{p:#}");
    assert!(
        num(&p["ipc_bytes_per_task"], "ipc") < 1024.0 * 1024.0,
        "{p:#}"
    );
    assert!(num(&v["ipc_bytes_per_task"], "ipc") >= array, "{v:#}");
    assert_eq!(
        value["diagnosis"]["recommendation"]["data_passing"], "references_or_shared_memory",
        "{v:#}"
    );
    let findings = value["diagnosis"]["findings"].to_string();
    assert!(findings.contains("ray.put it once"), "{findings}");
}

#[test]
fn every_engine_lab_refuses_zero_workers_and_an_unknown_variant() {
    let bad: [(&str, &[&str]); 4] = [
        ("07_joblib_loky_vs_threads.py", &["--backend", "dask"]),
        (
            "08_joblib_memmap_vs_pickle.py",
            &["--pass", "carrier-pigeon"],
        ),
        ("09_dask_workers_vs_threads.py", &["--layout", "gpus"]),
        ("10_ray_tasks_actor_objects.py", &["--mode", "serve"]),
    ];
    for (lab, knob) in bad {
        let script = repo_root().join("fixtures/labs").join(lab);
        for args in [vec!["--workers", "0"], [knob, &["--workers", "2"]].concat()] {
            let out = std::process::Command::new(engines_python())
                .arg(&script)
                .args(&args)
                .output()
                .expect("run the lab");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{lab} {args:?}\n{stderr}");
            assert!(
                stderr.contains(args[0]) || stderr.contains("--workers must be >= 1"),
                "{lab} {args:?}: the message names the flag\n{stderr}"
            );
        }
    }
}

/// `forkcast report` of a recorded engine sweep (fixtures/recordings/variants/NAME).
fn replayed(name: &str) -> Value {
    let dir = repo_root().join("fixtures/recordings/variants").join(name);
    let out = crate::support::forkcast()
        .args(["report", &dir.display().to_string(), "--format", "json"])
        .output()
        .expect("forkcast runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("report json")
}

#[test]
fn recorded_engine_sweeps_read_each_engines_shape_without_running_anything() {
    // (recording, engine, layout at 2, tasks per run, a finding in the engine's terms)
    let cases = [
        (
            "07_threads_numpy",
            "joblib",
            "threads",
            64.0,
            "prefer=\\\"threads\\\"",
        ),
        (
            "07_loky_pure",
            "joblib",
            "processes",
            64.0,
            "Parallel(n_jobs=",
        ),
        ("08_pickle", "joblib", "processes", 32.0, "max_nbytes"),
        (
            "09_processes_pure",
            "dask",
            "processes",
            64.0,
            "LocalCluster(n_workers=",
        ),
        (
            "09_threads_pure",
            "dask",
            "threads",
            64.0,
            "In Dask's terms",
        ),
        ("10_tasks", "ray", "processes", 32.0, "ray.init(num_cpus="),
        ("10_value", "ray", "processes", 32.0, "ray.put it once"),
    ];
    for (name, engine, layout, tasks, words) in cases {
        let r = replayed(name);
        let s = at(&r, 2);
        assert_eq!(s["engine"], engine, "{name}: {s:#}");
        assert_eq!(s["worker_layout"], layout, "{name}: {s:#}");
        assert_eq!(s["workers_observed"], 2, "{name}: {s:#}");
        assert_eq!(num(&s["task_count"], "task_count"), tasks, "{name}: {s:#}");
        // Engine services and their traffic are neither workers nor sinks.
        assert_eq!(r["diagnosis"]["recommendation"]["sink"], "none", "{name}");
        let findings = r["diagnosis"]["findings"].to_string();
        assert!(findings.contains(words), "{name}: {findings}");
    }
    let (mmap, put) = (replayed("08_mmap"), replayed("10_put"));
    for (name, r) in [("08_mmap", &mmap), ("10_put", &put)] {
        let s = at(r, 2);
        assert!(
            num(&s["shared_bytes"], "shared_bytes") >= 24.0 * 1024.0 * 1024.0,
            "{name}: {s:#}"
        );
        assert_eq!(
            r["diagnosis"]["recommendation"]["data_passing"], "direct",
            "{name}"
        );
        assert!(
            r["diagnosis"]["findings"]
                .to_string()
                .contains("by reference"),
            "{name}"
        );
    }
}

#[test]
fn a_recorded_ray_actor_sink_is_advised_as_one_actor_that_batches() {
    let r = replayed("10_actor");
    let s = at(&r, 2);
    assert_eq!(s["engine"], "ray", "{s:#}");
    assert_eq!(s["worker_layout"], "processes", "{s:#}");
    assert_eq!(num(&s["task_count"], "task_count"), 32.0, "{s:#}");
    assert_eq!(s["sinks"][0]["resource"], "actor:Writer", "{s:#}");
    let rec = &r["diagnosis"]["recommendation"];
    assert_eq!(rec["sink"], "single_writer", "{rec:#}");
    assert_eq!(rec["model"], "processes", "{rec:#}");
    let step = r["diagnosis"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["id"] == "shared_sink")
        .unwrap();
    assert_eq!(step["measured"]["kind"], "ray actor", "{step:#}");
    assert!(
        step["source"].as_str().unwrap().contains("python probe"),
        "{step:#}"
    );
    let findings = r["diagnosis"]["findings"].to_string();
    assert!(
        findings.contains("the sink is an actor (actor:Writer)"),
        "{findings}"
    );
}

#[test]
fn recorded_engine_sweeps_get_a_code_sketch_in_the_engines_own_calls() {
    let cases = [
        ("07_threads_numpy", "Parallel(n_jobs=2, prefer=\"threads\""),
        ("07_loky_pure", "from joblib import Parallel, delayed"),
        (
            "09_threads_pure",
            "Client(n_workers=2, threads_per_worker=1)",
        ),
        ("10_put", "ray.init(num_cpus="),
        ("10_actor", "writer.write_batch.remote(ray.get(done))"),
    ];
    for (name, code) in cases {
        let dir = repo_root().join("fixtures/recordings/variants").join(name);
        let out = crate::support::run_forkcast(&[
            "report",
            &dir.display().to_string(),
            "--format",
            "markdown",
        ]);
        out.expect(out.code == Some(0), "the recording replays");
        let sketch = out.stdout.split("```python").nth(1).unwrap_or_default();
        assert!(sketch.contains(code), "{name}: {}", out.stdout);
    }
}
