use super::model::{Dispatch, Resource, Workload};
use super::*;

fn even(tasks: usize, each: f64, resources: Vec<Resource>) -> Replay {
    Replay {
        workload: Workload {
            resources,
            ..Workload::of_tasks(vec![each; tasks])
        },
        inflation: 0.0,
        host_cores: 4,
        host_memory_bytes: None,
        writer: None,
    }
}

#[test]
fn even_cpu_work_scales_with_the_cores_and_no_further() {
    let r = even(64, 0.01, vec![]);
    let one = r.run(1, 4, &[]).wall_s;
    assert!((one - 0.64).abs() < 1e-9, "{one}");
    let four = r.run(4, 4, &[]);
    assert!((one / four.wall_s - 4.0).abs() < 1e-6, "{four:?}");
    assert_eq!(four.bound, "cpu");
    // Eight workers on four cores time-share: no faster than four.
    let eight = r.run(8, 4, &[]).wall_s;
    assert!((eight - four.wall_s).abs() < 1e-6, "{eight}");
}

#[test]
fn a_sink_caps_the_throughput_at_one_over_its_demand() {
    // Each task: 10 ms of CPU, then 5 ms on the sink: the sink serves 2 workers' worth.
    let r = even(
        100,
        0.01,
        vec![Resource {
            bound: "sink:postgresql".into(),
            demand_s: 0.5,
            held_share: 0.0,
        }],
    );
    let one = r.run(1, 8, &[]).wall_s;
    assert!((one - 1.5).abs() < 1e-6, "{one}");
    let eight = r.run(8, 8, &[]);
    // The operational law: no shorter than the sink's total demand.
    assert!(
        eight.wall_s >= 0.5 - 1e-9 && eight.wall_s < 0.6,
        "{eight:?}"
    );
    assert_eq!(eight.bound, "sink:postgresql");
    // Batching to nothing takes the bound away.
    let free = r.run(8, 8, &[0.0]);
    assert_eq!(free.bound, "cpu");
    assert!(free.wall_s < 0.2, "{free:?}");
}

#[test]
fn a_lock_held_while_working_serialises_that_work_and_nothing_else() {
    // 100 tasks of 10 ms of CPU, each done holding a sink's lock for half of it.
    let r = even(
        100,
        0.01,
        vec![Resource {
            bound: "sink:sqlite".into(),
            demand_s: 0.0,
            held_share: 0.5,
        }],
    );
    // One worker never waits: the held work is work.
    let one = r.run(1, 8, &[]).wall_s;
    assert!((one - 1.0).abs() < 1e-6, "{one}");
    // Two workers: the lock is busy all the time (0.5 s of held work) only once both halves
    // overlap, so they halve the wall; four cannot beat the held half.
    let two = r.run(2, 8, &[]).wall_s;
    assert!((two - 0.505).abs() < 1e-3, "{two}");
    let four = r.run(4, 8, &[]);
    assert!(four.wall_s >= 0.5 - 1e-9 && four.wall_s < 0.52, "{four:?}");
    assert_eq!(four.bound, "sink:sqlite");
    // Held through the whole task, the workers take turns: no speedup at any count.
    let mut all = r.clone();
    all.workload.resources[0].held_share = 1.0;
    let eight = all.run(8, 8, &[]).wall_s;
    assert!((eight - 1.0).abs() < 1e-6, "{eight}");
    // The waits the replay counts leave the held work out: one worker waits for the other's
    // held half (less the first task), the held seconds are the work itself.
    let replayed = sim::replay(&r.workload, 2, 8, 1.0, &[]);
    assert!((replayed.held_s[0] - 0.5).abs() < 1e-6, "{replayed:?}");
}

#[test]
fn a_busy_handlers_sleeps_cost_a_second_writer_more_than_a_queue() {
    // 100 tasks of 0.8 ms of CPU, then a 0.2 ms commit under SQLite's write lock.
    let queued = even(
        100,
        0.0008,
        vec![Resource {
            bound: "sink:sqlite".into(),
            demand_s: 0.02,
            held_share: 0.0,
        }],
    );
    let mut sleeping = queued.clone();
    sleeping.workload.busy_handler = true;
    // One writer never finds the lock taken.
    let one = (queued.run(1, 8, &[]).wall_s, sleeping.run(1, 8, &[]).wall_s);
    assert!((one.0 - one.1).abs() < 1e-12, "{one:?}");
    // Two: a writer that finds it taken sleeps 1 ms or more, past the 0.2 ms commit, where a
    // queue would have let it in at once.
    let (q, s) = (
        sim::replay(&queued.workload, 2, 8, 1.0, &[]),
        sim::replay(&sleeping.workload, 2, 8, 1.0, &[]),
    );
    assert!(s.makespan_s >= q.makespan_s - 1e-12, "{q:?} {s:?}");
    assert!(s.residence_s[0] > q.residence_s[0], "{q:?} {s:?}");
    // No faster than the laws allow: the commits one at a time.
    assert!(s.makespan_s >= 0.02, "{s:?}");
}

#[test]
fn a_big_chunk_at_the_head_is_imbalance() {
    let mut r = even(40, 0.01, vec![]);
    r.workload.tasks[0] = 0.4;
    r.workload.dispatch = Dispatch::Chunks(10);
    let two = r.run(2, 2, &[]);
    assert_eq!(two.bound, "imbalance");
    // The first chunk holds the big task and nine small ones.
    assert!((two.wall_s - 0.49).abs() < 1e-6, "{two:?}");
}

#[test]
fn the_curve_covers_the_measured_counts_and_four_times_the_cores() {
    assert_eq!(counts(&[1, 2], 2), vec![1, 2, 4, 8]);
    assert_eq!(counts(&[3], 4), vec![1, 2, 3, 4, 8, 16]);
}

#[test]
fn runs_several_times_apart_widen_the_interval_and_keep_it_above_zero() {
    // A trivial target on a loaded host: one run took seven times the others (spread 3).
    let r = even(64, 0.01, vec![]);
    let replays = Replays {
        per_point: vec![(r.clone(), r.clone(), r)],
        spread: 3.0,
    };
    let p = replays.predict(2, 4, &|x| x.clone());
    assert!(
        p.low > 0.0 && p.low < p.speedup && p.high > p.speedup,
        "{p:?}"
    );
}

#[test]
fn a_driver_handling_each_message_beside_the_workers_takes_a_core_and_can_bound_the_run() {
    let mut r = even(400, 0.001, vec![]);
    r.workload.driver_per_task_s = 0.0005;
    // One worker on two cores: the driver's handling runs on the other core.
    let one = r.run(1, 2, &[]);
    assert!((one.wall_s - 0.4).abs() < 0.01, "{one:?}");
    // Two workers and the driver share two cores: 0.6 s of CPU, at least 0.3 s.
    let two = r.run(2, 2, &[]);
    assert!(two.wall_s >= 0.3 - 1e-9 && two.wall_s < 0.33, "{two:?}");
    // Three times the handling: the driver is busy through the run.
    r.workload.driver_per_task_s = 0.0015;
    assert_eq!(r.run(4, 8, &[]).bound, "driver");
}

#[test]
fn each_worker_pays_its_start_up_per_pool_and_workers_starting_together_share_the_cores() {
    // Measured at 2 workers on 2 cores with a core's worth busy beside them: four fresh pools,
    // each worker starting 0.15 s per pool (0.1 s of CPU at a whole core, stretched by the
    // three wanting the two cores), then 0.8 s of tasks.
    let mut r = even(80, 0.01, vec![]);
    r.host_cores = 2;
    r.workload.measured_workers = 2;
    r.workload.background_cores = 1.0;
    r.workload.startup_s = 4.0 * 0.15;
    // At the measured count, the start-up as measured: each slot's, once (the workers start
    // side by side), not the workers' start-ups added up.
    let two = r.run(2, 2, &[]).wall_s;
    let one = r.run(1, 2, &[]).wall_s;
    assert!((r.startup_at(2, 2) - 0.6).abs() < 1e-9);
    // One worker alone beside the busy core has a core to itself: 0.1 s per pool, and the
    // 0.8 s of tasks in turn. Its start-up is one worker's, not both workers' carried into it.
    assert!(
        (r.startup_at(1, 2) - 0.4).abs() < 1e-9,
        "{}",
        r.startup_at(1, 2)
    );
    assert!((one - (0.4 + 0.8)).abs() < 1e-6, "{one}");
    // Two workers: the start-up as measured, and the tasks on two thirds of a core each.
    assert!((two - (0.6 + 0.4 / (2.0 / 3.0))).abs() < 1e-6, "{two}");
}
