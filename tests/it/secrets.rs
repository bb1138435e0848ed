//! Secrets and files: passwords in URLs, DSNs, `--password` arguments and secret environment
//! values never reach any file forkcast writes or its terminal output, while the target still
//! gets its real argv; the probes' files are private; a setuid target is not probed.

use crate::support::{python, read_report, run_forkcast, words, Outcome, TempDir};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Every secret the tests hand forkcast contains this word.
const SECRET: &str = "hunter";

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                files_under(&p)
            } else {
                vec![p]
            }
        })
        .collect()
}

/// A file's bytes, decompressed when it is gzip (the raw file), so a secret cannot hide there.
fn contents(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let bytes = std::fs::read(path).unwrap();
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return bytes;
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{} is not gzip: {e}", path.display()));
    out
}

/// No file under `dir` and nothing forkcast printed holds the secret.
#[track_caller]
fn assert_no_secret_anywhere(dir: &Path, out: &Outcome) {
    let files = files_under(dir);
    assert!(
        files.iter().any(|f| f.ends_with("report.json")),
        "a report was written"
    );
    for f in files {
        let bytes = contents(&f);
        let leaked = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
        out.expect(!leaked, &format!("{} holds a secret", f.display()));
    }
    out.expect(
        !out.stdout.contains(SECRET),
        "the terminal (stdout) shows a secret",
    );
    out.expect(
        !out.stderr.contains(SECRET),
        "the terminal (stderr) shows a secret",
    );
}

fn run_with_env(args: &[String], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = crate::support::forkcast();
    cmd.args(args).envs(env.iter().copied());
    let out = cmd.output().expect("forkcast runs");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        described: format!("forkcast {}", args.join(" ")),
    }
}

#[test]
fn passwords_in_urls_dsns_flags_params_and_env_are_masked_everywhere_but_executed() {
    let dir = TempDir::new("secrets");
    let out_dir = dir.join("out");
    // The target checks that it got the real secrets (exit 0), and lives long enough for the
    // sampler to read its /proc cmdline. What it expects comes through the environment, so the
    // check itself (an argument, recorded) holds no secret.
    let want = serde_json::json!([
        "postgresql://app:hunter2@localhost/db",
        "--password",
        "hunter3",
        "host=/tmp password=hunter4 dbname=x",
        "--token=hunter5",
        "mysql://root:hunter6@db/x"
    ])
    .to_string();
    let check = "import json, os, sys, time; time.sleep(0.5); \
                 want = json.loads(os.environ['FORKCAST_TEST_EXPECTED_SECRET']); \
                 sys.exit(0 if sys.argv[1:7] == want else 9)";
    let mut args: Vec<String> = ["run", "-o", &out_dir.display().to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(
        words("-w 1 --runs 1 --warmup 0 --probes none")
            .iter()
            .map(|s| s.to_string()),
    );
    args.extend([
        "-P".into(),
        "dsn=mysql://root:hunter6@db/x".into(),
        "--".into(),
    ]);
    args.extend([
        python().display().to_string(),
        "-c".into(),
        check.into(),
        "postgresql://app:hunter2@localhost/db".into(),
        "--password".into(),
        "hunter3".into(),
        "host=/tmp password=hunter4 dbname=x".into(),
        "--token=hunter5".into(),
        "{dsn}".into(),
        "{workers}".into(),
    ]);
    let env = [
        ("FORKCAST_TEST_EXPECTED_SECRET", want.as_str()),
        ("FORKCAST_TEST_PASSWORD", "hunter7"),
        ("APP_TOKEN", "hunter8"),
        ("MY_SECRET", "hunter9"),
    ];
    let out = run_with_env(&args, &env);
    out.expect(
        out.code == Some(0),
        "the target got its real, unmasked argv",
    );
    assert_no_secret_anywhere(&out_dir, &out);

    let report = read_report(&out_dir);
    let command: Vec<&str> = report["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        command.contains(&"postgresql://app:***@localhost/db"),
        "{command:?}"
    );
    assert!(
        command.contains(&"host=/tmp password=*** dbname=x"),
        "{command:?}"
    );
    assert_eq!(report["params"]["dsn"][0], "mysql://root:***@db/x");
    assert_eq!(
        report["points"][0]["argv"][5], "***",
        "the value after --password"
    );
    // The sampler's records are in the raw file (report.json keeps the scalars).
    let raw: serde_json::Value =
        serde_json::from_slice(&contents(&out_dir.join("raw.json.gz"))).unwrap();
    let cmdlines = raw["measurements"]["points"][0]["runs"][0]["sampled"]["processes"].to_string();
    assert!(
        cmdlines.contains("app:***@localhost"),
        "the sampler's cmdline is masked too: {cmdlines}"
    );

    // Replaying the report writes nothing new that could leak, and neither does its terminal.
    let again = dir.join("again");
    let replay = run_forkcast(&[
        "report",
        &out_dir.join("report.json").display().to_string(),
        "-o",
        &again.display().to_string(),
    ]);
    replay.expect(replay.code == Some(0), "replay runs");
    assert_no_secret_anywhere(&again, &replay);
}

#[test]
fn a_shell_command_with_a_password_assignment_is_masked() {
    let dir = TempDir::new("secrets-shell");
    let out_dir = dir.join("out");
    let args: Vec<String> = [
        "run", "-o", &out_dir.display().to_string(), "-w", "1", "--runs", "1", "--warmup", "0", "--shell", "--",
        "PGPASSWORD=hunter2 sh -c 'test ${#PGPASSWORD} = 7 && sleep 0.3' --db-password hunter3 # {workers}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run_with_env(&args, &[]);
    out.expect(out.code == Some(0), "the shell saw the real password");
    assert_no_secret_anywhere(&out_dir, &out);
    let report = read_report(&out_dir);
    assert!(report["command"][0]
        .as_str()
        .unwrap()
        .starts_with("PGPASSWORD=*** "));
}

#[test]
fn the_probes_files_are_private_to_forkcasts_user() {
    let dir = TempDir::new("probe-perms");
    let out_dir = dir.join("out");
    let out = run_forkcast(&[
        "run",
        "-q",
        "-o",
        &out_dir.display().to_string(),
        "-w",
        "1",
        "--runs",
        "1",
        "--warmup",
        "0",
        "--probes",
        "preload,python",
        "--",
        &python().display().to_string(),
        "-c",
        "import os # {workers}",
    ]);
    out.expect(out.code == Some(0), "the probed run succeeds");
    let probes: Vec<_> = files_under(&out_dir)
        .into_iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "probes"))
        .collect();
    assert!(
        probes.iter().any(|f| f.ends_with("preload.bin")),
        "{probes:?}"
    );
    assert!(
        probes
            .iter()
            .any(|f| f.to_string_lossy().contains("python-out/py-")),
        "{probes:?}"
    );
    for f in &probes {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", f.display());
        let mut folder = f.parent().unwrap();
        while folder.file_name().is_some_and(|n| n != "runs") {
            let mode = std::fs::metadata(folder).unwrap().permissions().mode() & 0o777;
            if folder.ends_with("probes") || folder.ends_with("python-out") {
                assert_eq!(mode, 0o700, "{} has mode {mode:o}", folder.display());
            }
            folder = folder.parent().unwrap();
        }
    }
}

#[test]
fn a_setuid_target_is_not_probed_and_the_report_says_why() {
    let dir = TempDir::new("setuid");
    let program = dir.join("sleep-setuid");
    std::fs::copy("/bin/sleep", &program).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let out_dir = dir.join("out");
    let out = run_forkcast(&[
        "run",
        "-q",
        "-o",
        &out_dir.display().to_string(),
        "-w",
        "1",
        "--runs",
        "1",
        "--warmup",
        "0",
        "--probes",
        "preload",
        "--",
        &program.display().to_string(),
        "0.0{workers}",
    ]);
    out.expect(
        out.code == Some(0),
        "the setuid target still runs, unprobed",
    );
    let run = &read_report(&out_dir)["points"][0]["runs"][0];
    assert_eq!(run["probes_injected"], serde_json::json!([]));
    assert!(
        run["probe_notes"].to_string().contains("setuid"),
        "{}",
        run["probe_notes"]
    );
}

#[test]
fn a_sweep_whose_command_held_secrets_is_resumed_only_with_the_command_given_again() {
    let dir = TempDir::new("secrets-resume");
    let out_dir = dir.join("out");
    let out_str = out_dir.display().to_string();
    let (flag, log) = (dir.join("failed.flag"), dir.join("got.log"));
    // The first run fails once (so --fail-fast leaves the sweep unfinished); every run logs
    // whether it got the real password (which it learns from its environment, so its script
    // holds none), without writing the password anywhere.
    let script = format!(
        "[ \"$2\" = \"$WANT_SECRET\" ] && echo real >> {log} || echo masked >> {log}; \
         if [ ! -e {flag} ]; then touch {flag}; exit 9; fi # {{workers}}",
        log = log.display(),
        flag = flag.display()
    );
    let target = ["sh", "-c", script.as_str(), "sh", "--password", "hunter2"];
    let options = words("-w 1,2 --runs 1 --warmup 0 --fail-fast --probes none");
    let env = [("WANT_SECRET", "hunter2")];
    let first = run_with_env(&crate::support::run_args(&out_str, &options, &target), &env);
    first.expect(first.code == Some(3), "the sweep stopped at its failed run");
    let sweep = std::fs::read_to_string(out_dir.join("sweep.json")).unwrap();
    assert!(
        !sweep.contains(SECRET) && sweep.contains("\"redacted\": true"),
        "sweep.json holds the command redacted, and says so: {sweep}"
    );

    let resume = |command: &[&str]| {
        let mut args = vec![
            "run".to_string(),
            "-q".into(),
            "--resume".into(),
            out_str.clone(),
        ];
        if !command.is_empty() {
            args.push("--".into());
            args.extend(command.iter().map(|a| a.to_string()));
        }
        run_with_env(&args, &env)
    };
    let bare = resume(&[]);
    bare.expect(
        bare.code == Some(2)
            && bare.stderr.trim().lines().count() == 1
            && bare.stderr.contains("give the command again"),
        "without the command, one line says to give it again",
    );
    let other = resume(&["sh", "-c", "true", "sh", "--password", "hunter2"]);
    other.expect(
        other.code == Some(2) && other.stderr.contains("give the same command again"),
        "another command is refused",
    );
    assert!(
        !other.stderr.contains(SECRET),
        "the refusal shows no secret"
    );

    let resumed = resume(&target);
    resumed.expect(resumed.code == Some(0), "the resumed sweep finishes");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "real\nreal\n",
        "both runs, the resumed one too, got the real password"
    );
    let report = read_report(&out_dir);
    assert_eq!(report["status"], "complete");
    assert_no_secret_anywhere(&out_dir, &resumed);
}
