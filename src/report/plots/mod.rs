//! Plots of a report with plotters: scaling, efficiency, where the time went, and the busy
//! timeline of the largest point. SVG always (also inlined in report.html), PNG on request.

mod breakdown;
mod efficiency;
mod scaling;
pub mod style;
mod timeline;
mod waterfall;

use super::{Picture, Report};
use crate::analyze::{parallel_cores, Analysis, Series};
use crate::measure::Measurements;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// What a plot reads.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub m: &'a Measurements,
    pub a: &'a Analysis,
}

impl<'a> Inputs<'a> {
    pub fn of(report: &Report<'a>) -> Self {
        Inputs {
            m: report.measurements,
            a: report.analysis,
        }
    }

    /// Cores a CPU-bound pool can use in parallel (the physical-core boundary).
    pub fn cores(&self) -> u32 {
        parallel_cores(&self.m.host)
    }

    /// The series in report order with their display names.
    pub fn series(&self) -> impl Iterator<Item = (usize, &'a Series, String)> {
        self.a
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s, series_name(s)))
    }
}

/// "mode=threads, size=8" (or "measured" for a sweep without parameters).
pub fn series_name(s: &Series) -> String {
    if s.params.is_empty() {
        return "measured".into();
    }
    s.params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One plot: a file name and a drawing on any plotters backend.
trait Plot {
    /// The file name without extension ("scaling").
    const NAME: &'static str;
    /// Whether the inputs hold what this plot needs.
    fn available(inp: &Inputs) -> bool;
    fn draw<'a, DB: DrawingBackend + 'a>(
        inp: &Inputs,
        area: &'a DrawingArea<DB, Shift>,
    ) -> DrawResult<DB>;
}

/// A chart with f64 axes, as every plot here uses.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The grid, axis titles and tick labels every line plot shares; `worker_ticks` puts one x tick
/// per worker count up to `x_max` (at most 17).
fn draw_mesh<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    x_desc: &str,
    y_desc: &str,
    worker_ticks: Option<f64>,
) -> DrawResult<DB> {
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(TRANSPARENT)
        .bold_line_style(style::GRID)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style(style::label())
        .label_style(style::tick())
        .x_label_formatter(&tick_label)
        .y_label_formatter(&tick_label);
    if let Some(x_max) = worker_ticks {
        mesh.x_labels(((x_max as usize) + 1).min(17));
    }
    mesh.draw()
}

fn tick_label(x: &f64) -> String {
    scaling::trim(*x)
}

/// A rendered SVG plot, named by its file stem.
pub struct Svg {
    pub name: &'static str,
    pub svg: String,
}

fn svg<P: Plot>(inp: &Inputs) -> anyhow::Result<Option<Svg>> {
    if !P::available(inp) {
        return Ok(None);
    }
    style::register();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, style::SIZE).into_drawing_area();
        P::draw(inp, &root).map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", P::NAME))?;
        root.present()
            .map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", P::NAME))?;
    }
    Ok(Some(Svg {
        name: P::NAME,
        svg: out,
    }))
}

fn png<P: Plot>(inp: &Inputs) -> anyhow::Result<Option<Picture>> {
    if !P::available(inp) {
        return Ok(None);
    }
    style::register();
    let (w, h) = style::SIZE;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, style::SIZE).into_drawing_area();
        P::draw(inp, &root).map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", P::NAME))?;
        root.present()
            .map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", P::NAME))?;
    }
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&rgb)?;
    }
    Ok(Some(Picture {
        file: format!("{}.png", P::NAME),
        bytes,
    }))
}

/// Every plot the report's data allows, as SVG text (for files and for report.html).
pub fn svg_plots(report: &Report) -> anyhow::Result<Vec<Svg>> {
    let inp = Inputs::of(report);
    Ok([
        svg::<scaling::Scaling>(&inp)?,
        svg::<efficiency::Efficiency>(&inp)?,
        svg::<breakdown::Breakdown>(&inp)?,
        svg::<waterfall::Waterfall>(&inp)?,
        svg::<timeline::Timeline>(&inp)?,
    ]
    .into_iter()
    .flatten()
    .collect())
}

/// `<name>.svg` for every plot the data allows (and `<name>.png` with `png_too`), as files to
/// write.
pub fn plot_files(report: &Report, png_too: bool) -> anyhow::Result<Vec<Picture>> {
    let mut files: Vec<Picture> = svg_plots(report)?
        .into_iter()
        .map(|plot| Picture {
            file: format!("{}.svg", plot.name),
            bytes: plot.svg.into_bytes(),
        })
        .collect();
    if png_too {
        let inp = Inputs::of(report);
        files.extend(
            [
                png::<scaling::Scaling>(&inp)?,
                png::<efficiency::Efficiency>(&inp)?,
                png::<breakdown::Breakdown>(&inp)?,
                png::<waterfall::Waterfall>(&inp)?,
                png::<timeline::Timeline>(&inp)?,
            ]
            .into_iter()
            .flatten(),
        );
    }
    Ok(files)
}

/// The upper end of an axis holding values up to `max`: a little headroom, never empty.
fn axis_top(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * 1.12
    } else {
        1.0
    }
}
