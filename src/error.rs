//! Errors forkcast matches on, and the one place they become exit codes.

use thiserror::Error;

/// Bad input from the user: one line that names the problem and the fix; exit code 2.
#[derive(Debug, Error)]
pub enum UsageError {
    #[error("--workers '{0}' is not a list (1,2,4), a range (1..8) or 'auto'")]
    BadWorkers(String),
    #[error("--workers has a count of 0: worker counts start at 1")]
    ZeroWorkers,
    #[error(
        "--workers '{0}' gives {1} counts, more than the {2} a sweep takes: use a step (1..64:8) \
         or a list (1,2,4,8)"
    )]
    TooManyWorkerCounts(String, u64, usize),
    #[error(
        "the command has no {{workers}} placeholder and no --workers-env: put {{workers}} where \
         the command takes its worker count, or pass --workers-env NAME"
    )]
    NoWorkerPlaceholder,
    #[error("--param '{0}' must look like NAME=v1,v2")]
    BadParam(String),
    #[error(
        "--param workers is reserved: give worker counts with -w/--workers (e.g. -w 1,2,4), and \
         other parameters a different name"
    )]
    ReservedParam,
    #[error("--param {0} gives the value '{1}' twice: list each value once")]
    RepeatedValue(String, String),
    #[error("the command has {{{0}}}, which is not {{workers}} or a -P parameter: {1}")]
    UnknownPlaceholder(String, String),
    #[error("--param {0} is given twice: give each parameter once with all its values")]
    DuplicateParam(String),
    #[error("--param {0} is never used: the command has no {{{0}}} placeholder")]
    UnusedParam(String),
    #[error("--timeout '{0}' is not a duration: use e.g. 30s, 500ms, 2m or 1h")]
    BadTimeout(String),
    #[error("--timeout '{0}' is zero: give a positive limit (e.g. 30s), or leave --timeout out for none")]
    ZeroTimeout(String),
    #[error("--timeout '{0}' is longer than a week: give a shorter limit, or leave --timeout out for none")]
    HugeTimeout(String),
    #[error("--probes '{0}' is not auto, none or a list of preload,python")]
    BadProbes(String),
    #[error("--runs must be at least 1")]
    ZeroRuns,
    #[error("--runs '{0}' is not a count or 'auto': use e.g. --runs 5, or --runs auto to measure until the verdict holds")]
    BadRuns(String),
    #[error(
        "--max-runs {0} is below the {1} measured runs --runs auto starts with: give --max-runs \
         {1} or more, or a fixed --runs N"
    )]
    MaxRunsBelowFirst(u32, u32),
    #[error("--max-time '{0}' is not a positive duration: use e.g. 30s, 5m or 1h")]
    BadMaxTime(String),
    #[error("{0} bounds --runs auto, not --runs {1}: leave {0} out, or use --runs auto")]
    BudgetWithoutAuto(&'static str, String),
    #[error("--sample-hz must be between 1 and 1000, got {0}")]
    BadSampleHz(f64),
    #[error("--workers-env '{0}' is not a valid environment variable name")]
    BadEnvName(String),
    #[error("output folder {0} is not empty: pick a new -o DIR or remove it")]
    OutputNotEmpty(String),
    #[error("-o {0}: {1} is a file, not a folder: pick a new -o DIR")]
    OutputIsFile(String, String),
    #[error("cannot use {0}: {1}; check the path and its permissions")]
    BadFile(String, String),
    #[error(
        "cannot read the report {0}: {1}; pass the folder or the report.json that forkcast run \
         wrote"
    )]
    UnreadableReport(String, String),
    #[error(
        "{0} is not a forkcast report: {1}; pass the folder or the report.json that forkcast run \
         wrote"
    )]
    NotAReport(String, String),
    #[error(
        "{0} names its raw measurements {1}, which cannot be read ({2}): keep {1} beside it, as \
         forkcast run wrote them (report.json alone holds only summaries)"
    )]
    MissingRaw(String, String, String),
    #[error("--output-cap '{0}' is not a size: use e.g. 8MiB, 512KiB or 1GB")]
    BadOutputCap(String),
    #[error("--max-processes must be at least 1")]
    ZeroMaxProcesses,
    #[error("cannot resume {0}: {1}")]
    NotResumable(String, String),
    #[error(
        "{0} was written by a newer forkcast (schema_version {1}; this one reads {2}): upgrade \
         forkcast to read it"
    )]
    NewerReport(String, u32, u32),
    #[error("the command '{0}' was not found: check its spelling or give its full path")]
    CommandNotFound(String),
    #[error(
        "'{0}' is neither a forkcast flag nor a program: put forkcast's flags before -- and the \
         command after it (see forkcast run --help)"
    )]
    UnknownFlag(String),
    #[error("the command is empty: put the program to run after -- (forkcast run -w 1,2 -- prog {{workers}})")]
    EmptyCommand,
    #[error(
        "the command '{0}' is not executable: make it executable (chmod +x {0}) or run it \
         through its interpreter (e.g. python3 {0})"
    )]
    NotExecutable(String),
    #[error("the command '{0}' is a folder, not a program: give the program's path")]
    CommandIsFolder(String),
}

/// A clap parse error as one line: its message with the usage block cut off, and where to look.
pub fn clap_one_line(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let message = rendered
        .split("\n\nUsage:")
        .next()
        .and_then(|m| m.split("\n\nFor more information").next())
        .unwrap_or(&rendered);
    let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    format!("{line} (see forkcast --help)")
}

/// Exit codes: 0 ok, 1 forkcast itself failed, 2 bad input, 3 the target failed every run.
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    if err
        .chain()
        .any(|e| e.downcast_ref::<UsageError>().is_some())
    {
        2
    } else if err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    }) {
        0
    } else {
        1
    }
}
