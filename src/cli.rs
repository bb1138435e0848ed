//! Command-line interface: clap structs close to the flags, nothing else.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "forkcast",
    version,
    about = "Measure which concurrency model a workload needs: sweep worker counts, measure the \
             whole process tree, and walk the decision tree with the measured answers."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command at each worker count and report the measured scaling and diagnosis.
    Run(Box<RunArgs>),
    /// Re-analyse and re-diagnose a saved sweep (its folder, report.json or raw file) without
    /// running anything, and print or write it in any format.
    Report(ReportArgs),
    /// Compare two saved sweeps point by point: wall time and speedup changes against their
    /// noise, and any change of recommendation.
    Diff(DiffArgs),
    /// Print the JSON Schema of report.json.
    Schema,
    /// Print the decision tree's thresholds and why each is what it is.
    Explain,
    /// Print what this host and user let forkcast measure, and how to enable the rest.
    Doctor,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Worker counts: a list (1,2,4), a range (1..8) or `auto` (1, 2, 4, ... up to twice the
    /// usable cores, always including the core count).
    #[arg(short = 'w', long, default_value = "auto")]
    pub workers: String,

    /// Also export the worker count to the target as this environment variable.
    #[arg(long, value_name = "NAME")]
    pub workers_env: Option<String>,

    /// A parameter to sweep: NAME=v1,v2 fills `{NAME}` in the command (repeatable).
    #[arg(short = 'P', long = "param", value_name = "NAME=V1,V2")]
    pub params: Vec<String>,

    /// Measured runs per point: N, or `auto` (3, then one more interleaved round at a time
    /// while a step's deciding figure straddles its bar, up to --max-runs and --max-time).
    #[arg(long, default_value = "auto", value_name = "auto|N")]
    pub runs: String,

    /// With --runs auto: the most measured runs per point (default 10; at least 3, the first
    /// rounds).
    #[arg(long, value_name = "N")]
    pub max_runs: Option<u32>,

    /// With --runs auto: the most time the added rounds may take (e.g. 30s, 5m; default: twice
    /// what the first rounds took, so auto at most triples a sweep).
    #[arg(long, value_name = "DURATION")]
    pub max_time: Option<String>,

    /// Unmeasured warmup runs per point, before the measured ones.
    #[arg(long, default_value_t = 1)]
    pub warmup: u32,

    /// Per-run time limit (e.g. 30s, 2m, 1.5h); the target's tree gets SIGTERM, then SIGKILL.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Output folder (default: a new timestamped folder under forkcast-out/).
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// Print the report JSON on stdout and nothing else there.
    #[arg(long)]
    pub json: bool,

    /// Let the target's stdout/stderr through to the terminal (they are still saved).
    #[arg(long)]
    pub show_output: bool,

    /// No progress or summary on stderr/stdout (errors only).
    #[arg(short, long)]
    pub quiet: bool,

    /// Print the full text (every step's evidence, rule and source) instead of the summary
    /// that fits one screen.
    #[arg(short, long)]
    pub verbose: bool,

    /// Run the command through `sh -c` (one string) instead of as argv.
    #[arg(long)]
    pub shell: bool,

    /// Sampler rate in Hz (default: adaptive, 100 Hz for small trees).
    #[arg(long, value_name = "HZ")]
    pub sample_hz: Option<f64>,

    /// Probes to inject: auto (preload for dynamically linked targets, python for CPython),
    /// none, or a list (preload,python). Probes never change what the target does.
    #[arg(long, default_value = "auto", value_name = "auto|none|LIST")]
    pub probes: String,

    /// Also write every plot as PNG beside its SVG.
    #[arg(long)]
    pub png: bool,

    /// trace.json (Chrome Trace Event format, opens in Perfetto) for the largest point, for
    /// all points, or none.
    #[arg(
        long,
        value_enum,
        default_value = "largest",
        value_name = "largest|all|none"
    )]
    pub trace: TraceScope,

    /// Latency or throughput: what the workload is judged on.
    #[arg(long, value_enum, default_value = "throughput")]
    pub goal: Goal,

    /// Order of the runs: interleaved (every point's warmups, then rounds of one run per point:
    /// 1, 2, 4, 1, 2, 4, ...) so host drift is spread over every point, or sequential (all runs
    /// of a point before the next).
    #[arg(long, value_enum, default_value = "interleaved")]
    pub order: Order,

    /// Stop the sweep at the first failed run (by default every point still runs).
    #[arg(long)]
    pub fail_fast: bool,

    /// Most of each run's stdout and of its stderr to keep: the first and the last SIZE are
    /// saved, the total byte count is recorded (e.g. 8MiB, 512KiB, 1GB).
    #[arg(long, default_value = "8MiB", value_name = "SIZE")]
    pub output_cap: String,

    /// Most processes of the target's tree the sampler tracks at once (default: 64 per usable
    /// CPU, at least 256); beyond it the run goes on, the processes left unsampled are counted
    /// and the report says so.
    #[arg(long, value_name = "N")]
    pub max_processes: Option<u32>,

    /// Finish an interrupted or killed sweep in DIR without redoing its finished runs (the
    /// command and options are read from DIR; a command given here must match, and only -q,
    /// --json and --show-output are taken from this invocation).
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,

    /// The command to run; `{workers}` and `{NAME}` are substituted in every argument.
    // Not `required`: plan names a missing command with its fix (UsageError::EmptyCommand).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// `--order`: the sweep runs in this order.
pub use crate::run::sweep::Order;

/// `--goal`: the measurements record it as this enum.
pub use crate::measure::Goal;

/// `--trace`: which points trace.json covers.
pub use crate::report::trace::TraceScope;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A saved sweep: the folder `forkcast run` wrote, its report.json, or its raw.json.gz.
    pub saved: PathBuf,

    /// Also write the refreshed report (report.json, raw.json.gz, summary.txt) into this folder.
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// What to print on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::report::Format,

    /// Same as --format json.
    #[arg(long)]
    pub json: bool,

    /// With --format text: the full text (every step's evidence, rule and source) instead of
    /// the summary that fits one screen.
    #[arg(short, long)]
    pub verbose: bool,

    /// Write report.html into the -o folder (default: the saved sweep's folder).
    #[arg(long)]
    pub html: bool,

    /// Write the plots (scaling.svg, ...) into this folder.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier sweep (folder, report.json or raw.json.gz).
    pub base: PathBuf,

    /// The later sweep, compared against `base`.
    pub new: PathBuf,

    /// Exit 1 when a point's median wall time grew by more than PCT percent and beyond the
    /// runs' noise (their min..max ranges do not overlap): a CI gate.
    #[arg(long, value_name = "PCT", value_parser = percent)]
    pub fail_above: Option<f64>,

    /// What to print on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::report::diff::DiffFormat,
}

/// `--fail-above`: a finite percentage, 0 or more (NaN would make the gate never fail).
fn percent(text: &str) -> Result<f64, String> {
    match text.trim().trim_end_matches('%').parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 0.0 => Ok(p),
        _ => Err("give a percentage of 0 or more, e.g. 10".into()),
    }
}
