//! scaling.svg: speedup against workers per series, with the ideal line, the Amdahl and USL
//! fits, each point's min..max interval, the physical-core boundary and the oversubscribed side.

use super::style::{self, Legend, Mark};
use super::{axis_top, draw_mesh, Chart, DrawResult, Inputs, Plot};
use crate::analyze::scaling::{fit_amdahl, fit_usl};
use crate::analyze::Series;
use plotters::coord::Shift;
use plotters::prelude::*;

pub struct Scaling;

/// One measured point of a series, as speedups over the series' baseline median.
struct Measured {
    workers: f64,
    speedup: f64,
    /// Speedup of the slowest and the fastest run.
    lo: f64,
    hi: f64,
    oversubscribed: bool,
}

/// A fitted speedup model and its legend label.
type Fitted = (Box<dyn Fn(f64) -> f64>, String);

/// A series ready to draw.
struct Curve {
    name: String,
    color: RGBColor,
    base_workers: f64,
    marks: Vec<Measured>,
    /// Fitted speedup models, each with its legend label.
    amdahl: Option<Fitted>,
    usl: Option<Fitted>,
    /// The replay's curve (`scaling.predicted`): (workers, speedup, low, high), workers
    /// ascending; past the host's cores it runs on as many cores as workers.
    predicted: Vec<(f64, f64, f64, f64)>,
}

fn curve(inp: &Inputs, i: usize, s: &Series, name: String) -> Option<Curve> {
    let pts = &inp.a.points;
    let &first = s.points.iter().find(|&&p| pts[p].wall_s.is_some())?;
    let base_wall = pts[first].wall_s?;
    let base_workers = f64::from(inp.m.points[first].workers);
    let marks: Vec<Measured> = s
        .points
        .iter()
        .filter_map(|&p| {
            let sum = &pts[p];
            Some(Measured {
                workers: f64::from(inp.m.points[p].workers),
                speedup: sum.speedup?,
                lo: base_wall / sum.wall_max_s?,
                hi: base_wall / sum.wall_min_s?,
                oversubscribed: sum.oversubscribed,
            })
        })
        .collect();
    if marks.is_empty() {
        return None;
    }
    // The same fits as the analysis (same function, same throughput points), kept with lambda
    // so the curve can be drawn; speedup = modelled throughput × baseline wall.
    let through: Vec<(f64, f64)> = s
        .points
        .iter()
        .filter_map(|&p| {
            pts[p]
                .wall_s
                .map(|w| (f64::from(inp.m.points[p].workers), 1.0 / w))
        })
        .collect();
    let amdahl = fit_amdahl(&through).map(|f| {
        let label = format!("  Amdahl fit: serial {:.1} %", f.serial_fraction * 100.0);
        (
            Box::new(move |n| f.throughput(n) * base_wall) as Box<dyn Fn(f64) -> f64>,
            label,
        )
    });
    let usl = fit_usl(&through).map(|f| {
        let peak = f
            .peak_workers
            .map_or("no peak".into(), |p| format!("peak at {p:.1}"));
        let label = format!("  USL fit: σ {:.3}, κ {:.4}, {peak}", f.sigma, f.kappa);
        (
            Box::new(move |n| f.throughput(n) * base_wall) as Box<dyn Fn(f64) -> f64>,
            label,
        )
    });
    Some(Curve {
        name,
        color: style::series(i),
        base_workers,
        marks,
        amdahl,
        usl,
        predicted: s
            .scaling
            .predicted
            .iter()
            .map(|p| (f64::from(p.workers), p.speedup, p.low, p.high))
            .collect(),
    })
}

impl Plot for Scaling {
    const NAME: &'static str = "scaling";

    fn available(inp: &Inputs) -> bool {
        inp.series().any(|(i, s, n)| curve(inp, i, s, n).is_some())
    }

    fn draw<'a, DB: DrawingBackend + 'a>(
        inp: &Inputs,
        root: &'a DrawingArea<DB, Shift>,
    ) -> DrawResult<DB> {
        let curves: Vec<Curve> = inp
            .series()
            .filter_map(|(i, s, n)| curve(inp, i, s, n))
            .collect();
        let cores = f64::from(inp.cores());
        let max_n = curves
            .iter()
            .flat_map(|c| c.marks.iter().map(|m| m.workers))
            .fold(1.0, f64::max);
        let predicted_n = curves
            .iter()
            .flat_map(|c| c.predicted.iter().map(|p| p.0))
            .fold(max_n, f64::max);
        let base = curves
            .iter()
            .map(|c| c.base_workers)
            .fold(f64::INFINITY, f64::min);
        let x_max = predicted_n.max(cores) + 0.6;
        let ideal_top = max_n / base;
        let data_top = curves
            .iter()
            .flat_map(|c| c.marks.iter().map(|m| m.hi))
            .chain(curves.iter().flat_map(|c| c.predicted.iter().map(|p| p.1)))
            .fold(0.0, f64::max);
        let y_max = axis_top(ideal_top.max(data_top));

        root.fill(&WHITE)?;
        let mut legend = Legend::default();
        let mut groups = vec![2];
        groups.extend(curves.iter().map(|c| {
            1 + usize::from(c.amdahl.is_some())
                + usize::from(c.usl.is_some())
                + usize::from(!c.predicted.is_empty())
        }));
        let (top, band) = root.split_vertically(style::SIZE.1 - Legend::height(&groups, 2));
        let mut chart = ChartBuilder::on(&top)
            .caption("Scaling: speedup against workers", style::caption())
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        draw_mesh(
            &mut chart,
            "workers (count)",
            "speedup over the smallest count (×)",
            Some(x_max),
        )?;

        // Oversubscribed side: more workers than the cores a CPU-bound pool can use.
        chart.draw_series(std::iter::once(Rectangle::new(
            [(cores, 0.0), (x_max, y_max)],
            style::OVERSUBSCRIBED.filled(),
        )))?;
        legend.add(
            format!("more workers than the {} physical cores", inp.cores()),
            Mark::Block(style::OVERSUBSCRIBED),
        );
        chart.draw_series(DashedLineSeries::new(
            [(cores, 0.0), (cores, y_max)],
            6,
            4,
            style::INK.stroke_width(1),
        ))?;

        let ideal = style::INK.mix(0.6).stroke_width(1);
        chart
            // plotters clamps points outside the range instead of clipping the line, which
            // would bend it: end the ideal line where it leaves the plot.
            .draw_series(LineSeries::new(
                [
                    (0.0, 0.0),
                    (x_max.min(y_max * base), (x_max / base).min(y_max)),
                ],
                ideal,
            ))?;
        legend.add(
            "ideal (speedup = workers / smallest count)",
            Mark::Line(ideal),
        );

        for c in &curves {
            draw_curve(&mut chart, &mut legend, c, base, x_max, y_max)?;
        }
        legend.draw(&band, 2)?;
        Ok(())
    }
}

fn draw_curve<DB: DrawingBackend>(
    chart: &mut Chart<DB>,
    legend: &mut Legend,
    c: &Curve,
    base: f64,
    x_max: f64,
    y_max: f64,
) -> DrawResult<DB> {
    let line = c.color.stroke_width(2);
    let from = c.base_workers.min(base);
    let samples = |f: &dyn Fn(f64) -> f64| -> Vec<(f64, f64)> {
        (0..=80)
            .map(|k| from + (x_max - from) * f64::from(k) / 80.0)
            .map(|n| (n, f(n)))
            // Up to where the curve leaves the plot (plotters would clamp, not clip, the rest).
            .take_while(|&(_, y)| y.is_finite() && (0.0..=y_max).contains(&y))
            .collect()
    };
    legend.group();
    legend.add(
        format!("{}: median, bars = slowest..fastest run", c.name),
        Mark::Line(line),
    );
    if let Some((f, label)) = &c.amdahl {
        let style = c.color.mix(0.8).stroke_width(1);
        chart.draw_series(DashedLineSeries::new(samples(f.as_ref()), 9, 5, style))?;
        legend.add(label.clone(), Mark::Dashed(style, 6));
    }
    if let Some((f, label)) = &c.usl {
        let style = c.color.mix(0.8).stroke_width(1);
        chart.draw_series(DashedLineSeries::new(samples(f.as_ref()), 2, 4, style))?;
        legend.add(label.clone(), Mark::Dashed(style, 2));
    }
    if !c.predicted.is_empty() {
        let style = c.color.mix(0.9).stroke_width(2);
        let inside = |y: f64| y.min(y_max);
        chart.draw_series(DashedLineSeries::new(
            c.predicted.iter().map(|p| (p.0, inside(p.1))),
            4,
            4,
            style,
        ))?;
        chart.draw_series(c.predicted.iter().map(|p| {
            ErrorBar::new_vertical(
                p.0,
                inside(p.2),
                inside(p.1),
                inside(p.3),
                c.color.mix(0.5).stroke_width(1),
                6,
            )
        }))?;
        legend.add(
            "  replayed, as many cores as workers (bars: interval)",
            Mark::Dashed(style, 4),
        );
    }
    chart.draw_series(LineSeries::new(
        c.marks.iter().map(|m| (m.workers, m.speedup)),
        line,
    ))?;
    chart.draw_series(c.marks.iter().map(|m| {
        ErrorBar::new_vertical(
            m.workers,
            m.lo,
            m.speedup,
            m.hi,
            c.color.stroke_width(1),
            10,
        )
    }))?;
    // Oversubscribed points are hollow: they measure time-sharing, not parallelism.
    chart.draw_series(c.marks.iter().map(|m| {
        let st = if m.oversubscribed {
            WHITE.filled()
        } else {
            c.color.filled()
        };
        EmptyElement::at((m.workers, m.speedup))
            + Circle::new((0, 0), 5, st)
            + Circle::new((0, 0), 5, c.color.stroke_width(2))
    }))?;
    Ok(())
}

/// 2 -> "2", 2.5 -> "2.5".
pub fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
