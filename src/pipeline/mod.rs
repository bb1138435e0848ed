//! The one driver: plan → run → measurements → analyze → diagnose → outputs. A live sweep
//! (`forkcast run`, resumed or not), a saved one (`forkcast report`) and two saved ones
//! (`forkcast diff`) all go through here, so live and replay share one path. main.rs only
//! parses the command line and turns the [`Exit`] into a code; the stages below do one thing
//! each: run/ measures, analyze/ and diagnose/ are pure, report/'s exporters make bytes.

mod analyse;
pub mod resume;
mod save;
pub mod undecided;

pub use analyse::{analyse, guard, INJECT_PANIC_ENV};
pub use save::{save, write_files, Written};

use crate::analyze::record::run_ok;
use crate::cli::{DiffArgs, ReportArgs, RunArgs};
use crate::report::render::{self, Analysed};
use crate::report::{diff, progress, visuals, Format, Report, Status};
use crate::{output, plan, run, saved};
use anyhow::Context;
use std::io::Write;
use std::path::Path;

/// How a command ended; main.rs maps each to its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done, and the report is written.
    Done,
    /// Analysis (or an exporter) failed; the raw measurements are kept.
    AnalysisFailed,
    /// The target failed every measured run, or any run under `--fail-fast`.
    TargetFailed,
    /// Ctrl-C or SIGTERM ended the sweep; the runs so far are kept.
    Interrupted,
    /// `forkcast diff --fail-above`: a point got slower beyond the noise.
    Regressed,
}

/// `forkcast run`: plans (or, with `--resume DIR`, reloads) the sweep, makes its runs while
/// rewriting the outputs after each, then prints the report.
pub fn run(given: &RunArgs) -> anyhow::Result<Exit> {
    let host = run::host::describe_host();
    // `--resume DIR`: the saved sweep's options; the presentation flags stay as given.
    let resumed = resume::load(given)?;
    let plan = plan::plan(
        resumed.as_ref().map_or(given, |r| &r.args),
        host.usable_cpus,
    )?;
    let saved = resume::prepare_output(resumed, &plan)?;
    let runs = plan.points.len() as u64 * u64::from(plan.runs + plan.warmup);
    let bar = progress::Bar::for_sweep(runs, plan.points.len(), given.quiet, given.json);
    let say = |said: run::Said| match said {
        run::Said::Run(line) => bar.line(line),
        run::Said::Round(line, runs) => bar.round(line, runs),
    };
    let progress: run::Progress = (!given.quiet).then_some(&say as &dyn Fn(run::Said));
    let vis = visuals::Options {
        png: given.png,
        trace: given.trace,
    };
    let (m, ended) = run::run_sweep(
        &plan,
        host,
        progress,
        given.show_output,
        saved,
        &undecided::undecided_lines,
        |m| save(&plan.output_dir, m, Status::InProgress, vis).map(|_| ()),
    )?;
    bar.finish();
    let status = match ended {
        run::Ended::Interrupted => Status::Interrupted,
        run::Ended::FailedFast => Status::FailedFast,
        run::Ended::Complete => Status::Complete,
    };
    let written = save(&plan.output_dir, &m, status, vis)?;
    let report_path = plan.output_dir.join(saved::REPORT_FILE);
    if given.json {
        std::io::stdout().lock().write_all(&written.json)?;
    } else if !given.quiet {
        let mut out = std::io::stdout().lock();
        out.write_all(if given.verbose {
            &written.text
        } else {
            &written.screen
        })?;
        writeln!(out, "\nreport: {}", report_path.display())?;
    }
    if let Some(error) = written.analysed.error() {
        eprintln!(
            "forkcast: error: analysis failed ({error}); the measurements are kept in {}: \
             `forkcast report {}` re-analyses them",
            plan.output_dir.join(saved::RAW_FILE).display(),
            plan.output_dir.display()
        );
        return Ok(Exit::AnalysisFailed);
    }
    let dir = plan.output_dir.display();
    Ok(match status {
        Status::Interrupted => Exit::Interrupted,
        Status::FailedFast => {
            eprintln!(
                "forkcast: stopped at the first failed run (--fail-fast); see {dir}/runs/*.stderr"
            );
            Exit::TargetFailed
        }
        _ if m.points.iter().flat_map(|p| &p.runs).all(|r| !run_ok(r)) => {
            eprintln!("forkcast: the target failed every run; see {dir}/runs/*.stderr");
            Exit::TargetFailed
        }
        _ => Exit::Done,
    })
}

/// `forkcast report`: re-analyses a saved sweep (the same analyze and diagnose as a live run)
/// and prints it in the format asked for; with `-o DIR`, writes the outputs there too.
pub fn report(args: &ReportArgs) -> anyhow::Result<Exit> {
    let saved = saved::load_saved(&args.saved)?;
    let (m, status) = (&saved.measurements, saved.status);
    let format = if args.json {
        Format::Json
    } else {
        args.format.verbose(args.verbose)
    };
    let (analysed, raw) = match &args.output {
        Some(dir) => {
            plan::check_output_dir(dir)?;
            output::prepare_dir(dir)?;
            let written = save(dir, m, status, visuals::Options::default())?;
            eprintln!("report: {}", dir.join(saved::REPORT_FILE).display());
            (written.analysed, Some(saved::RAW_FILE.to_string()))
        }
        None => (
            analyse(m),
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
        return Ok(Exit::AnalysisFailed);
    }
    Ok(Exit::Done)
}

/// `--html` and `--plots DIR` of `forkcast report`.
fn write_visuals(report: &Report, args: &ReportArgs, folder: &Path) -> anyhow::Result<()> {
    if args.html {
        let path = folder.join("report.html");
        let html = crate::report::html(report)?;
        output::write_atomic(&path, &html)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("html: {}", path.display());
    }
    if let Some(dir) = &args.plots {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for path in write_files(dir, &crate::report::plots(report, false)?)? {
            eprintln!("plot: {}", path.display());
        }
    }
    Ok(())
}

/// `forkcast diff`: analyses two saved sweeps and prints how each point moved.
pub fn diff(args: &DiffArgs) -> anyhow::Result<Exit> {
    let base = saved::load(&args.base)?;
    let new = saved::load(&args.new)?;
    let (b, n) = match (analyse(&base), analyse(&new)) {
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
            Exit::Regressed
        }
        _ => Exit::Done,
    })
}
