//! Langevin corrector with the signal-to-noise step rule (Song et al. 2021, Algorithm 5 / appendix
//! G): at fixed t, ε = 2 (r ‖z‖ / ‖s‖)², x ← x + ε s(x, t) + √(2ε) z, with ‖·‖ the mean over the
//! batch of the per-sample norms and r the target signal-to-noise ratio (0.16 by default).

use burn::prelude::*;

use crate::sde::score::ScoreModel;

/// One Langevin step at time t.
pub fn langevin(model: &impl ScoreModel, x: Tensor<2>, t: f64, snr: f64, z: Tensor<2>) -> Tensor<2> {
    let score = model.score(x.clone(), t);
    let norm = |v: Tensor<2>| v.square().sum_dim(1).sqrt().mean();
    // ε = 2 (r ‖z‖/‖s‖)², computed on the device (no readback).
    let ratio = norm(z.clone()).div(norm(score.clone()).add_scalar(1e-12)).mul_scalar(snr);
    let eps = ratio.square().mul_scalar(2.0).unsqueeze::<2>();
    x + score * eps.clone() + z * eps.mul_scalar(2.0).sqrt()
}
