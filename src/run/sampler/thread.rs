//! One thread of the tree on the hot path: its stat and schedstat stay open and are re-read
//! with pread at every tick, and the deltas become the thread's busy series.
//!
//! schedstat is read every tick (~1 µs). stat (~5-10 µs, for the state letter) is skipped when
//! schedstat did not move and the thread was last seen sleeping (S or D): a thread that has not
//! been on a CPU since the last tick cannot have changed its own state. The one thing that can
//! happen meanwhile is a wake-up into the run queue; the tree forces every stat read while its
//! threads wait for CPUs (and at each slow read), so such a wake-up shows as `Q`.
//!
//! A thread found blocked (S or D) is asked what it waits on (see `blocked`).

use super::blocked::BlockedProbe;
use super::parse::{parse_schedstat, parse_stat, SchedStat};
use super::resolve::Resolver;
use super::sys::{is_gone, ProcFile};
use crate::measure::ThreadRecord;
use std::io;
use std::path::Path;

/// What a tick knows while it sweeps the threads.
#[derive(Debug, Clone, Copy)]
pub(super) struct TickCtx {
    /// Seconds since release at the start of this sweep.
    pub t_s: f64,
    /// Seconds since the previous sweep; None for the baseline sweep taken in `start`.
    pub interval_s: Option<f64>,
    /// Index of the tick being built in the timeline.
    pub tick_index: u32,
}

/// One live thread.
#[derive(Debug)]
pub(super) struct LiveThread {
    pub tid: i32,
    stat: ProcFile,
    schedstat: ProcFile,
    last: Option<SchedStat>,
    /// Seconds since release when `last` was read.
    last_t_s: f64,
    /// State letter at the last stat read.
    pub state: u8,
    /// Index of this thread's record in its process record.
    pub rec: usize,
    /// What it waits on when blocked.
    probe: BlockedProbe,
}

/// The leader thread's stat fields that describe the whole process.
#[derive(Debug, Clone, Copy)]
pub(super) struct LeaderStat {
    pub ppid: i32,
    pub pgrp: i32,
    /// The command name changed since the last read (an exec, e.g. a pyenv shim into python).
    pub comm_changed: bool,
}

/// A thread's reading at one tick.
#[derive(Debug, Clone, Copy)]
pub(super) enum Reading {
    /// The task is gone (ESRCH/ENOENT): not an error.
    Gone,
    /// A read failed for another reason; counted as an error, the thread is kept.
    Failed,
    Alive(Observed),
}

/// A live (or just-exited) thread at one tick.
#[derive(Debug, Clone, Copy)]
pub(super) struct Observed {
    /// On-CPU nanoseconds over the interval.
    pub exec_ns: u64,
    /// Run-queue nanoseconds over the interval.
    pub delay_ns: u64,
    /// State letter at the tick.
    pub state: u8,
    /// The thread is a zombie: count this last delta, then drop it.
    pub exited: bool,
    /// Set when stat was read for the leader thread.
    pub leader: Option<LeaderStat>,
    /// Reads that failed (other than the task exiting) while looking at its wait.
    pub errors: u32,
}

impl LiveThread {
    /// Opens the thread's stat and schedstat for the rest of its life.
    pub(super) fn open(pid: i32, tid: i32, rec: usize) -> io::Result<Self> {
        let base = format!("/proc/{pid}/task/{tid}/");
        Ok(LiveThread {
            tid,
            stat: ProcFile::open(Path::new(&(base.clone() + "stat")))?,
            schedstat: ProcFile::open(Path::new(&(base + "schedstat")))?,
            last: None,
            last_t_s: 0.0,
            state: b'?',
            rec,
            probe: BlockedProbe::default(),
        })
    }

    /// Reads the thread and updates its record (busy and state series, waits, totals, comm).
    pub(super) fn sample(
        &mut self,
        pid: i32,
        ctx: &TickCtx,
        force_stat: bool,
        res: &mut Resolver,
        buf: &mut Vec<u8>,
        rec: &mut ThreadRecord,
    ) -> Reading {
        if let Err(e) = self.schedstat.read(buf) {
            return self.failed(&e, ctx, rec);
        }
        let Some(now) = parse_schedstat(buf) else {
            return self.carry(ctx, rec);
        };
        let idle = self.last == Some(now) && matches!(self.state, b'S' | b'D');
        let mut leader = None;
        if force_stat || !idle {
            if let Err(e) = self.stat.read(buf) {
                return self.failed(&e, ctx, rec);
            }
            let Some(st) = parse_stat(buf) else {
                return self.carry(ctx, rec);
            };
            self.state = st.state;
            let comm_changed = rec.comm.as_bytes() != st.comm;
            if comm_changed {
                rec.comm = String::from_utf8_lossy(st.comm).into_owned();
            }
            if self.tid == pid {
                leader = Some(LeaderStat {
                    ppid: st.ppid,
                    pgrp: st.pgrp,
                    comm_changed,
                });
            }
        }
        let (mut exec_ns, mut delay_ns) = match self.last {
            Some(l) => (
                now.exec_ns.saturating_sub(l.exec_ns),
                now.delay_ns.saturating_sub(l.delay_ns),
            ),
            None => (now.exec_ns, now.delay_ns),
        };
        let mut errors = 0;
        if let Some(interval_s) = ctx.interval_s {
            let interval_ns = (interval_s * 1e9) as u64;
            // Over the time since this thread's last good read (longer than the interval
            // after a failed read).
            let mut span_ns = ((ctx.t_s - self.last_t_s) * 1e9) as u64;
            if self.last.is_none() {
                // First seen after the baseline: it started during this interval, so its whole
                // life fits in it (a late discovery can't claim more than the interval).
                exec_ns = exec_ns.min(interval_ns);
                delay_ns = delay_ns.min(interval_ns);
                span_ns = interval_ns;
            }
            let busy = exec_ns as f64 / span_ns.max(1) as f64;
            rec.busy.push(busy.min(1.0) as f32);
            // Runnable but given no CPU since the last tick: waiting in a run queue.
            let letter = if self.state == b'R' && exec_ns == 0 {
                b'Q'
            } else {
                self.state
            };
            rec.states.push(letter as char);
            if matches!(self.state, b'S' | b'D') {
                let looked = self
                    .probe
                    .look(pid, self.tid, idle, res, buf, &mut rec.waits);
                errors = looked.errors;
                if let Some(w) = looked.idx.and_then(|i| rec.waits.get_mut(i)) {
                    let off_ns = span_ns.saturating_sub(exec_ns + delay_ns);
                    w.ticks += 1;
                    w.blocked_s += off_ns as f64 / 1e9;
                }
            }
        } else {
            (exec_ns, delay_ns) = (0, 0);
        }
        self.last = Some(now);
        self.last_t_s = ctx.t_s;
        rec.on_cpu_s = now.exec_ns as f64 / 1e9;
        rec.runqueue_s = now.delay_ns as f64 / 1e9;
        rec.last_seen_s = ctx.t_s;
        Reading::Alive(Observed {
            exec_ns,
            delay_ns,
            state: self.state,
            exited: matches!(self.state, b'Z' | b'X'),
            leader,
            errors,
        })
    }

    /// A read error: the task exited, or a real failure (keep the series aligned).
    fn failed(&self, e: &io::Error, ctx: &TickCtx, rec: &mut ThreadRecord) -> Reading {
        if is_gone(e) {
            Reading::Gone
        } else {
            self.carry(ctx, rec)
        }
    }

    /// Keeps the busy series one value per tick by repeating the last value (0 before any good
    /// read); the next good read's delta is then spread over the whole time since.
    fn carry(&self, ctx: &TickCtx, rec: &mut ThreadRecord) -> Reading {
        if ctx.interval_s.is_some() {
            let last = rec.busy.last().copied().unwrap_or(0.0);
            rec.busy.push(last);
            rec.states.push(rec.states.chars().last().unwrap_or('?'));
        }
        Reading::Failed
    }
}
