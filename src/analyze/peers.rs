//! Sink or source: what a resource outside the pool is to the work that waits on it, told by
//! physics, not by its name. A sink is written with the work's results: the bytes flow into it
//! (records out, acknowledgements back), and one batched writer behind a bounded queue can take
//! its waits off the workers, however long they are. A source is what the work needs in order
//! to go on: the bytes flow from it (a fetched page, a query's rows), or the workers compute
//! next to nothing beside it (clients of a service that does their work), and its waits are
//! the work's own.

use super::ipc::ExternalIo;
use super::waits::Sink;
use super::workers::Workers;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Workers that spend less than this share of their lives on a CPU hand a service requests,
/// not results: what they wait for is the service doing their work (fixtures/workloads/
/// socket_wait.py computes under 1 %). A writer of results computes them: a pool whose sink
/// is several times slower than its work still computes a fifth of its life or more
/// (fixtures/workloads/slow_sink.py), and a batched writer gives it back the rest.
pub const RESULT_WRITER_CPU_SHARE: f64 = 0.05;

/// What an external resource is to the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeerRole {
    /// The workers write their results to it: its waits can be moved off them.
    Sink,
    /// The work needs what it answers: its waits are the work's own.
    Source,
}

/// The role of each external resource the workers waited on in one run: from the workers'
/// bytes each way (preload probe, `io`) and their share of life on a CPU (`on_cpu`: running,
/// not queued, so a busy host that keeps clients runnable longer does not make them compute). A
/// file the workers wrote is a sink (files only read never get here); a socket without probe
/// bytes is left out (nothing tells).
pub fn classify(
    external: &[Sink],
    io: &BTreeMap<String, ExternalIo>,
    w: &Workers,
    on_cpu: Option<f64>,
) -> BTreeMap<String, PeerRole> {
    external
        .iter()
        .filter_map(|s| Some((s.resource.clone(), role(s, io.get(&s.resource), w, on_cpu)?)))
        .collect()
}

fn role(s: &Sink, io: Option<&ExternalIo>, w: &Workers, on_cpu: Option<f64>) -> Option<PeerRole> {
    if s.resource.starts_with("file:") {
        return Some(PeerRole::Sink);
    }
    let io = io?;
    let of_workers = |by_pid: &BTreeMap<i32, u64>| -> u64 {
        by_pid
            .iter()
            .filter(|(pid, _)| w.pids.contains(pid))
            .map(|(_, b)| *b)
            .sum()
    };
    let (out, back) = (
        of_workers(&io.bytes_out_by_pid),
        of_workers(&io.bytes_in_by_pid),
    );
    if out == 0 && back == 0 {
        return None;
    }
    let computes = on_cpu? >= RESULT_WRITER_CPU_SHARE;
    Some(if out > back && computes {
        PeerRole::Sink
    } else {
        PeerRole::Source
    })
}

/// The workers' waits on external resources at one point, as shares of their lives: on sinks
/// (results written; a resource nothing tells the role of counts here, as it always has) and
/// on sources (answers the work needs).
pub fn sink_and_source_waits(
    external: &[Sink],
    roles: Option<&BTreeMap<String, PeerRole>>,
) -> (f64, f64) {
    external.iter().fold((0.0, 0.0), |(sink, source), k| {
        match roles.and_then(|r| r.get(&k.resource)) {
            Some(PeerRole::Source) => (sink, source + k.wait_share),
            _ => (sink + k.wait_share, source),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::workers::Layout;

    fn workers() -> Workers {
        Workers {
            layout: Layout::Processes,
            count: 2,
            cpu_s: vec![1.0, 1.0],
            pids: vec![2, 3],
            tids: vec![2, 3],
            other_processes: 1,
            task_s: Vec::new(),
        }
    }

    /// A tcp peer the workers (2, 3) sent `out` bytes each and read `back` bytes each from;
    /// the parent (1) read a large reply too, which is not the workers' traffic.
    fn peer(out: u64, back: u64) -> BTreeMap<String, ExternalIo> {
        let io = ExternalIo {
            kind: crate::measure::ResourceKind::Tcp,
            bytes_out_by_pid: [(2, out), (3, out)].into(),
            bytes_in_by_pid: [(1, 1 << 20), (2, back), (3, back)].into(),
            ..Default::default()
        };
        [("tcp:127.0.0.1:9000".to_string(), io)].into()
    }

    fn role_of(io: &BTreeMap<String, ExternalIo>, on_cpu: f64) -> Option<PeerRole> {
        let sinks = vec![Sink {
            resource: "tcp:127.0.0.1:9000".into(),
            ..Default::default()
        }];
        classify(&sinks, io, &workers(), Some(on_cpu))
            .get("tcp:127.0.0.1:9000")
            .copied()
    }

    #[test]
    fn records_out_and_acknowledgements_back_from_computing_workers_are_a_sink() {
        // slow_sink.py: 2 KiB records, two-byte acknowledgements, a fifth of the life computing.
        assert_eq!(role_of(&peer(2100 * 60, 2 * 60), 0.2), Some(PeerRole::Sink));
    }

    #[test]
    fn answers_larger_than_the_requests_are_a_source() {
        // A fetch: small requests, pages back, and the workers compute on them.
        assert_eq!(
            role_of(&peer(80 * 50, 40_000 * 50), 0.6),
            Some(PeerRole::Source)
        );
    }

    #[test]
    fn clients_that_compute_next_to_nothing_wait_on_a_source() {
        // socket_wait.py: "job" out, "ok" back, under 1 % of the life on a CPU.
        assert_eq!(role_of(&peer(80, 60), 0.01), Some(PeerRole::Source));
    }

    #[test]
    fn waits_split_by_role_and_an_unknown_role_counts_as_a_sink() {
        let wait = |resource: &str, wait_share| Sink {
            resource: resource.into(),
            wait_share,
            ..Default::default()
        };
        let external = [
            wait("tcp:a", 0.3),
            wait("tcp:b", 0.2),
            wait("file:/out", 0.1),
        ];
        let roles: BTreeMap<String, PeerRole> = [
            ("tcp:a".to_string(), PeerRole::Source),
            ("file:/out".to_string(), PeerRole::Sink),
        ]
        .into();
        let (sink, source) = sink_and_source_waits(&external, Some(&roles));
        assert!((sink - 0.3).abs() < 1e-12 && (source - 0.3).abs() < 1e-12);
        assert_eq!(sink_and_source_waits(&external, None).1, 0.0);
    }

    #[test]
    fn files_written_are_sinks_and_sockets_without_bytes_have_no_role() {
        let sinks = vec![
            Sink {
                resource: "file:/data/out.db".into(),
                ..Default::default()
            },
            Sink {
                resource: "tcp:10.0.0.1:80".into(),
                ..Default::default()
            },
        ];
        let roles = classify(&sinks, &BTreeMap::new(), &workers(), Some(0.5));
        assert_eq!(
            roles.into_iter().collect::<Vec<_>>(),
            vec![("file:/data/out.db".to_string(), PeerRole::Sink)]
        );
    }
}
