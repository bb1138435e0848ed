//! Ray actors the workers wait on. An actor is one process that runs its methods one at a time,
//! so tasks that each wait for its reply queue on it: a process that two or more workers write
//! to and wait on is a sink wherever it runs (`waits`), inside the engine too. Ray's core
//! worker waits for the reply on a condition variable, which the sampler sees only as a futex;
//! the python probe times each task's `ray.get` of an actor method's result, per actor, and the
//! actor's own process names itself (its id and class). This module joins the two, and finds
//! the addresses the actor's process served (the preload probe's accepted connections) so that
//! the bytes the workers sent it meet its waits under one name (`ipc::figures`).

use crate::measure::probes::{FdKind, ProbeData};
use std::collections::BTreeMap;

/// One actor the tasks of a run waited on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActorWaits {
    /// The name its waits and bytes go under: `actor:<Class>` (the class and the id's first
    /// eight hex digits where two actors share a class, the id alone where no process of the
    /// tree named the actor).
    pub resource: String,
    /// The actor's process, where one named itself this actor.
    pub pid: Option<i32>,
    /// The addresses its process served, as the preload probe names peers (`127.0.0.1:40067`).
    pub addresses: Vec<String>,
    /// Seconds each process's tasks waited for its replies, by pid.
    pub wait_s_by_pid: BTreeMap<i32, f64>,
}

/// The actors of one run that any process waited on; empty without the python probe or when
/// no task waited on an actor.
pub fn of(probes: Option<&ProbeData>) -> Vec<ActorWaits> {
    let Some(py) = probes.and_then(|p| p.python.as_ref()) else {
        return Vec::new();
    };
    let mut waits: BTreeMap<&str, BTreeMap<i32, f64>> = BTreeMap::new();
    for p in &py.processes {
        for w in &p.actor_waits {
            *waits.entry(&w.actor).or_default().entry(p.pid).or_default() += w.wait_s;
        }
    }
    let served_by = |id: &str| {
        py.processes
            .iter()
            .find_map(|p| p.actor.as_ref().filter(|a| a.id == id).map(|a| (p.pid, a)))
    };
    let class_count = |class: &str| {
        py.processes
            .iter()
            .filter(|p| p.actor.as_ref().is_some_and(|a| a.class_name == class))
            .count()
    };
    waits
        .into_iter()
        .map(|(id, wait_s_by_pid)| {
            let short = id.get(..8).unwrap_or(id);
            let served = served_by(id);
            let resource = match served {
                Some((_, a)) if class_count(&a.class_name) > 1 => {
                    format!("actor:{}#{short}", a.class_name)
                }
                Some((_, a)) => format!("actor:{}", a.class_name),
                None => format!("actor:{short}"),
            };
            let pid = served.map(|(pid, _)| pid);
            ActorWaits {
                resource,
                pid,
                addresses: pid.map_or_else(Vec::new, |pid| served_at(probes, pid)),
                wait_s_by_pid,
            }
        })
        .collect()
}

/// The addresses process `pid` served: the peers of the connections it accepted, which the
/// preload probe names by the accepting end.
fn served_at(probes: Option<&ProbeData>, pid: i32) -> Vec<String> {
    let mut out: Vec<String> = probes
        .and_then(|p| p.preload.as_ref())
        .into_iter()
        .flat_map(|pre| &pre.processes)
        .filter(|p| p.pid == pid)
        .flat_map(|p| &p.rows)
        .filter(|row| row.accepted && matches!(row.kind, FdKind::Tcp | FdKind::Unix))
        .filter_map(|row| row.peer.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::ipc::figures;
    use crate::measure::probes::{
        ActorWait, IoDir, IoRow, PreloadData, PreloadProcess, PythonData, PythonProcess, RayActor,
    };

    fn process(pid: i32, role: &str) -> PythonProcess {
        PythonProcess {
            pid,
            role: role.into(),
            ..Default::default()
        }
    }

    fn waiting(pid: i32, actor: &str, wait_s: f64) -> PythonProcess {
        PythonProcess {
            actor_waits: vec![ActorWait {
                actor: actor.into(),
                wait_s,
                calls: 20,
            }],
            ..process(pid, "ray_worker")
        }
    }

    fn serving(pid: i32, id: &str, class: &str) -> PythonProcess {
        PythonProcess {
            actor: Some(RayActor {
                id: id.into(),
                class_name: class.into(),
            }),
            ..process(pid, "ray_actor")
        }
    }

    fn probes(processes: Vec<PythonProcess>) -> ProbeData {
        ProbeData {
            preload: None,
            python: Some(PythonData { processes }),
        }
    }

    /// A tcp row of process `pid` to `peer`, `bytes` one way.
    fn tcp(peer: &str, dir: IoDir, bytes: u64, accepted: bool) -> IoRow {
        IoRow {
            kind: FdKind::Tcp,
            peer: Some(peer.into()),
            accepted,
            overflow: false,
            plumbing: false,
            service: None,
            dir,
            bytes,
            calls: 20,
            blocked_ns: 0,
        }
    }

    fn preload(pid: i32, rows: Vec<IoRow>) -> PreloadProcess {
        PreloadProcess {
            pid,
            ppid: 1,
            comm: "python".into(),
            exe: String::new(),
            forked: false,
            exit: None,
            lifetime_s: None,
            rows_overflowed: 0,
            rows,
            locks: Vec::new(),
        }
    }

    #[test]
    fn two_tasks_waits_on_one_actor_meet_under_its_class_with_the_bytes_sent_to_it() {
        // Ray's worker ports fall in the ephemeral range, where an engine's own connections
        // are taken for plumbing: the actor's are not.
        let actor_addr = "127.0.0.1:40067";
        let mut data = probes(vec![
            waiting(2, "ab12cd34ef", 0.5),
            waiting(3, "ab12cd34ef", 0.7),
            serving(4, "ab12cd34ef", "Writer"),
        ]);
        data.preload = Some(PreloadData {
            processes: vec![
                preload(2, vec![tcp(actor_addr, IoDir::Out, 400, false)]),
                preload(3, vec![tcp(actor_addr, IoDir::Out, 500, false)]),
                preload(3, vec![tcp(actor_addr, IoDir::In, 60, false)]),
                preload(4, vec![tcp(actor_addr, IoDir::In, 900, true)]),
            ],
            dropped_processes: 0,
        });
        let actors = of(Some(&data));
        assert_eq!(
            actors,
            vec![ActorWaits {
                resource: "actor:Writer".into(),
                pid: Some(4),
                addresses: vec![actor_addr.into()],
                wait_s_by_pid: [(2, 0.5), (3, 0.7)].into(),
            }]
        );
        let f = figures(&data, None);
        let e = &f.external_io["actor:Writer"];
        assert_eq!(f.external_io.len(), 1, "{:?}", f.external_io);
        assert_eq!((e.bytes_out, e.bytes_in), (900, 60));
        assert_eq!(e.service, Some(crate::measure::Service::RayActor));
    }

    #[test]
    fn actors_of_one_class_are_told_apart_and_an_unnamed_one_keeps_its_id() {
        let data = probes(vec![
            waiting(2, "aaaa0000ffff", 0.1),
            waiting(2, "bbbb1111ffff", 0.2),
            waiting(3, "cccc2222ffff", 0.3),
            serving(4, "aaaa0000ffff", "Writer"),
            serving(5, "bbbb1111ffff", "Writer"),
        ]);
        let names: Vec<String> = of(Some(&data)).into_iter().map(|a| a.resource).collect();
        assert_eq!(
            names,
            [
                "actor:Writer#aaaa0000",
                "actor:Writer#bbbb1111",
                "actor:cccc2222"
            ]
        );
        assert!(of(Some(&probes(vec![process(2, "ray_worker")]))).is_empty());
        assert!(of(None).is_empty());
    }
}
