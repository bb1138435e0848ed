//! Descriptive statistics over one point's repeated samples: summary, percentiles, outliers.
//!
//! Every function is pure and unit-agnostic: results carry the unit of the samples (seconds for
//! `wall_s`, bytes for `pss_bytes`). Empty or non-finite input gives `None` (or no outliers) rather
//! than a number that would look measured.

use serde::Serialize;

/// Scales |x − median| / MAD into a z-like score: 0.6745 is the 0.75 quantile of the standard
/// normal, so for normal data MAD ≈ 0.6745·σ (Iglewicz & Hoaglin 1993).
const MAD_TO_Z: f64 = 0.6745;

/// Modified Z-score above which a sample is an outlier; 3.5 is Iglewicz & Hoaglin's recommendation.
/// hyperfine computes the same score but only warns past the looser 10·1.4826 (≈ 10 σ).
pub const OUTLIER_MODIFIED_Z: f64 = 3.5;

/// Location and spread of a set of samples, all in the samples' unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (mean of the two middle samples when `n` is even).
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Sample standard deviation (n − 1 denominator); `None` when `n < 2`, where it is undefined.
    pub stddev: Option<f64>,
}

/// Sorted copy of `xs`, or `None` when it is empty or holds NaN/±inf.
fn sorted_finite(xs: &[f64]) -> Option<Vec<f64>> {
    if xs.is_empty() || xs.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    Some(v)
}

/// Median of an already sorted, non-empty slice.
fn median_sorted(s: &[f64]) -> f64 {
    let mid = s.len() / 2;
    if s.len().is_multiple_of(2) {
        (s[mid - 1] + s[mid]) / 2.0
    } else {
        s[mid]
    }
}

/// The median of `xs`; `None` when `summarize` would be.
pub fn median(xs: &[f64]) -> Option<f64> {
    summarize(xs).map(|s| s.median)
}

/// Summarises `xs`; `None` when it is empty or holds a non-finite value.
pub fn summarize(xs: &[f64]) -> Option<Summary> {
    let s = sorted_finite(xs)?;
    let n = s.len();
    let mean = s.iter().sum::<f64>() / n as f64;
    let stddev = (n >= 2).then(|| {
        let ss: f64 = s.iter().map(|x| (x - mean).powi(2)).sum();
        (ss / (n - 1) as f64).sqrt()
    });
    Some(Summary {
        n,
        mean,
        median: median_sorted(&s),
        min: s[0],
        max: s[n - 1],
        stddev,
    })
}

/// Indices (in input order) of samples whose modified Z-score `0.6745·(x − median)/MAD` exceeds
/// [`OUTLIER_MODIFIED_Z`] in absolute value. Empty when MAD is 0 (more than half the samples are
/// identical, so the score is undefined) or the input is empty or non-finite.
pub fn outliers_mad(xs: &[f64]) -> Vec<usize> {
    let Some(s) = sorted_finite(xs) else {
        return Vec::new();
    };
    let median = median_sorted(&s);
    let mut dev: Vec<f64> = s.iter().map(|x| (x - median).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = median_sorted(&dev);
    if mad == 0.0 {
        return Vec::new();
    }
    (0..xs.len())
        .filter(|&i| (MAD_TO_Z * (xs[i] - median) / mad).abs() > OUTLIER_MODIFIED_Z)
        .collect()
}

/// The Wilson score interval of a binomial share `p` seen in `n` trials, at `z` standard
/// errors: (low, high), within 0..=1, honest at small n and at p near 0 or 1 (where p ± z·SE is
/// not).
pub fn wilson_interval(p: f64, n: f64, z: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 1.0);
    }
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).max(0.0).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Sample standard deviation over |mean|, dimensionless (0.05 = 5 % spread). `None` for fewer than
/// two samples, non-finite input, or a zero mean.
pub fn coefficient_of_variation(xs: &[f64]) -> Option<f64> {
    let s = summarize(xs)?;
    let sd = s.stddev?;
    (s.mean != 0.0).then(|| sd / s.mean.abs())
}

/// The `q`-th percentile, `q` in [0, 100], interpolating linearly between the two nearest ranks
/// (numpy's default, R type 7), in the samples' unit. `None` for empty or non-finite input or `q`
/// outside [0, 100].
pub fn percentile(xs: &[f64], q: f64) -> Option<f64> {
    if !(0.0..=100.0).contains(&q) {
        return None;
    }
    let s = sorted_finite(xs)?;
    let h = (s.len() - 1) as f64 * q / 100.0;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    Some(s[lo] + (h - lo as f64) * (s[hi] - s[lo]))
}

/// Student's t quantile at 0.95 for `df` degrees of freedom: the half-width factor of a
/// two-sided 90 % interval of a mean. Tabled to 30; the normal 1.645 beyond.
pub fn t_quantile_95(df: usize) -> f64 {
    const T: [f64; 30] = [
        6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812, 1.796, 1.782, 1.771,
        1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714, 1.711, 1.708, 1.706,
        1.703, 1.701, 1.699, 1.697,
    ];
    match df {
        0 => f64::INFINITY,
        d if d <= 30 => T[d - 1],
        _ => 1.645,
    }
}

/// The ratio of two samples' means, ȳ / x̄, with its 90 % interval: `high` is infinite (and
/// `low` minus infinity) when x̄ cannot be told from zero at that confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// The ratio of the means of two independent samples, `num` over `den`, with Fieller's 90 %
/// interval: the values R for which ȳ − R·x̄ is within t standard errors of zero. A ratio of
/// noisy figures is skewed (a small x̄ in one run throws it far), so its interval is not
/// symmetric about it; the ratio of the means damps one run's small denominator, and Fieller
/// widens the interval on the side the denominator's noise pushes it. The t quantile's degrees
/// of freedom are Welch–Satterthwaite's, over the two means' shares of the ratio's variance.
/// Samples taken in the same rounds are correlated positively if at all (a loaded host slows
/// both), which narrows a ratio's true spread: treating them as independent errs wide.
/// `None` with fewer than two finite samples on either side, or x̄ <= 0.
pub fn ratio_of_means(num: &[f64], den: &[f64]) -> Option<Ratio> {
    let (y, x) = (summarize(num)?, summarize(den)?);
    let (sy, sx) = (y.stddev?, x.stddev?);
    if x.mean <= 0.0 {
        return None;
    }
    let r = y.mean / x.mean;
    // Variances of the two means, and their parts of the ratio's (delta-method) variance.
    let (vy, vx) = (sy * sy / y.n as f64, sx * sx / x.n as f64);
    let (a, b) = (vy, r * r * vx);
    if a + b == 0.0 {
        return Some(Ratio {
            value: r,
            low: r,
            high: r,
        });
    }
    let df = (a + b).powi(2) / (a * a / (y.n - 1) as f64 + b * b / (x.n - 1) as f64);
    let t = t_quantile_95((df.floor() as usize).max(1));
    let g = t * t * vx / (x.mean * x.mean);
    if g >= 1.0 {
        return Some(Ratio {
            value: r,
            low: f64::NEG_INFINITY,
            high: f64::INFINITY,
        });
    }
    let half = t / x.mean * (vy + r * r * vx - g * vy).sqrt();
    Some(Ratio {
        value: r,
        low: (r - half) / (1.0 - g),
        high: (r + half) / (1.0 - g),
    })
}

/// `ratio_of_means` for figures that cannot be negative (seconds, bytes). Where the
/// denominator's interval reaches zero (Fieller's g >= 1), the unconstrained set is the whole
/// line or two rays, one of them negative; a ratio of non-negative figures cannot be negative,
/// so the set keeps its non-negative part: from the upper root of Fieller's quadratic (or 0)
/// to infinity. A wait of nothing at one worker against a clear one at two is then a growth
/// with a lower bound, not an interval from minus to plus infinity that no more runs settle.
pub fn ratio_of_nonnegative_means(num: &[f64], den: &[f64]) -> Option<Ratio> {
    let r = ratio_of_means(num, den)?;
    if r.low.is_finite() {
        return Some(r);
    }
    let (y, x) = (summarize(num)?, summarize(den)?);
    let (sy, sx) = (y.stddev?, x.stddev?);
    let (vy, vx) = (sy * sy / y.n as f64, sx * sx / x.n as f64);
    let (a, b) = (vy, r.value * r.value * vx);
    let df = (a + b).powi(2) / (a * a / (y.n - 1) as f64 + b * b / (x.n - 1) as f64);
    let t = t_quantile_95((df.floor() as usize).max(1));
    // R in the set where (ȳ − R·x̄)² <= t²·(vy + R²·vx): qa·R² + qb·R + qc <= 0, qa <= 0 here.
    let (qa, qb, qc) = (
        x.mean * x.mean - t * t * vx,
        -2.0 * x.mean * y.mean,
        y.mean * y.mean - t * t * vy,
    );
    let low = if qa == 0.0 {
        if qb < 0.0 {
            (-qc / qb).max(0.0)
        } else {
            0.0
        }
    } else {
        let d = qb * qb - 4.0 * qa * qc;
        if d < 0.0 {
            0.0
        } else {
            // qa < 0: the set is R <= the smaller root or R >= the larger one.
            let (r1, r2) = ((-qb + d.sqrt()) / (2.0 * qa), (-qb - d.sqrt()) / (2.0 * qa));
            let (small, large) = (r1.min(r2), r1.max(r2));
            if small < 0.0 {
                large.max(0.0)
            } else {
                0.0
            }
        }
    };
    Some(Ratio {
        value: r.value,
        low,
        high: f64::INFINITY,
    })
}

/// `x` to `places` decimals, as report.json gives a figure.
pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    // + 0.0 turns -0.0 (an empty f64 sum, a tiny negative rounded) into 0, never shown as "-0".
    (x * f).round() / f + 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn a_ratio_over_a_wait_of_nothing_keeps_a_lower_bound() {
        // Waits of about a millisecond per CPU second at one worker (the interval of their mean
        // reaches zero), against about a second at two: Fieller alone gives every ratio.
        let at_one = [0.0, 0.003, 0.0, 0.001, 0.0];
        let at_two = [0.92, 0.96, 1.01, 0.95, 0.98];
        let open = ratio_of_means(&at_two, &at_one).unwrap();
        assert_eq!((open.low, open.high), (f64::NEG_INFINITY, f64::INFINITY));
        let r = ratio_of_nonnegative_means(&at_two, &at_one).unwrap();
        assert!(r.low > 100.0 && r.high == f64::INFINITY, "{r:?}");
        // The bound solves the quadratic: at it, ȳ − R·x̄ is t standard errors from zero.
        let (y, x) = (summarize(&at_two).unwrap(), summarize(&at_one).unwrap());
        let (vy, vx) = (
            y.stddev.unwrap().powi(2) / 5.0,
            x.stddev.unwrap().powi(2) / 5.0,
        );
        let lhs = (y.mean - r.low * x.mean).powi(2);
        let t2 = lhs / (vy + r.low * r.low * vx);
        assert!(t2 > 1.0 && t2 < 100.0, "{t2}");
        // A decided ratio is left as Fieller gives it.
        let same = ratio_of_nonnegative_means(&[0.5, 0.55, 0.45], &[0.5, 0.55, 0.45]).unwrap();
        assert_eq!(
            same,
            ratio_of_means(&[0.5, 0.55, 0.45], &[0.5, 0.55, 0.45]).unwrap()
        );
        // Nothing clear on either side: from nothing to anything.
        let both = ratio_of_nonnegative_means(&[0.0, 0.002, 0.0], &[0.0, 0.003, 0.0]).unwrap();
        assert_eq!((both.low, both.high), (0.0, f64::INFINITY));
    }

    #[test]
    fn summary_of_five_samples_matches_hand_computation() {
        let s = summarize(&[3.0, 1.0, 4.0, 1.0, 5.0]).unwrap();
        assert_eq!(s.n, 5);
        assert!(close(s.mean, 2.8));
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 5.0));
        // Squared deviations 0.04+3.24+1.44+3.24+4.84 = 12.8, over n-1 = 4.
        assert!(close(s.stddev.unwrap(), 3.2f64.sqrt()));
    }

    #[test]
    fn median_of_even_count_averages_the_middle_pair() {
        assert_eq!(summarize(&[4.0, 1.0, 3.0, 2.0]).unwrap().median, 2.5);
    }

    #[test]
    fn one_sample_has_no_stddev() {
        let s = summarize(&[7.5]).unwrap();
        assert_eq!((s.n, s.mean, s.median, s.stddev), (1, 7.5, 7.5, None));
    }

    #[test]
    fn empty_or_non_finite_input_has_no_summary() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[1.0, f64::NAN]), None);
        assert_eq!(summarize(&[1.0, f64::INFINITY]), None);
    }

    #[test]
    fn mad_flags_a_far_sample_on_either_side() {
        // median 10, MAD (0.1+0.2)/2 = 0.15: 13 scores 0.6745*3/0.15 ≈ 13.5, 10.2 only 0.9.
        let xs = [10.0, 10.1, 9.9, 10.2, 9.8, 13.0, 10.0, 7.0];
        assert_eq!(outliers_mad(&xs), vec![5, 7]);
    }

    #[test]
    fn mad_threshold_is_exclusive_at_three_point_five() {
        // median 0, MAD 1: the line is x = 3.5/0.6745 ≈ 5.19, so 5.1 stays and 5.3 is flagged.
        assert!(outliers_mad(&[-1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 5.1]).is_empty());
        assert_eq!(
            outliers_mad(&[-1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 5.3]),
            vec![6]
        );
    }

    #[test]
    fn mad_of_zero_flags_nothing() {
        assert!(outliers_mad(&[1.0, 1.0, 1.0, 100.0]).is_empty());
        assert!(outliers_mad(&[]).is_empty());
        assert!(outliers_mad(&[1.0, f64::NAN, 2.0]).is_empty());
    }

    #[test]
    fn coefficient_of_variation_is_stddev_over_mean() {
        // mean 5, sample sd of [4,6] = sqrt(2).
        assert!(close(
            coefficient_of_variation(&[4.0, 6.0]).unwrap(),
            2f64.sqrt() / 5.0
        ));
        assert_eq!(coefficient_of_variation(&[4.0]), None);
        assert_eq!(coefficient_of_variation(&[-1.0, 1.0]), None);
        assert_eq!(coefficient_of_variation(&[]), None);
    }

    #[test]
    fn percentile_interpolates_between_ranks() {
        let xs = [15.0, 20.0, 35.0, 40.0, 50.0];
        assert_eq!(percentile(&xs, 0.0), Some(15.0));
        assert_eq!(percentile(&xs, 100.0), Some(50.0));
        assert_eq!(percentile(&xs, 50.0), Some(35.0));
        // h = 4*0.4 = 1.6 → 20 + 0.6*15 = 29 (numpy.percentile agrees).
        assert!(close(percentile(&xs, 40.0).unwrap(), 29.0));
        assert!(close(percentile(&[1.0, 2.0], 25.0).unwrap(), 1.25));
        assert_eq!(percentile(&[42.0], 90.0), Some(42.0));
    }

    #[test]
    fn percentile_rejects_bad_q_and_bad_samples() {
        assert_eq!(percentile(&[1.0, 2.0], -1.0), None);
        assert_eq!(percentile(&[1.0, 2.0], 100.5), None);
        assert_eq!(percentile(&[1.0, 2.0], f64::NAN), None);
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[1.0, f64::NEG_INFINITY], 50.0), None);
    }

    #[test]
    fn a_ratio_over_an_exact_denominator_is_the_numerators_t_interval_scaled() {
        // x̄ = 2 without spread: Welch's df is the numerator's 2, t = 2.920, and the interval is
        // (2 ± 2.920 · 1/√3) / 2 = 1 ± 0.842931.
        let r = ratio_of_means(&[1.0, 2.0, 3.0], &[2.0, 2.0, 2.0]).unwrap();
        assert!(close(r.value, 1.0));
        assert!((r.low - 0.157069).abs() < 1e-6, "{r:?}");
        assert!((r.high - 1.842931).abs() < 1e-6, "{r:?}");
    }

    #[test]
    fn fiellers_interval_of_a_ratio_leans_the_way_the_denominators_noise_pushes_it() {
        // ȳ = 3, x̄ = 2, both means' variance 1/3: R = 1.5. Welch's df = 1.0833² /
        // ((1/3)²/2 + 0.75²/2) = 3.48 -> 3, t = 2.353; g = t² (1/3) / 4 = 0.461384. The roots of
        // R² (x̄² - t² vx) - 2 R x̄ ȳ + (ȳ² - t² vy) = 0 are 0.678974 and 4.890858: 0.82 below
        // the ratio, 3.39 above it.
        let r = ratio_of_means(&[2.0, 4.0, 3.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!(close(r.value, 1.5));
        assert!((r.low - 0.678974).abs() < 1e-5, "{r:?}");
        assert!((r.high - 4.890858).abs() < 1e-5, "{r:?}");
    }

    #[test]
    fn a_ratio_whose_denominator_may_be_zero_has_no_bound_and_too_few_runs_no_ratio() {
        // x̄ = 1 with a standard error of 0.9 on one degree of freedom: g = 6.314² · 0.81 > 1.
        let r = ratio_of_means(&[1.0, 1.2], &[0.1, 1.9]).unwrap();
        assert!(close(r.value, 1.1));
        assert_eq!((r.low, r.high), (f64::NEG_INFINITY, f64::INFINITY));
        assert_eq!(ratio_of_means(&[1.0], &[1.0, 2.0]), None);
        assert_eq!(ratio_of_means(&[1.0, 2.0], &[0.0, 0.0]), None);
        // No spread on either side: the ratio alone.
        let same = ratio_of_means(&[3.0, 3.0], &[2.0, 2.0]).unwrap();
        assert_eq!((same.low, same.high), (1.5, 1.5));
    }

    #[test]
    fn the_wilson_interval_matches_its_formula_at_the_edges_and_the_middle() {
        // 0 of 12: [0, z^2 / (n + z^2)] = [0, 0.2426]; 5 of 10 is symmetric about a half.
        let (lo, hi) = wilson_interval(0.0, 12.0, 1.96);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2425).abs() < 1e-3, "{hi}");
        let (lo, hi) = wilson_interval(0.5, 10.0, 1.96);
        assert!(
            (lo + hi - 1.0).abs() < 1e-12 && (lo - 0.2366).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(wilson_interval(0.3, 0.0, 1.96), (0.0, 1.0));
    }
}
