//! `forkcast run --resume DIR`: finishing a sweep that was interrupted or killed, without
//! redoing its finished runs.
//!
//! A sweep saves its own command line in DIR/sweep.json before its first run, and report.json
//! is rewritten after every run, so DIR always holds the plan and every finished run. Resuming
//! re-parses the saved command line into the same plan, loads the saved measurements, drops
//! the runs that were cut short, and lets `run_sweep` make only the runs still missing.
//!
//! Secrets never reach the output folder, so sweep.json holds the command line redacted. A
//! sweep whose command (or -P values) held secrets is resumed with the command given again
//! (`--resume DIR -- COMMAND…`); its redacted form must match the saved one.
//!
//! It lives in the pipeline, not in run/: it re-parses a command line (cli) and reads a saved
//! sweep (saved), both layers above run/, and hands `run_sweep` plain data.

use crate::cli::{Cli, Command, RunArgs};
use crate::error::UsageError;
use crate::measure::Measurements;
use crate::plan::Plan;
use crate::run::redacted_point;
use anyhow::Context;
use clap::Parser;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file in the output folder that makes a sweep resumable.
const SWEEP_FILE: &str = "sweep.json";

/// What a sweep saves about itself so it can be resumed.
#[derive(Debug, Serialize, Deserialize)]
struct SavedSweep {
    /// forkcast's arguments after the program name (`run ... -- COMMAND`), secrets masked.
    args: Vec<String>,
    /// Whether masking changed them: then a resume needs the command given again.
    #[serde(default)]
    redacted: bool,
    /// The folder forkcast ran in: the target's relative paths are relative to it.
    cwd: PathBuf,
}

/// A sweep to finish: its original options and what it already measured.
pub struct Resumed {
    pub args: RunArgs,
    pub measurements: Option<Measurements>,
}

/// Saves this invocation's command line into `dir`, so the sweep can be resumed: redacted, as
/// everything in the output folder, and marked when that masked something.
fn save_sweep(dir: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let given: Vec<String> = std::env::args().skip(1).collect();
    let args = crate::redact::argv(&given);
    let saved = SavedSweep {
        redacted: args != given,
        args,
        cwd: std::env::current_dir()?,
    };
    let path = dir.join(SWEEP_FILE);
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(&serde_json::to_vec_pretty(&saved)?)?;
    Ok(())
}

/// With `--resume DIR`: the saved sweep's options (output folder DIR, run in its saved folder)
/// and its finished runs. Without it: None.
pub fn load(given: &RunArgs) -> Result<Option<Resumed>, UsageError> {
    let Some(dir) = &given.resume else {
        return Ok(None);
    };
    let shown = dir.display().to_string();
    let refuse = |why: &str| UsageError::NotResumable(shown.clone(), why.to_string());
    let dir = std::fs::canonicalize(dir)
        .map_err(|_| refuse("it does not exist: give the -o DIR of the sweep to finish"))?;
    let text = std::fs::read_to_string(dir.join(SWEEP_FILE)).map_err(|_| {
        refuse("it holds no sweep.json, so it is not a folder `forkcast run -o DIR` wrote")
    })?;
    let saved: SavedSweep = serde_json::from_str(&text)
        .map_err(|e| refuse(&format!("its sweep.json is corrupt: {e}")))?;
    let mut args =
        match Cli::try_parse_from(std::iter::once("forkcast".to_string()).chain(saved.args)) {
            Ok(Cli {
                command: Command::Run(args),
            }) => *args,
            _ => {
                return Err(refuse(
                    "its sweep.json does not hold a `forkcast run` command line",
                ))
            }
        };
    if saved.redacted {
        restore_secrets(&mut args, given, &shown).map_err(|why| refuse(&why))?;
    } else if !given.command.is_empty() && given.command != args.command {
        return Err(refuse(&format!(
            "it measured `{}`, not `{}`: leave the command out to resume it as it was, or give a \
             new -o DIR",
            args.command.join(" "),
            crate::redact::argv(&given.command).join(" ")
        )));
    }
    std::env::set_current_dir(&saved.cwd).map_err(|e| {
        refuse(&format!(
            "it ran in {}, which is gone: {e}",
            saved.cwd.display()
        ))
    })?;
    args.output = Some(dir.clone());
    let measurements = load_saved(&dir)?.map(|mut m| {
        // A run cut short by Ctrl-C is not a finished run: it is made again.
        for p in &mut m.points {
            p.runs.retain(|r| !r.interrupted);
        }
        m
    });
    Ok(Some(Resumed { args, measurements }))
}

/// For a sweep saved redacted: puts back the secrets from the command (and -P values) given
/// again, after checking that they redact to the saved ones. Says why not, in one line.
fn restore_secrets(args: &mut RunArgs, given: &RunArgs, dir: &str) -> Result<(), String> {
    use crate::redact;
    if given.command.is_empty() {
        return Err(format!(
            "its command line held secrets, which forkcast does not save: give the command again, \
             `forkcast run --resume {dir} -- {}` with the real values for ***",
            args.command.join(" ")
        ));
    }
    if redact::argv(&given.command) != args.command {
        return Err(format!(
            "it measured `{}`, not `{}`: give the same command again (with its real secrets), or \
             a new -o DIR",
            args.command.join(" "),
            redact::argv(&given.command).join(" ")
        ));
    }
    args.command = given.command.clone();
    let masked_params = args.params.iter().any(|p| p.contains(redact::MASK));
    if !given.params.is_empty() {
        if redact::argv(&given.params) != args.params {
            return Err(format!(
                "its -P values were `{}`, not `{}`: give the same -P options again, or a new -o DIR",
                args.params.join(" "),
                redact::argv(&given.params).join(" ")
            ));
        }
        args.params = given.params.clone();
    } else if masked_params {
        return Err(format!(
            "its -P values held secrets, which forkcast does not save: give them again with the \
             command, `forkcast run --resume {dir} -P {} -- COMMAND…` with the real values for ***",
            args.params.join(" -P ")
        ));
    }
    Ok(())
}

/// The measurements saved in `dir` so far (its raw file, through the one reader of saved
/// sweeps); None when no run had finished yet.
fn load_saved(dir: &Path) -> Result<Option<Measurements>, UsageError> {
    if !dir.join(crate::saved::RAW_FILE).exists() {
        return Ok(None);
    }
    crate::saved::load(&dir.join(crate::saved::RAW_FILE)).map(Some)
}

/// Readies the output folder: for a resumed sweep, checks its saved runs against `plan` and
/// returns them; for a new one, prepares the folder and saves the command line.
pub fn prepare_output(
    resumed: Option<Resumed>,
    plan: &Plan,
) -> anyhow::Result<Option<Measurements>> {
    match resumed {
        Some(r) => {
            if let Some(m) = &r.measurements {
                check_against_plan(&plan.output_dir, m, plan)?;
            }
            Ok(r.measurements)
        }
        None => {
            crate::output::prepare_dir(&plan.output_dir)?;
            crate::output::clear_old_runs(&plan.output_dir)?;
            save_sweep(&plan.output_dir)?;
            Ok(None)
        }
    }
}

/// Checks that the saved runs belong to `plan` and that some are still to make.
fn check_against_plan(dir: &Path, m: &Measurements, plan: &Plan) -> Result<(), UsageError> {
    let refuse = |why: String| UsageError::NotResumable(dir.display().to_string(), why);
    // The saved points are recorded redacted: compare them with the plan's, redacted too.
    let recorded: Vec<_> = plan.points.iter().map(redacted_point).collect();
    for p in &m.points {
        let planned = recorded
            .iter()
            .find(|q| q.workers == p.workers && q.params == p.params);
        if planned.is_none_or(|q| q.argv != p.argv) {
            return Err(refuse(format!(
                "its point workers={} was not planned the same way now (did --workers auto see \
                 another host?): give a new -o DIR",
                p.workers
            )));
        }
    }
    let per_point = plan.warmup + plan.runs;
    let finished = recorded.iter().all(|q| {
        m.points
            .iter()
            .find(|p| p.workers == q.workers && p.params == q.params)
            .is_some_and(|p| p.runs.len() as u32 >= per_point)
    });
    // Under `--runs auto` the first rounds are not the end: the added ones are, once the
    // sweep recorded why it stopped adding them.
    let stopped = plan.auto.is_none() || m.rounds.as_ref().is_some_and(|r| r.stopped.is_some());
    if finished && stopped {
        return Err(refuse(
            "every run of it is finished: nothing to resume (`forkcast report` re-reads it)".into(),
        ));
    }
    Ok(())
}
