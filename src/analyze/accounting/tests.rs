use super::*;
use crate::measure::probes::{ProbeData, PythonData, PythonProcess};
use crate::measure::{
    ProcessRecord, ResourceKind, Rusage, SamplerData, ThreadRecord, Tick, WaitCount,
};

/// Ticks every 0.1 s from 0 to 1 s.
fn timeline() -> Vec<Tick> {
    (0..=10)
        .map(|i| Tick {
            t_s: f64::from(i) / 10.0,
            ..Default::default()
        })
        .collect()
}

/// A thread seen from `from_s` to 1 s, using `busy` cores over each interval listed (interval i
/// ends at tick i) and blocked on `waits` the rest of its life.
fn thread(tid: i32, from_s: f64, busy: &[(usize, f32)], waits: Vec<WaitCount>) -> ThreadRecord {
    let mut series = vec![0.0f32; 11];
    let mut states = vec![b'S'; 11];
    for &(i, b) in busy {
        series[i] = b;
        states[i] = b'R';
    }
    ThreadRecord {
        tid,
        first_seen_s: from_s,
        last_seen_s: 1.0,
        on_cpu_s: series.iter().map(|&b| f64::from(b) * 0.1).sum(),
        busy: series,
        states: String::from_utf8(states).unwrap(),
        waits,
        ..Default::default()
    }
}

fn wait(resource: &str, kind: ResourceKind, plumbing: bool) -> WaitCount {
    WaitCount {
        resource: resource.into(),
        kind,
        plumbing,
        service: None,
        syscall: "read".into(),
        ticks: 5,
        blocked_s: 0.05,
    }
}

fn process(pid: i32, ppid: i32, threads: Vec<ThreadRecord>) -> ProcessRecord {
    ProcessRecord {
        pid,
        ppid,
        comm: "python".into(),
        first_seen_s: threads.iter().map(|t| t.first_seen_s).fold(1.0, f64::min),
        last_seen_s: 1.0,
        threads,
        ..Default::default()
    }
}

fn run(wall_s: f64, processes: Vec<ProcessRecord>, python: Vec<PythonProcess>) -> Run {
    Run {
        warmup: false,
        wall_s,
        cpu_user_s: None,
        cpu_sys_s: None,
        cpu_source: None,
        exit_code: Some(0),
        signal: None,
        timed_out: false,
        interrupted: false,
        leftover_processes: 0,
        sigterm_ignored: false,
        stdout_bytes: None,
        stderr_bytes: None,
        outcome: None,
        rusage: Rusage::default(),
        counters: None,
        sampled: Some(SamplerData {
            timeline: timeline(),
            processes,
            ..Default::default()
        }),
        probes: Some(ProbeData {
            preload: None,
            python: Some(PythonData { processes: python }),
        }),
        probes_injected: vec![crate::measure::probes::ProbeKind::Python],
        probe_notes: vec![],
        stdout_file: None,
        stderr_file: None,
        host_other_cpu_cores: None,
    }
}

/// Two pool processes under an idle driver: one works 0.1..0.9 s, the other 0.1..0.4 s and
/// then waits on the pool's pipe for work that never comes.
fn uneven_pool() -> Run {
    let busy = |a: usize, b: usize| (a..=b).map(|i| (i, 1.0)).collect::<Vec<_>>();
    run(
        1.0,
        vec![
            process(1, 0, vec![thread(1, 0.0, &[(1, 0.01)], vec![])]),
            process(2, 1, vec![thread(2, 0.05, &busy(2, 9), vec![])]),
            process(
                3,
                1,
                vec![thread(
                    3,
                    0.05,
                    &busy(2, 4),
                    vec![wait("pipe:[7]", ResourceKind::Pipe, true)],
                )],
            ),
        ],
        vec![],
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn a_worker_out_of_work_while_another_works_is_imbalance_and_every_second_is_counted_once() {
    let acc = account_run(&uneven_pool(), 2, None).expect("accounted");
    let total: f64 = acc.seconds.values().sum();
    assert!(close(total, 2.0), "{acc:?}");
    // Both worked from their first tick wanting a CPU (0.1 s) to their last (0.9 s, 0.4 s).
    assert!(close(acc.get(&Cause::Useful), 0.8 + 0.3), "{acc:?}");
    assert!(close(acc.get(&Cause::Imbalance), 0.5), "{acc:?}");
    // Born at 0.05 s: until then only the driver worked; after the last work at 0.9 s too.
    assert!(
        close(acc.get(&Cause::Serial), 2.0 * (0.05 + 0.1)),
        "{acc:?}"
    );
    assert!(close(acc.get(&Cause::Startup), 2.0 * 0.05), "{acc:?}");
    // The pipe wait came after its last work: imbalance, not transfer.
    assert_eq!(acc.get(&Cause::Transfer), 0.0, "{acc:?}");
    assert!(acc.sources.contains(&AccountingSource::OutsideIn));
}

#[test]
fn a_slot_no_worker_filled_is_idle_beside_those_that_worked() {
    let acc = account_run(&uneven_pool(), 3, None).expect("accounted");
    let total: f64 = acc.seconds.values().sum();
    assert!(close(total, 3.0), "{acc:?}");
    // The third slot: the driver's before 0.1 s and after 0.9 s, idle in between.
    assert!(close(acc.get(&Cause::Imbalance), 0.5 + 0.8), "{acc:?}");
}

/// One interpreter with two pool threads taking turns on its GIL: each on a CPU half of every
/// tick, on a futex the other half.
fn gil_threads(gil_enabled: Option<bool>) -> Run {
    let half: Vec<(usize, f32)> = (1..=10).map(|i| (i, 0.5)).collect();
    let futex = || vec![wait("futex", ResourceKind::Futex, false)];
    run(
        1.0,
        vec![process(
            1,
            0,
            vec![
                thread(1, 0.0, &[(1, 0.01)], vec![]),
                thread(11, 0.0, &half, futex()),
                thread(12, 0.0, &half, futex()),
            ],
        )],
        vec![PythonProcess {
            pid: 1,
            role: "process".into(),
            gil_enabled,
            ..Default::default()
        }],
    )
}

#[test]
fn threads_of_one_interpreter_waiting_on_a_futex_wait_for_its_gil() {
    let acc = account_run(&gil_threads(Some(true)), 2, None).expect("accounted");
    assert!(close(acc.get(&Cause::Useful), 1.0), "{acc:?}");
    assert!(close(acc.get(&Cause::Gil), 1.0), "{acc:?}");
    assert_eq!(acc.get(&Cause::Locks), 0.0);
    // Free-threaded, the same futex waits are another lock.
    let free = account_run(&gil_threads(Some(false)), 2, None).expect("accounted");
    assert!(close(free.get(&Cause::Locks), 1.0), "{free:?}");
    assert_eq!(free.get(&Cause::Gil), 0.0);
}

#[test]
fn lost_and_useful_cores_add_up_to_n_and_the_speedup_is_rebuilt_from_them() {
    let one = run(
        1.6,
        vec![
            process(1, 0, vec![thread(1, 0.0, &[(1, 0.01)], vec![])]),
            process(
                2,
                1,
                vec![thread(
                    2,
                    0.0,
                    &(1..=10).map(|i| (i, 1.0)).collect::<Vec<_>>(),
                    vec![],
                )],
            ),
        ],
        vec![],
    );
    let runs_1 = [&one];
    let pool = uneven_pool();
    let slow = Run {
        wall_s: 1.2,
        ..uneven_pool()
    };
    let runs_2 = [&pool, &slow];
    let mut one_worker = account_point(1, &runs_1, None);
    let mut two_workers = account_point(2, &runs_2, None);
    fill_series(vec![
        (Some(1.6), one_worker.as_mut()),
        (Some(1.1), two_workers.as_mut()),
    ]);
    let a = two_workers.as_ref().unwrap();
    let lost: f64 = a.lost_cores.values().map(|f| f.value).sum();
    assert!(close(a.useful_cores.value + lost, 2.0), "{a:?}");
    assert_eq!(a.runs, 2);
    // The slower run lost more to the driver after the work: its bounds show it.
    let serial = a.lost_cores["serial"];
    assert!(
        serial.low < serial.value && serial.value < serial.high,
        "{serial:?}"
    );
    let (cs, be, s) = (
        a.computation_scaling.unwrap(),
        a.baseline_efficiency.unwrap(),
        a.speedup.unwrap(),
    );
    assert!(close(s.value, a.useful_cores.value * cs.value / be.value));
    // ... which is the wall speedup, 1.6 / 1.1.
    assert!(close(s.value, 1.6 / 1.1), "{s:?}");
    assert!(s.low <= s.value && s.value <= s.high, "{s:?}");
    assert!(close(s.low, 1.6 / 1.2) && close(s.high, 1.6 / 1.0), "{s:?}");
}

#[test]
fn a_run_without_the_sampler_is_not_accounted() {
    let blind = Run {
        sampled: None,
        ..uneven_pool()
    };
    assert!(account_run(&blind, 2, None).is_none());
    assert!(account_point(2, &[&blind], None).is_none());
}

#[test]
fn waits_no_tick_named_go_to_the_sink_whose_calls_the_preload_probe_timed() {
    use crate::measure::probes::{FdKind, IoDir, IoRow, PreloadData, PreloadProcess};
    use crate::measure::Service;
    // Worker 2 is blocked 0.5 s of its span with no tick naming it; 0.2 s of it inside calls
    // on its database connection.
    let half: Vec<(usize, f32)> = (1..=10).map(|i| (i, 0.5)).collect();
    let mut r = run(
        1.0,
        vec![
            process(1, 0, vec![thread(1, 0.0, &[(1, 0.01)], vec![])]),
            process(2, 1, vec![thread(2, 0.0, &half, vec![])]),
            process(3, 1, vec![thread(3, 0.0, &half, vec![])]),
        ],
        vec![],
    );
    let row = IoRow {
        kind: FdKind::Tcp,
        peer: Some("127.0.0.1:5432".into()),
        accepted: false,
        overflow: false,
        plumbing: false,
        service: Some(Service::Postgresql),
        dir: IoDir::Out,
        bytes: 4096,
        calls: 10,
        blocked_ns: 200_000_000,
    };
    r.probes.as_mut().unwrap().preload = Some(PreloadData {
        processes: vec![PreloadProcess {
            pid: 2,
            ppid: 1,
            comm: "python".into(),
            exe: "/usr/bin/python3".into(),
            forked: true,
            exit: None,
            lifetime_s: None,
            rows_overflowed: 0,
            rows: vec![row],
            locks: Vec::new(),
        }],
        dropped_processes: 0,
    });
    let acc = account_run(&r, 2, None).expect("accounted");
    let db = Cause::Sink("postgresql".into());
    assert!(close(acc.get(&db), 0.2), "{acc:?}");
    // Worker 3 made no such calls: its unnamed waits stay unnamed.
    assert!(close(acc.get(&Cause::Other), 0.3 + 0.5), "{acc:?}");
    assert!(acc.sources.contains(&AccountingSource::PreloadProbe));
    let total: f64 = acc.seconds.values().sum();
    assert!(close(total, 2.0), "{acc:?}");
}

#[test]
fn a_pool_thread_idle_on_its_queue_after_its_last_task_is_imbalance_not_the_gil() {
    // Two threads whose work releases the GIL: one works to the end, the other runs out of
    // work at 0.3 s and waits on the pool's queue (a futex) while the first still works.
    let full: Vec<(usize, f32)> = (1..=10).map(|i| (i, 1.0)).collect();
    let short: Vec<(usize, f32)> = (1..=3).map(|i| (i, 1.0)).collect();
    let r = run(
        1.0,
        vec![process(
            1,
            0,
            vec![
                thread(1, 0.0, &[(1, 0.01)], vec![]),
                thread(11, 0.0, &full, vec![]),
                thread(
                    12,
                    0.0,
                    &short,
                    vec![wait("futex", ResourceKind::Futex, false)],
                ),
            ],
        )],
        vec![PythonProcess {
            pid: 1,
            role: "process".into(),
            gil_enabled: Some(true),
            ..Default::default()
        }],
    );
    let acc = account_run(&r, 2, None).expect("accounted");
    assert!(close(acc.get(&Cause::Imbalance), 0.7), "{acc:?}");
    assert_eq!(acc.get(&Cause::Gil), 0.0, "{acc:?}");
    assert!(close(acc.get(&Cause::Useful), 1.3), "{acc:?}");
}

/// `thread`, with `blips` (tick, cores) where it used a little CPU but was caught asleep.
fn with_blips(mut t: ThreadRecord, blips: &[(usize, f32)]) -> ThreadRecord {
    let mut states = t.states.into_bytes();
    for &(i, b) in blips {
        t.busy[i] = b;
        t.on_cpu_s += f64::from(b) * 0.1;
        states[i] = b'S';
    }
    t.states = String::from_utf8(states).unwrap();
    t
}

#[test]
fn an_idle_pool_thread_woken_to_exit_is_still_imbalance_and_a_gil_waiter_keeps_its_task() {
    // threadpool_straggler.py recorded: the idle thread wakes for 1.5 % of the last tick when
    // the pool shuts down. That wake is no work: what came before it is still imbalance.
    let gil = || PythonProcess {
        pid: 1,
        role: "process".into(),
        gil_enabled: Some(true),
        ..Default::default()
    };
    let full: Vec<(usize, f32)> = (1..=10).map(|i| (i, 1.0)).collect();
    let short: Vec<(usize, f32)> = (1..=3).map(|i| (i, 1.0)).collect();
    let futex = || vec![wait("futex", ResourceKind::Futex, false)];
    let idle = with_blips(thread(12, 0.0, &short, futex()), &[(10, 0.015)]);
    let r = run(
        1.0,
        vec![process(1, 0, vec![thread(11, 0.0, &full, vec![]), idle])],
        vec![gil()],
    );
    let acc = account_run(&r, 2, None).expect("accounted");
    assert!(close(acc.get(&Cause::Imbalance), 0.7), "{acc:?}");
    assert!(acc.get(&Cause::Gil) < 0.01, "{acc:?}");
    // A thread waiting for the GIL with its task wakes every switch interval, a little CPU in
    // every tick, up to its last bit of work: those waits are the GIL's, to the end.
    let waiting: Vec<(usize, f32)> = (4..=9).map(|i| (i, 0.05)).collect();
    let last_bit: Vec<(usize, f32)> = short.iter().copied().chain([(10, 0.6)]).collect();
    let turns = with_blips(thread(12, 0.0, &last_bit, futex()), &waiting);
    let r = run(
        1.0,
        vec![process(1, 0, vec![thread(11, 0.0, &full, vec![]), turns])],
        vec![gil()],
    );
    let acc = account_run(&r, 2, None).expect("accounted");
    assert!(acc.get(&Cause::Imbalance) < 0.01, "{acc:?}");
    assert!(acc.get(&Cause::Gil) > 0.5, "{acc:?}");
}

/// A task process alive over ticks `a..=b` (its life from tick a to tick b), on a CPU throughout.
fn task(pid: i32, a: usize, b: usize) -> ProcessRecord {
    let busy: Vec<(usize, f32)> = (a + 1..=b).map(|i| (i, 1.0)).collect();
    let mut t = thread(pid, a as f64 / 10.0, &busy, vec![]);
    t.last_seen_s = b as f64 / 10.0;
    ProcessRecord {
        comm: "gzip".into(),
        last_seen_s: t.last_seen_s,
        ..process(pid, 1, vec![t])
    }
}

#[test]
fn a_slot_between_task_processes_while_others_run_is_imbalance() {
    // xargs -P 2: three tasks in two slots, 0.1..0.5 and 0.1..0.3 s, then 0.4..0.9 s.
    let driver = process(1, 0, vec![thread(1, 0.0, &[(1, 0.01)], vec![])]);
    let r = run(
        1.0,
        vec![driver, task(2, 1, 5), task(3, 1, 3), task(4, 4, 9)],
        vec![],
    );
    let acc = account_run(&r, 2, None).expect("accounted");
    assert!(
        acc.sources.contains(&AccountingSource::TaskProcesses),
        "{acc:?}"
    );
    assert!(close(acc.get(&Cause::Useful), 0.4 + 0.2 + 0.5), "{acc:?}");
    // Before the first task and after the last, both slots wait on the driver.
    assert!(close(acc.get(&Cause::Serial), 2.0 * 0.2), "{acc:?}");
    // A slot empty from 0.3 to 0.4 s, and from 0.5 s while the last task runs.
    assert!(close(acc.get(&Cause::Imbalance), 0.1 + 0.4), "{acc:?}");
}

#[test]
fn waits_on_a_socket_a_third_process_serves_are_its_sink_not_the_pools_transfer() {
    // Two pool workers store each result in a manager process (pid 4, not theirs nor their
    // parent's) over a unix socket the sampler named as plumbing: half of each tick on it.
    let half: Vec<(usize, f32)> = (1..=10).map(|i| (i, 0.5)).collect();
    let socket = "unix:/tmp/pymp-x/listener-y";
    let on_it = || vec![wait(socket, ResourceKind::Unix, true)];
    let mut manager = process(4, 1, vec![thread(4, 0.0, &[(1, 0.01)], vec![])]);
    manager.held = vec![socket.into()];
    let r = run(
        1.0,
        vec![
            process(1, 0, vec![thread(1, 0.0, &[(1, 0.01)], vec![])]),
            process(2, 1, vec![thread(2, 0.0, &half, on_it())]),
            process(3, 1, vec![thread(3, 0.0, &half, on_it())]),
            manager,
        ],
        vec![],
    );
    let acc = account_run(&r, 2, None).expect("accounted");
    let sink = Cause::Sink("unix service".into());
    assert!(close(acc.get(&sink), 1.0), "{acc:?}");
    assert_eq!(acc.get(&Cause::Transfer), 0.0, "{acc:?}");
}

/// Two pool processes; the second works 0.1..0.4 s and 0.7..0.9 s and waits on the pool's pipe
/// in between, while the driver works (`driver_busy`) or idles.
fn gap_on_the_pipe(driver_busy: bool) -> Run {
    let busy = |a: usize, b: usize| (a..=b).map(|i| (i, 1.0)).collect::<Vec<_>>();
    let driver: Vec<(usize, f32)> = if driver_busy {
        busy(5, 7)
    } else {
        vec![(1, 0.01)]
    };
    let mut gapped = busy(2, 4);
    gapped.extend(busy(8, 9));
    run(
        1.0,
        vec![
            process(1, 0, vec![thread(1, 0.0, &driver, vec![])]),
            process(2, 1, vec![thread(2, 0.05, &busy(2, 9), vec![])]),
            process(
                3,
                1,
                vec![thread(
                    3,
                    0.05,
                    &gapped,
                    vec![wait("pipe:[7]", ResourceKind::Pipe, true)],
                )],
            ),
        ],
        vec![],
    )
}

#[test]
fn a_wait_on_the_pools_pipe_is_transfer_only_while_the_driver_works_to_feed_it() {
    // The driver idle: no task existed for the worker anywhere; it idled beside the other.
    let idle = account_run(&gap_on_the_pipe(false), 2, None).expect("accounted");
    assert!(close(idle.get(&Cause::Imbalance), 0.3), "{idle:?}");
    assert_eq!(idle.get(&Cause::Transfer), 0.0, "{idle:?}");
    // The driver working (loading, pickling, writing the next payload): the wait was the
    // payload's transfer.
    let fed = account_run(&gap_on_the_pipe(true), 2, None).expect("accounted");
    assert!(close(fed.get(&Cause::Transfer), 0.3), "{fed:?}");
    assert_eq!(fed.get(&Cause::Imbalance), 0.0, "{fed:?}");
    for acc in [&idle, &fed] {
        let total: f64 = acc.seconds.values().sum();
        assert!(close(total, 2.0), "{acc:?}");
        assert!(close(acc.get(&Cause::Useful), 0.8 + 0.5), "{acc:?}");
    }
}

#[test]
fn a_fresh_pools_workers_start_up_is_startup_not_the_tasks_work() {
    // Lab 03 with spawn: a fresh pool of 2 workers per batch, two batches. Each worker is on a
    // CPU from its birth: 0.1..0.3 s importing (0.2 s), then its tasks from 0.3 s (the probe's
    // first task) to 0.5 s; the second pool's from 0.6 s, its tasks from 0.8 s to 1 s. The
    // pool workers live and die like task processes, and their imports are each worker's
    // start-up, paid per worker per pool: at 2 workers twice the CPU of 1, which read as
    // the tasks' work looks like work that grows with the count.
    let driver = process(1, 0, vec![thread(1, 0.0, &[(1, 0.01)], vec![])]);
    let mut r = run(
        1.0,
        vec![
            driver,
            task(2, 1, 5),
            task(3, 1, 5),
            task(4, 6, 10),
            task(5, 6, 10),
        ],
        [(2, 0.3), (3, 0.3), (4, 0.8), (5, 0.8)]
            .into_iter()
            .map(|(pid, first)| PythonProcess {
                pid,
                ppid: 1,
                role: "pool_worker".into(),
                tasks: 10,
                first_task_at_ns: Some((first * 1e9) as u64),
                ..Default::default()
            })
            .collect(),
    );
    if let Some(s) = r.sampled.as_mut() {
        s.t0_monotonic_ns = Some(0);
    }
    let acc = account_run(&r, 2, None).expect("accounted");
    assert!(
        acc.sources.contains(&AccountingSource::TaskProcesses),
        "{acc:?}"
    );
    let total: f64 = acc.seconds.values().sum();
    assert!(close(total, 2.0), "{acc:?}");
    // Four workers, each 0.2 s of start-up and 0.2 s of tasks.
    assert!(close(acc.get(&Cause::Startup), 4.0 * 0.2), "{acc:?}");
    assert!(close(acc.get(&Cause::Useful), 4.0 * 0.2), "{acc:?}");
}
