//! Scaling metrics and Amdahl / Universal Scalability Law fits over (workers, throughput) points.
//!
//! A point is `(n, x)`: `n` workers (≥ 1, need not be an integer) and throughput `x` in work per
//! second (> 0), e.g. `1 / wall_s` for a fixed amount of work. The baseline need not be n = 1.
//! Fits minimise *relative* residuals `model(n)/x − 1`, so a 5 % miss costs the same at every n,
//! and report `None` when the data cannot pin the model down.

use serde::Serialize;

/// Amdahl's law fitted to throughput: `X(n) = lambda / (s + (1 − s)/n)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AmdahlFit {
    /// Serial fraction `s` of one worker's time, dimensionless, in [0, 1].
    pub serial_fraction: f64,
    /// Modelled throughput of one worker, in the points' throughput unit (work/s).
    pub lambda: f64,
    /// Root-mean-square relative residual, dimensionless (0.03 = a typical 3 % miss).
    pub rmse_rel: f64,
}

/// Universal Scalability Law fitted to throughput:
/// `X(n) = lambda·n / (1 + sigma·(n − 1) + kappa·n·(n − 1))`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct UslFit {
    /// Contention (serialisation) coefficient, dimensionless, ≥ 0.
    pub sigma: f64,
    /// Coherency (crosstalk) coefficient, dimensionless, ≥ 0; > 0 gives a peak, then a decline.
    pub kappa: f64,
    /// Modelled throughput of one worker, in the points' throughput unit (work/s).
    pub lambda: f64,
    /// Workers at peak throughput, `sqrt((1 − sigma)/kappa)`; `None` when kappa is 0 or sigma ≥ 1.
    pub peak_workers: Option<f64>,
    /// Root-mean-square relative residual, dimensionless.
    pub rmse_rel: f64,
}

impl AmdahlFit {
    /// Modelled throughput (work/s) at `n` workers.
    pub fn throughput(&self, n: f64) -> f64 {
        amdahl(&[self.lambda, self.serial_fraction], n).0
    }
}

impl UslFit {
    /// Modelled throughput (work/s) at `n` workers.
    pub fn throughput(&self, n: f64) -> f64 {
        usl(&[self.lambda, self.sigma, self.kappa], n).0
    }
}

/// Speedup of `point` over `base`, both `(workers, throughput)`: x / x0, dimensionless.
/// Callers pass points with x0 > 0.
pub fn speedup(base: (f64, f64), point: (f64, f64)) -> f64 {
    point.1 / base.1
}

/// Parallel efficiency of `point` relative to `base`: speedup / (n / n0), dimensionless
/// (1 = perfect scaling from the baseline).
pub fn efficiency(base: (f64, f64), point: (f64, f64)) -> f64 {
    speedup(base, point) / (point.0 / base.0)
}

/// Karp–Flatt experimentally determined serial fraction `(1/S − 1/n) / (1 − 1/n)`, dimensionless,
/// from the speedup over one worker. `None` for n ≤ 1 (undefined) or non-positive/non-finite input.
pub fn karp_flatt(speedup_vs_1: f64, n: f64) -> Option<f64> {
    let ok = speedup_vs_1.is_finite() && speedup_vs_1 > 0.0 && n.is_finite() && n > 1.0;
    ok.then(|| (1.0 / speedup_vs_1 - 1.0 / n) / (1.0 - 1.0 / n))
}

/// Throughput gained from `prev` to `next` over the ideal gain for the workers added:
/// `((x_b − x_a)/x_a) / ((n_b − n_a)/n_a)`, dimensionless (1 = the new workers pulled their
/// weight, 0 = they added nothing, < 0 = they slowed things down). `None` unless both points are
/// valid and n_b > n_a.
pub fn marginal_efficiency(prev: (f64, f64), next: (f64, f64)) -> Option<f64> {
    let ((na, xa), (nb, xb)) = (prev, next);
    (valid(&prev) && valid(&next) && nb > na).then(|| ((xb - xa) / xa) / ((nb - na) / na))
}

/// The run-to-run spread of one point's wall time, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WallSpread {
    pub min: f64,
    pub max: f64,
}

/// Bounds of the throughput ratio `later / earlier` (= earlier wall / later wall) from the two
/// points' spreads, bootstrap-free: the slowest earlier run against the fastest later one, and
/// the other way round. A ratio whose bounds straddle a threshold is within the noise. `None`
/// unless every wall is positive and finite.
pub fn ratio_bounds(earlier: WallSpread, later: WallSpread) -> Option<(f64, f64)> {
    let ok = [earlier.min, earlier.max, later.min, later.max]
        .iter()
        .all(|w| w.is_finite() && *w > 0.0);
    ok.then(|| (earlier.min / later.max, earlier.max / later.min))
}

/// Marginal efficiency (see `marginal_efficiency`) of a step from `na` to `nb` workers whose
/// throughput changed by `ratio`; `None` unless nb > na > 0.
pub fn marginal_efficiency_of_ratio(na: f64, nb: f64, ratio: f64) -> Option<f64> {
    (na > 0.0 && nb > na && ratio.is_finite()).then(|| (ratio - 1.0) / ((nb - na) / na))
}

/// Fits Amdahl's law; `None` unless every point is valid and there are ≥ 2 distinct worker counts.
pub fn fit_amdahl(points: &[(f64, f64)]) -> Option<AmdahlFit> {
    let (pts, scale) = prepare(points, 2)?;
    // Linear start: 1/X = a + b/n with a = s/lambda and b = (1 − s)/lambda, so s = a/(a + b).
    let [a, b] = lsq2(pts.iter().map(|&(n, x)| (1.0, 1.0 / n, 1.0 / x))).unwrap_or([0.5, 0.5]);
    // a + b = 1/X(1) extrapolated; ≤ 0 only for steeply falling throughput, i.e. all serial.
    let s0 = (if a + b > 0.0 { a / (a + b) } else { 1.0 }).clamp(0.0, 1.0);
    let l0 = best_lambda(&pts, |n| amdahl(&[1.0, s0], n).0);
    let p = refine(&pts, [l0, s0], [f64::INFINITY, 1.0], amdahl);
    let fit = AmdahlFit {
        serial_fraction: p[1],
        lambda: p[0] * scale,
        rmse_rel: rmse_rel(&pts, &p, amdahl),
    };
    all_finite(&[fit.serial_fraction, fit.lambda, fit.rmse_rel]).then_some(fit)
}

/// Fits the USL; `None` unless every point is valid and there are ≥ 3 distinct worker counts
/// (three parameters).
pub fn fit_usl(points: &[(f64, f64)]) -> Option<UslFit> {
    let (pts, scale) = prepare(points, 3)?;
    // Linear start (Gunther): taking lambda ≈ X(n_min)/n_min (ideal scaling up to the smallest n),
    // n/S − 1 = sigma·(n − 1) + kappa·n·(n − 1), a 2×2 solve with no intercept, clamped ≥ 0.
    // Biased under noise or when n_min > 1; the refinement below removes the bias.
    let n_min = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let at_min: Vec<f64> = pts.iter().filter(|p| p.0 == n_min).map(|p| p.1).collect();
    let l_base = at_min.iter().sum::<f64>() / at_min.len() as f64 / n_min;
    let rows = pts
        .iter()
        .map(|&(n, x)| (n - 1.0, n * (n - 1.0), n * l_base / x - 1.0));
    let [sg, k] = lsq2(rows).unwrap_or([0.0, 0.0]).map(|v| v.max(0.0));
    let l0 = best_lambda(&pts, |n| usl(&[1.0, sg, k], n).0);
    let p = refine(&pts, [l0, sg, k], [f64::INFINITY; 3], usl);
    let [lambda, sigma, kappa] = p;
    let fit = UslFit {
        sigma,
        kappa,
        lambda: lambda * scale,
        peak_workers: (kappa > 0.0 && sigma < 1.0).then(|| ((1.0 - sigma) / kappa).sqrt()),
        rmse_rel: rmse_rel(&pts, &p, usl),
    };
    all_finite(&[sigma, kappa, fit.lambda, fit.rmse_rel]).then_some(fit)
}

/// Iteration cap for the refinement; the tests' curves converge in 4–8 accepted steps.
const MAX_ITERS: usize = 200;

/// Amdahl model at `n` for `p = [lambda, s]`, with its gradient.
fn amdahl(p: &[f64; 2], n: f64) -> (f64, [f64; 2]) {
    let [l, s] = *p;
    let d = s + (1.0 - s) / n;
    (l / d, [1.0 / d, -l * (1.0 - 1.0 / n) / (d * d)])
}

/// USL model at `n` for `p = [lambda, sigma, kappa]`, with its gradient.
fn usl(p: &[f64; 3], n: f64) -> (f64, [f64; 3]) {
    let [l, sg, k] = *p;
    let d = 1.0 + sg * (n - 1.0) + k * n * (n - 1.0);
    let m = l * n / d;
    (m, [n / d, -m * (n - 1.0) / d, -m * n * (n - 1.0) / d])
}

fn valid(&(n, x): &(f64, f64)) -> bool {
    n.is_finite() && n >= 1.0 && x.is_finite() && x > 0.0
}

fn all_finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

/// Least squares for y ≈ c0·f0 + c1·f1 over rows (f0, f1, y), via the 2×2 normal equations.
fn lsq2(rows: impl Iterator<Item = (f64, f64, f64)>) -> Option<[f64; 2]> {
    let (mut a, mut b) = ([[0.0; 2]; 2], [0.0; 2]);
    for (f0, f1, y) in rows {
        let f = [f0, f1];
        for i in 0..2 {
            b[i] += f[i] * y;
            (0..2).for_each(|j| a[i][j] += f[i] * f[j]);
        }
    }
    solve(a, b)
}

/// Validates points and rescales throughput so the largest is 1: relative residuals don't change,
/// and lambda becomes O(1), which keeps the damping and the pivots of the solve well scaled.
fn prepare(points: &[(f64, f64)], min_distinct_n: usize) -> Option<(Vec<(f64, f64)>, f64)> {
    if !points.iter().all(valid) {
        return None;
    }
    let mut ns: Vec<f64> = points.iter().map(|p| p.0).collect();
    ns.sort_by(f64::total_cmp);
    ns.dedup();
    if ns.len() < min_distinct_n {
        return None;
    }
    let scale = points.iter().map(|p| p.1).fold(0.0, f64::max);
    Some((points.iter().map(|&(n, x)| (n, x / scale)).collect(), scale))
}

/// For a fixed curve shape `g`, the lambda minimising Σ(lambda·g/x − 1)² in closed form.
fn best_lambda(pts: &[(f64, f64)], g: impl Fn(f64) -> f64) -> f64 {
    let (num, den) = pts.iter().fold((0.0, 0.0), |(a, b), &(n, x)| {
        let r = g(n) / x;
        (a + r, b + r * r)
    });
    Some(num / den)
        .filter(|l| l.is_finite() && *l > 0.0)
        .unwrap_or(1.0)
}

/// A model: parameters (lambda first) and n → (throughput, gradient over the parameters).
type Model<const P: usize> = fn(&[f64; P], f64) -> (f64, [f64; P]);

/// Sum of squared relative residuals.
fn cost<const P: usize>(pts: &[(f64, f64)], p: &[f64; P], f: Model<P>) -> f64 {
    pts.iter()
        .map(|&(n, x)| (f(p, n).0 / x - 1.0).powi(2))
        .sum()
}

fn rmse_rel<const P: usize>(pts: &[(f64, f64)], p: &[f64; P], f: Model<P>) -> f64 {
    (cost(pts, p, f) / pts.len() as f64).sqrt()
}

/// Projected Levenberg–Marquardt on relative residuals, with Marquardt's diagonal scaling because
/// the kappa column grows like n² while sigma's grows like n (for n = 1..32, cond(JᵀJ) is
/// 6e3–3e5; scaled to a unit diagonal it is 25–92). A parameter sitting on a bound whose
/// descent direction points outside is held there for the step (a one-step active set), so
/// clamping never stalls the free parameters. Bounds: lambda > 0, the others in [0, `hi`].
fn refine<const P: usize>(
    pts: &[(f64, f64)],
    mut p: [f64; P],
    hi: [f64; P],
    f: Model<P>,
) -> [f64; P] {
    let lo: [f64; P] = std::array::from_fn(|i| if i == 0 { f64::MIN_POSITIVE } else { 0.0 });
    // `+ 0.0` here and after clamping turns -0.0 into 0.0, so a report never prints "kappa -0".
    p = p.map(|v| v + 0.0);
    let mut c = cost(pts, &p, f);
    let mut damping = 1e-3;
    for _ in 0..MAX_ITERS {
        let (mut jtj, mut g) = ([[0.0; P]; P], [0.0; P]);
        for &(n, x) in pts {
            let (m, d) = f(&p, n);
            let r = m / x - 1.0;
            for i in 0..P {
                g[i] += d[i] / x * r;
                for j in 0..P {
                    jtj[i][j] += d[i] * d[j] / (x * x);
                }
            }
        }
        let held: [bool; P] =
            std::array::from_fn(|i| (p[i] <= lo[i] && g[i] > 0.0) || (p[i] >= hi[i] && g[i] < 0.0));
        loop {
            let mut a = jtj;
            let mut rhs = g.map(|gi| -gi);
            for i in 0..P {
                a[i][i] += damping * jtj[i][i].max(1e-12);
                if held[i] {
                    (0..P).for_each(|j| (a[i][j], a[j][i]) = (0.0, 0.0));
                    (a[i][i], rhs[i]) = (1.0, 0.0);
                }
            }
            let trial = solve(a, rhs)
                .map(|step| std::array::from_fn(|i| (p[i] + step[i]).clamp(lo[i], hi[i]) + 0.0));
            let tc = trial.map_or(f64::INFINITY, |t| cost(pts, &t, f));
            if tc < c {
                let gain = c - tc;
                (p, c, damping) = (trial.unwrap(), tc, (damping / 10.0).max(1e-12));
                if gain <= 1e-15 * c || c < 1e-28 {
                    return p;
                }
                break;
            }
            damping *= 10.0;
            if damping > 1e12 {
                return p; // no step improves: converged to the precision of the data
            }
        }
    }
    p
}

/// Solves `a·x = b` by Gaussian elimination with partial pivoting; `None` when singular.
fn solve<const P: usize>(mut a: [[f64; P]; P], mut b: [f64; P]) -> Option<[f64; P]> {
    for col in 0..P {
        let piv = (col..P).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        let pivot = a[piv][col].abs();
        if pivot.is_nan() || pivot <= 1e-300 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let top = a[col];
        for row in col + 1..P {
            let k = a[row][col] / top[col];
            a[row].iter_mut().zip(top).for_each(|(v, t)| *v -= k * t);
            b[row] -= k * b[col];
        }
    }
    let mut x = [0.0; P];
    for i in (0..P).rev() {
        let s: f64 = (i + 1..P).map(|j| a[i][j] * x[j]).sum();
        x[i] = (b[i] - s) / a[i][i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: [f64; 6] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];

    fn usl_curve(ns: &[f64], sigma: f64, kappa: f64, noise: f64) -> Vec<(f64, f64)> {
        let x = |i: usize, n: f64| usl(&[250.0, sigma, kappa], n).0 * (1.0 + noise * wobble(i));
        ns.iter().enumerate().map(|(i, &n)| (n, x(i, n))).collect()
    }

    /// Deterministic pseudo-noise in [-1, 1) from a golden-ratio Weyl sequence: no rand, no flakes.
    fn wobble(i: usize) -> f64 {
        let s = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    fn within(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs()
    }

    #[test]
    fn speedup_and_efficiency_from_n1_and_from_n2_baselines() {
        assert_eq!(speedup((1.0, 10.0), (4.0, 30.0)), 3.0);
        assert_eq!(efficiency((1.0, 10.0), (4.0, 30.0)), 0.75);
        // Baseline at n=2: doubling workers to 8 is 4× the workers for 3× the throughput.
        assert_eq!(speedup((2.0, 20.0), (8.0, 60.0)), 3.0);
        assert_eq!(efficiency((2.0, 20.0), (8.0, 60.0)), 0.75);
    }

    #[test]
    fn karp_flatt_matches_hand_computation() {
        // S = 1.8 at n = 2: (1/1.8 − 1/2) / (1 − 1/2) = 0.0555…/0.5 = 0.111…
        assert!((karp_flatt(1.8, 2.0).unwrap() - 1.0 / 9.0).abs() < 1e-12);
        // Perfect speedup means no serial fraction; no speedup means all serial.
        assert!(karp_flatt(8.0, 8.0).unwrap().abs() < 1e-12);
        assert!((karp_flatt(1.0, 8.0).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(karp_flatt(1.0, 1.0), None);
        assert_eq!(karp_flatt(0.0, 4.0), None);
        assert_eq!(karp_flatt(f64::NAN, 4.0), None);
    }

    #[test]
    fn marginal_efficiency_matches_hand_computation() {
        // 2→4 workers (+100 %) gave 100→150 work/s (+50 %): half the ideal gain.
        assert_eq!(marginal_efficiency((2.0, 100.0), (4.0, 150.0)), Some(0.5));
        assert_eq!(marginal_efficiency((4.0, 150.0), (8.0, 300.0)), Some(1.0));
        assert_eq!(marginal_efficiency((4.0, 150.0), (8.0, 120.0)), Some(-0.2));
        assert_eq!(marginal_efficiency((4.0, 150.0), (4.0, 160.0)), None);
        assert_eq!(marginal_efficiency((4.0, 0.0), (8.0, 160.0)), None);
        assert_eq!(marginal_efficiency((4.0, 150.0), (f64::NAN, 160.0)), None);
    }

    #[test]
    fn ratio_bounds_pair_the_slowest_with_the_fastest_run() {
        let one = WallSpread {
            min: 9.0,
            max: 11.0,
        };
        let two = WallSpread { min: 5.0, max: 6.0 };
        assert_eq!(ratio_bounds(one, two), Some((1.5, 2.2)));
        // A step whose bounds straddle 1 may be a gain or a loss: within the noise.
        let (lo, hi) = ratio_bounds(
            one,
            WallSpread {
                min: 9.5,
                max: 10.5,
            },
        )
        .unwrap();
        assert!(lo < 1.0 && hi > 1.0);
        assert_eq!(ratio_bounds(one, WallSpread { min: 0.0, max: 1.0 }), None);
        assert_eq!(marginal_efficiency_of_ratio(2.0, 4.0, 1.5), Some(0.5));
        assert_eq!(marginal_efficiency_of_ratio(2.0, 2.0, 1.5), None);
    }

    #[test]
    fn usl_recovers_exact_curves_within_five_percent() {
        for &(sigma, kappa) in &[(0.05, 0.002), (0.1, 0.01), (0.02, 0.0005)] {
            for ns in [&NS[..], &NS[1..]] {
                let f = fit_usl(&usl_curve(ns, sigma, kappa, 0.0)).unwrap();
                assert!(
                    within(f.sigma, sigma, 0.05) && within(f.kappa, kappa, 0.05),
                    "{ns:?} {f:?}"
                );
                assert!(within(f.lambda, 250.0, 0.01) && f.rmse_rel < 1e-6, "{f:?}");
                let peak = ((1.0 - sigma) / kappa).sqrt();
                assert!(within(f.peak_workers.unwrap(), peak, 0.05), "{f:?}");
            }
        }
    }

    #[test]
    fn usl_recovers_noisy_curves_within_tolerance() {
        // ±2 % multiplicative noise, three repetitions per worker count, as a sweep would record.
        let ns: Vec<f64> = NS.iter().flat_map(|&n| [n; 3]).collect();
        for &(sigma, kappa) in &[(0.05, 0.002), (0.1, 0.01), (0.02, 0.0005)] {
            for skip in [0, 3] {
                let pts = usl_curve(&ns[skip..], sigma, kappa, 0.02);
                let f = fit_usl(&pts).unwrap();
                let ok = within(f.sigma, sigma, 0.15) && within(f.kappa, kappa, 0.15);
                let peak = ((1.0 - sigma) / kappa).sqrt();
                assert!(ok && within(f.peak_workers.unwrap(), peak, 0.1), "{f:?}");
                // The optimiser must reach at least the truth's residual, which noise makes > 0.
                let truth = rmse_rel(&pts, &[250.0, sigma, kappa], usl);
                assert!(f.rmse_rel <= truth + 1e-12 && f.rmse_rel < 0.02, "{f:?}");
            }
        }
    }

    #[test]
    fn usl_without_crosstalk_reports_no_peak() {
        // Amdahl data is USL with kappa = 0; flat throughput is all contention (sigma = 1).
        let amdahl: Vec<_> = NS.iter().map(|&n| (n, 40.0 / (0.1 + 0.9 / n))).collect();
        let f = fit_usl(&amdahl).unwrap();
        assert!(within(f.sigma, 0.1, 1e-3) && f.kappa < 1e-7, "{f:?}");
        assert!(f.peak_workers.is_none_or(|p| p > 1e3), "{f:?}");
        assert!(f.kappa.is_sign_positive(), "no -0.0 in reports: {f:?}");
        let f = fit_usl(&[(1.0, 5.0), (2.0, 5.0), (4.0, 5.0)]).unwrap();
        assert!(within(f.sigma, 1.0, 1e-3) && f.kappa < 1e-6, "{f:?}");
        assert_eq!(f.peak_workers, None);
    }

    #[test]
    fn amdahl_recovers_known_serial_fractions() {
        for s in [0.1, 0.3] {
            for ns in [&NS[..], &NS[1..]] {
                let pts: Vec<_> = ns
                    .iter()
                    .map(|&n| (n, 12.0 / (s + (1.0 - s) / n)))
                    .collect();
                let f = fit_amdahl(&pts).unwrap();
                assert!((f.serial_fraction - s).abs() < 1e-9, "{f:?}");
                assert!(within(f.lambda, 12.0, 1e-9) && f.rmse_rel < 1e-9, "{f:?}");
                let at_64 = 12.0 / (s + (1.0 - s) / 64.0);
                assert!(within(f.throughput(64.0), at_64, 1e-9));
            }
        }
    }

    #[test]
    fn amdahl_clamps_superlinear_and_retrograde_data() {
        let superlinear = fit_amdahl(&[(1.0, 1.0), (2.0, 2.5), (4.0, 6.0)]).unwrap();
        assert_eq!(superlinear.serial_fraction, 0.0);
        let retrograde = fit_amdahl(&[(1.0, 10.0), (2.0, 8.0), (4.0, 6.0)]).unwrap();
        assert_eq!(retrograde.serial_fraction, 1.0);
    }

    #[test]
    fn degenerate_inputs_give_none() {
        let bad: [&[(f64, f64)]; 9] = [
            &[],
            &[(1.0, 10.0)],
            &[(4.0, 10.0), (4.0, 11.0), (4.0, 12.0)],
            &[(1.0, 10.0), (2.0, 0.0), (4.0, 30.0)],
            &[(1.0, 10.0), (2.0, -5.0), (4.0, 30.0)],
            &[(1.0, 10.0), (2.0, f64::NAN), (4.0, 30.0)],
            &[(1.0, 10.0), (2.0, f64::INFINITY), (4.0, 30.0)],
            &[(0.0, 10.0), (2.0, 18.0), (4.0, 30.0)],
            &[(1.0, 10.0), (f64::NAN, 18.0), (4.0, 30.0)],
        ];
        for pts in bad {
            assert_eq!(fit_amdahl(pts), None, "{pts:?}");
            assert_eq!(fit_usl(pts), None, "{pts:?}");
        }
        // Two distinct n are enough for Amdahl's two parameters but not for the USL's three.
        let two = [(1.0, 10.0), (2.0, 18.0), (2.0, 18.5)];
        assert!(fit_amdahl(&two).is_some());
        assert_eq!(fit_usl(&two), None);
    }

    #[test]
    fn extreme_magnitudes_still_fit() {
        // Throughput is rescaled before fitting, so 1e-300 and 1e300 work/s behave like 1.
        for scale in [1e-300, 1e-9, 1e9, 1e300] {
            let pts: Vec<_> = NS.iter().map(|&n| (n, scale / (0.1 + 0.9 / n))).collect();
            let (u, a) = (fit_usl(&pts).unwrap(), fit_amdahl(&pts).unwrap());
            assert!(
                within(u.sigma, 0.1, 1e-3) && within(u.lambda, scale, 1e-6),
                "{u:?}"
            );
            assert!(within(a.serial_fraction, 0.1, 1e-6), "{a:?}");
        }
        let _ = fit_usl(&[(1.0, 1.0), (1e300, 1.0), (f64::MAX, 1.0)]);
    }
}
