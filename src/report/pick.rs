//! Which point and run the timeline and the trace show: the largest worker count of the
//! primary series, and its run whose wall time is the median (a typical run, not an outlier).

use crate::analyze::record::run_ok;
use crate::analyze::workers::{identify, Workers};
use crate::analyze::Analysis;
use crate::measure::{Measurements, Run, SamplerData};

/// A run with sampler data, and the workers found in it.
pub struct Picked<'a> {
    pub point: usize,
    pub run: usize,
    pub data: &'a SamplerData,
    pub workers: Option<Workers>,
}

/// The point with the most workers in the primary series (of all points, without one) that has
/// sampler data.
pub fn largest_point(m: &Measurements, a: &Analysis) -> Option<usize> {
    let candidates: Vec<usize> = match a.primary {
        Some(p) => a.series[p].points.clone(),
        None => (0..m.points.len()).collect(),
    };
    candidates
        .into_iter()
        .filter(|&p| m.points[p].runs.iter().any(|r| usable(r).is_some()))
        .max_by_key(|&p| m.points[p].workers)
}

/// The typical sampled run of `point`: measured, successful, wall time nearest the median.
pub fn typical_run<'a>(m: &'a Measurements, a: &Analysis, point: usize) -> Option<Picked<'a>> {
    let pm = &m.points[point];
    let median = a.points.get(point).and_then(|s| s.wall_s);
    let (run, data) = pm
        .runs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| usable(r).map(|d| (i, r, d)))
        .min_by(|x, y| {
            let off = |r: &Run| median.map_or(0.0, |w| (r.wall_s - w).abs());
            off(x.1).total_cmp(&off(y.1))
        })
        .map(|(i, _, d)| (i, d))?;
    Some(Picked {
        point,
        run,
        data,
        workers: identify(data, pm.workers),
    })
}

fn usable(r: &Run) -> Option<&SamplerData> {
    if r.warmup || !run_ok(r) {
        return None;
    }
    r.sampled.as_ref().filter(|d| d.timeline.len() >= 2)
}

/// "4 workers, mode=threads, run 2" (counting measured runs, as the terminal does).
pub fn describe(m: &Measurements, p: &Picked) -> String {
    let pm = &m.points[p.point];
    let mut s = format!("{} workers", pm.workers);
    for (k, v) in &pm.params {
        s += &format!(", {k}={v}");
    }
    let measured = pm.runs[..=p.run].iter().filter(|r| !r.warmup).count();
    s + &format!(", run {measured}")
}
