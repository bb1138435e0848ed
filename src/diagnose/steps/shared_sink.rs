//! Do workers contend on one sink? Read from the accounting: the cores the sink cost
//! (`sink:<name>`) at the largest count, and whether they grew per useful core from the
//! smallest count. The sampler's waits (waits.rs) say which resource two or more workers
//! shared; the accounting says what it cost, inside the workers' spans of work, in the same
//! cores as every other loss. A sink that serves the workers side by side costs each second of
//! work the same at every count; one that makes them queue costs more per second of work as
//! n grows, and that growth is the contention one batched writer removes.

use crate::analyze::select::primary_points;
use crate::analyze::sink_growth::{sink_growth, SinkGrowth};
use crate::analyze::waits::{Sink, SinkKind};
use crate::analyze::Analysis;
use crate::diagnose::deciding::Deciding;
use crate::diagnose::read::sink_is_file;
use crate::diagnose::step::{plural, round, Measured, Step, Words};
use crate::diagnose::step::{Answer, StepId};
use crate::diagnose::thresholds::{SINK_RISE_FACTOR, SINK_WAIT_SHARE};
use crate::diagnose::verdict::SinkAdvice;
use crate::measure::{Measurements, Service};

const QUESTION: &str = "Do workers contend on one sink (database, file, network service)?";

#[derive(Debug, Clone)]
pub enum Figures {
    /// The sampler saw no workers' waits.
    Unmeasured,
    /// No resource was waited on by two or more workers at the largest count.
    NotShared {
        workers: u32,
        /// The resource waited on most (by one worker at a time).
        top_wait: Option<Sink>,
        /// Something of the tree wrote to a sink (a single writer, the workers' files).
        writes: bool,
    },
    Shared {
        workers_low: u32,
        workers: u32,
        /// The resource as the sampler saw it shared.
        sink: Sink,
        /// Its cost in the accounting.
        growth: SinkGrowth,
        /// The largest count's efficiency is below 1 (or unknown): speedup was lost.
        lost_speedup: bool,
    },
}

pub fn figures(m: &Measurements, a: &Analysis) -> Figures {
    let pts: Vec<_> = primary_points(m, a)
        .into_iter()
        .filter(|(_, s)| s.offcpu.is_some())
        .collect();
    let (Some(&(n_lo, lo)), Some(&(n_hi, hi))) = (pts.first(), pts.last()) else {
        return Figures::Unmeasured;
    };
    let external = hi.external_waits.as_deref().unwrap_or_default();
    let Some(sink) = hi.sinks.as_ref().and_then(|s| s.first()) else {
        // Something of the tree writing to a service (a single writer, say) is a sink too,
        // and so is a file the workers wrote, even when no worker waits on it.
        let service_written = hi.probes.as_ref().is_some_and(|p| {
            p.sink_io
                .iter()
                .any(|io| !sink_is_file(io) && io.bytes_out > 0.0)
        });
        let workers_wrote = hi.workers_write_sinks == Some(true);
        return Figures::NotShared {
            workers: n_hi,
            top_wait: external.first().cloned(),
            writes: !external.is_empty() || service_written || workers_wrote,
        };
    };
    let Some(growth) = sink_growth((n_lo, lo), (n_hi, hi), sink) else {
        return Figures::Unmeasured;
    };
    Figures::Shared {
        workers_low: n_lo,
        workers: n_hi,
        sink: sink.clone(),
        growth,
        lost_speedup: hi.efficiency.is_none_or(|e| e < 1.0),
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub answer: Answer,
    pub sink: Option<SinkAdvice>,
    /// Shared only: its cost per useful core grew beyond the noise.
    pub rising: bool,
}

/// Grew per useful core by the factor.
fn rising(n_lo: u32, n_hi: u32, g: &SinkGrowth) -> bool {
    n_hi > n_lo
        && match g.growth {
            Some(r) => r >= SINK_RISE_FACTOR.value,
            // Nothing lost to it per useful core at the smallest count: any cost is growth.
            None => g.lost_cores > 0.0,
        }
}

impl Figures {
    /// The figure that decided a shared sink: its share of the slots' time under the bar,
    /// else how its cost per useful core grew from the smallest count, with the interval of
    /// that ratio over the runs (the share where it grew from nothing).
    pub fn deciding(&self) -> Option<Deciding> {
        let Figures::Shared {
            workers_low,
            workers,
            growth: g,
            ..
        } = self
        else {
            return None;
        };
        let share = Deciding::above("lost_core_share", g.share, SINK_WAIT_SHARE.value);
        if !share.yes_at(share.value) || workers == workers_low {
            return Some(share);
        }
        let Some(r) = g.growth else {
            return Some(share);
        };
        let growth = Deciding::above("wait_per_cpu_second_growth", r, SINK_RISE_FACTOR.value);
        Some(match g.growth_interval {
            Some((low, high)) => growth.over_runs(low, high, g.runs),
            None => growth,
        })
    }
}

pub fn decide(f: &Figures) -> Decision {
    match f {
        Figures::Unmeasured => Decision {
            answer: Answer::Unknown,
            sink: None,
            rising: false,
        },
        Figures::NotShared { writes, .. } => Decision {
            answer: Answer::No,
            sink: Some(if *writes {
                SinkAdvice::Direct
            } else {
                SinkAdvice::None
            }),
            rising: false,
        },
        Figures::Shared {
            workers_low,
            workers,
            growth,
            lost_speedup,
            ..
        } => {
            let rising = rising(*workers_low, *workers, growth);
            let contended = growth.share >= SINK_WAIT_SHARE.value
                && ((rising && *lost_speedup) || workers == workers_low);
            Decision {
                answer: if contended { Answer::Yes } else { Answer::No },
                sink: Some(if contended {
                    SinkAdvice::SingleWriter
                } else {
                    SinkAdvice::Direct
                }),
                rising,
            }
        }
    }
}

fn measured(f: &Figures) -> Measured {
    let mut out = Measured::default();
    let Figures::Shared {
        workers_low: n_lo,
        sink,
        growth: g,
        ..
    } = f
    else {
        return out;
    };
    out.put("resource", &sink.resource);
    out.put("kind", sink.kind);
    out.put("workers_waiting", sink.workers_waiting);
    out.put("workers_writing", sink.workers_writing);
    out.put("wait_share", round(sink.wait_share, 3));
    out.put("direct_wait_share", round(sink.direct_share, 3));
    out.put("writer_sleep_share", round(sink.sleep_share, 3));
    out.put("cause", &g.cause);
    out.put("lost_cores", round(g.lost_cores, 3));
    out.put(
        format!("lost_cores_at_{n_lo}"),
        round(g.lost_cores_before, 3),
    );
    out.put("lost_core_share", round(g.share, 3));
    out.put("wait_per_cpu_second", g.per_cpu_s.map(|w| round(w, 3)));
    out.put(
        format!("wait_per_cpu_second_at_{n_lo}"),
        g.per_cpu_s_before.map(|w| round(w, 3)),
    );
    out.put("wait_per_cpu_second_growth", g.growth.map(|r| round(r, 3)));
    if let Some((without, with)) = g.cost {
        out.put("speedup_without_added_waits", round(without, 2));
        out.put("speedup", round(with, 2));
    }
    out
}

fn shared_evidence(n_lo: u32, n_hi: u32, sink: &Sink, g: &SinkGrowth, rising: bool) -> String {
    let how = if sink.sleep_share > 0.0 {
        format!(
            " ({:.1} % blocked on it, {:.1} % asleep between tries to write it)",
            sink.direct_share * 100.0,
            sink.sleep_share * 100.0
        )
    } else {
        String::new()
    };
    let growth = if n_hi > n_lo {
        format!(
            ", against {:.2} at {n_lo} worker{}; per second of useful CPU {} s against {} s{}{}{}",
            g.lost_cores_before,
            plural(n_lo),
            g.per_cpu_s.map_or("?".into(), |w| format!("{w:.2}")),
            g.per_cpu_s_before.map_or("?".into(), |w| format!("{w:.2}")),
            g.growth
                .map(|r| format!(", {r:.2} times as much"))
                .unwrap_or_default(),
            if rising {
                ", so the wait grows with workers"
            } else {
                ", so it does not grow"
            },
            match g.cost {
                Some((without, with)) if rising => format!(
                    "; it cost speedup: {with:.2} measured, about {without:.2} without the added \
                     waits"
                ),
                _ => String::new(),
            }
        )
    } else {
        " (only one worker count measured, so its growth is unknown)".into()
    };
    format!(
        "At {n_hi} workers, {} workers lost {:.1} % of their time to {} ({}){how}: {:.2} of \
         the {n_hi} cores in the accounting ({}){growth}.",
        sink.workers_waiting.max(sink.workers_writing),
        sink.wait_share * 100.0,
        sink.resource,
        sink.kind,
        g.lost_cores,
        g.cause,
    )
}

fn evidence(f: &Figures, d: &Decision) -> String {
    match f {
        Figures::Unmeasured => {
            "The sampler saw no workers' waits (or the accounting could not place the workers' \
             time), so sinks were not measured."
                .into()
        }
        Figures::NotShared {
            workers: n_hi,
            top_wait: Some(e),
            ..
        } => format!(
            "At {n_hi} workers only one worker at a time waited on {} ({}, {:.1} % of worker \
             time): no shared sink.",
            e.resource,
            e.kind,
            e.wait_share * 100.0
        ),
        Figures::NotShared {
            workers: n_hi,
            top_wait: None,
            ..
        } => format!("At {n_hi} workers no worker waited on a database, file or network service."),
        Figures::Shared {
            workers_low,
            workers,
            sink,
            growth,
            ..
        } => shared_evidence(*workers_low, *workers, sink, growth, d.rising),
    }
}

pub fn step(f: &Figures, d: &Decision) -> Step {
    let words = Words {
        threshold: format!(
            "the sink's lost cores >= {SINK_WAIT_SHARE} of n at the largest count, and per \
             useful core >= {SINK_RISE_FACTOR} times the smallest count's -> yes"
        ),
        evidence: evidence(f, d),
        source: match f {
            Figures::Shared { sink, .. } if sink.kind == SinkKind::Service(Service::RayActor) => {
                "the accounting (points[].summary.accounting, sink:<name>); the waits on the \
                 actor from the python probe: each Ray task's ray.get of an actor method's \
                 result, per actor (the sampler sees that wait as a futex)"
            }
            _ => {
                "the accounting (points[].summary.accounting, sink:<name>); which resource the \
                  workers shared from the procfs sampler: blocked threads' syscall and fd"
            }
        }
        .into(),
    };
    Step::new(StepId::SharedSink, QUESTION, d.answer, measured(f), words)
}

#[cfg(test)]
mod tests {
    use crate::analyze::waits::Sink;
    use crate::analyze::Layout;
    use crate::diagnose::tests::{answer, busy, sink_accounted, sweep};
    use crate::diagnose::{diagnose, Answer, SinkAdvice, StepId};

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
        let n = f64::from(writers);
        sink_accounted(s, writers, "sqlite", &[((direct + sleep) * n, on_cpu * n)])
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
        assert_eq!(answer(&d, StepId::SharedSink), Answer::Yes);
        assert_eq!(d.recommendation.sink, Some(SinkAdvice::SingleWriter));
        let st = d.steps.iter().find(|s| s.id == StepId::SharedSink).unwrap();
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
        assert_eq!(answer(&d, StepId::SharedSink), Answer::No);
        assert_eq!(d.recommendation.sink, Some(SinkAdvice::Direct));
    }

    /// Three runs at 1 and 2 writers, each run (lost cores per useful core at 1, at 2): the
    /// accounting's cores are those times 0.6 useful cores at 1 and 1.2 at 2.
    fn three_runs(per_core: [(f64, f64); 3]) -> crate::diagnose::Diagnosis {
        let at = |n: u32, useful: f64, pick: fn(&(f64, f64)) -> f64| {
            let runs: Vec<(f64, f64)> = per_core
                .iter()
                .map(|r| (pick(r) * useful, useful))
                .collect();
            let s = sqlite(useful / f64::from(n), 0.3, 0.0, n);
            sink_accounted(s, n, "sqlite", &runs)
        };
        let (m, a) = sweep(
            2,
            vec![(1, 4.0, at(1, 0.6, |r| r.0)), (2, 2.4, at(2, 1.2, |r| r.1))],
            Layout::Processes,
            "throughput",
        );
        diagnose(&m, &a)
    }

    #[test]
    fn a_growth_whose_interval_over_the_runs_straddles_its_bar_waits_for_more_runs() {
        // Per useful core 0.5, 0.6, 0.45 at 1 writer and 0.6, 0.7, 0.55 at 2: the means grow by
        // 1.19, but the runs spread too far for that to clear 1.1.
        let d = three_runs([(0.5, 0.6), (0.6, 0.7), (0.45, 0.55)]);
        let st = d.steps.iter().find(|s| s.id == StepId::SharedSink).unwrap();
        assert_eq!(st.answer, Answer::Unknown, "{}", st.evidence);
        assert_eq!(d.recommendation.sink, None);
        let w = st.deciding.unwrap();
        assert_eq!(w.figure.name, "wait_per_cpu_second_growth");
        assert!(
            (w.figure.value - 0.6166667 / 0.5166667).abs() < 1e-6,
            "{w:?}"
        );
        let (lo, hi) = w.interval.unwrap();
        assert!(lo < 1.1 && hi > 1.1, "{w:?}");
        assert!(
            st.evidence.contains("ratio of the means over 3 runs"),
            "{}",
            st.evidence
        );
        let u = crate::diagnose::undecided(&d);
        assert_eq!(u.len(), 1, "{u:?}");
        assert_eq!(u[0].step, StepId::SharedSink);
        // The same growth measured tightly clears it: one batched writer.
        let d = three_runs([(0.5, 0.6), (0.51, 0.61), (0.49, 0.59)]);
        assert_eq!(answer(&d, StepId::SharedSink), Answer::Yes);
        assert_eq!(d.recommendation.sink, Some(SinkAdvice::SingleWriter));
        let st = d.steps.iter().find(|s| s.id == StepId::SharedSink).unwrap();
        assert!(
            st.measured["wait_per_cpu_second_growth_low"]
                .as_f64()
                .unwrap()
                > 1.1
        );
    }
}
