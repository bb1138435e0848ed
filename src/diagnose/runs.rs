//! The sweep cut into runs: run i of every point, alone, so each step's deciding figure can be
//! read once per run and weighed (deciding.rs).

use crate::analyze::record::run_ok;
use crate::analyze::{analyze_for_steps, Analysis};
use crate::measure::{Measurements, PointMeasurements, Run};

/// One measurements-and-analysis per run index, each holding only the i-th successful
/// measured run of every point; empty when some point with a successful run has fewer than
/// two (then no interval over the runs can be read, and the pooled figure decides alone).
/// Warm-up and failed runs are skipped. Each run is analysed without the replayed curve:
/// only its steps' deciding figures are read.
pub fn each_run(m: &Measurements) -> Vec<(Measurements, Analysis)> {
    let per_point: Vec<Vec<&Run>> = m
        .points
        .iter()
        .map(|p| p.runs.iter().filter(|r| !r.warmup && run_ok(r)).collect())
        .collect();
    let rounds = per_point
        .iter()
        .map(Vec::len)
        .filter(|&k| k > 0)
        .min()
        .unwrap_or(0);
    if rounds < 2 {
        return Vec::new();
    }
    (0..rounds)
        .map(|i| {
            let one = Measurements {
                host: m.host.clone(),
                command: m.command.clone(),
                params: m.params.clone(),
                goal: m.goal,
                output_dir: m.output_dir.clone(),
                rounds: None,
                points: m
                    .points
                    .iter()
                    .zip(&per_point)
                    .map(|(p, runs)| PointMeasurements {
                        workers: p.workers,
                        params: p.params.clone(),
                        argv: p.argv.clone(),
                        runs: runs.get(i).map(|r| (*r).clone()).into_iter().collect(),
                    })
                    .collect(),
            };
            let a = analyze_for_steps(&one);
            (one, a)
        })
        .collect()
}
