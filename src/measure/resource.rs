//! What a thread waited on or a process held open, classified once by the sampler at the edge:
//! analysis reads these fields and never re-parses a resource's name.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The class of a resource. Serialised as the lower-case word ("pipe", "tcp", ...), the
/// strings report.json has always carried.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Pipe,
    Unix,
    Tcp,
    Udp,
    File,
    Dev,
    /// A socket the sampler could not find in any table.
    Socket,
    /// eventfd, signalfd and other anonymous inodes.
    Event,
    Futex,
    /// nanosleep, clock_nanosleep, a timerfd, or a poll on no fd.
    Sleep,
    /// A poll, select or epoll over several resources.
    Poll,
    /// Waiting for a child to exit.
    Wait,
    #[default]
    Other,
}

impl ResourceKind {
    /// The word report.json uses for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Pipe => "pipe",
            ResourceKind::Unix => "unix",
            ResourceKind::Tcp => "tcp",
            ResourceKind::Udp => "udp",
            ResourceKind::File => "file",
            ResourceKind::Dev => "dev",
            ResourceKind::Socket => "socket",
            ResourceKind::Event => "event",
            ResourceKind::Futex => "futex",
            ResourceKind::Sleep => "sleep",
            ResourceKind::Poll => "poll",
            ResourceKind::Wait => "wait",
            ResourceKind::Other => "other",
        }
    }

    /// Kinds that can be a sink: a service reached by socket, or a file.
    pub fn can_be_sink(self) -> bool {
        matches!(
            self,
            ResourceKind::Tcp | ResourceKind::Udp | ResourceKind::Unix | ResourceKind::File
        )
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which service a resource is, where the sampler could tell (a well-known port or socket
/// name, a file's header).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// A PostgreSQL server (port 5432 or a `.s.PGSQL.<port>` socket).
    Postgresql,
    /// A MySQL server (port 3306 or a `mysqld.sock` socket).
    Mysql,
    /// A Redis server (port 6379).
    Redis,
    /// An SQLite database file (or its -wal / -journal), by its header or suffix.
    Sqlite,
    /// A Ray actor: one process that runs its methods one at a time (the python probe names
    /// it, and times the tasks' waits for its replies).
    #[serde(rename = "ray actor")]
    RayActor,
}

impl Service {
    /// How the report names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Postgresql => "postgresql",
            Service::Mysql => "mysql",
            Service::Redis => "redis",
            Service::Sqlite => "sqlite",
            Service::RayActor => "ray actor",
        }
    }
}

/// A resource a process of the tree held open for writing: a file opened O_WRONLY or O_RDWR,
/// or a named socket to a service. The pool's own plumbing is never listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Written {
    /// Named as in [`super::WaitCount::resource`].
    pub resource: String,
    pub kind: ResourceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
}

/// [`super::WaitCount`] as read from a report: reports written before the sampler decided
/// `plumbing` and `service` lack them, and get them from the names it wrote then, once, here.
#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct WaitCountWire {
    resource: String,
    kind: ResourceKind,
    #[serde(default)]
    plumbing: Option<bool>,
    #[serde(default)]
    service: Option<Service>,
    syscall: String,
    ticks: u32,
    blocked_s: f64,
}

impl From<WaitCountWire> for super::WaitCount {
    fn from(w: WaitCountWire) -> Self {
        let legacy = w.plumbing.is_none();
        let plumbing = w.plumbing.unwrap_or(
            w.kind == ResourceKind::Pipe
                || (w.kind == ResourceKind::Unix && w.resource.starts_with("unix:[")),
        );
        let postgres = w.resource.ends_with(":5432") || w.resource.contains(".s.PGSQL.");
        let service = w
            .service
            .or((legacy && postgres).then_some(Service::Postgresql));
        super::WaitCount {
            resource: w.resource,
            kind: w.kind,
            plumbing,
            service,
            syscall: w.syscall,
            ticks: w.ticks,
            blocked_s: w.blocked_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_from_an_older_report_gets_its_plumbing_and_service_from_its_name() {
        let read = |json: &str| serde_json::from_str::<crate::measure::WaitCount>(json).unwrap();
        let pair = read(
            r#"{"resource":"unix:[5,6]","kind":"unix","syscall":"read","ticks":1,"blocked_s":0.01}"#,
        );
        assert!(pair.plumbing);
        let pg = read(
            r#"{"resource":"unix:/tmp/pg/.s.PGSQL.5432","kind":"unix","syscall":"recvfrom","ticks":1,"blocked_s":0.01}"#,
        );
        assert_eq!(
            (pg.plumbing, pg.service),
            (false, Some(Service::Postgresql))
        );
        let now = read(
            r#"{"resource":"unix:[5,6]","kind":"unix","plumbing":false,"syscall":"read","ticks":1,"blocked_s":0.01}"#,
        );
        assert!(!now.plumbing, "a report that says so is believed");
        let back = serde_json::to_string(&pg).unwrap();
        assert!(
            back.contains(r#""kind":"unix""#) && back.contains(r#""service":"postgresql""#),
            "{back}"
        );
    }
}
