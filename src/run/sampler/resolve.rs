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
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

/// A named resource and its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Resource {
    /// e.g. "futex", `pipe:[1234]`, "unix:/tmp/x/.s.PGSQL.5432", "tcp:127.0.0.1:5432".
    pub name: String,
    /// pipe, unix, tcp, udp, file, dev, socket, event, futex, sleep, poll, wait, other.
    pub kind: &'static str,
}

impl Resource {
    pub(super) fn new(name: impl Into<String>, kind: &'static str) -> Self {
        Resource {
            name: name.into(),
            kind,
        }
    }
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
            Target::Futex => Resource::new("futex", "futex"),
            Target::Sleep => Resource::new("sleep", "sleep"),
            Target::Child => Resource::new("child", "wait"),
            Target::Other => {
                let name = call
                    .name
                    .map_or_else(|| "other".to_string(), |n| format!("other:{n}"));
                Resource::new(name, "other")
            }
            Target::PollFds { ptr, nfds } => {
                let n = nfds.min(64) as usize;
                let mut raw = vec![0u8; n * 8];
                let fds = match sys::read_process_memory(pid, ptr, &mut raw) {
                    Ok(got) => wait::pollfds(&raw[..got]),
                    Err(_) => return Resource::new("poll", "poll"),
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
                    Err(_) => Resource::new("poll", "poll"),
                }
            }
        }
    }

    /// Adds the pipes, sockets and regular files process `pid` holds open to `held`. Returns
    /// the errors met (a vanished process is not one).
    pub(super) fn held(&mut self, pid: i32, held: &mut Vec<String>) -> u32 {
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
            if matches!(r.kind, "pipe" | "unix" | "tcp" | "udp" | "file") && !held.contains(&r.name)
            {
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
            0 => Resource::new("sleep", "sleep"),
            1 => names.pop().unwrap_or_else(|| Resource::new("poll", "poll")),
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
                Resource::new(s, "poll")
            }
        }
    }

    /// One fd of process `pid`, cached while its link target stays the same.
    fn fd(&mut self, pid: i32, fd: i32) -> Resource {
        let link = match std::fs::read_link(format!("/proc/{pid}/fd/{fd}")) {
            Ok(l) => l.to_string_lossy().into_owned(),
            Err(_) => return Resource::new(format!("fd:{fd}"), "other"),
        };
        if let Some((cached, r)) = self.fds.get(&(pid, fd)) {
            if *cached == link {
                return r.clone();
            }
        }
        self.resolutions += 1;
        let r = self.classify_link(pid, &link);
        self.fds.insert((pid, fd), (link, r.clone()));
        r
    }

    fn classify_link(&mut self, pid: i32, link: &str) -> Resource {
        if link.starts_with("pipe:") {
            return Resource::new(link, "pipe");
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
                "eventpoll" => "poll",
                "timerfd" => "sleep",
                _ => "event",
            };
            return Resource::new(anon, kind);
        }
        if link.starts_with("/dev/") {
            return Resource::new(format!("dev:{link}"), "dev");
        }
        if link.starts_with('/') {
            return Resource::new(format!("file:{link}"), "file");
        }
        Resource::new(format!("other:{link}"), "other")
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
                    .unwrap_or_else(|| Resource::new(format!("socket:[{ino}]"), "socket"))
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
            return Some(Resource::new(format!("unix:{path}"), "unix"));
        }
        let Some(peer) = me.peer else {
            return Some(Resource::new(format!("unix:[{ino}]"), "unix"));
        };
        self.seq = self.seq.wrapping_add(1);
        match unixdiag::query(diag, peer, self.seq)
            .ok()
            .and_then(|p| p.path)
        {
            Some(path) => Some(Resource::new(format!("unix:{path}"), "unix")),
            None => {
                let (a, b) = (ino.min(u64::from(peer)), ino.max(u64::from(peer)));
                Some(Resource::new(format!("unix:[{a},{b}]"), "unix"))
            }
        }
    }
}

/// A unix socket by its bound path from /proc/PID/net/unix, when unix_diag could not answer
/// (no unix_diag in the kernel, or the target in another network namespace): no peer there.
fn unix_table(pid: i32, ino: u64) -> Option<Resource> {
    let table = procfs::process::Process::new(pid).ok()?.unix().ok()?;
    let e = table.into_iter().find(|e| e.inode == ino)?;
    let name = match e.path {
        Some(p) => format!("unix:{}", p.display()),
        None => format!("unix:[{ino}]"),
    };
    Some(Resource::new(name, "unix"))
}

/// The tcp and udp sockets of the target's network namespace (/proc/PID/net/*), by inode:
/// `tcp:<peer>`, `tcp:listen:<local>`, `udp:<peer or local>`.
fn inet_table(pid: i32) -> Vec<(u64, Resource)> {
    let Ok(p) = procfs::process::Process::new(pid) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in [p.tcp(), p.tcp6()].into_iter().flatten().flatten() {
        let name = if e.state == procfs::net::TcpState::Listen {
            format!("tcp:listen:{}", e.local_address)
        } else {
            format!("tcp:{}", e.remote_address)
        };
        out.push((e.inode, Resource::new(name, "tcp")));
    }
    let unspecified = |a: &SocketAddr| a.ip().is_unspecified() && a.port() == 0;
    for e in [p.udp(), p.udp6()].into_iter().flatten().flatten() {
        let addr = if unspecified(&e.remote_address) {
            e.local_address
        } else {
            e.remote_address
        };
        out.push((e.inode, Resource::new(format!("udp:{addr}"), "udp")));
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
        assert!(p.name.starts_with("pipe:[") && p.kind == "pipe", "{p:?}");
        let path = std::env::temp_dir().join(format!("fc-resolve-{me}.log"));
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(b"x").unwrap();
        assert_eq!(
            fd_of(me, &mut r, &f),
            Resource::new(format!("file:{}", path.display()), "file")
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
            ra.name.starts_with("unix:[") && ra.name.contains(','),
            "{ra:?}"
        );
    }

    #[test]
    fn several_polled_fds_are_listed() {
        let me = std::process::id() as i32;
        let mut r = Resolver::default();
        let (r1, _w1) = std::io::pipe().unwrap();
        let (r2, _w2) = std::io::pipe().unwrap();
        let one = r.polled(me, &[r1.as_raw_fd()]);
        assert_eq!(one.kind, "pipe");
        let two = r.polled(me, &[r1.as_raw_fd(), r2.as_raw_fd()]);
        assert!(
            two.name.starts_with("poll:pipe:[") && two.kind == "poll",
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
        assert_eq!(r, Resource::new(format!("unix:{}", path.display()), "unix"));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn held_lists_pipes_and_sockets_once() {
        let me = std::process::id() as i32;
        let mut r = Resolver::default();
        let (rd, wr) = std::io::pipe().unwrap();
        let pipe = fd_of(me, &mut r, &rd).name;
        let mut held = Vec::new();
        assert_eq!(r.held(me, &mut held), 0);
        assert_eq!(held.iter().filter(|h| **h == pipe).count(), 1, "{held:?}");
        drop((rd, wr));
    }
}
