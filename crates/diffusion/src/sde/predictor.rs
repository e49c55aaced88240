//! Predictors: one step of the reverse SDE dx = [f(x,t) − g(t)² s(x,t)] dt + g(t) dw̄ from t down to
//! t − Δ (Song et al. 2021, eq. 6). `z` is fresh N(0, I) noise, or `None` for the noiseless mean
//! (the last step).

use burn::prelude::*;

use crate::sde::Sde;
use crate::sde::score::ScoreModel;

/// Euler–Maruyama: x ← x − (a(t) x − g² s) Δ + g √Δ z, i.e. the reverse step below with the
/// Euler discretisation (a(t)Δ, g(t)²Δ).
pub fn euler_maruyama(
    model: &impl ScoreModel,
    sde: &Sde,
    x: Tensor<2>,
    t: f64,
    dt: f64,
    z: Option<Tensor<2>>,
) -> Tensor<2> {
    reverse_step(model, x, t, euler(sde, t, dt), z)
}

/// The Euler discretisation of the forward SDE over Δ: (a(t)Δ, g(t)²Δ).
fn euler(sde: &Sde, t: f64, dt: f64) -> (f64, f64) {
    (sde.drift_coef(t) * dt, sde.g2(t) * dt)
}

/// The forward chain's one-step discretisation x_{t} = x_{t−Δ} + f_Δ(x) + G_Δ z: (f_Δ's
/// coefficient on x, G_Δ²). VE: (0, σ(t)² − σ(t−Δ)²) (SMLD); VP: (√(1 − β(t)Δ) − 1, β(t)Δ)
/// (DDPM); sub-VP: Euler, (a(t)Δ, g(t)²Δ).
pub fn discretize(sde: &Sde, t: f64, dt: f64) -> (f64, f64) {
    match sde {
        Sde::Ve { .. } => (0.0, sde.sigma(t).powi(2) - sde.sigma(t - dt).powi(2)),
        Sde::Vp { .. } => {
            let beta_dt = sde.g2(t) * dt;
            ((1.0 - beta_dt).sqrt() - 1.0, beta_dt)
        }
        Sde::SubVp { .. } => euler(sde, t, dt),
    }
}

/// Reverse diffusion (Song et al. eq. 46): x ← x − f_Δ(x) + G_Δ² s(x, t) + G_Δ z.
pub fn reverse_diffusion(
    model: &impl ScoreModel,
    sde: &Sde,
    x: Tensor<2>,
    t: f64,
    dt: f64,
    z: Option<Tensor<2>>,
) -> Tensor<2> {
    reverse_step(model, x, t, discretize(sde, t, dt), z)
}

/// x ← x − f x + G² s(x, t) + G z for a discretisation (f, G²) of the forward step.
fn reverse_step(model: &impl ScoreModel, x: Tensor<2>, t: f64, (f, g2): (f64, f64), z: Option<Tensor<2>>) -> Tensor<2> {
    let score = model.score(x.clone(), t);
    let mean = x.clone() - x.mul_scalar(f) + score.mul_scalar(g2);
    match z {
        Some(z) => mean + z.mul_scalar(g2.sqrt()),
        None => mean,
    }
}
