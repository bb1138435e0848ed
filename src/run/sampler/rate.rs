//! The sampler's pace: the tick period (fixed when a rate was asked for, else adapted to the
//! sampler's own CPU cost) and the spacing of the slow per-process reads (PSS, io).
//!
//! Budget: the whole sampler should stay under ~2 % of one core, so that on a 2-core host it
//! costs the target about 1 % of the machine (users accept py-spy's ~2 %). The
//! per-tick sweep gets 1.5 % and the slow path (smaps_rollup costs ~1 ms for a 20 MB python)
//! 0.5 %; each part's cost is measured with CLOCK_THREAD_CPUTIME_ID and smoothed.

use std::time::Duration;

/// Fastest adaptive rate, in Hz (also the default for small trees).
pub(super) const MAX_HZ: f64 = 100.0;
/// Slowest adaptive rate, in Hz: below this the timeline stops being useful.
pub(super) const MIN_HZ: f64 = 2.0;
/// Share of one core the per-tick sweep may use.
const TICK_BUDGET: f64 = 0.015;
/// Share of one core the slow per-process reads may use.
const SLOW_BUDGET: f64 = 0.005;
/// Weight of the newest measurement in the moving averages.
const ALPHA: f64 = 0.2;

/// Decides when the next tick and the next slow read are due.
#[derive(Debug, Clone)]
pub(super) struct Pace {
    requested_hz: Option<f64>,
    pss_every_s: f64,
    /// Smoothed CPU per tick (sweep plus sleep/wake), in seconds.
    tick_cost_s: Option<f64>,
    /// Smoothed CPU per slow read of one process, in seconds.
    slow_cost_s: Option<f64>,
}

impl Pace {
    pub(super) fn new(requested_hz: Option<f64>, pss_every: Duration) -> Self {
        let requested_hz = requested_hz.filter(|hz| hz.is_finite() && *hz > 0.0);
        Pace {
            requested_hz,
            pss_every_s: pss_every.as_secs_f64().max(0.01),
            tick_cost_s: None,
            slow_cost_s: None,
        }
    }

    /// Feeds the CPU one tick cost, excluding slow reads.
    pub(super) fn tick_cost(&mut self, cpu: Duration) {
        self.tick_cost_s = Some(ewma(self.tick_cost_s, cpu.as_secs_f64()));
    }

    /// Feeds the CPU of `reads` slow per-process reads.
    pub(super) fn slow_cost(&mut self, cpu: Duration, reads: usize) {
        if reads > 0 {
            let each = cpu.as_secs_f64() / reads as f64;
            self.slow_cost_s = Some(ewma(self.slow_cost_s, each));
        }
    }

    /// Time between ticks.
    pub(super) fn period(&self) -> Duration {
        let s = match self.requested_hz {
            Some(hz) => 1.0 / hz,
            None => {
                let want = self.tick_cost_s.unwrap_or(0.0) / TICK_BUDGET;
                want.clamp(1.0 / MAX_HZ, 1.0 / MIN_HZ)
            }
        };
        Duration::from_secs_f64(s)
    }

    /// The configured time between slow reads, in seconds.
    pub(super) fn pss_every_s(&self) -> f64 {
        self.pss_every_s
    }

    /// Time between slow reads of one process when `live` processes are being sampled: the
    /// configured `pss_every`, stretched when reading them all that often would break the budget.
    pub(super) fn slow_every_s(&self, live: usize) -> f64 {
        let needed = self.slow_cost_s.unwrap_or(0.0) * live as f64 / SLOW_BUDGET;
        self.pss_every_s.max(needed)
    }
}

fn ewma(old: Option<f64>, new: f64) -> f64 {
    match old {
        Some(o) => o + ALPHA * (new - o),
        None => new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheap_ticks_run_at_full_rate() {
        let mut p = Pace::new(None, Duration::from_millis(500));
        p.tick_cost(Duration::from_micros(50));
        assert_eq!(p.period(), Duration::from_millis(10));
    }

    #[test]
    fn costly_ticks_slow_down_to_stay_in_budget() {
        let mut p = Pace::new(None, Duration::from_millis(500));
        for _ in 0..50 {
            p.tick_cost(Duration::from_micros(600));
        }
        let period = p.period().as_secs_f64();
        assert!((period - 0.04).abs() < 0.001, "{period}");
        for _ in 0..50 {
            p.tick_cost(Duration::from_millis(100));
        }
        assert_eq!(p.period(), Duration::from_millis(500), "floor at MIN_HZ");
    }

    #[test]
    fn requested_rate_is_kept() {
        let mut p = Pace::new(Some(50.0), Duration::from_millis(500));
        p.tick_cost(Duration::from_millis(5));
        assert_eq!(p.period(), Duration::from_millis(20));
        assert_eq!(
            Pace::new(Some(-1.0), Duration::ZERO).period(),
            Duration::from_millis(10)
        );
    }

    #[test]
    fn slow_reads_spread_out_with_many_processes() {
        let mut p = Pace::new(None, Duration::from_millis(500));
        assert_eq!(p.slow_every_s(64), 0.5);
        p.slow_cost(Duration::from_millis(10), 10); // 1 ms each
        assert!((p.slow_every_s(64) - 12.8).abs() < 1e-9);
        assert_eq!(p.slow_every_s(1), 0.5);
    }
}
