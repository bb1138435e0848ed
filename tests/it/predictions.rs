//! The replay model against the recordings (docs/PREDICTIONS.md): every recording replays to
//! its own measured wall, and the two error tables of `scripts/bench-predictions.py
//! --recordings` (each point predicted from the other; each lab variant predicted from its
//! A/B partner) are computed here, printed, and held to the figures they gave when the model
//! landed, so a change that makes them worse fails. `FORKCAST_BENCH_DIR` points the tables at
//! another folder of recordings (the script's live mode).

use crate::support::repo_root;
use forkcast::analyze::replay::Replays;
use forkcast::analyze::{analyze, parallel_cores, Analysis};
use forkcast::diagnose::what_if::what_if;
use forkcast::measure::Measurements;
use std::path::{Path, PathBuf};

fn recordings() -> Vec<PathBuf> {
    let root = std::env::var_os("FORKCAST_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("fixtures/recordings/variants"));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("report.json").exists())
        .collect();
    dirs.sort();
    dirs
}

fn load(dir: &Path) -> (Measurements, Analysis) {
    let m = forkcast::saved::load(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let a = analyze(&m);
    (m, a)
}

/// (workers, point index) of series `s`, workers ascending.
fn series_points(m: &Measurements, a: &Analysis, s: usize) -> Vec<(u32, usize)> {
    a.series[s]
        .points
        .iter()
        .map(|&i| (m.points[i].workers, i))
        .collect()
}

/// The replay of one point alone.
fn alone(m: &Measurements, a: &Analysis, s: usize, i: usize) -> Option<Replays> {
    Replays::of(
        &[&a.points[i]],
        &[m.points[i].workers],
        a.series[s].layout,
        &m.host,
    )
}

#[test]
fn every_recording_replays_to_its_own_measured_wall_within_ten_percent() {
    let mut dirs = recordings();
    dirs.push(repo_root().join("fixtures/recordings/lab01"));
    let mut replayed = 0;
    let mut misses = Vec::new();
    for dir in &dirs {
        let (m, a) = load(dir);
        let cores = parallel_cores(&m.host);
        for s in 0..a.series.len() {
            for (n, i) in series_points(&m, &a, s) {
                let Some(r) = alone(&m, &a, s, i) else {
                    continue;
                };
                let measured = a.points[i].wall_s.unwrap();
                let wall = r.predict(n, cores, &|x| x.clone()).wall_s;
                let miss = wall / measured - 1.0;
                if miss.abs() > 0.10 {
                    misses.push(format!(
                        "{}: {n} workers: replayed {wall:.3} s, measured {measured:.3} s ({:+.1} %)",
                        dir.display(),
                        miss * 100.0
                    ));
                }
                replayed += 1;
            }
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));
    assert!(replayed >= 50, "only {replayed} points replayed");
}

/// |predicted - measured| / measured.
fn error(predicted: f64, measured: f64) -> f64 {
    (predicted - measured).abs() / measured
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    // None of a kind in a folder of live sweeps: no median.
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One recording's speedup at 2 workers: measured, and predicted from each point alone (value,
/// low, high).
struct Row {
    name: String,
    measured: f64,
    from_one: (f64, f64, f64),
    from_two: (f64, f64, f64),
}

/// Each recording's 1- and 2-worker points, each predicting the speedup from the other alone.
fn one_point_table() -> Vec<Row> {
    let mut rows = Vec::new();
    for dir in recordings().into_iter().filter(|d| !is_engine_lab(d)) {
        let (m, a) = load(&dir);
        let cores = parallel_cores(&m.host);
        let Some(s) = a.primary else { continue };
        let pts = series_points(&m, &a, s);
        let (Some(&(_, one)), Some(&(_, two))) = (
            pts.iter().find(|(n, _)| *n == 1),
            pts.iter().find(|(n, _)| *n == 2),
        ) else {
            continue;
        };
        let measured = a.points[one].wall_s.unwrap() / a.points[two].wall_s.unwrap();
        let from = |i: usize| {
            alone(&m, &a, s, i).map(|r| {
                let p = r.predict(2, cores, &|x| x.clone());
                (p.speedup, p.low, p.high)
            })
        };
        let (Some(from_one), Some(from_two)) = (from(one), from(two)) else {
            continue;
        };
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        rows.push(Row {
            name,
            measured,
            from_one,
            from_two,
        });
    }
    rows
}

/// The engine labs (07-10: joblib, Dask, Ray), left out of the table from one point: they
/// were recorded at one run per point on a 2-vCPU host at load average 10-13
/// (fixtures/recordings/README.md), so their measured speedup at 2 workers is the host's
/// load (08_pickle measured 0.20x), not a figure a replay can be judged against.
fn is_engine_lab(dir: &Path) -> bool {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    ["07_", "08_", "09_", "10_"]
        .iter()
        .any(|p| name.starts_with(p))
}

#[test]
fn each_point_predicted_from_the_other_alone() {
    let rows = one_point_table();
    println!("speedup at 2 workers: measured, predicted from 1 worker alone, from 2 alone (value, interval; * = the measured speedup outside it)");
    println!(
        "{:24} {:>8} {:>8} {:>6} {:>12} {:>8} {:>6} {:>12}",
        "recording", "measured", "from 1", "err", "interval", "from 2", "err", "interval"
    );
    let mut errors = Vec::new();
    let mut misses = Vec::new();
    for row in &rows {
        let m = row.measured;
        let cell = |(v, lo, hi): (f64, f64, f64)| {
            let out = if m < lo * (1.0 - 1e-9) || m > hi * (1.0 + 1e-9) {
                "*"
            } else {
                " "
            };
            (error(v, m), format!("{lo:.2}-{hi:.2}{out}"))
        };
        let ((e1, i1), (e2, i2)) = (cell(row.from_one), cell(row.from_two));
        println!(
            "{:24} {m:8.2} {:8.2} {:5.0}% {i1:>12} {:8.2} {:5.0}% {i2:>12}",
            row.name,
            row.from_one.0,
            e1 * 100.0,
            row.from_two.0,
            e2 * 100.0
        );
        for (e, dir) in [(e1, "1->2"), (e2, "2->1")] {
            if e > ONE_POINT_LARGEST {
                misses.push(format!("{} {dir} {:.0} %", row.name, e * 100.0));
            }
        }
        errors.extend([e1, e2]);
    }
    let (med, max) = (median(&errors), errors.iter().copied().fold(0.0, f64::max));
    println!(
        "median error {:.1} %, largest {:.1} %",
        med * 100.0,
        max * 100.0
    );
    println!("above 25 %: {}", misses.join(", "));
    // A folder of live sweeps (`--from DIR`) may hold a few variants (`check-expected --only`).
    if std::env::var_os("FORKCAST_BENCH_DIR").is_none() {
        assert!(rows.len() >= 20, "{} recordings predicted", rows.len());
        // The target for predictions from one point: a median error of 10 %.
        assert!(med <= ONE_POINT_MEDIAN, "median {med}");
    }
}

/// The largest median errors the recorded tables may show: from one point, the target
/// (10 %); for the what-ifs, the figure when the model landed (7.3 %), rounded up, well inside
/// the 15 %, and raised to 10 % when lab 01's and lab 06's pairs were re-recorded side
/// by side with the probes' new figures (2026-12-06): 06_direct -> single writer went from 3 %
/// to 9 % against a partner measured 1.57x instead of 1.47x, and became the median.
const ONE_POINT_MEDIAN: f64 = 0.10;
/// The target for the largest error from one point.
const ONE_POINT_LARGEST: f64 = 0.25;
const WHAT_IF_MEDIAN: f64 = 0.10;

/// The labs' A/B pairs: (run, partner, field, value).
const PAIRS: [(&str, &str, &str, &str); 11] = [
    ("01_processes_pure", "01_threads_pure", "model", "threads"),
    ("01_threads_pure", "01_processes_pure", "model", "processes"),
    (
        "01_processes_hashlib",
        "01_threads_hashlib",
        "model",
        "threads",
    ),
    (
        "01_threads_hashlib",
        "01_processes_hashlib",
        "model",
        "processes",
    ),
    (
        "02_payload",
        "02_path",
        "data_passing",
        "references_or_shared_memory",
    ),
    ("03_spawn", "03_forkserver", "start_method", "forkserver"),
    ("03_spawn", "03_fork", "start_method", "fork"),
    (
        "04_pickle",
        "04_shm",
        "data_passing",
        "references_or_shared_memory",
    ),
    (
        "05_skewed_chunk50",
        "05_skewed_chunk1",
        "scheduling",
        "dynamic_small_tasks",
    ),
    (
        "05_uniform_chunk50",
        "05_uniform_chunk1",
        "scheduling",
        "dynamic_small_tasks",
    ),
    ("06_direct", "06_single_writer", "sink", "single_writer"),
];

#[test]
fn each_lab_variant_predicted_from_its_partner() {
    let root = recordings()
        .first()
        .and_then(|d| d.parent().map(Path::to_path_buf))
        .unwrap();
    println!("what-if at 2 workers, from the run's own sweep: speedup (predicted, partner's measured) and wall vs the run's at 2");
    println!(
        "{:20} {:20} {:28} {:>6} {:>6} {:>5} {:>6} {:>6} {:>5}",
        "run", "partner", "fix", "sp", "meas", "err", "wall", "meas", "err"
    );
    let mut errors = Vec::new();
    for (run, partner, field, value) in PAIRS {
        let (dir, other) = (root.join(run), root.join(partner));
        if !dir.exists() || !other.exists() {
            continue;
        }
        let (m, a) = load(&dir);
        let (pm, pa) = load(&other);
        let Some(r) = forkcast::diagnose::what_if::replays(&m, &a) else {
            continue;
        };
        let Some(w) = what_if(&r, field, value, 2) else {
            continue;
        };
        let wall_at = |m: &Measurements, a: &Analysis, n: u32| {
            let s = a.primary?;
            series_points(m, a, s)
                .into_iter()
                .find(|(k, _)| *k == n)
                .and_then(|(_, i)| a.points[i].wall_s)
        };
        let (Some(p1), Some(p2), Some(own2)) = (
            wall_at(&pm, &pa, 1),
            wall_at(&pm, &pa, 2),
            wall_at(&m, &a, 2),
        ) else {
            continue;
        };
        let measured = p1 / p2;
        // Lab 05's one-at-a-time variant keeps its tasks whole: the what-if's low side.
        let predicted = if field == "scheduling" {
            w.low
        } else {
            w.speedup
        };
        let wall_ratio = w.wall_vs_now * r.primary().workload.measured_wall_s / own2;
        let (es, ew) = (error(predicted, measured), error(wall_ratio, p2 / own2));
        println!(
            "{run:20} {partner:20} {:28} {predicted:6.2} {measured:6.2} {:4.0}% {wall_ratio:6.2} {:6.2} {:4.0}%",
            format!("{field}={value}"),
            es * 100.0,
            p2 / own2,
            ew * 100.0
        );
        errors.push(es);
    }
    let (med, max) = (median(&errors), errors.iter().copied().fold(0.0, f64::max));
    if errors.is_empty() {
        println!("no A/B pair with both partners here");
    } else {
        println!(
            "median speedup error {:.1} %, largest {:.1} %",
            med * 100.0,
            max * 100.0
        );
    }
    if std::env::var_os("FORKCAST_BENCH_DIR").is_none() {
        assert!(errors.len() >= 8, "{} pairs predicted", errors.len());
        assert!(med <= WHAT_IF_MEDIAN, "median {med}");
    }
}

/// The report's what-ifs of a recording, by field.
fn what_ifs_of(name: &str) -> Vec<forkcast::diagnose::what_if::WhatIf> {
    let (m, a) = load(&repo_root().join("fixtures/recordings/variants").join(name));
    let d = forkcast::diagnose::diagnose(&m, &a);
    d.what_if
}

#[test]
fn the_fixes_the_recordings_recommend_are_priced_and_bounded() {
    // Lab 06 writes to PostgreSQL from each worker: 2 workers ran at 0.79x of 1. One writer
    // takes the sink off the workers; the partner variant measured 1.47x.
    let w = what_ifs_of("06_direct");
    let sink = w
        .iter()
        .find(|x| x.field == "sink")
        .expect("a sink what-if");
    assert_eq!(sink.value, "single_writer");
    assert!(sink.speedup > 1.3 && sink.wall_vs_now < 0.7, "{sink:?}");
    assert!(
        sink.low <= sink.speedup && sink.speedup <= sink.high,
        "{sink:?}"
    );
    // Lab 01's pure-Python threads hold the GIL: processes lift the bound.
    let w = what_ifs_of("01_threads_pure");
    let model = w
        .iter()
        .find(|x| x.field == "model")
        .expect("a model what-if");
    assert_eq!(model.value, "processes");
    assert!(model.speedup > 1.5 && model.bound == "cpu", "{model:?}");
    // A fix the workload already has is not listed: lab 06's single-writer variant.
    assert!(what_ifs_of("06_single_writer")
        .iter()
        .all(|x| x.field != "sink"));
}

#[test]
fn a_gil_bound_curve_says_more_cores_will_not_help() {
    let (m, a) = load(&repo_root().join("fixtures/recordings/variants/01_threads_pure"));
    let s = &a.series[a.primary.unwrap()];
    let past: Vec<_> = s
        .scaling
        .predicted
        .iter()
        .filter(|p| p.beyond_host)
        .collect();
    assert!(
        !past.is_empty() && past.iter().all(|p| p.bound == "gil"),
        "{past:?}"
    );
    let d = forkcast::diagnose::diagnose(&m, &a);
    assert!(
        d.findings
            .iter()
            .any(|f| f.contains("more cores will not help") && f.contains("processes")),
        "{:?}",
        d.findings
    );
}

/// The largest error predicting 1 worker from 2 on the recordings whose sink's waits outrun a
/// queue: sqlite_pool_compute's 43 % when the conflicts model landed, rounded up (a queue
/// calibrated at 2 workers gave 51-112 % on these four).
const CONFLICTS_FROM_TWO_LARGEST: f64 = 0.45;

#[test]
fn a_sinks_conflicts_at_two_workers_are_gone_at_one() {
    // Each ran no faster at 2 workers than at 1: a row lock held while computing (lab 06
    // direct), SQLite's write lock held while computing (sqlite_pool_compute, sqlite_xargs),
    // a busy handler's back-off (sqlite_pool_commit). Their 2-worker replays hold the sink's
    // lock through a share of each task, which one worker never waits for.
    let rows = one_point_table();
    for name in [
        "06_direct",
        "sqlite_pool_commit",
        "sqlite_pool_compute",
        "sqlite_xargs",
    ] {
        let (m, a) = load(&repo_root().join("fixtures/recordings/variants").join(name));
        let s = a.primary.unwrap();
        let &(_, at_two) = series_points(&m, &a, s).last().unwrap();
        let r = alone(&m, &a, s, at_two).unwrap();
        let w = &r.primary().workload;
        assert!(
            w.resources
                .iter()
                .any(|x| x.bound.starts_with("sink:") && x.held_share > 0.5),
            "{name}: {:?}",
            w.resources
        );
        let row = rows.iter().find(|r| r.name == name).unwrap();
        let e = error(row.from_two.0, row.measured);
        assert!(e <= CONFLICTS_FROM_TWO_LARGEST, "{name}: from 2 off by {e}");
        // One worker cannot show the lock: the interval reaches down to no speedup at all.
        assert!(row.from_one.1 <= 1.01, "{name}: from 1 {:?}", row.from_one);
    }
}

/// One recording of fixtures/recordings/variants: its measurements, analysis and primary series'
/// (workers, point) pairs.
fn variant(name: &str) -> (Measurements, Analysis, usize, Vec<(u32, usize)>) {
    let (m, a) = load(&repo_root().join("fixtures/recordings/variants").join(name));
    let s = a.primary.expect("a primary series");
    let pts = series_points(&m, &a, s);
    (m, a, s, pts)
}

/// The 1-worker point's replay of a variant, its prediction at 2 workers (value, low, high),
/// and the measured speedup at 2; `edit` changes the 1-worker point first.
fn one_to_two(name: &str, edit: &dyn Fn(&mut Analysis, usize)) -> ((f64, f64, f64), f64) {
    let (m, mut a, s, pts) = variant(name);
    let one = pts.iter().find(|(n, _)| *n == 1).unwrap().1;
    let two = pts.iter().find(|(n, _)| *n == 2).unwrap().1;
    edit(&mut a, one);
    let p = alone(&m, &a, s, one)
        .unwrap()
        .predict(2, parallel_cores(&m.host), &|x| x.clone());
    let measured = a.points[one].wall_s.unwrap() / a.points[two].wall_s.unwrap();
    ((p.speedup, p.low, p.high), measured)
}

/// A shell's `&` ... `wait` (batch_wait.sh: batches of one long and one short task) runs in
/// waves: 2 workers take 4 units per batch where one took 5, 1.25x. One worker cannot show
/// waves, the tool that started the tasks can; without them the replay gave 1.89x. 10 % is
/// the runs' noise, far from that.
#[test]
fn a_shells_batches_replay_in_waves_from_one_worker() {
    let ((value, low, _), measured) = one_to_two("batch_wait", &|_, _| {});
    assert!(error(value, measured) < 0.10, "{value} against {measured}");
    assert!(low <= measured * 1.05, "low {low}");
}

/// A pool's driver that only hands out tasks and takes back results spends its CPU per task:
/// lab 05 at chunksize 1 used 0.29 cores beside one worker and 0.47 beside two. Held at the
/// one worker's 0.29 cores, the replay gave 1.59x at 2 for 1.24x measured (28 %); replayed per
/// task, beside the workers, 1.47x.
#[test]
fn a_pools_driver_spends_its_cpu_per_task_handed_out() {
    let ((value, _, _), measured) = one_to_two("05_uniform_chunk1", &|_, _| {});
    assert!(error(value, measured) < 0.22, "{value} against {measured}");
}

/// The low side of a sink seen at one worker holds one lock through each whole task: the
/// tasks run one at a time (sqlite_xargs: 0.95x measured at 2). Holding each of its sinks
/// (the database, its folder's files) through the task ran the work twice, pipelined, and
/// gave a low of 1.76x.
#[test]
fn a_sinks_low_side_holds_one_lock_through_each_task() {
    let ((_, low, _), measured) = one_to_two("sqlite_xargs", &|_, _| {});
    assert!(low < 1.1, "low {low} (measured {measured})");
}

/// A thread pool's GIL held share, which the knocker measures in a thread pool's process at
/// one thread, is the GIL's service at that share: pure Python (held nearly always) stays near
/// 1x at 2 threads, as 01_threads_pure and threadpool_one measured; hashlib (which lets it go)
/// scales. Without the share the value is a guess (half the CPU): 1.3x or more.
#[test]
fn a_measured_gil_share_at_one_thread_sets_the_value() {
    let unmeasured = |a: &mut Analysis, i: usize| {
        if let Some(p) = a.points[i].pools.as_mut() {
            p.gil_held_share = None;
        }
    };
    for name in ["01_threads_pure", "threadpool_one", "01_threads_hashlib"] {
        let ((value, low, high), measured) = one_to_two(name, &|_, _| {});
        assert!(
            error(value, measured) < 0.10,
            "{name}: {value} against {measured}"
        );
        assert!(
            low <= value && value <= high,
            "{name}: {low} {value} {high}"
        );
        if name != "01_threads_hashlib" {
            let ((guess, _, _), _) = one_to_two(name, &unmeasured);
            assert!(
                error(guess, measured) > 0.25,
                "{name}: {guess} against {measured}"
            );
        }
    }
}

/// A hot row (lab 06 `--sink direct`: every transaction bumps one progress row first, then
/// scores the document holding its lock): one worker waits on nothing, and the python probe's
/// psycopg hook times how long each transaction held the row. That hold, the database's lock
/// for every worker, puts 2 workers near the 1.1x measured; without it the replay serves only
/// the writes and predicts 1.6x or more.
#[test]
fn a_hot_rows_hold_timed_at_one_worker_sets_the_databases_lock() {
    let ((value, low, high), measured) = one_to_two("06_direct", &|_, _| {});
    assert!(error(value, measured) < 0.25, "{value} against {measured}");
    assert!(low <= value && value <= high, "{low} {value} {high}");
    let unheld = |a: &mut Analysis, i: usize| a.points[i].worker_row_hold_s = None;
    let ((guess, _, _), _) = one_to_two("06_direct", &unheld);
    assert!(error(guess, measured) > 0.25, "{guess} against {measured}");
}

/// SQLite's writers do not queue for its write lock: one that finds it taken sleeps the busy
/// handler's back-off (1 ms, 2, 5, ...), past the other's commit. From one writer of
/// sqlite_pool --hold compute (0.76x measured at 2) the replay with those sleeps gives 1.42x
/// where a queue gave 1.66x, and its low side (the lock held through each task, the sleeps
/// on top) now reaches the measured speedup. The value is still far: one writer cannot show
/// that the lock is held while computing.
#[test]
fn a_sqlite_writer_sleeps_its_busy_handler_rather_than_queue() {
    let ((value, low, _), measured) = one_to_two("sqlite_pool_compute", &|_, _| {});
    assert!(value < 1.5, "{value}");
    assert!(low <= measured * 1.02, "low {low} against {measured}");
}

/// Where the preload probe timed SQLite's write lock, one writer shows what it could not: the
/// lock held through each task (sqlite_pool --hold compute holds it while computing). Its
/// recording predates the probe's lock counters, so the test sets the hold (each task's
/// measured duration, the transaction around all of it) and holds the model to using it: the
/// value drops from 1.42x (a lock held only while writing) to 0.89x against 0.76x measured.
#[test]
fn a_write_lock_timed_at_one_worker_sets_the_held_share() {
    let ((unknown, _, _), measured) = one_to_two("sqlite_pool_compute", &|_, _| {});
    let timed = |a: &mut Analysis, i: usize| {
        let p = a.points[i].probes.as_mut().unwrap();
        let t = p.task_durations.clone().unwrap();
        p.sink_lock_held_s = Some(t.count as f64 * t.mean_s);
        p.sink_lock_holds = Some(t.count as f64);
    };
    let ((value, low, high), _) = one_to_two("sqlite_pool_compute", &timed);
    assert!(
        error(unknown, measured) > 0.5,
        "{unknown} against {measured}"
    );
    assert!(value < 1.05, "{value} against {measured}");
    assert!(error(value, measured) < 0.25, "{value} against {measured}");
    assert!(low <= value && value <= high, "{low} {value} {high}");
}

#[test]
fn a_fresh_pools_worker_start_up_is_paid_per_worker_per_pool_not_read_as_task_work() {
    // Lab 03 with spawn: a fresh pool per batch, every worker re-importing numpy. Read as the
    // tasks' work, the imports gave `startup` nothing, the work seemed to grow 1.55x at 2
    // workers (computation scaling 0.64), and predicting 1 worker from 2 carried both
    // workers' imports into one worker's work (1.25x predicted against 0.97x measured).
    let dir = repo_root().join("fixtures/recordings/variants/03_spawn");
    let (m, a) = load(&dir);
    let s = a.primary.expect("a primary series");
    let pts = series_points(&m, &a, s);
    let at = |n: u32| pts.iter().find(|(k, _)| *k == n).map(|&(_, i)| i).unwrap();
    let (one, two) = (at(1), at(2));
    for i in [one, two] {
        let acc = a.points[i].accounting.as_ref().unwrap();
        assert!(acc.lost("startup") > 0.2, "{acc:?}");
    }
    let cs = a.points[two]
        .accounting
        .as_ref()
        .unwrap()
        .computation_scaling;
    assert!(cs.is_some_and(|c| c.value > 0.85), "{cs:?}");
    let cores = parallel_cores(&m.host);
    let measured = a.points[one].wall_s.unwrap() / a.points[two].wall_s.unwrap();
    for i in [one, two] {
        let r = alone(&m, &a, s, i).unwrap();
        // The workers' lives are the tasks, one per slot, not the pool's map chunks.
        assert!(
            !matches!(
                r.primary().workload.dispatch,
                forkcast::analyze::replay::model::Dispatch::Chunks(_)
            ),
            "{:?}",
            r.primary().workload.dispatch
        );
        let p = r.predict(2, cores, &|x| x.clone());
        assert!(
            error(p.speedup, measured) < 0.1,
            "from {} workers: {:.2} predicted, {measured:.2} measured",
            m.points[i].workers,
            p.speedup
        );
    }
}
