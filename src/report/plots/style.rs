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
pub const SIZE: (u32, u32) = (800, 480);

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
