//! Exact per-thread intervals from the records: every thread of the tree is running, runnable
//! (switched out while still runnable: preempted) or blocked from one record to the next, and
//! lives from its fork record to its exit record. Pure: records in, measurement types out.
//!
//! Totals are exact nanoseconds. The timeline is kept in fixed-width bins (on-CPU and runnable
//! microseconds per thread per bin) so that analysis and the plots read the same `Tick` and
//! `ThreadRecord` series the procfs sampler gives; the bins double in width whenever the run
//! outgrows [`MAX_BINS`], so memory is bounded by threads x MAX_BINS whatever the run's length.
//! Cost grows with the records (one state change each), not with threads x rate.
//!
//! A woken thread waits for a CPU before its switch in: sched_wakeup records (where the
//! tracepoint can be opened: root, tracefs mounted) mark the wake-up, so that wait counts as
//! runnable. Without them it is filed under blocked, and `SwitchStats::wakeups_traced` is false.
//!
//! `--max-processes` caps the processes tracked at once, as it does for the procfs sampler: a
//! process that joins while the cap is reached is counted (`untracked_processes`) and its
//! records are dropped, so the maps stay bounded by the cap in a fork storm.

use super::record::Record;
use crate::measure::{ProcessRecord, SamplerData, ThreadRecord, Tick, WaitCount};
use std::collections::{BTreeMap, HashMap};

/// Width of a timeline bin at the start of a run: 100 per second, the sampler's top rate.
pub const START_BIN_NS: u64 = 10_000_000;
/// Bins per run before they double in width (1024 x 10 ms = the first 10 s at full detail).
pub const MAX_BINS: usize = 1024;

/// What a thread is doing between two records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Running,
    /// Switched out while runnable (preempted), woken and not yet on a CPU, or forked and not
    /// yet scheduled.
    Runnable,
    /// Switched out voluntarily: asleep, waiting on I/O, a lock, a child.
    Blocked,
    Exited,
}

/// One thread's life so far.
#[derive(Debug, Clone)]
pub struct Life {
    pub pid: i32,
    pub tid: i32,
    pub comm: String,
    pub start_ns: u64,
    pub end_ns: Option<u64>,
    pub state: State,
    /// When `state` began.
    pub since_ns: u64,
    pub run_ns: u64,
    pub runnable_ns: u64,
    pub blocked_ns: u64,
    pub voluntary: u64,
    pub preempted: u64,
    /// What the thread waited on, named by /proc reads (see the collector).
    pub waits: Vec<WaitCount>,
    /// The wait the current blocked interval was named as (index into `waits`); its exact
    /// length is added there when it ends.
    pub current_wait: Option<usize>,
    /// The current blocked interval was looked at and found not blocked (/proc said running):
    /// don't look again until the next one.
    pub looked_unnamed: bool,
    first_bin: usize,
    /// (on-CPU µs, runnable µs) per bin from `first_bin`.
    bins: Vec<[u32; 2]>,
}

/// One process: its record minus threads and times (the collector fills exe, cmdline, PSS,
/// io, held there), and its threads' ids.
#[derive(Debug, Clone)]
pub struct ProcLife {
    pub record: ProcessRecord,
    pub start_ns: u64,
    pub end_ns: Option<u64>,
    pub tids: Vec<i32>,
    /// Changed image or new: the collector should read exe and cmdline again.
    pub identity_due: bool,
}

/// The whole tree's intervals.
#[derive(Debug)]
pub struct Intervals {
    /// CLOCK_MONOTONIC ns of the release (t = 0 in the data).
    t0_ns: u64,
    bin_ns: u64,
    pub threads: BTreeMap<i32, Life>,
    pub procs: BTreeMap<i32, ProcLife>,
    pub lost_records: u64,
    /// Records that arrived out of order for their thread (clamped to its last time).
    pub reordered: u64,
    /// Switches in straight from blocked: wake-ups the records did not show (all of them when
    /// wake-ups are not traced).
    pub unseen_wakeups: u64,
    /// Wake-up records for a thread that was not blocked (already woken, or the record came
    /// in a different order than the switches around it).
    pub ignored_wakeups: u64,
    /// The most processes tracked at once (`--max-processes`).
    process_cap: u32,
    /// Processes tracked and not yet exited.
    live: usize,
    /// Whether a process was left out because the cap was reached.
    cap_reached: bool,
    /// Processes left out, ever.
    untracked_count: u64,
    /// The processes left out whose records may still come: pid -> exit time once it exited
    /// (kept a moment, since a thread's last switch-out follows its exit record).
    untracked: HashMap<i32, Option<u64>>,
}

impl Intervals {
    /// Starts with the root process `root`, running from `start_ns` (its exec), released at
    /// `t0_ns`.
    pub fn new(t0_ns: u64, root: i32, ppid: i32, comm: String, start_ns: u64) -> Self {
        let mut iv = Intervals {
            t0_ns,
            bin_ns: START_BIN_NS,
            threads: BTreeMap::new(),
            procs: BTreeMap::new(),
            lost_records: 0,
            reordered: 0,
            unseen_wakeups: 0,
            ignored_wakeups: 0,
            process_cap: u32::MAX,
            live: 0,
            cap_reached: false,
            untracked_count: 0,
            untracked: HashMap::new(),
        };
        iv.add_process(root, ppid, comm.clone(), start_ns);
        iv.add_thread(root, root, comm, start_ns, State::Running);
        iv
    }

    /// Tracks at most `cap` processes at once (at least the root).
    pub fn cap_processes(&mut self, cap: u32) {
        self.process_cap = cap.max(1);
    }

    /// Forgets the left-out processes that exited before `ns`: no record of theirs comes any
    /// more, and the map stays as small as the left-out processes alive.
    pub fn forget_untracked_exited_before(&mut self, ns: u64) {
        self.untracked
            .retain(|_, exit| exit.is_none_or(|e| e >= ns));
    }

    /// Whether `pid` is tracked; a process not seen before is added (from `time_ns`) while the
    /// cap allows it, else counted and left out. `parent` names a new process's (ppid, comm).
    fn admit(&mut self, pid: i32, time_ns: u64, parent: Option<(i32, String)>) -> bool {
        if self.procs.contains_key(&pid) && parent.is_none() {
            return true;
        }
        match self.untracked.get(&pid) {
            // Left out and alive: a second fork record for it is not a new process.
            Some(None) => return false,
            Some(Some(_)) if parent.is_none() => return false,
            // A fork record for a pid left out and exited: a new process on a reused pid.
            Some(Some(_)) => {
                self.untracked.remove(&pid);
            }
            None => {}
        }
        if self.live >= self.process_cap as usize {
            self.cap_reached = true;
            self.untracked_count += 1;
            self.untracked.insert(pid, None);
            return false;
        }
        let (ppid, comm) = parent.unwrap_or_default();
        self.add_process(pid, ppid, comm, time_ns);
        true
    }

    /// Width of a bin now, in ns.
    pub fn bin_ns(&self) -> u64 {
        self.bin_ns
    }

    /// Applies one record (records of one thread must come in time order; the collector sorts
    /// each drain by time).
    pub fn apply(&mut self, r: &Record) {
        match *r {
            Record::Switch {
                pid,
                tid,
                time_ns,
                out,
                preempted,
            } => {
                if !self.threads.contains_key(&tid) {
                    if !self.admit(pid, time_ns, None) {
                        return;
                    }
                    // Its fork record was lost, or it predates the events: assume it was
                    // doing the opposite of what this record changes.
                    let state = if out { State::Running } else { State::Runnable };
                    self.add_thread(pid, tid, String::new(), time_ns, state);
                }
                let next = match (out, preempted) {
                    (false, _) => State::Running,
                    (true, true) => State::Runnable,
                    (true, false) => State::Blocked,
                };
                self.change(tid, time_ns, next);
            }
            Record::Fork {
                pid,
                ppid,
                tid,
                ptid,
                time_ns,
            } => {
                let comm = self
                    .threads
                    .get(&ptid)
                    .map(|t| t.comm.clone())
                    .unwrap_or_default();
                let parent = (pid != ppid).then(|| (ppid, comm.clone()));
                if !self.admit(pid, time_ns, parent) {
                    return;
                }
                if !self.threads.contains_key(&tid) {
                    self.add_thread(pid, tid, comm, time_ns, State::Runnable);
                }
            }
            Record::Exit { pid, tid, time_ns } => {
                if let Some(exit) = self.untracked.get_mut(&pid) {
                    if tid == pid {
                        exit.get_or_insert(time_ns);
                    }
                    return;
                }
                if self.threads.contains_key(&tid) {
                    self.change(tid, time_ns, State::Exited);
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.end_ns.get_or_insert(time_ns);
                    }
                }
                let all_gone = self.procs.get(&pid).is_some_and(|p| {
                    p.tids
                        .iter()
                        .all(|t| self.threads.get(t).is_none_or(|l| l.end_ns.is_some()))
                });
                if let Some(p) = self.procs.get_mut(&pid).filter(|_| all_gone) {
                    if p.end_ns.is_none() {
                        p.end_ns = Some(time_ns);
                        self.live -= 1;
                    }
                }
            }
            Record::Comm {
                pid,
                tid,
                ref comm,
                exec,
                time_ns,
            } => {
                if !self.admit(pid, time_ns, None) {
                    return;
                }
                if let Some(t) = self.threads.get_mut(&tid) {
                    t.comm.clone_from(comm);
                }
                if let Some(p) = self.procs.get_mut(&pid) {
                    if tid == pid || exec {
                        p.record.comm.clone_from(comm);
                    }
                    p.identity_due |= exec;
                }
            }
            Record::Wakeup { tid, time_ns } => {
                if self
                    .threads
                    .get(&tid)
                    .is_some_and(|t| t.state == State::Blocked)
                {
                    self.change(tid, time_ns, State::Runnable);
                }
            }
            Record::Lost { lost } => self.lost_records += lost,
        }
    }

    /// Threads alive and blocked now, as (pid, tid).
    pub fn blocked(&self) -> impl Iterator<Item = (i32, i32)> + '_ {
        self.threads
            .values()
            .filter(|t| t.state == State::Blocked)
            .map(|t| (t.pid, t.tid))
    }

    /// Live processes (tracked ones).
    pub fn live_processes(&self) -> usize {
        self.live
    }

    /// Bytes held for threads, bins and processes (element counts times sizes).
    pub fn state_bytes(&self) -> u64 {
        let bins: usize = self.threads.values().map(|t| t.bins.capacity()).sum();
        let waits: usize = self.threads.values().map(|t| t.waits.len()).sum();
        (self.threads.len() * std::mem::size_of::<Life>()
            + bins * std::mem::size_of::<[u32; 2]>()
            + waits * 96
            + self.procs.len() * (std::mem::size_of::<ProcLife>() + 256)) as u64
    }

    fn add_process(&mut self, pid: i32, ppid: i32, comm: String, start_ns: u64) {
        self.live += 1;
        let reused = self.procs.insert(
            pid,
            ProcLife {
                record: ProcessRecord {
                    pid,
                    ppid,
                    comm,
                    ..ProcessRecord::default()
                },
                start_ns,
                end_ns: None,
                tids: Vec::new(),
                identity_due: true,
            },
        );
        // A live entry replaced (its fork record came after one of its switches) was counted.
        if reused.is_some_and(|p| p.end_ns.is_none()) {
            self.live -= 1;
        }
    }

    fn add_thread(&mut self, pid: i32, tid: i32, comm: String, start_ns: u64, state: State) {
        let first_bin = self.bin_of(start_ns);
        self.threads.insert(
            tid,
            Life {
                pid,
                tid,
                comm,
                start_ns,
                end_ns: None,
                state,
                since_ns: start_ns,
                run_ns: 0,
                runnable_ns: 0,
                blocked_ns: 0,
                voluntary: 0,
                preempted: 0,
                waits: Vec::new(),
                current_wait: None,
                looked_unnamed: false,
                first_bin,
                bins: Vec::new(),
            },
        );
        if let Some(p) = self.procs.get_mut(&pid) {
            p.tids.push(tid);
        }
    }

    /// Ends `tid`'s current interval at `time_ns` and starts `next`.
    fn change(&mut self, tid: i32, time_ns: u64, next: State) {
        let Some(t) = self.threads.get(&tid) else {
            return;
        };
        if t.state == State::Exited {
            return;
        }
        let (from, state) = (t.since_ns, t.state);
        if time_ns < from {
            self.reordered += 1;
        }
        let to = time_ns.max(from);
        if matches!(state, State::Running | State::Runnable) {
            self.fit_bins(to);
        }
        let (t0, bin_ns) = (self.t0_ns, self.bin_ns);
        let t = self.threads.get_mut(&tid).expect("checked above");
        let len = to - from;
        match state {
            State::Running => {
                t.run_ns += len;
                add_to_bins(t, t0, bin_ns, from, to, 0);
            }
            State::Runnable => {
                t.runnable_ns += len;
                add_to_bins(t, t0, bin_ns, from, to, 1);
            }
            State::Blocked => {
                t.blocked_ns += len;
                if let Some(w) = t.current_wait.take().and_then(|i| t.waits.get_mut(i)) {
                    w.blocked_s += len as f64 / 1e9;
                }
            }
            State::Exited => {}
        }
        match (state, next) {
            (State::Blocked, State::Running) => self.unseen_wakeups += 1,
            (State::Running, State::Blocked) => t.voluntary += 1,
            (State::Running, State::Runnable) => t.preempted += 1,
            _ => {}
        }
        if next == State::Blocked {
            t.looked_unnamed = false;
        }
        t.state = next;
        t.since_ns = to;
    }

    fn bin_of(&self, time_ns: u64) -> usize {
        (time_ns.saturating_sub(self.t0_ns) / self.bin_ns) as usize
    }

    /// Doubles the bin width until `time_ns` falls within MAX_BINS bins.
    fn fit_bins(&mut self, time_ns: u64) {
        while self.bin_of(time_ns) >= MAX_BINS {
            self.bin_ns *= 2;
            for t in self.threads.values_mut() {
                let first = t.first_bin / 2;
                let mut merged: Vec<[u32; 2]> = Vec::with_capacity(t.bins.len() / 2 + 1);
                for (i, b) in t.bins.iter().enumerate() {
                    let at = (t.first_bin + i) / 2 - first;
                    if merged.len() <= at {
                        merged.resize(at + 1, [0, 0]);
                    }
                    merged[at][0] = merged[at][0].saturating_add(b[0]);
                    merged[at][1] = merged[at][1].saturating_add(b[1]);
                }
                t.first_bin = first;
                t.bins = merged;
            }
        }
    }

    /// The run's data: every interval still open is closed at `end_ns`.
    pub fn finish(mut self, end_ns: u64) -> SamplerData {
        let live: Vec<i32> = self
            .threads
            .values()
            .filter(|t| t.state != State::Exited)
            .map(|t| t.tid)
            .collect();
        for tid in live {
            let state = self.threads[&tid].state;
            self.change(tid, end_ns, state);
        }
        let rel = |ns: u64| ns.saturating_sub(self.t0_ns) as f64 / 1e9;
        let end_rel_ns = end_ns.saturating_sub(self.t0_ns);
        let bins = (end_rel_ns.div_ceil(self.bin_ns) as usize).max(1);
        let bin_ns = self.bin_ns;
        let width_ns = |i: usize| (end_rel_ns - (i as u64 * bin_ns)).min(bin_ns).max(1);
        let mut timeline: Vec<Tick> = (0..bins)
            .map(|i| Tick {
                t_s: ((i as u64 * bin_ns + width_ns(i)) as f64) / 1e9,
                ..Tick::default()
            })
            .collect();
        let mut procs: BTreeMap<i32, ProcessRecord> = BTreeMap::new();
        for p in self.procs.values() {
            let mut rec = p.record.clone();
            rec.first_seen_s = rel(p.start_ns);
            rec.last_seen_s = rel(p.end_ns.unwrap_or(end_ns));
            procs.insert(p.record.pid, rec);
        }
        let mut proc_bins: BTreeMap<i32, (usize, usize)> = BTreeMap::new();
        for t in self.threads.values() {
            let end = t.end_ns.unwrap_or(end_ns);
            let (a, b) = (
                self.bin_of(t.start_ns),
                self.bin_of(end.saturating_sub(1)).max(t.first_bin),
            );
            let mut rec = ThreadRecord {
                tid: t.tid,
                comm: t.comm.clone(),
                first_seen_s: rel(t.start_ns),
                last_seen_s: rel(end),
                on_cpu_s: t.run_ns as f64 / 1e9,
                runqueue_s: t.runnable_ns as f64 / 1e9,
                first_tick: a as u32,
                waits: t.waits.clone(),
                blocked_s: Some(t.blocked_ns as f64 / 1e9),
                voluntary_switches: Some(t.voluntary),
                preempted_switches: Some(t.preempted),
                ..ThreadRecord::default()
            };
            let last = b.min(bins - 1);
            for (i, tick) in timeline.iter_mut().enumerate().take(last + 1).skip(a) {
                let [run_us, rq_us] = t.bins.get(i - t.first_bin).copied().unwrap_or([0, 0]);
                let (run, rq) = (f64::from(run_us) * 1e3, f64::from(rq_us) * 1e3);
                let lo = (i as u64 * bin_ns).max(t.start_ns.saturating_sub(self.t0_ns));
                let hi = (i as u64 * bin_ns + width_ns(i)).min(end.saturating_sub(self.t0_ns));
                let alive = hi.saturating_sub(lo) as f64;
                let blocked = alive - run - rq;
                let w = width_ns(i) as f64;
                rec.busy.push((run / w).min(1.0) as f32);
                let letter = if run >= rq && run >= blocked {
                    'R'
                } else if rq >= blocked {
                    'Q'
                } else {
                    'S'
                };
                rec.states.push(letter);
                tick.on_cpu_cores += run / w;
                tick.runqueue_threads += rq / w;
                tick.threads += 1;
                tick.running_threads += u32::from(letter == 'R');
            }
            let span = proc_bins.entry(t.pid).or_insert((a, b));
            *span = (span.0.min(a), span.1.max(b));
            if let Some(p) = procs.get_mut(&t.pid) {
                if p.comm.is_empty() && t.tid == t.pid {
                    p.comm.clone_from(&t.comm);
                }
                p.threads.push(rec);
            }
        }
        for &(a, b) in proc_bins.values() {
            let b = b.min(bins - 1);
            if a <= b {
                for tick in &mut timeline[a..=b] {
                    tick.processes += 1;
                }
            }
        }
        SamplerData {
            process_cap: self.cap_reached.then_some(self.process_cap),
            untracked_processes: self.untracked_count,
            ticks: timeline.len() as u64,
            achieved_hz: 1e9 / bin_ns as f64,
            t0_monotonic_ns: Some(self.t0_ns),
            timeline,
            processes: procs
                .into_values()
                .filter(|p| !p.threads.is_empty())
                .collect(),
            ..SamplerData::default()
        }
    }
}

/// Adds [from, to) to the thread's bins, column `col` (0 on-CPU, 1 runnable), in µs.
fn add_to_bins(t: &mut Life, t0: u64, bin_ns: u64, from: u64, to: u64, col: usize) {
    let (mut a, b) = (from.saturating_sub(t0), to.saturating_sub(t0));
    while a < b {
        let i = (a / bin_ns) as usize;
        let edge = ((i as u64) + 1) * bin_ns;
        let piece = b.min(edge) - a;
        let Some(at) = i.checked_sub(t.first_bin) else {
            a += piece;
            continue;
        };
        if t.bins.len() <= at {
            t.bins.resize(at + 1, [0, 0]);
        }
        t.bins[at][col] = t.bins[at][col].saturating_add((piece / 1000) as u32);
        a += piece;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn switch(tid: i32, t_ms: u64, out: bool, preempted: bool) -> Record {
        Record::Switch {
            pid: 1,
            tid,
            time_ns: t_ms * MS,
            out,
            preempted,
        }
    }

    #[test]
    fn a_thread_is_running_runnable_or_blocked_between_its_records() {
        let mut iv = Intervals::new(0, 1, 0, "root".into(), 0);
        iv.apply(&Record::Fork {
            pid: 1,
            ppid: 1,
            tid: 2,
            ptid: 1,
            time_ns: 5 * MS,
        });
        // root: runs 0-20, preempted 20-30, runs 30-40, blocks 40-100
        for r in [
            switch(1, 20, true, true),
            switch(2, 20, false, false),
            switch(2, 30, true, false),
            switch(1, 30, false, false),
            switch(1, 40, true, false),
        ] {
            iv.apply(&r);
        }
        iv.apply(&Record::Exit {
            pid: 1,
            tid: 2,
            time_ns: 60 * MS,
        });
        let data = iv.finish(100 * MS);
        let root = &data.processes[0];
        assert_eq!(root.threads.len(), 2);
        let t1 = &root.threads[0];
        assert!((t1.on_cpu_s - 0.030).abs() < 1e-9, "{t1:?}");
        assert!((t1.runqueue_s - 0.010).abs() < 1e-9);
        assert!((t1.blocked_s.unwrap() - 0.060).abs() < 1e-9);
        assert_eq!(
            (t1.voluntary_switches, t1.preempted_switches),
            (Some(1), Some(1))
        );
        let t2 = &root.threads[1];
        // forked at 5, runnable until 20, runs 20-30, blocked until its exit at 60
        assert!((t2.runqueue_s - 0.015).abs() < 1e-9, "{t2:?}");
        assert!((t2.on_cpu_s - 0.010).abs() < 1e-9);
        assert_eq!((t2.first_seen_s, t2.last_seen_s), (0.005, 0.060));
        assert_eq!(data.timeline.len(), 10);
        // bin 1 (10-20 ms): root running all of it, thread 2 runnable
        assert!((data.timeline[1].on_cpu_cores - 1.0).abs() < 1e-6);
        assert!((data.timeline[1].runqueue_threads - 1.0).abs() < 1e-6);
        assert_eq!(&t1.states[..4], "RRQR");
        assert_eq!(data.timeline[8].threads, 1, "thread 2 exited at 60 ms");
    }

    #[test]
    fn a_fork_storm_tracks_at_most_the_cap_at_once_and_counts_the_rest() {
        let mut iv = Intervals::new(0, 1, 0, "root".into(), 0);
        iv.cap_processes(4);
        let fork = |pid: i32, t_ms: u64| Record::Fork {
            pid,
            ppid: 1,
            tid: pid,
            ptid: 1,
            time_ns: t_ms * MS,
        };
        let exit = |pid: i32, t_ms: u64| Record::Exit {
            pid,
            tid: pid,
            time_ns: t_ms * MS,
        };
        let run = |pid: i32, t_ms: u64, out: bool| Record::Switch {
            pid,
            tid: pid,
            time_ns: t_ms * MS,
            out,
            preempted: false,
        };
        // 10 children at once: the root and 3 are tracked, 7 are left out.
        for pid in 2..12 {
            iv.apply(&fork(pid, pid as u64));
            iv.apply(&run(pid, 20, false));
            // A thread of a left-out process is left out with it.
            iv.apply(&Record::Fork {
                pid,
                ppid: pid,
                tid: pid + 100,
                ptid: pid,
                time_ns: 21 * MS,
            });
        }
        assert_eq!(iv.procs.len(), 4);
        assert_eq!(iv.threads.len(), 7, "root + 3 x (main thread + one more)");
        // They exit; the last switch-outs after the exit records add nobody.
        for pid in 2..12 {
            iv.apply(&exit(pid + 100, 30));
            iv.apply(&exit(pid, 30));
            iv.apply(&run(pid, 31, true));
        }
        assert_eq!(iv.procs.len(), 4);
        iv.forget_untracked_exited_before(40 * MS);
        assert!(iv.untracked.is_empty(), "the left-out ones are forgotten");
        // Room again: a new child is tracked.
        iv.apply(&fork(50, 50));
        assert!(iv.procs.contains_key(&50));
        let data = iv.finish(100 * MS);
        assert_eq!(data.process_cap, Some(4));
        assert_eq!(data.untracked_processes, 7);
        assert!(data.timeline.iter().all(|t| t.processes <= 4));
    }

    #[test]
    fn a_wakeup_ends_the_blocked_interval_and_the_wait_for_a_cpu_is_runnable() {
        let mut iv = Intervals::new(0, 1, 0, "root".into(), 0);
        iv.apply(&switch(1, 10, true, false));
        iv.apply(&Record::Wakeup {
            tid: 1,
            time_ns: 30 * MS,
        });
        iv.apply(&switch(1, 45, false, false));
        let t = &iv.finish(50 * MS).processes[0].threads[0];
        assert!((t.blocked_s.unwrap() - 0.020).abs() < 1e-9, "{t:?}");
        assert!((t.runqueue_s - 0.015).abs() < 1e-9);
        assert!((t.on_cpu_s - 0.015).abs() < 1e-9);
    }

    #[test]
    fn a_named_blocked_interval_gets_its_exact_length() {
        let mut iv = Intervals::new(0, 1, 0, "root".into(), 0);
        iv.apply(&switch(1, 10, true, false));
        let t = iv.threads.get_mut(&1).unwrap();
        t.waits.push(WaitCount {
            resource: "futex".into(),
            kind: crate::measure::ResourceKind::Futex,
            plumbing: false,
            service: None,
            syscall: "futex".into(),
            ticks: 1,
            blocked_s: 0.0,
        });
        t.current_wait = Some(0);
        iv.apply(&switch(1, 35, false, false));
        let data = iv.finish(40 * MS);
        let w = &data.processes[0].threads[0].waits[0];
        assert!((w.blocked_s - 0.025).abs() < 1e-9);
    }

    #[test]
    fn bins_double_so_a_long_run_stays_bounded() {
        let mut iv = Intervals::new(0, 1, 0, "root".into(), 0);
        let end_ms = 3 * MAX_BINS as u64 * 10;
        let mut t = 0;
        while t + 10 < end_ms {
            iv.apply(&switch(1, t + 5, true, false));
            iv.apply(&switch(1, t + 10, false, false));
            t += 10;
        }
        let data = iv.finish(end_ms * MS);
        assert!(data.timeline.len() <= MAX_BINS, "{}", data.timeline.len());
        let th = &data.processes[0].threads[0];
        assert!(
            (th.on_cpu_s - end_ms as f64 / 2e3).abs() < 0.01,
            "{}",
            th.on_cpu_s
        );
        let busy: f64 = th.busy.iter().map(|&b| f64::from(b)).sum::<f64>() / th.busy.len() as f64;
        assert!((busy - 0.5).abs() < 0.01, "{busy}");
    }

    #[test]
    fn processes_live_from_fork_to_their_last_threads_exit() {
        let mut iv = Intervals::new(0, 1, 0, "sh".into(), 0);
        iv.apply(&Record::Fork {
            pid: 7,
            ppid: 1,
            tid: 7,
            ptid: 1,
            time_ns: 2 * MS,
        });
        iv.apply(&Record::Comm {
            pid: 7,
            tid: 7,
            comm: "python3".into(),
            exec: true,
            time_ns: 3 * MS,
        });
        iv.apply(&Record::Exit {
            pid: 7,
            tid: 7,
            time_ns: 4 * MS,
        });
        iv.apply(&Record::Lost { lost: 3 });
        assert_eq!(iv.lost_records, 3);
        let data = iv.finish(50 * MS);
        let child = data.processes.iter().find(|p| p.pid == 7).unwrap();
        assert_eq!((child.ppid, child.comm.as_str()), (1, "python3"));
        assert_eq!((child.first_seen_s, child.last_seen_s), (0.002, 0.004));
        assert_eq!(data.timeline[0].processes, 2);
        assert_eq!(data.timeline[1].processes, 1);
    }
}
