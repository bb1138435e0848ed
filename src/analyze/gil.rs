//! What the GIL figures and the accounting say about threads: the share of their task time the
//! process workers held the GIL, pooled over a series, and the speedup threads would reach with
//! that share serial; and, where threads ran, the share of their working time they lost to the
//! GIL and locks. Pure arithmetic on the point summaries; the diagnosis's threads_scale judges
//! it.

use super::accounting::Accounting;
use super::point::PointSummary;
use super::work::pipe_wait_share;

/// Share of their time in tasks the workers wanted a CPU: running, or runnable in a queue, over
/// their steady state (else their lives), less the waits on the pool's own pipes. Those fall
/// between tasks (a worker waiting for its next payload, or to hand back its result), where no
/// knock is counted, so they dilute nothing. Without the sampler, the wall time stands.
pub fn wanted_cpu_share(s: &PointSummary) -> f64 {
    let Some(wanted) = s
        .steady_on_cpu_share
        .or_else(|| Some(s.on_cpu_share? + s.runqueue_share.unwrap_or(0.0)))
        .filter(|w| *w > 0.0)
    else {
        return 1.0;
    };
    let pipes = pipe_wait_share(s) / s.steady_share_of_life.filter(|l| *l > 0.0).unwrap_or(1.0);
    let between = pipes.clamp(0.0, (1.0 - wanted).max(0.0));
    (wanted / (1.0 - between).max(f64::EPSILON)).min(1.0)
}

/// The GIL knocks of a series' points, pooled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PooledKnocks {
    pub knocks: u64,
    /// Knocks that found the GIL held, as counted over the tasks' wall time.
    pub held_raw: u64,
    /// Knocks that found it held, counted over the time the workers wanted a CPU.
    pub held: f64,
    /// How much more the runs' held shares spread than knocks drawn at random would (at least
    /// 1): Pearson's chi-square over the runs, over its degrees of freedom. A run's knocks are
    /// not independent of each other (one run's host, one run's phases), and the interval must
    /// cover the next run, not only more knocks of this one.
    pub dispersion: f64,
}

impl PooledKnocks {
    /// The share of the task time that held the GIL, over the time the workers wanted a CPU.
    pub fn held_share(&self) -> Option<f64> {
        (self.knocks > 0).then(|| self.held / self.knocks as f64)
    }

    /// The share as counted over the tasks' wall time.
    pub fn held_share_of_task_time(&self) -> Option<f64> {
        (self.knocks > 0).then(|| self.held_raw as f64 / self.knocks as f64)
    }

    /// The knocks worth as many independent ones: the count the share's interval rests on.
    pub fn effective_knocks(&self) -> f64 {
        self.knocks as f64 / self.dispersion
    }
}

/// Process workers do not share a GIL, so the share is the work's at every count: pool the
/// knocks of every point of the series. The knocks fall over the tasks' wall time, and a
/// worker waiting on a sink (an fsync, a lock, a reply) has let the GIL go: those knocks find
/// it free although the work holds it whenever it runs. Only a thread that runs (or is
/// runnable) can hold the GIL, so each point's held share is judged over the time its workers
/// wanted a CPU: held knocks / (knocks x that share), at most all of them.
pub fn pooled_knocks(pts: &[(u32, &PointSummary)]) -> PooledKnocks {
    let mut pooled = PooledKnocks {
        knocks: 0,
        held_raw: 0,
        held: 0.0,
        dispersion: 1.0,
    };
    // (knocks, held over the wanted time) of each run, for the dispersion.
    let mut runs: Vec<(f64, f64)> = Vec::new();
    for (_, s) in pts {
        let Some(p) = s.pools.as_ref() else { continue };
        let Some((k, h)) = p.gil_knocks.zip(p.gil_knocks_held) else {
            continue;
        };
        let wanted = wanted_cpu_share(s);
        pooled.knocks += k;
        pooled.held_raw += h;
        pooled.held += (h as f64 / wanted).min(k as f64);
        runs.extend(p.gil_knocks_by_run.iter().map(|r| {
            let k = r.knocks as f64;
            (k, (r.held as f64 / wanted).min(k))
        }));
    }
    pooled.dispersion = dispersion(&runs);
    pooled
}

/// Pearson's chi-square of (knocks, held) runs about their pooled share, over its degrees of
/// freedom, at least 1; 1 with fewer than two runs or a share of 0 or 1 (no spread to compare).
fn dispersion(runs: &[(f64, f64)]) -> f64 {
    let (k, h) = runs.iter().fold((0.0, 0.0), |(k, h), r| (k + r.0, h + r.1));
    let p = if k > 0.0 { h / k } else { 0.0 };
    if runs.len() < 2 || p <= 0.0 || p >= 1.0 {
        return 1.0;
    }
    let chi2: f64 = runs
        .iter()
        .filter(|(k, _)| *k > 0.0)
        .map(|(k, h)| (h - k * p).powi(2) / (k * p * (1.0 - p)))
        .sum();
    (chi2 / (runs.len() - 1) as f64).max(1.0)
}

/// Amdahl with the GIL-held share serial: S_threads(n) = 1 / (h + (1 - h) / n).
pub fn thread_speedup(held_share: f64, n: u32) -> f64 {
    1.0 / (held_share + (1.0 - held_share) / f64::from(n))
}

/// Where a threads point's worker-seconds went while the threads held tasks, from its
/// accounting: the cores that did work, and the cores that waited for the GIL or for another
/// lock instead (`gil` and `locks` are waits inside a thread's span of work).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Serialised {
    pub useful_cores: f64,
    pub gil_cores: f64,
    pub lock_cores: f64,
}

impl Serialised {
    /// Read from a point's accounting.
    pub fn of(acc: &Accounting) -> Serialised {
        let lost = |k: &str| acc.lost(k).max(0.0);
        Serialised {
            useful_cores: acc.useful_cores.value.max(0.0),
            gil_cores: lost("gil"),
            lock_cores: lost("locks"),
        }
    }

    /// The share of the time the threads would have computed (useful, plus their waits for the
    /// GIL and locks while holding a task) that they spent taking turns instead. The host's run
    /// queue, the driver's serial part, the idle tail (imbalance) and sink waits are left out:
    /// processes would pay every one of them too, so none says threads serialise. Amdahl with
    /// a GIL-held share h serial gives the same quantity, 1 - S(n) / n, which is how the GIL
    /// figure predicts it. None when the threads neither worked nor waited.
    pub fn share(&self) -> Option<f64> {
        let waited = self.gil_cores + self.lock_cores;
        let would_compute = self.useful_cores + waited;
        (would_compute > 0.0).then(|| (waited / would_compute).clamp(0.0, 1.0))
    }
}

/// The most any point's GIL knocker cost, as a share of the task time.
pub fn knocker_cost(pts: &[(u32, &PointSummary)]) -> Option<f64> {
    pts.iter()
        .filter_map(|(_, s)| s.pools.as_ref()?.gil_knocker_cost)
        .fold(None, |m: Option<f64>, c| Some(m.map_or(c, |m| m.max(c))))
}

/// Does any point run a free-threaded build with the GIL off?
pub fn free_threaded(pts: &[(u32, &PointSummary)]) -> bool {
    pts.iter()
        .any(|(_, s)| s.pools.as_ref().and_then(|p| p.gil_enabled) == Some(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::pools::PoolSummary;

    fn knocked(on_cpu: f64, knocks: u64, held: u64) -> PointSummary {
        PointSummary {
            steady_on_cpu_share: Some(on_cpu),
            pools: Some(PoolSummary {
                gil_knocks: Some(knocks),
                gil_knocks_held: Some(held),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn knocks_are_pooled_and_counted_over_the_time_the_workers_wanted_a_cpu() {
        // Half the time on a CPU, the GIL held in half the knocks: held whenever it runs.
        let (a, b) = (knocked(0.5, 100, 50), knocked(0.5, 100, 48));
        let k = pooled_knocks(&[(1, &a), (2, &b)]);
        assert_eq!((k.knocks, k.held_raw), (200, 98));
        assert_eq!(k.held_share_of_task_time(), Some(0.49));
        assert!((k.held_share().unwrap() - 0.98).abs() < 1e-9, "{k:?}");
        // Amdahl: all serial gives 1 at any n, none serial gives n.
        assert_eq!(thread_speedup(1.0, 4), 1.0);
        assert_eq!(thread_speedup(0.0, 4), 4.0);
        assert_eq!(
            k.dispersion, 1.0,
            "no runs recorded: the knocks' own spread"
        );
    }

    #[test]
    fn runs_that_spread_more_than_their_knocks_count_as_fewer_knocks() {
        let runs = |pairs: &[(u64, u64)]| {
            let mut s = knocked(1.0, 0, 0);
            let p = s.pools.as_mut().unwrap();
            p.gil_knocks_by_run = pairs
                .iter()
                .map(|&(knocks, held)| crate::analyze::pools::RunKnocks { knocks, held })
                .collect();
            p.gil_knocks = Some(pairs.iter().map(|r| r.0).sum());
            p.gil_knocks_held = Some(pairs.iter().map(|r| r.1).sum());
            s
        };
        // Three runs of 20 knocks at 0.1, 0.9 and 0.5: each (8^2 / 5) off a pooled 0.5, twice
        // over 2 degrees of freedom.
        let spread = runs(&[(20, 2), (20, 18), (20, 10)]);
        let k = pooled_knocks(&[(1, &spread)]);
        assert!((k.dispersion - 12.8).abs() < 1e-9, "{k:?}");
        assert!((k.effective_knocks() - 60.0 / 12.8).abs() < 1e-9);
        // Runs that agree as closely as their knocks allow keep every knock.
        let steady = runs(&[(40, 20), (40, 21), (40, 19)]);
        assert_eq!(pooled_knocks(&[(1, &steady)]).dispersion, 1.0);
    }

    #[test]
    fn the_serialised_share_is_the_gil_and_lock_waits_over_the_time_the_threads_would_compute() {
        // Two pure-Python threads taking turns: one core's work, one core waiting on the GIL.
        let turns = Serialised {
            useful_cores: 0.9,
            gil_cores: 0.9,
            lock_cores: 0.0,
        };
        assert_eq!(turns.share(), Some(0.5));
        // Amdahl says the same of work that holds the GIL always: 1 - S(2) / 2.
        assert_eq!(1.0 - thread_speedup(1.0, 2) / 2.0, 0.5);
        // Locks count as the GIL does; nothing worked or waited, nothing to say.
        let locks = Serialised {
            lock_cores: 0.2,
            gil_cores: 0.0,
            useful_cores: 1.8,
        };
        assert!((locks.share().unwrap() - 0.1).abs() < 1e-9);
        let idle = Serialised {
            useful_cores: 0.0,
            gil_cores: 0.0,
            lock_cores: 0.0,
        };
        assert_eq!(idle.share(), None);
    }
}
