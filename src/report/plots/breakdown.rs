//! breakdown.svg: one stacked bar per point of where the workers' time went (on CPU, run queue,
//! IPC plumbing, locks, each shared sink, other waits), from the sampler's shares of their life.

use super::style::{self, block};
use super::{DrawResult, Inputs, Plot};
use crate::analyze::point::PointSummary;
use crate::analyze::waits::OffCpuKind;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub struct Breakdown;

/// Sinks get colours in this order, after the fixed classes.
const SINK_COLORS: [RGBColor; 4] = [
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
    RGBColor(140, 140, 40),
    RGBColor(86, 180, 233),
];
const ON_CPU: RGBColor = RGBColor(0, 158, 115);
const RUN_QUEUE: RGBColor = RGBColor(230, 159, 0);
const IPC: RGBColor = RGBColor(0, 114, 178);
const LOCKS: RGBColor = RGBColor(120, 94, 160);
const OTHER: RGBColor = RGBColor(190, 190, 190);

/// One bar: (segment label, share 0..1) bottom to top.
struct Bar {
    workers: String,
    params: String,
    segments: Vec<(String, f64)>,
}

fn share(map: Option<&std::collections::BTreeMap<OffCpuKind, f64>>, key: OffCpuKind) -> f64 {
    map.and_then(|m| m.get(&key)).copied().unwrap_or(0.0)
}

/// The segments of one point; None without the sampler's on-CPU share.
fn segments(s: &PointSummary) -> Option<Vec<(String, f64)>> {
    let on_cpu = s.on_cpu_share?;
    let off = s.offcpu.as_ref();
    let sinks = s.sinks.as_deref().unwrap_or_default();
    // Named unix sockets that are sinks (a database's socket) are not the pool's plumbing.
    let unix_sinks: f64 = sinks
        .iter()
        .filter(|k| k.resource.starts_with("unix:/"))
        .map(|k| k.wait_share)
        .sum();
    let ipc = share(off, OffCpuKind::PIPE) + (share(off, OffCpuKind::UNIX) - unix_sinks).max(0.0);
    let mut segs = vec![
        ("on CPU".to_string(), on_cpu),
        (
            "run queue (waiting for a CPU)".to_string(),
            s.runqueue_share.unwrap_or(0.0),
        ),
        ("IPC: pipes and socket pairs".to_string(), ipc),
        (
            "locks (futex, the GIL among them)".to_string(),
            share(off, OffCpuKind::FUTEX),
        ),
    ];
    segs.extend(
        sinks
            .iter()
            .map(|k| (format!("sink: {}", short(&k.resource)), k.wait_share)),
    );
    let known: f64 = segs.iter().map(|(_, v)| v).sum();
    segs.push((
        "other waits (sleep, poll, unsampled, ...)".into(),
        (1.0 - known).max(0.0),
    ));
    Some(segs)
}

fn bars(inp: &Inputs) -> Vec<Bar> {
    let mut order: Vec<usize> = (0..inp.m.points.len()).collect();
    // Grouped by series, then by workers, like the other plots' legend order.
    let series_of = |p: usize| inp.a.series.iter().position(|s| s.points.contains(&p));
    order.sort_by_key(|&p| (series_of(p), inp.m.points[p].workers));
    order
        .into_iter()
        .filter_map(|p| {
            let pm = &inp.m.points[p];
            let params: Vec<&str> = pm.params.values().map(String::as_str).collect();
            Some(Bar {
                workers: format!("{} w", pm.workers),
                params: params.join(","),
                segments: segments(&inp.a.points[p])?,
            })
        })
        .collect()
}

/// The colour of a segment by its label; sinks by their order of first appearance.
fn color_of(label: &str, sinks: &[String]) -> RGBColor {
    match label {
        l if l.starts_with("on CPU") => ON_CPU,
        l if l.starts_with("run queue") => RUN_QUEUE,
        l if l.starts_with("IPC") => IPC,
        l if l.starts_with("locks") => LOCKS,
        l if l.starts_with("sink") => {
            let i = sinks.iter().position(|s| s == l).unwrap_or(0);
            SINK_COLORS[i % SINK_COLORS.len()]
        }
        _ => OTHER,
    }
}

/// Keeps long resource names readable: the end of a path says most.
fn short(resource: &str) -> String {
    let chars: Vec<char> = resource.chars().collect();
    if chars.len() <= 32 {
        resource.to_string()
    } else {
        format!("…{}", chars[chars.len() - 31..].iter().collect::<String>())
    }
}

impl Plot for Breakdown {
    const NAME: &'static str = "breakdown";

    fn available(inp: &Inputs) -> bool {
        !bars(inp).is_empty()
    }

    fn draw<'a, DB: DrawingBackend + 'a>(
        inp: &Inputs,
        root: &'a DrawingArea<DB, Shift>,
    ) -> DrawResult<DB> {
        let bars = bars(inp);
        let mut sinks: Vec<String> = Vec::new();
        for (l, _) in bars.iter().flat_map(|b| &b.segments) {
            if l.starts_with("sink") && !sinks.contains(l) {
                sinks.push(l.clone());
            }
        }
        root.fill(&WHITE)?;
        let titled = root.titled("Where the workers' time went, per point", style::caption())?;
        let (left, right) = titled.split_horizontally(style::SIZE.0 as i32 - 250);
        let _ = &titled;
        let n = bars.len() as f64;
        let mut chart = ChartBuilder::on(&left)
            .margin(10)
            .x_label_area_size(52)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..n, 0f64..100f64)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(style::GRID)
            .x_desc("point (workers, params)")
            .y_desc("share of the workers' lifetime (%)")
            .axis_desc_style(style::label())
            .label_style(style::tick())
            .x_labels(0)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()?;
        for (i, bar) in bars.iter().enumerate() {
            let (x0, x1) = (i as f64 + 0.12, i as f64 + 0.88);
            let mut bottom = 0.0;
            for (label, share) in &bar.segments {
                let top = (bottom + share * 100.0).min(100.0);
                if top > bottom {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x0, bottom), (x1, top)],
                        color_of(label, &sinks).filled(),
                    )))?;
                }
                bottom = top;
            }
            // Two-line labels under each bar (plotters' tick labels are one line): the worker
            // count, then the params.
            let (cx, cy) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            let centered = style::tick().pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(
                bar.workers.clone(),
                (cx, cy + 6),
                centered.clone(),
            ))?;
            root.draw(&Text::new(bar.params.clone(), (cx, cy + 21), centered))?;
        }
        // The legend sits beside the bars, which fill the plot to 100 %.
        let mut labels: Vec<String> = Vec::new();
        for (l, v) in bars.iter().flat_map(|b| &b.segments) {
            if *v > 0.0005 && !labels.contains(l) {
                labels.push(l.clone());
            }
        }
        labels.sort_by_key(|l| std::cmp::Reverse(rank(l)));
        for (k, l) in labels.iter().enumerate() {
            let y = 30 + 22 * k as i32;
            right.draw(&(EmptyElement::at((6, y)) + block(color_of(l, &sinks))((0, 0))))?;
            right.draw(&Text::new(l.clone(), (24, y - 7), style::legend()))?;
        }
        Ok(())
    }
}

/// Stacking order, bottom first (the legend lists it top first, as the bars read).
fn rank(label: &str) -> u8 {
    match label {
        l if l.starts_with("on CPU") => 0,
        l if l.starts_with("run queue") => 1,
        l if l.starts_with("IPC") => 2,
        l if l.starts_with("locks") => 3,
        l if l.starts_with("sink") => 4,
        _ => 5,
    }
}
