//! EDM's deterministic sampler (Karras et al. 2022, Algorithm 1) on any of our SDEs. In the scaled
//! variable x̃ = x/m(t) with noise level σ(t) = s(t)/m(t), the probability-flow ODE is
//! dx̃/dσ = (x̃ − D(x̃; σ))/σ, D the denoiser x̂₀. Heun steps on the grid
//!   σ_i = (σ_max^{1/ρ} + i/(N−1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ,  ρ = 7,  i = 0..N−1,
//! then one Euler step to σ = 0, which returns D: 2N − 1 evaluations.

use burn::prelude::*;

use crate::sde::Sde;
use crate::sde::dpm_solver::x0_hat;
use crate::sde::score::ScoreModel;

/// The times of the N noise levels σ_0 > … > σ_{N−1} between σ(t_max) and σ(t_min).
pub fn grid(sde: &Sde, n: usize) -> Vec<f64> {
    let (hi, lo) = (sde.sigma(sde.t_max()).powf(1.0 / 7.0), sde.sigma(sde.t_min()).powf(1.0 / 7.0));
    let n = n.max(2);
    (0..n).map(|i| sde.time_at_sigma((hi + i as f64 / (n - 1) as f64 * (lo - hi)).powi(7))).collect()
}

/// One Heun step from t to t_next (both on the grid), in x (not x̃); 2 evaluations.
pub fn heun(model: &impl ScoreModel, sde: &Sde, x: Tensor<2>, t: f64, t_next: f64) -> Tensor<2> {
    let (m, m_next) = (sde.marginal(t).0, sde.marginal(t_next).0);
    let (s, s_next) = (sde.sigma(t), sde.sigma(t_next));
    let x_tilde = x.clone().div_scalar(m);
    let d = (x_tilde.clone() - x0_hat(model, sde, x, t)).div_scalar(s);
    let euler = x_tilde.clone() + d.clone().mul_scalar(s_next - s);
    let d_next = (euler.clone() - x0_hat(model, sde, euler.mul_scalar(m_next), t_next)).div_scalar(s_next);
    (x_tilde + (d + d_next).mul_scalar(0.5 * (s_next - s))).mul_scalar(m_next)
}
