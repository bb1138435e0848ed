//! forkcast's entry point: the pipeline cli -> plan -> run -> analyze -> diagnose -> report,
//! and the one place that decides the exit code.

use anyhow::Context;
use clap::error::ErrorKind;
use clap::Parser;
use forkcast::cli::{Cli, Command, DiffArgs, ReportArgs, RunArgs};
use forkcast::error::{clap_one_line, exit_code_for};
use forkcast::report::render::{self, Analysed};
use forkcast::report::{diff, visuals, Format, Report, Status};
use forkcast::saved::{self, Written};
use forkcast::{analyze, diagnose, output, plan, run};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Exit code when forkcast itself failed (here: analysis failed; the raw data is kept).
const FORKCAST_FAILED: u8 = 1;
/// Exit code when the target failed every measured run, or any run under --fail-fast.
const TARGET_ALWAYS_FAILED: u8 = 3;
/// Exit code after Ctrl-C, as shells expect (128 + SIGINT).
const INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    if let Some(code) = run::keeper::run_if_keeper() {
        return code;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help, --version, and a bare `forkcast` print clap's full text.
        Err(e)
            if !e.use_stderr()
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            e.exit()
        }
        Err(e) => {
            eprintln!("forkcast: error: {}", clap_one_line(&e));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Run(args) => run_command(&args),
        Command::Report(args) => report_command(&args),
        Command::Diff(args) => diff_command(&args),
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
    let bar = forkcast::report::progress::Bar::for_sweep(&plan, args.quiet, args.json);
    let say = |line: &str| bar.line(line);
    let progress: run::Progress = (!args.quiet).then_some(&say as &dyn Fn(&str));
    let vis = visuals::Options {
        png: args.png,
        trace: args.trace,
    };
    let (m, ended) = run::run_sweep(&plan, host, progress, args.show_output, saved, |m| {
        saved::save(&plan.output_dir, m, Status::InProgress, vis).map(|_| ())
    })?;
    bar.finish();
    let status = match ended {
        run::Ended::Interrupted => Status::Interrupted,
        run::Ended::FailedFast => Status::FailedFast,
        run::Ended::Complete => Status::Complete,
    };
    let written = saved::save(&plan.output_dir, &m, status, vis)?;
    let report_path = plan.output_dir.join(saved::REPORT_FILE);
    if args.json {
        std::io::stdout().lock().write_all(&written.json)?;
    } else if !args.quiet {
        let mut out = std::io::stdout().lock();
        out.write_all(&written.text)?;
        writeln!(out, "\nreport: {}", report_path.display())?;
    }
    if let Some(code) = analysis_failed(&written, &plan.output_dir) {
        return Ok(code);
    }
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

/// Says so and gives the exit code when analysis failed; the raw file is already on disk.
fn analysis_failed(written: &Written, dir: &Path) -> Option<u8> {
    let error = written.analysed.error()?;
    eprintln!(
        "forkcast: error: analysis failed ({error}); the measurements are kept in {}: \
         `forkcast report {}` re-analyses them",
        dir.join(saved::RAW_FILE).display(),
        dir.display()
    );
    Some(FORKCAST_FAILED)
}

fn report_command(args: &ReportArgs) -> anyhow::Result<u8> {
    let saved = saved::load_saved(&args.saved)?;
    let (m, status) = (&saved.measurements, saved.status);
    let format = if args.json { Format::Json } else { args.format };
    let (analysed, raw) = match &args.output {
        Some(dir) => {
            plan::check_output_dir(dir)?;
            output::prepare_dir(dir)?;
            let written = saved::save(dir, m, status, visuals::Options::default())?;
            eprintln!("report: {}", dir.join(saved::REPORT_FILE).display());
            (written.analysed, Some(saved::RAW_FILE.to_string()))
        }
        None => (
            render::analyse(m),
            saved.from_raw.then(|| saved.source.display().to_string()),
        ),
    };
    if let Analysed::Ok(ad) = &analysed {
        let report = Report::new(m, &ad.0, &ad.1, status);
        let folder = args
            .output
            .clone()
            .or_else(|| saved.source.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| ".".into());
        write_visuals(&report, args, &folder)?;
    }
    let bytes = render::export(m, &analysed, status, raw.as_deref(), format)?;
    std::io::stdout().lock().write_all(&bytes)?;
    if let Some(error) = analysed.error() {
        eprintln!(
            "forkcast: error: analysis failed ({error}); the saved measurements in {} are \
             unchanged",
            saved.source.display()
        );
        return Ok(FORKCAST_FAILED);
    }
    Ok(0)
}

/// `--html` and `--plots DIR`.
fn write_visuals(report: &Report, args: &ReportArgs, folder: &Path) -> anyhow::Result<()> {
    if args.html {
        let path = folder.join("report.html");
        let html = forkcast::report::html(report)?;
        output::write_atomic(&path, &html)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("html: {}", path.display());
    }
    if let Some(dir) = &args.plots {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for path in forkcast::report::plots(report, dir, false)? {
            eprintln!("plot: {}", path.display());
        }
    }
    Ok(())
}

fn diff_command(args: &DiffArgs) -> anyhow::Result<u8> {
    let base = saved::load(&args.base)?;
    let new = saved::load(&args.new)?;
    let (b, n) = match (render::analyse(&base), render::analyse(&new)) {
        (Analysed::Ok(b), Analysed::Ok(n)) => (b, n),
        (Analysed::Failed(e), _) => {
            anyhow::bail!("analysis of {} failed: {e}", args.base.display())
        }
        (_, Analysed::Failed(e)) => anyhow::bail!("analysis of {} failed: {e}", args.new.display()),
    };
    let d = diff::diff(
        diff::Side::new(&base, &b.0, &b.1, &args.base),
        diff::Side::new(&new, &n.0, &n.1, &args.new),
    );
    std::io::stdout()
        .lock()
        .write_all(&diff::export(&d, args.format)?)?;
    Ok(match args.fail_above {
        Some(pct) if d.regressed_above(pct) => {
            eprintln!("forkcast: a point is slower by more than {pct} % beyond the noise");
            1
        }
        _ => 0,
    })
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
