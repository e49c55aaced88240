//! The probability-flow ODE dx/dt = f(x, t) − ½ g(t)² s(x, t) (Song et al. 2021, eq. 13), which has
//! the same marginals as the SDE, integrated backwards in time with fixed-step Heun or RK4.

use burn::prelude::*;

use crate::sde::Sde;
use crate::sde::score::ScoreModel;

/// The ODE's drift at (x, t).
pub fn pf_drift(model: &impl ScoreModel, sde: &Sde, x: Tensor<2>, t: f64) -> Tensor<2> {
    let score = model.score(x.clone(), t);
    x.mul_scalar(sde.drift_coef(t)) - score.mul_scalar(0.5 * sde.g2(t))
}

/// Heun (2 evaluations): k₁ = v(x, t), k₂ = v(x + h k₁, t + h), x ← x + h (k₁ + k₂)/2, h = t' − t.
pub fn heun(model: &impl ScoreModel, sde: &Sde, x: Tensor<2>, t: f64, t_next: f64) -> Tensor<2> {
    let h = t_next - t;
    let k1 = pf_drift(model, sde, x.clone(), t);
    let k2 = pf_drift(model, sde, x.clone() + k1.clone().mul_scalar(h), t_next);
    x + (k1 + k2).mul_scalar(0.5 * h)
}

/// Classical RK4 (4 evaluations).
pub fn rk4(model: &impl ScoreModel, sde: &Sde, x: Tensor<2>, t: f64, t_next: f64) -> Tensor<2> {
    let h = t_next - t;
    let k1 = pf_drift(model, sde, x.clone(), t);
    let k2 = pf_drift(model, sde, x.clone() + k1.clone().mul_scalar(0.5 * h), t + 0.5 * h);
    let k3 = pf_drift(model, sde, x.clone() + k2.clone().mul_scalar(0.5 * h), t + 0.5 * h);
    let k4 = pf_drift(model, sde, x.clone() + k3.clone().mul_scalar(h), t_next);
    x + (k1 + k2.mul_scalar(2.0) + k3.mul_scalar(2.0) + k4).mul_scalar(h / 6.0)
}
