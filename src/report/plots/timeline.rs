//! timeline.svg: busy cores and busy workers over one typical run of the largest point, so
//! saturation (the cores full) and straggler tails (fewer workers busy at the end) show.

use super::draw_mesh;
use super::style::{self, Legend, Mark};
use super::{axis_top, DrawResult, Inputs, Plot};
use crate::measure::{SamplerData, ThreadRecord};
use crate::report::pick::{describe, largest_point, typical_run, Picked};
use plotters::coord::Shift;
use plotters::prelude::*;

pub struct Timeline;

const CORES: RGBColor = RGBColor(86, 180, 233);
const ACTIVE: RGBColor = RGBColor(213, 94, 0);

fn picked<'a>(inp: &Inputs<'a>) -> Option<Picked<'a>> {
    typical_run(inp.m, inp.a, largest_point(inp.m, inp.a)?)
}

/// The threads to count: the workers when the analysis found them, else every thread.
fn tracked<'a>(p: &Picked<'a>) -> Vec<&'a ThreadRecord> {
    let all = p.data.processes.iter().flat_map(|pr| pr.threads.iter());
    match &p.workers {
        Some(w) => all.filter(|t| w.tids.contains(&t.tid)).collect(),
        None => all.collect(),
    }
}

/// Threads in one of `states` at tick `i`.
fn count_at(threads: &[&ThreadRecord], i: usize, states: &[u8]) -> f64 {
    threads
        .iter()
        .filter(|t| {
            i.checked_sub(t.first_tick as usize)
                .and_then(|k| t.states.as_bytes().get(k))
                .is_some_and(|s| states.contains(s))
        })
        .count() as f64
}

/// At most this many steps across the plot: at 800 px, more would be a solid smear.
const MAX_STEPS: usize = 200;

/// Ticks per step: 1, or enough that the run fits in MAX_STEPS steps.
fn ticks_per_step(data: &SamplerData) -> usize {
    data.timeline
        .len()
        .saturating_sub(1)
        .div_ceil(MAX_STEPS)
        .max(1)
}

/// A step line: each tick's value holds over the interval that ends at it; with `per` > 1,
/// each step is the mean of `per` consecutive ticks over their span.
fn steps(data: &SamplerData, per: usize, value: impl Fn(usize) -> f64) -> Vec<(f64, f64)> {
    let tl = &data.timeline;
    let ticks: Vec<usize> = (1..tl.len()).collect();
    ticks
        .chunks(per.max(1))
        .flat_map(|c| {
            let mean = c.iter().map(|&i| value(i)).sum::<f64>() / c.len() as f64;
            [(tl[c[0] - 1].t_s, mean), (tl[c[c.len() - 1]].t_s, mean)]
        })
        .collect()
}

impl Plot for Timeline {
    const NAME: &'static str = "timeline";

    fn available(inp: &Inputs) -> bool {
        picked(inp).is_some()
    }

    fn draw<'a, DB: DrawingBackend + 'a>(
        inp: &Inputs,
        root: &'a DrawingArea<DB, Shift>,
    ) -> DrawResult<DB> {
        let Some(p) = picked(inp) else { return Ok(()) };
        let threads = tracked(&p);
        let who = if p.workers.is_some() {
            "workers"
        } else {
            "threads"
        };
        let started = f64::from(inp.m.points[p.point].workers);
        let cores = f64::from(inp.m.host.usable_cpus);
        let per = ticks_per_step(p.data);
        let busy = steps(p.data, per, |i| p.data.timeline[i].on_cpu_cores);
        // Active = wants a CPU (on one or queued). Not "got CPU time": on a full host every
        // runnable worker gets a slice of a 10 ms tick, so that count says nothing about cores.
        let active = steps(p.data, per, |i| count_at(&threads, i, b"RQ"));
        let t_max = p.data.timeline.last().map_or(1.0, |t| t.t_s).max(1e-3);
        let top = busy
            .iter()
            .chain(&active)
            .map(|x| x.1)
            .fold(started.max(cores), f64::max);
        let y_max = axis_top(top);

        root.fill(&WHITE)?;
        let mut legend = Legend::default();
        let groups = [2, 1 + usize::from(started != cores)];
        let (top, band) = root.split_vertically(style::SIZE.1 - Legend::height(&groups, 2));
        let mut chart = ChartBuilder::on(&top)
            .caption(
                format!("Timeline: {}", describe(inp.m, &p)),
                style::caption(),
            )
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..t_max, 0f64..y_max)?;
        draw_mesh(
            &mut chart,
            "time since the target started (s)",
            "cores busy / workers (count)",
            None,
        )?;
        chart.draw_series(
            AreaSeries::new(busy.clone(), 0.0, CORES.mix(0.35)).border_style(CORES.stroke_width(1)),
        )?;
        let span = p.data.timeline.len().saturating_sub(1).max(1) as f64;
        let over = if per > 1 {
            format!("mean per {:.0} ms", t_max / span * per as f64 * 1000.0)
        } else {
            "per tick".to_string()
        };
        legend.add(
            format!("cores busy (the tree's CPU time, {over})"),
            Mark::Block(CORES),
        );
        let active_style = ACTIVE.stroke_width(2);
        chart.draw_series(LineSeries::new(active, active_style))?;
        legend.add(
            format!("{who} active (on a CPU or in a run queue; {over})"),
            Mark::Line(active_style),
        );
        legend.group();
        let usable = style::INK.stroke_width(1);
        chart.draw_series(DashedLineSeries::new(
            [(0.0, cores), (t_max, cores)],
            8,
            5,
            usable,
        ))?;
        legend.add(
            format!("usable cores ({})", inp.m.host.usable_cpus),
            Mark::Dashed(usable, 6),
        );
        if started != cores {
            let st = style::INK.mix(0.5).stroke_width(1);
            chart.draw_series(DashedLineSeries::new(
                [(0.0, started), (t_max, started)],
                2,
                4,
                st,
            ))?;
            legend.add(
                format!("workers started ({})", started),
                Mark::Dashed(st, 2),
            );
        }
        legend.draw(&band, 2)?;
        Ok(())
    }
}
