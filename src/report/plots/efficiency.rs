//! efficiency.svg: parallel efficiency per series (speedup / relative workers) and the marginal
//! efficiency of each step, against the rules that read them.

use super::draw_mesh;
use super::style::{self, Legend, Mark};
use super::{axis_top, DrawResult, Inputs, Plot};
use crate::diagnose::thresholds::{
    threads_scale_efficiency, THREADS_SCALE_MARGINAL, WORKER_STEP_MARGINAL_EFFICIENCY,
};
use plotters::coord::Shift;
use plotters::prelude::*;

pub struct Efficiency;

/// (workers, efficiency %, marginal efficiency % of the step that reached it) per point.
fn points(inp: &Inputs, s: &crate::analyze::Series) -> Vec<(f64, f64, Option<f64>)> {
    s.points
        .iter()
        .filter_map(|&p| {
            let sum = &inp.a.points[p];
            Some((
                f64::from(inp.m.points[p].workers),
                sum.efficiency? * 100.0,
                sum.marginal_efficiency.map(|e| e * 100.0),
            ))
        })
        .collect()
}

impl Plot for Efficiency {
    const NAME: &'static str = "efficiency";

    fn available(inp: &Inputs) -> bool {
        inp.series().any(|(_, s, _)| !points(inp, s).is_empty())
    }

    fn draw<'a, DB: DrawingBackend + 'a>(
        inp: &Inputs,
        root: &'a DrawingArea<DB, Shift>,
    ) -> DrawResult<DB> {
        let cores = f64::from(inp.cores());
        let all: Vec<_> = inp
            .series()
            .map(|(i, s, name)| (i, name, points(inp, s)))
            .collect();
        let max_n = all
            .iter()
            .flat_map(|(_, _, p)| p.iter().map(|x| x.0))
            .fold(1.0, f64::max);
        let x_max = max_n.max(cores) + 0.6;
        let top = all
            .iter()
            .flat_map(|(_, _, p)| p.iter().map(|x| x.1.max(x.2.unwrap_or(0.0))))
            .fold(100.0, f64::max);
        let bottom = all
            .iter()
            .flat_map(|(_, _, p)| p.iter().filter_map(|x| x.2))
            .fold(0.0, f64::min);
        let y_max = axis_top(top);
        let y_min = if bottom < 0.0 { bottom * 1.12 } else { 0.0 };

        root.fill(&WHITE)?;
        let mut legend = Legend::default();
        let mut groups = vec![4];
        groups.extend(
            all.iter()
                .map(|(_, _, p)| 1 + usize::from(p.iter().any(|x| x.2.is_some()))),
        );
        let (top, band) = root.split_vertically(style::SIZE.1 - Legend::height(&groups, 2));
        let mut chart = ChartBuilder::on(&top)
            .caption("Efficiency: speedup per worker added", style::caption())
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..x_max, y_min..y_max)?;
        draw_mesh(&mut chart, "workers (count)", "efficiency (%)", Some(x_max))?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(cores, y_min), (x_max, y_max)],
            style::OVERSUBSCRIBED.filled(),
        )))?;
        legend.add(
            format!("more workers than the {} physical cores", inp.cores()),
            Mark::Block(style::OVERSUBSCRIBED),
        );
        let rule = |y: f64| [(0.0, y), (x_max, y)];
        let ideal = style::INK.mix(0.6).stroke_width(1);
        chart.draw_series(LineSeries::new(rule(100.0), ideal))?;
        legend.add("ideal (100 %)", Mark::Line(ideal));
        let gate = style::INK.mix(0.5).stroke_width(1);
        // The threads' bar falls with n: each thread past the first must add half a core.
        let bar = (0..=40).map(|i| {
            let n = 1.0 + (x_max - 1.0) * f64::from(i) / 40.0;
            (n, threads_scale_efficiency(n) * 100.0)
        });
        chart.draw_series(DashedLineSeries::new(bar, 6, 4, gate))?;
        legend.add(
            format!(
                "threads scale above: each adds ≥ {THREADS_SCALE_MARGINAL} core (threads_scale)"
            ),
            Mark::Dashed(gate, 6),
        );
        chart.draw_series(DashedLineSeries::new(
            rule(WORKER_STEP_MARGINAL_EFFICIENCY.value * 100.0),
            2,
            4,
            gate,
        ))?;
        legend.add(
            format!(
                "a step pays at ≥ {:.0} % marginal (worker_count)",
                WORKER_STEP_MARGINAL_EFFICIENCY.value * 100.0
            ),
            Mark::Dashed(gate, 2),
        );
        for (i, name, pts) in &all {
            let color = style::series(*i);
            let line = color.stroke_width(2);
            chart.draw_series(LineSeries::new(pts.iter().map(|p| (p.0, p.1)), line))?;
            legend.group();
            legend.add(format!("{name}: efficiency"), Mark::Line(line));
            chart.draw_series(
                pts.iter()
                    .map(|p| Circle::new((p.0, p.1), 4, color.filled())),
            )?;
            let marginal: Vec<(f64, f64)> =
                pts.iter().filter_map(|p| p.2.map(|m| (p.0, m))).collect();
            if !marginal.is_empty() {
                let dash = color.mix(0.8).stroke_width(1);
                chart.draw_series(DashedLineSeries::new(marginal.clone(), 5, 4, dash))?;
                legend.add(
                    format!("{name}: marginal efficiency of each step"),
                    Mark::Dashed(dash, 5),
                );
                chart.draw_series(
                    marginal
                        .iter()
                        .map(|&p| TriangleMarker::new(p, 5, color.mix(0.8).filled())),
                )?;
            }
        }
        legend.draw(&band, 2)?;
        Ok(())
    }
}
