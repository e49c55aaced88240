//! DPM-Solver++(2M) (Lu et al. 2022, arXiv 2211.01095, Algorithm 2): a second-order multistep
//! solver of the probability-flow ODE in the data prediction x̂₀ = (x + s(t)² ∇log p_t)/m(t) and
//! the half-log-SNR λ(t) = log(m(t)/s(t)). With h_i = λ_i − λ_{i−1}:
//!   x_i = (s_i/s_{i−1}) x_{i−1} − m_i (e^{−h_i} − 1) D_i,
//!   D_1 = x̂₀(x_0, t_0);  D_i = (1 + 1/(2r_i)) x̂₀_{i−1} − 1/(2r_i) x̂₀_{i−2},  r_i = h_{i−1}/h_i.
//! One score evaluation per step.

use burn::prelude::*;

use crate::sde::Sde;
use crate::sde::score::ScoreModel;

/// x̂₀ from the score: Tweedie's formula for the kernel N(m x₀, s² I).
pub fn x0_hat(model: &impl ScoreModel, sde: &Sde, x: Tensor<2>, t: f64) -> Tensor<2> {
    let (m, s) = sde.marginal(t);
    (x.clone() + model.score(x, t).mul_scalar(s * s)).div_scalar(m)
}

/// λ(t) = log(m(t)/s(t)), decreasing in t.
pub fn lambda(sde: &Sde, t: f64) -> f64 {
    let (m, s) = sde.marginal(t);
    (m / s).ln()
}

/// The t ∈ [0, 1] with λ(t) = `target` (bisection; λ is monotone).
pub fn t_of_lambda(sde: &Sde, target: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if lambda(sde, mid) > target { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// One step from t to t_next given this step's x̂₀ and the previous step's (t_prev, x̂₀) if any.
pub fn step(
    sde: &Sde,
    x: Tensor<2>,
    t: f64,
    t_next: f64,
    x0: Tensor<2>,
    previous: Option<(f64, Tensor<2>)>,
) -> Tensor<2> {
    let (m_next, s_next) = sde.marginal(t_next);
    let (_, s) = sde.marginal(t);
    let h = lambda(sde, t_next) - lambda(sde, t);
    let d = match previous {
        None => x0,
        Some((t_prev, x0_prev)) => {
            let r = (lambda(sde, t) - lambda(sde, t_prev)) / h;
            x0.mul_scalar(1.0 + 0.5 / r) - x0_prev.mul_scalar(0.5 / r)
        }
    };
    x.mul_scalar(s_next / s) - d.mul_scalar(m_next * ((-h).exp() - 1.0))
}
