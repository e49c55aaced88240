//! Ancestral sampling, Ho et al. 2020 (arXiv 2006.11239) Algorithm 2:
//!   x_T ~ N(0, I);  for t = T..1:  x_{t−1} = (x_t − β_t/√(1−ᾱ_t) ε̂(x_t, t)) / √α_t + σ_t z,
//! with z ~ N(0, I) and σ_t = √β_t (σ_1 = 0: the last step adds no noise).

use burn::prelude::*;

use crate::sample::EpsModel;
use crate::schedule::Schedule;

/// One step of Algorithm 2 from x_t to x_{t−1}; `z` is the fresh noise (ignored at t = 1).
pub fn ancestral_step(model: &impl EpsModel, schedule: &Schedule, x_t: Tensor<2>, t: usize, z: Tensor<2>) -> Tensor<2> {
    let eps_hat = model.eps(x_t.clone(), t);
    let coef = schedule.beta[t] / (1.0 - schedule.alpha_bar[t]).sqrt();
    let mean = (x_t - eps_hat.mul_scalar(coef)).div_scalar(schedule.alpha[t].sqrt());
    match schedule.sigma(t) {
        0.0 => mean,
        sigma => mean + z.mul_scalar(sigma),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::chain::{Chain, Rule};
    use crate::sample::exact::Gaussian;
    use crate::schedule::ScheduleConfig;

    /// The exact ε of a point mass at `mu`: x_t = √ᾱ_t μ + √(1−ᾱ_t) ε ⇒ ε = (x_t − √ᾱ_t μ)/√(1−ᾱ_t).
    struct PointMass<'a> {
        mu: [f32; 2],
        schedule: &'a Schedule,
    }

    impl EpsModel for PointMass<'_> {
        fn eps(&self, x_t: Tensor<2>, t: usize) -> Tensor<2> {
            let a = self.schedule.alpha_bar[t];
            let mu = Tensor::<1>::from_floats(self.mu, &x_t.device()).unsqueeze::<2>();
            (x_t - mu.mul_scalar(a.sqrt())).div_scalar((1.0 - a).sqrt())
        }
    }

    fn moments(x: Tensor<2>) -> ([f64; 2], [f64; 2]) {
        let v: Vec<f32> = x.into_data().try_into_vec::<f32>().unwrap();
        let n = v.len() / 2;
        let mut mean = [0.0; 2];
        let mut var = [0.0; 2];
        for d in 0..2 {
            mean[d] = (0..n).map(|i| v[2 * i + d] as f64).sum::<f64>() / n as f64;
            var[d] = (0..n).map(|i| (v[2 * i + d] as f64 - mean[d]).powi(2)).sum::<f64>() / n as f64;
        }
        (mean, var)
    }

    #[test]
    fn exact_eps_of_a_gaussian_reproduces_it() {
        let device = Device::flex();
        let schedule = ScheduleConfig::default().init().unwrap();
        let model = Gaussian { mu: [1.0, -0.5], s: 0.3, schedule: &schedule };
        let x = Chain::new(Rule::Ancestral, 20_000, &schedule, 4, &device).run(&model, &schedule);
        assert_eq!(x.dims(), [20_000, 2]);
        let (mean, var) = moments(x);
        // Discretisation with T = 500 is fine enough for ±2% on the std; sampling error ~0.002.
        for d in 0..2 {
            assert!((mean[d] - model.mu[d] as f64).abs() < 0.01, "mean {mean:?}");
            assert!((var[d].sqrt() - 0.3).abs() < 0.3 * 0.03, "std {}", var[d].sqrt());
        }
    }

    #[test]
    fn exact_eps_of_a_point_collapses_onto_it() {
        let device = Device::flex();
        let schedule = ScheduleConfig::default().init().unwrap();
        let model = PointMass { mu: [-1.0, 2.0], schedule: &schedule };
        let x = Chain::new(Rule::Ancestral, 1000, &schedule, 9, &device).run(&model, &schedule);
        let (mean, var) = moments(x);
        assert!((mean[0] + 1.0).abs() < 1e-3 && (mean[1] - 2.0).abs() < 1e-3, "{mean:?}");
        assert!(var[0] < 1e-5 && var[1] < 1e-5, "{var:?}");
    }

    #[test]
    fn sampler_steps_down_to_zero_and_is_seeded() {
        let device = Device::flex();
        let schedule = ScheduleConfig { steps: 10, ..Default::default() }.init().unwrap();
        let model = PointMass { mu: [0.0, 0.0], schedule: &schedule };
        let mut sampler = Chain::new(Rule::Ancestral, 5, &schedule, 1, &device);
        assert_eq!(sampler.t(), 10);
        sampler.step(&model, &schedule);
        assert_eq!(sampler.t(), 9);
        let a = sampler.run(&model, &schedule).into_data();
        let b = Chain::new(Rule::Ancestral, 5, &schedule, 1, &device).run(&model, &schedule).into_data();
        assert_eq!(a, b);
    }
}
