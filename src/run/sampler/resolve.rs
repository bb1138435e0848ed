//! Names the resource a blocked thread waits on: an fd becomes `pipe:[ino]`, `unix:<path>`,
//! `tcp:<peer>`, `file:<path>`, ...; futexes, timers and children get fixed names.
//!
//! Caches: per (pid, fd) the link target and its name, checked against a fresh readlink so a
//! reused fd is re-resolved; per socket inode the name (sockets don't change peers once
//! connected; inode numbers are not reused soon). Unix peers come from unix_diag, tcp/udp peers
//! from /proc/PID/net/{tcp,tcp6,udp,udp6} (the target's network namespace) via procfs.

use super::sys::{self, SockDiag};
use super::unixdiag;
use super::wait::{self, Call, Target};
use crate::measure::{ResourceKind as Kind, Service, Written};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

/// A named resource, its class, and what it is: decided here, once, so analysis never
/// re-parses the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Resource {
    /// e.g. "futex", `pipe:[1234]`, "unix:/tmp/x/.s.PGSQL.5432", "tcp:127.0.0.1:5432".
    pub name: String,
    pub kind: Kind,
    /// A pipe or an unnamed socket pair: the pool's own plumbing.
    pub plumbing: bool,
    pub service: Option<Service>,
    /// Held open for writing (a file opened O_WRONLY or O_RDWR; any socket).
    pub writable: bool,
}

impl Resource {
    pub(super) fn new(name: impl Into<String>, kind: Kind) -> Self {
        Resource {
            name: name.into(),
            kind,
            plumbing: kind == Kind::Pipe,
            service: None,
            writable: matches!(kind, Kind::Unix | Kind::Tcp | Kind::Udp),
        }
    }

    fn plumbing(mut self) -> Self {
        self.plumbing = true;
        self
    }

    fn service(mut self, service: Option<Service>) -> Self {
        self.service = service;
        self
    }
}

/// The service behind a socket, by its well-known port.
pub(crate) fn service_at_port(port: u16) -> Option<Service> {
    match port {
        5432 => Some(Service::Postgresql),
        3306 => Some(Service::Mysql),
        6379 => Some(Service::Redis),
        _ => None,
    }
}

/// The service behind a named unix socket, by the name its server gives it.
pub(crate) fn service_at_path(path: &str) -> Option<Service> {
    let file = path.rsplit('/').next().unwrap_or(path);
    if file.starts_with(".s.PGSQL.") {
        Some(Service::Postgresql)
    } else if file.starts_with("mysql") && file.ends_with(".sock") {
        Some(Service::Mysql)
    } else {
        None
    }
}

/// A unix socket multiprocessing made for its own use (the forkserver's listener, a
/// Manager's): it lives in a `pymp-*` folder that multiprocessing creates under the temp dir.
pub(crate) fn pool_socket_path(path: &str) -> bool {
    path.rsplit('/')
        .nth(1)
        .is_some_and(|dir| dir.starts_with("pymp-"))
}

/// An SQLite database, its rollback journal or its write-ahead log: the database file (its path
/// and the service) when the file, or the file it belongs to, starts with the header
/// "SQLite format 3\0".
fn sqlite_file(path: &str) -> Option<(&str, Service)> {
    let db = ["-wal", "-journal", "-shm"]
        .iter()
        .find_map(|s| path.strip_suffix(s))
        .unwrap_or(path);
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(db).ok()?;
    std::io::Read::read_exact(&mut f, &mut head).ok()?;
    (&head == b"SQLite format 3\0").then_some((db, Service::Sqlite))
}

/// Most names kept in a process's `held` list.
const MAX_HELD: usize = 64;
/// Socket names cached before the cache is dropped and rebuilt (a busy host has many).
const MAX_SOCKETS: usize = 20_000;
/// Most fds of one poll/select/epoll call that are resolved and named.
const MAX_POLLED: usize = 8;
/// Most polled resources spelled out in a name ("poll:a,b,c,+2").
const MAX_NAMED: usize = 3;

/// Resolves waits to resources, with caches.
#[derive(Debug, Default)]
pub(super) struct Resolver {
    fds: HashMap<(i32, i32), (String, Resource)>,
    sockets: HashMap<u64, Resource>,
    diag: Option<SockDiag>,
    diag_tried: bool,
    seq: u32,
    buf: Vec<u8>,
    /// Lookups that did real work (readlink misses, socket tables, netlink), for measurement.
    pub resolutions: u64,
}

impl Resolver {
    /// The resource `call` (made by process `pid`) waits on.
    pub(super) fn resolve(&mut self, pid: i32, call: &Call) -> Resource {
        match call.target {
            Target::Fd(fd) => self.fd(pid, fd),
            Target::Futex => Resource::new("futex", Kind::Futex),
            Target::Sleep => Resource::new("sleep", Kind::Sleep),
            Target::Child => Resource::new("child", Kind::Wait),
            Target::Other => {
                let name = call
                    .name
                    .map_or_else(|| "other".to_string(), |n| format!("other:{n}"));
                Resource::new(name, Kind::Other)
            }
            Target::PollFds { ptr, nfds } => {
                let n = nfds.min(64) as usize;
                let mut raw = vec![0u8; n * 8];
                let fds = match sys::read_process_memory(pid, ptr, &mut raw) {
                    Ok(got) => wait::pollfds(&raw[..got]),
                    Err(_) => return Resource::new("poll", Kind::Poll),
                };
                self.polled(pid, &fds)
            }
            Target::SelectFds { nfds, sets } => {
                let nfds = nfds.min(1024);
                let mut raw = vec![0u8; nfds.div_ceil(64) as usize * 8];
                let mut fds = Vec::new();
                for &ptr in sets.iter().filter(|&&p| p != 0) {
                    if let Ok(got) = sys::read_process_memory(pid, ptr, &mut raw) {
                        wait::fdset(&raw[..got], nfds, &mut fds);
                    }
                }
                self.polled(pid, &fds)
            }
            Target::Epoll(epfd) => {
                let path = format!("/proc/{pid}/fdinfo/{epfd}");
                match sys::read_once(Path::new(&path), &mut self.buf) {
                    Ok(()) => {
                        let fds = wait::epoll_targets(&self.buf);
                        self.polled(pid, &fds)
                    }
                    Err(_) => Resource::new("poll", Kind::Poll),
                }
            }
        }
    }

    /// Adds the pipes, sockets and regular files process `pid` holds open to `held`. Returns
    /// the errors met (a vanished process is not one).
    pub(super) fn held(
        &mut self,
        pid: i32,
        held: &mut Vec<String>,
        written: &mut Vec<Written>,
    ) -> u32 {
        let dir = match std::fs::read_dir(format!("/proc/{pid}/fd")) {
            Ok(d) => d,
            Err(e) => return u32::from(!sys::is_gone(&e)),
        };
        for entry in dir.flatten() {
            if held.len() >= MAX_HELD {
                break;
            }
            let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            let r = self.fd(pid, fd);
            let writes = r.writable && !r.plumbing && r.kind.can_be_sink();
            if writes && written.len() < MAX_HELD && !written.iter().any(|w| w.resource == r.name) {
                written.push(Written {
                    resource: r.name.clone(),
                    kind: r.kind,
                    service: r.service,
                });
            }
            let listed = matches!(
                r.kind,
                Kind::Pipe | Kind::Unix | Kind::Tcp | Kind::Udp | Kind::File
            );
            if listed && !held.contains(&r.name) {
                held.push(r.name);
            }
        }
        0
    }

    /// Drops the fd cache of a process that exited.
    pub(super) fn forget(&mut self, pid: i32) {
        self.fds.retain(|&(p, _), _| p != pid);
    }

    /// A set of polled fds: no fd is a timer, one fd is that fd's resource (libpq waits for
    /// postgres in poll), several are `poll:<names>`.
    fn polled(&mut self, pid: i32, fds: &[i32]) -> Resource {
        let mut names: Vec<Resource> = Vec::new();
        for &fd in fds.iter().take(MAX_POLLED) {
            let r = self.fd(pid, fd);
            if !names.contains(&r) {
                names.push(r);
            }
        }
        match names.len() {
            0 => Resource::new("sleep", Kind::Sleep),
            1 => names
                .pop()
                .unwrap_or_else(|| Resource::new("poll", Kind::Poll)),
            n => {
                names.sort_by(|a, b| a.name.cmp(&b.name));
                let mut s = String::from("poll:");
                let shown: Vec<&str> = names
                    .iter()
                    .take(MAX_NAMED)
                    .map(|r| r.name.as_str())
                    .collect();
                s.push_str(&shown.join(","));
                let more = n.saturating_sub(MAX_NAMED) + fds.len().saturating_sub(MAX_POLLED);
                if more > 0 {
                    s.push_str(&format!(",+{more}"));
                }
                Resource::new(s, Kind::Poll)
            }
        }
    }

    /// One fd of process `pid`, cached while its link target stays the same.
    fn fd(&mut self, pid: i32, fd: i32) -> Resource {
        let link = match std::fs::read_link(format!("/proc/{pid}/fd/{fd}")) {
            Ok(l) => l.to_string_lossy().into_owned(),
            Err(_) => return Resource::new(format!("fd:{fd}"), Kind::Other),
        };
        if let Some((cached, r)) = self.fds.get(&(pid, fd)) {
            if *cached == link {
                return r.clone();
            }
        }
        self.resolutions += 1;
        let mut r = self.classify_link(pid, &link);
        if r.kind == Kind::File {
            r.writable = opened_for_writing(pid, fd);
        }
        self.fds.insert((pid, fd), (link, r.clone()));
        r
    }

    fn classify_link(&mut self, pid: i32, link: &str) -> Resource {
        if link.starts_with("pipe:") {
            return Resource::new(link, Kind::Pipe);
        }
        if let Some(ino) = link
            .strip_prefix("socket:[")
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|i| i.parse::<u64>().ok())
        {
            return self.socket(pid, ino);
        }
        if let Some(anon) = link.strip_prefix("anon_inode:") {
            let anon = anon.trim_matches(|c| c == '[' || c == ']');
            let kind = match anon {
                "eventpoll" => Kind::Poll,
                "timerfd" => Kind::Sleep,
                _ => Kind::Event,
            };
            return Resource::new(anon, kind);
        }
        if link.starts_with("/dev/") {
            return Resource::new(format!("dev:{link}"), Kind::Dev);
        }
        if link.starts_with('/') {
            // An SQLite database's journal, WAL and shared-memory index are the database.
            return match sqlite_file(link) {
                Some((db, service)) => {
                    Resource::new(format!("file:{db}"), Kind::File).service(Some(service))
                }
                None => Resource::new(format!("file:{link}"), Kind::File),
            };
        }
        Resource::new(format!("other:{link}"), Kind::Other)
    }

    /// A socket by inode: unix (via unix_diag), else tcp/udp from the target's net tables.
    fn socket(&mut self, pid: i32, ino: u64) -> Resource {
        if let Some(r) = self.sockets.get(&ino) {
            return r.clone();
        }
        if self.sockets.len() > MAX_SOCKETS {
            self.sockets.clear();
        }
        let r = match self.unix(ino) {
            Some(r) => r,
            None => {
                // One read of the tables names every inet socket in them.
                self.sockets.extend(inet_table(pid));
                self.sockets
                    .get(&ino)
                    .cloned()
                    .or_else(|| unix_table(pid, ino))
                    .unwrap_or_else(|| Resource::new(format!("socket:[{ino}]"), Kind::Socket))
            }
        };
        self.sockets.insert(ino, r.clone());
        r
    }

    /// Names a unix socket by a bound path: its own (listening or accepted server side), else
    /// its peer's (a client of a server); an unnamed pair is `unix:[a,b]` from either end.
    fn unix(&mut self, ino: u64) -> Option<Resource> {
        if !self.diag_tried {
            self.diag_tried = true;
            self.diag = SockDiag::open().ok();
        }
        let diag = self.diag.as_ref()?;
        let ino32 = u32::try_from(ino).ok()?;
        self.seq = self.seq.wrapping_add(1);
        let me = unixdiag::query(diag, ino32, self.seq).ok()?;
        if let Some(path) = me.path {
            return Some(named_unix(&path));
        }
        let Some(peer) = me.peer else {
            return Some(Resource::new(format!("unix:[{ino}]"), Kind::Unix).plumbing());
        };
        self.seq = self.seq.wrapping_add(1);
        match unixdiag::query(diag, peer, self.seq)
            .ok()
            .and_then(|p| p.path)
        {
            Some(path) => Some(named_unix(&path)),
            None => {
                let (a, b) = (ino.min(u64::from(peer)), ino.max(u64::from(peer)));
                Some(Resource::new(format!("unix:[{a},{b}]"), Kind::Unix).plumbing())
            }
        }
    }
}

/// A unix socket bound to `path`: a service, unless multiprocessing made it for itself.
fn named_unix(path: &str) -> Resource {
    let r = Resource::new(format!("unix:{path}"), Kind::Unix).service(service_at_path(path));
    if pool_socket_path(path) {
        r.plumbing()
    } else {
        r
    }
}

/// A unix socket by its bound path from /proc/PID/net/unix, when unix_diag could not answer
/// (no unix_diag in the kernel, or the target in another network namespace): no peer there.
fn unix_table(pid: i32, ino: u64) -> Option<Resource> {
    let table = procfs::process::Process::new(pid).ok()?.unix().ok()?;
    let e = table.into_iter().find(|e| e.inode == ino)?;
    Some(match e.path {
        Some(p) => named_unix(&p.display().to_string()),
        None => Resource::new(format!("unix:[{ino}]"), Kind::Unix).plumbing(),
    })
}

/// Whether fd `fd` of `pid` was opened for writing (the access mode in its fdinfo flags).
fn opened_for_writing(pid: i32, fd: i32) -> bool {
    let Ok(info) = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")) else {
        return false;
    };
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| i64::from_str_radix(f.trim(), 8).ok())
        .is_some_and(|flags| flags & i64::from(libc::O_ACCMODE) != i64::from(libc::O_RDONLY))
}

/// The tcp and udp sockets of the target's network namespace (/proc/PID/net/*), by inode:
/// `tcp:<peer>`, `tcp:listen:<local>`, `udp:<peer or local>`.
fn inet_table(pid: i32) -> Vec<(u64, Resource)> {
    let Ok(p) = procfs::process::Process::new(pid) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in [p.tcp(), p.tcp6()].into_iter().flatten().flatten() {
        let (name, port) = if e.state == procfs::net::TcpState::Listen {
            (format!("tcp:listen:{}", e.local_address), None)
        } else {
            (
                format!("tcp:{}", e.remote_address),
                Some(e.remote_address.port()),
            )
        };
        let service = port.and_then(service_at_port);
        out.push((e.inode, Resource::new(name, Kind::Tcp).service(service)));
    }
    let unspecified = |a: &SocketAddr| a.ip().is_unspecified() && a.port() == 0;
    for e in [p.udp(), p.udp6()].into_iter().flatten().flatten() {
        let addr = if unspecified(&e.remote_address) {
            e.local_address
        } else {
            e.remote_address
        };
        out.push((e.inode, Resource::new(format!("udp:{addr}"), Kind::Udp)));
    }
    out.retain(|(ino, _)| *ino != 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::os::unix::io::AsRawFd;

    fn fd_of(pid: i32, r: &mut Resolver, fd: &impl AsRawFd) -> Resource {
        r.fd(pid, fd.as_raw_fd())
    }

    #[test]
    fn names_pipes_files_and_tcp_peers() {
        let me = std::process::id() as i32;
        let mut r = Resolver::default();
        let (rd, _wr) = std::io::pipe().unwrap();
        let p = fd_of(me, &mut r, &rd);
        assert!(
            p.name.starts_with("pipe:[") && p.kind == Kind::Pipe && p.plumbing,
            "{p:?}"
        );
        let path = std::env::temp_dir().join(format!("fc-resolve-{me}.log"));
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(b"x").unwrap();
        let file = fd_of(me, &mut r, &f);
        assert_eq!(
            (file.name, file.kind, file.writable, file.plumbing),
            (format!("file:{}", path.display()), Kind::File, true, false)
        );
        std::fs::remove_file(&path).unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        assert_eq!(fd_of(me, &mut r, &c).name, format!("tcp:127.0.0.1:{port}"));
        assert_eq!(
            fd_of(me, &mut r, &l).name,
            format!("tcp:listen:127.0.0.1:{port}")
        );
        let before = r.resolutions;
        fd_of(me, &mut r, &c);
        assert_eq!(r.resolutions, before, "second lookup is cached");
    }

    #[test]
    fn both_ends_of_a_socketpair_share_a_name() {
        let me = std::process::id() as i32;
        let mut r = Resolver::default();
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (ra, rb) = (fd_of(me, &mut r, &a), fd_of(me, &mut r, &b));
        assert_eq!(ra, rb);
        assert!(
            ra.name.starts_with("unix:[") && ra.name.contains(',') && ra.plumbing,
            "{ra:?}"
        );
    }

    #[test]
    fn multiprocessings_own_sockets_are_plumbing_and_a_database_socket_is_a_service() {
        assert!(named_unix("/tmp/pymp-zwaodcb9/listener-xledl6yk").plumbing);
        let pg = named_unix("/tmp/pg/.s.PGSQL.5432");
        assert_eq!(
            (pg.plumbing, pg.service),
            (false, Some(Service::Postgresql))
        );
        assert_eq!(service_at_port(3306), Some(Service::Mysql));
    }

    #[test]
    fn several_polled_fds_are_listed() {
        let me = std::process::id() as i32;
        let mut r = Resolver::default();
        let (r1, _w1) = std::io::pipe().unwrap();
        let (r2, _w2) = std::io::pipe().unwrap();
        let one = r.polled(me, &[r1.as_raw_fd()]);
        assert_eq!(one.kind, Kind::Pipe);
        let two = r.polled(me, &[r1.as_raw_fd(), r2.as_raw_fd()]);
        assert!(
            two.name.starts_with("poll:pipe:[") && two.kind == Kind::Poll,
            "{two:?}"
        );
        assert_eq!(r.polled(me, &[]).name, "sleep");
    }

    #[test]
    fn net_unix_table_names_a_bound_socket_without_netlink() {
        use std::os::unix::fs::MetadataExt;
        let me = std::process::id() as i32;
        let path = std::env::temp_dir().join(format!("fc-unixtable-{me}.sock"));
        let _ = std::fs::remove_file(&path);
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let ino = std::fs::metadata(format!("/proc/self/fd/{}", l.as_raw_fd()))
            .unwrap()
            .ino();
        let r = unix_table(me, ino).unwrap();
        assert_eq!(
            r,
            Resource::new(format!("unix:{}", path.display()), Kind::Unix)
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn held_lists_pipes_and_sockets_once() {
        let me = std::process::id() as i32;
        let mut r = Resolver::default();
        let (rd, wr) = std::io::pipe().unwrap();
        let pipe = fd_of(me, &mut r, &rd).name;
        let mut held = Vec::new();
        let mut written = Vec::new();
        assert_eq!(r.held(me, &mut held, &mut written), 0);
        assert_eq!(held.iter().filter(|h| **h == pipe).count(), 1, "{held:?}");
        assert!(
            !written.iter().any(|w| w.resource == pipe),
            "a pipe is plumbing, never written to as a sink: {written:?}"
        );
        drop((rd, wr));
    }

    #[test]
    fn a_file_open_for_writing_is_written_and_an_sqlite_database_is_named_so() {
        let me = std::process::id() as i32;
        let mut r = Resolver::default();
        let dir = std::env::temp_dir();
        let db = dir.join(format!("fc-resolve-{me}.db"));
        std::fs::write(&db, b"SQLite format 3\0rest of the header").unwrap();
        let input = dir.join(format!("fc-resolve-{me}.in"));
        std::fs::write(&input, b"input").unwrap();
        let w = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&db)
            .unwrap();
        let ro = std::fs::File::open(&input).unwrap();
        let (mut held, mut written) = (Vec::new(), Vec::new());
        r.held(me, &mut held, &mut written);
        let name = format!("file:{}", db.display());
        let entry = written.iter().find(|x| x.resource == name).unwrap();
        assert_eq!(
            (entry.kind, entry.service),
            (Kind::File, Some(Service::Sqlite))
        );
        let input_name = format!("file:{}", input.display());
        assert!(held.contains(&input_name), "{held:?}");
        assert!(
            !written.iter().any(|x| x.resource == input_name),
            "read-only: {written:?}"
        );
        drop((w, ro));
        std::fs::remove_file(&db).unwrap();
        std::fs::remove_file(&input).unwrap();
    }
}
