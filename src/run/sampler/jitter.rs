//! Jittered sampling gaps: each gap is drawn from an exponential distribution around the
//! period, so that a workload with its own period (a 10 ms GIL switch interval, a 50 ms nap)
//! cannot lock onto the sampler's ticks and be always seen in the same phase (STYLE 16: a
//! fixed period aliases). A Poisson stream of ticks sees each state with probability equal to
//! the share of time spent in it.
//!
//! Gaps are clamped to [MIN_SHARE, MAX_SHARE] x the period: a near-zero gap would cost a whole
//! tick for almost no new time, and a very long one leaves a hole in the timeline. The clamp
//! moves the mean to ~0.99 x the period.

use std::time::{Duration, Instant};

/// Shortest gap, as a share of the period.
const MIN_SHARE: f64 = 0.1;
/// Longest gap, as a share of the period.
const MAX_SHARE: f64 = 4.0;

/// A small xorshift generator: no dependency, no need for cryptographic quality.
#[derive(Debug, Clone)]
pub(crate) struct Jitter {
    state: u64,
}

impl Jitter {
    /// Seeded from the clock, so two runs don't share their phases.
    pub(crate) fn new() -> Self {
        let nanos = Instant::now().elapsed().as_nanos() as u64;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Self::seeded(seed ^ nanos.rotate_left(32) ^ u64::from(std::process::id()))
    }

    pub(crate) fn seeded(seed: u64) -> Self {
        Jitter { state: seed | 1 }
    }

    /// A uniform draw in (0, 1].
    fn uniform(&mut self) -> f64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        ((x >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// The next gap around `period`.
    pub(crate) fn gap(&mut self, period: Duration) -> Duration {
        let share = (-self.uniform().ln()).clamp(MIN_SHARE, MAX_SHARE);
        period.mul_f64(share)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_spread_around_the_period_with_the_right_mean() {
        let mut j = Jitter::seeded(42);
        let period = Duration::from_millis(10);
        let gaps: Vec<f64> = (0..20_000).map(|_| j.gap(period).as_secs_f64()).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((mean - 0.0099).abs() < 0.0004, "{mean}");
        let short = gaps.iter().filter(|&&g| g < 0.005).count() as f64 / gaps.len() as f64;
        // P(Exp(1) < 0.5) = 0.39: the gaps really vary, they are not a fixed period.
        assert!((short - 0.39).abs() < 0.03, "{short}");
        assert!(gaps
            .iter()
            .all(|&g| (0.001 - 1e-9..=0.04 + 1e-9).contains(&g)));
    }
}
