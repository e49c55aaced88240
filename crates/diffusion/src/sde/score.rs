//! The one model interface of the SDE samplers and the likelihood: a score s(x, t) ≈ ∇ log p_t(x).

use burn::prelude::*;

use crate::sde::Sde;
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
