//! Degraded hosts: as an unprivileged user (`nobody` when the suite runs as root, as in CI),
//! with perf_event_paranoid 2 or more, a target whose /proc/PID/syscall cannot be read and no
//! Python in the tree, forkcast still runs, says what it could not measure, and lowers its
//! confidence; `forkcast doctor` says what is missing and how to enable it.

use crate::support::{read_report, Outcome, TempDir};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const NOBODY: u32 = 65534;

/// forkcast (its preload library inside) copied where an unprivileged user can run it, and a
/// folder that user owns to write into.
struct Sandbox {
    /// Kept so the folder lives as long as the sandbox.
    _dir: TempDir,
    bin: PathBuf,
    work: PathBuf,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = TempDir::new("degraded");
        let built = PathBuf::from(env!("CARGO_BIN_EXE_forkcast"));
        let bin = dir.join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::copy(&built, bin.join("forkcast"))
            .unwrap_or_else(|e| panic!("{}: {e}", built.display()));
        std::fs::set_permissions(bin.join("forkcast"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let work = dir.join("work");
        std::fs::create_dir(&work).unwrap();
        for d in [dir.path(), bin.as_path()] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        if is_root() {
            std::os::unix::fs::chown(&work, Some(NOBODY), Some(NOBODY)).unwrap();
        }
        Sandbox {
            _dir: dir,
            bin,
            work,
        }
    }

    /// Runs the copied forkcast with `args`, as `nobody` when we are root.
    fn forkcast(&self, args: &[&str]) -> Outcome {
        let exe = self.bin.join("forkcast");
        let mut cmd = if is_root() {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        cmd.args(args).current_dir(&self.work);
        let out = cmd.output().expect("setpriv and forkcast run");
        Outcome {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            described: format!("(as uid {NOBODY}) forkcast {}", args.join(" ")),
        }
    }
}

fn paranoid() -> i32 {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(2)
}

/// A target with no Python in it that hides its /proc/PID/syscall from anyone but root: perl
/// calling prctl(PR_SET_DUMPABLE, 0), then sleeping.
fn hidden_sleeper() -> Vec<String> {
    let prctl = if cfg!(target_arch = "aarch64") {
        167
    } else {
        157
    };
    let script =
        format!("syscall({prctl}, 4, 0, 0, 0, 0) == 0 or die; select(undef, undef, undef, 0.5)");
    assert!(
        Path::new("/usr/bin/perl").exists(),
        "the degraded test needs /usr/bin/perl"
    );
    ["/usr/bin/perl", "-e", &script, "{workers}"]
        .map(String::from)
        .to_vec()
}

#[test]
fn an_unprivileged_run_says_what_it_could_not_measure_and_is_less_sure() {
    let sandbox = Sandbox::new();
    let out_dir = sandbox.work.join("out");
    let mut args: Vec<String> = [
        "run",
        "-q",
        "-o",
        &out_dir.display().to_string(),
        "-w",
        "1,2",
        "--runs",
        "1",
        "--warmup",
        "0",
    ]
    .map(String::from)
    .to_vec();
    args.push("--".into());
    args.extend(hidden_sleeper());
    let out = sandbox.forkcast(&args.iter().map(String::as_str).collect::<Vec<_>>());
    out.expect(out.code == Some(0), "forkcast runs unprivileged");
    let report = read_report(&out_dir);
    let diagnosis = &report["diagnosis"];
    let reasons = diagnosis["confidence_reasons"].to_string();
    out.expect(diagnosis["confidence"] != "high", "confidence drops");
    out.expect(
        reasons.contains("/proc/PID/syscall"),
        &format!("the unread waits are named: {reasons}"),
    );
    for run in report["points"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["runs"].as_array().unwrap())
    {
        let python = &run["probes"]["python"]["processes"];
        out.expect(
            python.as_array().is_none_or(|p| p.is_empty()),
            "no Python ran in the tree",
        );
        if paranoid() >= 2 {
            let counters = &run["counters"];
            out.expect(
                counters["context_switches"].is_null(),
                "kernel counters are not 0, they are missing",
            );
            out.expect(
                counters["unavailable"]
                    .to_string()
                    .contains("perf_event_paranoid"),
                "the report says why and how to enable them",
            );
        }
    }
}

#[test]
fn doctor_names_what_an_unprivileged_user_cannot_measure_and_the_fix() {
    let sandbox = Sandbox::new();
    let out = sandbox.forkcast(&["doctor"]);
    out.expect(out.code == Some(0), "doctor runs");
    out.expect(
        out.stdout.contains("yes  perf_software"),
        "software counters work unprivileged",
    );
    out.expect(
        out.stdout.contains("no   other_users"),
        "not root: other users' targets are hidden",
    );
    out.expect(
        out.stdout.contains("yes  preload_probe"),
        "the embedded preload library is written out even where the user's cache is not theirs",
    );
    if paranoid() >= 2 {
        out.expect(
            out.stdout.contains("no   perf_kernel"),
            "kernel counters need a lower paranoid",
        );
        out.expect(
            out.stdout.contains("sysctl kernel.perf_event_paranoid=1"),
            "with the command that enables them",
        );
    }
    let fixes = out
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("fix:"))
        .count();
    let missing = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("  no "))
        .count();
    out.expect(
        missing >= 1 && fixes == missing,
        "every missing capability has its fix",
    );
}

#[test]
fn an_output_folder_the_user_cannot_write_is_one_line_and_exit_2() {
    let sandbox = Sandbox::new();
    let out = sandbox.forkcast(&[
        "run",
        "-o",
        "/root/forkcast-degraded-out",
        "--",
        "echo",
        "{workers}",
    ]);
    out.expect(out.code == Some(2), "bad input: exit 2");
    let lines: Vec<&str> = out.stderr.lines().collect();
    out.expect(lines.len() == 1, "one line");
    out.expect(
        lines[0].contains("Permission denied") && lines[0].contains("permissions"),
        "the problem and the fix",
    );
    assert!(!Path::new("/root/forkcast-degraded-out").exists());
}
