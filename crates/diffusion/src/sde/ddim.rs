//! DDIM (Song, Meng & Ermon 2021) on the Gaussian kernel N(m(t) x_0, s(t)² I) of any of the SDEs,
//! from t down to t' with the score frozen at t:
//!   x̂₀ = (x + s² ∇log p)/m,  ε̂ = −s ∇log p,
//!   σ_η² = η² (s'²/s²)(s² − (m/m')² s'²)   (the posterior variance of q(x_{t'} | x_t, x_0), times η²),
//!   x' = m' x̂₀ + √(s'² − σ_η²) ε̂ + σ_η z.
//! η = 0 is deterministic (a first-order solver of the probability-flow ODE); for VP, η = 1 is
//! DDPM's ancestral step with the posterior variance β̃.

use burn::prelude::*;

use crate::sde::Sde;
use crate::sde::score::ScoreModel;

pub fn ddim(
    model: &impl ScoreModel,
    sde: &Sde,
    x: Tensor<2>,
    (t, t_next): (f64, f64),
    eta: f64,
    z: Option<Tensor<2>>,
) -> Tensor<2> {
    let ((m, s), (m_next, s_next)) = (sde.marginal(t), sde.marginal(t_next));
    let score = model.score(x.clone(), t);
    let x0 = sde.x0_from_score(x, score.clone(), t);
    let eps = score.mul_scalar(-s);
    let var = (eta * eta * (s_next * s_next / (s * s)) * (s * s - (m / m_next).powi(2) * s_next * s_next)).max(0.0);
    let mean = x0.mul_scalar(m_next) + eps.mul_scalar((s_next * s_next - var).max(0.0).sqrt());
    match z {
        Some(z) if var > 0.0 => mean + z.mul_scalar(var.sqrt()),
        _ => mean,
    }
}
