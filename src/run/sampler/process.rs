//! One live process of the tree: its task directory stays open and is re-listed each tick to
//! find new threads; its threads are swept on the hot path; identity (exe, cmdline) and the
//! slow counters (PSS from smaps_rollup, /proc/PID/io) are read on first sight, after an exec,
//! and then every slow period.

use super::discover::Joined;
use super::parse::{parse_cmdline, parse_io, parse_pss_bytes};
use super::resolve::Resolver;
use super::sys::{self, is_gone, DirFd};
use super::thread::{LiveThread, Reading, TickCtx};
use crate::measure::{ProcessRecord, ThreadRecord};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

/// What every process's sweep shares: the wait resolver and its caches, and scratch buffers.
#[derive(Debug, Default)]
pub(super) struct Shared {
    pub res: Resolver,
    pub file: Vec<u8>,
    pub dir: Vec<u8>,
    pub tids: Vec<i32>,
}

/// Sums over the tree for one tick.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct TickSums {
    pub exec_ns: u64,
    pub delay_ns: u64,
    pub running: u32,
    pub threads: u32,
    pub processes: u32,
    pub errors: u32,
}

/// What a process sweep tells the tree.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ProcSweep {
    /// No thread is left: the process exited.
    pub gone: bool,
    /// The leader's process group, when its stat was read.
    pub pgrp: Option<i32>,
}

/// One live process.
#[derive(Debug)]
pub(super) struct LiveProc {
    pub pid: i32,
    task_dir: DirFd,
    threads: HashMap<i32, LiveThread>,
    /// Times the task directory was listed.
    listing: u32,
    /// Index of this process's record in the run's records.
    pub rec: usize,
    /// Seconds since release when the next slow read is due.
    pub next_slow_s: f64,
    /// exe and cmdline must be read (first sight, or the leader's comm changed: an exec).
    identity_due: bool,
    /// The leader thread exited while others live on: its zombie stays listed, skip it.
    leader_exited: bool,
}

impl LiveProc {
    /// Starts tracking a process that joined the tree; fails when it is already gone. Its first
    /// slow read (PSS, io, fds) is due at `first_slow_s`.
    pub(super) fn open(j: &Joined, rec: usize, first_slow_s: f64) -> io::Result<Self> {
        Ok(LiveProc {
            pid: j.pid,
            task_dir: DirFd::open(Path::new(&format!("/proc/{}/task", j.pid)))?,
            threads: HashMap::new(),
            listing: 0,
            rec,
            next_slow_s: first_slow_s,
            identity_due: true,
            leader_exited: false,
        })
    }

    /// Sweeps every thread: lists the task directory (when tasks may have been created), opens
    /// new threads, reads all of them.
    /// `list_tasks` false means no task was created on the host since the last sweep.
    pub(super) fn sweep(
        &mut self,
        ctx: &TickCtx,
        list_tasks: bool,
        force_stat: bool,
        bufs: &mut Shared,
        rec: &mut ProcessRecord,
        sums: &mut TickSums,
    ) -> ProcSweep {
        bufs.tids.clear();
        if list_tasks || self.listing == 0 {
            self.listing = self.listing.saturating_add(1);
            let tids = &mut bufs.tids;
            match self
                .task_dir
                .for_each(&mut bufs.dir, |n| tids.extend(sys::parse_id(n)))
            {
                Ok(()) => {}
                Err(e) if is_gone(&e) => {}
                Err(_) => sums.errors += 1,
            }
        }
        for &tid in bufs.tids.iter() {
            if self.threads.contains_key(&tid) || (tid == self.pid && self.leader_exited) {
                continue;
            }
            let idx = rec.threads.len();
            match LiveThread::open(self.pid, tid, idx) {
                Ok(t) => {
                    rec.threads.push(ThreadRecord {
                        tid,
                        first_seen_s: ctx.t_s,
                        last_seen_s: ctx.t_s,
                        first_tick: ctx.tick_index,
                        ..ThreadRecord::default()
                    });
                    self.threads.insert(tid, t);
                }
                Err(e) if is_gone(&e) => {}
                Err(_) => sums.errors += 1,
            }
        }
        let mut out = ProcSweep::default();
        let mut alive = 0;
        let mut identity_due = self.identity_due;
        let mut leader_exited = self.leader_exited;
        let pid = self.pid;
        self.threads.retain(|_, t| {
            let trec = &mut rec.threads[t.rec];
            match t.sample(pid, ctx, force_stat, &mut bufs.res, &mut bufs.file, trec) {
                Reading::Gone => false,
                Reading::Failed => {
                    sums.errors += 1;
                    alive += 1;
                    true
                }
                Reading::Alive(o) => {
                    sums.errors += o.errors;
                    sums.exec_ns += o.exec_ns;
                    sums.delay_ns += o.delay_ns;
                    if let Some(l) = o.leader {
                        rec.ppid = l.ppid;
                        out.pgrp = Some(l.pgrp);
                        if l.comm_changed {
                            // First read, or an exec: read the new image's identity at once.
                            rec.comm = trec.comm.clone();
                            identity_due = true;
                        }
                    }
                    if o.exited {
                        leader_exited |= t.tid == pid;
                        return false;
                    }
                    alive += 1;
                    sums.running += u32::from(o.state == b'R');
                    true
                }
            }
        });
        sums.threads += alive;
        if alive > 0 {
            sums.processes += 1;
            rec.last_seen_s = ctx.t_s;
            if identity_due {
                sums.errors += self.read_identity(bufs, rec);
            }
        }
        self.identity_due = false;
        self.leader_exited = leader_exited;
        out.gone = self.threads.is_empty();
        out
    }

    /// Reads exe and cmdline (comm comes from the leader thread's stat).
    pub(super) fn read_identity(&self, bufs: &mut Shared, rec: &mut ProcessRecord) -> u32 {
        read_identity(self.pid, bufs, rec)
    }

    /// The slow counters (see [`read_slow`]).
    pub(super) fn read_slow(&self, bufs: &mut Shared, rec: &mut ProcessRecord) -> u32 {
        read_slow(self.pid, bufs, rec)
    }
}

/// Reads exe and cmdline of `pid` into its record (comm comes from stat or the task records).
pub(super) fn read_identity(pid: i32, bufs: &mut Shared, rec: &mut ProcessRecord) -> u32 {
    let mut errors = 0;
    match std::fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(p) => rec.exe = Some(p.to_string_lossy().into_owned()),
        Err(e) if is_gone(&e) => {}
        Err(_) => errors += 1, // kernel thread or no permission: exe stays unknown
    }
    let path = PathBuf::from(format!("/proc/{pid}/cmdline"));
    match sys::read_once(&path, &mut bufs.file) {
        Ok(()) => {
            let argv = parse_cmdline(&bufs.file);
            if !argv.is_empty() {
                rec.cmdline = argv;
            }
        }
        Err(e) if is_gone(&e) => {}
        Err(_) => errors += 1,
    }
    if rec.comm.is_empty() {
        if let Some(t) = rec.threads.iter().find(|t| t.tid == pid) {
            rec.comm = t.comm.clone();
        }
    }
    errors
}

/// Reads the slow counters of `pid`: PSS (kept as the maximum seen), io, the pipes, sockets
/// and files held, and identity again (a cmdline may change without a new comm). Returns the
/// errors met.
pub(super) fn read_slow(pid: i32, bufs: &mut Shared, rec: &mut ProcessRecord) -> u32 {
    let mut errors = read_identity(pid, bufs, rec);
    errors += bufs.res.held(pid, &mut rec.held, &mut rec.written);
    let rollup = PathBuf::from(format!("/proc/{pid}/smaps_rollup"));
    match sys::read_once(&rollup, &mut bufs.file) {
        Ok(()) => {
            if let Some(pss) = parse_pss_bytes(&bufs.file) {
                rec.max_pss_bytes = Some(rec.max_pss_bytes.unwrap_or(0).max(pss));
            }
        }
        Err(e) if is_gone(&e) => {}
        Err(_) => errors += 1,
    }
    let io_path = PathBuf::from(format!("/proc/{pid}/io"));
    match sys::read_once(&io_path, &mut bufs.file) {
        Ok(()) => rec.io = parse_io(&bufs.file).or(rec.io.take()),
        Err(e) if is_gone(&e) => {}
        Err(_) => errors += 1,
    }
    errors
}
