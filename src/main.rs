//! forkcast's entry point: the pipeline cli -> plan -> run -> analyze -> diagnose -> report,
//! and the one place that decides the exit code.

use anyhow::Context;
use clap::Parser;
use forkcast::cli::{Cli, Command, ReportArgs, RunArgs};
use forkcast::error::{exit_code_for, UsageError};
use forkcast::measure::Measurements;
use forkcast::report::{Exporter, Json, Report, Status, Terminal};
use forkcast::{analyze, diagnose, output, plan, run};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Exit code when the target failed every measured run, or any run under --fail-fast.
const TARGET_ALWAYS_FAILED: u8 = 3;
/// Exit code after Ctrl-C, as shells expect (128 + SIGINT).
const INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    if let Some(code) = run::keeper::run_if_keeper() {
        return code;
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run_command(&args),
        Command::Report(args) => report_command(&args),
        Command::Explain => explain(),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let code = exit_code_for(&err);
            if code != 0 {
                eprintln!("forkcast: error: {err:#}");
            }
            ExitCode::from(code)
        }
    }
}

fn run_command(given: &RunArgs) -> anyhow::Result<u8> {
    let host = run::host::describe_host();
    // `--resume DIR`: the saved sweep's options; the presentation flags stay as given.
    let resumed = run::resume::load(given)?;
    let plan = plan::plan(
        resumed.as_ref().map_or(given, |r| &r.args),
        host.usable_cpus,
    )?;
    let saved = run::resume::prepare_output(resumed, &plan)?;
    let args = given;
    let say = |line: &str| eprintln!("{line}");
    let progress: run::Progress = (!args.quiet).then_some(&say as &dyn Fn(&str));
    let (m, ended) = run::run_sweep(&plan, host, progress, args.show_output, saved, |m| {
        write_report(m, Status::InProgress, &plan.output_dir).map(|_| ())
    })?;
    let status = match ended {
        run::Ended::Interrupted => Status::Interrupted,
        run::Ended::FailedFast => Status::FailedFast,
        run::Ended::Complete => Status::Complete,
    };
    let summary = write_report(&m, status, &plan.output_dir)?;
    emit(&summary, args.json, args.quiet, &plan.output_dir)?;
    Ok(if status == Status::Interrupted {
        INTERRUPTED
    } else if status == Status::FailedFast {
        eprintln!(
            "forkcast: stopped at the first failed run (--fail-fast); see {}/runs/*.stderr",
            plan.output_dir.display()
        );
        TARGET_ALWAYS_FAILED
    } else if m
        .points
        .iter()
        .flat_map(|p| &p.runs)
        .all(|r| !analyze::point::run_ok(r))
    {
        eprintln!(
            "forkcast: the target failed every run; see {}/runs/*.stderr",
            plan.output_dir.display()
        );
        TARGET_ALWAYS_FAILED
    } else {
        0
    })
}

fn report_command(args: &ReportArgs) -> anyhow::Result<u8> {
    let path = args.saved.display().to_string();
    let text = std::fs::read_to_string(&args.saved)
        .map_err(|e| UsageError::BadFile(path.clone(), e.to_string()))?;
    let m: Measurements = serde_json::from_str(&text)
        .map_err(|e| UsageError::NotAReport(path.clone(), e.to_string()))?;
    if m.points.is_empty() {
        return Err(UsageError::NotAReport(path, "it has no points".into()).into());
    }
    let out = match &args.output {
        Some(dir) => {
            output::prepare_dir(dir)?;
            write_report(&m, Status::Complete, dir)?
        }
        None => Rendered::new(&m, Status::Complete)?,
    };
    emit(
        &out,
        args.json,
        false,
        args.output.as_deref().unwrap_or(Path::new(".")),
    )?;
    Ok(0)
}

fn explain() -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "The decision tree's thresholds (src/diagnose/thresholds.rs):"
    )?;
    for t in diagnose::thresholds::all() {
        writeln!(
            out,
            "  {:<14} {:<72} {:>6}  — {}",
            t.step, t.name, t.value, t.why
        )?;
    }
    Ok(0)
}

/// The report rendered by every exporter.
struct Rendered {
    json: Vec<u8>,
    text: Vec<u8>,
}

impl Rendered {
    fn new(m: &Measurements, status: Status) -> anyhow::Result<Rendered> {
        let a = analyze::analyze(m);
        let d = diagnose::diagnose(m, &a);
        let report = Report::new(m, &a, &d, status);
        Ok(Rendered {
            json: Json.serialize(&report)?,
            text: Terminal.serialize(&report)?,
        })
    }
}

/// Analyses, diagnoses and writes report.json and summary.txt into `dir`.
fn write_report(m: &Measurements, status: Status, dir: &Path) -> anyhow::Result<Rendered> {
    let r = Rendered::new(m, status)?;
    output::write_atomic(&dir.join("report.json"), &r.json).context("cannot write report.json")?;
    output::write_atomic(&dir.join("summary.txt"), &r.text).context("cannot write summary.txt")?;
    Ok(r)
}

fn emit(r: &Rendered, json: bool, quiet: bool, dir: &Path) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        out.write_all(&r.json)?;
    } else if !quiet {
        out.write_all(&r.text)?;
        writeln!(out, "\nreport: {}", dir.join("report.json").display())?;
    }
    Ok(())
}
