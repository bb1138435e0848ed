//! Bad input, table-driven, through the real binary: every row gets exactly one line that names
//! the problem and the fix, exit 2, no panic, and nothing half-written (the output folder is
//! never created, and a folder that was there keeps only what it held).

use crate::support::{run_forkcast, TempDir};
use std::path::Path;

/// One bad call: its arguments (`OUT` = a fresh output path, `DIR` = the fixture folder), a
/// word that names the problem, and a word from the fix.
struct Row {
    args: &'static [&'static str],
    problem: &'static str,
    fix: &'static str,
}

const fn row(args: &'static [&'static str], problem: &'static str, fix: &'static str) -> Row {
    Row { args, problem, fix }
}

const HELP: &str = "see forkcast --help";

#[rustfmt::skip]
const RUN_ROWS: &[Row] = &[
    // Empty commands.
    row(&["run", "-o", "OUT"], "command is empty", "after --"),
    row(&["run", "-o", "OUT", "--"], "command is empty", "after --"),
    row(&["run", "-o", "OUT", "--", ""], "command is empty", "after --"),
    row(&["run", "-o", "OUT", "--shell", "--", " "], "command is empty", "after --"),
    // Worker lists and ranges.
    row(&["run", "-o", "OUT", "-w", "", "--", "echo", "{workers}"], "is not a list", "1..8"),
    row(&["run", "-o", "OUT", "-w", "1,x", "--", "echo", "{workers}"], "'1,x'", "(1,2,4)"),
    row(&["run", "-o", "OUT", "-w", "1,,2", "--", "echo", "{workers}"], "'1,,2'", "(1,2,4)"),
    row(&["run", "-o", "OUT", "-w", "0,1", "--", "echo", "{workers}"], "count of 0", "start at 1"),
    row(&["run", "-o", "OUT", "-w", "4..1", "--", "echo", "{workers}"], "'4..1'", "range (1..8)"),
    row(&["run", "-o", "OUT", "-w", "1..8:0", "--", "echo", "{workers}"], "'1..8:0'", "(1..8)"),
    row(&["run", "-o", "OUT", "-w", "1..", "--", "echo", "{workers}"], "'1..'", "(1..8)"),
    row(&["run", "-o", "OUT", "-w", "-3", "--", "echo", "{workers}"], "'-3'", "(1,2,4)"),
    row(&["run", "-o", "OUT", "-w", "1..100000000", "--", "echo", "{workers}"], "100000000 counts", "use a step"),
    // Parameters.
    row(&["run", "-o", "OUT", "-P", "workers=1", "--", "echo", "{workers}"], "reserved", "-w/--workers"),
    row(&["run", "-o", "OUT", "-P", "mode", "--", "echo", "{workers}"], "'mode'", "NAME=v1,v2"),
    row(&["run", "-o", "OUT", "-P", "mode=", "--", "echo", "{workers}"], "'mode='", "NAME=v1,v2"),
    row(&["run", "-o", "OUT", "-P", "=a", "--", "echo", "{workers}"], "'=a'", "NAME=v1,v2"),
    row(&["run", "-o", "OUT", "-P", "mode=a", "-P", "mode=b", "--", "echo", "{workers}", "{mode}"], "given twice", "give each parameter once"),
    row(&["run", "-o", "OUT", "-P", "mode=a,a", "--", "echo", "{workers}", "{mode}"], "'a' twice", "list each value once"),
    row(&["run", "-o", "OUT", "-P", "mode=a,b", "--", "echo", "{workers}"], "never used", "{mode}"),
    // A bad parameter's secret is masked in the error too.
    row(&["run", "-o", "OUT", "-P", "9dsn=postgres://a:hunter2@h/db", "--", "echo", "{workers}"], "postgres://a:***@h/db", "NAME=v1,v2"),
    // Placeholders.
    row(&["run", "-o", "OUT", "--", "echo", "{worker}"], "{worker}", "did you mean {workers}"),
    row(&["run", "-o", "OUT", "--", "echo", "{mode}"], "{mode}", "-P mode=v1,v2"),
    row(&["run", "-o", "OUT", "--", "true"], "no {workers} placeholder", "--workers-env"),
    // Programs.
    row(&["run", "-o", "OUT", "--", "no-such-program-forkcast", "{workers}"], "'no-such-program-forkcast' was not found", "full path"),
    row(&["run", "-o", "OUT", "--", "DIR/plain.txt", "{workers}"], "not executable", "chmod +x"),
    row(&["run", "-o", "OUT", "--", "/etc/passwd", "{workers}"], "not executable", "chmod +x"),
    row(&["run", "-o", "OUT", "--", "DIR", "{workers}"], "is a folder", "program's path"),
    // Output paths.
    row(&["run", "-o", "DIR/plain.txt", "--", "echo", "{workers}"], "is a file", "new -o DIR"),
    row(&["run", "-o", "DIR/plain.txt/sub", "--", "echo", "{workers}"], "is a file", "new -o DIR"),
    row(&["run", "-o", "DIR/foreign", "--", "echo", "{workers}"], "not empty", "new -o DIR"),
    row(&["run", "-o", "/sys/forkcast-test-out", "--", "echo", "{workers}"], "cannot use /sys/forkcast-test-out", "permissions"),
    // Durations and rates.
    row(&["run", "-o", "OUT", "--timeout", "0s", "--", "echo", "{workers}"], "is zero", "positive limit"),
    row(&["run", "-o", "OUT", "--timeout", "soon", "--", "echo", "{workers}"], "not a duration", "30s"),
    row(&["run", "-o", "OUT", "--timeout", "10x", "--", "echo", "{workers}"], "not a duration", "30s"),
    row(&["run", "-o", "OUT", "--timeout=-5s", "--", "echo", "{workers}"], "not a duration", "30s"),
    row(&["run", "-o", "OUT", "--timeout", "99999999999999999999h", "--", "echo", "{workers}"], "longer than a week", "shorter limit"),
    row(&["run", "-o", "OUT", "--sample-hz", "0", "--", "echo", "{workers}"], "--sample-hz", "between 1 and 1000"),
    row(&["run", "-o", "OUT", "--sample-hz", "5000", "--", "echo", "{workers}"], "got 5000", "between 1 and 1000"),
    row(&["run", "-o", "OUT", "--sample-hz", "nan", "--", "echo", "{workers}"], "got NaN", "between 1 and 1000"),
    row(&["run", "-o", "OUT", "--sample-hz", "fast", "--", "echo", "{workers}"], "'fast'", HELP),
    row(&["run", "-o", "OUT", "--runs", "0", "--", "echo", "{workers}"], "--runs", "at least 1"),
    row(&["run", "-o", "OUT", "--runs", "-1", "--", "echo", "{workers}"], "'-1'", "--runs 5"),
    row(&["run", "-o", "OUT", "--runs", "many", "--", "echo", "{workers}"], "'many'", "--runs auto"),
    row(&["run", "-o", "OUT", "--max-runs", "1", "--", "echo", "{workers}"], "below the 3", "--max-runs 3 or more"),
    row(&["run", "-o", "OUT", "--max-time", "soon", "--", "echo", "{workers}"], "--max-time 'soon'", "30s"),
    row(&["run", "-o", "OUT", "--max-time", "0s", "--", "echo", "{workers}"], "--max-time '0s'", "30s"),
    row(&["run", "-o", "OUT", "--runs", "3", "--max-runs", "8", "--", "echo", "{workers}"], "not --runs 3", "use --runs auto"),
    row(&["run", "-o", "OUT", "--runs", "5", "--max-time", "1m", "--", "echo", "{workers}"], "--max-time bounds", "leave --max-time out"),
    // Other flags.
    row(&["run", "-o", "OUT", "--probes", "gdb", "--", "echo", "{workers}"], "'gdb'", "preload,python"),
    row(&["run", "-o", "OUT", "--workers-env", "1BAD", "--", "true"], "'1BAD'", "environment variable name"),
    row(&["run", "-o", "OUT", "--goal", "fast", "--", "echo", "{workers}"], "'fast'", "possible values"),
    row(&["run", "-o", "OUT", "--no-such-flag", "--", "echo", "{workers}"], "--no-such-flag", "flags before --"),
];

#[rustfmt::skip]
const REPORT_ROWS: &[Row] = &[
    row(&["report"], "<SAVED>", HELP),
    row(&["report", "DIR/absent.json", "-o", "OUT"], "absent.json: No such file", "report.json that forkcast run wrote"),
    row(&["report", "DIR/foreign", "-o", "OUT"], "holds no report.json or raw.json.gz", "report.json that forkcast run wrote"),
    row(&["report", "DIR/empty.json", "-o", "OUT"], "is empty", "report.json that forkcast run wrote"),
    row(&["report", "DIR/truncated.json", "-o", "OUT"], "truncated", "report.json that forkcast run wrote"),
    row(&["report", "DIR/garbage.bin", "-o", "OUT"], "expected value", "report.json that forkcast run wrote"),
    row(&["report", "DIR/array.json", "-o", "OUT"], "not a forkcast report", "report.json that forkcast run wrote"),
    row(&["report", "DIR/hello.json", "-o", "OUT"], "not a forkcast report", "report.json that forkcast run wrote"),
    row(&["report", "DIR/nopoints.json", "-o", "OUT"], "no points", "report.json that forkcast run wrote"),
    row(&["report", "DIR/wrongtype.json", "-o", "OUT"], "invalid type", "report.json that forkcast run wrote"),
    row(&["report", "DIR/future.json", "-o", "OUT"], "newer forkcast (schema_version 99", "upgrade forkcast"),
    row(&["report", "DIR/noraw.json", "-o", "OUT"], "gone.json.gz, which cannot be read", "beside it, as forkcast run wrote them"),
    row(&["report", "DIR/real.json", "-o", "DIR/plain.txt"], "is a file", "new -o DIR"),
    // diff reads both sides through the same reader (saved::load): either side may be bad.
    row(&["diff", "DIR/real.json"], "<NEW>", HELP),
    row(&["diff", "DIR/real.json", "DIR/future.json"], "newer forkcast (schema_version 99", "upgrade forkcast"),
    row(&["diff", "DIR/truncated.json", "DIR/real.json"], "truncated.json is not a forkcast report: it is truncated", "report.json that forkcast run wrote"),
    row(&["diff", "DIR/real.json", "DIR/absent.json"], "absent.json: No such file", "report.json that forkcast run wrote"),
    row(&["diff", "DIR/foreign", "DIR/real.json"], "holds no report.json or raw.json.gz", "report.json that forkcast run wrote"),
    row(&["diff", "DIR/real.json", "DIR/empty.json"], "is empty", "report.json that forkcast run wrote"),
    row(&["diff", "DIR/nopoints.json", "DIR/real.json"], "no points", "report.json that forkcast run wrote"),
    row(&["diff", "DIR/real.json", "DIR/noraw.json"], "gone.json.gz, which cannot be read", "beside it, as forkcast run wrote them"),
    row(&["diff", "DIR/real.json", "DIR/real.json", "--fail-above", "nan"], "'nan'", "percentage of 0 or more"),
    row(&["diff", "DIR/real.json", "DIR/real.json", "--fail-above", "soon"], "'soon'", "percentage of 0 or more"),
    row(&["diff", "DIR/real.json", "DIR/real.json", "--format", "csv"], "'csv'", "possible values"),
];

/// The fixture folder: a plain file, a folder with a foreign file, and broken reports made from
/// one real report that forkcast wrote.
fn fixtures() -> TempDir {
    let dir = TempDir::new("badinput");
    std::fs::write(dir.join("plain.txt"), "not a program\n").unwrap();
    std::fs::create_dir(dir.join("foreign")).unwrap();
    std::fs::write(dir.join("foreign/precious.txt"), "keep me").unwrap();
    let real_out = dir.join("real-out");
    let out = run_forkcast(&[
        "run",
        "-q",
        "-w",
        "1",
        "--runs",
        "1",
        "--warmup",
        "0",
        "--probes",
        "none",
        "-o",
        &real_out.display().to_string(),
        "--",
        "sh",
        "-c",
        "true # {workers}",
    ]);
    out.expect(out.code == Some(0), "a real report to break");
    let real = std::fs::read_to_string(real_out.join("report.json")).unwrap();
    // A report may name a raw file beside it (raw.json.gz): keep it beside the copies.
    for entry in std::fs::read_dir(&real_out).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && !path.ends_with("report.json") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap().to_str().unwrap())).unwrap();
        }
    }
    std::fs::remove_dir_all(&real_out).unwrap();
    let mut report: serde_json::Value = serde_json::from_str(&real).unwrap();
    let noraw = with(
        &mut report.clone(),
        "raw",
        serde_json::json!("gone.json.gz"),
    );
    // The broken copies carry their records inline, so they are read as they are.
    report.as_object_mut().unwrap().remove("raw");
    let files: [(&str, Vec<u8>); 10] = [
        ("real.json", real.clone().into_bytes()),
        ("noraw.json", noraw),
        ("empty.json", Vec::new()),
        ("truncated.json", real.as_bytes()[..real.len() / 2].to_vec()),
        (
            "garbage.bin",
            vec![0x7f, b'E', b'L', b'F', 0, 0xff, 0xfe, 3],
        ),
        ("array.json", b"[1, 2, 3]".to_vec()),
        ("hello.json", b"{\"hello\": 1}".to_vec()),
        (
            "nopoints.json",
            with(&mut report.clone(), "points", serde_json::json!([])),
        ),
        (
            "wrongtype.json",
            with(&mut report.clone(), "host", serde_json::json!("a string")),
        ),
        ("future.json", {
            // A newer forkcast: a higher version, and a field this one needs gone.
            report.as_object_mut().unwrap().remove("host");
            with(&mut report, "schema_version", serde_json::json!(99))
        }),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    dir
}

fn with(report: &mut serde_json::Value, key: &str, value: serde_json::Value) -> Vec<u8> {
    report[key] = value;
    serde_json::to_vec(report).unwrap()
}

/// Every file under `dir`, relative, sorted: what "nothing half-written" compares.
fn listing(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                listing(&p)
                    .into_iter()
                    .map(|f| format!("{}/{f}", p.file_name().unwrap().to_string_lossy()))
                    .collect()
            } else {
                vec![p.file_name().unwrap().to_string_lossy().into_owned()]
            }
        })
        .collect();
    files.sort();
    files
}

fn check(rows: &[Row]) {
    let dir = fixtures();
    let before = listing(dir.path());
    for (i, r) in rows.iter().enumerate() {
        let out_path = dir.join(&format!("out-{i}"));
        let (out_s, dir_s) = (out_path.display().to_string(), dir.str());
        let args: Vec<String> = r
            .args
            .iter()
            .map(|a| a.replace("OUT", &out_s).replace("DIR", &dir_s))
            .collect();
        let out = run_forkcast(&args.iter().map(String::as_str).collect::<Vec<_>>());
        out.expect(out.code == Some(2), "bad input must exit 2");
        out.expect(!out.stderr.contains("panicked"), "no panic");
        let lines: Vec<&str> = out.stderr.lines().collect();
        out.expect(lines.len() == 1, "exactly one line on stderr");
        out.expect(
            lines[0].starts_with("forkcast: error: "),
            "the line says it is an error",
        );
        out.expect(
            lines[0].contains(r.problem),
            &format!("the line names the problem ({:?})", r.problem),
        );
        out.expect(
            lines[0].contains(r.fix),
            &format!("the line gives the fix ({:?})", r.fix),
        );
        out.expect(out.stdout.is_empty(), "nothing on stdout");
        out.expect(!out_path.exists(), "the output folder is not created");
        out.expect(
            listing(dir.path()) == before,
            "nothing is written into existing folders",
        );
    }
}

#[test]
fn every_bad_run_input_gets_one_line_with_the_fix_and_exit_2() {
    check(RUN_ROWS);
}

#[test]
fn every_bad_saved_report_gets_one_line_with_the_fix_and_exit_2() {
    check(REPORT_ROWS);
}
