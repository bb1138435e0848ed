//! Pools and executors: bytes against what the script pickled, tasks, chunksizes, start methods.

use super::*;
use forkcast::measure::probes::StartMethod;

const POOL_PAYLOADS: &str = r#"
import json, multiprocessing as mp, pickle, sys

def size(b):
    return len(b)

def ready(barrier):
    barrier.wait()  # both workers are up before the first task, so both reach the worker loop

if __name__ == "__main__":
    method, api = sys.argv[1], sys.argv[2]
    mp.set_start_method(method)
    payloads = [bytes([i]) * 200_000 for i in range(24)]
    pickled = sum(len(pickle.dumps(p)) for p in payloads)
    with mp.Pool(2, initializer=ready, initargs=(mp.Barrier(2),)) as pool:
        if api == "map":
            sizes = pool.map(size, payloads)
        else:
            sizes = list(pool.imap(size, payloads, chunksize=2))
    assert sizes == [200_000] * 24
    print(json.dumps({"pickled": pickled, "items": len(payloads)}))
"#;

/// Checks shared by the fork and spawn Pool runs.
fn check_pool_run(ran: &Ran, data: &ProbeData, method: &str) {
    let summary = ran.summary();
    let pickled = summary["pickled"].as_u64().unwrap();
    let parent = preload_of(data, ran.pid);
    let workers = preload_children(data, ran.pid);
    assert_close(
        "parent pipe out",
        io_bytes([parent], FdKind::Pipe, IoDir::Out),
        pickled,
        0.02,
    );
    assert_close(
        "workers' pipe in",
        io_bytes(workers, FdKind::Pipe, IoDir::In),
        pickled,
        0.02,
    );

    let py_parent = python_of(data, ran.pid);
    assert_close("parent pickled", py_parent.pickled_bytes, pickled, 0.02);
    let py_workers = with_role(data, "pool_worker");
    assert_eq!(py_workers.len(), 2, "{:#?}", python_data(data));
    let unpickled: u64 = py_workers.iter().map(|w| w.unpickled_bytes).sum();
    assert_close("workers unpickled", unpickled, pickled, 0.02);
    assert!(py_parent.pickle_s > 0.0 && py_workers.iter().any(|w| w.unpickle_s > 0.0));
    assert!(
        py_parent.unpickled_bytes > 0,
        "the parent's side of results"
    );
    assert!(
        py_workers.iter().any(|w| w.pickled_bytes > 0),
        "the workers' side of results"
    );

    let tasks: u64 = py_workers.iter().map(|w| w.tasks).sum();
    assert_eq!(tasks, 24);
    assert_eq!(
        py_workers
            .iter()
            .map(|w| w.tasks_by_source.pool)
            .sum::<u64>(),
        24
    );
    let durations: Vec<f64> = py_workers
        .iter()
        .flat_map(|w| w.task_durations_s.clone())
        .collect();
    assert_eq!(durations.len(), 24);
    assert!(
        durations.iter().all(|&d| d > 0.0 && d < 5.0),
        "{durations:?}"
    );

    assert_eq!(py_parent.start_method.map(StartMethod::name), Some(method));
    assert_eq!(py_parent.pools.len(), 1);
    assert_eq!(py_parent.pools[0].api, "Pool");
    assert_eq!(py_parent.pools[0].workers, Some(2));
    assert_eq!(
        py_parent.pools[0].start_method.map(StartMethod::name),
        Some(method)
    );
    assert!(py_workers
        .iter()
        .all(|w| w.started_by == method && w.ppid == ran.pid));
}

#[test]
fn a_fork_pool_moves_the_bytes_the_script_pickled() {
    let scratch = Scratch::new("probe-fork-pool");
    let script = scratch.write("pool.py", POOL_PAYLOADS);
    let (ran, data) = run_probed(&scratch, BOTH, &script, &["fork", "map"], &[]);
    check_pool_run(&ran, &data, "fork");
    let parent = python_of(&data, ran.pid);
    // Pool.map's default: ceil(24 / (2 workers * 4)) = 3.
    let cs = &parent.chunksizes;
    assert_eq!(cs.len(), 1, "{cs:?}");
    assert_eq!(
        (cs[0].api.as_str(), cs[0].chunksize, cs[0].default),
        ("map", 3, true)
    );
    assert_eq!((cs[0].items, cs[0].workers), (Some(24), Some(2)));
    let workers = with_role(&data, "pool_worker");
    assert_eq!(workers.len(), 2);
    assert_eq!(workers.iter().map(|w| w.chunks).sum::<u64>(), 8);
    assert_eq!(parent.process_starts.fork, 2);
    assert!(parent.forks >= 2);
    assert_eq!(parent.threads_at_fork[0].python_threads, 1, "{parent:#?}");
    assert_eq!(parent.max_os_threads_at_fork, Some(1));
    for w in preload_children(&data, ran.pid) {
        assert!(w.forked && w.comm.starts_with("python"), "{w:#?}");
    }
}

#[test]
fn a_spawn_pool_records_its_start_method_and_chunksize() {
    let scratch = Scratch::new("probe-spawn-pool");
    let script = scratch.write("pool.py", POOL_PAYLOADS);
    let (ran, data) = run_probed(&scratch, BOTH, &script, &["spawn", "imap"], &[]);
    check_pool_run(&ran, &data, "spawn");
    let parent = python_of(&data, ran.pid);
    assert_eq!(parent.process_starts.spawn, 2);
    let cs = &parent.chunksizes;
    assert_eq!(
        (cs[0].api.as_str(), cs[0].chunksize, cs[0].default),
        ("imap", 2, false)
    );
}

#[test]
fn executors_count_their_tasks_on_both_sides() {
    let scratch = Scratch::new("probe-executors");
    let script = scratch.write(
        "executors.py",
        r#"
import concurrent.futures as cf, json, time

def square(x):
    return x * x

def nap(x):
    time.sleep(0.002)
    return x

if __name__ == "__main__":
    with cf.ProcessPoolExecutor(2) as ex:
        a = list(ex.map(square, range(10), chunksize=4))
    with cf.ThreadPoolExecutor(3) as ex:
        b = list(ex.map(nap, range(7)))
    print(json.dumps({"a": sum(a), "b": sum(b)}))
"#,
    );
    let (ran, data) = run_probed(&scratch, &[ProbeKind::Python], &script, &[], &[]);
    assert_eq!(ran.summary()["a"], 285);
    let workers = with_role(&data, "process_pool_worker");
    assert_eq!(workers.len(), 2, "{:#?}", python_data(&data));
    assert_eq!(
        workers
            .iter()
            .map(|w| w.tasks_by_source.process_pool)
            .sum::<u64>(),
        10
    );
    assert_eq!(
        workers.iter().map(|w| w.chunks).sum::<u64>(),
        3,
        "ceil(10 / 4) chunks"
    );
    assert!(workers
        .iter()
        .all(|w| w.unpickled_bytes > 0 && w.pickled_bytes > 0));

    let parent = python_of(&data, ran.pid);
    assert!(parent.pickled_bytes > 0 && parent.unpickled_bytes > 0);
    assert_eq!(parent.tasks_by_source.thread_pool, 7);
    assert_eq!(parent.task_durations_s.len(), 7);
    assert!(
        parent.task_durations_s.iter().all(|&d| d >= 0.002),
        "{parent:#?}"
    );
    assert!(parent.task_s_min.unwrap() >= 0.002 && parent.task_s_sum >= 0.014);
    let cs = &parent.chunksizes;
    assert_eq!(
        (cs[0].api.as_str(), cs[0].chunksize, cs[0].default),
        ("executor_map", 4, false)
    );
    assert_eq!(parent.pools[0].api, "ProcessPoolExecutor");
    assert_eq!(parent.pools[0].workers, Some(2));
    assert!(parent.pools[0].start_method.is_some());
}
