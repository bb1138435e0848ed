//! trace.json in the Chrome Trace Event format (Perfetto, chrome://tracing): a track per process
//! and thread of the tree with its sampled states as spans, and busy cores as a counter track.
//!
//! A span covers the tick intervals in which the sampler found the thread in one state; a tick's
//! state stands for the interval that ends at it, like its CPU figures. The sampler counts, per
//! thread, the ticks it found the thread blocked on each resource, not which tick was which: a
//! thread that only ever waited on one resource gets "blocked on" that resource, one that waited on
//! several gets "blocked" with the tick counts per resource in the span's args.

use super::pick::{describe, largest_point, typical_run, Picked};
use crate::analyze::Analysis;
use crate::measure::{Measurements, ThreadRecord};
use serde::Serialize;
use serde_json::{json, Value};

/// Which points trace.json covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TraceScope {
    /// The largest worker count of the best series (its typical run).
    #[default]
    Largest,
    /// Every point (its typical run), one after another on the time axis.
    All,
    /// No trace.json.
    None,
}

/// Pids of a point are shifted by this times its position in an all-points trace, so processes
/// of different points never share a track (Linux pids stay below 2^22).
const PID_STRIDE: i64 = 10_000_000;
/// The counter tracks' process, above any real pid.
const SAMPLER_PID: i64 = PID_STRIDE - 1;
/// Seconds between two points laid end to end in an all-points trace.
const GAP_S: f64 = 0.5;

#[derive(Serialize)]
struct Trace {
    #[serde(rename = "traceEvents")]
    events: Vec<Value>,
    #[serde(rename = "displayTimeUnit")]
    display_time_unit: &'static str,
    #[serde(rename = "otherData")]
    other: Value,
}

/// The trace as bytes; None when there is nothing to trace.
pub fn trace_json(
    m: &Measurements,
    a: &Analysis,
    scope: TraceScope,
) -> anyhow::Result<Option<Vec<u8>>> {
    let points: Vec<usize> = match scope {
        TraceScope::None => return Ok(None),
        TraceScope::Largest => largest_point(m, a).into_iter().collect(),
        TraceScope::All => (0..m.points.len()).collect(),
    };
    let picked: Vec<Picked> = points
        .into_iter()
        .filter_map(|p| typical_run(m, a, p))
        .collect();
    if picked.is_empty() {
        return Ok(None);
    }
    let mut events = Vec::new();
    let mut shown = Vec::new();
    let mut start_s = 0.0;
    for (k, p) in picked.iter().enumerate() {
        let offset = PID_STRIDE * k as i64;
        point_events(m, p, offset, start_s, &mut events);
        shown.push(json!({
            "point": describe(m, p),
            "point_index": p.point,
            "run_index": p.run,
            "pid_offset": offset,
            "start_s": start_s,
            "ticks": p.data.timeline.len(),
        }));
        start_s += p.data.timeline.last().map_or(0.0, |t| t.t_s) + GAP_S;
    }
    let trace = Trace {
        events,
        display_time_unit: "ms",
        other: json!({
            "tool": format!("forkcast {}", env!("CARGO_PKG_VERSION")),
            "command": m.command,
            "points": shown,
            "note": "States are sampled by the procfs sampler: a span is one or more tick intervals in one state.",
        }),
    };
    Ok(Some(serde_json::to_vec(&trace)?))
}

/// Microseconds on the trace's clock.
fn us(t_s: f64) -> f64 {
    (t_s * 1e6).round()
}

fn point_events(m: &Measurements, p: &Picked, offset: i64, start_s: f64, out: &mut Vec<Value>) {
    let tl = &p.data.timeline;
    let sampler = offset + SAMPLER_PID;
    let title = describe(m, p);
    out.push(meta(
        "process_name",
        sampler,
        None,
        &format!("{title}: whole tree"),
    ));
    out.push(json!({"ph": "M", "name": "process_sort_index", "pid": sampler, "args": {"sort_index": offset}}));
    for k in 1..tl.len() {
        let ts = us(start_s + tl[k - 1].t_s);
        out.push(
            json!({"ph": "C", "name": "busy cores", "pid": sampler, "ts": ts,
                        "args": {"cores": tl[k].on_cpu_cores}}),
        );
        out.push(
            json!({"ph": "C", "name": "threads in a run queue", "pid": sampler, "ts": ts,
                        "args": {"threads": tl[k].runqueue_threads}}),
        );
    }
    if let Some(last) = tl.last() {
        // Counters hold until the next sample: close them at the run's last tick.
        let ts = us(start_s + last.t_s);
        out.push(json!({"ph": "C", "name": "busy cores", "pid": sampler, "ts": ts, "args": {"cores": 0}}));
        out.push(json!({"ph": "C", "name": "threads in a run queue", "pid": sampler, "ts": ts, "args": {"threads": 0}}));
    }
    let workers = p.workers.as_ref();
    for (order, proc) in p.data.processes.iter().enumerate() {
        let pid = offset + i64::from(proc.pid);
        let is_worker = workers.is_some_and(|w| w.pids.contains(&proc.pid));
        let role = if is_worker { "worker" } else { "process" };
        out.push(meta(
            "process_name",
            pid,
            None,
            &format!("{role} {} ({})", proc.pid, proc.comm),
        ));
        out.push(json!({"ph": "M", "name": "process_sort_index", "pid": pid,
                        "args": {"sort_index": offset + 1 + order as i64}}));
        for t in &proc.threads {
            let tid = offset + i64::from(t.tid);
            out.push(meta(
                "thread_name",
                pid,
                Some(tid),
                &format!("{} {}", t.comm, t.tid),
            ));
            for s in spans(t) {
                let (from, to) = (s.first_tick.saturating_sub(1), s.last_tick);
                let (Some(a), Some(b)) = (tl.get(from), tl.get(to)) else {
                    continue;
                };
                out.push(json!({
                    "ph": "X", "cat": "state", "name": s.name, "pid": pid, "tid": tid,
                    "ts": us(start_s + a.t_s), "dur": us(b.t_s - a.t_s),
                    "args": s.args,
                }));
            }
        }
    }
}

fn meta(name: &str, pid: i64, tid: Option<i64>, label: &str) -> Value {
    let mut v = json!({"ph": "M", "name": name, "pid": pid, "args": {"name": label}});
    if let Some(tid) = tid {
        v["tid"] = json!(tid);
    }
    v
}

/// A run of consecutive ticks in one state, on the run's timeline indices (inclusive).
#[derive(Debug, PartialEq)]
pub struct Span {
    pub state: char,
    pub first_tick: usize,
    pub last_tick: usize,
    pub name: String,
    pub args: Value,
}

/// Merges a thread's per-tick states into spans. Ticks in an unknown state ('?') and the
/// baseline tick 0 (no interval before it) give no span.
pub fn spans(t: &ThreadRecord) -> Vec<Span> {
    let first = t.first_tick as usize;
    let states: Vec<char> = t.states.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < states.len() {
        let state = states[i];
        let mut j = i;
        while j + 1 < states.len() && states[j + 1] == state {
            j += 1;
        }
        let (a, b) = (first + i, first + j);
        if state != '?' && b >= 1 {
            let a = a.max(1);
            let cpu_s: f64 = (a - first..=b - first)
                .filter_map(|k| t.busy.get(k))
                .map(|&x| f64::from(x))
                .sum();
            let (name, mut args) = describe_state(state, t);
            args["ticks"] = json!(b - a + 1);
            args["mean_busy_cores"] = json!(cpu_s / (b - a + 1) as f64);
            out.push(Span {
                state,
                first_tick: a,
                last_tick: b,
                name,
                args,
            });
        }
        i = j + 1;
    }
    out
}

fn describe_state(state: char, t: &ThreadRecord) -> (String, Value) {
    let args = json!({"state": state.to_string()});
    match state {
        'R' => ("running".into(), args),
        'Q' => ("run queue (waiting for a CPU)".into(), args),
        'S' | 'D' => {
            let mut args = args;
            let total: u32 = t.waits.iter().map(|w| w.ticks).sum();
            let waits: Vec<Value> = t
                .waits
                .iter()
                .map(|w| json!({"resource": w.resource, "syscall": w.syscall, "ticks": w.ticks}))
                .collect();
            args["thread_waits"] = Value::Array(waits);
            let kind = if state == 'D' {
                " (uninterruptible)"
            } else {
                ""
            };
            let name = match t.waits.as_slice() {
                [only] => format!("blocked on {}{kind}", only.resource),
                [] => format!("blocked{kind}"),
                several => {
                    let top = several
                        .iter()
                        .max_by_key(|w| w.ticks)
                        .map_or("", |w| w.resource.as_str());
                    let share = several.iter().map(|w| w.ticks).max().unwrap_or(0) as f64
                        / f64::from(total.max(1));
                    format!(
                        "blocked{kind}: mostly {top} ({:.0} % of its blocked ticks)",
                        share * 100.0
                    )
                }
            };
            (name, args)
        }
        'T' | 't' => ("stopped".into(), args),
        'Z' | 'X' => ("exited".into(), args),
        _ => (format!("state {state}"), args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{ResourceKind, WaitCount};

    fn thread(first_tick: u32, states: &str, waits: Vec<WaitCount>) -> ThreadRecord {
        ThreadRecord {
            tid: 7,
            first_tick,
            busy: states
                .chars()
                .map(|c| if c == 'R' { 1.0 } else { 0.0 })
                .collect(),
            states: states.into(),
            waits,
            ..Default::default()
        }
    }

    #[test]
    fn consecutive_ticks_in_one_state_merge_into_one_span() {
        let t = thread(2, "RRRQQSR", vec![]);
        let got: Vec<(char, usize, usize)> = spans(&t)
            .iter()
            .map(|s| (s.state, s.first_tick, s.last_tick))
            .collect();
        assert_eq!(
            got,
            vec![('R', 2, 4), ('Q', 5, 6), ('S', 7, 7), ('R', 8, 8)]
        );
    }

    #[test]
    fn spans_cover_every_known_tick_once_and_skip_the_baseline() {
        let t = thread(0, "RR?SSR", vec![]);
        let s = spans(&t);
        let covered: usize = s.iter().map(|s| s.last_tick - s.first_tick + 1).sum();
        // Tick 0 has no interval before it, tick 2 is unknown: 4 of 6 ticks.
        assert_eq!(covered, 4);
        assert_eq!(s[0].first_tick, 1);
        assert_eq!(s[0].args["mean_busy_cores"], json!(1.0));
    }

    #[test]
    fn a_thread_with_one_wait_resource_is_blocked_on_it() {
        let w = WaitCount {
            resource: "tcp:127.0.0.1:5432".into(),
            kind: ResourceKind::Tcp,
            plumbing: false,
            service: None,
            syscall: "recvfrom".into(),
            ticks: 3,
            blocked_s: 0.03,
        };
        let t = thread(1, "SSS", vec![w.clone()]);
        assert_eq!(spans(&t)[0].name, "blocked on tcp:127.0.0.1:5432");
        let mut futex = w;
        futex.resource = "futex".into();
        futex.ticks = 1;
        let t = thread(1, "SSS", vec![t.waits[0].clone(), futex]);
        assert_eq!(
            spans(&t)[0].name,
            "blocked: mostly tcp:127.0.0.1:5432 (75 % of its blocked ticks)"
        );
    }
}
