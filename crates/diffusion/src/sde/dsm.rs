//! Denoising score matching on continuous time (Song et al. 2021, eq. 7):
//!   θ* = argmin E_t { λ(t) E_{x_0} E_{x_t | x_0} ‖s_θ(x_t, t) − ∇ log p_{0t}(x_t | x_0)‖² },
//! t ~ U(t_min, 1), x_t = m(t) x_0 + s(t) z, ∇ log p_{0t} = −z/s(t). The network predicts
//! ε̂(x_t, t) and s_θ = −ε̂/s(t), so with λ = s(t)² the loss is ‖ε̂ − z‖² (the DDPM form), and with
//! the likelihood weighting λ = g(t)² (Song et al. 2021b) it is (g²/s²)‖ε̂ − z‖².
//! The network sees c_in(t) x_t with c_in = 1/√(m² + s²) (EDM's input scaling for data of unit
//! variance; 1 for VP) and the Fourier features γ(t).

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::fourier::{Fourier, FourierConfig};
use crate::objective::EpsBatch;
use crate::rng::Rng;
use crate::sde::Sde;

/// λ(t) of the objective.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weighting {
    /// λ = s(t)²: ‖ε̂ − z‖².
    #[default]
    Sigma2,
    /// λ = g(t)²: (g²/s²)‖ε̂ − z‖², which bounds the negative log-likelihood.
    Likelihood,
}

/// A continuous-time score model: its SDE, time embedding and training weighting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreConfig {
    pub sde: Sde,
    pub fourier: FourierConfig,
    #[serde(default)]
    pub weighting: Weighting,
}

impl ScoreConfig {
    pub fn new(sde: Sde) -> Self {
        Self { sde, fourier: FourierConfig::default(), weighting: Weighting::Sigma2 }
    }

    pub fn validate(&self) -> Result<()> {
        self.sde.validate()?;
        self.fourier.validate()
    }

    /// Columns of the network's input: x (2) and γ(t).
    pub fn input_width(&self) -> usize {
        2 + self.fourier.width()
    }

    /// c_in(t) = 1/√(m(t)² + s(t)²).
    pub fn c_in(&self, t: f64) -> f64 {
        let (m, s) = self.sde.marginal(t);
        1.0 / (m * m + s * s).sqrt()
    }

    /// λ(t)/s(t)², the factor in front of ‖ε̂ − z‖².
    pub fn weight(&self, t: f64) -> f64 {
        match self.weighting {
            Weighting::Sigma2 => 1.0,
            Weighting::Likelihood => self.sde.g2(t) / self.sde.marginal(t).1.powi(2),
        }
    }

    /// Draws `batch` triples (x_0 from `data`, t ~ U(t_min, 1), z ~ N(0, I)): network input rows
    /// (c_in x_t, γ(t)), the target z and the weight λ(t)/s(t)².
    pub fn draw(&self, fourier: &Fourier, data: &[[f32; 2]], batch: usize, rng: &mut Rng) -> EpsBatch {
        let width = self.input_width();
        let t_min = self.sde.t_min();
        let mut input = Vec::with_capacity(batch * width);
        let mut eps = Vec::with_capacity(batch * 2);
        let mut weight = Vec::with_capacity(batch);
        for _ in 0..batch {
            let x_0 = data[rng.below(data.len())];
            let t = t_min + (1.0 - t_min) * rng.uniform();
            let z = [rng.normal(), rng.normal()];
            let (m, s) = self.sde.marginal(t);
            let c_in = self.c_in(t);
            input.extend((0..2).map(|d| (c_in * (m * x_0[d] as f64 + s * z[d])) as f32));
            input.extend(fourier.embed(t));
            eps.extend(z.map(|v| v as f32));
            weight.push(self.weight(t) as f32);
        }
        let weight = (self.weighting != Weighting::Sigma2).then_some(weight);
        EpsBatch { input, width, eps, weight, batch }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_well_formed() {
        for sde in [Sde::vp(), Sde::sub_vp(), Sde::ve(10.0)] {
            let mut config = ScoreConfig::new(sde);
            let fourier = config.fourier.init().unwrap();
            let data = [[1.0f32, -1.0]];
            let batch = config.draw(&fourier, &data, 64, &mut Rng::new(0));
            assert_eq!((batch.input.len(), batch.eps.len(), batch.width), (64 * 34, 128, 34));
            assert!(batch.weight.is_none() && batch.input.iter().all(|v| v.is_finite()));
            config.weighting = Weighting::Likelihood;
            let batch = config.draw(&fourier, &data, 64, &mut Rng::new(0));
            assert!(batch.weight.unwrap().iter().all(|w| w.is_finite() && *w > 0.0));
        }
        // VP keeps unit variance, so c_in = 1; VE scales its inputs down by up to σ_max.
        assert!((ScoreConfig::new(Sde::vp()).c_in(0.6) - 1.0).abs() < 1e-12);
        assert!((ScoreConfig::new(Sde::ve(10.0)).c_in(1.0) - 1.0 / 101f64.sqrt()).abs() < 1e-3);
    }
}
