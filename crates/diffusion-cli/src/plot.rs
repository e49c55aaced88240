//! PNG plots drawn pixel by pixel: scatter plots of 2-D points and line charts of curves.
//! Small on purpose: a frame, ticks with numeric labels in a 3×5 pixel font, points and lines.

use std::path::Path;

pub type Rgb = [u8; 3];

pub const GREY: Rgb = [190, 190, 190];
pub const INK: Rgb = [40, 40, 40];
/// One colour per STATES label (Michigan, Idaho, Ohio, Oklahoma, Wisconsin).
pub const LABEL_COLOURS: [Rgb; 5] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189]];
pub const SAMPLE_COLOUR: Rgb = [214, 39, 40];

/// A rectangle of data space, mapped onto the canvas inside a margin.
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

pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<Rgb>,
    margin: usize,
    bounds: Bounds,
}

impl Canvas {
    pub fn new(width: usize, height: usize, bounds: Bounds) -> Self {
        let mut canvas = Self { width, height, pixels: vec![[255; 3]; width * height], margin: 44, bounds };
        canvas.frame();
        canvas
    }

    fn set(&mut self, x: i64, y: i64, colour: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            self.pixels[y as usize * self.width + x as usize] = colour;
        }
    }

    /// Data coordinates → pixel coordinates (y grows upwards in data space).
    fn to_pixel(&self, x: f64, y: f64) -> (f64, f64) {
        let (w, h, m) = (self.width as f64, self.height as f64, self.margin as f64);
        let px = m + (x - self.bounds.x.0) / (self.bounds.x.1 - self.bounds.x.0) * (w - 2.0 * m);
        let py = h - m - (y - self.bounds.y.0) / (self.bounds.y.1 - self.bounds.y.0) * (h - 2.0 * m);
        (px, py)
    }

    /// Fills the data-space rectangle between two corners.
    pub fn rect(&mut self, a: (f64, f64), b: (f64, f64), colour: Rgb) {
        let (p, q) = (self.to_pixel(a.0, a.1), self.to_pixel(b.0, b.1));
        let (x0, x1) = (p.0.min(q.0).round() as i64, p.0.max(q.0).round() as i64);
        let (y0, y1) = (p.1.min(q.1).round() as i64, p.1.max(q.1).round() as i64);
        for y in y0..y1 {
            for x in x0..x1 {
                self.set(x, y, colour);
            }
        }
    }

    /// The axes box with ticks and labels (drawn by `new`; draw again over filled areas).
    pub fn frame(&mut self) {
        let (w, h, m) = (self.width as i64, self.height as i64, self.margin as i64);
        for x in m..=w - m {
            self.set(x, m, INK);
            self.set(x, h - m, INK);
        }
        for y in m..=h - m {
            self.set(m, y, INK);
            self.set(w - m, y, INK);
        }
        for i in 0..=4 {
            let f = i as f64 / 4.0;
            let xv = self.bounds.x.0 + f * (self.bounds.x.1 - self.bounds.x.0);
            let yv = self.bounds.y.0 + f * (self.bounds.y.1 - self.bounds.y.0);
            let (px, _) = self.to_pixel(xv, 0.0);
            let (_, py) = self.to_pixel(0.0, yv);
            for d in 0..5 {
                self.set(px as i64, h - m + d, INK);
                self.set(m - d, py as i64, INK);
            }
            let label = tick_label(xv);
            self.text(px as i64 - text_width(&label) / 2, h - m + 8, &label);
            let label = tick_label(yv);
            self.text(m - 7 - text_width(&label), py as i64 - 5, &label);
        }
    }

    /// A filled disc of `radius` pixels at a data point.
    pub fn point(&mut self, x: f64, y: f64, radius: i64, colour: Rgb) {
        let (px, py) = self.to_pixel(x, y);
        let (px, py) = (px.round() as i64, py.round() as i64);
        for dy in -radius..=radius {
            for dx in -radius..=radius {
                if dx * dx + dy * dy <= radius * radius {
                    self.set(px + dx, py + dy, colour);
                }
            }
        }
    }

    /// A polyline through data points (non-finite points break the line).
    pub fn line(&mut self, points: &[(f64, f64)], colour: Rgb) {
        for pair in points.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            if !(x0.is_finite() && y0.is_finite() && x1.is_finite() && y1.is_finite()) {
                continue;
            }
            let (a, b) = (self.to_pixel(x0, y0), self.to_pixel(x1, y1));
            let n = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).clamp(1, 10_000);
            for i in 0..=n {
                let f = i as f64 / n as f64;
                let (x, y) = (a.0 + f * (b.0 - a.0), a.1 + f * (b.1 - a.1));
                self.set(x.round() as i64, y.round() as i64, colour);
                self.set(x.round() as i64, y.round() as i64 + 1, colour);
            }
        }
    }

    /// Text in the 3×5 font at twice its size, top-left at pixel (x, y).
    pub fn text(&mut self, x: i64, y: i64, text: &str) {
        for (i, ch) in text.chars().enumerate() {
            let rows = glyph(ch);
            for (r, bits) in rows.iter().enumerate() {
                for c in 0..3 {
                    if bits >> (2 - c) & 1 == 1 {
                        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                            self.set(x + i as i64 * 8 + c * 2 + dx, y + r as i64 * 2 + dy, INK);
                        }
                    }
                }
            }
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let pixels: Vec<u8> = self.pixels.iter().flatten().copied().collect();
        crate::files::write(path, png_bytes(&pixels, (self.width, self.height), png::ColorType::Rgb)?)
    }
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

fn text_width(text: &str) -> i64 {
    text.chars().count() as i64 * 8
}

fn tick_label(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e4 || v.abs() < 1e-2) { format!("{v:.1e}") } else { format!("{v:.2}") }
}

/// 3×5 bitmaps (one row per u8, high bit left) for digits and the few signs tick labels use.
fn glyph(ch: char) -> [u8; 5] {
    match ch {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 2, 2],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        'e' => [0, 7, 7, 4, 7],
        _ => [0; 5],
    }
}

/// The course figure: data in grey, samples on top.
pub fn scatter_over_data(
    path: &Path,
    data: &[[f32; 2]],
    samples: &[[f32; 2]],
    labels: Option<&[u8]>,
) -> Result<(), String> {
    let all = data.iter().chain(samples).map(|p| (p[0] as f64, p[1] as f64));
    let mut canvas = Canvas::new(800, 640, Bounds::around(all));
    for p in data {
        canvas.point(p[0] as f64, p[1] as f64, 1, GREY);
    }
    for (i, p) in samples.iter().enumerate() {
        let colour = labels.map_or(SAMPLE_COLOUR, |l| LABEL_COLOURS[l[i] as usize % 5]);
        canvas.point(p[0] as f64, p[1] as f64, 1, colour);
    }
    canvas.save(path)
}

/// Curves of (x, y) values in their colours, e.g. training and validation loss against the step.
pub fn curves(path: &Path, series: &[(&[(f64, f64)], Rgb)]) -> Result<(), String> {
    let all = series.iter().flat_map(|(points, _)| points.iter().copied());
    let mut canvas = Canvas::new(800, 480, Bounds::around(all));
    for (points, colour) in series {
        canvas.line(points, *colour);
    }
    canvas.save(path)
}

/// The classifier's prediction map: each grid cell tinted with its predicted state's colour, the
/// data on top in the full colours. `cells` is row-major from the top-left, as `Grid::points`.
pub fn prediction_map(
    path: &Path,
    x: (f64, f64),
    y: (f64, f64),
    (width, height): (usize, usize),
    cells: &[i64],
    data: &[[f32; 2]],
    labels: &[u8],
) -> Result<(), String> {
    let mut canvas = Canvas::new(640, 640, Bounds { x, y });
    let (dx, dy) = ((x.1 - x.0) / width as f64, (y.1 - y.0) / height as f64);
    for (i, &label) in cells.iter().enumerate() {
        let (col, row) = ((i % width) as f64, (i / width) as f64);
        let tint = LABEL_COLOURS[label.rem_euclid(5) as usize].map(|c| ((c as u16 + 2 * 255) / 3) as u8);
        canvas.rect((x.0 + col * dx, y.1 - (row + 1.0) * dy), (x.0 + (col + 1.0) * dx, y.1 - row * dy), tint);
    }
    for (p, &l) in data.iter().zip(labels) {
        canvas.point(p[0] as f64, p[1] as f64, 1, LABEL_COLOURS[l as usize % 5]);
    }
    canvas.frame();
    canvas.save(path)
}

/// Scatter panels (data in grey, samples on top) tiled `columns` wide, row by row, in one PNG.
pub fn scatter_grid(path: &Path, data: &[[f32; 2]], panels: &[Vec<[f32; 2]>], columns: usize) -> Result<(), String> {
    let (w, h) = (360, 300);
    let columns = columns.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns).max(1);
    let around: Vec<&[f32; 2]> =
        if data.is_empty() { panels.iter().flatten().collect() } else { data.iter().collect() };
    let bounds = Bounds::around(around.iter().map(|p| (p[0] as f64, p[1] as f64)));
    let bounds = Bounds { x: (bounds.x.0 - 0.5, bounds.x.1 + 0.5), y: (bounds.y.0 - 0.5, bounds.y.1 + 0.5) };
    let mut sheet = Canvas {
        width: w * columns,
        height: h * rows,
        pixels: vec![[255; 3]; w * columns * h * rows],
        margin: 0,
        bounds,
    };
    for (k, samples) in panels.iter().enumerate() {
        let mut panel = Canvas::new(w, h, bounds);
        for p in data {
            panel.point(p[0] as f64, p[1] as f64, 0, GREY);
        }
        for p in samples {
            panel.point(p[0] as f64, p[1] as f64, 0, SAMPLE_COLOUR);
        }
        let (x0, y0) = ((k % columns) * w, (k / columns) * h);
        for y in 0..h {
            let row = &panel.pixels[y * w..(y + 1) * w];
            let start = (y0 + y) * sheet.width + x0;
            sheet.pixels[start..start + w].copy_from_slice(row);
        }
    }
    sheet.save(path)
}
