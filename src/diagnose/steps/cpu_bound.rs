//! Is the work CPU-bound? Read from the accounting of the smallest count (`summary.accounting`,
//! analyze/accounting/run.rs): of the time the workers held work, the share they were on a CPU
//! or waiting for one.
//!
//! Where the accounting puts each worker-second, and what this step makes of it:
//!
//! - `useful` (on a CPU in a task) and `run_queue` (runnable without a CPU): the work wanting a
//!   CPU, the numerator.
//! - `gil`, `locks` (futex waits while holding a task) and `other` (blocked on what no sink
//!   names: reading an input file, sleeping, waits too short for the sampler to name): time the
//!   work held and did not compute, in the denominator.
//! - `sink:<name>`: waits on every resource outside the pool that the workers wrote to and
//!   waited on (waits.rs's external resources, a database's back-off sleeps, the preload
//!   probe's calls on its connection). That includes a source, a peer whose answers the work
//!   needs (`analyze::peers` tells the two apart by the bytes each way and whether the workers
//!   compute on what came back), which the accounting does not set apart: its share of each
//!   `sink:<kind>` cause (its waits over the waits on resources of that kind) stays in, as the
//!   work waiting for its input (fixtures/workloads/socket_wait.py). The rest is netted however
//!   long: one batched writer takes a sink's waits off the workers (slow_sink.py).
//! - `transfer` (pickling, and waits on the pool's own pipes while the driver fed them):
//!   netted, the cost of passing data between processes, which threads or references remove;
//!   large_payload judges it.
//! - `serial`, `startup` and `imbalance` (no task in hand: before the first, after the last,
//!   or on an empty pipe): not time the workers held work, so left out.
//!
//! So `work_on_cpu_share = (useful + run_queue) / (useful + run_queue + gil + locks + other +
//! sources)`. Without an accounting (no sampler picture of the workers), the tree's CPU over
//! wall time and workers answers instead.

use crate::analyze::accounting::Accounting;
use crate::analyze::peers::PeerRole;
use crate::analyze::point::PointSummary;
use crate::analyze::select::primary_points;
use crate::analyze::Analysis;
use crate::diagnose::deciding::Deciding;
use crate::diagnose::step::{plural, round, Measured, Step, Words};
use crate::diagnose::step::{Answer, StepId};
use crate::diagnose::thresholds::CPU_BOUND_ON_CPU_SHARE;
use crate::measure::Measurements;

const QUESTION: &str = "Is the work CPU-bound?";

/// The smallest count's accounting, in cores, gathered as this step reads it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Held {
    /// On a CPU in a task.
    pub useful: f64,
    /// Runnable without a CPU while holding work.
    pub run_queue: f64,
    /// The GIL, locks and `other`: blocked while holding work on what is not a sink.
    pub waits: f64,
    /// The part of the `sink:<kind>` causes that were waits on sources.
    pub sources: f64,
    /// The rest of the `sink:<kind>` causes: waits on sinks, netted.
    pub sinks: f64,
    /// Pickling and waits on the pool's own pipes, netted.
    pub transfer: f64,
}

impl Held {
    /// Read from a point's accounting; `external` and `roles` (the point's external waits and
    /// its peers' roles) say how much of each `sink:<kind>` cause was waits on sources.
    pub fn of(
        acc: &Accounting,
        external: &[crate::analyze::waits::Sink],
        roles: Option<&std::collections::BTreeMap<String, PeerRole>>,
    ) -> Held {
        let lost = |k: &str| acc.lost(k).max(0.0);
        let mut held = Held {
            useful: acc.useful_cores.value.max(0.0),
            run_queue: lost("run_queue"),
            waits: lost("gil") + lost("locks") + lost("other"),
            transfer: lost("transfer"),
            ..Held::default()
        };
        for (key, f) in acc.lost_cores.iter() {
            let Some(kind) = key.strip_prefix("sink:") else {
                continue;
            };
            let cores = f.value.max(0.0);
            let of_kind = external.iter().filter(|k| k.kind.to_string() == kind);
            let (all, sourced) = of_kind.fold((0.0, 0.0), |(all, src), k| {
                let is_source = roles.and_then(|r| r.get(&k.resource)) == Some(&PeerRole::Source);
                (
                    all + k.wait_share,
                    src + if is_source { k.wait_share } else { 0.0 },
                )
            });
            let source_part = if all > 0.0 { sourced / all } else { 0.0 };
            held.sources += cores * source_part;
            held.sinks += cores * (1.0 - source_part);
        }
        held
    }

    /// The cores that wanted a CPU while holding work.
    fn wanted(&self) -> f64 {
        self.useful + self.run_queue
    }

    /// Of the time the workers held work, net of sinks and transfer, the share they wanted a
    /// CPU; None when they neither worked nor waited.
    pub fn share(&self) -> Option<f64> {
        let held = self.wanted() + self.waits + self.sources;
        (held > 0.0).then(|| (self.wanted() / held).clamp(0.0, 1.0))
    }
}

/// The accounting of the workers at the smallest count.
#[derive(Debug, Clone)]
pub struct Sampled {
    pub workers: u32,
    pub held: Held,
    /// The sampler's share of their whole lives they wanted a CPU, stated beside.
    pub life_share: Option<f64>,
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

/// At the smallest count of the best series.
pub fn figures(m: &Measurements, a: &Analysis) -> Figures {
    let base = primary_points(m, a)
        .into_iter()
        .find(|(_, s)| s.wall_s.is_some());
    let Some((n, s)) = base else {
        return Figures::NoRun;
    };
    let Some(acc) = s.accounting.as_ref() else {
        return Figures::WholeTree {
            workers: n,
            share: s.busy_cores.map(|b| (b / f64::from(n)).min(1.0)),
        };
    };
    let external = s.external_waits.as_deref().unwrap_or_default();
    Figures::Sampled(Sampled {
        workers: n,
        held: Held::of(acc, external, s.peer_roles.as_ref()),
        life_share: s
            .on_cpu_share
            .map(|on| (on + s.runqueue_share.unwrap_or(0.0)).min(1.0)),
        worker_startup_s: s.worker_startup_s,
        busy_cores: s.busy_cores,
        top_sink: top(s, false),
        top_source: top(s, true),
    })
}

/// (resource, kind) of the external resource waited on most that is a source (or not).
fn top(s: &PointSummary, source: bool) -> Option<(String, String)> {
    let role = |r: &str| s.peer_roles.as_ref().and_then(|m| m.get(r)).copied();
    s.external_waits
        .iter()
        .flatten()
        .find(|k| (role(&k.resource) == Some(PeerRole::Source)) == source)
        .map(|k| (k.resource.clone(), k.kind.to_string()))
}

impl Figures {
    /// The figure the answer rests on (weighed over the runs in deciding.rs: each run's own
    /// accounting gives its own share).
    pub fn deciding(&self) -> Option<Deciding> {
        let (name, value) = match self {
            Figures::NoRun | Figures::WholeTree { share: None, .. } => return None,
            Figures::WholeTree {
                share: Some(share), ..
            } => ("on_cpu_share", *share),
            Figures::Sampled(s) => ("work_on_cpu_share", s.held.share()?),
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
        Figures::Sampled(s) => s.held.share().map_or(Answer::Unknown, at_least_the_bar),
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
            let h = &s.held;
            out.put("workers", s.workers);
            out.put_some("on_cpu_share", s.life_share.map(|x| round(x, 3)));
            out.put_some("worker_startup_s", s.worker_startup_s.map(|x| round(x, 3)));
            out.put("useful_cores", round(h.useful, 3));
            out.put("run_queue_cores", round(h.run_queue, 3));
            out.put("wait_cores", round(h.waits, 3));
            out.put("sink_cores", round(h.sinks, 3));
            out.put("transfer_cores", round(h.transfer, 3));
            out.put(
                "sink_wait_per_cpu_second",
                (h.useful > 0.0).then(|| round(h.sinks / h.useful, 3)),
            );
            out.put_some("work_on_cpu_share", h.share().map(|x| round(x, 3)));
            out.put_some("busy_cores", s.busy_cores.map(|b| round(b, 2)));
            out.put_some("top_sink", s.top_sink.as_ref().map(|(r, _)| r));
            if h.sources > 0.0 {
                out.put("source_cores", round(h.sources, 3));
                out.put(
                    "source_wait_per_cpu_second",
                    (h.useful > 0.0).then(|| round(h.sources / h.useful, 3)),
                );
                out.put_some("top_source", s.top_source.as_ref().map(|(r, _)| r));
            }
        }
    }
    out
}

fn sampled_evidence(s: &Sampled) -> String {
    let (n, h) = (s.workers, &s.held);
    let mut said = vec![format!(
        "At {n} worker{}, the accounting gave {:.2} cores to the work on a CPU and {:.2} to it \
         waiting for one; while holding work the workers also lost {:.2} to locks, the GIL and \
         waits on no sink",
        plural(n),
        h.useful,
        h.run_queue,
        h.waits
    )];
    if let (Some((resource, kind)), true) = (&s.top_source, h.sources > 0.0) {
        said.push(format!(
            "and {:.2} to waits on sources whose answers the work needs (most on {resource}, \
             {kind}), which stay in",
            h.sources
        ));
    }
    if let Some(share) = h.share() {
        said.push(format!(
            "so the work wanted a CPU {:.0} % of the time it held work (threshold {:.0} %)",
            share * 100.0,
            CPU_BOUND_ON_CPU_SHARE.value * 100.0
        ));
    }
    let mut netted = Vec::new();
    if h.sinks > 0.0 {
        netted.push(format!(
            "{:.2} cores waiting on sinks they write their results to{} ({:.2} s per CPU \
             second), which one batched writer takes off them however long",
            h.sinks,
            s.top_sink
                .as_ref()
                .map(|(r, k)| format!(" (most on {r}, {k})"))
                .unwrap_or_default(),
            if h.useful > 0.0 {
                h.sinks / h.useful
            } else {
                0.0
            }
        ));
    }
    if h.transfer > 0.0 {
        netted.push(format!(
            "{:.2} cores pickling and waiting on the pool's own pipes, which threads or passing \
             references take off them",
            h.transfer
        ));
    }
    if !netted.is_empty() {
        said.push(format!("netted out: {}", netted.join(", and ")));
    }
    if let Some(su) = s.worker_startup_s {
        said.push(format!(
            "start-up ({su:.2} s each), the driver's serial part and the idle tail are not time \
             the workers held work"
        ));
    }
    format!(
        "{}{}.",
        said.join("; "),
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
            "accounting of the workers' worker-seconds at the smallest count (switch intervals \
             or procfs ticks; blocked threads' resources, with the peers' roles for sources)"
        }
    }
}

pub fn step(f: &Figures, answer: Answer) -> Step {
    let words = Words {
        threshold: format!(
            "(useful + run_queue) / (useful + run_queue + gil + locks + other + waits on \
             sources) at the smallest count, from the accounting: the on-CPU share of the time \
             the workers held work, net of sinks however long and of transfer, >= \
             {CPU_BOUND_ON_CPU_SHARE} -> yes"
        ),
        evidence: evidence(f),
        source: source(f).into(),
    };
    Step::new(StepId::CpuBound, QUESTION, answer, measured(f), words)
}

#[cfg(test)]
mod tests {
    use super::{decide, Figures, Held, Sampled};
    use crate::analyze::peers::PeerRole;
    use crate::analyze::point::PointSummary;
    use crate::analyze::waits::Sink;
    use crate::analyze::Layout;
    use crate::diagnose::tests::{accounted, answer, step_of, sweep};
    use crate::diagnose::{diagnose, Answer, Model, StepId};

    /// A worker at 1 worker whose accounting gave `useful` cores to work and `sink` to waits
    /// on a SQLite file it writes, the rest of the slot to `other`.
    fn writing(useful: f64, sink: f64) -> PointSummary {
        let mut s = accounted(
            1,
            useful,
            &[("sink:sqlite", sink), ("other", 1.0 - useful - sink)],
        );
        s.on_cpu_share = Some(useful);
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

    fn work_share(d: &crate::diagnose::Diagnosis) -> f64 {
        step_of(d, StepId::CpuBound).measured["work_on_cpu_share"]
            .as_f64()
            .unwrap()
    }

    #[test]
    fn workers_committing_to_a_database_are_judged_on_their_work_net_of_the_commits() {
        // 55 % on a CPU, 40 % in commits, 5 % elsewhere: the work wants a CPU 0.55 / 0.6.
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
        let st = step_of(&d, StepId::CpuBound);
        assert_eq!(st.measured["on_cpu_share"], 0.55, "the raw figure is given");
        assert_eq!(st.measured["sink_cores"], 0.4);
        assert!((work_share(&d) - 0.917).abs() < 1e-9, "{:?}", st.measured);
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
        let st = step_of(&d, StepId::CpuBound);
        assert_eq!(st.measured["source_cores"], 0.95, "{:?}", st.measured);
        assert!((work_share(&d) - 0.03).abs() < 1e-9, "{:?}", st.measured);
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
        let st = step_of(&d, StepId::CpuBound);
        assert_eq!(st.measured["sink_wait_per_cpu_second"], 3.0);
        assert_eq!(work_share(&d), 1.0);
        assert_eq!(d.recommendation.model, Some(Model::Processes));
    }

    #[test]
    fn start_up_is_judged_apart_from_the_time_the_workers_held_work() {
        // A pool's worker waits 60 % of its slot for start-up; once working it computes.
        let mut s = accounted(1, 0.38, &[("startup", 0.6), ("other", 0.02)]);
        s.worker_startup_s = Some(0.6);
        let (m, a) = sweep(2, vec![(1, 3.0, s)], Layout::Single, "throughput");
        let d = diagnose(&m, &a);
        assert_eq!(answer(&d, StepId::CpuBound), Answer::Yes);
        assert!((work_share(&d) - 0.95).abs() < 1e-9);
        let st = step_of(&d, StepId::CpuBound);
        assert!(st.evidence.contains("start-up (0.60 s"), "{}", st.evidence);
    }

    #[test]
    fn a_worker_waiting_on_its_pool_for_tasks_is_still_cpu_bound() {
        // Half the slot on a CPU, 45 % waiting on the pool's pipes for the driver to feed it
        // small tasks. The old figure (the sampler's steady state, pipe waits netted only
        // under large_payload's yes) read 0.5 and called the work I/O-bound; the accounting
        // puts those waits in transfer (or imbalance, with no task anywhere), which is the
        // pool's plumbing and not the work's time.
        let mut s = accounted(1, 0.5, &[("transfer", 0.45), ("other", 0.05)]);
        s.on_cpu_share = Some(0.5);
        s.steady_on_cpu_share = Some(0.5);
        s.steady_share_of_life = Some(1.0);
        let (m, a) = sweep(2, vec![(1, 3.0, s)], Layout::Processes, "throughput");
        let d = diagnose(&m, &a);
        assert_eq!(answer(&d, StepId::CpuBound), Answer::Yes);
        assert!(
            (work_share(&d) - 0.909).abs() < 1e-9,
            "{:?}",
            step_of(&d, StepId::CpuBound).measured
        );
        assert_eq!(
            step_of(&d, StepId::CpuBound).measured["transfer_cores"],
            0.45
        );
    }

    #[test]
    fn a_sink_kind_shared_by_a_source_and_a_sink_is_split_by_their_waits() {
        // Two tcp services: one the work reads from (a third of the waits), one it writes to.
        let s = |resource: &str, wait_share| Sink {
            resource: resource.into(),
            kind: "tcp service".parse().unwrap(),
            wait_share,
            ..Default::default()
        };
        let acc = accounted(1, 0.1, &[("sink:tcp service", 0.9)])
            .accounting
            .unwrap();
        let roles = [("tcp:a".to_string(), PeerRole::Source)].into();
        let held = Held::of(&acc, &[s("tcp:a", 0.3), s("tcp:b", 0.6)], Some(&roles));
        assert!((held.sources - 0.3).abs() < 1e-9 && (held.sinks - 0.6).abs() < 1e-9);
        assert!((held.share().unwrap() - 0.25).abs() < 1e-9, "{held:?}");
    }

    #[test]
    fn the_judged_share_is_the_held_work_net_of_sinks_and_transfer() {
        let sampled = |held: Held| {
            Figures::Sampled(Sampled {
                workers: 1,
                held,
                life_share: None,
                worker_startup_s: None,
                busy_cores: None,
                top_sink: None,
                top_source: None,
            })
        };
        let held = |waits| Held {
            useful: 0.3,
            run_queue: 0.0,
            waits,
            sinks: 0.6,
            transfer: 0.1,
            ..Held::default()
        };
        let yes = sampled(held(0.0));
        assert_eq!(decide(&yes), Answer::Yes);
        assert_eq!(yes.deciding().unwrap().value, 1.0);
        let no = sampled(held(0.3));
        assert_eq!(decide(&no), Answer::No);
        assert_eq!(no.deciding().unwrap().value, 0.5);
        assert_eq!(decide(&sampled(Held::default())), Answer::Unknown);
        assert_eq!(decide(&Figures::NoRun), Answer::Unknown);
    }
}
