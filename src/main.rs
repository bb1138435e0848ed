//! forkcast's entry point: parses the command line, hands it to the pipeline (cli -> plan ->
//! run -> analyze -> diagnose -> report, driven by forkcast::pipeline), and is the one place
//! that decides the exit code.

use clap::error::ErrorKind;
use clap::Parser;
use forkcast::cli::{Cli, Command};
use forkcast::error::{clap_one_line, exit_code_for};
use forkcast::pipeline::{self, Exit};
use forkcast::{diagnose, run};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(code) = run::keeper::run_if_keeper() {
        return code;
    }
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Run(args) => pipeline::run(&args).map(exit_code),
        Command::Report(args) => pipeline::report(&args).map(exit_code),
        Command::Diff(args) => pipeline::diff(&args).map(exit_code),
        Command::Schema => schema(),
        Command::Explain => explain(),
        Command::Doctor => forkcast::doctor::print(&mut std::io::stdout().lock())
            .map(|()| 0)
            .map_err(Into::into),
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

/// The command line; a bad one is one line on stderr and exit 2.
fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        // --help, --version, and a bare `forkcast` print clap's full text.
        if !e.use_stderr() || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            e.exit()
        }
        eprintln!("forkcast: error: {}", clap_one_line(&e));
        ExitCode::from(2)
    })
}

/// The exit code of each way a command ends (errors map through `exit_code_for`).
fn exit_code(exit: Exit) -> u8 {
    match exit {
        Exit::Done => 0,
        // forkcast itself failed (analysis; the raw data is kept), or diff found a regression.
        Exit::AnalysisFailed | Exit::Regressed => 1,
        Exit::TargetFailed => 3,
        // After Ctrl-C, as shells expect (128 + SIGINT).
        Exit::Interrupted => 130,
    }
}

fn schema() -> anyhow::Result<u8> {
    let mut out = serde_json::to_vec_pretty(&forkcast::report::schema())?;
    out.push(b'\n');
    std::io::stdout().lock().write_all(&out)?;
    Ok(0)
}

fn explain() -> anyhow::Result<u8> {
    std::io::stdout()
        .lock()
        .write_all(diagnose::thresholds::table().as_bytes())?;
    Ok(0)
}
