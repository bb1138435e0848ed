//! Deciding what happened to a run from what the runner saw: the ending in one word and every
//! fault with a sentence that says what to do. Words and data both land in report.json.

use super::reap::KILL_GRACE;
use crate::measure::{Ending, Fault, FaultKind, Outcome, Run};
use crate::units::human_bytes;

/// Runs shorter than this are flagged: process start-up alone takes milliseconds and the
/// sampler ticks every 10 ms at most, so below ~50 ms the timeline has a handful of ticks and
/// the wall time is mostly start-up, not the work whose scaling we measure.
pub const TOO_SHORT_S: f64 = 0.05;

/// Signals that mean the target itself failed (a bug), not that someone stopped it.
const CRASH_SIGNALS: [i32; 7] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGABRT,
    libc::SIGSYS,
    libc::SIGTRAP,
];

/// The output cap a run was made under, for the flood message.
pub struct Caps {
    pub output_cap_bytes: u64,
}

/// The outcome of a finished run.
pub fn outcome_of(run: &Run, caps: &Caps) -> Outcome {
    let mut faults = Vec::new();
    let mut fault = |kind, message: String| faults.push(Fault { kind, message });
    let ended = if run.interrupted {
        fault(
            FaultKind::Interrupted,
            "forkcast was interrupted during this run and killed the tree; `forkcast run \
             --resume DIR` makes it again"
                .into(),
        );
        Ending::Interrupted
    } else if run.timed_out {
        fault(
            FaultKind::Timeout,
            format!(
                "still running at --timeout after {:.1} s: the tree got SIGTERM; raise --timeout \
                 if the work needs longer",
                run.wall_s
            ),
        );
        Ending::TimedOut
    } else if let Some(sig) = run.signal {
        if CRASH_SIGNALS.contains(&sig) {
            fault(
                FaultKind::Crash,
                format!(
                    "killed by {}: a crash in the target; see its stderr",
                    signal_name(sig)
                ),
            );
            Ending::Crashed
        } else {
            let hint = if sig == libc::SIGKILL {
                " (the kernel's OOM killer sends SIGKILL: check dmesg)"
            } else {
                ""
            };
            fault(
                FaultKind::Signal,
                format!(
                    "killed by {}, a signal forkcast did not send{hint}",
                    signal_name(sig)
                ),
            );
            Ending::Killed
        }
    } else if run.exit_code != Some(0) {
        let code = run
            .exit_code
            .map_or("unknown".to_string(), |c| c.to_string());
        fault(
            FaultKind::ExitCode,
            format!("the target exited with code {code}: see its stderr"),
        );
        Ending::Failed
    } else {
        Ending::Ok
    };
    if run.sigterm_ignored {
        fault(
            FaultKind::SigtermIgnored,
            format!(
                "part of the tree ignored SIGTERM for {} s and was killed with SIGKILL",
                KILL_GRACE.as_secs()
            ),
        );
    }
    if run.leftover_processes > 0 {
        fault(
            FaultKind::Leftovers,
            format!(
                "{} process(es) outlived the target's root (daemons or unwaited children) and \
                 were killed",
                run.leftover_processes
            ),
        );
    }
    if let Some(s) = run.sampled.as_ref().filter(|s| s.untracked_processes > 0) {
        fault(
            FaultKind::ProcessCap,
            format!(
                "fork storm: more than {} processes at once; the sampler tracked {} and left {} \
                 out, so per-process figures cover part of the tree (CPU time from perf_event \
                 and rusage covers all of it); raise --max-processes to track more",
                s.process_cap.unwrap_or(0),
                s.process_cap.unwrap_or(0),
                s.untracked_processes
            ),
        );
    }
    for (name, bytes) in [("stdout", run.stdout_bytes), ("stderr", run.stderr_bytes)] {
        let Some(bytes) = bytes.filter(|&b| b > 2 * caps.output_cap_bytes) else {
            continue;
        };
        fault(
            FaultKind::OutputCapped,
            format!(
                "output flood: {name} was {} in all; the first and the last {} are saved and \
                 the middle left out (--output-cap)",
                human_bytes(bytes as f64),
                human_bytes(caps.output_cap_bytes as f64)
            ),
        );
    }
    if ended == Ending::Ok && run.wall_s < TOO_SHORT_S {
        fault(
            FaultKind::TooShort,
            format!(
                "over in {:.1} ms: too short to measure (start-up dominates and the sampler \
                 saw few ticks); give each run at least a second of work",
                run.wall_s * 1e3
            ),
        );
    }
    let summary = summarize(ended, &faults);
    Outcome {
        ended,
        faults,
        summary,
    }
}

fn summarize(ended: Ending, faults: &[Fault]) -> String {
    let word = match ended {
        Ending::Ok => "ok",
        Ending::Failed => "failed",
        Ending::Crashed => "crashed",
        Ending::Killed => "killed",
        Ending::TimedOut => "timed out",
        Ending::Interrupted => "interrupted",
    };
    if faults.is_empty() {
        return word.to_string();
    }
    let messages: Vec<&str> = faults.iter().map(|f| f.message.as_str()).collect();
    format!("{word}: {}", messages.join("; "))
}

/// `SIGSEGV (11)`: the name where known, always the number.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {sig}"),
    };
    format!("{name} ({sig})")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run as the runner records it: `fields` over a clean, 1 s, exit-0 run.
    fn run(fields: serde_json::Value) -> Run {
        let mut base = serde_json::json!({
            "wall_s": 1.0, "exit_code": 0,
            "rusage": {"user_s": 0.0, "sys_s": 0.0, "max_rss_bytes": 0, "voluntary_switches": 0,
                       "involuntary_switches": 0, "minor_faults": 0, "major_faults": 0},
        });
        for (k, v) in fields.as_object().unwrap() {
            base[k] = v.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    fn kinds(o: &Outcome) -> Vec<FaultKind> {
        o.faults.iter().map(|f| f.kind).collect()
    }

    const CAPS: Caps = Caps {
        output_cap_bytes: 1 << 20,
    };

    #[test]
    fn a_clean_run_is_ok_with_no_faults() {
        let o = outcome_of(&run(serde_json::json!({})), &CAPS);
        assert_eq!((o.ended, o.summary.as_str()), (Ending::Ok, "ok"));
    }

    #[test]
    fn a_run_of_milliseconds_is_flagged_too_short_but_stays_ok() {
        let o = outcome_of(&run(serde_json::json!({"wall_s": 0.003})), &CAPS);
        assert_eq!(o.ended, Ending::Ok);
        assert_eq!(kinds(&o), [FaultKind::TooShort]);
        assert!(o.summary.contains("3.0 ms"), "{}", o.summary);
        let failed = outcome_of(
            &run(serde_json::json!({"wall_s": 0.003, "exit_code": 1})),
            &CAPS,
        );
        assert_eq!(
            kinds(&failed),
            [FaultKind::ExitCode],
            "a failure says so, not 'too short'"
        );
    }

    #[test]
    fn crashes_and_other_signals_are_told_apart() {
        let segv = run(serde_json::json!({"exit_code": null, "signal": libc::SIGSEGV}));
        assert_eq!(outcome_of(&segv, &CAPS).ended, Ending::Crashed);
        let kill = run(serde_json::json!({"exit_code": null, "signal": libc::SIGKILL}));
        let o = outcome_of(&kill, &CAPS);
        assert_eq!(o.ended, Ending::Killed);
        assert!(
            o.summary.contains("OOM"),
            "SIGKILL names the likely sender: {}",
            o.summary
        );
    }

    #[test]
    fn a_timeout_with_sigterm_ignored_and_a_flood_are_all_listed() {
        let r = run(serde_json::json!({
            "timed_out": true, "exit_code": null, "signal": libc::SIGKILL,
            "sigterm_ignored": true, "stdout_bytes": 5u64 << 20,
        }));
        let o = outcome_of(&r, &CAPS);
        assert_eq!(o.ended, Ending::TimedOut);
        assert_eq!(
            kinds(&o),
            [
                FaultKind::Timeout,
                FaultKind::SigtermIgnored,
                FaultKind::OutputCapped
            ]
        );
        assert!(o.summary.contains("5.0 MiB"), "{}", o.summary);
    }

    #[test]
    fn bytes_and_signals_read_as_words() {
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV (11)");
        assert_eq!(signal_name(64), "signal 64");
    }
}
