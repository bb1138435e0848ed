//! Everything forkcast measures, as plain serde data with no logic: raw enough to re-analyse later.
//!
//! Units are in the field names. `Option` means "not measured" (never a 0 that means unknown).

mod host;
mod outcome;
pub mod probes;
mod resource;
mod rounds;
mod sampled;

pub use host::Host;
pub use outcome::{Ending, Fault, FaultKind, Outcome};
pub use resource::{ResourceKind, Service, Written};
pub use rounds::{AddedRound, Rounds, RunsMode, Stopped};
pub use sampled::{
    IoCounters, ProcessRecord, SamplerData, SwitchStats, ThreadRecord, Tick, WaitCount,
};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the user optimises for (`--goal`): written as "throughput" or "latency".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    Throughput,
    Latency,
}

impl Goal {
    /// The word `--goal` takes and report.json writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Goal::Throughput => "throughput",
            Goal::Latency => "latency",
        }
    }
}

impl std::str::FromStr for Goal {
    type Err = String;
    /// The word back into the goal; anything else says which words there are.
    fn from_str(word: &str) -> Result<Self, String> {
        [Goal::Throughput, Goal::Latency]
            .into_iter()
            .find(|g| g.as_str() == word)
            .ok_or_else(|| format!("'{word}' is not a goal: throughput or latency"))
    }
}

impl std::fmt::Display for Goal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a figure came from, so every number in the report can name its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// perf_event counters inherited by the whole process tree.
    PerfEvent,
    /// `wait4` rusage of the reaped tree (children that were waited for).
    Rusage,
    /// The procfs sampler.
    Procfs,
    /// perf_event context-switch and task records (exact intervals per thread).
    PerfSwitch,
    /// The LD_PRELOAD probe.
    PreloadProbe,
    /// The Python sitecustomize probe.
    PythonProbe,
    /// Host facts from sysinfo / sched_getaffinity.
    Host,
}

/// One execution of the target at one (workers, params) point.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Run {
    /// Warmup runs are measured but left out of the point's summary.
    #[serde(default)]
    pub warmup: bool,
    /// Wall time from exec to the last descendant reaped, in seconds.
    pub wall_s: f64,
    /// User CPU time of the tree (from `cpu_source`).
    pub cpu_user_s: Option<f64>,
    /// System CPU time of the tree (from `cpu_source`).
    pub cpu_sys_s: Option<f64>,
    /// Which source gave `cpu_user_s`/`cpu_sys_s`.
    pub cpu_source: Option<Source>,
    /// Exit code of the root process; None when it died by a signal.
    pub exit_code: Option<i32>,
    /// Signal that ended the root process, if any.
    pub signal: Option<i32>,
    /// The run hit `--timeout` and was killed.
    #[serde(default)]
    pub timed_out: bool,
    /// The run was interrupted (Ctrl-C) and its tree was killed.
    #[serde(default)]
    pub interrupted: bool,
    /// Descendants still alive when the root exited; forkcast killed and reaped them.
    #[serde(default)]
    pub leftover_processes: u32,
    /// Part of the tree was still alive 2 s after SIGTERM and needed SIGKILL.
    #[serde(default)]
    pub sigterm_ignored: bool,
    /// rusage of the reaped tree (RUSAGE_CHILDREN delta), always measured.
    pub rusage: Rusage,
    /// perf_event counters of the whole tree; None when perf_event could not be opened at all.
    pub counters: Option<Counters>,
    /// What the procfs sampler saw; None when sampling was off or failed.
    pub sampled: Option<SamplerData>,
    /// What the injected probes recorded; None when no probe was injected. Raw file only
    /// (report.json carries the probes' figures in each point's summary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<probes::ProbeData>,
    /// Which probes were injected (`probe_notes` says why any asked for was not).
    #[serde(default)]
    pub probes_injected: Vec<probes::ProbeKind>,
    #[serde(default)]
    pub probe_notes: Vec<String>,
    /// Files holding the target's stdout and stderr, relative to the output folder.
    pub stdout_file: Option<String>,
    pub stderr_file: Option<String>,
    /// Other processes' CPU on the host during the run, in cores (noisy-host evidence).
    pub host_other_cpu_cores: Option<f64>,
    /// Bytes the target wrote to stdout and to stderr in all; the saved files keep at most the
    /// first and the last `--output-cap` of each.
    #[serde(default)]
    pub stdout_bytes: Option<u64>,
    #[serde(default)]
    pub stderr_bytes: Option<u64>,
    /// What happened, in words and as data; None in reports from before it was recorded.
    #[serde(default)]
    pub outcome: Option<Outcome>,
}

/// rusage of the reaped process tree.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rusage {
    pub user_s: f64,
    pub sys_s: f64,
    /// Largest resident set of any single reaped process, in bytes.
    pub max_rss_bytes: u64,
    pub voluntary_switches: u64,
    pub involuntary_switches: u64,
    pub minor_faults: u64,
    pub major_faults: u64,
}

/// perf_event software (and, where the host has a PMU, hardware) counters of the whole tree.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Counters {
    /// Sum of on-CPU time of every task in the tree, in seconds.
    pub task_clock_s: Option<f64>,
    /// Context switches; None when kernel events could not be counted (non-root).
    pub context_switches: Option<u64>,
    pub cpu_migrations: Option<u64>,
    pub page_faults: Option<u64>,
    /// Hardware counters; None where the host has no PMU (typical for VMs).
    pub cycles: Option<u64>,
    pub instructions: Option<u64>,
    /// Why a counter is missing, one line each (e.g. "cycles: no hardware PMU on this host").
    #[serde(default)]
    pub unavailable: Vec<String>,
}

/// All measurements of one (workers, params) point.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PointMeasurements {
    pub workers: u32,
    pub params: BTreeMap<String, String>,
    /// The argv actually executed (placeholders substituted).
    pub argv: Vec<String>,
    pub runs: Vec<Run>,
}

/// Everything one sweep measured: the input to analysis, and what `forkcast report` re-reads.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Measurements {
    pub host: Host,
    /// The argv template as written, placeholders intact.
    pub command: Vec<String>,
    /// Swept parameters and their values.
    pub params: BTreeMap<String, Vec<String>>,
    /// What the user asked to optimise (`--goal`).
    pub goal: Goal,
    /// forkcast's output folder (absolute): files under it are forkcast's (the target's saved
    /// stdout, the probes' own files), never the workload's sinks.
    #[serde(default)]
    pub output_dir: Option<String>,
    pub points: Vec<PointMeasurements>,
    /// The rounds `--runs auto` made and why; absent for `--runs N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<Rounds>,
}
