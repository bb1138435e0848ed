//! The exact timeline from context-switch records (issue 12), end to end: every thread's
//! on-CPU and blocked time, short-lived children from their task records, the source named in
//! the report, and the procfs sampler when switch records are turned off or out of reach.

use crate::support::{python_command, read_raw, read_report, sweep, words, TempDir};
use serde_json::Value;

/// Two threads spin 0.4 s of CPU each, two sleep 0.4 s, then the script exits.
const SPIN_AND_SLEEP: &str = r#"
import threading, time
def spin():
    end = time.thread_time() + 0.4
    while time.thread_time() < end:
        pass
threads = [threading.Thread(target=spin) for _ in range(2)]
threads += [threading.Thread(target=time.sleep, args=(0.4,)) for _ in range(2)]
for t in threads: t.start()
for t in threads: t.join()
"#;

/// The first run's sampler record: its source and switch counts are in report.json and the raw
/// file alike; its processes and threads only in the raw file ([`read_raw`]).
fn sampled(r: &Value) -> &Value {
    &r["points"][0]["runs"][0]["sampled"]
}

fn threads(r: &Value) -> Vec<&Value> {
    sampled(r)["processes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["threads"].as_array().unwrap())
        .collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn switch_records_give_every_thread_its_exact_cpu_and_blocked_time() {
    let script = std::env::temp_dir().join(format!("fc-spin-nap-{}.py", std::process::id()));
    std::fs::write(&script, SPIN_AND_SLEEP).unwrap();
    let (dir, r) = sweep(
        "switches-exact",
        &words("-w 1 --runs 1 --warmup 0 --probes none --workers-env W"),
        &python_command(&script.display().to_string(), ""),
    );
    let _ = std::fs::remove_file(&script);
    let raw = read_raw(dir.path());
    let s = sampled(&raw);
    assert_eq!(
        s["source"], "perf_switch",
        "root gets switch records: {s:#}"
    );
    assert_eq!(s["switches"]["lost_records"], 0);
    let ts = threads(&raw);
    // Python 3.11 does not name OS threads: the pool is the python process's other threads,
    // the two busiest spinning and the other two napping.
    let python = s["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["threads"].as_array().unwrap().len() == 5)
        .unwrap_or_else(|| panic!("a python process with 5 threads: {s:#}"));
    let mut pool: Vec<&Value> = python["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["tid"] != python["pid"])
        .collect();
    pool.sort_by(|a, b| f(&b["on_cpu_s"]).total_cmp(&f(&a["on_cpu_s"])));
    let (spin, nap) = pool.split_at(2);
    for t in spin {
        // thread_time() counts user+sys: the records must add up to the same 0.4 s.
        assert!((f(&t["on_cpu_s"]) - 0.4).abs() < 0.05, "spinner: {t}");
    }
    for t in nap {
        assert!(f(&t["on_cpu_s"]) < 0.02, "napper: {t}");
        let life = f(&t["last_seen_s"]) - f(&t["first_seen_s"]);
        let parts = f(&t["on_cpu_s"]) + f(&t["runqueue_s"]) + f(&t["blocked_s"]);
        assert!((life - parts).abs() < 1e-6, "intervals tile the life: {t}");
        // The sleep was named from /proc while it lasted, and got its exact length.
        let sleep = t["waits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["kind"] == "sleep")
            .unwrap_or_else(|| panic!("the sleep was named: {t}"));
        assert!(
            (f(&sleep["blocked_s"]) - 0.4).abs() < 0.05,
            "slept 0.4 s: {t}"
        );
    }
    // The tree's CPU from the records matches perf's task-clock for the same tree.
    let records: f64 = ts.iter().map(|t| f(&t["on_cpu_s"])).sum();
    let task_clock = f(&r["points"][0]["runs"][0]["counters"]["task_clock_s"]);
    assert!(
        (records - task_clock).abs() < 0.05 * task_clock + 0.01,
        "records {records} vs task-clock {task_clock}"
    );
    let sources = &r["points"][0]["summary"]["sources"];
    assert_eq!(sources["timeline"], "perf_switch", "{sources}");
    assert_eq!(
        sources["offcpu"], "procfs",
        "waits are named from /proc: {sources}"
    );
}

#[test]
fn every_short_lived_child_is_seen_from_its_task_records() {
    let (dir, _) = sweep(
        "switches-short",
        &words("-w 1 --runs 1 --warmup 0 --probes none --workers-env W"),
        &["/bin/sh", "-c", "for i in $(seq 40); do /bin/true; done"],
    );
    let raw = read_raw(dir.path());
    let procs = sampled(&raw)["processes"].as_array().unwrap();
    let trues = procs.iter().filter(|p| p["comm"] == "true").count();
    assert_eq!(trues, 40, "all 40 children, however short: {}", procs.len());
    for p in procs {
        assert!(f(&p["last_seen_s"]) >= f(&p["first_seen_s"]), "{p}");
    }
}

#[test]
fn turned_off_switch_records_fall_back_to_the_sampler_and_say_so() {
    let dir = TempDir::new("switches-off");
    let mut cmd = crate::support::forkcast();
    cmd.env("FORKCAST_SWITCHES", "off");
    let args = crate::support::run_args(
        &dir.str(),
        &words("-w 1 --runs 1 --warmup 0 --probes none --workers-env W"),
        &["/bin/sh", "-c", "sleep 0.3"],
    );
    let out = cmd.args(&args).output().expect("forkcast runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = read_report(dir.path());
    let s = sampled(&r);
    assert_eq!(s["source"], "procfs", "{s:#}");
    assert!(s["switches"].is_null());
    let why = s["switches_unavailable"].as_str().unwrap();
    assert!(why.contains("FORKCAST_SWITCHES=off"), "{why}");
    let findings = r["diagnosis"]["findings"].to_string();
    assert!(
        findings.contains("Timeline estimated from /proc ticks"),
        "{findings}"
    );
}

/// Runs forkcast as `nobody` (perf_event_paranoid 2 lets an unprivileged user trace its own
/// processes without kernel samples): switch records still work there, and where they do not
/// (paranoid 3 on Debian kernels) the run falls back with the fix named. Needs root to drop to
/// nobody; skipped otherwise.
#[test]
fn an_unprivileged_user_gets_a_timeline_either_way() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !std::path::Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipped: needs root and setpriv to run as nobody");
        return;
    }
    let dir = TempDir::new("switches-nobody");
    // nobody must be able to write the output folder and run the binary.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let bin = dir.join("forkcast");
    std::fs::copy(env!("CARGO_BIN_EXE_forkcast"), &bin).unwrap();
    let out_dir = dir.join("out");
    let args = crate::support::run_args(
        &out_dir.display().to_string(),
        &words("-w 1 --runs 1 --warmup 0 --probes none --workers-env W"),
        &["/bin/sh", "-c", "sleep 0.2"],
    );
    let out = std::process::Command::new("/usr/bin/setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&bin)
        .args(&args)
        .current_dir(dir.path())
        .output()
        .expect("setpriv runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    read_report(&out_dir);
    let raw = read_raw(&out_dir);
    let s = sampled(&raw);
    let paranoid: i32 = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    match s["source"].as_str() {
        Some("perf_switch") => {
            assert!(
                paranoid <= 2,
                "paranoid {paranoid} should have refused nobody"
            );
            assert!(s["switches"]["switch_records"].as_u64() > Some(0), "{s:#}");
        }
        Some("procfs") => {
            let why = s["switches_unavailable"].as_str().unwrap();
            assert!(why.contains("perf_event_paranoid"), "names the fix: {why}");
        }
        other => panic!("no timeline source: {other:?} in {s:#}"),
    }
    let sleep = threads(&raw)
        .into_iter()
        .find(|t| t["comm"] == "sleep")
        .expect("the sleep was seen");
    assert!(
        f(&sleep["last_seen_s"]) - f(&sleep["first_seen_s"]) >= 0.15,
        "{sleep}"
    );
}
