//! fork, spawn or forkserver? From the python probe's pools: the method each pool used, the
//! workers' start-up, the threads alive in the parent when it started them, PSS per worker; and
//! where a parameter changed the method, the methods' wall times side by side.
//!
//! The physics: fork copies the parent (its imported modules included) copy-on-write, so a
//! worker starts in milliseconds, but the child gets a snapshot of every lock the parent's other
//! threads held at that instant, so fork is only safe from a single-threaded parent. spawn starts
//! a fresh interpreter that re-imports the main module's imports in every worker. forkserver
//! forks each worker from a single-threaded server that imports the preloaded modules once.

use super::{round, step};
use crate::analyze::point::PointSummary;
use crate::analyze::Analysis;
use crate::diagnose::thresholds::FORK_SAFE_THREADS;
use crate::diagnose::{Answer, StartMethod, Step};
use crate::measure::Measurements;
use serde_json::json;
use std::collections::BTreeMap;

/// What one start method measured, at the largest worker count every method reached.
struct Measured<'a> {
    method: StartMethod,
    workers: u32,
    summary: &'a PointSummary,
}

fn startup_ms(s: &PointSummary) -> Option<f64> {
    s.pools
        .as_ref()?
        .worker_startup
        .as_ref()
        .map(|w| round(w.median_s * 1e3, 1))
}

/// Is fork safe, and which start method? `Yes` recommends fork; `No` the safe method that
/// measured fastest (forkserver unless spawn measured faster).
pub fn start_method(m: &Measurements, a: &Analysis) -> (Step, Option<StartMethod>) {
    let mut st = step(
        "start_method",
        "Is fork safe and cheapest here (fork, spawn or forkserver)?",
        Answer::Unknown,
        BTreeMap::new(),
    );
    st.threshold = format!(
        "fork when the parent has {FORK_SAFE_THREADS} thread when it starts workers (yes); \
         otherwise the safe method that measured fastest, forkserver by default (no)"
    );
    st.source = "python probe (start method, Process.start() to first task, threads in the \
                 parent at start), procfs PSS, wall times per start method"
        .into();
    let pooled: Vec<(u32, &PointSummary, StartMethod)> = a
        .points
        .iter()
        .zip(&m.points)
        .filter_map(|(s, p)| {
            let method = s.pools.as_ref()?.start_method?;
            Some((p.workers, s, method))
        })
        .collect();
    if pooled.is_empty() {
        st.evidence = "No Python process pool was seen (python probe): the start method is a \
                       question for multiprocessing and concurrent.futures process pools."
            .into();
        return (st, None);
    }
    let threads = pooled
        .iter()
        .filter_map(|(_, s, _)| s.pools.as_ref()?.max_threads_at_start)
        .max();
    let per_method = by_method(m, a);
    let mut methods: Vec<&str> = per_method.iter().map(|x| x.method.name()).collect();
    methods.dedup();
    st.measured
        .insert("methods_measured".into(), json!(methods));
    if let Some(t) = threads {
        st.measured.insert("threads_at_start".into(), json!(t));
    }
    for x in &per_method {
        let name = x.method.name();
        if let Some(ms) = startup_ms(x.summary) {
            st.measured
                .insert(format!("{name}_worker_startup_ms"), json!(ms));
        }
        if let Some(pss) = x.summary.pss_bytes_per_worker {
            st.measured.insert(
                format!("{name}_pss_mib_per_worker"),
                json!(round(pss / 1048576.0, 1)),
            );
        }
    }
    let Some(threads) = threads else {
        st.evidence = "The pools' start method was seen, but not the threads alive in the \
                       parent when it started workers, so fork's safety is unknown."
            .into();
        return (st, None);
    };
    let fork_safe = threads <= FORK_SAFE_THREADS;
    let startups = per_method
        .iter()
        .filter_map(|x| {
            startup_ms(x.summary).map(|ms| format!("{ms:.1} ms with {}", x.method.name()))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let startup_text = if startups.is_empty() {
        String::new()
    } else {
        format!(" Workers took {startups} from Process.start() to their first task.")
    };
    let safety = if fork_safe {
        format!(
            "The parent had {threads} thread when it started workers, so fork is safe, and it \
             copies the parent's imported modules where spawn and forkserver import them again."
        )
    } else {
        format!(
            "The parent had {threads} threads alive when it started workers (native ones such \
             as a BLAS pool included): a forked child inherits their locks mid-use, so fork is \
             unsafe; forkserver forks each worker from a single-threaded server that imports the \
             preloaded modules once (set_forkserver_preload), where spawn imports them in every \
             worker."
        )
    };
    let choice = if per_method.len() >= 2 {
        let (choice, compared) = compare(&per_method, fork_safe);
        st.measured
            .insert("compared_at_workers".into(), json!(per_method[0].workers));
        for x in &per_method {
            if let Some(w) = x.summary.wall_s {
                st.measured
                    .insert(format!("{}_wall_s", x.method.name()), json!(round(w, 2)));
            }
        }
        st.evidence = format!("{safety}{startup_text} {compared}");
        choice
    } else {
        let choice = if fork_safe {
            StartMethod::Fork
        } else {
            StartMethod::Forkserver
        };
        st.evidence = format!("{safety}{startup_text}");
        choice
    };
    if let Some(share) = pooled
        .iter()
        .rev()
        .find_map(|(_, s, _)| s.pools.as_ref()?.startup_share)
    {
        st.measured
            .insert("startup_share".into(), json!(round(share, 3)));
    }
    st.measured
        .insert("recommended".into(), json!(choice.name()));
    st.answer = if choice == StartMethod::Fork {
        Answer::Yes
    } else {
        Answer::No
    };
    (st, Some(choice))
}

/// One entry per start method a series measured, each at the largest worker count all of
/// them reached (so the methods are compared on the same work).
fn by_method<'a>(m: &Measurements, a: &'a Analysis) -> Vec<Measured<'a>> {
    let mut per_series: Vec<(StartMethod, Vec<(u32, &'a PointSummary)>)> = Vec::new();
    for series in &a.series {
        let pts: Vec<(u32, &PointSummary)> = series
            .points
            .iter()
            .map(|&i| (m.points[i].workers, &a.points[i]))
            .filter(|(_, s)| s.wall_s.is_some())
            .collect();
        let method = pts.iter().find_map(|(_, s)| s.pools.as_ref()?.start_method);
        if let Some(method) = method {
            if !per_series.iter().any(|(m, _)| *m == method) {
                per_series.push((method, pts));
            }
        }
    }
    let common = per_series
        .iter()
        .map(|(_, pts)| pts.iter().map(|(n, _)| *n).collect::<Vec<_>>())
        .reduce(|a, b| a.into_iter().filter(|n| b.contains(n)).collect())
        .and_then(|ns| ns.into_iter().max());
    let mut out: Vec<Measured> = per_series
        .into_iter()
        .filter_map(|(method, pts)| {
            let (workers, summary) = match common {
                Some(n) => pts.into_iter().find(|(w, _)| *w == n)?,
                None => pts.into_iter().last()?,
            };
            Some(Measured {
                method,
                workers,
                summary,
            })
        })
        .collect();
    out.sort_by_key(|x| x.method.name());
    out
}

/// The fastest safe method; a method whose runs overlap the fastest one's is within the noise,
/// and then the one with the shorter worker start-up wins (forkserver on a tie).
fn compare(per_method: &[Measured], fork_safe: bool) -> (StartMethod, String) {
    let safe: Vec<&Measured> = per_method
        .iter()
        .filter(|x| fork_safe || x.method != StartMethod::Fork)
        .filter(|x| x.summary.wall_s.is_some())
        .collect();
    let wall = |x: &Measured| x.summary.wall_s.unwrap_or(f64::INFINITY);
    let Some(fastest) = safe.iter().min_by(|a, b| wall(a).total_cmp(&wall(b))) else {
        let fallback = if fork_safe {
            StartMethod::Fork
        } else {
            StartMethod::Forkserver
        };
        return (fallback, String::new());
    };
    let overlaps = |x: &Measured| {
        x.summary.wall_min_s.unwrap_or(wall(x))
            <= fastest.summary.wall_max_s.unwrap_or(wall(fastest))
    };
    let tied: Vec<&&Measured> = safe.iter().filter(|x| overlaps(x)).collect();
    let key = |x: &Measured| {
        (
            startup_ms(x.summary).unwrap_or(f64::INFINITY),
            // On equal start-up, forkserver before spawn: it imports once per server.
            u8::from(x.method != StartMethod::Forkserver),
        )
    };
    let best = tied
        .iter()
        .min_by(|a, b| {
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map_or(fastest.method, |x| x.method);
    let walls = per_method
        .iter()
        .filter_map(|x| {
            x.summary
                .wall_s
                .map(|w| format!("{} {w:.2} s", x.method.name()))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "Side by side at {} workers the runs took {walls}{}: {} is the fastest safe method{}.",
        fastest.workers,
        if fork_safe {
            ""
        } else {
            " (fork left out as unsafe)"
        },
        best.name(),
        if tied.len() > 1 {
            " (the others within the noise of it, so the shorter start-up decides)"
        } else {
            ""
        }
    );
    (best, text)
}
