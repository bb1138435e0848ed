//! timeline.svg: busy cores and busy workers over one typical run of the largest point, so
//! saturation (the cores full) and straggler tails (fewer workers busy at the end) show.

use super::scaling::trim;
use super::style::{self, block, dashed, swatch};
use super::{axis_top, Chart, DrawResult, Inputs, Plot};
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

/// A step line: each tick's value holds over the interval that ends at it.
fn steps(data: &SamplerData, value: impl Fn(usize) -> f64) -> Vec<(f64, f64)> {
    let tl = &data.timeline;
    (1..tl.len())
        .flat_map(|i| [(tl[i - 1].t_s, value(i)), (tl[i].t_s, value(i))])
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
        let busy = steps(p.data, |i| p.data.timeline[i].on_cpu_cores);
        // Active = wants a CPU (on one or queued). Not "got CPU time": on a full host every
        // runnable worker gets a slice of a 10 ms tick, so that count says nothing about cores.
        let active = steps(p.data, |i| count_at(&threads, i, b"RQ"));
        let t_max = p.data.timeline.last().map_or(1.0, |t| t.t_s).max(1e-3);
        let top = busy
            .iter()
            .chain(&active)
            .map(|x| x.1)
            .fold(started.max(cores), f64::max);
        // Headroom above the lines for the legend.
        let y_max = axis_top(top) * 1.3;

        root.fill(&WHITE)?;
        let mut chart: Chart<'a, DB> = ChartBuilder::on(root)
            .caption(
                format!("Timeline: {}", describe(inp.m, &p)),
                style::caption(),
            )
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..t_max, 0f64..y_max)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(style::GRID)
            .x_desc("time since the target started (s)")
            .y_desc("cores busy / workers (count)")
            .axis_desc_style(style::label())
            .label_style(style::tick())
            .x_label_formatter(&|x| trim(*x))
            .y_label_formatter(&|y| trim(*y))
            .draw()?;
        chart
            .draw_series(
                AreaSeries::new(busy.clone(), 0.0, CORES.mix(0.35))
                    .border_style(CORES.stroke_width(1)),
            )?
            .label("cores busy (the tree's CPU time per tick interval)")
            .legend(block(CORES));
        let active_style = ACTIVE.stroke_width(2);
        chart
            .draw_series(LineSeries::new(active, active_style))?
            .label(format!(
                "{who} active (on a CPU or in a run queue, at each tick)"
            ))
            .legend(swatch(active_style));
        let usable = style::INK.stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, cores), (t_max, cores)],
                8,
                5,
                usable,
            ))?
            .label(format!("usable cores ({})", inp.m.host.usable_cpus))
            .legend(dashed(usable, 6));
        if started != cores {
            let st = style::INK.mix(0.5).stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, started), (t_max, started)],
                    2,
                    4,
                    st,
                ))?
                .label(format!("workers started ({})", started))
                .legend(dashed(st, 2));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(style::legend())
            .background_style(WHITE.mix(0.9))
            .border_style(style::GRID)
            .draw()?;
        Ok(())
    }
}
