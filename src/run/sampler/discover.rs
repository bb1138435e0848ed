//! Tree discovery without /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN is off on our
//! hosts): list /proc every tick on a kept-open fd, and read /proc/PID/stat only for pids not
//! seen before.
//!
//! A pid joins the tree when its parent is in the tree, or when it is in the root's own process
//! group (the runner makes the root a group leader), which also catches a child whose parent
//! exited before we saw it (it was reparented to init or a subreaper). Every other pid is cached
//! as "not ours" until it disappears from the listing, so a steady host costs one getdents64
//! sweep and a hash lookup per pid. Pid reuse: a cached pid is forgotten as soon as a listing
//! misses it, and the tracker calls [`Discovery::forget`] when a tree process exits, so a reused
//! pid is examined afresh; reuse within one tick would need the whole pid space to wrap in that
//! time.
//!
//! [`PidGate`] makes a quiet host nearly free: /proc/loadavg ends with the last pid the kernel
//! allocated (threads take ids from the same counter), so while it stays put, no process or
//! thread was created anywhere and neither /proc nor any task directory needs listing.

use super::parse::{parse_stat, parse_u64, trim};
use super::sys::{self, DirFd, ProcFile};
use std::collections::HashMap;
use std::io;
use std::path::Path;

/// Watches the last allocated pid to tell whether any task was created since the last look.
#[derive(Debug)]
pub(super) struct PidGate {
    loadavg: Option<ProcFile>,
    last: Option<u64>,
}

impl PidGate {
    pub(super) fn new() -> Self {
        PidGate {
            loadavg: ProcFile::open(Path::new("/proc/loadavg")).ok(),
            last: None,
        }
    }

    /// True when a task may have been created since the previous call that returned true
    /// (always true when /proc/loadavg can't be read). Call it before listing.
    pub(super) fn moved(&mut self, buf: &mut Vec<u8>) -> bool {
        let now = self.loadavg.as_ref().and_then(|f| {
            f.read(buf).ok()?;
            parse_u64(trim(buf).rsplit(|&b| b == b' ').next()?)
        });
        let moved = now.is_none() || now != self.last;
        self.last = now;
        moved
    }
}

/// A process that joined the tree at this scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Joined {
    pub pid: i32,
    pub ppid: i32,
    /// Start time after boot, in clock ticks (USER_HZ).
    pub starttime_ticks: u64,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    /// Scan number that last listed this pid.
    scan: u32,
    /// In the tree (alive or a zombie).
    tree: bool,
}

/// Pids examined so far and which of them belong to the tree.
#[derive(Debug)]
pub(super) struct Discovery {
    root: i32,
    proc_dir: DirFd,
    seen: HashMap<i32, Seen>,
    scan: u32,
    /// The root's process group, once the root leads one of its own.
    tree_pgrp: Option<i32>,
    /// The subreaper above the root (the runner's keeper): every other child of it is an
    /// orphan of the tree (a double fork, a setsid daemon whose parent exited unseen).
    adopter: Option<i32>,
    names: Vec<u8>,
    stat_buf: Vec<u8>,
    listed: Vec<i32>,
    /// Pids whose stat was read by the last scan (the cost driver), for measurement.
    pub last_new_pids: usize,
}

#[derive(Debug)]
struct Candidate {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    starttime_ticks: u64,
    zombie: bool,
    decided: bool,
}

impl Discovery {
    pub(super) fn new(root: i32) -> io::Result<Self> {
        Ok(Discovery {
            root,
            proc_dir: DirFd::open(Path::new("/proc"))?,
            seen: HashMap::new(),
            scan: 0,
            tree_pgrp: None,
            adopter: None,
            names: Vec::new(),
            stat_buf: Vec::with_capacity(1024),
            listed: Vec::new(),
            last_new_pids: 0,
        })
    }

    /// Records the root's current process group (read from its stat by the tracker).
    pub(super) fn root_pgrp(&mut self, pgrp: i32) {
        self.tree_pgrp = (pgrp == self.root).then_some(pgrp);
    }

    /// Counts every child of `pid` (the tree's subreaper) as part of the tree.
    pub(super) fn adopted_by(&mut self, pid: i32) {
        self.adopter = Some(pid);
    }

    /// Drops a pid so the next scan examines it again (a tree process exited; its pid may be
    /// reused).
    pub(super) fn forget(&mut self, pid: i32) {
        self.seen.remove(&pid);
    }

    /// Lists /proc and returns the processes that joined the tree since the last scan, parents
    /// before children. Returns how many pids needed a stat read in `last_new_pids`.
    pub(super) fn scan(&mut self) -> io::Result<Vec<Joined>> {
        self.scan = self.scan.wrapping_add(1);
        let scan = self.scan;
        self.listed.clear();
        let listed = &mut self.listed;
        self.proc_dir.for_each(&mut self.names, |name| {
            if let Some(pid) = sys::parse_id(name) {
                listed.push(pid);
            }
        })?;
        let mut fresh = Vec::new();
        for &pid in &self.listed {
            if let Some(s) = self.seen.get_mut(&pid) {
                s.scan = scan;
                continue;
            }
            let path = format!("/proc/{pid}/stat");
            match sys::read_once(Path::new(&path), &mut self.stat_buf) {
                Ok(()) => {}
                Err(_) => continue, // exited (or unreadable): nothing to add
            }
            let Some(st) = parse_stat(&self.stat_buf) else {
                continue;
            };
            fresh.push(Candidate {
                pid,
                ppid: st.ppid,
                pgrp: st.pgrp,
                starttime_ticks: st.starttime_ticks,
                zombie: st.state == b'Z' || st.state == b'X',
                decided: false,
            });
        }
        self.seen.retain(|_, s| s.scan == scan);
        self.last_new_pids = fresh.len();
        Ok(self.decide(fresh, scan))
    }

    /// Decides tree membership for newly listed pids: repeat until no candidate joins, so a
    /// child listed before its parent (pid wrap) still joins.
    fn decide(&mut self, mut fresh: Vec<Candidate>, scan: u32) -> Vec<Joined> {
        let mut joined = Vec::new();
        loop {
            let mut progress = false;
            for c in fresh.iter_mut().filter(|c| !c.decided) {
                let parent_in_tree = self.seen.get(&c.ppid).is_some_and(|s| s.tree);
                let in_group = self.tree_pgrp == Some(c.pgrp);
                let orphan = self.adopter == Some(c.ppid);
                if c.pid == self.root || parent_in_tree || in_group || orphan {
                    c.decided = true;
                    progress = true;
                    self.seen.insert(c.pid, Seen { scan, tree: true });
                    if !c.zombie {
                        joined.push(Joined {
                            pid: c.pid,
                            ppid: c.ppid,
                            starttime_ticks: c.starttime_ticks,
                        });
                    }
                }
            }
            if !progress {
                break;
            }
        }
        for c in fresh.iter().filter(|c| !c.decided) {
            self.seen.insert(c.pid, Seen { scan, tree: false });
        }
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    #[test]
    fn finds_root_and_grandchild_but_not_strangers() {
        // Its own process group, so the test can kill the sleeps along with the shell.
        let mut child = Command::new("/bin/sh")
            .args(["-c", "sleep 5 & sleep 5; wait"])
            .process_group(0)
            .spawn()
            .unwrap();
        let root = child.id() as i32;
        let mut stranger = Command::new("sleep").arg("5").spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut d = Discovery::new(root).unwrap();
        let joined = d.scan().unwrap();
        let pids: Vec<i32> = joined.iter().map(|j| j.pid).collect();
        assert!(pids.contains(&root), "{pids:?}");
        assert_eq!(pids.len(), 3, "sh and its two sleeps: {joined:?}");
        assert!(!pids.contains(&(stranger.id() as i32)));
        assert!(
            d.scan().unwrap().is_empty(),
            "second scan finds nothing new"
        );
        let mut gate = PidGate::new();
        let mut buf = Vec::new();
        assert!(gate.moved(&mut buf), "first look always lists");
        std::process::Command::new("true").status().unwrap();
        assert!(gate.moved(&mut buf), "a fork moves the last pid");
        std::thread::spawn(|| {}).join().unwrap();
        assert!(gate.moved(&mut buf), "so does a new thread");
        // SAFETY: signals only the process group of the shell this test started.
        unsafe { libc::kill(-root, libc::SIGKILL) };
        stranger.kill().unwrap();
        child.wait().unwrap();
        stranger.wait().unwrap();
    }
}
