//! The probes through forkcast on the real labs: IPC bytes against what the lab itself sent,
//! task counts and duration spread, bytes and blocked time on PostgreSQL, and nothing invented
//! with `--probes none`.

use crate::support::postgres::PrivatePostgres;
use crate::support::{
    lab06_command, lab_command, python, read_report, run_args, saved_text, sweep, words, TempDir,
};
use serde_json::Value;

/// `forkcast run -q -o DIR OPTIONS -- TARGET` for one point; returns its summary and the
/// target's stdout (the lab's closing line).
fn one_run(tag: &str, options: &str, target: &[String]) -> (Value, String) {
    let (dir, report) = sweep(tag, &words(options), target);
    let point = &report["points"][0];
    let stdout = saved_text(dir.path(), &point["runs"][0]["stdout_file"]);
    (point["summary"].clone(), stdout)
}

/// `name=<integer>` from the lab's closing line.
fn printed(line: &str, name: &str) -> f64 {
    let at = line
        .find(&format!("{name}="))
        .unwrap_or_else(|| panic!("{name}= not in {line}"));
    line[at + name.len() + 1..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn payload_bytes_match_what_the_lab_pickled_and_paths_move_almost_nothing() {
    let run = |pass: &str| {
        one_run(
            &format!("ipc-{pass}"),
            "-w 2 --runs 1 --warmup 0",
            &lab_command(
                "02_pickle_ipc_tax_paths_vs_payloads.py",
                &format!("--pass {pass} --payload-mb 4 --workers {{workers}} --size short"),
            ),
        )
    };
    let (payload, line) = run("payload");
    let sent = printed(&line, "ipc_payload_bytes");
    let measured = payload["ipc_bytes"].as_f64().expect("ipc_bytes measured");
    assert!(
        (measured / sent - 1.0).abs() < 0.02,
        "IPC bytes {measured} within 2 % of the lab's {sent}"
    );
    assert!(
        payload["ipc_bytes_per_task"].as_f64().unwrap() > 4.0e6,
        "megabytes per task: {payload}"
    );
    assert!(payload["ipc_tax"].as_f64().unwrap() > 0.0);
    assert_eq!(payload["sources"]["ipc_bytes"], "preload_probe");

    let (path, _) = run("path");
    let moved = path["ipc_bytes"].as_f64().unwrap();
    assert!(
        moved < 0.01 * measured,
        "passing paths moves under 1 %: {moved} vs {measured}"
    );
}

#[test]
fn task_counts_are_exact_and_skewed_sizes_spread_task_durations() {
    let run = |sizes: &str| {
        one_run(
            &format!("tasks-{sizes}"),
            "-w 2 --runs 1 --warmup 0",
            &lab_command(
                "05_process_pool_chunking_nlp.py",
                &format!("--sizes {sizes} --chunksize 1 --workers {{workers}} --size short"),
            ),
        )
    };
    let (skewed, line) = run("skewed");
    assert_eq!(
        skewed["task_count"].as_f64().unwrap(),
        printed(&line, "tasks"),
        "every task counted"
    );
    assert_eq!(skewed["chunksize"], 1);
    let (uniform, _) = run("uniform");
    let cv = |s: &Value| s["task_durations"]["cv"].as_f64().expect("task CV");
    assert!(cv(&skewed) >= 1.0, "skewed sizes: CV {}", cv(&skewed));
    assert!(
        cv(&skewed) >= 2.0 * cv(&uniform),
        "skewed {} vs uniform {}",
        cv(&skewed),
        cv(&uniform)
    );
}

#[test]
fn direct_writers_show_their_bytes_and_blocked_time_on_postgres() {
    let pg = PrivatePostgres::start();
    let dsn = pg.dsn();
    let (s, _) = one_run(
        "ipc-pg",
        "-w 2 --runs 1 --warmup 0",
        &lab06_command("direct", &dsn),
    );
    let sinks = s["sink_io"].as_array().expect("sink_io measured");
    let pg_io = sinks
        .iter()
        .find(|x| x["kind"] == "postgresql")
        .unwrap_or_else(|| panic!("postgres in {sinks:?}"));
    assert!(pg_io["resource"]
        .as_str()
        .unwrap()
        .contains(".s.PGSQL.5432"));
    assert!(
        pg_io["writers"].as_u64().unwrap() >= 2,
        "each worker writes: {pg_io}"
    );
    assert!(
        pg_io["bytes_out_per_writer"].as_f64().unwrap() > 10_000.0,
        "{pg_io}"
    );
    assert!(
        pg_io["call_s_per_writer"].as_f64().unwrap() > 0.0,
        "{pg_io}"
    );
}

#[test]
fn without_probes_the_probe_figures_are_absent_not_zero() {
    let (s, _) = one_run(
        "noprobes",
        "-w 1 --runs 1 --warmup 0 --probes none",
        &lab_command(
            "02_pickle_ipc_tax_paths_vs_payloads.py",
            "--pass payload --payload-mb 1 --workers {workers} --size short",
        ),
    );
    for field in ["ipc_bytes", "ipc_tax", "task_count", "ipc_bytes_per_task"] {
        assert!(
            s.get(field).is_none_or(Value::is_null),
            "{field} must be absent: {s}"
        );
    }
}

#[test]
fn a_targets_own_sitecustomize_still_runs_under_forkcast() {
    let dir = TempDir::new("ownsite");
    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    let marker = dir.join("marker.txt");
    std::fs::write(
        site.join("sitecustomize.py"),
        format!(
            "open({:?}, 'a').write('site ran\\n')\n",
            marker.display().to_string()
        ),
    )
    .unwrap();
    let out_dir = dir.join("out");
    let py = python().display().to_string();
    let site_s = site.display().to_string();
    let o = out_dir.display().to_string();
    let out = crate::support::forkcast()
        .env("PYTHONPATH", &site_s)
        .args(run_args(
            &o,
            &words("-w 1 --runs 1 --warmup 0"),
            &[py.as_str(), "-c", "print('hello {workers}')"],
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "site ran\n",
        "the target's own sitecustomize ran once"
    );
    let report = read_report(&out_dir);
    let run = &report["points"][0]["runs"][0];
    assert!(
        run["probes_injected"].to_string().contains("python"),
        "{run}"
    );
    let stdout = saved_text(&out_dir, &run["stdout_file"]);
    assert_eq!(
        stdout, "hello 1\n",
        "the probe adds nothing to the target's output"
    );
}
