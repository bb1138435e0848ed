//! Is the work CPU-bound? Judged on the work itself: the workers' steady state, net of the
//! waits the tree's later steps take off them: on a sink (one batched writer), and on the pool's
//! pipes when they carry big payloads (references or shared memory).
//!
//! Three figures, each in the evidence: the share over the workers' whole lives; over their
//! steady state; and that share net of the waits on sinks, which decides. A sink's waits are
//! netted however long they are: one batched writer behind a bounded queue takes them off the
//! workers (fixtures/workloads/slow_sink.py). Waits on a source, whose answers the work needs,
//! stay in and make the work not CPU-bound (socket_wait.py); `analyze::peers` tells the two
//! apart by the workers' bytes each way and whether they compute.

use crate::analyze::peers::PeerRole;
use crate::analyze::select::primary_points;
use crate::analyze::work::{work_share, WorkShare};
use crate::analyze::Analysis;
use crate::diagnose::deciding::Deciding;
use crate::diagnose::step::{plural, round, Measured, Step, Words};
use crate::diagnose::step::{Answer, StepId};
use crate::diagnose::thresholds::CPU_BOUND_ON_CPU_SHARE;
use crate::measure::Measurements;

const QUESTION: &str = "Is the work CPU-bound?";

/// The sampler's view of the workers at the smallest count.
#[derive(Debug, Clone)]
pub struct Sampled {
    pub workers: u32,
    pub share: WorkShare,
    /// Whether the pipes' waits were netted (large_payload's yes).
    pub payloads_move: bool,
    pub worker_startup_s: Option<f64>,
    pub busy_cores: Option<f64>,
    /// (resource, kind) of the sink waited on most.
    pub top_sink: Option<(String, String)>,
    /// (resource, kind) of the source waited on most.
    pub top_source: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum Figures {
    /// No point produced a successful run.
    NoRun,
    /// Without the sampler: the tree's CPU over wall time and workers.
    WholeTree {
        workers: u32,
        share: Option<f64>,
    },
    Sampled(Sampled),
}

/// At the smallest count of the best series. `payloads_move` is large_payload's yes: the waits
/// on the pool's own pipes are then the payloads' transfer, which passing references takes off
/// the workers, and are netted too.
pub fn figures(m: &Measurements, a: &Analysis, payloads_move: bool) -> Figures {
    let base = primary_points(m, a)
        .into_iter()
        .find(|(_, s)| s.wall_s.is_some());
    let Some((n, s)) = base else {
        return Figures::NoRun;
    };
    let Some(share) = work_share(s, payloads_move) else {
        return Figures::WholeTree {
            workers: n,
            share: s.busy_cores.map(|b| (b / f64::from(n)).min(1.0)),
        };
    };
    Figures::Sampled(Sampled {
        workers: n,
        share,
        payloads_move,
        worker_startup_s: s.worker_startup_s,
        busy_cores: s.busy_cores,
        top_sink: top(s, false),
        top_source: top(s, true),
    })
}

/// (resource, kind) of the external resource waited on most that is a source (or not).
fn top(s: &crate::analyze::point::PointSummary, source: bool) -> Option<(String, String)> {
    let role = |r: &str| s.peer_roles.as_ref().and_then(|m| m.get(r)).copied();
    s.external_waits
        .iter()
        .flatten()
        .find(|k| (role(&k.resource) == Some(PeerRole::Source)) == source)
        .map(|k| (k.resource.clone(), k.kind.to_string()))
}

impl Sampled {
    /// The share the answer rests on: the work net of its sinks' (and moving payloads') waits,
    /// with its sources' waits in.
    fn judged(&self) -> f64 {
        self.share.net
    }
}

impl Figures {
    /// The figure the answer rests on (weighed over the runs in deciding.rs).
    pub fn deciding(&self) -> Option<Deciding> {
        let (name, value) = match self {
            Figures::NoRun | Figures::WholeTree { share: None, .. } => return None,
            Figures::WholeTree {
                share: Some(share), ..
            } => ("on_cpu_share", *share),
            Figures::Sampled(s) => ("work_on_cpu_share", s.judged()),
        };
        Some(Deciding::above(name, value, CPU_BOUND_ON_CPU_SHARE.value))
    }
}

fn at_least_the_bar(share: f64) -> Answer {
    if share >= CPU_BOUND_ON_CPU_SHARE.value {
        Answer::Yes
    } else {
        Answer::No
    }
}

pub fn decide(f: &Figures) -> Answer {
    match f {
        Figures::NoRun | Figures::WholeTree { share: None, .. } => Answer::Unknown,
        Figures::WholeTree {
            share: Some(share), ..
        } => at_least_the_bar(*share),
        Figures::Sampled(s) => at_least_the_bar(s.judged()),
    }
}

fn measured(f: &Figures) -> Measured {
    let mut out = Measured::default();
    match f {
        Figures::NoRun | Figures::WholeTree { share: None, .. } => {}
        Figures::WholeTree {
            workers,
            share: Some(share),
        } => {
            out.put("workers", workers);
            out.put("on_cpu_share", round(*share, 3));
        }
        Figures::Sampled(s) => {
            let w = &s.share;
            out.put("workers", s.workers);
            out.put("on_cpu_share", round(w.life, 3));
            if let Some((work, life)) = w.steady {
                out.put("steady_on_cpu_share", round(work, 3));
                out.put("steady_share_of_life", round(life, 3));
            }
            out.put_some("worker_startup_s", s.worker_startup_s.map(|x| round(x, 3)));
            out.put("sink_wait_share", round(w.sink_waits, 3));
            if s.payloads_move {
                out.put("payload_wait_share", round(w.pipe_waits, 3));
            }
            out.put(
                "sink_wait_per_cpu_second",
                w.sink_wait_per_cpu_s.map(|x| round(x, 3)),
            );
            out.put("work_on_cpu_share", round(s.judged(), 3));
            out.put_some("busy_cores", s.busy_cores.map(|b| round(b, 2)));
            out.put_some("top_sink", s.top_sink.as_ref().map(|(r, _)| r));
            if w.source_waits > 0.0 {
                out.put("source_wait_share", round(w.source_waits, 3));
                out.put(
                    "source_wait_per_cpu_second",
                    (w.life > 0.0).then(|| round(w.source_waits / w.life, 3)),
                );
                out.put_some("top_source", s.top_source.as_ref().map(|(r, _)| r));
            }
        }
    }
    out
}

fn sampled_evidence(s: &Sampled) -> String {
    let (n, w) = (s.workers, &s.share);
    let judged = s.judged();
    let mut said = vec![format!(
        "At {n} worker{}, the workers wanted a CPU {:.0} % of their lives",
        plural(n),
        w.life * 100.0
    )];
    if let (Some((work, life)), Some(su)) = (w.steady, s.worker_startup_s) {
        said.push(format!(
            "{:.0} % of their steady state ({:.0} % of their lives; start-up {su:.2} s each)",
            work * 100.0,
            life * 100.0
        ));
    }
    match (&s.top_sink, w.sink_wait_per_cpu_s) {
        (Some((resource, kind)), Some(per_cpu_s)) if w.sink_waits > 0.0 => said.push(format!(
            "they waited {:.0} % of their lives on sinks they write their results to (most on \
             {resource}, {kind}), {per_cpu_s:.2} s per CPU second, which one batched writer \
             takes off them however long: net of them the work wanted a CPU {:.0} % of its time",
            w.sink_waits * 100.0,
            judged * 100.0
        )),
        _ => said.push("no worker waited on a sink".into()),
    }
    if let (Some((resource, kind)), true) = (&s.top_source, w.source_waits > 0.0) {
        said.push(format!(
            "they waited {:.0} % of their lives on sources whose answers the work needs (most \
             on {resource}, {kind}), which stay in",
            w.source_waits * 100.0
        ));
    }
    if w.pipe_waits > 0.0 {
        said.push(format!(
            "{:.0} % of their lives went waiting on the pool's pipes for payloads (large_payload: \
             yes), which passing references takes off them: net of the waits the work wanted a \
             CPU {:.0} % of its time",
            w.pipe_waits * 100.0,
            judged * 100.0
        ));
    }
    format!(
        "{} (threshold {:.0} %){}.",
        said.join("; "),
        CPU_BOUND_ON_CPU_SHARE.value * 100.0,
        s.busy_cores
            .map(|b| format!("; the tree kept {b:.2} cores busy"))
            .unwrap_or_default()
    )
}

fn evidence(f: &Figures) -> String {
    match f {
        Figures::NoRun => "No point produced a successful run, so nothing was measured.".into(),
        Figures::WholeTree {
            workers: n,
            share: None,
        } => format!("At {n} workers no CPU time was measured."),
        Figures::WholeTree {
            workers: n,
            share: Some(share),
        } => format!(
            "At {n} worker{}, the tree used {:.0} % of {n} core{} (threshold {:.0} %); without \
             the sampler the workers' waits were not seen.",
            plural(*n),
            share * 100.0,
            plural(*n),
            CPU_BOUND_ON_CPU_SHARE.value * 100.0
        ),
        Figures::Sampled(s) => sampled_evidence(s),
    }
}

fn source(f: &Figures) -> &'static str {
    match f {
        Figures::NoRun => "none",
        Figures::WholeTree { .. } => {
            "tree CPU time (perf task-clock or rusage) / wall time / workers"
        }
        Figures::Sampled(_) => {
            "procfs sampler (schedstat of the worker threads, per-tick states, blocked threads' \
             resources)"
        }
    }
}

pub fn step(f: &Figures, answer: Answer) -> Step {
    let words = Words {
        threshold: format!(
            "on-CPU share of the workers' steady state, net of sink waits however long (and of \
             pipe waits when large_payload is yes; waits on a source stay in), >= \
             {CPU_BOUND_ON_CPU_SHARE} -> yes"
        ),
        evidence: evidence(f),
        source: source(f).into(),
    };
    Step::new(StepId::CpuBound, QUESTION, answer, measured(f), words)
}

#[cfg(test)]
mod tests {
    use super::{decide, Figures, Sampled};
    use crate::analyze::peers::PeerRole;
    use crate::analyze::waits::Sink;
    use crate::analyze::work::WorkShare;
    use crate::analyze::Layout;
    use crate::diagnose::tests::{answer, busy, sweep};
    use crate::diagnose::{diagnose, Answer, Model, StepId};

    /// Workers at 1 worker on a CPU `on_cpu` of their lives and waiting `sink` of them on a
    /// SQLite file they write.
    fn writing(on_cpu: f64, sink: f64) -> crate::analyze::point::PointSummary {
        let mut s = busy(on_cpu);
        s.external_waits = Some(vec![Sink {
            resource: "file:/data/results.db".into(),
            kind: "sqlite".parse().unwrap(),
            wait_share: sink,
            direct_share: sink,
            workers_waiting: 1,
            workers_writing: 1,
            ..Default::default()
        }]);
        s
    }

    #[test]
    fn workers_committing_to_a_database_are_judged_on_their_work_net_of_the_commits() {
        // 55 % on a CPU, 40 % in commits: the work itself wants a CPU 92 % of its time.
        let (m, a) = sweep(
            2,
            vec![
                (1, 10.0, writing(0.55, 0.40)),
                (2, 5.5, writing(0.55, 0.40)),
            ],
            Layout::Processes,
            "throughput",
        );
        let d = diagnose(&m, &a);
        assert_eq!(answer(&d, StepId::CpuBound), Answer::Yes);
        let st = d.steps.iter().find(|s| s.id == StepId::CpuBound).unwrap();
        assert_eq!(st.measured["on_cpu_share"], 0.55, "the raw figure is given");
        assert!(st.measured["work_on_cpu_share"].as_f64().unwrap() > 0.9);
        assert!(
            st.evidence.contains("file:/data/results.db"),
            "{}",
            st.evidence
        );
        assert_eq!(d.recommendation.model, Some(Model::Processes));
    }

    #[test]
    fn clients_that_wait_on_a_source_stay_not_cpu_bound() {
        let source = || {
            let mut s = writing(0.03, 0.95);
            s.peer_roles = Some([("file:/data/results.db".to_string(), PeerRole::Source)].into());
            s
        };
        let (m, a) = sweep(
            2,
            vec![(1, 10.0, source()), (2, 5.0, source())],
            Layout::Processes,
            "throughput",
        );
        let d = diagnose(&m, &a);
        assert_eq!(answer(&d, StepId::CpuBound), Answer::No);
        let st = d.steps.iter().find(|s| s.id == StepId::CpuBound).unwrap();
        assert_eq!(st.measured["source_wait_share"], 0.95, "{:?}", st.measured);
        assert_eq!(d.recommendation.model, Some(Model::AsyncOrThreads));
    }

    #[test]
    fn a_sink_slower_than_the_work_is_netted_however_long_its_waits() {
        // 25 % on a CPU, 75 % pushing results to a sink three times slower than the work.
        let (m, a) = sweep(
            2,
            vec![
                (1, 10.0, writing(0.25, 0.75)),
                (2, 8.0, writing(0.25, 0.75)),
            ],
            Layout::Processes,
            "throughput",
        );
        let d = diagnose(&m, &a);
        assert_eq!(answer(&d, StepId::CpuBound), Answer::Yes);
        let st = d.steps.iter().find(|s| s.id == StepId::CpuBound).unwrap();
        assert_eq!(st.measured["sink_wait_per_cpu_second"], 3.0);
        assert_eq!(d.recommendation.model, Some(Model::Processes));
    }

    #[test]
    fn start_up_is_judged_apart_from_the_steady_state() {
        // A pool's workers wait 60 % of their lives for start-up; once working they compute.
        let mut s = busy(0.38);
        s.steady_on_cpu_share = Some(0.95);
        s.steady_share_of_life = Some(0.4);
        s.worker_startup_s = Some(0.6);
        let (m, a) = sweep(2, vec![(1, 3.0, s)], Layout::Single, "throughput");
        let d = diagnose(&m, &a);
        assert_eq!(answer(&d, StepId::CpuBound), Answer::Yes);
        let st = d.steps.iter().find(|s| s.id == StepId::CpuBound).unwrap();
        assert!(st.evidence.contains("start-up 0.60 s"), "{}", st.evidence);
    }

    #[test]
    fn the_judged_share_is_the_work_net_of_its_sinks() {
        let sampled = |net: f64| {
            Figures::Sampled(Sampled {
                workers: 1,
                share: WorkShare {
                    life: 0.3,
                    steady: None,
                    sink_waits: 0.6,
                    source_waits: 0.0,
                    pipe_waits: 0.0,
                    sink_wait_per_cpu_s: Some(2.0),
                    net,
                },
                payloads_move: false,
                worker_startup_s: None,
                busy_cores: None,
                top_sink: None,
                top_source: None,
            })
        };
        assert_eq!(decide(&sampled(0.9)), Answer::Yes);
        assert_eq!(decide(&sampled(0.5)), Answer::No);
        assert_eq!(decide(&Figures::NoRun), Answer::Unknown);
    }
}
