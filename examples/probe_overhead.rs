//! Paired overhead benchmark of the injected probes: runs one command alternately without and
//! with the probes (order flipped every pair, so drift and caching hit both sides alike) and
//! prints the median of the per-pair wall-time ratios, and the same for CPU time (user + sys of
//! the whole reaped tree, which a busy host disturbs less than wall time). Driven by
//! benches/probe_overhead.sh.
//!
//! usage: probe_overhead [--pairs N] [--probes preload,python] -- COMMAND...

use anyhow::{bail, Context, Result};
use forkcast::run::probes::{self, ProbeKind};
use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::time::Instant;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut pairs, mut kinds) = (11usize, vec![ProbeKind::Preload, ProbeKind::Python]);
    let mut command = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--pairs" => pairs = args.next().context("--pairs N")?.parse()?,
            "--probes" => kinds = parse_kinds(&args.next().context("--probes LIST")?)?,
            "--" => command.extend(args.by_ref()),
            _ => bail!("unknown argument {a}"),
        }
    }
    if command.is_empty() {
        bail!("usage: probe_overhead [--pairs N] [--probes preload,python] -- COMMAND...");
    }
    let scratch = std::env::temp_dir().join(format!("forkcast-overhead-{}", std::process::id()));
    let (mut plain, mut probed, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut cpu_ratios = Vec::new();
    for i in 0..pairs {
        let mut pair = [(0.0, 0.0); 2];
        for side in if i % 2 == 0 { [0, 1] } else { [1, 0] } {
            pair[side] = if side == 0 {
                time(&command, &[])?
            } else {
                let prepared = probes::prepare(&kinds, &scratch.join(i.to_string()), &[])?;
                let t = time(&command, prepared.env())?;
                prepared.collect()?;
                t
            };
        }
        let ([(wall0, cpu0), (wall1, cpu1)], ratio) = (pair, pair[1].0 / pair[0].0);
        plain.push(wall0);
        probed.push(wall1);
        ratios.push(ratio);
        cpu_ratios.push(cpu1 / cpu0);
        eprintln!(
            "pair {i:2}: wall {wall0:.3} s -> {wall1:.3} s ({ratio:.4}), cpu {cpu0:.3} s -> {cpu1:.3} s ({:.4})",
            cpu1 / cpu0
        );
    }
    std::fs::remove_dir_all(&scratch).ok();
    let wall = median(&mut ratios);
    println!(
        "wall {:.3} s -> {:.3} s, median ratio {wall:.4} ({:+.2} %) [min {:.4}, max {:.4}]; cpu median ratio {:.4} ({:+.2} %)",
        median(&mut plain),
        median(&mut probed),
        (wall - 1.0) * 100.0,
        ratios.iter().cloned().fold(f64::INFINITY, f64::min),
        ratios.iter().cloned().fold(0.0, f64::max),
        median(&mut cpu_ratios),
        (median(&mut cpu_ratios) - 1.0) * 100.0,
    );
    Ok(())
}

fn parse_kinds(list: &str) -> Result<Vec<ProbeKind>> {
    list.split(',')
        .map(|k| match k {
            "preload" => Ok(ProbeKind::Preload),
            "python" => Ok(ProbeKind::Python),
            _ => bail!("unknown probe {k}"),
        })
        .collect()
}

/// Wall seconds and CPU seconds (user + sys of the reaped tree) of one run of `command` with `env`
/// added; output discarded.
fn time(command: &[String], env: &[(OsString, OsString)]) -> Result<(f64, f64)> {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..])
        .envs(env.iter().map(|(k, v)| (k, v)));
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let cpu_before = children_cpu_s();
    let start = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("running {command:?}"))?;
    let t = start.elapsed().as_secs_f64();
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok((t, children_cpu_s() - cpu_before))
}

/// User + sys seconds of every reaped descendant so far.
fn children_cpu_s() -> f64 {
    // SAFETY: getrusage writes one rusage we own.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru
    };
    let s = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    s(ru.ru_utime) + s(ru.ru_stime)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
