//! The plots' shared look: the vendored font, the canvas size, the palette and line styles.
//!
//! The font is compiled in and registered with plotters' ab_glyph backend, so text renders in
//! PNG on a host with no fonts installed; SVG text names `sans-serif` and the viewer draws it.

use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use plotters_backend::{BackendCoord, DrawingErrorKind};
use std::sync::Once;

/// DejaVu Sans cut down to Latin-1, Greek, arrows and math signs (assets/fonts/README.md).
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-subset.ttf");

/// The family every plot uses; the one registered with the ab_glyph backend.
pub const FAMILY: &str = "sans-serif";

/// Plots are drawn for a page about 800 px wide (the HTML report scales them to fit).
pub const SIZE: (u32, u32) = (800, 520);

pub const CAPTION_PX: u32 = 20;
pub const LABEL_PX: u32 = 14;
pub const TICK_PX: u32 = 12;
pub const LEGEND_PX: u32 = 12;

/// Registers the vendored font once per process (plotters keeps a global font table).
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TTF checked in with the repository; a failure here would mean
        // a corrupted checkout, and every PNG would then fail with FontUnavailable.
        if register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            eprintln!("forkcast: the vendored font did not load; PNG plots will lack text");
        }
    });
}

/// Colour-blind safe palette (Okabe–Ito), one colour per series in order.
pub const SERIES: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // green
    RGBColor(204, 121, 167), // purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(140, 140, 40),  // olive
];

pub const INK: RGBColor = RGBColor(40, 40, 40);
pub const GRID: RGBColor = RGBColor(225, 225, 225);
/// Backdrop of the oversubscribed region (more workers than cores).
pub const OVERSUBSCRIBED: RGBColor = RGBColor(245, 235, 225);

/// The colour of series `i`.
pub fn series(i: usize) -> RGBColor {
    SERIES[i % SERIES.len()]
}

pub fn caption() -> TextStyle<'static> {
    (FAMILY, CAPTION_PX).into_font().color(&INK)
}

pub fn label() -> TextStyle<'static> {
    (FAMILY, LABEL_PX).into_font().color(&INK)
}

pub fn tick() -> TextStyle<'static> {
    (FAMILY, TICK_PX).into_font().color(&INK)
}

pub fn legend() -> TextStyle<'static> {
    (FAMILY, LEGEND_PX).into_font().color(&INK)
}

/// A short legend swatch: a line segment in `style`.
pub fn swatch(style: ShapeStyle) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style)
}

/// A dashed legend swatch (three dashes of `dash` px), matching a DashedLineSeries.
pub fn dashed(style: ShapeStyle, dash: i32) -> impl Fn((i32, i32)) -> Dashes {
    move |at| Dashes { at, style, dash }
}

/// The element behind [`dashed`]: plotters' legend takes one element per entry, and a
/// composed or boxed one would tie the backend to `'static`.
pub struct Dashes {
    at: (i32, i32),
    style: ShapeStyle,
    dash: i32,
}

impl<'a> PointCollection<'a, (i32, i32)> for &'a Dashes {
    type Point = &'a (i32, i32);
    type IntoIter = std::iter::Once<&'a (i32, i32)>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<DB: DrawingBackend> Drawable<DB> for Dashes {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((x, y)) = pos.next() else {
            return Ok(());
        };
        let gap = if self.dash <= 3 { 3 } else { 4 };
        let mut from = x;
        while from < x + 18 {
            backend.draw_line((from, y), ((from + self.dash).min(x + 18), y), &self.style)?;
            from += self.dash + gap;
        }
        Ok(())
    }
}

/// A legend swatch for a filled area (a small square).
pub fn block(color: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
}

/// How a legend entry is marked.
#[derive(Clone, Copy)]
pub enum Mark {
    Line(ShapeStyle),
    /// A dashed line with dashes this many px long.
    Dashed(ShapeStyle, i32),
    /// A filled square (areas, bars, shaded regions).
    Block(RGBColor),
}

/// A legend drawn in a band under the plot, in columns, so it never covers the data. Entries
/// come in groups (the reference lines, then one group per series) and a group never splits
/// across columns.
#[derive(Default)]
pub struct Legend {
    groups: Vec<Vec<(String, Mark)>>,
}

/// Height of one legend row, px.
const LEGEND_ROW_PX: u32 = 18;

/// Puts groups of these sizes into `columns` columns: the column of each group.
fn layout(sizes: &[usize], columns: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    let target = total
        .div_ceil(columns.max(1))
        .max(sizes.iter().copied().max().unwrap_or(0));
    let (mut col, mut rows) = (0, 0);
    sizes
        .iter()
        .map(|&n| {
            if rows > 0 && rows + n > target && col + 1 < columns {
                col += 1;
                rows = 0;
            }
            rows += n;
            col
        })
        .collect()
}

/// Rows of the tallest column.
fn rows_needed(sizes: &[usize], columns: usize) -> usize {
    let cols = layout(sizes, columns);
    (0..columns.max(1))
        .map(|c| {
            sizes
                .iter()
                .zip(&cols)
                .filter(|(_, &k)| k == c)
                .map(|(n, _)| n)
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0)
}

impl Legend {
    /// Starts a new group; entries added after it stay together.
    pub fn group(&mut self) {
        self.groups.push(Vec::new());
    }

    pub fn add(&mut self, label: impl Into<String>, mark: Mark) {
        if self.groups.is_empty() {
            self.groups.push(Vec::new());
        }
        if let Some(g) = self.groups.last_mut() {
            g.push((label.into(), mark));
        }
    }

    /// The band's height for groups of `sizes` entries in `columns` columns.
    pub fn height(sizes: &[usize], columns: usize) -> u32 {
        rows_needed(sizes, columns) as u32 * LEGEND_ROW_PX + 12
    }

    /// Draws the groups into `columns` columns.
    pub fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, plotters::coord::Shift>,
        columns: usize,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let columns = columns.max(1);
        let groups: Vec<&Vec<(String, Mark)>> =
            self.groups.iter().filter(|g| !g.is_empty()).collect();
        let sizes: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        let cols = layout(&sizes, columns);
        let col_px = (area.dim_in_pixel().0 as i32 - 80) / columns as i32;
        let mut rows = vec![0i32; columns];
        let text = legend().pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Left,
            plotters::style::text_anchor::VPos::Center,
        ));
        for (g, &col) in groups.iter().zip(&cols) {
            for (label, mark) in g.iter() {
                let x = 70 + col as i32 * col_px;
                let y = 8 + rows[col] * LEGEND_ROW_PX as i32 + LEGEND_ROW_PX as i32 / 2;
                rows[col] += 1;
                match *mark {
                    Mark::Line(st) => area.draw(&swatch(st)((x, y)))?,
                    Mark::Dashed(st, dash) => area.draw(&dashed(st, dash)((x, y)))?,
                    Mark::Block(c) => area.draw(&block(c)((x + 3, y)))?,
                }
                area.draw(&Text::new(label.clone(), (x + 26, y), text.clone()))?;
            }
        }
        Ok(())
    }
}
