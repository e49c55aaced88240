//! The DDPM chain's variational bound (Ho et al. 2020, eq. 5; Nichol & Dhariwal 2021, §2.2.1):
//!   −log p_θ(x_0) ≤ L_vlb = L_T + Σ_{t=2}^T L_{t−1} + L_0,
//!   L_T     = KL(q(x_T | x_0) ‖ N(0, I)),
//!   L_{t−1} = KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)),
//!   L_0     = −log p_θ(x_0 | x_1) (a Gaussian density for points),
//! with the posterior q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I) (Ho et al. eq. 6–7),
//!   μ̃_t = √ᾱ_{t−1} β_t/(1 − ᾱ_t) x_0 + √α_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) x_t,
//!   β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t),
//! and the model p_θ(x_{t−1} | x_t) = N(μ_θ, Σ_θ), μ_θ = (x_t − β_t/√(1 − ᾱ_t) ε̂)/√α_t, with
//! Σ_θ = β_t, β̃_t or the learned exp(v log β_t + (1 − v) log β̃_t) (Nichol & Dhariwal eq. 15).
//! β̃_1 = 0, so log β̃_1 is taken as log β̃_2 (Nichol & Dhariwal's clip).
//! Every term is in nats summed over a row's coordinates unless a name says otherwise.

use burn::prelude::*;

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::schedule::Schedule;
use crate::sde::method::Variance;
use crate::sde::score::ScoreModel;

impl Schedule {
    /// β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t), the posterior variance (0 at t = 1).
    pub fn beta_tilde(&self, t: usize) -> f64 {
        self.beta[t] * (1.0 - self.alpha_bar[t - 1]) / (1.0 - self.alpha_bar[t])
    }

    /// log β̃_t, with β̃_1 = 0 replaced by β̃_2.
    pub fn log_beta_tilde_clipped(&self, t: usize) -> f64 {
        self.beta_tilde(if t == 1 { 2 } else { t }).ln()
    }

    /// The posterior mean's coefficients (on x_0, on x_t).
    pub fn posterior_mean_coefs(&self, t: usize) -> (f64, f64) {
        let denominator = 1.0 - self.alpha_bar[t];
        (
            self.alpha_bar[t - 1].sqrt() * self.beta[t] / denominator,
            self.alpha[t].sqrt() * (1.0 - self.alpha_bar[t - 1]) / denominator,
        )
    }

    /// L_T = KL(N(√ᾱ_T x_0, (1 − ᾱ_T) I) ‖ N(0, I)) for one row x_0.
    pub fn prior_nats(&self, x_0: &[f32]) -> f64 {
        let a = self.alpha_bar[self.steps];
        x_0.iter().map(|&x| 0.5 * (a * (x as f64).powi(2) + (1.0 - a) - 1.0 - (1.0 - a).ln())).sum()
    }
}

/// The chain's coefficients at each row's step t_i, as [n, 1] columns on a device.
pub struct StepCoefs {
    /// 1/√α_t and β_t/√(1 − ᾱ_t): μ_θ = (x_t − c ε̂)/√α_t.
    recip_sqrt_alpha: Tensor<2>,
    eps_coef: Tensor<2>,
    /// μ̃_t's coefficients on x_0 and on x_t.
    posterior_x0: Tensor<2>,
    posterior_xt: Tensor<2>,
    log_beta: Tensor<2>,
    log_beta_tilde: Tensor<2>,
    /// 1 where t = 1 (the decoder term), else 0.
    first: Tensor<2>,
}

impl StepCoefs {
    pub fn new(schedule: &Schedule, steps: &[usize], device: &Device) -> Self {
        let column = |f: &dyn Fn(usize) -> f64| {
            let values: Vec<f32> = steps.iter().map(|&t| f(t) as f32).collect();
            Tensor::<2>::from_data(TensorData::new(values, [steps.len(), 1]), device)
        };
        let s = schedule;
        Self {
            recip_sqrt_alpha: column(&|t| 1.0 / s.alpha[t].sqrt()),
            eps_coef: column(&|t| s.beta[t] / (1.0 - s.alpha_bar[t]).sqrt()),
            posterior_x0: column(&|t| s.posterior_mean_coefs(t).0),
            posterior_xt: column(&|t| s.posterior_mean_coefs(t).1),
            log_beta: column(&|t| s.beta[t].ln()),
            log_beta_tilde: column(&|t| s.log_beta_tilde_clipped(t)),
            first: column(&|t| if t == 1 { 1.0 } else { 0.0 }),
        }
    }

    /// μ_θ = (x_t − β_t/√(1 − ᾱ_t) ε̂)/√α_t.
    pub fn model_mean(&self, x_t: Tensor<2>, eps_hat: Tensor<2>) -> Tensor<2> {
        (x_t - eps_hat * self.eps_coef.clone()) * self.recip_sqrt_alpha.clone()
    }

    /// μ̃_t(x_t, x_0).
    pub fn posterior_mean(&self, x_0: Tensor<2>, x_t: Tensor<2>) -> Tensor<2> {
        x_0 * self.posterior_x0.clone() + x_t * self.posterior_xt.clone()
    }

    /// log Σ_θ per coordinate: log β_t, log β̃_t, or v log β_t + (1 − v) log β̃_t ([n, dim] from
    /// the model's v; a fixed variance broadcasts over `like`'s coordinates).
    pub fn log_variance(&self, variance: Variance, v: Option<Tensor<2>>, like: &Tensor<2>) -> Tensor<2> {
        let fixed = |column: &Tensor<2>| column.clone().expand(like.shape());
        match (variance, v) {
            (Variance::Learned, Some(v)) => {
                v.clone() * self.log_beta.clone() + (v.ones_like() - v) * self.log_beta_tilde.clone()
            }
            (Variance::BetaTilde, _) => fixed(&self.log_beta_tilde),
            _ => fixed(&self.log_beta),
        }
    }

    /// Each row's L_{t−1} (t ≥ 2) or L_0 (t = 1) in nats, [n, 1], for the model's mean and log
    /// variance at x_t.
    pub fn terms(&self, x_0: Tensor<2>, x_t: Tensor<2>, mean: Tensor<2>, log_variance: Tensor<2>) -> Tensor<2> {
        let posterior = self.posterior_mean(x_0.clone(), x_t);
        let kl =
            normal_kl(posterior, self.log_beta_tilde.clone().expand(mean.shape()), mean.clone(), log_variance.clone());
        let decoder = normal_nll(x_0, mean, log_variance);
        let first = self.first.clone();
        decoder.sum_dim(1) * first.clone() + kl.sum_dim(1) * (first.ones_like() - first)
    }
}

/// KL(N(μ₁, e^{l₁}) ‖ N(μ₂, e^{l₂})) = ½(l₂ − l₁ + (e^{l₁} + (μ₁ − μ₂)²)/e^{l₂} − 1), elementwise.
pub fn normal_kl(mean_1: Tensor<2>, log_var_1: Tensor<2>, mean_2: Tensor<2>, log_var_2: Tensor<2>) -> Tensor<2> {
    let ratio = (log_var_1.clone() - log_var_2.clone()).exp();
    let gap = (mean_1 - mean_2).square() * (-log_var_2.clone()).exp();
    (log_var_2 - log_var_1 + ratio + gap).sub_scalar(1.0).mul_scalar(0.5)
}

/// −log N(x; μ, e^l) = ½(log 2π + l + (x − μ)² e^{−l}), elementwise.
pub fn normal_nll(x: Tensor<2>, mean: Tensor<2>, log_var: Tensor<2>) -> Tensor<2> {
    let gap = (x - mean).square() * (-log_var.clone()).exp();
    (log_var + gap).add_scalar((2.0 * std::f64::consts::PI).ln()).mul_scalar(0.5)
}

/// The bound L_vlb of each row of `x_0` ([n, dim], points) in nats: L_T in closed form, then for
/// every t = T … 1 one draw x_t ~ q(x_t | x_0) and the model's term there (one network pass per t,
/// so the sum is unbiased with the variance of one draw per step). `model` is a score model on the
/// chain's process (`Sde::ddpm`), asked at t/T; its ε̂ = −√(1 − ᾱ_t) s(x_t, t/T).
pub fn chain_bound(
    model: &impl ScoreModel,
    schedule: &Schedule,
    x_0: Tensor<2>,
    variance: Variance,
    seed: u64,
) -> Result<Vec<f64>> {
    let [n, dim] = x_0.dims();
    let device = x_0.device();
    let host: Vec<f32> = x_0.clone().into_data().try_into_vec::<f32>().map_err(|e| Error::Weights(format!("{e:?}")))?;
    let mut total = Tensor::<2>::zeros([n, 1], &device);
    let mut rng = Rng::new(seed);
    for t in (1..=schedule.steps).rev() {
        let x_t = noised(schedule, &x_0, t, &mut rng);
        let s = (1.0 - schedule.alpha_bar[t]).sqrt();
        let (score, v) = match variance {
            Variance::Learned => model.score_and_v(x_t.clone(), t as f64 / schedule.steps as f64),
            _ => (model.score(x_t.clone(), t as f64 / schedule.steps as f64), None),
        };
        let coefs = StepCoefs::new(schedule, &vec![t; n], &device);
        let mean = coefs.model_mean(x_t.clone(), score.mul_scalar(-s));
        let log_variance = coefs.log_variance(variance, v, &mean);
        total = total + coefs.terms(x_0.clone(), x_t, mean, log_variance);
    }
    let terms: Vec<f32> = total.into_data().try_into_vec::<f32>().map_err(|e| Error::Weights(format!("{e:?}")))?;
    Ok(terms.iter().zip(host.chunks_exact(dim)).map(|(&sum, row)| sum as f64 + schedule.prior_nats(row)).collect())
}

/// One draw x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε ~ q(x_t | x_0) for each row of `x_0`, ε from `rng`.
fn noised(schedule: &Schedule, x_0: &Tensor<2>, t: usize, rng: &mut Rng) -> Tensor<2> {
    let [n, dim] = x_0.dims();
    let eps = Tensor::<2>::from_data(TensorData::new(rng.normals(n * dim), [n, dim]), &x_0.device());
    x_0.clone().mul_scalar(schedule.alpha_bar[t].sqrt()) + eps.mul_scalar((1.0 - schedule.alpha_bar[t]).sqrt())
}

/// The mean of a learned log Σ_θ at each t of `steps` over x_t ~ q(x_t | x_0) for the rows of
/// `x_0`: [len], still on the device (the page reads it asynchronously); `None` for a model
/// without a learned variance. Σ_θ(t) lies between β̃_t (v = 0) and β_t (v = 1) while v ∈ [0, 1].
pub fn mean_log_variance(
    model: &impl ScoreModel,
    schedule: &Schedule,
    x_0: Tensor<2>,
    steps: &[usize],
    seed: u64,
) -> Option<Tensor<1>> {
    let [n, _] = x_0.dims();
    let device = x_0.device();
    let mut rng = Rng::new(seed);
    let means = steps
        .iter()
        .map(|&t| {
            let x_t = noised(schedule, &x_0, t, &mut rng);
            let (_, v) = model.score_and_v(x_t, t as f64 / schedule.steps as f64);
            let coefs = StepCoefs::new(schedule, &vec![t; n], &device);
            let like = v.clone()?;
            Some(coefs.log_variance(Variance::Learned, v, &like).mean())
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Tensor::cat(means, 0))
}

#[cfg(test)]
#[path = "vlb_tests.rs"]
mod tests;
