//! Running the plan: every point, warmups then measured runs, each run gated, counted, sampled
//! and reaped. The only stage that touches processes, /proc and perf_event.

pub mod capability;
pub mod counters;
pub mod host;
pub mod keeper;
pub mod os;
pub mod outcome;
pub mod output_cap;
pub mod probes;
pub mod reap;
mod rounds;
pub mod sampler;
pub mod spawn;
pub mod sweep;
pub mod switches;

use crate::error::UsageError;
use crate::measure::{Ending, Host, Measurements, PointMeasurements, Run, Source};
use crate::redact;
use anyhow::Context;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;
use sweep::{Plan, PlannedPoint, Step};

/// How the sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Complete,
    /// Ctrl-C or SIGTERM: the runs so far are kept.
    Interrupted,
    /// `--fail-fast` and a run failed: the runs so far are kept.
    FailedFast,
}

/// Progress for the user; `None` keeps quiet.
pub type Progress<'a> = Option<&'a dyn Fn(Said)>;

/// What the sweep tells the user as it goes.
#[derive(Debug, Clone, Copy)]
pub enum Said<'a> {
    /// A run finished: which point and run, its wall time.
    Run(&'a str),
    /// `--runs auto` added a round of this many runs, and why.
    Round(&'a str, u64),
}

/// What `--runs auto` asks after each round: the steps still undecided, one line each saying
/// which figure straddles which bar; empty when every step decided. Given by the pipeline, which
/// diagnoses; run/ only counts rounds.
pub type Undecided<'a> = &'a dyn Fn(&Measurements) -> Vec<String>;

/// Makes every run of the plan that `resumed` (the measurements of an earlier, unfinished
/// sweep) does not already hold, in the plan's order; under `--runs auto`, then adds rounds
/// while `undecided` names a step and the budget allows (run/rounds.rs). `after_run` sees the
/// measurements after each run, so the caller can rewrite the report and an interrupted sweep
/// keeps what it measured.
pub fn run_sweep(
    plan: &Plan,
    host: Host,
    progress: Progress,
    show_output: bool,
    resumed: Option<Measurements>,
    undecided: Undecided,
    after_run: impl FnMut(&Measurements) -> anyhow::Result<()>,
) -> anyhow::Result<(Measurements, Ended)> {
    let program = plan.points[0].argv[0].clone();
    let program_path = spawn::resolve_program(&program)
        .ok_or_else(|| UsageError::CommandNotFound(program.clone()))?;
    reap::install_process_handling().context("cannot install signal handling")?;
    let runs_dir = plan.output_dir.join("runs");
    std::fs::create_dir_all(&runs_dir)
        .with_context(|| format!("cannot create {}", runs_dir.display()))?;

    // Secrets never reach the measurements (so no exporter sees them); the target runs its real
    // argv. Labels and file names come from the redacted params too.
    let m = resumed.unwrap_or_else(|| Measurements {
        host,
        command: redact::argv(&plan.template),
        params: plan
            .params
            .iter()
            .map(|(name, values)| {
                (
                    name.clone(),
                    values.iter().map(|v| redact::text(v)).collect(),
                )
            })
            .collect(),
        goal: plan.goal,
        output_dir: std::fs::canonicalize(&plan.output_dir)
            .ok()
            .map(|p| p.display().to_string()),
        points: Vec::new(),
        rounds: None,
    });
    let mut sweeper = Sweeper {
        plan,
        program_path,
        runs_dir,
        shown: plan.points.iter().map(redacted_point).collect(),
        progress,
        show_output,
        m,
        after_run,
    };
    // Runs already measured count as done, point by point (a point's runs are saved in the
    // order they were made, so the first `done` repetitions are the finished ones).
    let done = sweeper.runs_per_point();
    let todo: Vec<Step> = plan
        .schedule()
        .into_iter()
        .filter(|s| s.repetition >= done[s.point])
        .collect();
    for (k, step) in todo.iter().enumerate() {
        if let Some(ended) = sweeper.make(step, &format!("[{}/{}]", k + 1, todo.len()))? {
            return Ok((sweeper.m, ended));
        }
    }
    match plan.auto {
        Some(auto) => rounds::add_rounds(sweeper, auto, undecided),
        None => Ok((sweeper.m, Ended::Complete)),
    }
}

/// A sweep in progress: the plan, what it measured so far, and where each run goes.
struct Sweeper<'a, F> {
    plan: &'a Plan,
    program_path: PathBuf,
    runs_dir: PathBuf,
    /// The plan's points as recorded (secrets masked), in the plan's order.
    shown: Vec<PlannedPoint>,
    progress: Progress<'a>,
    show_output: bool,
    m: Measurements,
    after_run: F,
}

impl<F: FnMut(&Measurements) -> anyhow::Result<()>> Sweeper<'_, F> {
    /// Runs saved so far for each point of the plan, warmups included.
    fn runs_per_point(&self) -> Vec<u32> {
        self.shown
            .iter()
            .map(|p| find_point(&self.m, p).map_or(0, |i| self.m.points[i].runs.len() as u32))
            .collect()
    }

    /// Makes one run and rewrites the outputs; says how the sweep ended when this run ended
    /// it (Ctrl-C, or a failure under `--fail-fast`). `at` leads its progress line.
    fn make(&mut self, step: &Step, at: &str) -> anyhow::Result<Option<Ended>> {
        let (plan, m) = (self.plan, &mut self.m);
        let point = &plan.points[step.point];
        let seen = &self.shown[step.point];
        let slot = find_point(m, seen).unwrap_or_else(|| {
            m.points.push(PointMeasurements {
                workers: seen.workers,
                params: seen.params.clone(),
                argv: seen.argv.clone(),
                runs: Vec::new(),
            });
            m.points.len() - 1
        });
        let label = format!(
            "{:02}-w{}{}-r{}{}",
            step.point + 1,
            point.workers,
            param_label(seen),
            step.repetition,
            if step.warmup { "-warmup" } else { "" }
        );
        // A killed sweep may have left this run half made: it starts from a clean folder.
        crate::output::clear_stale_run(&self.runs_dir, &label)?;
        let run = run_once(
            plan,
            point,
            &self.program_path,
            &self.runs_dir,
            &label,
            step.warmup,
        )?;
        let outcome = run.outcome.as_ref();
        if let Some(say) = self.progress {
            let ended_ok = outcome.is_none_or(|o| o.ended == Ending::Ok && o.faults.is_empty());
            let ended = match outcome {
                Some(o) if !ended_ok => format!(" ({})", o.summary),
                _ => String::new(),
            };
            say(Said::Run(&format!(
                "{at} {} {:.3} s{ended}",
                progress_name(plan, step, seen),
                run.wall_s
            )));
        }
        if self.show_output {
            echo_output(&plan.output_dir, &run);
        }
        let interrupted = run.interrupted;
        let failed = outcome.is_some_and(|o| o.ended != Ending::Ok);
        m.points[slot].runs.push(redact_run(run));
        (self.after_run)(m)?;
        if interrupted || reap::interrupted().is_some() {
            return Ok(Some(Ended::Interrupted));
        }
        if plan.fail_fast && failed {
            return Ok(Some(Ended::FailedFast));
        }
        Ok(None)
    }
}

/// Which run a progress line is about, since runs of different points interleave:
/// `point 1/3 workers=1 mode=threads run 2/5` (or `warmup 1/1`).
fn progress_name(plan: &Plan, step: &Step, seen: &PlannedPoint) -> String {
    let params: String = seen
        .params
        .iter()
        .map(|(k, v)| format!(" {k}={v}"))
        .collect();
    let (kind, nth, of) = if step.warmup {
        ("warmup", step.repetition + 1, plan.warmup.to_string())
    } else {
        let nth = step.repetition - plan.warmup + 1;
        // A round `--runs auto` added counts up to --max-runs at most.
        let of = match plan.auto {
            Some(auto) if nth > plan.runs => format!("{} at most", auto.max_runs),
            _ => plan.runs.to_string(),
        };
        ("run", nth, of)
    };
    format!(
        "point {}/{} workers={}{params} {kind} {nth}/{of}",
        step.point + 1,
        plan.points.len(),
        seen.workers
    )
}

/// The measured point that `point` of the plan is (same workers and params).
fn find_point(m: &Measurements, point: &PlannedPoint) -> Option<usize> {
    m.points
        .iter()
        .position(|p| p.workers == point.workers && p.params == point.params)
}

/// One execution: gate, attach, release, wait, reap, read.
fn run_once(
    plan: &Plan,
    point: &PlannedPoint,
    program: &Path,
    runs_dir: &Path,
    label: &str,
    warmup: bool,
) -> anyhow::Result<Run> {
    let (stdout_path, stderr_path) = (
        runs_dir.join(format!("{label}.stdout")),
        runs_dir.join(format!("{label}.stderr")),
    );
    let stdio = spawn::Stdio {
        stdout: File::create(&stdout_path)
            .with_context(|| format!("cannot create {}", stdout_path.display()))?,
        stderr: File::create(&stderr_path)
            .with_context(|| format!("cannot create {}", stderr_path.display()))?,
    };
    let guard = output_cap::OutputGuard::start(
        vec![
            (stdout_path.clone(), stdio.stdout.try_clone()?),
            (stderr_path.clone(), stdio.stderr.try_clone()?),
        ],
        plan.output_cap_bytes,
    )
    .context("cannot start the output cap")?;
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !point.env.iter().any(|(name, _)| k == name.as_str()))
        .collect();
    env.extend(point.env.iter().map(|(k, v)| (k.into(), v.into())));

    let (prepared, probes_injected, mut probe_notes) =
        inject_probes(plan, program, &runs_dir.join(label), &env)?;
    if let Some(p) = &prepared {
        env.retain(|(k, _)| !p.env().iter().any(|(name, _)| name == k));
        env.extend(p.env().iter().cloned());
    }
    let mut child =
        spawn::spawn_gated(program, &point.argv, &env, &stdio).context("cannot fork the target")?;
    let counters = counters::TreeCounters::attach(child.pid);
    // The sampler's clock starts with its baseline sweep, a moment before release.
    let sampler_t0 = Instant::now();
    // Switch records when perf_event allows them, else the procfs sampler (issue 12).
    let sampler = switches::start(
        child.pid,
        sampler_t0,
        sampler::SamplerConfig {
            requested_hz: plan.sample_hz,
            max_processes: plan.max_processes,
            adopter: Some(child.keeper),
            ..Default::default()
        },
    );
    let (busy0, self0) = (host::host_busy_s(), host::self_cpu_s());
    let t0 = Instant::now();
    if let Err(e) = child.release() {
        return Err(UsageError::BadFile(
            program.display().to_string(),
            format!("exec failed: {e}"),
        )
        .into());
    }
    let ended =
        reap::wait_and_reap(&mut child, t0, plan.timeout).context("waiting for the target")?;
    let counters = (!counters.is_empty()).then(|| counters.read());
    let output_bytes = guard.finish();
    // A sampler that could not start leaves the run without a timeline, not without a result.
    let sampled = sampler.ok().map(|s| s.finish());
    let probe_data = prepared
        .map(|p| p.collect())
        .transpose()
        .unwrap_or_else(|e| {
            probe_notes.push(format!("the probes' records could not be read: {e:#}"));
            None
        });
    let wall_s = ended.wall.as_secs_f64();

    let task_clock = counters.as_ref().and_then(|c| c.task_clock_s);
    let tree_cpu = task_clock.unwrap_or(ended.rusage.user_s + ended.rusage.sys_s);
    let host_other_cpu_cores = busy0.zip(host::host_busy_s()).map(|(b0, b1)| {
        let own = host::self_cpu_s() - self0;
        ((b1 - b0 - tree_cpu - own) / wall_s.max(1e-3)).max(0.0)
    });
    let relative = |p: &PathBuf| {
        p.strip_prefix(&plan.output_dir)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let mut run = Run {
        warmup,
        wall_s,
        cpu_user_s: Some(ended.rusage.user_s),
        cpu_sys_s: Some(ended.rusage.sys_s),
        cpu_source: Some(Source::Rusage),
        exit_code: ended.exit_code,
        signal: ended.signal,
        timed_out: ended.timed_out,
        interrupted: ended.interrupted,
        leftover_processes: ended.leftover_processes,
        sigterm_ignored: ended.sigterm_ignored,
        rusage: ended.rusage,
        counters,
        sampled,
        probes: probe_data,
        probes_injected,
        probe_notes,
        stdout_file: Some(relative(&stdout_path)),
        stderr_file: Some(relative(&stderr_path)),
        host_other_cpu_cores,
        stdout_bytes: output_bytes.first().copied().flatten(),
        stderr_bytes: output_bytes.get(1).copied().flatten(),
        outcome: None,
    };
    let caps = outcome::Caps {
        output_cap_bytes: plan.output_cap_bytes,
    };
    run.outcome = Some(outcome::outcome_of(&run, &caps));
    Ok(run)
}

/// Prepares the probes `--probes` asks for. Under `auto`, a probe that cannot reach this target
/// (a static binary) or cannot be found is skipped with a note; asked for by name, it must work.
fn inject_probes(
    plan: &Plan,
    program: &Path,
    run_dir: &Path,
    env: &[(OsString, OsString)],
) -> anyhow::Result<(
    Option<probes::PreparedProbes>,
    Vec<probes::ProbeKind>,
    Vec<String>,
)> {
    let choice = plan.probes;
    let mut kinds = Vec::new();
    let mut notes = Vec::new();
    if (choice.preload || choice.python) && probes::target_is_setuid(program) {
        notes.push(format!(
            "probes skipped: {} is setuid/setgid, and forkcast does not inject code into a \
             program that runs with other rights; its answers come from the outside only",
            program.display()
        ));
        return Ok((None, Vec::new(), notes));
    }
    if choice.preload {
        let reachable = probes::target_is_dynamic(program);
        let lib = probes::locate_preload_lib(Some(&run_dir.join("probes")));
        match (choice.auto, reachable, lib) {
            (_, true, Ok(_)) => kinds.push(probes::ProbeKind::Preload),
            (true, false, _) => notes.push(format!(
                "preload probe skipped: {} is not dynamically linked, so LD_PRELOAD cannot reach it",
                program.display()
            )),
            (true, true, Err(e)) => notes.push(format!("preload probe skipped: {e:#}")),
            (false, false, _) => anyhow::bail!(UsageError::BadProbes(format!(
                "preload: {} is not dynamically linked",
                program.display()
            ))),
            (false, true, Err(e)) => return Err(e.context("--probes preload")),
        }
    }
    // Python probe: harmless for other programs (only a CPython interpreter reads PYTHONPATH),
    // and it reaches CPython descendants of any target.
    if choice.python {
        kinds.push(probes::ProbeKind::Python);
    }
    if kinds.is_empty() {
        return Ok((None, Vec::new(), notes));
    }
    let prepared = probes::prepare(&kinds, run_dir, env).context("cannot prepare the probes")?;
    Ok((Some(prepared), kinds, notes))
}

/// A planned point as it is recorded: secrets masked (as in the saved measurements).
pub fn redacted_point(point: &PlannedPoint) -> PlannedPoint {
    PlannedPoint {
        params: point
            .params
            .iter()
            .map(|(k, v)| (k.clone(), redact::text(v)))
            .collect(),
        argv: redact::argv(&point.argv),
        ..point.clone()
    }
}

/// The sampler read the tree's command lines from /proc: mask their secrets too.
fn redact_run(mut run: Run) -> Run {
    for p in run.sampled.iter_mut().flat_map(|s| &mut s.processes) {
        p.cmdline = redact::argv(&p.cmdline);
    }
    run
}

fn param_label(point: &PlannedPoint) -> String {
    point
        .params
        .iter()
        .map(|(k, v)| {
            let safe: String = v
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("-{k}={safe}")
        })
        .collect()
}

/// `--show-output`: the run's saved output, after the run.
fn echo_output(out_dir: &Path, run: &Run) {
    for file in [&run.stdout_file, &run.stderr_file].into_iter().flatten() {
        if let Ok(text) = std::fs::read_to_string(out_dir.join(file)) {
            eprint!("{text}");
        }
    }
}
