//! accounting.svg: a waterfall per point from the ideal cores (the workers) through each cause's
//! lost cores to the useful ones, from `summary.accounting` (docs/ACCOUNTING.md).

use super::style;
use super::{DrawResult, Inputs, Plot};
use crate::analyze::accounting::Accounting;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub struct Waterfall;

/// Losses smaller than this are left out of a panel, as in the text line.
const SHOWN_CORES: f64 = 0.01;

const IDEAL: RGBColor = RGBColor(150, 150, 150);
const LOSS: RGBColor = RGBColor(213, 94, 0);
const USEFUL: RGBColor = RGBColor(0, 158, 115);

/// One panel: a title and its bars, top first: (label, from, to) in cores.
struct Panel {
    title: String,
    bars: Vec<(String, f64, f64, RGBColor)>,
    workers: f64,
}

fn panel(title: String, a: &Accounting) -> Panel {
    let n = f64::from(a.workers);
    let mut bars = vec![("ideal".to_string(), 0.0, n, IDEAL)];
    let mut level = n;
    for (cause, cores) in a.losses_over(SHOWN_CORES) {
        bars.push((format!("− {cause}"), level - cores, level, LOSS));
        level -= cores;
    }
    bars.push((
        "= useful".to_string(),
        0.0,
        a.useful_cores.value.max(0.0),
        USEFUL,
    ));
    Panel {
        title,
        bars,
        workers: n,
    }
}

fn panels(inp: &Inputs) -> Vec<Panel> {
    let mut order: Vec<usize> = (0..inp.m.points.len()).collect();
    let series_of = |p: usize| inp.a.series.iter().position(|s| s.points.contains(&p));
    order.sort_by_key(|&p| (series_of(p), inp.m.points[p].workers));
    order
        .into_iter()
        .filter_map(|p| {
            let pm = &inp.m.points[p];
            let a = inp.a.points[p].accounting.as_ref()?;
            let mut title = match pm.workers {
                1 => "1 worker".to_string(),
                n => format!("{n} workers"),
            };
            for (k, v) in &pm.params {
                title.push_str(&format!(" · {k}={v}"));
            }
            if let Some(s) = a.speedup {
                title.push_str(&format!(" · speedup {:.2}", s.value));
            }
            Some(panel(title, a))
        })
        .collect()
}

impl Plot for Waterfall {
    const NAME: &'static str = "accounting";

    fn available(inp: &Inputs) -> bool {
        !panels(inp).is_empty()
    }

    fn draw<'a, DB: DrawingBackend + 'a>(
        inp: &Inputs,
        root: &'a DrawingArea<DB, Shift>,
    ) -> DrawResult<DB> {
        let panels = panels(inp);
        root.fill(&WHITE)?;
        let titled = root.titled(
            "Where the speedup went: cores of workers × wall, per point",
            style::caption(),
        )?;
        let columns = if panels.len() > 1 { 2 } else { 1 };
        let rows = panels.len().div_ceil(columns);
        let areas = titled.split_evenly((rows, columns));
        // One scale for every panel, so that their bars compare.
        let x_max = panels.iter().map(|p| p.workers).fold(1.0, f64::max) * 1.18;
        for (p, area) in panels.iter().zip(&areas) {
            let k = p.bars.len() as f64;
            let mut chart = ChartBuilder::on(area)
                .margin(6)
                .caption(&p.title, style::label())
                .x_label_area_size(34)
                .y_label_area_size(120)
                .build_cartesian_2d(0f64..x_max, 0f64..k)?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .light_line_style(TRANSPARENT)
                .bold_line_style(style::GRID)
                .x_desc("cores (count)")
                .axis_desc_style(style::tick())
                .label_style(style::tick())
                .x_labels(((x_max as usize) + 1).clamp(2, 9))
                .y_labels(0)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .draw()?;
            for (i, (label, from, to, color)) in p.bars.iter().enumerate() {
                // The first bar on top.
                let y = k - 1.0 - i as f64;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(*from, y + 0.18), (*to, y + 0.82)],
                    color.filled(),
                )))?;
                let (lx, ly) = chart.backend_coord(&(0.0, y + 0.5));
                root.draw(&Text::new(
                    label.clone(),
                    (lx - 6, ly),
                    style::tick().pos(Pos::new(HPos::Right, VPos::Center)),
                ))?;
                let (vx, vy) = chart.backend_coord(&(*to, y + 0.5));
                root.draw(&Text::new(
                    format!("{:.2}", to - from),
                    (vx + 4, vy),
                    style::tick().pos(Pos::new(HPos::Left, VPos::Center)),
                ))?;
            }
        }
        Ok(())
    }
}
