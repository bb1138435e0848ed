//! The tree on hand-built analyses: each rule's answer and the recommendation it leads to.

use super::*;
use crate::analyze::ipc::ProbeSummary;
use crate::analyze::point::PointSummary;
use crate::analyze::waits::Sink;
use crate::analyze::{Analysis, Layout, Scaling, Series};
use crate::measure::{Host, Measurements, PointMeasurements};

fn host(cores: u32) -> Host {
    Host {
        logical_cpus: cores,
        physical_cpus: Some(cores),
        usable_cpus: cores,
        memory_bytes: 16 << 30,
        available_memory_bytes: Some(8 << 30),
        kernel: "test".into(),
        cpu_model: None,
        counters: "software".into(),
        perf_event_paranoid: None,
    }
}

/// One series: (workers, wall seconds, summary tweaks) per point; speedups filled in.
pub(super) fn sweep(
    cores: u32,
    points: Vec<(u32, f64, PointSummary)>,
    layout: Layout,
    goal: &str,
) -> (Measurements, Analysis) {
    let m = Measurements {
        host: host(cores),
        command: vec!["job".into(), "{workers}".into()],
        params: Default::default(),
        goal: goal.parse().expect("a goal"),
        output_dir: None,
        points: points
            .iter()
            .map(|(n, _, _)| PointMeasurements {
                workers: *n,
                params: Default::default(),
                argv: vec![],
                runs: vec![],
            })
            .collect(),
        rounds: None,
    };
    let (n0, w0) = (f64::from(points[0].0), points[0].1);
    let mut prev: Option<(f64, f64)> = None;
    let summaries: Vec<PointSummary> = points
        .into_iter()
        .map(|(n, wall, mut s)| {
            let here = (f64::from(n), 1.0 / wall);
            s.wall_s = Some(wall);
            s.runs_ok = 3;
            s.speedup = Some(w0 / wall);
            s.efficiency = Some((w0 / wall) / (f64::from(n) / n0));
            s.marginal_efficiency =
                prev.and_then(|p| crate::analyze::scaling::marginal_efficiency(p, here));
            s.worker_layout.get_or_insert(layout);
            s.oversubscribed = n > cores;
            prev = Some(here);
            s
        })
        .collect();
    let series = Series {
        params: Default::default(),
        points: (0..summaries.len()).collect(),
        scaling: Scaling::default(),
        best_throughput_per_s: Some(1.0),
        layout: Some(layout),
    };
    (
        m,
        Analysis {
            points: summaries,
            series: vec![series],
            primary: Some(0),
        },
    )
}

pub(super) fn busy(on_cpu: f64) -> PointSummary {
    PointSummary {
        on_cpu_share: Some(on_cpu),
        runqueue_share: Some(0.0),
        offcpu: Some(Default::default()),
        ..Default::default()
    }
}

/// `busy(on_cpu)` with the accounting the sampler's picture gives it: one worker slot, on a CPU
/// `on_cpu` of it, the rest blocked on what no sink names (`other`).
pub(super) fn worked(on_cpu: f64) -> PointSummary {
    PointSummary {
        accounting: accounted(1, on_cpu, &[("other", 1.0 - on_cpu)]).accounting,
        ..busy(on_cpu)
    }
}

/// A point whose accounting gave `useful` cores to work and `losses` (cause, cores) to the rest.
pub(super) fn accounted(workers: u32, useful: f64, losses: &[(&str, f64)]) -> PointSummary {
    use crate::analyze::accounting::{Accounting, Figure};
    let fig = |value| Figure {
        value,
        low: value,
        high: value,
    };
    PointSummary {
        accounting: Some(Accounting {
            workers,
            lost_cores: losses
                .iter()
                .map(|(k, v)| (k.to_string(), fig(*v)))
                .collect(),
            useful_cores: fig(useful),
            computation_scaling: None,
            baseline_efficiency: None,
            speedup: None,
            runs: 1,
            sources: vec![],
            per_run: vec![],
            per_run_cores: vec![],
        }),
        ..busy(0.98)
    }
}

/// `s` with the accounting of `n` worker slots over its runs, each run (sink cores, useful
/// cores): what the run lost to `sink:<kind>` beside its useful work, the rest to `other`.
pub(super) fn sink_accounted(
    mut s: PointSummary,
    n: u32,
    kind: &str,
    runs: &[(f64, f64)],
) -> PointSummary {
    use crate::analyze::accounting::{Accounting, Figure};
    let cause = format!("sink:{kind}");
    let mean = |f: &dyn Fn(&(f64, f64)) -> f64| {
        let xs: Vec<f64> = runs.iter().map(f).collect();
        Figure {
            value: xs.iter().sum::<f64>() / xs.len() as f64,
            low: xs.iter().copied().fold(f64::INFINITY, f64::min),
            high: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    };
    let other = |r: &(f64, f64)| f64::from(n) - r.0 - r.1;
    s.accounting = Some(Accounting {
        workers: n,
        lost_cores: [
            (cause.clone(), mean(&|r| r.0)),
            ("other".into(), mean(&other)),
        ]
        .into_iter()
        .collect(),
        useful_cores: mean(&|r| r.1),
        computation_scaling: None,
        baseline_efficiency: None,
        speedup: None,
        runs: runs.len() as u32,
        sources: vec![],
        per_run: vec![],
        per_run_cores: runs
            .iter()
            .map(|r| {
                [
                    (cause.clone(), r.0),
                    ("useful".into(), r.1),
                    ("other".into(), other(r)),
                ]
                .into_iter()
                .collect()
            })
            .collect(),
    });
    s
}

pub(super) fn step_of(d: &Diagnosis, id: StepId) -> &Step {
    d.steps
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}

pub(super) fn answer(d: &Diagnosis, id: StepId) -> Answer {
    step_of(d, id).answer
}

#[test]
fn cpu_bound_processes_that_scale_get_processes_and_the_core_count() {
    let (m, a) = sweep(
        2,
        vec![
            (1, 4.0, worked(0.98)),
            (2, 2.1, worked(0.97)),
            (4, 2.2, worked(0.5)),
        ],
        Layout::Processes,
        "throughput",
    );
    let d = diagnose(&m, &a);
    assert_eq!(answer(&d, StepId::CpuBound), Answer::Yes);
    assert_eq!(
        answer(&d, StepId::ThreadsScale),
        Answer::Unknown,
        "no threads series measured"
    );
    assert_eq!(d.recommendation.model, Some(Model::Processes));
    assert_eq!(d.recommendation.workers, Some(2), "4 exceeds the 2 cores");
    assert!(
        d.findings
            .iter()
            .any(|f| f.contains("4 workers came out slower than 2")),
        "{:?}",
        d.findings
    );
}

#[test]
fn mostly_blocked_workers_get_async_or_threads() {
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, worked(0.2)), (2, 2.0, worked(0.2))],
        Layout::Processes,
        "throughput",
    );
    let d = diagnose(&m, &a);
    assert_eq!(answer(&d, StepId::CpuBound), Answer::No);
    assert_eq!(d.recommendation.model, Some(Model::AsyncOrThreads));
}

#[test]
fn threads_that_scale_get_threads_and_threads_that_serialise_get_processes() {
    // Both threads work, next to nothing waits on the GIL.
    let (m, a) = sweep(
        2,
        vec![
            (1, 4.0, accounted(1, 0.99, &[])),
            (2, 2.2, accounted(2, 1.8, &[("gil", 0.02)])),
        ],
        Layout::Threads,
        "throughput",
    );
    assert_eq!(diagnose(&m, &a).recommendation.model, Some(Model::Threads));
    // They take turns: one works while the other waits.
    let (m, a) = sweep(
        2,
        vec![
            (1, 4.0, accounted(1, 0.99, &[])),
            (2, 3.9, accounted(2, 1.0, &[("gil", 1.0)])),
        ],
        Layout::Threads,
        "throughput",
    );
    let d = diagnose(&m, &a);
    assert_eq!(answer(&d, StepId::ThreadsScale), Answer::No);
    assert_eq!(d.recommendation.model, Some(Model::Processes));
    assert_eq!(
        d.recommendation.workers,
        Some(1),
        "the step to 2 threads does not pay"
    );
}

fn with_sink(on_cpu: f64, share: f64, waiting: u32) -> PointSummary {
    let sink = Sink {
        resource: "tcp:10.0.0.5:5432".into(),
        kind: "postgresql".parse().unwrap(),
        wait_share: share,
        direct_share: share,
        workers_waiting: waiting,
        workers_writing: waiting,
        ..Default::default()
    };
    let mut s = busy(on_cpu);
    s.offcpu_resources = Some([(sink.resource.clone(), share)].into_iter().collect());
    s.external_waits = Some(vec![sink.clone()]);
    s.sinks = Some(if waiting >= 2 { vec![sink] } else { vec![] });
    // One slot per worker waiting: the accounting's cores are its shares of each.
    let n = f64::from(waiting);
    sink_accounted(s, waiting, "postgresql", &[(share * n, on_cpu * n)])
}

#[test]
fn a_sink_whose_wait_grows_with_workers_gets_a_single_writer() {
    let (m, a) = sweep(
        4,
        vec![
            (1, 4.0, with_sink(0.9, 0.05, 1)),
            (4, 1.6, with_sink(0.75, 0.22, 4)),
        ],
        Layout::Processes,
        "throughput",
    );
    let d = diagnose(&m, &a);
    assert_eq!(answer(&d, StepId::SharedSink), Answer::Yes);
    assert_eq!(d.recommendation.sink, Some(SinkAdvice::SingleWriter));
}

#[test]
fn a_sink_without_contention_is_written_directly_and_no_sink_is_none() {
    let (m, a) = sweep(
        4,
        vec![
            (1, 4.0, with_sink(0.9, 0.04, 1)),
            (4, 1.1, with_sink(0.9, 0.03, 4)),
        ],
        Layout::Processes,
        "throughput",
    );
    let d = diagnose(&m, &a);
    assert_eq!(
        answer(&d, StepId::SharedSink),
        Answer::No,
        "3 % and not rising"
    );
    assert_eq!(d.recommendation.sink, Some(SinkAdvice::Direct));
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, busy(0.99)), (2, 2.0, busy(0.99))],
        Layout::Processes,
        "throughput",
    );
    assert_eq!(diagnose(&m, &a).recommendation.sink, Some(SinkAdvice::None));
}

/// `s` with an accounting of `n` slots that lost `imbalance` cores to slots with no task while
/// others worked, the rest useful.
fn imbalanced(mut s: PointSummary, n: u32, imbalance: f64) -> PointSummary {
    let useful = f64::from(n) - imbalance;
    s.accounting = accounted(n, useful, &[("imbalance", imbalance)]).accounting;
    s
}

#[test]
fn imbalance_over_the_bar_gets_dynamic_small_tasks_where_no_task_was_timed() {
    let scheduling = |imbalance: f64| {
        let (m, a) = sweep(
            2,
            vec![
                (1, 4.0, imbalanced(busy(0.99), 1, 0.0)),
                (2, 2.9, imbalanced(busy(0.95), 2, imbalance)),
            ],
            Layout::Processes,
            "throughput",
        );
        let d = diagnose(&m, &a);
        let st = step_of(&d, StepId::TaskVariance);
        assert_eq!(
            st.deciding.unwrap().figure.name,
            "imbalance_share",
            "{}",
            st.evidence
        );
        assert_eq!(st.measured["imbalance_share"], imbalance / 2.0);
        d.recommendation.scheduling
    };
    assert_eq!(scheduling(0.7), Some(Scheduling::DynamicSmallTasks));
    assert_eq!(scheduling(0.06), Some(Scheduling::Chunked));
}

#[test]
fn a_straggler_tail_the_accounting_gave_to_the_gil_or_the_run_queue_is_not_uneven_tasks() {
    // Threads taking turns on the GIL, or a worker the host gave fewer cycles: the outside-in
    // tail was 30 % of the span, but the accounting put those worker-seconds in `gil` and
    // `run_queue`, not in `imbalance`. The old tail rule read 0.3 >= 0.15 here and needed
    // special cases (idle cores, the straggler's own work) to say no.
    for (layout, cause) in [(Layout::Threads, "gil"), (Layout::Processes, "run_queue")] {
        let mut tail = accounted(2, 1.3, &[(cause, 0.68), ("imbalance", 0.02)]);
        tail.straggler_tail = Some(0.3);
        tail.straggler_idle_cores = Some(0.9);
        let (m, a) = sweep(
            2,
            vec![(1, 4.0, accounted(1, 0.99, &[])), (2, 3.0, tail)],
            layout,
            "throughput",
        );
        let d = diagnose(&m, &a);
        let st = step_of(&d, StepId::TaskVariance);
        assert_eq!(st.answer, Answer::No, "{cause}: {}", st.evidence);
        assert_eq!(st.measured["imbalance_share"], 0.01);
        assert!(!st.measured.contains_key("straggler_tail"));
        assert_eq!(d.recommendation.scheduling, Some(Scheduling::Chunked));
    }
}

#[test]
fn a_pools_imbalance_beside_even_timed_tasks_is_not_uneven_tasks() {
    // sqlite_pool.py --hold compute: a worker holds the last task while it sleeps in SQLite's
    // busy handler and the other idles on an empty pipe: imbalance, but the timed tasks are
    // even (CV 0.25 over 400), so it came from the sink, not from the tasks' sizes.
    use crate::analyze::ipc::TaskStats;
    let timed = |s: PointSummary| PointSummary {
        probes: Some(ProbeSummary {
            task_durations: Some(TaskStats {
                count: 400,
                cv: Some(0.25),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..s
    };
    let (m, a) = sweep(
        2,
        vec![
            (1, 4.0, timed(imbalanced(busy(0.99), 1, 0.0))),
            (2, 3.0, timed(imbalanced(busy(0.95), 2, 0.4))),
        ],
        Layout::Processes,
        "throughput",
    );
    let d = diagnose(&m, &a);
    let st = step_of(&d, StepId::TaskVariance);
    assert_eq!(st.answer, Answer::No, "{}", st.evidence);
    assert_eq!(st.deciding.unwrap().figure.name, "task_duration_cv");
    assert!(st.evidence.contains("elsewhere"), "{}", st.evidence);
}

#[test]
fn task_slots_idle_beside_even_task_lives_are_uneven() {
    // batch_wait.sh: batches of `cmd &` and `wait`; the tasks' lives vary little (CV 0.6 over
    // 12) but the slots idle at every wait, which the lives do not see.
    let slots = |idle: f64| PointSummary {
        process_tasks: crate::analyze::ipc::task_stats(&[
            1.0, 0.2, 1.0, 0.2, 1.0, 0.2, 1.0, 0.2, 1.0, 0.2, 1.0, 0.2,
        ]),
        ..imbalanced(busy(0.99), 2, idle)
    };
    let scheduling = |idle: f64| {
        let (m, a) = sweep(
            2,
            vec![(1, 7.2, slots(0.0)), (2, 5.0, slots(idle))],
            Layout::Tasks,
            "throughput",
        );
        let d = diagnose(&m, &a);
        let st = step_of(&d, StepId::TaskVariance);
        assert_eq!(st.deciding.unwrap().figure.name, "imbalance_share");
        assert!(st.measured["task_duration_cv"].as_f64().unwrap() < 1.0);
        d.recommendation.scheduling
    };
    assert_eq!(scheduling(0.7), Some(Scheduling::DynamicSmallTasks));
    assert_eq!(scheduling(0.1), Some(Scheduling::Chunked));
}

#[test]
fn a_few_task_processes_with_slots_idle_behind_the_big_one_are_uneven() {
    // xargs_few.sh: five batches, one holding most of the work; too few for a CV, but at 2
    // slots one idles 45 % of the time while the big one runs.
    let slots = |idle: f64| PointSummary {
        process_tasks: crate::analyze::ipc::task_stats(&[4.0, 0.05, 0.05, 0.05, 0.05]),
        ..imbalanced(busy(0.99), 2, idle)
    };
    let scheduling = |idle: f64| {
        let (m, a) = sweep(
            2,
            vec![(1, 4.2, slots(0.0)), (2, 4.1, slots(idle))],
            Layout::Tasks,
            "throughput",
        );
        let d = diagnose(&m, &a);
        let st = step_of(&d, StepId::TaskVariance);
        assert_eq!(
            st.measured["imbalance_share"],
            idle / 2.0,
            "{}",
            st.evidence
        );
        assert!(!st.measured.contains_key("task_duration_cv"));
        d.recommendation.scheduling
    };
    assert_eq!(scheduling(0.9), Some(Scheduling::DynamicSmallTasks));
    assert_eq!(scheduling(0.1), Some(Scheduling::Chunked));
}

#[test]
fn megabytes_per_task_get_references_or_shared_memory_and_no_probe_leaves_it_unknown() {
    let ipc = |bytes: f64, tax: f64| PointSummary {
        probes: Some(ProbeSummary {
            ipc_bytes: Some(bytes * 30.0),
            ipc_bytes_per_task: Some(bytes),
            ipc_tax: Some(tax),
            ..Default::default()
        }),
        ..busy(0.95)
    };
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, ipc(8e6, 0.09)), (2, 2.5, ipc(8e6, 0.10))],
        Layout::Processes,
        "throughput",
    );
    let d = diagnose(&m, &a);
    assert_eq!(answer(&d, StepId::LargePayload), Answer::Yes);
    assert_eq!(
        d.recommendation.data_passing,
        Some(DataPassing::ReferencesOrSharedMemory)
    );
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, ipc(300.0, 0.001)), (2, 2.0, ipc(300.0, 0.001))],
        Layout::Processes,
        "throughput",
    );
    assert_eq!(
        diagnose(&m, &a).recommendation.data_passing,
        Some(DataPassing::Direct)
    );
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, busy(0.99)), (2, 2.0, busy(0.99))],
        Layout::Processes,
        "throughput",
    );
    let d = diagnose(&m, &a);
    assert_eq!(answer(&d, StepId::LargePayload), Answer::Unknown);
    assert_eq!(d.recommendation.data_passing, None, "never guessed");
}

#[test]
fn the_goal_is_the_users_and_confidence_drops_on_noise() {
    let noisy = PointSummary {
        wall_stddev_s: Some(0.5),
        noisy_host: true,
        ..busy(0.99)
    };
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, busy(0.99)), (2, 2.0, noisy)],
        Layout::Processes,
        "latency",
    );
    let d = diagnose(&m, &a);
    assert_eq!(answer(&d, StepId::LatencyGoal), Answer::Yes);
    assert_ne!(d.confidence, Confidence::High);
    assert!(
        d.confidence_reasons
            .iter()
            .any(|r| r.contains("other processes")),
        "{:?}",
        d.confidence_reasons
    );
}

#[test]
fn a_wide_spread_of_task_durations_gets_dynamic_small_tasks_even_without_a_tail() {
    use crate::analyze::ipc::TaskStats;
    let tasks = |cv: f64| PointSummary {
        probes: Some(ProbeSummary {
            task_durations: Some(TaskStats {
                count: 400,
                cv: Some(cv),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..imbalanced(busy(0.97), 2, 0.02)
    };
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, tasks(4.6)), (2, 2.1, tasks(4.4))],
        Layout::Processes,
        "throughput",
    );
    let d = diagnose(&m, &a);
    assert_eq!(
        answer(&d, StepId::TaskVariance),
        Answer::Yes,
        "CV 4.6 with small chunks hiding the tail"
    );
    assert_eq!(
        d.recommendation.scheduling,
        Some(Scheduling::DynamicSmallTasks)
    );
    let (m, a) = sweep(
        2,
        vec![(1, 4.0, tasks(0.04)), (2, 2.0, tasks(0.3))],
        Layout::Processes,
        "throughput",
    );
    assert_eq!(
        diagnose(&m, &a).recommendation.scheduling,
        Some(Scheduling::Chunked)
    );
}

mod held;
mod owned;
mod walked;

#[test]
fn evidence_figures_are_never_negative_zero() {
    let empty: f64 = std::iter::empty::<f64>().sum();
    for x in [empty, -0.0, -1e-9] {
        let r = super::step::round(x, 3);
        assert!(r == 0.0 && r.is_sign_positive(), "{x} rounds to {r:?}");
    }
}

#[test]
fn waits_on_the_pools_pipes_are_netted_from_cpu_bound_whatever_the_payload() {
    // Workers on a CPU 68 % of the time, the rest waiting on the pool's pipe for their input:
    // the accounting's transfer, the pool's own plumbing, which cpu_bound nets whether
    // large_payload says the payloads are big (references remove it) or not (threads do).
    let piped = |per_task: f64| PointSummary {
        probes: Some(ProbeSummary {
            ipc_bytes: Some(per_task * 30.0),
            ipc_bytes_per_task: Some(per_task),
            ipc_tax: Some(if per_task > 1e6 { 0.2 } else { 0.001 }),
            ..Default::default()
        }),
        offcpu: Some(
            [(crate::analyze::waits::OffCpuKind::PIPE, 0.32)]
                .into_iter()
                .collect(),
        ),
        accounting: accounted(1, 0.68, &[("transfer", 0.32)]).accounting,
        ..busy(0.68)
    };
    let sweep_of = |per_task: f64| {
        sweep(
            2,
            vec![(1, 4.0, piped(per_task)), (2, 2.4, piped(per_task))],
            Layout::Processes,
            "throughput",
        )
    };
    for (per_task, payload) in [(8e6, Answer::Yes), (300.0, Answer::No)] {
        let (m, a) = sweep_of(per_task);
        let d = diagnose(&m, &a);
        assert_eq!(answer(&d, StepId::LargePayload), payload);
        let cpu = step_of(&d, StepId::CpuBound);
        assert_eq!(cpu.answer, Answer::Yes, "{}", cpu.evidence);
        assert_eq!(cpu.measured["transfer_cores"], 0.32);
        assert_eq!(cpu.measured["work_on_cpu_share"], 1.0);
    }
}

#[test]
fn every_step_id_is_written_as_serde_writes_it() {
    let (m, a) = sweep(
        2,
        vec![(1, 2.0, busy(0.9))],
        Layout::Processes,
        "throughput",
    );
    let d = diagnose(&m, &a);
    assert_eq!(d.steps.len(), 8, "every step is walked, answered or not");
    for st in &d.steps {
        assert_eq!(serde_json::to_value(st.id).unwrap(), st.id.as_str());
        assert_eq!(st.id.to_string(), st.id.as_str());
    }
}
