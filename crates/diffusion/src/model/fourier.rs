//! Gaussian random Fourier features of a continuous time t (Tancik et al. 2020; Song et al. 2021's
//! `GaussianFourierProjection`): γ(t) = [sin(2π w_k t), cos(2π w_k t)]_k with w_k ~ N(0, scale²)
//! fixed at construction. The frequencies are drawn from a seed stored in the config, so a file
//! rebuilds them exactly and they are never trained.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Rng;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FourierConfig {
    /// Number of frequencies k (the embedding has 2k entries).
    pub frequencies: usize,
    /// Standard deviation of the frequencies (16 in Song et al.).
    pub scale: f64,
    pub seed: u64,
}

impl Default for FourierConfig {
    fn default() -> Self {
        Self { frequencies: 16, scale: 16.0, seed: 0 }
    }
}

impl FourierConfig {
    pub fn validate(&self) -> Result<()> {
        if !((1..=4096).contains(&self.frequencies) && self.scale > 0.0 && self.scale < 1e4) {
            return Err(Error::Config(format!("unreasonable Fourier features {self:?}")));
        }
        Ok(())
    }

    pub fn width(&self) -> usize {
        2 * self.frequencies
    }

    pub fn init(&self) -> Result<Fourier> {
        self.validate()?;
        let mut rng = Rng::new(self.seed ^ 0xf0u64.rotate_left(56));
        let w = (0..self.frequencies).map(|_| rng.normal() * self.scale).collect();
        Ok(Fourier { w })
    }
}

/// The fixed frequencies w_k.
#[derive(Clone, Debug)]
pub struct Fourier {
    w: Vec<f64>,
}

impl Fourier {
    /// γ(t) on the host: [sin(2π w t)…, cos(2π w t)…].
    pub fn embed(&self, t: f64) -> impl Iterator<Item = f32> + '_ {
        let angle = move |w: &f64| 2.0 * std::f64::consts::PI * w * t;
        let sin = self.w.iter().map(move |w| angle(w).sin() as f32);
        let cos = self.w.iter().map(move |w| angle(w).cos() as f32);
        sin.chain(cos)
    }

    /// γ(t) repeated for `n` rows: [n, 2k].
    pub fn rows(&self, t: f64, n: usize, device: &Device) -> Tensor<2> {
        let row: Vec<f32> = self.embed(t).collect();
        let width = row.len();
        Tensor::<2>::from_data(TensorData::new(row, [1, width]), device).repeat_dim(0, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_seeded_unit_and_distinguish_times() {
        let config = FourierConfig::default();
        let (a, b) = (config.init().unwrap(), config.init().unwrap());
        let at = |f: &Fourier, t| f.embed(t).collect::<Vec<f32>>();
        assert_eq!(at(&a, 0.3), at(&b, 0.3));
        // sin² + cos² = 1 per frequency, so ‖γ(t)‖² = k.
        let norm: f32 = at(&a, 0.7).iter().map(|v| v * v).sum();
        assert!((norm - 16.0).abs() < 1e-4);
        // With scale 16, nearby times already differ clearly.
        let d: f32 = at(&a, 0.50).iter().zip(at(&a, 0.51)).map(|(x, y)| (x - y).powi(2)).sum();
        assert!(d > 0.1, "{d}");
        let rows = a.rows(0.3, 4, &Device::flex());
        assert_eq!(rows.dims(), [4, 32]);
        assert!(FourierConfig { frequencies: 0, ..config }.init().is_err());
    }
}
