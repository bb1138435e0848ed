//! What happened to one run, in words and as data: how its root ended, and every fault seen
//! (a crash, a hang, a flood, a fork storm...). The runner (src/run/outcome.rs) decides them.

use serde::{Deserialize, Serialize};

/// How a run ended, one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Exit code 0, nothing stopped it.
    Ok,
    /// A nonzero exit code.
    Failed,
    /// Killed by a signal that means a bug (SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, ...).
    Crashed,
    /// Killed by another signal that forkcast did not send (SIGKILL from the OOM killer, ...).
    Killed,
    /// Hit `--timeout`; forkcast killed the tree.
    TimedOut,
    /// forkcast was interrupted (Ctrl-C, SIGTERM) and killed the tree.
    Interrupted,
}

/// The kinds of fault a run can show; several can occur together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    ExitCode,
    Crash,
    Signal,
    Timeout,
    Interrupted,
    /// Still alive `KILL_GRACE` after SIGTERM, so SIGKILL was needed.
    SigtermIgnored,
    /// Processes outlived the root and were killed.
    Leftovers,
    /// More processes at once than `--max-processes`: some went unsampled.
    ProcessCap,
    /// stdout or stderr was larger than `--output-cap` allows: the middle was left out.
    OutputCapped,
    /// Over too fast for the sampler and for timing to mean much.
    TooShort,
}

/// One fault: its kind, and a sentence saying what happened and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Fault {
    pub kind: FaultKind,
    pub message: String,
}

/// A run's outcome: the ending, the faults, and the two in one line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcome {
    pub ended: Ending,
    pub faults: Vec<Fault>,
    /// e.g. "crashed: killed by SIGSEGV (a crash in the target)".
    pub summary: String,
}
