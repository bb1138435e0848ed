//! How a shared sink's cost grew from the smallest worker count to the largest, read from the
//! accounting: its lost cores (`sink:<name>`) per useful core, at each count, and the ratio of
//! the two with its interval over the runs; and what the added waits cost in speedup. Pure
//! arithmetic on two point summaries; the diagnosis's shared_sink judges whether that is
//! contention.
//!
//! Per useful core, because a sink that serves every worker at once costs each task the same
//! wait however many run: its lost cores then grow with the useful ones (n times the work in
//! 1/n of the wall), and only the wait per second of work stays put. Waits that queue behind
//! other workers grow per second of work. It is per second of *useful CPU*, not of a worker's
//! life, because when the sink's server shares the cores, CPU contention stretches every
//! worker's life and hides a wait that grew per task.

use super::accounting::Accounting;
use super::point::PointSummary;
use super::stats::ratio_of_nonnegative_means;
use super::waits::Sink;

/// One sink's cost at the smallest and the largest count.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkGrowth {
    /// Its cause in the accounting: `sink:` and what it is (`sink:postgresql`), so a database
    /// in a fresh folder per run is one cause at every count.
    pub cause: String,
    /// Its lost cores at the smallest and at the largest count (the means over the runs).
    pub lost_cores_before: f64,
    pub lost_cores: f64,
    /// Its lost cores over n at the largest count: the share of the worker slots' time.
    pub share: f64,
    /// Its seconds per second of useful CPU at each count (the mean of the runs' values); None
    /// where no run did useful work.
    pub per_cpu_s_before: Option<f64>,
    pub per_cpu_s: Option<f64>,
    /// `per_cpu_s / per_cpu_s_before`, the ratio of the runs' means. None when the smallest
    /// count lost nothing to it: then it grew from nothing.
    pub growth: Option<f64>,
    /// Fieller's 90 % interval of `growth`, where each count has two runs or more.
    pub growth_interval: Option<(f64, f64)>,
    /// Runs the growth rests on: the fewer of the two counts'.
    pub runs: usize,
    /// (speedup without the added waits, speedup measured), where waits were added.
    pub cost: Option<(f64, f64)>,
}

/// `sink` is the largest count's (`hi`, at `n_hi` workers) top shared sink; `lo` the smallest
/// count's summary. None without the largest count's accounting.
pub fn sink_growth(
    (n_lo, lo): (u32, &PointSummary),
    (n_hi, hi): (u32, &PointSummary),
    sink: &Sink,
) -> Option<SinkGrowth> {
    let cause = format!("sink:{}", sink.kind);
    let acc_hi = hi.accounting.as_ref()?;
    let acc_lo = lo.accounting.as_ref();
    let lost = |a: &Accounting| a.lost(&cause);
    let (runs_lo, runs_hi) = (
        acc_lo
            .map(|a| a.per_useful_core(&cause))
            .unwrap_or_default(),
        acc_hi.per_useful_core(&cause),
    );
    let mean = |xs: &[f64]| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
    let (w_lo, w_hi) = (mean(&runs_lo), mean(&runs_hi));
    let growth = match (w_lo, w_hi) {
        (Some(a), Some(b)) if a > 0.0 => Some(b / a),
        _ => None,
    };
    let growth_interval = growth
        .and_then(|_| ratio_of_nonnegative_means(&runs_hi, &runs_lo))
        .map(|r| (r.low, r.high));
    // What the growth cost: the seconds added per useful CPU second since the smallest count,
    // on the largest count's useful cores, are cores the same work would not have lost; their
    // share of the slots' time is the share by which the work would end sooner without them
    // (kept under the whole, so the estimate stays finite).
    let useful = acc_hi.useful_cores.value;
    let added = match (w_lo, w_hi) {
        (Some(a), Some(b)) if b > a && n_hi > 0 => ((b - a) * useful / f64::from(n_hi)).min(0.99),
        _ => 0.0,
    };
    let cost = hi
        .speedup
        .filter(|_| n_hi > n_lo && added > 0.0)
        .map(|sp| (sp / (1.0 - added), sp));
    Some(SinkGrowth {
        lost_cores_before: acc_lo.map_or(0.0, lost),
        lost_cores: lost(acc_hi),
        share: lost(acc_hi) / f64::from(n_hi.max(1)),
        per_cpu_s_before: w_lo,
        per_cpu_s: w_hi,
        growth,
        growth_interval,
        runs: runs_lo.len().min(runs_hi.len()),
        cost,
        cause,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::accounting::Figure;

    /// A point whose runs each lost `sink` cores to a PostgreSQL sink beside `useful` cores.
    fn waiting(n: u32, runs: &[(f64, f64)], speedup: f64) -> PointSummary {
        let mean = |f: fn(&(f64, f64)) -> f64| {
            let v = runs.iter().map(f).sum::<f64>() / runs.len() as f64;
            Figure {
                value: v,
                low: v,
                high: v,
            }
        };
        PointSummary {
            speedup: Some(speedup),
            accounting: Some(Accounting {
                workers: n,
                lost_cores: [("sink:postgresql".to_string(), mean(|r| r.0))]
                    .into_iter()
                    .collect(),
                useful_cores: mean(|r| r.1),
                computation_scaling: None,
                baseline_efficiency: None,
                speedup: None,
                runs: runs.len() as u32,
                sources: vec![],
                per_run: vec![],
                per_run_cores: runs
                    .iter()
                    .map(|&(s, u)| {
                        [
                            ("sink:postgresql".to_string(), s),
                            ("useful".to_string(), u),
                        ]
                        .into_iter()
                        .collect()
                    })
                    .collect(),
            }),
            ..Default::default()
        }
    }

    fn postgres() -> Sink {
        Sink {
            resource: "tcp:10.0.0.5:5432".into(),
            kind: "postgresql".parse().unwrap(),
            ..Default::default()
        }
    }

    #[test]
    fn a_wait_that_grows_per_useful_core_costs_its_share_of_the_speedup() {
        // 0.09 cores lost beside 0.9 useful at 1 worker (0.1 s per CPU second); 0.8 beside 1.0
        // at 2 (0.8 s per CPU second): 8 times as much per second of work.
        let (lo, hi) = (
            waiting(1, &[(0.09, 0.9)], 1.0),
            waiting(2, &[(0.8, 1.0)], 1.2),
        );
        let g = sink_growth((1, &lo), (2, &hi), &postgres()).unwrap();
        assert_eq!(g.cause, "sink:postgresql");
        assert_eq!(
            (g.lost_cores_before, g.lost_cores, g.share),
            (0.09, 0.8, 0.4)
        );
        let (a, b) = (g.per_cpu_s_before.unwrap(), g.per_cpu_s.unwrap());
        assert!((a - 0.1).abs() < 1e-9 && (b - 0.8).abs() < 1e-9, "{g:?}");
        assert!((g.growth.unwrap() - 8.0).abs() < 1e-9, "{g:?}");
        assert_eq!(g.growth_interval, None, "one run a count: no interval");
        // 0.7 s added per CPU second on 1 useful core of 2 slots: 35 % of the time.
        let (without, with) = g.cost.unwrap();
        assert_eq!(with, 1.2);
        assert!((without - 1.2 / 0.65).abs() < 1e-9, "{without}");
        // One count only: no cost.
        assert_eq!(
            sink_growth((2, &hi), (2, &hi), &postgres()).unwrap().cost,
            None
        );
    }

    #[test]
    fn a_sink_that_serves_workers_side_by_side_loses_more_cores_but_not_more_per_useful_core() {
        // Three runs at each count: twice the cores lost at 2 workers, on twice the work.
        let lo = waiting(1, &[(0.30, 0.60), (0.33, 0.60), (0.27, 0.60)], 1.0);
        let hi = waiting(2, &[(0.60, 1.20), (0.66, 1.20), (0.54, 1.20)], 1.9);
        let g = sink_growth((1, &lo), (2, &hi), &postgres()).unwrap();
        // The ratio of the means of 0.5, 0.55, 0.45 (both counts): 1, with Fieller's interval
        // from ratio_of_means around it (the stats tests check its arithmetic).
        assert!((g.growth.unwrap() - 1.0).abs() < 1e-9, "{g:?}");
        let r =
            crate::analyze::stats::ratio_of_means(&[0.5, 0.55, 0.45], &[0.5, 0.55, 0.45]).unwrap();
        let (low, high) = g.growth_interval.unwrap();
        assert!(
            (low - r.low).abs() < 1e-12 && (high - r.high).abs() < 1e-12,
            "{g:?}"
        );
        assert!(r.low < 1.0 && r.high > 1.0, "{r:?}");
        assert_eq!(g.cost, None);
    }

    #[test]
    fn a_sink_the_smallest_count_never_waited_on_grew_from_nothing() {
        let lo = PointSummary {
            accounting: waiting(1, &[(0.0, 0.9)], 1.0).accounting.map(|mut a| {
                a.lost_cores.clear();
                a.per_run_cores[0].remove("sink:postgresql");
                a
            }),
            ..Default::default()
        };
        let hi = waiting(2, &[(0.5, 1.2)], 1.5);
        let g = sink_growth((1, &lo), (2, &hi), &postgres()).unwrap();
        assert_eq!((g.lost_cores_before, g.per_cpu_s_before), (0.0, Some(0.0)));
        assert_eq!(g.growth, None);
        // Without the largest count's accounting there is nothing to read.
        assert_eq!(
            sink_growth((1, &lo), (2, &PointSummary::default()), &postgres()),
            None
        );
    }
}
