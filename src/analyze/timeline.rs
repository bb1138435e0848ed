//! Reading the sampler's timeline: how many cores were busy over the run (saturation), and the
//! straggler tail at the end of a run, when fewer workers are busy than were started.

use super::workers::{Layout, PoolClues, Workers};
use crate::measure::SamplerData;
use serde::{Deserialize, Serialize};

/// Without thread states, a worker counts as busy over a tick when it used half a core.
const WORKER_BUSY_FRACTION: f32 = 0.5;

/// Cores count as all busy when the tree used all but this much of them over a tick.
const ALL_BUSY_SLACK_CORES: f64 = 0.5;

/// How the cores were used over one run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Saturation {
    /// Share of the run's ticks where the tree kept every usable core busy.
    pub all_cores_busy_share: f64,
    /// Share of ticks where at least one usable core sat idle while the tree had threads
    /// that were not running (waiting on something other than a CPU).
    pub idle_while_waiting_share: f64,
    /// Mean cores busy over the ticks.
    pub mean_busy_cores: f64,
}

/// Busy-cores picture of one run against `cores`.
pub fn saturation(data: &SamplerData, cores: u32) -> Option<Saturation> {
    let ticks: Vec<_> = data.timeline.iter().skip(1).collect();
    if ticks.is_empty() {
        return None;
    }
    let cores = f64::from(cores.max(1));
    let n = ticks.len() as f64;
    let all_busy = ticks
        .iter()
        .filter(|t| t.on_cpu_cores >= cores - ALL_BUSY_SLACK_CORES)
        .count();
    let idle_waiting = ticks
        .iter()
        .filter(|t| t.on_cpu_cores < cores - ALL_BUSY_SLACK_CORES && t.running_threads < t.threads)
        .count();
    Some(Saturation {
        all_cores_busy_share: all_busy as f64 / n,
        idle_while_waiting_share: idle_waiting as f64 / n,
        mean_busy_cores: ticks.iter().map(|t| t.on_cpu_cores).sum::<f64>() / n,
    })
}

/// Stragglers in one run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Stragglers {
    /// Share of the workers' active span (first to last busy tick of any worker) at its end
    /// during which fewer workers were busy than at the run's widest point.
    pub tail_share: f64,
    /// Coefficient of variation of the workers' CPU seconds (0 = perfectly even).
    pub cpu_cv: Option<f64>,
    /// Cores the workers used, on average, before the tail less over it: the capacity left
    /// idle behind the stragglers. Near 0 when the workers were taking turns on something
    /// shared (the GIL, a lock) before the tail: one of them alone does as much. None for
    /// task processes in slots, or without per-tick CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_cores: Option<f64>,
    /// For task processes in slots: the slot-time with no task while another task still ran,
    /// over slots x the tasks' active span, the last round included (the imbalance: one big
    /// task running alone while the other slots have nothing left). None for other layouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_slot_share: Option<f64>,
    /// For threads of one process: the cores the worker threads used while every one of them
    /// still had work (each from its first to its last tick wanting a CPU). Threads that run
    /// side by side keep n cores busy then, threads taking turns on the GIL or a lock one; an
    /// uneven last task does not lower it, as the threads that ran out of work are not in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_working_cores: Option<f64>,
    /// How much of the tail was more work: the last worker's own ticks (running, or waiting on
    /// its own account: I/O, a lock, a sink; not queued for a CPU) beyond those of the first
    /// one to finish, as a share of its own. Near 0 when the workers did the same work and the
    /// last one only waited longer for a CPU before the tail (a neighbour's burst on a busy or
    /// a small host). 0 without a tail; None without thread states and for task processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_share: Option<f64>,
}

/// The straggler tail of one run. Needs two or more workers with busy series.
pub fn stragglers(data: &SamplerData, w: &Workers) -> Option<Stragglers> {
    if w.count < 2 || data.timeline.len() < 3 {
        return None;
    }
    if w.layout == Layout::Tasks {
        return idle_slots(data, w);
    }
    let threads: Vec<_> = data
        .processes
        .iter()
        .flat_map(|p| p.threads.iter())
        .filter(|t| w.tids.contains(&t.tid))
        .collect();
    // A worker has work from its first to its last tick wanting a CPU (on one, R, or queued
    // for one, Q): in between it may wait on a lock, the GIL or a sink, but it is not done.
    // The tail is the time after some workers were done while others still worked. States,
    // not CPU used, so a loaded host that slows every worker shows no false tail.
    // Each worker's span, with its own ticks in it: those it was not queued for a CPU (None
    // without thread states).
    let spans: Vec<(usize, usize, Option<usize>)> = threads
        .iter()
        .filter_map(|t| {
            let n = t.states.len().max(t.busy.len());
            let wants = |i: usize| match t.states.as_bytes().get(i) {
                Some(state) => matches!(state, b'R' | b'Q'),
                None => {
                    t.states.is_empty() && t.busy.get(i).is_some_and(|&b| b >= WORKER_BUSY_FRACTION)
                }
            };
            let ft = t.first_tick as usize;
            let (a, b) = ((0..n).find(|&i| wants(i))?, (0..n).rfind(|&i| wants(i))?);
            let own = (!t.states.is_empty()).then(|| {
                (a..=b)
                    .filter(|&i| t.states.as_bytes().get(i) != Some(&b'Q'))
                    .count()
            });
            Some((ft + a, ft + b, own))
        })
        .collect();
    let busy_at = |tick: usize| {
        spans
            .iter()
            .filter(|&&(a, b, _)| a <= tick && tick <= b)
            .count()
    };
    let counts: Vec<usize> = (0..data.timeline.len()).map(busy_at).collect();
    let widest = *counts.iter().max()?;
    let first = counts.iter().position(|&c| c > 0)?;
    let last = counts.iter().rposition(|&c| c > 0)?;
    if widest < 2 || last <= first {
        return None;
    }
    // The tail starts after the last tick at which the pool was as wide as it got.
    let last_full = counts.iter().rposition(|&c| c == widest)?;
    let t = |i: usize| data.timeline[i].t_s;
    let span = t(last) - t(first);
    let tail = (t(last) - t(last_full)).max(0.0);
    // The workers' cores over ticks a..=b (interval k ends at tick k).
    let cores = |a: usize, b: usize| -> Option<f64> {
        let per_tick = |k: usize| -> f64 {
            threads
                .iter()
                .filter_map(|th| {
                    k.checked_sub(th.first_tick as usize)
                        .and_then(|i| th.busy.get(i))
                })
                .map(|&b| f64::from(b))
                .sum()
        };
        (b >= a && threads.iter().any(|th| !th.busy.is_empty()))
            .then(|| (a..=b).map(per_tick).sum::<f64>() / (b - a + 1) as f64)
    };
    let idle_cores = if last > last_full {
        cores(first + 1, last_full)
            .zip(cores(last_full + 1, last))
            .map(|(before, during)| (before - during).max(0.0))
    } else {
        Some(0.0)
    };
    // Every worker still had work from the last span's start to the first span's end.
    let all_working = spans
        .iter()
        .map(|s| s.0)
        .max()
        .zip(spans.iter().map(|s| s.1).min());
    let all_working_cores = match all_working {
        Some((a, b)) if w.layout == Layout::Threads && b > a => cores(a + 1, b),
        _ => None,
    };
    // The first worker to finish against the last, by their own ticks (running, or waiting on
    // their own account: I/O, a lock, a sink): a straggler with more work has more of them; one
    // that was only queued for a CPU longer does not.
    let by_end =
        |a: &&(usize, usize, Option<usize>), b: &&(usize, usize, Option<usize>)| a.1.cmp(&b.1);
    let work_share = if last > last_full {
        let first_own = spans.iter().min_by(by_end).and_then(|s| s.2);
        let last_own = spans.iter().max_by(by_end).and_then(|s| s.2);
        first_own
            .zip(last_own.filter(|&n| n > 0))
            .map(|(f, l)| (l.saturating_sub(f)) as f64 / l as f64)
    } else {
        Some(0.0)
    };
    Some(Stragglers {
        tail_share: if span > 0.0 { tail / span } else { 0.0 },
        cpu_cv: super::stats::coefficient_of_variation(&w.cpu_s),
        idle_cores,
        idle_slot_share: None,
        all_working_cores,
        work_share,
    })
}

/// The workers' steady state in one run: each worker's span from its first tick wanting a CPU
/// to its end. What comes before is start-up (a spawned interpreter importing, a pool worker
/// waiting for its first task while the parent still starts the others).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SteadyState {
    /// Share of the steady spans spent wanting a CPU (on one, or runnable in a queue).
    pub on_cpu_share: f64,
    /// The steady spans / the workers' sampled lives.
    pub share_of_life: f64,
    /// Median time from a worker's first sighting to its first tick wanting a CPU, seconds.
    pub startup_s: f64,
}

/// Steady-state figures of one run's workers; None without per-tick series. Where the python
/// probe timed a worker's first task, its steady state starts there: a pool worker born while
/// the parent still renders the data waits for its first task, and that wait is start-up too.
pub fn steady_state(data: &SamplerData, w: &Workers, clues: &PoolClues) -> Option<SteadyState> {
    let tids: std::collections::HashSet<i32> = w.tids.iter().copied().collect();
    let t = |i: usize| data.timeline.get(i).map(|k| k.t_s);
    let (mut wanted, mut span, mut life) = (0.0, 0.0, 0.0);
    let mut startups = Vec::new();
    for (pid, th) in data
        .processes
        .iter()
        .flat_map(|p| p.threads.iter().map(move |th| (p.pid, th)))
        .filter(|(_, th)| tids.contains(&th.tid))
    {
        let ft = th.first_tick as usize;
        let n = th.states.len().max(th.busy.len());
        // Any CPU used in an interval means the thread wanted one then. The state letter
        // alone is not enough: the switch records' bins carry each bin's majority state, so a
        // worker waiting on a socket most of every bin (but working in each) would be 'S'
        // throughout and its steady state shrink to a sliver of its life.
        let used_cpu = |i: usize| th.busy.get(i).is_some_and(|&b| b > 0.0);
        let wants = |i: usize| match th.states.as_bytes().get(i) {
            Some(s) => matches!(s, b'R' | b'Q') || used_cpu(i),
            None => th.busy.get(i).is_some_and(|&b| b >= WORKER_BUSY_FRACTION),
        };
        let (Some(first), Some(last)) = ((0..n).find(|&i| wants(i)), (0..n).rfind(|&i| wants(i)))
        else {
            continue;
        };
        // Interval i ends at tick first_tick + i; the span starts where its first one began,
        // or at the first sighting when the thread wanted a CPU from birth (it was born
        // inside that first interval, not at its start).
        let first_task = clues
            .first_task(pid)
            .filter(|&f| f >= th.first_seen_s && f <= th.last_seen_s);
        let start = if let Some(f) = first_task {
            Some(f)
        } else if first == 0 {
            Some(th.first_seen_s)
        } else {
            t(ft + first - 1)
        };
        // It ends with the thread: a sparse sampling of a mostly waiting thread must not make
        // its steady state a few ticks long.
        let (Some(start), Some(_)) = (start, t(ft + last)) else {
            continue;
        };
        let end = th.last_seen_s.max(start);
        // schedstat's running and runnable time is exact; by the span's definition the
        // thread wanted no CPU at the ticks outside it, so nearly all of that time is inside,
        // and the span lasted at least that long.
        let mut want = th.on_cpu_s + th.runqueue_s;
        if first_task.is_some() {
            // Started at the first task, not at the first tick wanting a CPU: the CPU used
            // before it (importing, the initializer) is start-up's, in the ticks' proportion.
            let total: f64 = th.busy.iter().map(|&b| f64::from(b)).sum();
            let after: f64 = (0..th.busy.len())
                .filter(|&i| t(ft + i).is_some_and(|end| end > start))
                .map(|i| f64::from(th.busy[i]))
                .sum();
            if total > 0.0 {
                want *= after / total;
            }
        }
        let this_span = (end - start).max(want);
        wanted += want;
        span += this_span;
        life += super::record::accounted_life_s(th).max(this_span);
        startups.push((start - th.first_seen_s).max(0.0));
    }
    (span > 0.0 && life > 0.0).then(|| SteadyState {
        on_cpu_share: (wanted / span).min(1.0),
        share_of_life: (span / life).min(1.0),
        startup_s: super::stats::median(&startups).unwrap_or(0.0),
    })
}

/// For a process-per-task tool, the share of the tasks' active span (first task started to
/// last task ended) during which fewer tasks were alive than there are slots while tasks were
/// still to start: slots held idle by the driver (a `wait` after each batch, a dependency).
/// Once the last task has started there is nothing left to hand out, so the last round's idle
/// slots are the tasks' own spread, which their durations' CV measures.
fn idle_slots(data: &SamplerData, w: &Workers) -> Option<Stragglers> {
    let pids: std::collections::HashSet<i32> = w.pids.iter().copied().collect();
    let lives: Vec<(f64, f64)> = data
        .processes
        .iter()
        .filter(|p| pids.contains(&p.pid))
        .map(|p| (p.first_seen_s, p.last_seen_s))
        .collect();
    let first = lives.iter().map(|l| l.0).fold(f64::MAX, f64::min);
    let last = lives.iter().map(|l| l.1).fold(f64::MIN, f64::max);
    if last <= first {
        return None;
    }
    let last_start = lives.iter().map(|l| l.0).fold(f64::MIN, f64::max);
    let slots = w.count as usize;
    let (mut idle, mut idle_slot_s) = (0.0, 0.0);
    for pair in data.timeline.windows(2) {
        let alive = lives
            .iter()
            .filter(|l| l.0 <= pair[1].t_s && l.1 >= pair[1].t_s)
            .count();
        // Over the whole active span, the last round included: slots with nothing while a
        // task still runs.
        let (a, b) = (pair[0].t_s.max(first), pair[1].t_s.min(last));
        if b > a && alive >= 1 && alive < slots {
            idle_slot_s += (slots - alive) as f64 * (b - a);
        }
        let (a, b) = (pair[0].t_s.max(first), pair[1].t_s.min(last_start));
        if b > a && alive < slots {
            idle += b - a;
        }
    }
    Some(Stragglers {
        tail_share: idle / (last - first),
        cpu_cv: super::stats::coefficient_of_variation(&w.cpu_s),
        idle_cores: None,
        idle_slot_share: Some((idle_slot_s / (slots as f64 * (last - first))).min(1.0)),
        all_working_cores: None,
        work_share: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{ProcessRecord, ThreadRecord, Tick};

    fn timeline(n: usize, cores: &[f64]) -> Vec<Tick> {
        (0..n)
            .map(|i| Tick {
                t_s: i as f64 * 0.1,
                on_cpu_cores: cores[i % cores.len()],
                threads: 3,
                running_threads: 2,
                ..Default::default()
            })
            .collect()
    }

    fn worker(tid: i32, busy: Vec<f32>) -> ThreadRecord {
        ThreadRecord {
            tid,
            first_tick: 0,
            on_cpu_s: busy.iter().map(|&b| f64::from(b) * 0.1).sum(),
            busy,
            ..Default::default()
        }
    }

    fn data_with(threads: Vec<ThreadRecord>, ticks: usize) -> (SamplerData, Workers) {
        let tids: Vec<i32> = threads.iter().map(|t| t.tid).collect();
        let cpu_s: Vec<f64> = threads.iter().map(|t| t.on_cpu_s).collect();
        let data = SamplerData {
            timeline: timeline(ticks, &[2.0]),
            processes: vec![ProcessRecord {
                pid: 1,
                threads,
                ..Default::default()
            }],
            ..Default::default()
        };
        let w = Workers {
            layout: Layout::Threads,
            count: tids.len() as u32,
            cpu_s,
            pids: vec![1; tids.len()],
            tids,
            other_processes: 0,
            task_s: Vec::new(),
        };
        (data, w)
    }

    #[test]
    fn an_even_pool_has_no_tail_and_a_skewed_one_has_a_long_one() {
        let (even, w) = data_with(vec![worker(1, vec![1.0; 11]), worker(2, vec![1.0; 11])], 11);
        let s = stragglers(&even, &w).unwrap();
        assert_eq!(s.tail_share, 0.0);
        assert!(s.cpu_cv.unwrap() < 1e-9);
        // Worker 2 finishes at tick 3; worker 1 runs alone until tick 10: 7 of 10 intervals.
        let mut short = vec![1.0; 4];
        short.extend(vec![0.0; 7]);
        let (skewed, w) = data_with(vec![worker(1, vec![1.0; 11]), worker(2, short)], 11);
        let s = stragglers(&skewed, &w).unwrap();
        assert!((s.tail_share - 0.7).abs() < 1e-9, "{s:?}");
        assert!(s.cpu_cv.unwrap() > 0.5);
        assert!(
            (s.idle_cores.unwrap() - 1.0).abs() < 1e-6,
            "one core left idle: {s:?}"
        );
        assert_eq!(s.work_share, None, "no thread states, no own ticks");
        let mut with_states = skewed.clone();
        with_states.processes[0].threads[0].states = "R".repeat(11);
        with_states.processes[0].threads[1].states = format!("{}{}", "R".repeat(4), "S".repeat(7));
        let s = stragglers(&with_states, &w).unwrap();
        assert!((s.work_share.unwrap() - 7.0 / 11.0).abs() < 1e-9, "{s:?}");
        let (mut even, w) = (even, w);
        for t in &mut even.processes[0].threads {
            t.states = "R".repeat(11);
        }
        assert_eq!(stragglers(&even, &w).unwrap().work_share, Some(0.0));
    }

    #[test]
    fn a_worker_that_waited_longer_for_a_cpu_before_the_tail_did_no_more_work() {
        // The same eight ticks of work each: worker 1 had its core to itself, worker 2 was
        // queued behind a neighbour at two ticks and so ended two ticks later, alone. A tail in
        // time with a core idle beside it, but no more work.
        let mut one = worker(1, [vec![1.0; 8], vec![0.0; 3]].concat());
        one.states = format!("{}SSS", "R".repeat(8));
        let mut two = worker(2, [vec![0.6; 5], vec![1.0; 5], vec![0.0]].concat());
        two.states = "RQRQRRRRRRS".into();
        let (data, w) = data_with(vec![one, two], 11);
        let s = stragglers(&data, &w).unwrap();
        assert!((s.tail_share - 2.0 / 9.0).abs() < 1e-9, "{s:?}");
        assert!(s.idle_cores.unwrap() > 0.5, "{s:?}");
        assert!(s.work_share.unwrap() < 1e-6, "{s:?}");
    }

    #[test]
    fn threads_taking_turns_on_the_gil_leave_no_core_idle_in_their_tail() {
        // Two threads sharing one core (half each) until worker 2 is done at tick 5; worker 1
        // then has the core to itself: a tail in time, but the workers used one core in both.
        let mut one = vec![0.5; 6];
        one.extend(vec![1.0; 5]);
        let mut two = vec![0.5; 6];
        two.extend(vec![0.0; 5]);
        let (data, w) = data_with(vec![worker(1, one), worker(2, two)], 11);
        let s = stragglers(&data, &w).unwrap();
        assert!(s.tail_share > 0.4, "{s:?}");
        assert!(s.idle_cores.unwrap() < 0.01, "{s:?}");
    }

    #[test]
    fn a_worker_waiting_most_of_every_bin_is_in_its_steady_state_throughout() {
        // Switch-record bins carry their majority state: on a CPU at its start, then 'S' in
        // every bin though it works a little in each (a client waiting on a socket).
        let mut t = worker(1, vec![0.02; 11]);
        t.busy[0] = 0.9;
        t.states = format!("R{}", "S".repeat(10));
        t.on_cpu_s = t.busy.iter().map(|&b| f64::from(b) * 0.1).sum();
        (t.first_seen_s, t.last_seen_s) = (0.0, 1.0);
        let (data, w) = data_with(vec![t], 11);
        let s = steady_state(&data, &w, &PoolClues::default()).unwrap();
        assert!(s.share_of_life > 0.9, "{s:?}");
        assert!(s.on_cpu_share < 0.2, "{s:?}");
    }

    /// Two slots of task processes living (from, to) seconds, on a 0.1 s timeline to 1.2 s.
    fn slots(lives: &[(f64, f64)]) -> (SamplerData, Workers) {
        let processes: Vec<ProcessRecord> = lives
            .iter()
            .zip(10..)
            .map(|(&(a, b), pid)| ProcessRecord {
                pid,
                first_seen_s: a,
                last_seen_s: b,
                ..Default::default()
            })
            .collect();
        let w = Workers {
            layout: Layout::Tasks,
            count: 2,
            cpu_s: lives.iter().map(|(a, b)| b - a).collect(),
            pids: processes.iter().map(|p| p.pid).collect(),
            tids: processes.iter().map(|p| p.pid).collect(),
            other_processes: 1,
            task_s: lives.iter().map(|(a, b)| b - a).collect(),
        };
        let data = SamplerData {
            timeline: timeline(13, &[2.0]),
            processes,
            ..Default::default()
        };
        (data, w)
    }

    #[test]
    fn slots_idle_at_a_wait_count_and_the_last_round_does_not() {
        // Batches of (0.4 s, 0.1 s) ended by `wait`: the short task's slot idles in each batch.
        // An interval counts by the tasks alive at its end, so two of each batch's four count,
        // in the two batches with a batch still to start (the last batch's are its spread).
        let batches = [
            (0.0, 0.4),
            (0.0, 0.1),
            (0.4, 0.8),
            (0.4, 0.5),
            (0.8, 1.2),
            (0.8, 0.9),
        ];
        let (data, w) = slots(&batches);
        let s = stragglers(&data, &w).unwrap();
        assert!((s.tail_share - 0.4 / 1.2).abs() < 1e-9, "{s:?}");
        // Slots refilled at once (xargs -P 2), the last task alone at the end: no idle slot
        // while anything was left to start.
        let refilled = [(0.0, 0.3), (0.0, 0.6), (0.3, 0.9), (0.6, 0.9), (0.9, 1.2)];
        let (data, w) = slots(&refilled);
        assert_eq!(stragglers(&data, &w).unwrap().tail_share, 0.0);
    }

    #[test]
    fn saturation_counts_ticks_with_every_core_busy() {
        let data = SamplerData {
            timeline: timeline(5, &[2.0, 1.0]),
            ..Default::default()
        };
        let s = saturation(&data, 2).unwrap();
        // ticks after the first: 1.0, 2.0, 1.0, 2.0
        assert_eq!(s.all_cores_busy_share, 0.5);
        assert_eq!(s.idle_while_waiting_share, 0.5);
        assert_eq!(s.mean_busy_cores, 1.5);
        assert!(saturation(&SamplerData::default(), 2).is_none());
    }
}
