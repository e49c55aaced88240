//! Grading STATES samples against the data: the course grader (mean −log KDE of the data; the data
//! scores 2.152), coverage (the data under a KDE of the samples) and precision (the share of
//! samples as close to the data as the data is to itself), with the KDE and radius fitted once.

use std::path::Path;

use diffusion::data::states::{Points, parse_points_csv, states};
use diffusion::metric::kde_nll::Kde;
use diffusion::metric::precision::{precision, support_radius};

pub struct Grader {
    pub data: Points,
    kde: Kde,
    radius: f32,
}

impl Grader {
    pub fn new() -> Result<Self, String> {
        let data = states();
        Ok(Self { kde: Kde::fit(&data.xy)?, radius: support_radius(&data.xy), data })
    }

    /// Grader NLL, coverage and precision of `xy`.
    pub fn grade(&self, xy: &[[f32; 2]]) -> Result<[f64; 3], String> {
        let data = &self.data.xy;
        Ok([self.kde.nll(xy)?, coverage(xy, data)?, precision(xy, data, self.radius)])
    }
}

pub fn eval_nll(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let samples = parse_points_csv(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let data = states().xy;
    let nll = Kde::fit(&data).and_then(|kde| kde.nll(&samples.xy))?;
    println!("{nll:.4}");
    match coverage(&samples.xy, &data) {
        Ok(coverage) => eprintln!("coverage (data under a KDE of the samples): {coverage:.4}"),
        Err(e) => eprintln!("coverage not computed: {e}"),
    }
    // Haze between the outlines, which both KDE numbers forgive (≈ 0.95 for a fresh draw of the data).
    let precision = precision(&samples.xy, &data, support_radius(&data));
    eprintln!("precision (samples as close to the data as the data to itself): {precision:.3}");
    Ok(())
}

/// The grader rewards samples piled on dense spots; the reverse direction (the data scored by a
/// KDE of the samples) punishes missing outlines and haze. The data on itself scores 2.152.
pub fn coverage(samples: &[[f32; 2]], data: &[[f32; 2]]) -> Result<f64, String> {
    Kde::fit(samples).and_then(|kde| kde.nll(data)).map_err(|e| e.to_string())
}
