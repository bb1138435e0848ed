//! Steps about how the work meets the world: a shared sink, and uneven tasks.

use super::{primary_points, round, step};
use crate::analyze::{Analysis, Layout};
use crate::diagnose::thresholds::{
    MIN_TASKS_FOR_CV, SINK_RISE_FACTOR, SINK_WAIT_SHARE, STRAGGLER_IDLE_CORES,
    STRAGGLER_TAIL_SHARE, TASK_DURATION_CV,
};
use crate::diagnose::{Answer, SinkAdvice, Step};
use crate::measure::Measurements;
use serde_json::json;
use std::collections::BTreeMap;

/// Do workers contend on one sink? The largest count's waits on a shared resource outside the
/// pool's plumbing, and whether they grew from the smallest count.
pub fn shared_sink(m: &Measurements, a: &Analysis) -> (Step, Option<SinkAdvice>) {
    let mut st = step(
        "shared_sink",
        "Do workers contend on one sink (database, file, network service)?",
        Answer::Unknown,
        BTreeMap::new(),
    );
    st.threshold = format!(
        "sink wait >= {SINK_WAIT_SHARE} of worker time at the largest count, rising with n -> yes"
    );
    st.source = "procfs sampler: blocked threads' syscall and fd, resolved to a resource".into();
    let pts: Vec<_> = primary_points(m, a)
        .into_iter()
        .filter(|(_, s)| s.offcpu.is_some())
        .collect();
    let (Some(&(n_lo, lo)), Some(&(n_hi, hi))) = (pts.first(), pts.last()) else {
        st.evidence = "The sampler saw no workers' waits, so sinks were not measured.".into();
        return (st, None);
    };
    let external = hi.external_waits.clone().unwrap_or_default();
    let top = hi.sinks.as_ref().and_then(|s| s.first());
    let Some(sink) = top else {
        st.answer = Answer::No;
        st.evidence = match external.first() {
            Some(e) => format!(
                "At {n_hi} workers only one worker at a time waited on {} ({}, {:.1} % of worker time): no shared sink.",
                e.resource, e.kind, e.wait_share * 100.0
            ),
            None => format!("At {n_hi} workers no worker waited on a database, file or network service."),
        };
        // Something of the tree writing to a service (a single writer, say) is a sink too,
        // and so is a file the workers wrote, even when no worker waits on it.
        let service_written = hi.probes.as_ref().is_some_and(|p| {
            p.sink_io
                .iter()
                .any(|io| io.kind != crate::analyze::waits::SinkKind::FILE && io.bytes_out > 0.0)
        });
        let workers_wrote = hi.workers_write_sinks == Some(true);
        let advice = if external.is_empty() && !service_written && !workers_wrote {
            SinkAdvice::None
        } else {
            SinkAdvice::Direct
        };
        return (st, Some(advice));
    };
    // At the smallest count the same resource is usually waited on by the one worker alone.
    // The same resource by name; or, when each run made a fresh one (a database in a new
    // temporary folder), the largest of the same kind.
    let before = lo
        .external_waits
        .iter()
        .flatten()
        .find(|k| k.resource == sink.resource)
        .or_else(|| {
            lo.external_waits
                .iter()
                .flatten()
                .find(|k| k.kind == sink.kind)
        })
        .map(|k| k.wait_share)
        .or_else(|| {
            lo.offcpu_resources
                .as_ref()
                .and_then(|r| r.get(&sink.resource))
                .copied()
        })
        .unwrap_or(0.0);
    // Growth is judged per second of work done: when the sink's server shares the cores, CPU
    // contention stretches every worker's life and hides a wait that grew per task.
    let per_work = |share: f64, s: &crate::analyze::point::PointSummary| {
        s.on_cpu_share.filter(|&c| c > 0.0).map(|c| share / c)
    };
    let (w_lo, w_hi) = (per_work(before, lo), per_work(sink.wait_share, hi));
    let rising = n_hi > n_lo
        && match (w_lo, w_hi) {
            (Some(a), Some(b)) => b > a * SINK_RISE_FACTOR,
            _ => sink.wait_share > before * SINK_RISE_FACTOR,
        };
    // What the growth cost: the waits added per CPU second since the smallest count stretch
    // every worker's life by that much of its CPU time; without them the same work would end
    // sooner by that share.
    let added = match (w_lo, w_hi, hi.on_cpu_share) {
        (Some(a), Some(b), Some(on)) if b > a => ((b - a) * on).min(0.99),
        _ => 0.0,
    };
    let cost = hi
        .speedup
        .filter(|_| n_hi > n_lo && added > 0.0)
        .map(|sp| (sp / (1.0 - added), sp));
    let lost_speedup = hi.efficiency.is_none_or(|e| e < 1.0);
    st.measured.insert("resource".into(), json!(sink.resource));
    st.measured.insert("kind".into(), json!(sink.kind));
    st.measured
        .insert("workers_waiting".into(), json!(sink.workers_waiting));
    st.measured
        .insert("workers_writing".into(), json!(sink.workers_writing));
    st.measured
        .insert("wait_share".into(), json!(round(sink.wait_share, 3)));
    st.measured.insert(
        "direct_wait_share".into(),
        json!(round(sink.direct_share, 3)),
    );
    st.measured.insert(
        "writer_sleep_share".into(),
        json!(round(sink.sleep_share, 3)),
    );
    st.measured
        .insert(format!("wait_share_at_{n_lo}"), json!(round(before, 3)));
    st.measured.insert(
        "wait_per_cpu_second".into(),
        json!(w_hi.map(|w| round(w, 3))),
    );
    st.measured.insert(
        format!("wait_per_cpu_second_at_{n_lo}"),
        json!(w_lo.map(|w| round(w, 3))),
    );
    if let Some((without, with)) = cost {
        st.measured.insert(
            "speedup_without_added_waits".into(),
            json!(round(without, 2)),
        );
        st.measured.insert("speedup".into(), json!(round(with, 2)));
    }
    let contended =
        sink.wait_share >= SINK_WAIT_SHARE && ((rising && lost_speedup) || n_hi == n_lo);
    st.answer = if contended { Answer::Yes } else { Answer::No };
    let how = if sink.sleep_share > 0.0 {
        format!(
            " ({:.1} % blocked on it, {:.1} % asleep between tries to write it)",
            sink.direct_share * 100.0,
            sink.sleep_share * 100.0
        )
    } else {
        String::new()
    };
    st.evidence = format!(
        "At {n_hi} workers, {} workers lost {:.1} % of their time to {} ({}){how}{}.",
        sink.workers_waiting.max(sink.workers_writing),
        sink.wait_share * 100.0,
        sink.resource,
        sink.kind,
        if n_hi > n_lo {
            format!(
                ", against {:.1} % at {n_lo} worker{}; per second of CPU work {} s against {} s{}{}",
                before * 100.0,
                if n_lo == 1 { "" } else { "s" },
                w_hi.map_or("?".into(), |w| format!("{w:.2}")),
                w_lo.map_or("?".into(), |w| format!("{w:.2}")),
                if rising {
                    ", so the wait grows with workers"
                } else {
                    ", so it does not grow"
                },
                match cost {
                    Some((without, with)) if rising => format!(
                        "; it cost speedup: {with:.2} measured, about {without:.2} without the added waits"
                    ),
                    _ => String::new(),
                }
            )
        } else {
            " (only one worker count measured, so its growth is unknown)".into()
        }
    );
    (
        st,
        Some(if contended {
            SinkAdvice::SingleWriter
        } else {
            SinkAdvice::Direct
        }),
    )
}

/// Are task sizes uneven? From outside: the straggler tail at the largest count within cores.
pub fn task_variance(m: &Measurements, a: &Analysis) -> Step {
    let mut st = step(
        "task_variance",
        "Is task-size variance high?",
        Answer::Unknown,
        BTreeMap::new(),
    );
    st.threshold = format!(
        "task duration CV >= {TASK_DURATION_CV} (python probe) -> yes; where no tasks were timed, \
         straggler tail >= {STRAGGLER_TAIL_SHARE} -> yes; for task processes in slots, idle \
         slots >= {STRAGGLER_TAIL_SHARE} -> yes as well"
    );
    st.source = "python probe: task durations (CV); procfs sampler: lives of task processes \
                 (process-per-task tools), workers busy per tick (straggler tail), CPU spread \
                 across workers"
        .into();
    let cores = crate::analyze::parallel_cores(&m.host);
    let pts = primary_points(m, a);
    // Task sizes are a property of the tasks: read them where workers contend least (the
    // smallest count), from enough tasks for a spread to mean something.
    // Without the python probe, a process-per-task tool's tasks are its processes.
    let enough = |n: u32, t: &crate::analyze::ipc::TaskStats| {
        (t.count >= MIN_TASKS_FOR_CV).then_some((n, t.cv?, t.count))
    };
    let cv = pts
        .iter()
        .find_map(|(n, s)| enough(*n, s.probes.as_ref()?.task_durations.as_ref()?))
        .or_else(|| {
            pts.iter()
                .find_map(|(n, s)| enough(*n, s.process_tasks.as_ref()?))
        });
    let tail = pts
        .iter()
        .filter(|(n, s)| *n >= 2 && *n <= cores.max(2) && s.straggler_tail.is_some())
        .max_by_key(|(n, _)| *n)
        .map(|&(n, s)| {
            (
                n,
                s.straggler_tail.unwrap_or(0.0),
                s.worker_cpu_cv,
                s.straggler_idle_cores,
            )
        });
    // A process-per-task tool's tail is its slots with no task alive while tasks were still to
    // start (task lives, not CPU): a busy host slows the tasks but leaves them in their slots,
    // and the last round is left out, so idle slots are the driver's own (a `wait` after each
    // batch), which the tasks' CV does not see and a dynamic hand-out removes.
    let idle_slots = tail.is_some_and(|(n, _, _, _)| {
        pts.iter()
            .any(|(pn, s)| *pn == n && s.worker_layout == Some(Layout::Tasks))
    });
    if cv.is_none() && tail.is_none() {
        st.evidence = "Neither task durations (python probe) nor a timeline with two or more \
                       workers were measured."
            .into();
        return st;
    }
    let mut said = Vec::new();
    if let Some((n, cv, count)) = cv {
        st.measured
            .insert("task_duration_cv".into(), json!(round(cv, 3)));
        st.measured.insert("tasks".into(), json!(count));
        said.push(format!(
            "at {n} worker{} {count} tasks varied by CV {cv:.2}",
            if n == 1 { "" } else { "s" }
        ));
    }
    if let Some((n, t, cpu_cv, idle)) = tail {
        st.measured.insert("workers".into(), json!(n));
        st.measured
            .insert("straggler_tail".into(), json!(round(t, 3)));
        st.measured
            .insert("worker_cpu_cv".into(), json!(cpu_cv.map(|c| round(c, 3))));
        if let Some(c) = idle {
            st.measured
                .insert("straggler_idle_cores".into(), json!(round(c, 2)));
        }
        said.push(format!(
            "at {n} workers the last {:.0} % of the pool's active time ran with fewer workers busy than at its widest{}",
            t * 100.0,
            idle.filter(|_| t > 0.0)
                .map(|c| format!(", leaving {c:.2} cores idle that the workers had used before it"))
                .unwrap_or_default()
        ));
    }
    // A tail that idled no capacity: the workers shared something (one GIL) before it.
    let tail_idles_nothing = tail.is_some_and(|(_, t, _, idle)| {
        t >= STRAGGLER_TAIL_SHARE && idle.is_some_and(|c| c < STRAGGLER_IDLE_CORES)
    });
    // The tasks' own durations measure their spread directly; the straggler tail is the
    // outside-in proxy, which a busy host or the last round of even chunks also produces, so it
    // decides only where the probe timed no tasks.
    let long_tail =
        tail.is_some_and(|(_, t, _, _)| t >= STRAGGLER_TAIL_SHARE) && !tail_idles_nothing;
    let high = match cv {
        Some((_, c, _)) => c >= TASK_DURATION_CV || (idle_slots && long_tail),
        None => long_tail,
    };
    if tail_idles_nothing {
        said.push(format!(
            "that tail left less than {STRAGGLER_IDLE_CORES} cores idle: the workers were taking \
             turns on something shared (the GIL, a lock) before it, so it is no sign of uneven tasks"
        ));
    }
    if idle_slots && long_tail {
        said.push(
            "those were task slots left idle with tasks still to start (task lives, not a \
                   busy host), which a dynamic hand-out of small tasks keeps filled"
                .into(),
        );
    }
    if cv.is_some() && long_tail && !high {
        said.push("the tail comes from elsewhere (the last round of chunks, or a busy host), as the tasks themselves are even".into());
    }
    st.answer = if high { Answer::Yes } else { Answer::No };
    let mut evidence = said.join("; ");
    evidence[..1].make_ascii_uppercase();
    st.evidence = format!("{evidence}.");
    st
}

#[cfg(test)]
mod tests {
    use crate::analyze::waits::Sink;
    use crate::analyze::Layout;
    use crate::diagnose::tests::{answer, busy, sweep};
    use crate::diagnose::{diagnose, Answer, SinkAdvice};

    /// Writers of one SQLite file: `direct` blocked on it, `sleep` asleep in its busy handler.
    fn sqlite(
        on_cpu: f64,
        direct: f64,
        sleep: f64,
        writers: u32,
    ) -> crate::analyze::point::PointSummary {
        let mut s = busy(on_cpu);
        let sink = Sink {
            resource: "file:/data/results.db".into(),
            kind: "sqlite".parse().unwrap(),
            wait_share: direct + sleep,
            direct_share: direct,
            sleep_share: sleep,
            workers_waiting: writers,
            workers_writing: writers,
        };
        s.external_waits = Some(vec![sink.clone()]);
        s.sinks = Some(if writers >= 2 { vec![sink] } else { vec![] });
        s
    }

    #[test]
    fn writers_that_sleep_in_a_busy_handler_more_per_cpu_second_with_n_need_one_writer() {
        let (m, a) = sweep(
            2,
            vec![
                (1, 10.0, sqlite(0.95, 0.02, 0.0, 1)),
                (2, 9.0, sqlite(0.5, 0.02, 0.45, 2)),
            ],
            Layout::Processes,
            "throughput",
        );
        let d = diagnose(&m, &a);
        assert_eq!(answer(&d, "shared_sink"), Answer::Yes);
        assert_eq!(d.recommendation.sink, Some(SinkAdvice::SingleWriter));
        let st = d.steps.iter().find(|s| s.id == "shared_sink").unwrap();
        assert_eq!(st.measured["resource"], "file:/data/results.db");
        assert_eq!(st.measured["writer_sleep_share"], 0.45);
        // Added waits: 0.94 - 0.02 s per CPU second, on half the life: speedup 1.11 / 0.54.
        let without = st.measured["speedup_without_added_waits"].as_f64().unwrap();
        assert!((without - 1.11 / (1.0 - 0.46)).abs() < 0.02, "{without}");
        assert!(st.evidence.contains("cost speedup"), "{}", st.evidence);
    }

    #[test]
    fn writers_whose_sleeps_do_not_grow_per_cpu_second_write_directly() {
        // time.sleep as part of each task: the same per CPU second at 1 and 2 workers.
        let (m, a) = sweep(
            2,
            vec![
                (1, 10.0, sqlite(0.6, 0.0, 0.3, 1)),
                (2, 5.0, sqlite(0.6, 0.0, 0.3, 2)),
            ],
            Layout::Processes,
            "throughput",
        );
        let d = diagnose(&m, &a);
        assert_eq!(answer(&d, "shared_sink"), Answer::No);
        assert_eq!(d.recommendation.sink, Some(SinkAdvice::Direct));
    }
}
