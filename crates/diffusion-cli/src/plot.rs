//! The CLI's figures, drawn with `plotters` on its bitmap backend and encoded as PNG: scatter
//! plots of 2-D points over the data, loss curves, the classifier's prediction maps and grids of
//! scatter panels. Every figure has a title, axis titles, tick labels and a legend, in DejaVu Sans
//! embedded in the binary (the `dejavu` crate), so no system font is needed.

use std::path::Path;

use diffusion::data::states::STATE_NAMES;
use plotters::coord::Shift;
use plotters::prelude::*;

pub type Rgb = [u8; 3];

pub const GREY: Rgb = [190, 190, 190];
/// One colour per STATES label (Michigan, Idaho, Ohio, Oklahoma, Wisconsin).
pub const LABEL_COLOURS: [Rgb; 5] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189]];
pub const SAMPLE_COLOUR: Rgb = [214, 39, 40];

const FONT: &str = "sans-serif";

/// A figure's title and its axes' titles.
#[derive(Clone, Copy, Debug)]
pub struct Titles<'a> {
    pub title: &'a str,
    pub x: &'a str,
    pub y: &'a str,
}

impl<'a> Titles<'a> {
    /// A scatter plot of the plane: axes x and y.
    pub fn plane(title: &'a str) -> Self {
        Self { title, x: "x", y: "y" }
    }
}

/// A rectangle of data space.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub x: (f64, f64),
    pub y: (f64, f64),
}

impl Bounds {
    /// The smallest bounds holding all points, padded by 5% on each side.
    pub fn around(points: impl Iterator<Item = (f64, f64)>) -> Self {
        let mut b = Bounds { x: (f64::INFINITY, f64::NEG_INFINITY), y: (f64::INFINITY, f64::NEG_INFINITY) };
        for (x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
            b.x = (b.x.0.min(x), b.x.1.max(x));
            b.y = (b.y.0.min(y), b.y.1.max(y));
        }
        let pad = |(lo, hi): (f64, f64)| {
            if !lo.is_finite() {
                return (0.0, 1.0);
            }
            let d = ((hi - lo) * 0.05).max(1e-9);
            (lo - d, hi + d)
        };
        Bounds { x: pad(b.x), y: pad(b.y) }
    }
}

fn colour(c: Rgb) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

fn err(e: impl std::fmt::Debug) -> String {
    format!("plot: {e:?}")
}

/// Draws on a white `width × height` bitmap and writes it to `path` as a PNG.
fn render(
    path: &Path,
    (width, height): (usize, usize),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<(), String>,
) -> Result<(), String> {
    static FONT_ONCE: std::sync::Once = std::sync::Once::new();
    FONT_ONCE.call_once(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans is a valid font"));
    });
    let mut pixels = vec![255u8; width * height * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width as u32, height as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    crate::files::write(path, png_bytes(&pixels, (width, height), png::ColorType::Rgb)?)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A chart with a caption, axis titles and tick labels over `bounds`.
fn chart<'a, 'b>(
    area: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    titles: Titles,
    bounds: Bounds,
    caption_size: u32,
) -> Result<Chart<'a, 'b>, String> {
    let mut chart = ChartBuilder::on(area)
        .caption(titles.title, (FONT, caption_size))
        .margin(10)
        .x_label_area_size(if titles.x.is_empty() { 24 } else { 42 })
        .y_label_area_size(if titles.y.is_empty() { 40 } else { 62 })
        .build_cartesian_2d(bounds.x.0..bounds.x.1, bounds.y.0..bounds.y.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(titles.x)
        .y_desc(titles.y)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .x_labels(6)
        .y_labels(6)
        .draw()
        .map_err(err)?;
    Ok(chart)
}

fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 13))
        .draw()
        .map_err(err)
}

/// Points as filled dots of `radius` px, with a legend entry.
fn dots<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    points: &[(f64, f64)],
    radius: u32,
    c: Rgb,
    name: &str,
) -> Result<(), String> {
    let style = colour(c).filled();
    let series = chart.draw_series(points.iter().map(|&p| Circle::new(p, radius, style))).map_err(err)?;
    if !name.is_empty() {
        series.label(name).legend(move |(x, y)| Circle::new((x + 8, y), 4, style));
    }
    Ok(())
}

fn xy(points: &[[f32; 2]]) -> Vec<(f64, f64)> {
    points.iter().map(|p| (p[0] as f64, p[1] as f64)).collect()
}

/// The points whose label is state `l` (labels taken mod 5, as the colours are).
fn of_state(points: &[[f32; 2]], labels: &[u8], l: usize) -> Vec<(f64, f64)> {
    let mine: Vec<[f32; 2]> =
        points.iter().zip(labels).filter(|&(_, &k)| k as usize % 5 == l).map(|(p, _)| *p).collect();
    xy(&mine)
}

/// The course figure: data in grey, samples on top (in their state's colour when labelled).
pub fn scatter_over_data(
    path: &Path,
    titles: Titles,
    data: &[[f32; 2]],
    samples: &[[f32; 2]],
    labels: Option<&[u8]>,
) -> Result<(), String> {
    let (data_xy, samples_xy) = (xy(data), xy(samples));
    let bounds = Bounds::around(data_xy.iter().chain(&samples_xy).copied());
    render(path, (800, 640), |root| {
        let mut chart = chart(root, titles, bounds, 22)?;
        dots(&mut chart, &data_xy, 1, GREY, if data.is_empty() { "" } else { "data" })?;
        match labels {
            None => dots(&mut chart, &samples_xy, 1, SAMPLE_COLOUR, &format!("samples ({})", samples.len()))?,
            Some(labels) => {
                for (l, name) in STATE_NAMES.iter().enumerate() {
                    let mine = of_state(samples, labels, l);
                    if !mine.is_empty() {
                        dots(&mut chart, &mine, 1, LABEL_COLOURS[l], &format!("{name} ({})", mine.len()))?;
                    }
                }
            }
        }
        legend(&mut chart)
    })
}

/// A named curve of (x, y) values in its colour.
pub type Series<'a> = (&'a str, &'a [(f64, f64)], Rgb);

/// The paths of samples through the sampler's steps, from the prior (small dots) to their ends
/// (red), over the data: how straight the sampler's flow is.
pub fn trails(path: &Path, titles: Titles, data: &[[f32; 2]], paths: &[Vec<[f32; 2]>]) -> Result<(), String> {
    let data_xy = xy(data);
    let ends: Vec<(f64, f64)> = paths.iter().filter_map(|p| p.last()).map(|p| (p[0] as f64, p[1] as f64)).collect();
    let starts: Vec<(f64, f64)> = paths.iter().filter_map(|p| p.first()).map(|p| (p[0] as f64, p[1] as f64)).collect();
    let bounds = Bounds::around(data_xy.iter().chain(&ends).chain(&starts).copied());
    render(path, (800, 640), |root| {
        let mut chart = chart(root, titles, bounds, 22)?;
        dots(&mut chart, &data_xy, 1, GREY, "data")?;
        let line = colour(LABEL_COLOURS[0]).mix(0.35);
        for trail in paths {
            chart.draw_series(LineSeries::new(xy(trail), line.stroke_width(1))).map_err(err)?;
        }
        dots(&mut chart, &starts, 1, [31, 119, 180], &format!("noise ({})", starts.len()))?;
        dots(&mut chart, &ends, 2, SAMPLE_COLOUR, "ends")?;
        legend(&mut chart)
    })
}

/// Named curves in their colours, e.g. training and validation loss by step.
pub fn curves(path: &Path, titles: Titles, series: &[Series]) -> Result<(), String> {
    let bounds = Bounds::around(series.iter().flat_map(|(_, points, _)| points.iter().copied()));
    render(path, (800, 480), |root| {
        let mut chart = chart(root, titles, bounds, 20)?;
        for &(name, points, c) in series.iter().filter(|(_, points, _)| !points.is_empty()) {
            let style = colour(c).stroke_width(2);
            let finite = points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite());
            chart
                .draw_series(LineSeries::new(finite, style))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
        }
        legend(&mut chart)
    })
}

/// The classifier's prediction map: each grid cell tinted with its predicted state's colour, the
/// data on top in the full colours. `cells` is row-major from the top-left, as `Grid::points`.
pub fn prediction_map(
    path: &Path,
    titles: Titles,
    bounds: Bounds,
    (width, height): (usize, usize),
    cells: &[i64],
    (data, labels): (&[[f32; 2]], &[u8]),
) -> Result<(), String> {
    let (x, y) = (bounds.x, bounds.y);
    render(path, (680, 640), |root| {
        let mut chart = chart(root, titles, bounds, 20)?;
        let (dx, dy) = ((x.1 - x.0) / width as f64, (y.1 - y.0) / height as f64);
        let cell = |(i, &label): (usize, &i64)| {
            let (col, row) = ((i % width) as f64, (i / width) as f64);
            let tint = LABEL_COLOURS[label.rem_euclid(5) as usize].map(|c| ((c as u16 + 2 * 255) / 3) as u8);
            let corners = [(x.0 + col * dx, y.1 - (row + 1.0) * dy), (x.0 + (col + 1.0) * dx, y.1 - row * dy)];
            Rectangle::new(corners, colour(tint).filled())
        };
        chart.draw_series(cells.iter().enumerate().map(cell)).map_err(err)?;
        for (l, name) in STATE_NAMES.iter().enumerate() {
            dots(&mut chart, &of_state(data, labels, l), 1, LABEL_COLOURS[l], name)?;
        }
        legend(&mut chart)
    })
}

/// Scatter panels (data in grey, samples on top) tiled `columns` wide, row by row, in one PNG,
/// each under its own caption, the sheet under `title`.
pub fn scatter_grid(
    path: &Path,
    title: &str,
    data: &[[f32; 2]],
    panels: &[(String, Vec<[f32; 2]>)],
    columns: usize,
) -> Result<(), String> {
    let (w, h) = (360, 300);
    let columns = columns.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns).max(1);
    let around: Vec<[f32; 2]> =
        if data.is_empty() { panels.iter().flat_map(|(_, p)| p.iter().copied()).collect() } else { data.to_vec() };
    let bounds = Bounds::around(xy(&around).into_iter());
    let data = xy(data);
    let bounds = Bounds { x: (bounds.x.0 - 0.5, bounds.x.1 + 0.5), y: (bounds.y.0 - 0.5, bounds.y.1 + 0.5) };
    render(path, (w * columns, h * rows + 40), |root| {
        let (top, sheet) = root.split_vertically(40);
        top.titled(title, (FONT, 22)).map_err(err)?;
        for ((caption, samples), area) in panels.iter().zip(sheet.split_evenly((rows, columns))) {
            let mut chart = chart(&area, Titles { title: caption, x: "", y: "" }, bounds, 15)?;
            dots(&mut chart, &data, 0, GREY, "")?;
            dots(&mut chart, &xy(samples), 0, SAMPLE_COLOUR, "")?;
        }
        Ok(())
    })
}

/// 8-bit pixels, row by row, encoded as a PNG file's bytes.
pub fn png_bytes(pixels: &[u8], (width, height): (usize, usize), color: png::ColorType) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width as u32, height as u32);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(pixels).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(bytes)
}
