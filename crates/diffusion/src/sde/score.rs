//! The one model interface of the SDE samplers and the likelihood: a score s(x, t) ≈ ∇ log p_t(x).

use burn::prelude::*;

use crate::error::Result;
use crate::model::fourier::Fourier;
use crate::model::mlp::Mlp;
use crate::sde::Sde;
use crate::sde::dsm::{Prediction, ScoreConfig};
use crate::sde::mixture::Mixture;

pub trait ScoreModel {
    /// `x`: [n, 2] at time t ∈ [t_min, 1] → s: [n, 2].
    fn score(&self, x: Tensor<2>, t: f64) -> Tensor<2>;

    /// The score and, for a model with a learned variance (Nichol & Dhariwal §3.1), its
    /// interpolation v per coordinate, log σ² = v log β + (1 − v) log β̃, from one network pass.
    fn score_and_v(&self, x: Tensor<2>, t: f64) -> (Tensor<2>, Option<Tensor<2>>) {
        (self.score(x, t), None)
    }

    /// The probability-flow ODE's velocity dx/dt when the network predicts it itself (flow
    /// matching); `None`: the ODE solvers derive it from the score.
    fn velocity(&self, _x: Tensor<2>, _t: f64) -> Option<Tensor<2>> {
        None
    }
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
/// A DDPM network runs on its chain's process (`Sde::Ddpm`, exact at its steps: s(k/T)² = 1 − ᾱ_k):
/// step k of T is time t = k/T and its input t̄ = 2(k − T/2)/T becomes 2t − 1, so one trained
/// ε-model serves the chain's own ancestral and DDIM steps and every SDE sampler. A continuous-time
/// network (`sde::dsm`) takes (c_in(t) x, γ(t)).
pub struct EpsScore<'a> {
    pub mlp: &'a Mlp,
    pub sde: Sde,
    /// The continuous model's config and Fourier features; `None` for a DDPM network.
    pub continuous: Option<(&'a ScoreConfig, Fourier)>,
}

impl<'a> EpsScore<'a> {
    /// The ε-network `mlp` on `sde`: a DDPM network (`continuous` = `None`, input (x, 2t − 1)) or
    /// a continuous-time one with its input config.
    pub fn new(mlp: &'a Mlp, sde: Sde, continuous: Option<&'a ScoreConfig>) -> Result<Self> {
        let continuous = match continuous {
            Some(score) => Some((score, score.fourier.init()?)),
            None => None,
        };
        Ok(Self { mlp, sde, continuous })
    }

    /// ε̂(x, t).
    pub fn eps(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
        self.eps_and_v(x, t).0
    }

    /// ε̂(x, t) and, when the network outputs twice the data's width (a learned variance), its v:
    /// the first `dim` outputs are ε̂, the next `dim` are v. A velocity network's ε̂ is derived
    /// from its velocity ([`Prediction`]).
    pub fn eps_and_v(&self, x: Tensor<2>, t: f64) -> (Tensor<2>, Option<Tensor<2>>) {
        let (out, v) = self.output(x.clone(), t);
        match &self.continuous {
            Some((config, _)) => (config.eps_from_output(x, out, t), v),
            None => (out, v),
        }
    }

    /// The network's own outputs at (x, t): its prediction and a learned variance's v.
    fn output(&self, x: Tensor<2>, t: f64) -> (Tensor<2>, Option<Tensor<2>>) {
        let [n, dim] = x.dims();
        let input = match &self.continuous {
            None => Tensor::cat(vec![x.clone(), Tensor::full([n, 1], (2.0 * t - 1.0) as f32, &x.device())], 1),
            Some((config, fourier)) => Tensor::cat(
                vec![x.clone().mul_scalar(config.c_in(t)), fourier.rows(config.noise_input(t), n, &x.device())],
                1,
            ),
        };
        let out = self.mlp.forward(input);
        if out.dims()[1] == 2 * dim {
            (out.clone().narrow(1, 0, dim), Some(out.narrow(1, dim, dim)))
        } else {
            (out, None)
        }
    }
}

impl ScoreModel for EpsScore<'_> {
    fn score(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
        self.eps(x, t).div_scalar(-self.sde.marginal(t).1)
    }

    fn score_and_v(&self, x: Tensor<2>, t: f64) -> (Tensor<2>, Option<Tensor<2>>) {
        let (eps, v) = self.eps_and_v(x, t);
        (eps.div_scalar(-self.sde.marginal(t).1), v)
    }

    fn velocity(&self, x: Tensor<2>, t: f64) -> Option<Tensor<2>> {
        match &self.continuous {
            Some((config, _)) if config.prediction == Prediction::Velocity => Some(self.output(x, t).0),
            _ => None,
        }
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
        self.sde.score_from_x0(x.clone(), (self.x0)(x, t), t)
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
}
