//! The one model interface of the SDE samplers and the likelihood: a score s(x, t) ≈ ∇ log p_t(x).

use burn::prelude::*;

use crate::checkpoint::{Checkpoint, CheckpointConfig};
use crate::error::Result;
use crate::model::fourier::Fourier;
use crate::model::mlp::Mlp;
use crate::schedule::{BetaSchedule, ScheduleConfig};
use crate::sde::Sde;
use crate::sde::dsm::ScoreConfig;
use crate::sde::mixture::Mixture;

pub trait ScoreModel {
    /// `x`: [n, 2] at time t ∈ [t_min, 1] → s: [n, 2].
    fn score(&self, x: Tensor<2>, t: f64) -> Tensor<2>;
}

/// The exact score of an analytic mixture perturbed by `sde`.
pub struct MixtureScore<'a> {
    pub mixture: &'a Mixture,
    pub sde: &'a Sde,
}

impl ScoreModel for MixtureScore<'_> {
    fn score(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
        self.mixture.score(self.sde, x, t)
    }
}

/// An ε-network as a score: ε̂ = −s(t) ∇ log p_t gives s(x, t) = −ε̂/s(t).
/// A DDPM network is the score of the VP SDE its chain discretises (Song et al. 2021, appendix B):
/// step t_d of T is time t = t_d/T and its input t̄ = 2(t_d − T/2)/T becomes 2t − 1, so one trained
/// ε-model serves the ancestral chain and every SDE sampler. A continuous-time network (`sde::dsm`)
/// takes (c_in(t) x, γ(t)).
pub struct EpsScore<'a> {
    pub mlp: &'a Mlp,
    pub sde: Sde,
    /// The continuous model's config and Fourier features; `None` for a DDPM network.
    pub continuous: Option<(&'a ScoreConfig, Fourier)>,
}

impl<'a> EpsScore<'a> {
    /// The score of a loaded denoiser file, on the SDE it was trained for.
    pub fn of(checkpoint: &'a Checkpoint) -> Result<Self> {
        Self::new(&checkpoint.mlp, &checkpoint.config)
    }

    /// The score of a denoiser network with its file's config.
    pub fn new(mlp: &'a Mlp, config: &'a CheckpointConfig) -> Result<Self> {
        let continuous = match &config.score {
            Some(score) => Some((score, score.fourier.init()?)),
            None => None,
        };
        Ok(Self { mlp, sde: config.sde(), continuous })
    }

    /// ε̂(x, t).
    pub fn eps(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
        let [n, _] = x.dims();
        let input = match &self.continuous {
            None => Tensor::cat(vec![x.clone(), Tensor::full([n, 1], (2.0 * t - 1.0) as f32, &x.device())], 1),
            Some((config, fourier)) => Tensor::cat(
                vec![x.clone().mul_scalar(config.c_in(t)), fourier.rows(config.noise_input(t), n, &x.device())],
                1,
            ),
        };
        self.mlp.forward(input)
    }
}

impl ScoreModel for EpsScore<'_> {
    fn score(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
        self.eps(x, t).div_scalar(-self.sde.marginal(t).1)
    }
}

/// An x₀-prediction x̂₀(x, t) ≈ E[x_0 | x_t = x] as a score, by Tweedie's formula:
/// s(x, t) = (m(t) x̂₀ − x)/s(t)².
pub struct X0Score<F: Fn(Tensor<2>, f64) -> Tensor<2>> {
    pub x0: F,
    pub sde: Sde,
}

impl<F: Fn(Tensor<2>, f64) -> Tensor<2>> ScoreModel for X0Score<F> {
    fn score(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
        let (m, s) = self.sde.marginal(t);
        ((self.x0)(x.clone(), t).mul_scalar(m) - x).div_scalar(s * s)
    }
}

impl Sde {
    /// The VP SDE of a discrete DDPM chain: β_i = β(i/T)/T, so β_min = T β_1 and β_max = T β_T
    /// (T = 500, β 1e-4 → 0.02 gives β_min = 0.05, β_max = 10).
    pub fn from_ddpm(schedule: &ScheduleConfig) -> Self {
        let BetaSchedule::Linear { beta_1, beta_t } = schedule.betas;
        let t = schedule.steps as f64;
        Sde::Vp { beta_min: beta_1 * t, beta_max: beta_t * t }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The x₀ adapter inverts Tweedie's formula: feeding it x̂₀ = (x + s² ∇log p)/m of the exact
    /// mixture score gives that score back.
    #[test]
    fn x0_adapter_recovers_the_score() {
        let device = Device::flex();
        let mixture = Mixture::circle(8, 4.0, 0.3);
        for sde in [Sde::vp(), Sde::ve(10.0), Sde::sub_vp()] {
            let exact = MixtureScore { mixture: &mixture, sde: &sde };
            let x0 = |x: Tensor<2>, t: f64| {
                let (m, s) = sde.marginal(t);
                (x.clone() + exact.score(x, t).mul_scalar(s * s)).div_scalar(m)
            };
            let adapter = X0Score { x0, sde };
            let x = Tensor::<2>::from_floats([[3.0, 1.0], [-2.0, 0.5]], &device);
            let (a, b) = (adapter.score(x.clone(), 0.4), exact.score(x, 0.4));
            let gap: f32 = (a - b.clone()).abs().max().into_scalar();
            let size: f32 = b.abs().max().into_scalar();
            assert!(gap < 1e-4 * size.max(1.0), "{sde:?}: {gap}");
        }
    }

    /// The continuous VP marginal of the course schedule tracks the discrete chain's ᾱ.
    #[test]
    fn ddpm_chain_is_a_vp_discretisation() {
        let config = ScheduleConfig::default();
        let schedule = config.init().unwrap();
        let sde = Sde::from_ddpm(&config);
        for t_d in [1, 50, 250, 500] {
            let (m, s) = sde.marginal(t_d as f64 / config.steps as f64);
            let a = schedule.alpha_bar[t_d];
            // Π(1 − β_i) against exp(−∫β): within 4% relative (measured 3.4% at t = T, where ᾱ ≈ 0.006).
            assert!((m * m - a).abs() < 0.04 * a + 1e-4, "t {t_d}: m² {} vs ᾱ {a}", m * m);
            assert!((s * s - (1.0 - a)).abs() < 0.01, "t {t_d}");
        }
    }
}
