//! Running the plan: every point, warmups then measured runs, each run gated, counted, sampled
//! and reaped. The only stage that touches processes, /proc and perf_event.

pub mod counters;
pub mod host;
pub mod probes;
pub mod reap;
pub mod sampler;
pub mod spawn;
pub mod switches;

use crate::error::UsageError;
use crate::measure::{Host, Measurements, PointMeasurements, Run, Source};
use crate::plan::{Plan, PlannedPoint};
use anyhow::Context;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How the sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Complete,
    /// Ctrl-C or SIGTERM: the points so far are kept.
    Interrupted,
}

/// Progress lines for the user; `None` keeps quiet.
pub type Progress<'a> = Option<&'a dyn Fn(&str)>;

/// Runs every point of the plan. `after_point` sees the measurements after each point, so the
/// caller can rewrite the report and an interrupted sweep keeps what it measured.
pub fn run_sweep(
    plan: &Plan,
    host: Host,
    progress: Progress,
    show_output: bool,
    mut after_point: impl FnMut(&Measurements) -> anyhow::Result<()>,
) -> anyhow::Result<(Measurements, Ended)> {
    let program = plan.points[0].argv[0].clone();
    let program_path = spawn::resolve_program(&program)
        .ok_or_else(|| UsageError::CommandNotFound(program.clone()))?;
    reap::install_process_handling().context("cannot install signal handling")?;
    let runs_dir = plan.output_dir.join("runs");
    std::fs::create_dir_all(&runs_dir)
        .with_context(|| format!("cannot create {}", runs_dir.display()))?;

    let mut m = Measurements {
        host,
        command: plan.template.clone(),
        params: plan.params.iter().cloned().collect(),
        goal: format!("{:?}", plan.goal).to_lowercase(),
        output_dir: std::fs::canonicalize(&plan.output_dir)
            .ok()
            .map(|p| p.display().to_string()),
        points: Vec::new(),
    };
    let total_points = plan.points.len();
    for (pi, point) in plan.points.iter().enumerate() {
        m.points.push(PointMeasurements {
            workers: point.workers,
            params: point.params.clone(),
            argv: point.argv.clone(),
            runs: Vec::new(),
        });
        let repetitions = (0..plan.warmup)
            .map(|_| true)
            .chain((0..plan.runs).map(|_| false));
        for (ri, warmup) in repetitions.enumerate() {
            let label = format!(
                "{:02}-w{}{}-r{}{}",
                pi + 1,
                point.workers,
                param_label(point),
                ri,
                if warmup { "-warmup" } else { "" }
            );
            let run = run_once(plan, point, &program_path, &runs_dir, &label, warmup)?;
            if let Some(say) = progress {
                say(&format!(
                    "[{}/{}] workers={}{} {} {:.3} s{}",
                    pi + 1,
                    total_points,
                    point.workers,
                    param_label(point).replace('-', " "),
                    if warmup { "warmup" } else { "run" },
                    run.wall_s,
                    describe_failure(&run)
                ));
            }
            if show_output {
                echo_output(&plan.output_dir, &run);
            }
            let interrupted = run.interrupted;
            m.points[pi].runs.push(run);
            if interrupted || reap::interrupted().is_some() {
                after_point(&m)?;
                return Ok((m, Ended::Interrupted));
            }
        }
        after_point(&m)?;
    }
    Ok((m, Ended::Complete))
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
    let ended = reap::wait_and_reap(child.pid, child.pid, t0, plan.timeout)
        .context("waiting for the target")?;
    let counters = (!counters.is_empty()).then(|| counters.read());
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
    Ok(Run {
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
        rusage: ended.rusage,
        counters,
        sampled,
        probes: probe_data,
        probes_injected,
        probe_notes,
        stdout_file: Some(relative(&stdout_path)),
        stderr_file: Some(relative(&stderr_path)),
        host_other_cpu_cores,
    })
}

/// Prepares the probes `--probes` asks for. Under `auto`, a probe that cannot reach this target
/// (a static binary) or cannot be found is skipped with a note; asked for by name, it must work.
fn inject_probes(
    plan: &Plan,
    program: &Path,
    run_dir: &Path,
    env: &[(OsString, OsString)],
) -> anyhow::Result<(Option<probes::PreparedProbes>, Vec<String>, Vec<String>)> {
    let choice = plan.probes;
    let mut kinds = Vec::new();
    let mut notes = Vec::new();
    if choice.preload {
        let reachable = probes::target_is_dynamic(program);
        let lib = probes::locate_preload_lib();
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
    let names = kinds
        .iter()
        .map(|k| match k {
            probes::ProbeKind::Preload => "preload".to_string(),
            probes::ProbeKind::Python => "python".to_string(),
        })
        .collect();
    Ok((Some(prepared), names, notes))
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

fn describe_failure(run: &Run) -> String {
    if run.timed_out {
        " (timed out, tree killed)".into()
    } else if run.interrupted {
        " (interrupted, tree killed)".into()
    } else if let Some(sig) = run.signal {
        format!(" (killed by signal {sig})")
    } else if run.exit_code != Some(0) {
        format!(" (exit code {})", run.exit_code.unwrap_or(-1))
    } else {
        String::new()
    }
}

/// `--show-output`: the run's saved output, after the run.
fn echo_output(out_dir: &Path, run: &Run) {
    for file in [&run.stdout_file, &run.stderr_file].into_iter().flatten() {
        if let Ok(text) = std::fs::read_to_string(out_dir.join(file)) {
            eprint!("{text}");
        }
    }
}
