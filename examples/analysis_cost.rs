//! forkcast's own CPU over a sweep, without the workload: replays a saved sweep's rewrites as
//! `forkcast run` makes them (after each run, in the order the runs were made: the analysis,
//! the three report formats, the pictures and the raw file; after the first rounds, the
//! `--runs auto` question; at the end, the final rewrite) and prints each stage's seconds,
//! best of REPEATS, wall and CPU. Files go to a temporary folder, so the disk's fsyncs are timed too.
//!
//!     cargo run --release --example analysis_cost -- SAVED [REPEATS]
//!
//! On a 2-core host every CPU-second here is one the workload does not get: this is what
//! `--runs auto`'s per-round diagnosis and the replay add to a sweep's wall.

use forkcast::measure::{Measurements, PointMeasurements};
use forkcast::pipeline::{analyse, save, undecided::undecided_lines};
use forkcast::report::render::{export, Analysed};
use forkcast::report::{visuals, Format, Report, Status};
use std::time::Instant;

/// The sweep's measurements after its first `k` runs, in the order they were made: warmups,
/// then one run of every point per round (run/sweep.rs `Plan::schedule`).
fn after_runs(m: &Measurements, k: usize) -> Measurements {
    let mut order: Vec<(usize, usize)> = Vec::new();
    let deepest = m.points.iter().map(|p| p.runs.len()).max().unwrap_or(0);
    for rep in 0..deepest {
        for (p, point) in m.points.iter().enumerate() {
            if rep < point.runs.len() {
                order.push((p, rep));
            }
        }
    }
    let mut out = Measurements {
        points: Vec::new(),
        rounds: None,
        ..m.clone()
    };
    for &(p, rep) in order.iter().take(k) {
        let point = &m.points[p];
        let slot = match out
            .points
            .iter()
            .position(|q| q.params == point.params && q.workers == point.workers)
        {
            Some(i) => i,
            None => {
                out.points.push(PointMeasurements {
                    runs: Vec::new(),
                    ..point.clone()
                });
                out.points.len() - 1
            }
        };
        out.points[slot].runs.push(point.runs[rep].clone());
    }
    out
}

/// This process's CPU seconds so far (user and system): on a busy host (other builds, a
/// loaded CI runner) the wall of a few ms is mostly waiting for a core, the CPU is not.
fn cpu_s() -> f64 {
    // SAFETY: getrusage only writes the struct it is given, which lives on this stack.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    s(u.ru_utime) + s(u.ru_stime)
}

/// The least wall and the least CPU seconds of `repeats` calls of `f`.
fn best_of(repeats: usize, mut f: impl FnMut()) -> (f64, f64) {
    (0..repeats)
        .map(|_| {
            let (t, c) = (Instant::now(), cpu_s());
            f();
            (t.elapsed().as_secs_f64(), cpu_s() - c)
        })
        .fold((f64::INFINITY, f64::INFINITY), |a, b| {
            (a.0.min(b.0), a.1.min(b.1))
        })
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let saved = args.get(1).expect("usage: analysis_cost SAVED [REPEATS]");
    let repeats: usize = args.get(2).map_or(Ok(5), |r| r.parse())?;
    let m = forkcast::saved::load(saved.as_ref())?;
    let runs: usize = m.points.iter().map(|p| p.runs.len()).sum();
    let dir = std::env::temp_dir().join(format!("forkcast-analysis-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let vis = visuals::Options::default();
    let full = after_runs(&m, runs);
    let t_analyse = best_of(repeats, || drop(analyse(&full)));
    let t_save = best_of(repeats, || {
        save(&dir, &full, Status::InProgress, vis).expect("save");
    });
    let t_raw = best_of(repeats, || {
        forkcast::saved::write_raw(&dir.join("raw.json.gz"), &full, Status::InProgress)
            .expect("raw");
    });
    let ad = analyse(&full);
    let t_formats = best_of(repeats, || {
        for f in [Format::Json, Format::TextVerbose, Format::Text] {
            drop(export(
                &full,
                &ad,
                Status::InProgress,
                Some("raw.json.gz"),
                f,
            ));
        }
    });
    let t_pictures = best_of(repeats, || {
        if let Analysed::Ok(x) = &ad {
            let report = Report::new(&full, &x.0, &x.1, Status::InProgress);
            drop(visuals::pictures(&report, vis));
        }
    });
    let t_undecided = best_of(repeats, || drop(undecided_lines(&full)));
    let t_sweep = best_of(repeats, || {
        for k in 1..=runs {
            save(&dir, &after_runs(&m, k), Status::InProgress, vis).expect("save");
        }
        drop(undecided_lines(&full));
        save(&dir, &full, Status::Complete, vis).expect("save");
    });
    std::fs::remove_dir_all(&dir)?;
    println!("{saved}: {runs} runs, best of {repeats}");
    for (what, s) in [
        ("analyse (analysis + diagnosis), all runs", t_analyse),
        ("one rewrite (save), all runs", t_save),
        ("  of which the raw file (gzip, fsync)", t_raw),
        ("  of which the three formats", t_formats),
        ("  of which the pictures (not written)", t_pictures),
        ("--runs auto question, all runs", t_undecided),
        ("the sweep's rewrites and questions", t_sweep),
    ] {
        println!(
            "  {what:<44} {:7.1} ms wall {:7.1} ms CPU",
            s.0 * 1e3,
            s.1 * 1e3
        );
    }
    Ok(())
}
