//! How much of their time the workers wanted a CPU (running or runnable): over their whole
//! lives, over their steady state, and net of the waits the diagnosis can take off them (sinks a
//! single writer serves, however long their waits, and the pool's pipes when payloads move by
//! reference instead). Waits on a source, whose answers the work needs, stay in (`peers`).

use super::point::PointSummary;
use super::waits::OffCpuKind;

/// The workers' CPU wants at one point, from the sampler's per-worker view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkShare {
    /// Running or runnable, over their whole lives (at most 1).
    pub life: f64,
    /// (on-CPU share of the steady state, steady state's share of the lives): start-up, such
    /// as a spawned interpreter importing or a worker waiting for its first task, left out.
    pub steady: Option<(f64, f64)>,
    /// Share of their lives spent waiting on sinks (databases, files, services written to).
    pub sink_waits: f64,
    /// Share of their lives spent waiting on sources (answers the work needs): never netted.
    pub source_waits: f64,
    /// Share of their lives spent waiting on the pool's own pipes; 0 unless asked to net them.
    pub pipe_waits: f64,
    /// Sink waits per second the work was on a CPU, over the whole lives.
    pub sink_wait_per_cpu_s: Option<f64>,
    /// The steady state's on-CPU share net of the sink (and pipe) waits, at most 1.
    pub net: f64,
}

/// Share of the workers' lives spent waiting on the pool's own pipes; 0 when none was seen.
pub fn pipe_wait_share(s: &PointSummary) -> f64 {
    s.offcpu
        .as_ref()
        .and_then(|o| o.get(&OffCpuKind::PIPE))
        .copied()
        .unwrap_or(0.0)
}

/// None without the sampler's per-worker view. `net_pipes`: count the waits on the pool's
/// pipes as removable too (the payloads' transfer, which passing references takes away).
pub fn work_share(s: &PointSummary, net_pipes: bool) -> Option<WorkShare> {
    let life = s
        .on_cpu_share
        .map(|on| (on + s.runqueue_share.unwrap_or(0.0)).min(1.0))?;
    let steady = s.steady_on_cpu_share.zip(s.steady_share_of_life);
    let (sink_waits, source_waits) = super::peers::sink_and_source_waits(
        s.external_waits.as_deref().unwrap_or_default(),
        s.peer_roles.as_ref(),
    );
    let pipe_waits = if net_pipes { pipe_wait_share(s) } else { 0.0 };
    // The waits as shares of the steady state, at most what the work left of it.
    let span = steady.map_or(1.0, |(_, l)| l).max(f64::EPSILON);
    let work = steady.map_or(life, |(w, _)| w);
    let waits = ((sink_waits + pipe_waits) / span).min(1.0 - work).max(0.0);
    let net = if waits > 0.0 {
        work / (1.0 - waits)
    } else {
        work
    }
    .min(1.0);
    Some(WorkShare {
        life,
        steady,
        sink_waits,
        source_waits,
        pipe_waits,
        sink_wait_per_cpu_s: (life > 0.0).then(|| sink_waits / life),
        net,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::peers::PeerRole;
    use crate::analyze::waits::Sink;

    #[test]
    fn the_steady_state_is_judged_net_of_the_sink_waits_within_it() {
        // 55 % on a CPU over the lives, 40 % waiting on a database: the work itself wants a
        // CPU 0.55 / 0.6 of its time.
        let s = PointSummary {
            on_cpu_share: Some(0.55),
            external_waits: Some(vec![Sink {
                wait_share: 0.4,
                ..Default::default()
            }]),
            ..Default::default()
        };
        let w = work_share(&s, false).unwrap();
        assert_eq!(w.life, 0.55);
        assert!((w.net - 0.55 / 0.6).abs() < 1e-9, "{w:?}");
        assert!((w.sink_wait_per_cpu_s.unwrap() - 0.4 / 0.55).abs() < 1e-9);
        assert_eq!(w.pipe_waits, 0.0, "pipes are netted only when asked");
        assert!(
            work_share(&PointSummary::default(), true).is_none(),
            "no sampler"
        );
    }

    #[test]
    fn a_sink_slower_than_the_work_is_netted_and_a_source_is_not() {
        // 25 % on a CPU, 75 % waiting on one peer (3 s per CPU second).
        let waiting = |role| PointSummary {
            on_cpu_share: Some(0.25),
            external_waits: Some(vec![Sink {
                resource: "tcp:127.0.0.1:9000".into(),
                wait_share: 0.75,
                ..Default::default()
            }]),
            peer_roles: Some([("tcp:127.0.0.1:9000".to_string(), role)].into()),
            ..Default::default()
        };
        let sink = work_share(&waiting(PeerRole::Sink), false).unwrap();
        assert!((sink.net - 1.0).abs() < 1e-9, "however long: {sink:?}");
        let source = work_share(&waiting(PeerRole::Source), false).unwrap();
        assert!((source.net - 0.25).abs() < 1e-9, "{source:?}");
        assert_eq!((source.sink_waits, source.source_waits), (0.0, 0.75));
    }
}
