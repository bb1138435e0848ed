//! Where the workers' off-CPU time went: shares per resource class and per named resource,
//! and which resources are shared sinks.
//!
//! A sink is something outside the pool's own plumbing that the workers write to and lose time
//! to: a database endpoint, a network service, a file. The time lost is what they wait on it,
//! and for a database also the sleeps of its writers (busy handlers, back-off). Pipes and unnamed socket pairs between a pool's
//! parent and its workers are IPC, and futexes are locks (the GIL among them): neither is a sink.
//! A unix socket that another process of the tree serves (a `multiprocessing.Manager`, a
//! server the script started on a socket pair) is not the pool's plumbing, however it was
//! made: it is a service like any other, and a sink when the workers write to and wait on it.

use super::actors::ActorWaits;
use super::record::accounted_life_s;
use super::workers::Workers;
use crate::measure::{ResourceKind, SamplerData, Service, ThreadRecord, WaitCount};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Syscalls that block while writing: a wait in one of them is the cost of writing to its
/// resource, whatever the resource is.
const WRITE_CALLS: &[&str] = &[
    "write",
    "pwrite64",
    "writev",
    "pwritev",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "sendto",
    "sendmsg",
];

/// A resource at least two workers waited on or wrote to, with its share of their time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, schemars::JsonSchema)]
pub struct Sink {
    /// The resource as the sampler named it (e.g. "tcp:127.0.0.1:5432", "file:/data/out.log").
    pub resource: String,
    /// What it is: "postgresql", "sqlite", "tcp service", "unix service", "file".
    #[schemars(with = "String")]
    pub kind: SinkKind,
    /// Time the workers lost to it / the workers' lifetime: blocked on it (`direct_share`)
    /// plus the sleeps of the workers writing to a database (`sleep_share`).
    pub wait_share: f64,
    /// Blocked on the resource itself (reads of its replies, writes, fsyncs).
    #[serde(default)]
    pub direct_share: f64,
    /// Sleeps of the workers that write to it, when it is a database: SQLite's busy handler
    /// and client back-off sleep and retry instead of blocking on the resource.
    #[serde(default)]
    pub sleep_share: f64,
    /// How many distinct workers waited on it.
    pub workers_waiting: u32,
    /// How many distinct worker processes held it open for writing.
    #[serde(default)]
    pub workers_writing: u32,
}

/// What off-CPU time went to: a resource class, or waits no tick caught (short, rare ones).
/// Written as the class's word or "unsampled", and ordered by those words, so the maps keyed by
/// it list their keys as report.json always has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum OffCpuKind {
    Resource(ResourceKind),
    Unsampled,
}

impl OffCpuKind {
    pub const PIPE: OffCpuKind = OffCpuKind::Resource(ResourceKind::Pipe);
    pub const UNIX: OffCpuKind = OffCpuKind::Resource(ResourceKind::Unix);
    pub const FUTEX: OffCpuKind = OffCpuKind::Resource(ResourceKind::Futex);

    /// The word report.json uses for it.
    pub fn as_str(self) -> &'static str {
        match self {
            OffCpuKind::Resource(k) => k.as_str(),
            OffCpuKind::Unsampled => "unsampled",
        }
    }
}

impl Ord for OffCpuKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for OffCpuKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for OffCpuKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<OffCpuKind> for String {
    fn from(kind: OffCpuKind) -> String {
        kind.as_str().into()
    }
}

impl TryFrom<String> for OffCpuKind {
    type Error = String;
    fn try_from(word: String) -> Result<Self, String> {
        if word == OffCpuKind::Unsampled.as_str() {
            return Ok(OffCpuKind::Unsampled);
        }
        serde_json::from_value::<ResourceKind>(serde_json::Value::from(word.as_str()))
            .map(OffCpuKind::Resource)
            .map_err(|_| format!("'{word}' is not a kind of wait"))
    }
}

/// The off-CPU picture of one run's workers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct OffCpu {
    /// Share of worker lifetime blocked, per resource class (futex, pipe, unix, tcp, file, sleep...).
    #[schemars(with = "BTreeMap<String, f64>")]
    pub by_kind: BTreeMap<OffCpuKind, f64>,
    /// Share of worker lifetime blocked, per named resource.
    pub by_resource: BTreeMap<String, f64>,
    /// Resources two or more workers waited on or wrote to that are not the pool's plumbing.
    pub sinks: Vec<Sink>,
    /// Every resource outside the plumbing that any worker lost time to (sinks included).
    pub external: Vec<Sink>,
}

/// What one resource cost the workers, while it is being summed.
#[derive(Default)]
struct Tally {
    kind: ResourceKind,
    service: Option<Service>,
    direct: f64,
    sleep: f64,
    waiters: BTreeSet<i32>,
    writers: BTreeSet<i32>,
    /// Waited on in a write call, or held open for writing: data goes into it.
    written: bool,
}

/// Reads the workers' waits in one run; None without workers or without any lifetime.
/// `actors`: the Ray actors the workers' tasks waited on (`actors::of`), whose waits the
/// sampler saw as futexes.
pub fn offcpu(data: &SamplerData, w: &Workers, actors: &[ActorWaits]) -> Option<OffCpu> {
    let tids: BTreeSet<i32> = w.tids.iter().copied().collect();
    let pids: BTreeSet<i32> = w.pids.iter().copied().collect();
    let threads: Vec<(i32, &ThreadRecord)> = data
        .processes
        .iter()
        .flat_map(|p| p.threads.iter().map(move |t| (p.pid, t)))
        .filter(|(_, t)| tids.contains(&t.tid))
        .collect();
    let life: f64 = threads.iter().map(|(_, t)| accounted_life_s(t)).sum();
    if life <= 0.0 {
        return None;
    }
    let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
    let engine_plumbing = super::engines::served_by_services(data);
    // The databases each worker process writes to: its sleeps are charged to them.
    let mut databases: HashMap<i32, Vec<String>> = HashMap::new();
    for p in data.processes.iter().filter(|p| pids.contains(&p.pid)) {
        for wr in p
            .written
            .iter()
            .filter(|w| !engine_plumbing.contains(&w.resource))
        {
            let t = tally.entry(wr.resource.clone()).or_default();
            (t.kind, t.service, t.written) = (wr.kind, wr.service, true);
            t.writers.insert(p.pid);
            if wr.service.is_some() {
                databases
                    .entry(p.pid)
                    .or_default()
                    .push(wr.resource.clone());
            }
        }
    }
    let served = served_in_tree(data, w);
    let mut out = OffCpu::default();
    // Each worker process's waits on actors are told once, to its busiest worker thread (the
    // one that ran the tasks).
    let mut actor_told: BTreeSet<i32> = BTreeSet::new();
    for &(pid, t) in &threads {
        // schedstat gives a thread's off-CPU time exactly; the ticks that caught it blocked
        // say what on. A tick sees a thread blocked with probability equal to the share of
        // its time spent so, so ticks (not the time left in the caught intervals, which
        // misses waits in intervals that end with the thread running) divide the total.
        let off = (accounted_life_s(t) - t.on_cpu_s - t.runqueue_s).max(0.0);
        let ticks: u64 = t.waits.iter().map(|w| u64::from(w.ticks)).sum();
        if ticks == 0 {
            if off > 0.0 {
                *out.by_kind.entry(OffCpuKind::Unsampled).or_default() += off / life;
            }
            continue;
        }
        let futex_ticks: u64 = t
            .waits
            .iter()
            .filter(|w| w.kind == ResourceKind::Futex)
            .map(|w| u64::from(w.ticks))
            .sum();
        let futex_s = off * futex_ticks as f64 / ticks as f64;
        let on_actors = if actor_told.insert(pid) {
            on_actors(actors, pid, futex_s)
        } else {
            Vec::new()
        };
        let to_actors: f64 = on_actors.iter().map(|(_, s)| s).sum();
        for (actor, s) in on_actors {
            let share = s / life;
            *out.by_resource.entry(actor.to_string()).or_default() += share;
            let e = tally.entry(actor.to_string()).or_default();
            (e.kind, e.service) = (ResourceKind::Tcp, Some(Service::RayActor));
            e.direct += share;
            e.waiters.insert(t.tid);
            // A method call carries its arguments to the actor.
            e.written = true;
        }
        // What the futex ticks are left with once the actors' waits are taken out.
        let futex_left = if futex_s > 0.0 {
            1.0 - to_actors / futex_s
        } else {
            1.0
        };
        for wc in &t.waits {
            let share = off * f64::from(wc.ticks) / ticks as f64 / life;
            *out.by_kind
                .entry(OffCpuKind::Resource(wc.kind))
                .or_default() += share;
            let named = if wc.kind == ResourceKind::Futex {
                share * futex_left
            } else {
                share
            };
            *out.by_resource.entry(wc.resource.clone()).or_default() += named;
            if is_external(wc, &served) && !engine_plumbing.contains(&wc.resource) {
                let e = tally.entry(wc.resource.clone()).or_default();
                (e.kind, e.service) = (wc.kind, wc.service.or(e.service));
                e.direct += share;
                e.waiters.insert(t.tid);
                // A connection carries data both ways; a file only when it is written.
                e.written |=
                    wc.kind != ResourceKind::File || WRITE_CALLS.contains(&wc.syscall.as_str());
            } else if wc.kind == ResourceKind::Sleep {
                // A database client that sleeps is backing off from its database.
                if let Some(db) = databases.get(&pid).and_then(|d| d.first()) {
                    let e = tally.entry(db.clone()).or_default();
                    e.sleep += share;
                    e.waiters.insert(t.tid);
                }
            }
        }
    }
    out.external = tally
        .iter()
        // An input file the workers wait to read is where data comes from, not a sink.
        .filter(|(_, t)| t.written && t.direct + t.sleep > 0.0)
        .map(|(res, t)| Sink {
            resource: res.clone(),
            kind: SinkKind::of(t.kind, t.service),
            wait_share: t.direct + t.sleep,
            direct_share: t.direct,
            sleep_share: t.sleep,
            workers_waiting: t.waiters.len() as u32,
            workers_writing: t.writers.len() as u32,
        })
        .collect();
    out.external
        .sort_by(|a, b| b.wait_share.total_cmp(&a.wait_share));
    out.sinks = out
        .external
        .iter()
        .filter(|s| s.workers_waiting >= 2 || s.workers_writing >= 2)
        .cloned()
        .collect();
    Some(out)
}

/// The seconds of process `pid`'s futex waits (`futex_s` of them) that were waits on each
/// actor: the probe's timing of its gets, at most the futex time the sampler saw, shared in
/// proportion when the gets add up to more.
fn on_actors(actors: &[ActorWaits], pid: i32, futex_s: f64) -> Vec<(&str, f64)> {
    let timed: Vec<(&str, f64)> = actors
        .iter()
        .filter_map(|a| Some((a.resource.as_str(), *a.wait_s_by_pid.get(&pid)?)))
        .filter(|(_, s)| *s > 0.0)
        .collect();
    let total: f64 = timed.iter().map(|(_, s)| s).sum();
    let k = if total > futex_s {
        futex_s / total
    } else {
        1.0
    };
    timed.into_iter().map(|(a, s)| (a, s * k)).collect()
}

/// A wait on something outside the pool: a service, a file; never the pool's own plumbing.
fn is_external(wc: &WaitCount, served: &BTreeSet<&str>) -> bool {
    wc.kind.can_be_sink() && (!wc.plumbing || served.contains(wc.resource.as_str()))
}

/// The unix sockets, named as plumbing when sampled, that a process of the tree other than the
/// workers and their parents holds: the pool's task and result channels run only between a
/// pool's parent and its workers, so a third process at the other end serves them (a
/// multiprocessing manager, a server on a socket pair). Pipes stay plumbing: a process forked
/// after a pool inherits its pipes without serving them.
fn served_in_tree<'a>(data: &'a SamplerData, w: &Workers) -> BTreeSet<&'a str> {
    let pool: BTreeSet<i32> = data
        .processes
        .iter()
        .filter(|p| w.pids.contains(&p.pid))
        .flat_map(|p| [p.pid, p.ppid])
        .collect();
    data.processes
        .iter()
        .filter(|p| !pool.contains(&p.pid))
        .flat_map(|p| p.held.iter())
        .map(String::as_str)
        .filter(|r| r.starts_with("unix:"))
        .collect()
}

/// What a sink is: the service where the sampler or a probe could tell, else its class.
/// Written as report.json has always named it: "postgresql", "sqlite", "tcp service",
/// "unix service", "file".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum SinkKind {
    Service(Service),
    Class(ResourceKind),
}

impl SinkKind {
    /// A file (rather than a database or a service reached by socket).
    pub const FILE: SinkKind = SinkKind::Class(ResourceKind::File);

    /// The service when it is known, else the resource's class.
    pub fn of(kind: ResourceKind, service: Option<Service>) -> SinkKind {
        service.map_or(SinkKind::Class(kind), SinkKind::Service)
    }
}

impl Default for SinkKind {
    fn default() -> Self {
        SinkKind::Class(ResourceKind::Other)
    }
}

impl std::fmt::Display for SinkKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SinkKind::Service(s) => f.write_str(s.as_str()),
            SinkKind::Class(k @ (ResourceKind::Tcp | ResourceKind::Udp | ResourceKind::Unix)) => {
                write!(f, "{k} service")
            }
            SinkKind::Class(k) => write!(f, "{k}"),
        }
    }
}

impl From<SinkKind> for String {
    fn from(kind: SinkKind) -> String {
        kind.to_string()
    }
}

impl std::str::FromStr for SinkKind {
    type Err = String;
    /// The words back: a service's name, a class and "service" ("tcp service"), or a class's
    /// own word ("file").
    fn from_str(word: &str) -> Result<Self, String> {
        let quoted = serde_json::Value::from(word);
        if let Ok(s) = serde_json::from_value::<Service>(quoted) {
            return Ok(SinkKind::Service(s));
        }
        let class = word.strip_suffix(" service").unwrap_or(word);
        serde_json::from_value::<ResourceKind>(serde_json::Value::from(class))
            .map(SinkKind::Class)
            .map_err(|_| format!("'{word}' is not a kind of sink"))
    }
}

impl TryFrom<String> for SinkKind {
    type Error = String;
    fn try_from(word: String) -> Result<Self, String> {
        word.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_cpu_kinds_sort_and_read_back_as_their_words() {
        let words = ["file", "futex", "pipe", "sleep", "unix", "unsampled"];
        let map: BTreeMap<OffCpuKind, f64> = words
            .iter()
            .rev()
            .map(|w| (OffCpuKind::try_from(w.to_string()).unwrap(), 0.0))
            .collect();
        let json = serde_json::to_value(&map).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys, words);
        assert!(OffCpuKind::try_from("teapot".to_string()).is_err());
    }

    #[test]
    fn a_sink_kind_is_written_as_the_words_report_json_always_used() {
        use ResourceKind::{File, Tcp, Udp, Unix};
        for (kind, service, word) in [
            (Tcp, Some(Service::Postgresql), "postgresql"),
            (File, Some(Service::Sqlite), "sqlite"),
            (Tcp, None, "tcp service"),
            (Udp, None, "udp service"),
            (Unix, None, "unix service"),
            (File, None, "file"),
            (Tcp, Some(Service::RayActor), "ray actor"),
        ] {
            let k = SinkKind::of(kind, service);
            assert_eq!(serde_json::to_value(k).unwrap(), word);
            assert_eq!(serde_json::from_value::<SinkKind>(word.into()).unwrap(), k);
        }
        assert!("teapot".parse::<SinkKind>().is_err());
    }
    use crate::analyze::workers::Layout;
    use crate::measure::{ProcessRecord, WaitCount, Written};

    /// A wait in `syscall` caught at `ticks` ticks (10 ms apart), classified as the sampler does.
    fn wait_in(syscall: &str, resource: &str, kind: ResourceKind, ticks: u32) -> WaitCount {
        WaitCount {
            resource: resource.into(),
            kind,
            plumbing: kind == ResourceKind::Pipe
                || resource.starts_with("unix:[")
                || resource.contains("/pymp-"),
            service: resource
                .contains(".s.PGSQL.")
                .then_some(Service::Postgresql),
            syscall: syscall.into(),
            ticks,
            blocked_s: f64::from(ticks) * 0.01,
        }
    }

    fn wait(resource: &str, kind: ResourceKind, ticks: u32) -> WaitCount {
        wait_in("read", resource, kind, ticks)
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

    /// One worker process per thread (pid = tid), each holding `written` open for writing.
    fn run_writing(threads: Vec<ThreadRecord>, written: &[Written]) -> (SamplerData, Workers) {
        let tids: Vec<i32> = threads.iter().map(|t| t.tid).collect();
        let w = Workers {
            layout: Layout::Processes,
            count: tids.len() as u32,
            cpu_s: vec![1.0; tids.len()],
            pids: tids.clone(),
            tids,
            other_processes: 0,
            task_s: Vec::new(),
        };
        let processes = threads
            .into_iter()
            .map(|t| ProcessRecord {
                pid: t.tid,
                written: written.to_vec(),
                threads: vec![t],
                ..Default::default()
            })
            .collect();
        (
            SamplerData {
                processes,
                ..Default::default()
            },
            w,
        )
    }

    fn run(threads: Vec<ThreadRecord>) -> (SamplerData, Workers) {
        run_writing(threads, &[])
    }

    #[test]
    fn two_workers_waiting_on_postgres_make_it_a_sink_and_their_pipes_do_not() {
        let (data, w) = run(vec![
            thread(
                2,
                6.0,
                vec![
                    wait("unix:/tmp/pg/.s.PGSQL.5432", ResourceKind::Unix, 3),
                    wait("pipe:[77]", ResourceKind::Pipe, 1),
                ],
            ),
            thread(
                3,
                7.0,
                vec![
                    wait("unix:/tmp/pg/.s.PGSQL.5432", ResourceKind::Unix, 2),
                    wait("pipe:[77]", ResourceKind::Pipe, 1),
                ],
            ),
        ]);
        let o = offcpu(&data, &w, &[]).unwrap();
        assert_eq!(o.sinks.len(), 1);
        assert_eq!(o.sinks[0].kind.to_string(), "postgresql");
        assert!(
            (o.sinks[0].wait_share - 0.25).abs() < 1e-9,
            "5 s of 20 s of worker life"
        );
        assert!((o.by_kind[&OffCpuKind::PIPE] - 0.1).abs() < 1e-9);
    }

    #[test]
    fn a_resource_one_worker_waits_on_and_socket_pairs_are_not_sinks() {
        let (data, w) = run(vec![
            thread(
                2,
                7.0,
                vec![
                    wait_in("write", "file:/tmp/out.log", ResourceKind::File, 1),
                    wait("unix:[5,6]", ResourceKind::Unix, 2),
                ],
            ),
            thread(
                3,
                4.0,
                vec![
                    wait("unix:[5,6]", ResourceKind::Unix, 2),
                    wait("futex", ResourceKind::Futex, 4),
                ],
            ),
        ]);
        let o = offcpu(&data, &w, &[]).unwrap();
        assert!(o.sinks.is_empty(), "{:?}", o.sinks);
        assert_eq!(
            o.external.len(),
            1,
            "the file one worker wrote is still an external resource"
        );
        assert!((o.by_kind[&OffCpuKind::FUTEX] - 0.2).abs() < 1e-9);
    }

    #[test]
    fn a_manager_process_the_workers_wait_on_is_a_sink_and_the_pools_own_socket_pairs_are_not() {
        let manager = "unix:/tmp/pymp-ab12/listener-cd34";
        let worker = |tid| {
            thread(
                tid,
                5.0,
                vec![
                    wait(manager, ResourceKind::Unix, 3),
                    wait("unix:[5,6]", ResourceKind::Unix, 1),
                ],
            )
        };
        let (mut data, w) = run(vec![worker(2), worker(3)]);
        for p in &mut data.processes {
            p.ppid = 1;
            p.held = vec![manager.into(), "unix:[5,6]".into()];
        }
        // The pool's parent holds both; the manager, its sibling, serves only its own socket.
        let held = |pid, ppid, held: &[&str]| ProcessRecord {
            pid,
            ppid,
            held: held.iter().map(|h| h.to_string()).collect(),
            ..Default::default()
        };
        data.processes.push(held(1, 0, &[manager, "unix:[5,6]"]));
        let o = offcpu(&data, &w, &[]).unwrap();
        assert!(o.sinks.is_empty(), "no third process yet: {:?}", o.sinks);
        data.processes.push(held(4, 1, &[manager]));
        let o = offcpu(&data, &w, &[]).unwrap();
        assert_eq!(o.sinks.len(), 1, "{:?}", o.sinks);
        assert_eq!(
            (
                o.sinks[0].resource.as_str(),
                o.sinks[0].kind.to_string().as_str()
            ),
            (manager, "unix service")
        );
        // 5 s off CPU each, 3 of 4 ticks on the manager.
        assert!(
            (o.sinks[0].wait_share - 0.375).abs() < 1e-9,
            "{:?}",
            o.sinks
        );
    }

    #[test]
    fn tasks_waiting_on_one_ray_actor_make_it_a_sink_and_its_futex_waits_are_its() {
        // Ray's core worker waits for an actor's reply on a futex: 8 of 10 ticks each, and
        // the probe timed 4 s (worker 2) and 7 s (worker 3, more than the futex time seen).
        let worker = |tid| {
            thread(
                tid,
                5.0,
                vec![
                    wait("futex", ResourceKind::Futex, 8),
                    wait("pipe:[9]", ResourceKind::Pipe, 2),
                ],
            )
        };
        let (data, w) = run(vec![worker(2), worker(3)]);
        let actor = ActorWaits {
            resource: "actor:Writer".into(),
            pid: Some(4),
            addresses: Vec::new(),
            wait_s_by_pid: [(2, 4.0), (3, 7.0)].into(),
        };
        let o = offcpu(&data, &w, std::slice::from_ref(&actor)).unwrap();
        assert_eq!(o.sinks.len(), 1, "{:?}", o.sinks);
        let sink = &o.sinks[0];
        assert_eq!(
            (sink.resource.as_str(), sink.kind.to_string().as_str()),
            ("actor:Writer", "ray actor")
        );
        assert_eq!(sink.workers_waiting, 2);
        // 5 s off CPU each, 4 s of it on a futex: 4 + 4 (capped) of 20 s.
        assert!((sink.wait_share - 0.4).abs() < 1e-9, "{sink:?}");
        assert!(o.by_resource["futex"].abs() < 1e-9, "{:?}", o.by_resource);
        assert!(
            (o.by_kind[&OffCpuKind::FUTEX] - 0.4).abs() < 1e-9,
            "still a futex by its class"
        );
        // Without the probe's timing the futex is a lock, as before.
        let o = offcpu(&data, &w, &[]).unwrap();
        assert!(o.sinks.is_empty() && (o.by_resource["futex"] - 0.4).abs() < 1e-9);
    }

    #[test]
    fn an_input_file_the_workers_wait_to_read_is_not_a_sink() {
        let input = |tid| {
            thread(
                tid,
                5.0,
                vec![wait("file:/data/in.csv", ResourceKind::File, 5)],
            )
        };
        let (data, w) = run(vec![input(2), input(3)]);
        let o = offcpu(&data, &w, &[]).unwrap();
        assert!(o.sinks.is_empty() && o.external.is_empty(), "{o:?}");
        assert!(
            (o.by_kind[&OffCpuKind::Resource(ResourceKind::File)] - 0.5).abs() < 1e-9,
            "still counted as time off CPU"
        );
    }

    #[test]
    fn the_sleeps_of_workers_writing_one_sqlite_file_are_charged_to_it() {
        // SQLite's busy handler sleeps and retries: the writers never block on the file itself
        // except in its fsyncs.
        let db = Written {
            resource: "file:/tmp/jobs.db".into(),
            kind: ResourceKind::File,
            service: Some(Service::Sqlite),
        };
        let writer = |tid, sleep_ticks| {
            thread(
                tid,
                4.0,
                vec![
                    wait_in("clock_nanosleep", "sleep", ResourceKind::Sleep, sleep_ticks),
                    wait_in("fsync", "file:/tmp/jobs.db", ResourceKind::File, 1),
                ],
            )
        };
        let (data, w) = run_writing(vec![writer(2, 4), writer(3, 2)], &[db]);
        let o = offcpu(&data, &w, &[]).unwrap();
        let sink = &o.sinks[0];
        assert_eq!(
            (sink.resource.as_str(), sink.kind.to_string().as_str()),
            ("file:/tmp/jobs.db", "sqlite")
        );
        assert_eq!((sink.workers_writing, sink.workers_waiting), (2, 2));
        // 6 s off CPU each; worker 2: 4 of 5 ticks asleep, worker 3: 2 of 3.
        let sleep = (6.0 * 4.0 / 5.0 + 6.0 * 2.0 / 3.0) / 20.0;
        let direct = (6.0 / 5.0 + 6.0 / 3.0) / 20.0;
        assert!((sink.sleep_share - sleep).abs() < 1e-9, "{sink:?}");
        assert!((sink.direct_share - direct).abs() < 1e-9, "{sink:?}");
        assert!((sink.wait_share - sleep - direct).abs() < 1e-9);

        // The same sleeps in workers that write no database are their own (time.sleep work).
        let (data, w) = run(vec![writer(2, 4), writer(3, 2)]);
        let o = offcpu(&data, &w, &[]).unwrap();
        assert_eq!(o.sinks[0].sleep_share, 0.0, "{:?}", o.sinks);
    }
}
