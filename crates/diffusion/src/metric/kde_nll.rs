//! The course grader: negative log-likelihood of samples under a Gaussian KDE of the data.
//!
//! scipy's `gaussian_kde` with Scott's bandwidth, in 2-D:
//!   H = Cov(data) (ddof = 1) · n^(−2/(d+4)) = Cov · n^(−1/3),
//!   log p̂(x) = log Σᵢ exp(−½ (x − xᵢ)ᵀ H⁻¹ (x − xᵢ)) − log n − ½ log det(2π H),
//!   NLL = −mean over samples of log p̂(x).
//! Reference: the 5000 STATES points scored against themselves give 2.152.

use crate::error::{Error, Result};

/// A Gaussian kernel density estimate with Scott's bandwidth, stored whitened: the kernel
/// covariance H = L Lᵀ, and the data kept as L⁻¹ xᵢ so a kernel is exp(−½‖L⁻¹x − L⁻¹xᵢ‖²).
#[derive(Clone, Debug)]
pub struct Kde {
    /// L⁻¹ (lower triangular, 2×2).
    l_inv: [[f64; 2]; 2],
    whitened: Vec<[f64; 2]>,
    /// −log n − ½ log det(2π H).
    log_norm: f64,
}

impl Kde {
    /// Fits the KDE on `data` (at least 3 points that are not all on a line).
    pub fn fit(data: &[[f32; 2]]) -> Result<Self> {
        let n = data.len();
        if n < 3 {
            return Err(Error::Config(format!("a KDE needs at least 3 points, got {n}")));
        }
        let nf = n as f64;
        let mean = data.iter().fold([0.0; 2], |m, p| [m[0] + p[0] as f64 / nf, m[1] + p[1] as f64 / nf]);
        let mut cov = [[0.0f64; 2]; 2];
        for p in data {
            let d = [p[0] as f64 - mean[0], p[1] as f64 - mean[1]];
            for (i, row) in cov.iter_mut().enumerate() {
                for (j, c) in row.iter_mut().enumerate() {
                    *c += d[i] * d[j] / (nf - 1.0);
                }
            }
        }
        // Scott's factor n^(−1/(d+4)) with d = 2, squared.
        let scale = nf.powf(-1.0 / 3.0);
        let h = [[cov[0][0] * scale, cov[0][1] * scale], [cov[1][0] * scale, cov[1][1] * scale]];
        // Cholesky H = L Lᵀ.
        let l00 = h[0][0].sqrt();
        let l10 = h[1][0] / l00;
        let l11_squared = h[1][1] - l10 * l10;
        if !(l00 > 0.0 && l11_squared > 1e-12 * h[1][1]) {
            return Err(Error::Config("the KDE's data covariance is singular".into()));
        }
        let l11 = l11_squared.sqrt();
        let l_inv = [[1.0 / l00, 0.0], [-l10 / (l00 * l11), 1.0 / l11]];
        let det_h = (l00 * l11).powi(2);
        let log_norm = -nf.ln() - 0.5 * ((std::f64::consts::TAU).powi(2) * det_h).ln();
        let mut kde = Self { l_inv, whitened: Vec::with_capacity(n), log_norm };
        kde.whitened = data.iter().map(|p| kde.whiten(p)).collect();
        Ok(kde)
    }

    /// (L⁻¹)ᵀ row-major: rows x [n, 2] times it are the whitened rows L⁻¹x.
    pub fn whitening_rows(&self) -> [f64; 4] {
        [self.l_inv[0][0], self.l_inv[1][0], self.l_inv[0][1], self.l_inv[1][1]]
    }

    /// −log n − ½ log det(2π H), so log p̂(x) = log Σᵢ exp(−½‖L⁻¹(x − xᵢ)‖²) + this.
    pub fn log_norm(&self) -> f64 {
        self.log_norm
    }

    /// Exact samples of the KDE: a data point plus N(0, H) noise, H = L Lᵀ.
    pub fn sample(&self, n: usize, rng: &mut crate::rng::Rng) -> Vec<[f32; 2]> {
        // L from L⁻¹ (both lower triangular).
        let [[a, _], [b, c]] = self.l_inv;
        let (l00, l11) = (1.0 / a, 1.0 / c);
        let l10 = -b * l00 * l11;
        (0..n)
            .map(|_| {
                let w = self.whitened[rng.below(self.whitened.len())];
                // x_i = L w_i; x = x_i + L z.
                let (z0, z1) = (w[0] + rng.normal(), w[1] + rng.normal());
                [(l00 * z0) as f32, (l10 * z0 + l11 * z1) as f32]
            })
            .collect()
    }

    fn whiten(&self, p: &[f32; 2]) -> [f64; 2] {
        let (x, y) = (p[0] as f64, p[1] as f64);
        [self.l_inv[0][0] * x, self.l_inv[1][0] * x + self.l_inv[1][1] * y]
    }

    /// log p̂(x), computed as a log-sum-exp shifted by the nearest kernel so far points stay finite.
    pub fn log_pdf(&self, p: &[f32; 2]) -> f64 {
        let q = self.whiten(p);
        let d2 = |w: &[f64; 2]| (q[0] - w[0]).powi(2) + (q[1] - w[1]).powi(2);
        let d2_min = self.whitened.iter().map(d2).fold(f64::INFINITY, f64::min);
        let sum: f64 = self.whitened.iter().map(|w| (-0.5 * (d2(w) - d2_min)).exp()).sum();
        sum.ln() - 0.5 * d2_min + self.log_norm
    }

    /// The grader: −mean log p̂ over `samples`. Non-finite samples are an error, not a NaN score.
    pub fn nll(&self, samples: &[[f32; 2]]) -> Result<f64> {
        if samples.is_empty() {
            return Err(Error::Config("no samples to score".into()));
        }
        if let Some(i) = samples.iter().position(|p| !(p[0].is_finite() && p[1].is_finite())) {
            return Err(Error::Config(format!("sample {i} is not finite: {:?}", samples[i])));
        }
        let total: f64 = samples.iter().map(|p| self.log_pdf(p)).sum();
        Ok(-total / samples.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::states::states;

    /// Samples of the KDE have the data's mean and the data's covariance inflated by the
    /// bandwidth, Cov · (1 + n^(−1/3)).
    #[test]
    fn samples_have_the_kde_moments() {
        let data = states().xy;
        let kde = Kde::fit(&data).unwrap();
        let samples = kde.sample(40_000, &mut crate::rng::Rng::new(2));
        let moments = |p: &[[f32; 2]]| {
            let n = p.len() as f64;
            let mean = [0, 1].map(|d| p.iter().map(|q| q[d] as f64).sum::<f64>() / n);
            let var = [0, 1].map(|d| p.iter().map(|q| (q[d] as f64 - mean[d]).powi(2)).sum::<f64>() / n);
            (mean, var)
        };
        let ((m_data, v_data), (m, v)) = (moments(&data), moments(&samples));
        let inflate = 1.0 + (data.len() as f64).powf(-1.0 / 3.0);
        for d in 0..2 {
            assert!((m[d] - m_data[d]).abs() < 0.03, "mean {d}: {} vs {}", m[d], m_data[d]);
            assert!((v[d] / (v_data[d] * inflate) - 1.0).abs() < 0.03, "var {d}: {} vs {}", v[d], v_data[d] * inflate);
        }
    }

    #[test]
    fn reproduces_the_course_reference_values() {
        let data = states();
        let kde = Kde::fit(&data.xy).unwrap();
        let nll = kde.nll(&data.xy).unwrap();
        assert!((nll - 2.152).abs() < 5e-4, "data vs itself: {nll}");
        let floors = [2.146, 1.999, 2.049, 2.446, 2.120];
        for (label, floor) in floors.iter().enumerate() {
            let nll = kde.nll(&data.with_label(label as u8).xy).unwrap();
            assert!((nll - floor).abs() < 5e-4, "label {label}: {nll} vs {floor}");
        }
    }

    #[test]
    fn matches_the_density_written_out() {
        // Three points: H = Cov (ddof 1) × 3^(−1/3) by hand, then Σᵢ N(x; xᵢ, H) / 3 by hand.
        let data = [[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]];
        let kde = Kde::fit(&data).unwrap();
        let scale = 3f64.powf(-1.0 / 3.0);
        // x: {0, 1, 0} → var 1/3; y: {0, 0, 2} → var 4/3; cov = −1/3.
        let (a, b, c) = (scale / 3.0, scale * 4.0 / 3.0, -scale / 3.0);
        let det = a * b - c * c;
        let query = [0.3, 0.7];
        let density: f64 = data
            .iter()
            .map(|p| {
                let (dx, dy) = (query[0] - p[0] as f64, query[1] - p[1] as f64);
                let m = (b * dx * dx - 2.0 * c * dx * dy + a * dy * dy) / det;
                (-0.5 * m).exp() / (std::f64::consts::TAU * det.sqrt())
            })
            .sum::<f64>()
            / 3.0;
        let got = kde.log_pdf(&[query[0] as f32, query[1] as f32]);
        assert!((got - density.ln()).abs() < 1e-6, "{got} vs {}", density.ln());
    }

    #[test]
    fn bad_input_is_an_error() {
        let kde = Kde::fit(&[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]).unwrap();
        assert!(kde.nll(&[[f32::NAN, 0.0]]).is_err());
        assert!(kde.nll(&[]).is_err());
        assert!(Kde::fit(&[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]).is_err());
        // A far-away point has a finite (huge) NLL rather than an infinite one.
        assert!(kde.nll(&[[1e4, 1e4]]).unwrap().is_finite());
    }
}
