//! Predictors: one step of the reverse SDE dx = [f(x,t) − g(t)² s(x,t)] dt + g(t) dw̄ from t down to
//! t − Δ (Song et al. 2021, eq. 6). `z` is fresh N(0, I) noise, or `None` for the noiseless mean
//! (the last step).

use burn::prelude::*;

use crate::sde::Sde;
use crate::sde::method::Variance;
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
/// coefficient on x, G_Δ²). VE: (0, σ(t)² − σ(t−Δ)²) (SMLD); VP: (√(1 − β_Δ) − 1, β_Δ) (DDPM) with
/// 1 − β_Δ = m(t)²/m(t−Δ)² = e^{−∫β}, which equals Song et al.'s β(t)Δ to first order and stays in
/// (0, 1) on coarse grids, where β(t)Δ > 1 would make √(1 − β(t)Δ) NaN; sub-VP and the flow path: Euler, (a(t)Δ, g(t)²Δ).
pub fn discretize(sde: &Sde, t: f64, dt: f64) -> (f64, f64) {
    match sde {
        Sde::Ve { .. } => (0.0, sde.marginal(t).1.powi(2) - sde.marginal(t - dt).1.powi(2)),
        Sde::Vp { .. } | Sde::Ddpm { .. } => {
            let alpha = sde.step_alpha(t, t - dt);
            (alpha.sqrt() - 1.0, 1.0 - alpha)
        }
        Sde::SubVp { .. } | Sde::Flow => euler(sde, t, dt),
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

/// Ancestral sampling (Song et al. 2021, appendix F) from t down to t' < t, on the discrete chain
/// whose marginals are the SDE's, with s = s(t), s' = s(t'), m = m(t), m' = m(t'):
///   VE (SMLD):  x ← x + (s² − s'²) ∇log p + √(s'² (s² − s'²)/s²) z;
///   VP (DDPM):  β = 1 − (m/m')², x ← (x + β ∇log p)/√(1 − β) + σ z, with σ² from `variance`:
///               β, β̃ = β s'²/s² (Nichol & Dhariwal eq. 10–11 on a respaced grid) or
///               exp(v log β + (1 − v) log β̃) with the model's v (eq. 15).
/// sub-VP and the flow path have no such chain: `None`.
pub fn ancestral(
    model: &impl ScoreModel,
    sde: &Sde,
    x: Tensor<2>,
    (t, t_next): (f64, f64),
    variance: Variance,
    z: Option<Tensor<2>>,
) -> Option<Tensor<2>> {
    let ((m, s), (m_next, s_next)) = (sde.marginal(t), sde.marginal(t_next));
    let (mean, noise_std) = match sde {
        Sde::Ve { .. } => {
            let (v, v_next) = (s * s, s_next * s_next);
            let score = model.score(x.clone(), t);
            (x + score.mul_scalar(v - v_next), NoiseStd::Scalar((v_next * (v - v_next) / v).sqrt()))
        }
        Sde::Vp { .. } | Sde::Ddpm { .. } => {
            let beta = 1.0 - (m / m_next).powi(2);
            let beta_tilde = beta * (s_next / s).powi(2);
            let (score, v) = match variance {
                Variance::Learned => model.score_and_v(x.clone(), t),
                _ => (model.score(x.clone(), t), None),
            };
            let std = match (variance, v) {
                (Variance::BetaTilde, _) => NoiseStd::Scalar(beta_tilde.sqrt()),
                (Variance::Learned, Some(v)) => {
                    NoiseStd::Rows(Box::new(interpolated_log_variance(v, beta, beta_tilde).mul_scalar(0.5).exp()))
                }
                _ => NoiseStd::Scalar(beta.sqrt()),
            };
            ((x + score.mul_scalar(beta)).div_scalar((1.0 - beta).sqrt()), std)
        }
        Sde::SubVp { .. } | Sde::Flow => return None,
    };
    Some(match (z, noise_std) {
        (Some(z), NoiseStd::Scalar(std)) => mean + z.mul_scalar(std),
        (Some(z), NoiseStd::Rows(std)) => mean + z * *std,
        (None, _) => mean,
    })
}

/// A noise scale shared by every coordinate, or one per coordinate.
enum NoiseStd {
    Scalar(f64),
    Rows(Box<Tensor<2>>),
}

/// log σ² = v log β + (1 − v) log β̃ (Nichol & Dhariwal eq. 15), elementwise in v, capped at 0:
/// no step of a VP chain adds more than unit variance, and a v far outside [0, 1] (an untrained
/// network fed a point far from the data) would otherwise overflow the step.
pub fn interpolated_log_variance(v: Tensor<2>, beta: f64, beta_tilde: f64) -> Tensor<2> {
    let (log_beta, log_beta_tilde) = (beta.ln(), beta_tilde.ln());
    v.mul_scalar(log_beta - log_beta_tilde).add_scalar(log_beta_tilde).clamp_max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sde::score::ScoreModel;

    /// Each chain's noise variance is exact for one data distribution (Ho et al. 2020, §3.2): VP's
    /// β for data N(0, I), SMLD's s'²(s² − s'²)/s² (the posterior variance) for data at a point.
    /// Driven by the exact score of that data, one step maps the marginal N(0, v(t) I),
    /// v = m² σ_d² + s², onto N(0, v(t') I); a wrong factor on the score or the noise breaks it.
    #[test]
    fn an_ancestral_step_maps_marginal_to_marginal() {
        struct Gaussian(Sde, f64);
        impl Gaussian {
            fn variance(&self, t: f64) -> f64 {
                let (m, s) = self.0.marginal(t);
                m * m * self.1 + s * s
            }
        }
        impl ScoreModel for Gaussian {
            fn score(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
                x.div_scalar(-self.variance(t))
            }
        }
        let device = Device::flex();
        for (sde, data_variance) in [(Sde::ve(10.0), 0.0), (Sde::vp(), 1.0)] {
            let target = Gaussian(sde, data_variance);
            for (t, t_next) in [(0.5, 0.45), (0.2, 0.1)] {
                // Mean and noise are affine: Var' = a² v + σ², with a the coefficient on x.
                let x = Tensor::<2>::from_floats([[1.0, 0.0]], &device);
                let a: f32 = ancestral(&target, &sde, x, (t, t_next), Variance::Beta, None)
                    .unwrap()
                    .narrow(1, 0, 1)
                    .into_scalar();
                let zero = Tensor::<2>::zeros([1, 2], &device);
                let z = Tensor::<2>::from_floats([[1.0, 0.0]], &device);
                let sigma: f32 = ancestral(&target, &sde, zero, (t, t_next), Variance::Beta, Some(z))
                    .unwrap()
                    .narrow(1, 0, 1)
                    .into_scalar();
                let got = (a as f64).powi(2) * target.variance(t) + (sigma as f64).powi(2);
                let want = target.variance(t_next);
                assert!((got - want).abs() < 1e-4 * want, "{sde:?} {t} → {t_next}: {got} vs {want}");
            }
        }
        let sub_vp = Gaussian(Sde::sub_vp(), 1.0);
        assert!(
            ancestral(&sub_vp, &Sde::sub_vp(), Tensor::zeros([1, 2], &device), (0.5, 0.4), Variance::Beta, None)
                .is_none()
        );
    }
}
