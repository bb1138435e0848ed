//! Property tests: analysis and diagnosis are total. Over arbitrary Measurements (empty trees,
//! one tick, 0-length runs, thousands of processes, extreme but NaN-free values, fields that
//! disagree with each other as a hand-edited report's may) they return, never panic, and what
//! they return serialises.

use forkcast::measure::probes::{
    ExitPath, FdKind, IoDir, IoRow, PreloadData, PreloadProcess, ProbeData, PythonData,
    PythonProcess, StartMethod,
};
use forkcast::measure::{
    Counters, Goal, Host, IoCounters, Measurements, PointMeasurements, ProcessRecord, ResourceKind,
    Run, Rusage, SamplerData, Service, ThreadRecord, Tick, WaitCount, Written,
};
use forkcast::{analyze, diagnose};
use proptest::collection::vec;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Seconds as a report can hold them: ordinary, 0, tiny, huge, negative; never NaN or infinite
/// (JSON has neither).
fn secs() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0..100.0f64,
        1 => Just(0.0),
        1 => Just(-0.0),
        1 => Just(f64::MIN_POSITIVE),
        1 => Just(1e-12),
        1 => Just(1e12),
        1 => Just(1e300),
        1 => Just(f64::MAX),
        1 => Just(-1.0),
    ]
}

/// Counts: small, 0, and the largest a machine could reach (2^53 bytes is 8 PiB). Larger ones
/// only come from a hand-edited file; the fuzzer (fuzz/) feeds those to the same code.
fn count() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0..10_000u64, 1 => Just(0), 1 => Just(1u64 << 53)]
}

/// Ticks: a year at 1000 Hz is 3.2e10; a u32 holds 4.3e9.
fn ticks() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0..1000u32, 1 => Just(0), 1 => Just(10_000_000)]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("python3".to_string()),
        Just("bash".to_string()),
        Just("postgres".to_string()),
        Just(String::new()),
        "[a-z]{1,8}",
    ]
}

fn resource() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        Just(("futex".to_string(), "futex".to_string())),
        Just(("sleep".to_string(), "sleep".to_string())),
        Just(("pipe:[7]".to_string(), "pipe".to_string())),
        Just(("unix:/tmp/.s.PGSQL.5432".to_string(), "unix".to_string())),
        Just(("tcp:127.0.0.1:5432".to_string(), "tcp".to_string())),
        Just(("file:/tmp/out".to_string(), "file".to_string())),
        Just(("poll:pipe:[7],+2".to_string(), "poll".to_string())),
        ("[a-z:/]{0,12}", "[a-z]{0,6}"),
    ]
}

/// The kind the sampler gives a resource of that class word (unknown words are Other).
fn kind_of(word: &str) -> ResourceKind {
    use ResourceKind::*;
    [
        Pipe, Unix, Tcp, Udp, File, Dev, Socket, Event, Futex, Sleep, Poll, Wait,
    ]
    .into_iter()
    .find(|k| k.as_str() == word)
    .unwrap_or(Other)
}

/// The service a resource name points at, as the sampler's edge decides it.
fn service_of(resource: &str) -> Option<Service> {
    resource.contains("5432").then_some(Service::Postgresql)
}

fn wait() -> impl Strategy<Value = WaitCount> {
    (resource(), "[a-z_]{0,8}", ticks(), secs(), any::<bool>()).prop_map(
        |((resource, kind), syscall, ticks, blocked_s, plumbing)| WaitCount {
            service: service_of(&resource),
            resource,
            kind: kind_of(&kind),
            plumbing: plumbing && kind == "pipe",
            syscall,
            ticks,
            blocked_s,
        },
    )
}

fn thread(pid: i32) -> impl Strategy<Value = ThreadRecord> {
    (
        prop_oneof![Just(pid), 1..5000i32],
        name(),
        (secs(), secs(), secs(), secs()),
        prop_oneof![Just(0u32), 0..64u32, Just(10_000_000)],
        vec(
            prop_oneof![Just(0.0f32), 0.0..1.0f32, Just(f32::MAX), Just(-1.0f32)],
            0..40,
        ),
        "[RQSDTtZ]{0,40}",
        vec(wait(), 0..3),
    )
        .prop_map(
            move |(
                tid,
                comm,
                (first, last, on_cpu_s, runqueue_s),
                first_tick,
                busy,
                states,
                waits,
            )| {
                ThreadRecord {
                    tid,
                    comm,
                    first_seen_s: first,
                    last_seen_s: last,
                    on_cpu_s,
                    runqueue_s,
                    first_tick,
                    busy,
                    states,
                    waits,
                    ..Default::default()
                }
            },
        )
}

fn process(max_threads: usize) -> impl Strategy<Value = ProcessRecord> {
    (
        1..5000i32,
        0..5000i32,
        name(),
        (secs(), secs()),
        proptest::option::of(count()),
        any::<bool>(),
    )
        .prop_flat_map(move |(pid, ppid, comm, (first, last), pss, has_io)| {
            (
                vec(thread(pid), 0..=max_threads),
                vec(resource().prop_map(|r| r.0), 0..3),
                count(),
            )
                .prop_map(move |(threads, held, io)| ProcessRecord {
                    written: held
                        .iter()
                        .filter(|r| r.starts_with("file:") || r.starts_with("tcp:"))
                        .map(|r| Written {
                            resource: r.clone(),
                            kind: kind_of(r.split(':').next().unwrap_or("")),
                            service: service_of(r),
                        })
                        .collect(),
                    pid,
                    ppid,
                    comm: comm.clone(),
                    exe: Some(format!("/usr/bin/{comm}")),
                    cmdline: vec![comm.clone()],
                    first_seen_s: first,
                    last_seen_s: last,
                    max_pss_bytes: pss,
                    io: has_io.then_some(IoCounters {
                        rchar: io,
                        wchar: io,
                        syscr: 1,
                        syscw: 1,
                        read_bytes: io,
                        write_bytes: 0,
                    }),
                    held,
                    threads,
                })
        })
}

fn tick() -> impl Strategy<Value = Tick> {
    (
        secs(),
        secs(),
        secs(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        secs(),
    )
        .prop_map(
            |(t_s, on_cpu_cores, runqueue_threads, running_threads, threads, processes, late_s)| {
                Tick {
                    t_s,
                    on_cpu_cores,
                    runqueue_threads,
                    running_threads,
                    threads,
                    processes,
                    late_s,
                    errors: 0,
                }
            },
        )
}

fn sampled(max_processes: usize) -> impl Strategy<Value = SamplerData> {
    (
        vec(tick(), 0..30),
        vec(process(4), 0..=max_processes),
        secs(),
        count(),
    )
        .prop_map(|(timeline, processes, achieved_hz, ticks)| SamplerData {
            requested_hz: None,
            achieved_hz,
            ticks,
            late_ticks: 0,
            errors: 0,
            sampler_cpu_s: 0.01,
            discovery_scans: 0,
            discovery_cpu_s: 0.0,
            process_cap: None,
            untracked_processes: 0,
            timeline,
            processes,
            ..Default::default()
        })
}

fn preload() -> impl Strategy<Value = PreloadData> {
    let row = (
        prop_oneof![
            Just(FdKind::Pipe),
            Just(FdKind::Unix),
            Just(FdKind::Tcp),
            Just(FdKind::File),
            Just(FdKind::Other)
        ],
        proptest::option::of(resource().prop_map(|r| r.0)),
        any::<bool>(),
        prop_oneof![Just(IoDir::In), Just(IoDir::Out), Just(IoDir::Sync)],
        (count(), count(), count()),
    )
        .prop_map(
            |(kind, peer, accepted, dir, (bytes, calls, blocked_ns))| IoRow {
                service: peer.as_deref().and_then(service_of),
                plumbing: peer.is_none() && kind == FdKind::Pipe,
                kind,
                peer,
                accepted,
                overflow: false,
                dir,
                bytes,
                calls,
                blocked_ns,
            },
        );
    let process = (
        1..5000i32,
        0..5000i32,
        name(),
        any::<bool>(),
        proptest::option::of(secs()),
        vec(row, 0..4),
    )
        .prop_map(
            |(pid, ppid, comm, forked, lifetime_s, rows)| PreloadProcess {
                pid,
                ppid,
                exe: format!("/usr/bin/{comm}"),
                comm,
                forked,
                exit: forked.then_some(ExitPath::UnderscoreExit),
                lifetime_s,
                rows_overflowed: 0,
                rows,
                locks: Vec::new(),
            },
        );
    vec(process, 0..6).prop_map(|processes| PreloadData {
        processes,
        dropped_processes: 0,
    })
}

fn python() -> impl Strategy<Value = PythonData> {
    let process = (
        (1..5000i32, 0..5000i32),
        prop_oneof![
            Just("process"),
            Just("pool_worker"),
            Just("process_pool_worker"),
            Just("mp_child")
        ],
        prop_oneof![
            Just("exec"),
            Just("fork"),
            Just("spawn"),
            Just("forkserver")
        ],
        (count(), secs(), count(), count()),
        vec(secs(), 0..20),
        proptest::option::of(prop_oneof![
            Just(StartMethod::Fork),
            Just(StartMethod::Forkserver),
            Just(StartMethod::Spawn)
        ]),
        (proptest::option::of(count()), count()),
    )
        .prop_map(
            |(
                (pid, ppid),
                role,
                started_by,
                (bytes, pickle_s, tasks, chunks),
                durations,
                start_method,
                (threads, forks),
            )| {
                PythonProcess {
                    pid,
                    ppid,
                    role: role.into(),
                    started_by: started_by.into(),
                    pickled_bytes: bytes,
                    pickle_s,
                    pickle_calls: chunks,
                    unpickled_bytes: bytes,
                    unpickle_s: pickle_s,
                    unpickle_calls: chunks,
                    tasks,
                    chunks,
                    task_s_sum: durations.iter().sum(),
                    task_s_sumsq: durations.iter().map(|d| d * d).sum(),
                    task_s_min: durations.iter().copied().reduce(f64::min),
                    task_s_max: durations.iter().copied().reduce(f64::max),
                    task_durations_s: durations,
                    start_method,
                    forks,
                    max_python_threads_at_fork: threads,
                    max_os_threads_at_fork: threads,
                    ..Default::default()
                }
            },
        );
    vec(process, 0..6).prop_map(|processes| PythonData { processes })
}

fn run(max_processes: usize) -> impl Strategy<Value = Run> {
    (
        (
            any::<bool>(),
            secs(),
            proptest::option::of(secs()),
            proptest::option::of(secs()),
        ),
        (
            proptest::option::of(prop_oneof![Just(0), Just(1), any::<i32>()]),
            proptest::option::of(1..64i32),
        ),
        (any::<bool>(), any::<bool>(), ticks()),
        (secs(), secs(), count(), count()),
        proptest::option::of((proptest::option::of(secs()), proptest::option::of(count()))),
        proptest::option::of(sampled(max_processes)),
        (
            proptest::option::of(preload()),
            proptest::option::of(python()),
        ),
        proptest::option::of(secs()),
    )
        .prop_map(
            |(
                (warmup, wall_s, user, sys),
                (exit_code, signal),
                (timed_out, interrupted, leftover),
                (ru_user, ru_sys, rss, switches),
                counters,
                sampled,
                (preload, python),
                other,
            )| Run {
                warmup,
                wall_s,
                cpu_user_s: user,
                cpu_sys_s: sys,
                cpu_source: None,
                exit_code,
                signal,
                timed_out,
                interrupted,
                leftover_processes: leftover,
                sigterm_ignored: false,
                stdout_bytes: None,
                stderr_bytes: None,
                outcome: None,
                rusage: Rusage {
                    user_s: ru_user,
                    sys_s: ru_sys,
                    max_rss_bytes: rss,
                    voluntary_switches: switches,
                    involuntary_switches: switches,
                    minor_faults: switches,
                    major_faults: 0,
                },
                counters: counters.map(|(task_clock_s, switches)| Counters {
                    task_clock_s,
                    context_switches: switches,
                    ..Default::default()
                }),
                sampled,
                probes: (preload.is_some() || python.is_some())
                    .then_some(ProbeData { preload, python }),
                probes_injected: Vec::new(),
                probe_notes: Vec::new(),
                stdout_file: None,
                stderr_file: None,
                host_other_cpu_cores: other,
            },
        )
}

fn host() -> impl Strategy<Value = Host> {
    (prop_oneof![Just(0u32), 1..512u32, Just(u32::MAX)], count()).prop_map(
        |(cpus, memory_bytes)| Host {
            logical_cpus: cpus,
            physical_cpus: Some(cpus),
            usable_cpus: cpus,
            memory_bytes,
            available_memory_bytes: Some(memory_bytes / 2),
            kernel: "6.1".into(),
            cpu_model: None,
            counters: "software".into(),
            perf_event_paranoid: Some(2),
        },
    )
}

/// Measurements with up to `max_points` points, each with up to `max_processes` processes per
/// sampled run.
fn measurements(max_points: usize, max_processes: usize) -> impl Strategy<Value = Measurements> {
    let point = (
        prop_oneof![Just(0u32), 1..64u32, Just(u32::MAX)],
        proptest::option::of(prop_oneof![Just("a"), Just("b")]),
        vec(run(max_processes), 0..4),
    )
        .prop_map(|(workers, mode, runs)| PointMeasurements {
            workers,
            params: mode
                .map(|m| BTreeMap::from([("mode".to_string(), m.to_string())]))
                .unwrap_or_default(),
            argv: vec!["prog".into(), workers.to_string()],
            runs,
        });
    (
        host(),
        prop_oneof![Just(Goal::Throughput), Just(Goal::Latency)],
        vec(point, 0..=max_points),
    )
        .prop_map(|(host, goal, points)| Measurements {
            host,
            command: vec!["prog".into(), "{workers}".into()],
            params: BTreeMap::new(),
            goal,
            output_dir: Some("/tmp/out".into()),
            points,
            rounds: None,
        })
}

/// Analysis, diagnosis, and the JSON of both: what `forkcast run` and `forkcast report` do.
fn analyse_everything(m: &Measurements) {
    let a = analyze::analyze(m);
    let d = diagnose::diagnose(m, &a);
    serde_json::to_vec(&a).expect("the analysis serialises");
    serde_json::to_vec(&d).expect("the diagnosis serialises");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn analysis_and_diagnosis_never_panic(m in measurements(6, 8)) {
        analyse_everything(&m);
    }
}

/// `m` with every sampled run's tree grown to `n` processes: copies of the ones it has (fresh
/// pids, the same parents), as a fork storm makes them. Generating thousands of distinct
/// processes costs proptest seconds a case; copying costs nothing.
fn storm(mut m: Measurements, n: usize) -> Measurements {
    for data in m
        .points
        .iter_mut()
        .flat_map(|p| &mut p.runs)
        .filter_map(|r| r.sampled.as_mut())
    {
        let seeds = data.processes.clone();
        for (i, p) in seeds
            .iter()
            .cycle()
            .take(n.saturating_sub(seeds.len()))
            .enumerate()
        {
            let pid = 10_000 + i as i32;
            let mut copy = p.clone();
            copy.pid = pid;
            copy.threads.iter_mut().for_each(|t| t.tid = pid);
            data.processes.push(copy);
        }
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Fork storms: thousands of processes in one run's tree.
    #[test]
    fn thousands_of_processes_never_panic(m in measurements(2, 6), n in 500..3000usize) {
        analyse_everything(&storm(m, n));
    }
}

/// A storm of 3000 short task processes, one of them sampled from tick 10,000,000 on: judging
/// who works while the tasks ran visits each process's own ticks, not the whole window per
/// process (that took minutes, found by `thousands_of_processes_never_panic`).
#[test]
fn a_storm_of_short_tasks_across_a_wide_tick_window_is_analysed() {
    let task = |pid: i32, first_tick: u32| ProcessRecord {
        pid,
        ppid: 1,
        comm: "gzip".into(),
        first_seen_s: 0.0,
        last_seen_s: 0.05,
        threads: vec![ThreadRecord {
            tid: pid,
            comm: "gzip".into(),
            last_seen_s: 0.05,
            on_cpu_s: 0.05,
            first_tick,
            busy: vec![1.0; 5],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut processes: Vec<ProcessRecord> =
        (2..3002).map(|pid| task(pid, pid as u32 * 5)).collect();
    processes.push(task(3002, 10_000_000));
    let data = SamplerData {
        processes,
        ..Default::default()
    };
    for requested in [1, 2, 8] {
        if let Some(w) = analyze::workers::identify(&data, requested) {
            assert_eq!(w.pids.len(), w.cpu_s.len(), "{:?}", w.layout);
        }
    }
}

/// The fork storm of issue 11: 512 sleeping children of one parent, each with the same sliver
/// of CPU, so no process stands out as busy.
#[test]
fn a_fork_storm_of_512_equal_sleepers_is_analysed() {
    let sleeper = |pid: i32| ProcessRecord {
        pid,
        ppid: 1,
        comm: "python3".into(),
        first_seen_s: 0.0,
        last_seen_s: 1.0,
        threads: vec![ThreadRecord {
            tid: pid,
            comm: "python3".into(),
            last_seen_s: 1.0,
            on_cpu_s: 0.001,
            ..Default::default()
        }],
        ..Default::default()
    };
    let data = SamplerData {
        processes: (1..=513).map(sleeper).collect(),
        ..Default::default()
    };
    for requested in [1, 2, 512] {
        if let Some(w) = analyze::workers::identify(&data, requested) {
            assert_eq!(w.pids.len() as u32, w.count, "{w:?}");
        }
    }
}
