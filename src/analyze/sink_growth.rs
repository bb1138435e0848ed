//! How a shared sink's wait changed from the smallest worker count to the largest, per second
//! of work, and what the added waits cost in speedup. Pure arithmetic on two point summaries;
//! the diagnosis's shared_sink judges whether that is contention.

use super::point::PointSummary;
use super::waits::Sink;

/// One sink's waits at the smallest and the largest count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinkGrowth {
    /// Its wait share at the smallest count.
    pub before: f64,
    /// Wait per second on a CPU at the smallest and at the largest count. Growth is judged per
    /// second of work done: when the sink's server shares the cores, CPU contention stretches
    /// every worker's life and hides a wait that grew per task.
    pub per_cpu_s_before: Option<f64>,
    pub per_cpu_s: Option<f64>,
    /// (speedup without the added waits, speedup measured), where waits were added.
    pub cost: Option<(f64, f64)>,
}

/// `sink` is the largest count's (`hi`, at `n_hi` workers) top shared sink; `lo` the smallest
/// count's summary.
pub fn sink_growth(
    (n_lo, lo): (u32, &PointSummary),
    (n_hi, hi): (u32, &PointSummary),
    sink: &Sink,
) -> SinkGrowth {
    // At the smallest count the same resource is usually waited on by the one worker alone.
    // The same resource by name; or, when each run made a fresh one (a database in a new
    // temporary folder), the largest of the same kind.
    let before = lo
        .external_waits
        .iter()
        .flatten()
        .find(|k| k.resource == sink.resource)
        .or_else(|| {
            lo.external_waits
                .iter()
                .flatten()
                .find(|k| k.kind == sink.kind)
        })
        .map(|k| k.wait_share)
        .or_else(|| {
            lo.offcpu_resources
                .as_ref()
                .and_then(|r| r.get(&sink.resource))
                .copied()
        })
        .unwrap_or(0.0);
    let per_work =
        |share: f64, s: &PointSummary| s.on_cpu_share.filter(|&c| c > 0.0).map(|c| share / c);
    let (w_lo, w_hi) = (per_work(before, lo), per_work(sink.wait_share, hi));
    // What the growth cost: the waits added per CPU second since the smallest count stretch
    // every worker's life by that much of its CPU time; without them the same work would end
    // sooner by that share (kept under the whole life, so the estimate stays finite).
    let added = match (w_lo, w_hi, hi.on_cpu_share) {
        (Some(a), Some(b), Some(on)) if b > a => ((b - a) * on).min(0.99),
        _ => 0.0,
    };
    let cost = hi
        .speedup
        .filter(|_| n_hi > n_lo && added > 0.0)
        .map(|sp| (sp / (1.0 - added), sp));
    SinkGrowth {
        before,
        per_cpu_s_before: w_lo,
        per_cpu_s: w_hi,
        cost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(on_cpu: f64, wait: f64, speedup: f64) -> PointSummary {
        PointSummary {
            on_cpu_share: Some(on_cpu),
            speedup: Some(speedup),
            external_waits: Some(vec![Sink {
                resource: "file:/data/results.db".into(),
                wait_share: wait,
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn a_wait_that_grows_per_cpu_second_costs_its_share_of_the_speedup() {
        let (lo, hi) = (waiting(0.9, 0.09, 1.0), waiting(0.5, 0.4, 1.2));
        let sink = hi.external_waits.as_ref().unwrap()[0].clone();
        let g = sink_growth((1, &lo), (2, &hi), &sink);
        assert_eq!(g.before, 0.09, "the same resource at the smallest count");
        let (a, b) = (g.per_cpu_s_before.unwrap(), g.per_cpu_s.unwrap());
        assert!((a - 0.1).abs() < 1e-9 && (b - 0.8).abs() < 1e-9, "{g:?}");
        // 0.7 s added per CPU second, on half the life: 35 % of it.
        let (without, with) = g.cost.unwrap();
        assert_eq!(with, 1.2);
        assert!((without - 1.2 / 0.65).abs() < 1e-9, "{without}");
        // One count only: no growth, no cost.
        assert_eq!(sink_growth((2, &hi), (2, &hi), &sink).cost, None);
    }
}
