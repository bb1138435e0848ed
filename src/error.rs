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
        "the command has no {{workers}} placeholder and no --workers-env: put {{workers}} where \
         the command takes its worker count, or pass --workers-env NAME"
    )]
    NoWorkerPlaceholder,
    #[error("--param '{0}' must look like NAME=v1,v2")]
    BadParam(String),
    #[error("--param {0} is given twice: give each parameter once with all its values")]
    DuplicateParam(String),
    #[error("--param {0} is never used: the command has no {{{0}}} placeholder")]
    UnusedParam(String),
    #[error("--timeout '{0}' is not a duration: use e.g. 30s, 500ms, 2m or 1h")]
    BadTimeout(String),
    #[error("--probes '{0}' is not auto, none or a list of preload,python")]
    BadProbes(String),
    #[error("--runs must be at least 1")]
    ZeroRuns,
    #[error("--sample-hz must be between 1 and 1000, got {0}")]
    BadSampleHz(f64),
    #[error("--workers-env '{0}' is not a valid environment variable name")]
    BadEnvName(String),
    #[error("output folder {0} is not empty: pick a new -o DIR or remove it")]
    OutputNotEmpty(String),
    #[error("cannot use {0}: {1}")]
    BadFile(String, String),
    #[error("{0} is not a forkcast report: {1}")]
    NotAReport(String, String),
    #[error(
        "{0} was written by a newer forkcast (schema_version {1}; this one reads {2}): upgrade \
         forkcast to read it"
    )]
    NewerReport(String, u32, u32),
    #[error("the command '{0}' was not found: check its spelling or give its full path")]
    CommandNotFound(String),
    #[error("--output-cap '{0}' is not a size: use e.g. 8MiB, 512KiB or 1GB")]
    BadOutputCap(String),
    #[error("--max-processes must be at least 1")]
    ZeroMaxProcesses,
    #[error("cannot resume {0}: {1}")]
    NotResumable(String, String),
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
