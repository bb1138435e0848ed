//! The six labs in fixtures/labs/, run directly (without forkcast) with the venv interpreter:
//! every variant in fixtures/expected/ completes at the short size and prints its throughput
//! line, lab 06 lands its rows in a private PostgreSQL, and bad arguments are refused.
//! Nothing here asserts a timing: the box these run on is small and shared.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::postgres::{describe, PrivatePostgres};
use crate::support::{python, repo_root};

/// Generous: a short lab takes 1-3 s alone, but tests run side by side on two cores.
const LAB_TIMEOUT: Duration = Duration::from_secs(300);

const LABS: [&str; 6] = [
    "01_cpu_bound_processes_vs_threads.py",
    "02_pickle_ipc_tax_paths_vs_payloads.py",
    "03_start_method_fork_vs_spawn_vs_forkserver.py",
    "04_shared_memory_doc_images.py",
    "05_process_pool_chunking_nlp.py",
    "06_pipeline_cpu_procs_to_postgres_writer.py",
];

/// The engine labs (joblib, Dask, Ray): their variants live in fixtures/expected/ too, with
/// `"python": "engines"`, and run under their own venv (tests/it/engines.rs).
const ENGINE_LABS: [&str; 4] = [
    "07_joblib_loky_vs_threads.py",
    "08_joblib_memmap_vs_pickle.py",
    "09_dask_workers_vs_threads.py",
    "10_ray_tasks_actor_objects.py",
];

/// One fixtures/expected/*.json file.
struct Variant {
    name: String,
    lab: String,
    args: Vec<String>,
    short_args: Vec<String>,
    expect: BTreeMap<String, String>,
}

fn expected_variants() -> Vec<Variant> {
    let dir = repo_root().join("fixtures/expected");
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(parse_variant).collect()
}

fn parse_variant(path: &PathBuf) -> Variant {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let strings = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap_or_else(|| panic!("{}: `{key}` must be an array", path.display()))
            .iter()
            .map(|s| s.as_str().expect("array of strings").to_string())
            .collect()
    };
    let expect = v["expect"]
        .as_object()
        .unwrap_or_else(|| panic!("{}: `expect` must be an object", path.display()))
        .iter()
        .map(|(k, s)| {
            (
                k.clone(),
                s.as_str().expect("expect values are strings").to_string(),
            )
        })
        .collect();
    assert!(
        v["why"].as_str().is_some_and(|w| !w.is_empty()),
        "{}: needs a one-line `why`",
        path.display()
    );
    Variant {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        lab: v["lab"].as_str().expect("`lab` is a string").to_string(),
        args: strings("args"),
        short_args: strings("short_args"),
        expect,
    }
}

fn variants_of(lab_number: &str) -> Vec<Variant> {
    let vs: Vec<Variant> = expected_variants()
        .into_iter()
        .filter(|v| v.name.starts_with(lab_number))
        .collect();
    assert!(!vs.is_empty(), "no fixtures/expected/{lab_number}_*.json");
    vs
}

/// The variant's argv with `{workers}` and the given `{NAME}` params substituted, short size.
fn argv(v: &Variant, workers: u32, params: &[(&str, &str)]) -> Vec<String> {
    let mut out: Vec<String> = v
        .args
        .iter()
        .map(|a| {
            let mut a = a.replace("{workers}", &workers.to_string());
            for (name, value) in params {
                a = a.replace(&format!("{{{name}}}"), value);
            }
            a
        })
        .collect();
    out.extend(v.short_args.iter().cloned());
    out
}

/// Runs a lab in its own process group; kills the whole group if it outlives LAB_TIMEOUT.
fn run_lab(lab: &str, args: &[String]) -> Output {
    let script = repo_root().join("fixtures/labs").join(lab);
    let child = Command::new(python())
        .arg(&script)
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", script.display()));
    let pid = child.id() as i32;
    let waiter = thread::spawn(move || child.wait_with_output());
    let start = Instant::now();
    while !waiter.is_finished() {
        if start.elapsed() > LAB_TIMEOUT {
            // SAFETY: kill(2) on our own child's process group; no memory is involved.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let out = waiter.join().unwrap().unwrap();
            panic!(
                "{lab} {args:?} ran past {LAB_TIMEOUT:?}\n{}",
                describe(&out)
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
    waiter.join().unwrap().expect("wait for the lab")
}

/// `throughput: 123.4 tasks/s (tasks=64 wall=1.23s workers=2 ...)`, parsed.
#[derive(Debug)]
struct Throughput {
    tasks_per_s: f64,
    fields: BTreeMap<String, String>,
}

impl Throughput {
    fn field(&self, key: &str) -> &str {
        self.fields
            .get(key)
            .unwrap_or_else(|| panic!("no `{key}=` in {self:?}"))
    }

    fn number(&self, key: &str) -> f64 {
        let raw = self.field(key);
        raw.trim_end_matches('s')
            .parse()
            .unwrap_or_else(|e| panic!("`{key}={raw}` is not a number: {e}"))
    }
}

fn parse_throughput(stdout: &str) -> Option<Throughput> {
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty())?;
    let rest = last.strip_prefix("throughput: ")?;
    let (rate, rest) = rest.split_once(" tasks/s (")?;
    let inner = rest.strip_suffix(')')?;
    let fields = inner
        .split_whitespace()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect::<Option<BTreeMap<_, _>>>()?;
    Some(Throughput {
        tasks_per_s: rate.parse().ok()?,
        fields,
    })
}

/// Runs the lab, asserts exit 0 and a well-formed throughput line for `workers` workers.
fn run_ok(lab: &str, args: &[String], workers: u32) -> Throughput {
    let out = run_lab(lab, args);
    assert!(
        out.status.success(),
        "{lab} {args:?} failed\n{}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let t = parse_throughput(&stdout).unwrap_or_else(|| {
        panic!(
            "{lab} {args:?}: last stdout line is not a throughput line\n{}",
            describe(&out)
        )
    });
    assert!(
        t.tasks_per_s > 0.0,
        "{lab}: throughput must be positive: {t:?}"
    );
    assert!(
        t.number("tasks") >= 1.0 && t.number("wall") > 0.0,
        "{lab}: {t:?}"
    );
    assert_eq!(t.field("workers"), workers.to_string(), "{lab}: {t:?}");
    assert_eq!(
        stdout.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "{lab}: one line"
    );
    t
}

fn run_all_variants(lab_number: &str, workers: u32) -> Vec<(Variant, Throughput)> {
    variants_of(lab_number)
        .into_iter()
        .map(|v| {
            let t = run_ok(&v.lab, &argv(&v, workers, &[]), workers);
            (v, t)
        })
        .collect()
}

#[test]
fn every_expected_file_names_an_existing_lab_and_only_allowed_values() {
    let allowed: [(&str, &[&str]); 5] = [
        ("model", &["async_or_threads", "threads", "processes"]),
        ("data_passing", &["direct", "references_or_shared_memory"]),
        ("sink", &["none", "direct", "single_writer"]),
        ("scheduling", &["dynamic_small_tasks", "chunked"]),
        ("start_method", &["fork", "forkserver", "spawn"]),
    ];
    let variants = expected_variants();
    for lab in LABS {
        assert!(
            variants.iter().any(|v| v.lab == lab),
            "no expected variant for {lab}"
        );
    }
    for v in &variants {
        assert!(
            LABS.contains(&v.lab.as_str()) || ENGINE_LABS.contains(&v.lab.as_str()),
            "{}: unknown lab {}",
            v.name,
            v.lab
        );
        assert!(
            v.args.iter().any(|a| a == "{workers}"),
            "{}: args need {{workers}}",
            v.name
        );
        for key in ["model", "data_passing", "sink", "scheduling"] {
            assert!(
                v.expect.contains_key(key),
                "{}: expect lacks `{key}`",
                v.name
            );
        }
        for (key, value) in &v.expect {
            let (_, values) = allowed
                .iter()
                .find(|(k, _)| k == key)
                .unwrap_or_else(|| panic!("{}: unknown expect key `{key}`", v.name));
            assert!(
                values.contains(&value.as_str()),
                "{}: {key}={value}",
                v.name
            );
        }
    }
}

#[test]
fn lab_01_runs_every_variant_at_one_and_two_workers() {
    for workers in [1, 2] {
        let runs = run_all_variants("01", workers);
        assert_eq!(runs.len(), 4, "processes/threads x pure/hashlib");
    }
}

#[test]
fn lab_01_gets_the_same_checksum_from_threads_and_processes() {
    let v = variants_of("01");
    let pure: Vec<String> = v
        .iter()
        .filter(|v| v.name.ends_with("pure"))
        .map(|v| {
            run_ok(&v.lab, &argv(v, 2, &[]), 2)
                .field("checksum")
                .to_string()
        })
        .collect();
    assert_eq!(pure.len(), 2);
    assert_eq!(pure[0], pure[1], "the same seeded work, whatever runs it");
}

#[test]
fn lab_02_counts_megabytes_through_the_pool_for_payloads_and_bytes_for_paths() {
    for (v, t) in run_all_variants("02", 2) {
        let per_task = t.number("ipc_bytes_per_task");
        let total = t.number("ipc_payload_bytes");
        assert_eq!(
            (total / t.number("tasks")).floor(),
            per_task,
            "{}: {t:?}",
            v.name
        );
        if v.name.ends_with("payload") {
            // 4 MB in and 4 MB out per task, plus pickle framing.
            assert!(per_task >= 8_000_000.0, "{}: {t:?}", v.name);
        } else {
            assert!(per_task < 1_000.0, "{}: only paths travel: {t:?}", v.name);
        }
    }
}

#[test]
fn lab_03_runs_with_fork_spawn_and_forkserver_and_reports_startup() {
    for (v, t) in run_all_variants("03", 2) {
        assert!(t.number("startup_ms_mean") > 0.0, "{}: {t:?}", v.name);
        assert!(
            v.name.ends_with(t.field("start_method")),
            "{}: {t:?}",
            v.name
        );
    }
}

#[test]
fn lab_04_runs_by_pickle_and_by_shared_memory_and_unlinks_its_segments() {
    // Both transports at the short size: the shm variant's expected file sweeps the full size
    // (for the GIL knocker's samples), and the ink totals only agree over the same pages.
    let runs: Vec<(Variant, Throughput)> = variants_of("04")
        .into_iter()
        .map(|mut v| {
            v.short_args = vec!["--size".into(), "short".into()];
            let t = run_ok(&v.lab, &argv(&v, 2, &[]), 2);
            (v, t)
        })
        .collect();
    assert_eq!(
        runs[0].1.field("ink"),
        runs[1].1.field("ink"),
        "same pages, same filter"
    );
    for (v, t) in &runs {
        let names = t.field("shm_segments");
        if v.name.ends_with("shm") {
            assert_eq!(
                names.split(',').count(),
                2,
                "{}: pages and results: {t:?}",
                v.name
            );
        }
        for name in names.split(',').filter(|n| *n != "-") {
            let path = PathBuf::from("/dev/shm").join(name);
            assert!(
                !path.exists(),
                "{}: {} outlived the run",
                v.name,
                path.display()
            );
        }
    }
}

#[test]
fn lab_05_runs_every_chunksize_and_size_mix_with_the_same_results_per_mix() {
    let runs = run_all_variants("05", 2);
    for mix in ["uniform", "skewed"] {
        let sums: Vec<&str> = runs
            .iter()
            .filter(|(v, _)| v.name.contains(mix))
            .map(|(_, t)| t.field("checksum"))
            .collect();
        assert_eq!(sums.len(), 2, "{mix}: chunksize 1 and 50");
        assert_eq!(
            sums[0], sums[1],
            "{mix}: chunking must not change the results"
        );
    }
}

#[test]
fn lab_06_lands_every_row_in_postgres_with_either_sink() {
    let pg = PrivatePostgres::start();
    let dsn = pg.dsn();
    for v in variants_of("06") {
        let t = run_ok(&v.lab, &argv(&v, 2, &[("dsn", &dsn)]), 2);
        let rows = pg.query("SELECT count(*) FROM lab06_events");
        let counted = pg.query("SELECT sum(n) FROM lab06_events_totals");
        assert_eq!(rows, t.field("tasks"), "{}: rows in lab06_events", v.name);
        assert_eq!(
            counted,
            t.field("tasks"),
            "{}: rows counted in the totals",
            v.name
        );
        assert_eq!(
            t.field("rows_landed"),
            t.field("tasks"),
            "{}: {t:?}",
            v.name
        );
    }
}

#[test]
fn lab_06_says_how_to_get_a_database_when_it_cannot_connect() {
    let missing = std::env::temp_dir().join("forkcast-no-such-postgres");
    let dsn = format!(
        "host={} port=5432 user=postgres dbname=postgres",
        missing.display()
    );
    let args = ["--workers", "1", "--size", "short", "--dsn", &dsn].map(String::from);
    let out = run_lab(LABS[5], &args);
    assert!(!out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot connect to PostgreSQL"),
        "{}",
        describe(&out)
    );
    assert!(stderr.contains("private-postgres.sh"), "{}", describe(&out));
}

#[test]
fn private_postgres_listens_only_on_its_socket_and_vanishes_on_drop() {
    let pg = PrivatePostgres::start();
    assert_eq!(pg.query("SHOW listen_addresses"), "");
    assert_eq!(pg.query("SELECT 1 + 1"), "2");
    let dir = pg.dir().to_path_buf();
    assert!(
        dir.join(".s.PGSQL.5432").exists(),
        "socket in {}",
        dir.display()
    );
    drop(pg);
    assert!(!dir.exists(), "{} should be removed", dir.display());
}

#[test]
fn every_lab_refuses_zero_workers_with_a_message() {
    for lab in LABS {
        let out = run_lab(lab, &["--workers".into(), "0".into()]);
        assert!(
            !out.status.success(),
            "{lab} accepted --workers 0\n{}",
            describe(&out)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--workers must be >= 1"),
            "{lab}\n{}",
            describe(&out)
        );
    }
}

#[test]
fn every_lab_refuses_an_unknown_variant_with_a_message() {
    let bad: [(&str, &[&str]); 6] = [
        (LABS[0], &["--mode", "fibers"]),
        (LABS[1], &["--pass", "carrier-pigeon"]),
        (LABS[2], &["--start-method", "vfork"]),
        (LABS[3], &["--transport", "mmap"]),
        (LABS[4], &["--chunksize", "0"]),
        (LABS[5], &["--sink", "fanout"]),
    ];
    for (lab, knob) in bad {
        let mut args: Vec<String> = knob.iter().map(|s| s.to_string()).collect();
        args.extend(["--workers".to_string(), "2".to_string()]);
        let out = run_lab(lab, &args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{lab} {args:?}\n{}",
            describe(&out)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(knob[0]),
            "{lab}: message names {}\n{}",
            knob[0],
            describe(&out)
        );
    }
}

#[test]
fn every_lab_requires_workers() {
    for lab in LABS {
        let out = run_lab(lab, &[]);
        assert_eq!(out.status.code(), Some(2), "{lab}\n{}", describe(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--workers"),
            "{lab}"
        );
    }
}
