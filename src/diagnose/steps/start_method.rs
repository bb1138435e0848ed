//! fork, spawn or forkserver? From the python probe's pools: the method each pool used, the
//! workers' start-up, the threads alive in the parent when it started them, PSS per worker; and
//! where a parameter changed the method, the methods' wall times side by side.
//!
//! The physics: fork copies the parent (its imported modules included) copy-on-write, so a
//! worker starts in milliseconds, but the child gets a snapshot of every lock the parent's other
//! threads held at that instant, so fork is only safe from a single-threaded parent. spawn starts
//! a fresh interpreter that re-imports the main module's imports in every worker. forkserver
//! forks each worker from a single-threaded server that imports the preloaded modules once.

use crate::analyze::point::PointSummary;
use crate::analyze::select::series_points;
use crate::analyze::Analysis;
use crate::diagnose::deciding::Deciding;
use crate::diagnose::read;
use crate::diagnose::step::{round, Measured, Step, Words};
use crate::diagnose::step::{Answer, StepId};
use crate::diagnose::thresholds::FORK_SAFE_THREADS;
use crate::diagnose::verdict::StartMethod;
use crate::measure::Measurements;

const QUESTION: &str = "Is fork safe and cheapest here (fork, spawn or forkserver)?";

/// What one start method measured, at the largest worker count every method reached.
#[derive(Debug, Clone)]
pub struct MethodRun {
    pub method: StartMethod,
    pub workers: u32,
    /// Median worker start-up, in ms to one decimal (as report.json gives it).
    pub startup_ms: Option<f64>,
    /// Cores lost to the workers' start-up (the accounting's `startup`: each worker's start
    /// to its first task, every worker counted, the slowest included), to three decimals.
    pub startup_cores: Option<f64>,
    pub pss_bytes_per_worker: Option<f64>,
    pub wall_s: Option<f64>,
    pub wall_min_s: Option<f64>,
    pub wall_max_s: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Pools {
    /// The most threads alive in the parent when it started workers.
    pub threads_at_start: Option<u64>,
    /// One per method a series measured, sorted by name.
    pub methods: Vec<MethodRun>,
    /// Start-up's share of the workers' lives, at the last pooled point.
    pub startup_share: Option<f64>,
}

/// None when no Python process pool was seen.
pub fn figures(m: &Measurements, a: &Analysis) -> Option<Pools> {
    let pooled: Vec<&PointSummary> = a
        .points
        .iter()
        .filter(|s| read::start_method(s).is_some())
        .collect();
    if pooled.is_empty() {
        return None;
    }
    Some(Pools {
        threads_at_start: pooled
            .iter()
            .filter_map(|s| s.pools.as_ref()?.max_threads_at_start)
            .max(),
        methods: by_method(m, a),
        startup_share: pooled
            .iter()
            .rev()
            .find_map(|s| s.pools.as_ref()?.startup_share),
    })
}

fn startup_ms(s: &PointSummary) -> Option<f64> {
    s.pools
        .as_ref()?
        .worker_startup
        .as_ref()
        .map(|w| round(w.median_s * 1e3, 1))
}

/// One entry per start method a series measured, each at the largest worker count all of
/// them reached (so the methods are compared on the same work).
fn by_method(m: &Measurements, a: &Analysis) -> Vec<MethodRun> {
    let mut per_series: Vec<(StartMethod, Vec<(u32, &PointSummary)>)> = Vec::new();
    for series in &a.series {
        let pts: Vec<(u32, &PointSummary)> = series_points(m, a, series)
            .into_iter()
            .filter(|(_, s)| s.wall_s.is_some())
            .collect();
        let method = pts.iter().find_map(|(_, s)| read::start_method(s));
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
    let mut out: Vec<MethodRun> = per_series
        .into_iter()
        .filter_map(|(method, pts)| {
            let (workers, s) = match common {
                Some(n) => pts.into_iter().find(|(w, _)| *w == n)?,
                None => pts.into_iter().last()?,
            };
            Some(MethodRun {
                method,
                workers,
                startup_ms: startup_ms(s),
                startup_cores: s
                    .accounting
                    .as_ref()
                    .and_then(|a| a.lost_cores.get("startup"))
                    .map(|f| round(f.value, 3)),
                pss_bytes_per_worker: s.pss_bytes_per_worker,
                wall_s: s.wall_s,
                wall_min_s: s.wall_min_s,
                wall_max_s: s.wall_max_s,
            })
        })
        .collect();
    out.sort_by_key(|x| x.method.name());
    out
}

/// The methods' runs side by side.
#[derive(Debug, Clone, Copy)]
pub struct Compared {
    /// Index into `Pools::methods` of the fastest safe method.
    pub fastest: usize,
    /// More than one safe method within the noise of the fastest.
    pub tied: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub answer: Answer,
    pub choice: Option<StartMethod>,
    pub fork_safe: bool,
    /// Set when two or more methods were measured.
    pub compared: Option<Compared>,
}

impl Pools {
    /// The figure that decided, where no methods were compared: the parent's threads at the
    /// start against fork's bar. Compared methods are judged on their runs' overlap already.
    pub fn deciding(&self, d: &Decision) -> Option<Deciding> {
        let threads = self.threads_at_start?;
        d.compared
            .is_none()
            .then(|| Deciding::below("threads_at_start", threads as f64, FORK_SAFE_THREADS.value))
    }
}

pub fn decide(f: Option<&Pools>) -> Decision {
    let unknown = Decision {
        answer: Answer::Unknown,
        choice: None,
        fork_safe: false,
        compared: None,
    };
    let Some(threads) = f.and_then(|p| p.threads_at_start) else {
        return unknown;
    };
    let methods = f.map_or(&[][..], |p| &p.methods[..]);
    let fork_safe = threads as f64 <= FORK_SAFE_THREADS.value;
    let default = if fork_safe {
        StartMethod::Fork
    } else {
        StartMethod::Forkserver
    };
    let (choice, compared) = if methods.len() >= 2 {
        match compare(methods, fork_safe) {
            Some((best, c)) => (best, Some(c)),
            None => (default, None),
        }
    } else {
        (default, None)
    };
    Decision {
        answer: if choice == StartMethod::Fork {
            Answer::Yes
        } else {
            Answer::No
        },
        choice: Some(choice),
        fork_safe,
        compared,
    }
}

/// The fastest safe method; a method whose runs overlap the fastest one's is within the noise,
/// and then the one that lost the fewest cores to its workers' start-up wins (the accounting's
/// `startup`, where every tied method has it, else the shorter median start-up; forkserver on
/// a tie). None when no safe method has a wall time.
fn compare(methods: &[MethodRun], fork_safe: bool) -> Option<(StartMethod, Compared)> {
    let safe: Vec<(usize, &MethodRun)> = methods
        .iter()
        .enumerate()
        .filter(|(_, x)| fork_safe || x.method != StartMethod::Fork)
        .filter(|(_, x)| x.wall_s.is_some())
        .collect();
    let wall = |x: &MethodRun| x.wall_s.unwrap_or(f64::INFINITY);
    let &(fastest_i, fastest) = safe.iter().min_by(|a, b| wall(a.1).total_cmp(&wall(b.1)))?;
    let overlaps = |x: &MethodRun| {
        x.wall_min_s.unwrap_or(wall(x)) <= fastest.wall_max_s.unwrap_or(wall(fastest))
    };
    let tied: Vec<&MethodRun> = safe
        .iter()
        .map(|(_, x)| *x)
        .filter(|x| overlaps(x))
        .collect();
    let by_cores = tied.iter().all(|x| x.startup_cores.is_some());
    let key = |x: &MethodRun| {
        (
            if by_cores {
                x.startup_cores
            } else {
                x.startup_ms
            }
            .unwrap_or(f64::INFINITY),
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
    Some((
        best,
        Compared {
            fastest: fastest_i,
            tied: tied.len() > 1,
        },
    ))
}

fn measured(f: Option<&Pools>, d: &Decision) -> Measured {
    let mut out = Measured::default();
    let Some(p) = f else {
        return out;
    };
    let mut names: Vec<&str> = p.methods.iter().map(|x| x.method.name()).collect();
    names.dedup();
    out.put("methods_measured", names);
    out.put_some("threads_at_start", p.threads_at_start);
    for x in &p.methods {
        let name = x.method.name();
        out.put_some(format!("{name}_worker_startup_ms"), x.startup_ms);
        out.put_some(format!("{name}_startup_cores"), x.startup_cores);
        out.put_some(
            format!("{name}_pss_mib_per_worker"),
            x.pss_bytes_per_worker.map(|pss| round(pss / 1048576.0, 1)),
        );
    }
    let Some(choice) = d.choice else {
        return out;
    };
    if p.methods.len() >= 2 {
        out.put("compared_at_workers", p.methods[0].workers);
        for x in &p.methods {
            out.put_some(
                format!("{}_wall_s", x.method.name()),
                x.wall_s.map(|w| round(w, 2)),
            );
        }
    }
    out.put_some("startup_share", p.startup_share.map(|s| round(s, 3)));
    out.put("recommended", choice.name());
    out
}

fn compared_text(p: &Pools, d: &Decision) -> String {
    let (Some(c), Some(best)) = (d.compared, d.choice) else {
        return String::new();
    };
    let walls = p
        .methods
        .iter()
        .filter_map(|x| x.wall_s.map(|w| format!("{} {w:.2} s", x.method.name())))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "Side by side at {} workers the runs took {walls}{}: {} is the fastest safe method{}.",
        p.methods[c.fastest].workers,
        if d.fork_safe {
            ""
        } else {
            " (fork left out as unsafe)"
        },
        best.name(),
        if c.tied {
            " (the others within the noise of it, so the least start-up decides: the cores \
             its workers lost to starting, where the accounting has them)"
        } else {
            ""
        }
    )
}

fn evidence(f: Option<&Pools>, d: &Decision) -> String {
    let Some(p) = f else {
        return "No Python process pool was seen (python probe): the start method is a question \
                for multiprocessing and concurrent.futures process pools."
            .into();
    };
    let Some(threads) = p.threads_at_start else {
        return "The pools' start method was seen, but not the threads alive in the parent when \
                it started workers, so fork's safety is unknown."
            .into();
    };
    let startups = p
        .methods
        .iter()
        .filter_map(|x| {
            x.startup_ms
                .map(|ms| format!("{ms:.1} ms with {}", x.method.name()))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let startup_text = if startups.is_empty() {
        String::new()
    } else {
        format!(" Workers took {startups} from Process.start() to their first task.")
    };
    let safety = if d.fork_safe {
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
    if p.methods.len() >= 2 {
        format!("{safety}{startup_text} {}", compared_text(p, d))
    } else {
        format!("{safety}{startup_text}")
    }
}

pub fn step(f: Option<&Pools>, d: &Decision) -> Step {
    let words = Words {
        threshold: format!(
            "fork when the parent has {FORK_SAFE_THREADS} thread when it starts workers (yes); \
             otherwise the safe method that measured fastest, forkserver by default (no)"
        ),
        evidence: evidence(f, d),
        source: "python probe (start method, Process.start() to first task, threads in the \
                 parent at start), procfs PSS, wall times per start method"
            .into(),
    };
    Step::new(
        StepId::StartMethod,
        QUESTION,
        d.answer,
        measured(f, d),
        words,
    )
}
