//! Where the workers' off-CPU time went: shares per resource class and per named resource,
//! and which resources are shared sinks.
//!
//! A sink is something outside the pool's own plumbing that two or more workers wait on: a
//! database endpoint, a network service, a file. Pipes and unnamed socket pairs between a pool's
//! parent and its workers are IPC, and futexes are locks (the GIL among them): neither is a sink.

use super::workers::Workers;
use crate::measure::{SamplerData, ThreadRecord};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Off-CPU time of a thread no tick caught it blocked in (short, rare waits).
const UNSAMPLED: &str = "unsampled";

/// Resource classes that can be sinks.
const SINK_KINDS: &[&str] = &["tcp", "udp", "unix", "file"];

/// A resource at least two workers waited on, with its share of their time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Sink {
    /// The resource as the sampler named it (e.g. "tcp:127.0.0.1:5432", "file:/data/out.log").
    pub resource: String,
    /// What it is: "postgresql", "tcp service", "unix service", "file".
    pub kind: String,
    /// Blocked time of the workers on it / the workers' lifetime.
    pub wait_share: f64,
    /// How many distinct workers waited on it.
    pub workers_waiting: u32,
}

/// The off-CPU picture of one run's workers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct OffCpu {
    /// Share of worker lifetime blocked, per resource class (futex, pipe, unix, tcp, file, sleep...).
    pub by_kind: BTreeMap<String, f64>,
    /// Share of worker lifetime blocked, per named resource.
    pub by_resource: BTreeMap<String, f64>,
    /// Resources two or more workers waited on that are not the pool's plumbing.
    pub sinks: Vec<Sink>,
    /// Every resource outside the plumbing that any worker waited on (sinks included).
    pub external: Vec<Sink>,
}

/// Reads the workers' waits in one run; None without workers or without any lifetime.
pub fn offcpu(data: &SamplerData, w: &Workers) -> Option<OffCpu> {
    let threads: Vec<&ThreadRecord> = data
        .processes
        .iter()
        .flat_map(|p| p.threads.iter())
        .filter(|t| w.tids.contains(&t.tid))
        .collect();
    let life: f64 = threads.iter().map(|t| accounted_life_s(t)).sum();
    if life <= 0.0 {
        return None;
    }
    let mut out = OffCpu::default();
    let mut waiters: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
    let mut kinds: BTreeMap<&str, &str> = BTreeMap::new();
    for t in &threads {
        // schedstat gives a thread's off-CPU time exactly; the ticks that caught it blocked
        // say what on. A tick sees a thread blocked with probability equal to the share of
        // its time spent so, so ticks (not the time left in the caught intervals, which
        // misses waits in intervals that end with the thread running) divide the total.
        let off = (accounted_life_s(t) - t.on_cpu_s - t.runqueue_s).max(0.0);
        let ticks: u64 = t.waits.iter().map(|w| u64::from(w.ticks)).sum();
        if ticks == 0 {
            if off > 0.0 {
                *out.by_kind.entry(UNSAMPLED.into()).or_default() += off / life;
            }
            continue;
        }
        for wc in &t.waits {
            let share = off * f64::from(wc.ticks) / ticks as f64 / life;
            *out.by_kind.entry(wc.kind.clone()).or_default() += share;
            *out.by_resource.entry(wc.resource.clone()).or_default() += share;
            waiters.entry(&wc.resource).or_default().insert(t.tid);
            kinds.insert(&wc.resource, &wc.kind);
        }
    }
    out.external = waiters
        .iter()
        .filter(|(res, _)| is_sink_kind(kinds[*res], res))
        .map(|(res, tids)| Sink {
            resource: res.to_string(),
            kind: describe(kinds[*res], res),
            wait_share: out.by_resource[*res],
            workers_waiting: tids.len() as u32,
        })
        .collect();
    out.external
        .sort_by(|a, b| b.wait_share.total_cmp(&a.wait_share));
    out.sinks = out
        .external
        .iter()
        .filter(|s| s.workers_waiting >= 2)
        .cloned()
        .collect();
    Some(out)
}

/// A thread's observed life: first to last sight, or what was accounted in it when that is
/// more (the first interval's waits are attributed before the first sighting).
pub fn accounted_life_s(t: &ThreadRecord) -> f64 {
    let waited: f64 = t.waits.iter().map(|w| w.blocked_s).sum();
    (t.last_seen_s - t.first_seen_s)
        .max(t.on_cpu_s + t.runqueue_s + waited)
        .max(0.0)
}

/// Unnamed socket pairs ("unix:[a,b]") are a pool's plumbing; named sockets are services.
fn is_sink_kind(kind: &str, resource: &str) -> bool {
    SINK_KINDS.contains(&kind) && !(kind == "unix" && resource.starts_with("unix:["))
}

/// Names the service behind a resource where the address says what it is.
pub fn describe(kind: &str, resource: &str) -> String {
    let postgres = resource.ends_with(":5432") || resource.contains(".s.PGSQL.");
    match kind {
        _ if postgres => "postgresql".into(),
        "tcp" | "udp" => format!("{kind} service"),
        "unix" => "unix service".into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::workers::Layout;
    use crate::measure::{ProcessRecord, WaitCount};

    /// A wait caught at `ticks` ticks (10 ms apart).
    fn wait(resource: &str, kind: &str, ticks: u32) -> WaitCount {
        WaitCount {
            resource: resource.into(),
            kind: kind.into(),
            syscall: "read".into(),
            ticks,
            blocked_s: f64::from(ticks) * 0.01,
        }
    }

    /// A thread alive 10 s, `on_cpu_s` of them running.
    fn thread(tid: i32, on_cpu_s: f64, waits: Vec<WaitCount>) -> ThreadRecord {
        ThreadRecord {
            tid,
            on_cpu_s,
            first_seen_s: 0.0,
            last_seen_s: 10.0,
            waits,
            ..Default::default()
        }
    }

    fn run(threads: Vec<ThreadRecord>) -> (SamplerData, Workers) {
        let tids: Vec<i32> = threads.iter().map(|t| t.tid).collect();
        let w = Workers {
            layout: Layout::Processes,
            count: tids.len() as u32,
            cpu_s: vec![1.0; tids.len()],
            pids: tids.clone(),
            tids,
            other_processes: 0,
        };
        (
            SamplerData {
                processes: vec![ProcessRecord {
                    pid: 1,
                    threads,
                    ..Default::default()
                }],
                ..Default::default()
            },
            w,
        )
    }

    #[test]
    fn two_workers_waiting_on_postgres_make_it_a_sink_and_their_pipes_do_not() {
        let (data, w) = run(vec![
            thread(
                2,
                6.0,
                vec![
                    wait("unix:/tmp/pg/.s.PGSQL.5432", "unix", 3),
                    wait("pipe:[77]", "pipe", 1),
                ],
            ),
            thread(
                3,
                7.0,
                vec![
                    wait("unix:/tmp/pg/.s.PGSQL.5432", "unix", 2),
                    wait("pipe:[77]", "pipe", 1),
                ],
            ),
        ]);
        let o = offcpu(&data, &w).unwrap();
        assert_eq!(o.sinks.len(), 1);
        assert_eq!(o.sinks[0].kind, "postgresql");
        assert!(
            (o.sinks[0].wait_share - 0.25).abs() < 1e-9,
            "5 s of 20 s of worker life"
        );
        assert!((o.by_kind["pipe"] - 0.1).abs() < 1e-9);
    }

    #[test]
    fn a_resource_one_worker_waits_on_and_socket_pairs_are_not_sinks() {
        let (data, w) = run(vec![
            thread(
                2,
                7.0,
                vec![
                    wait("file:/tmp/out.log", "file", 1),
                    wait("unix:[5,6]", "unix", 2),
                ],
            ),
            thread(
                3,
                4.0,
                vec![wait("unix:[5,6]", "unix", 2), wait("futex", "futex", 4)],
            ),
        ]);
        let o = offcpu(&data, &w).unwrap();
        assert!(o.sinks.is_empty(), "{:?}", o.sinks);
        assert_eq!(
            o.external.len(),
            1,
            "the file one worker wrote is still an external resource"
        );
        assert!((o.by_kind["futex"] - 0.2).abs() < 1e-9);
    }
}
