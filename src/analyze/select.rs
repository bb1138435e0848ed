//! Which points a figure is read from: the primary series' points, the largest parallel point
//! within the cores. Selections every step of the diagnosis shares, kept here so the steps
//! only read what they pick.

use super::point::PointSummary;
use super::{Analysis, Series};
use crate::measure::Measurements;

/// (workers, summary) of a series' points, workers ascending.
pub fn series_points<'a>(
    m: &Measurements,
    a: &'a Analysis,
    series: &Series,
) -> Vec<(u32, &'a PointSummary)> {
    series
        .points
        .iter()
        .map(|&i| (m.points[i].workers, &a.points[i]))
        .collect()
}

/// (workers, summary) of the primary series, workers ascending; empty when there is none.
pub fn primary_points<'a>(m: &Measurements, a: &'a Analysis) -> Vec<(u32, &'a PointSummary)> {
    a.primary
        .map(|s| series_points(m, a, &a.series[s]))
        .unwrap_or_default()
}

/// The largest point with two or more workers (the fewest that can run in parallel) and at
/// most `cores` (two on a single core) that `has` accepts.
pub fn largest_parallel<'a>(
    pts: &[(u32, &'a PointSummary)],
    cores: u32,
    has: impl Fn(&PointSummary) -> bool,
) -> Option<(u32, &'a PointSummary)> {
    pts.iter()
        .copied()
        .filter(|(n, s)| *n >= 2 && *n <= cores.max(2) && has(s))
        .max_by_key(|(n, _)| *n)
}
