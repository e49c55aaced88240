//! Samplers: one update rule per file, and the chain that steps through them one t at a time.

pub mod ancestral;
pub mod chain;
pub mod ddim;
pub mod guided;

use burn::prelude::*;

use crate::model::mlp::Mlp;
use crate::schedule::Schedule;

/// Anything that predicts the noise ε̂(x_t, t) of a discrete DDPM chain.
pub trait EpsModel {
    /// `x_t`: [batch, 2], t ∈ 1..=T → ε̂: [batch, 2].
    fn eps(&self, x_t: Tensor<2>, t: usize) -> Tensor<2>;
}

/// The course's MLP as an ε-model: input (x_t, t̄) with t̄ = 2(t − T/2)/T.
pub struct MlpEps<'a> {
    pub mlp: &'a Mlp,
    pub schedule: &'a Schedule,
}

impl EpsModel for MlpEps<'_> {
    fn eps(&self, x_t: Tensor<2>, t: usize) -> Tensor<2> {
        let [batch, _] = x_t.dims();
        let t_bar = Tensor::full([batch, 1], self.schedule.t_bar(t), &x_t.device());
        self.mlp.forward(Tensor::cat(vec![x_t, t_bar], 1))
    }
}

/// Test oracles: exact ε-models of known targets.
#[cfg(test)]
pub(crate) mod exact {
    use super::*;

    /// The analytic ε of N(μ, s² I): the marginal at t is N(√ᾱ μ, (ᾱ s² + 1 − ᾱ) I), and
    /// ε̂ = −√(1−ᾱ) ∇log p_t = √(1−ᾱ) (x_t − √ᾱ μ) / (ᾱ s² + 1 − ᾱ).
    pub struct Gaussian<'a> {
        pub mu: [f32; 2],
        pub s: f64,
        pub schedule: &'a Schedule,
    }

    impl EpsModel for Gaussian<'_> {
        fn eps(&self, x_t: Tensor<2>, t: usize) -> Tensor<2> {
            let a = self.schedule.alpha_bar[t];
            let mu = Tensor::<1>::from_floats(self.mu, &x_t.device()).unsqueeze::<2>();
            let var = a * self.s * self.s + 1.0 - a;
            (x_t - mu.mul_scalar(a.sqrt())).mul_scalar((1.0 - a).sqrt() / var)
        }
    }
}
