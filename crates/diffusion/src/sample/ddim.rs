//! DDIM (Song, Meng & Ermon 2021, eq. 12): from x_t to any t' < t (ᾱ_0 = 1),
//!   x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t,   x_{t'} = √ᾱ_{t'} x̂_0 + √(1−ᾱ_{t'} − σ²) ε̂ + σ z,
//!   σ = η √((1−ᾱ_{t'})/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t'}).
//! η = 0 is the course handout's deterministic update; η = 1 is ancestral sampling on the respaced
//! chain (its posterior variance β̃), so a stride of K < T steps is "respacing".

use burn::prelude::*;

use crate::sample::EpsModel;
use crate::schedule::Schedule;

/// One step from x_t to x_{t_prev} with stochasticity η; `z` is fresh noise (needed when η > 0).
pub fn ddim_step(
    model: &impl EpsModel,
    schedule: &Schedule,
    x_t: Tensor<2>,
    (t, t_prev): (usize, usize),
    eta: f64,
    z: Option<Tensor<2>>,
) -> Tensor<2> {
    let eps_hat = model.eps(x_t.clone(), t);
    let (a_t, a_prev) = (schedule.alpha_bar[t], schedule.alpha_bar[t_prev]);
    let sigma = eta * ((1.0 - a_prev) / (1.0 - a_t)).sqrt() * (1.0 - a_t / a_prev).max(0.0).sqrt();
    let x_0_hat = (x_t - eps_hat.clone().mul_scalar((1.0 - a_t).sqrt())).div_scalar(a_t.sqrt());
    let mean = x_0_hat.mul_scalar(a_prev.sqrt()) + eps_hat.mul_scalar((1.0 - a_prev - sigma * sigma).max(0.0).sqrt());
    match z {
        Some(z) if sigma > 0.0 => mean + z.mul_scalar(sigma),
        _ => mean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::chain::{Chain, Rule};
    use crate::sample::exact::Gaussian;
    use crate::schedule::ScheduleConfig;

    /// With the exact ε the deterministic chain follows the probability-flow ODE, which for a
    /// Gaussian is the affine map x_0 = μ + s (x_T − √ᾱ_T μ)/√(ᾱ_T s² + 1 − ᾱ_T). Started from
    /// N(0, I) instead of the true x_T marginal, it lands on N(μ(1 − s√ᾱ_T/v), (s/v)²), v the
    /// denominator: the chain must reproduce that bias exactly (the stochastic chain forgets it).
    #[test]
    fn exact_eps_of_a_gaussian_is_transported_onto_it() {
        let device = Device::flex();
        let schedule = ScheduleConfig::default().init().unwrap();
        let model = Gaussian { mu: [0.5, -1.0], s: 0.4, schedule: &schedule };
        let x = Chain::new(Rule::Ddim, 20_000, &schedule, 2, &device).run(&model, &schedule);
        let v: Vec<f32> = x.into_data().try_into_vec().unwrap();
        for d in 0..2 {
            let column: Vec<f64> = v.iter().skip(d).step_by(2).map(|&a| a as f64).collect();
            let mean = column.iter().sum::<f64>() / column.len() as f64;
            let std = (column.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / column.len() as f64).sqrt();
            let a_t = schedule.alpha_bar[schedule.steps];
            let v = (a_t * 0.16 + 1.0 - a_t).sqrt();
            let (want_mean, want_std) = (model.mu[d] as f64 * (1.0 - 0.4 * a_t.sqrt() / v), 0.4 / v);
            // Sampling error of the mean ≈ 0.4/√20000 = 0.003.
            assert!((mean - want_mean).abs() < 0.01, "mean {mean} vs {want_mean}");
            assert!((std - want_std).abs() < want_std * 0.02, "std {std} vs {want_std}");
        }
    }

    /// Respaced DDIM with the exact ε: η = 1 over all 500 steps reproduces N(μ, s² I); over 50 of
    /// them both η = 0 and η = 1 stay close but under-disperse, as expected of the small-variance
    /// choice σ² = β̃ with few steps (measured std 0.383 at η = 0 and 0.364 at η = 1, for s = 0.4).
    /// η = 0 keeps the bias of starting at N(0, I) (see the test above); η = 1 forgets it.
    #[test]
    fn respaced_chains_reach_the_target() {
        let device = Device::flex();
        let schedule = ScheduleConfig::default().init().unwrap();
        let model = Gaussian { mu: [0.5, -1.0], s: 0.4, schedule: &schedule };
        let a_t = schedule.alpha_bar[schedule.steps];
        for (steps, eta, std_tolerance) in [(500, 1.0, 0.02), (50, 0.0, 0.06), (50, 1.0, 0.12)] {
            let chain = Chain::new(Rule::Ddim, 20_000, &schedule, 2, &device).respaced(steps, eta, &schedule).unwrap();
            assert_eq!(chain.t(), 500);
            let chain_nfe = {
                let mut c = chain;
                c.step(&model, &schedule);
                assert_eq!(c.nfe(), 1);
                c
            };
            let x = chain_nfe.run(&model, &schedule);
            let v: Vec<f32> = x.into_data().try_into_vec().unwrap();
            for d in 0..2 {
                let column: Vec<f64> = v.iter().skip(d).step_by(2).map(|&a| a as f64).collect();
                let mean = column.iter().sum::<f64>() / column.len() as f64;
                let std = (column.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / column.len() as f64).sqrt();
                let bias = if eta == 0.0 { 0.4 * a_t.sqrt() / (a_t * 0.16 + 1.0 - a_t).sqrt() } else { 0.0 };
                let want = model.mu[d] as f64 * (1.0 - bias);
                assert!((mean - want).abs() < 0.015, "{steps} steps, η {eta}: mean {mean} vs {want}");
                assert!((std - 0.4).abs() < 0.4 * std_tolerance, "{steps} steps, η {eta}: std {std}");
            }
        }
        assert!(Chain::new(Rule::Ancestral, 4, &schedule, 0, &device).respaced(50, 0.0, &schedule).is_err());
        assert!(Chain::new(Rule::Ddim, 4, &schedule, 0, &device).respaced(0, 0.0, &schedule).is_err());
    }

    /// One step to t' = 0 returns x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t: for a point mass, exactly μ.
    #[test]
    fn a_jump_to_zero_predicts_x0() {
        struct PointMass<'a>(&'a Schedule);
        impl EpsModel for PointMass<'_> {
            fn eps(&self, x_t: Tensor<2>, t: usize) -> Tensor<2> {
                let a = self.0.alpha_bar[t];
                (x_t.sub_scalar(3.0 * a.sqrt())).div_scalar((1.0 - a).sqrt())
            }
        }
        let device = Device::flex();
        let schedule = ScheduleConfig::default().init().unwrap();
        let x_t = Tensor::<2>::from_floats([[0.3, -2.0], [5.0, 1.0]], &device);
        let x_0: Vec<f32> =
            ddim_step(&PointMass(&schedule), &schedule, x_t, (250, 0), 0.0, None).into_data().try_into_vec().unwrap();
        assert!(x_0.iter().all(|v| (v - 3.0).abs() < 1e-4), "{x_0:?}");
    }
}
