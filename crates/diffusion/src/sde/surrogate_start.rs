//! Surrogate diffusion (seed 003 §3.2, Algorithm 4): a cheap model's samples x̃₀ are noised by the
//! process's exact kernel,
//!   x_{t_mid} = m(t_mid) x̃₀ + s(t_mid) z,  z ~ N(0, I)   (q(x_{t_mid} | x̃₀)),
//! and any sampler runs from t_mid instead of t_max, over its own grid's times below t_mid: the
//! evaluations above t_mid are saved. On the DDPM chain t_mid = k/T is its step k (then
//! √ᾱ_k and √(1 − ᾱ_k) exactly); t_mid = 0 returns x̃₀ itself.

use burn::prelude::*;

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sde::Sde;
use crate::sde::method::Method;
use crate::sde::sampler::{SdeSampler, grid};

/// The grid from t_mid: t_mid, then the times of `full` below it.
pub fn grid_from(full: &[f64], t_mid: f64) -> Vec<f64> {
    std::iter::once(t_mid).chain(full.iter().copied().filter(|&t| t < t_mid)).collect()
}

/// The network evaluations `method` spends on `grid` (`None` for RK45, which picks its own steps):
/// an interval ending at t = 0 is one evaluation (Tweedie's x̂₀), every other one the rule's own.
pub fn planned_nfe(method: Method, grid: &[f64]) -> Option<usize> {
    let per_step = method.nfe_per_step()?;
    Some(grid.windows(2).map(|w| if w[1] == 0.0 { 1 } else { per_step }).sum())
}

impl SdeSampler {
    /// `method`'s grid of `steps` intervals on `sde`, started at t_mid ∈ [0, t_max] from the
    /// surrogate samples `x0` ([n, dim]) noised by q(x_{t_mid} | x̃₀); the kernel's z and the
    /// sampler's noise come from `seed`.
    pub fn from_surrogate(
        method: Method,
        sde: Sde,
        steps: usize,
        x0: Tensor<2>,
        t_mid: f64,
        seed: u64,
    ) -> Result<Self> {
        crate::limits::SAMPLER_STEPS.check(steps as f64)?;
        if !(0.0..=sde.t_max()).contains(&t_mid) {
            return Err(Error::Config(format!(
                "a surrogate start's t_mid must be in [0, {}], got {t_mid}",
                sde.t_max()
            )));
        }
        let mut rng = Rng::new(seed);
        let [n, dim] = x0.dims();
        let z = Tensor::<2>::from_data(TensorData::new(rng.normals(n * dim), [n, dim]), &x0.device());
        let (m, s) = sde.marginal(t_mid);
        let x = x0.mul_scalar(m).add(z.mul_scalar(s));
        Self::from_state(method, sde, grid_from(&grid(method, &sde, steps), t_mid), x, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::mmd::mmd2;
    use crate::schedule::ScheduleConfig;
    use crate::sde::mixture::Mixture;
    use crate::sde::score::MixtureScore;

    fn tensor(points: &[[f32; 2]], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(points.concat(), [points.len(), 2]), device)
    }

    fn points(x: Tensor<2>) -> Vec<[f32; 2]> {
        let v: Vec<f32> = x.into_data().try_into_vec().unwrap();
        v.chunks_exact(2).map(|p| [p[0], p[1]]).collect()
    }

    /// The mean distance to the nearest mode centre (0.3·√(π/2) ≈ 0.376 for exact samples of
    /// the test's circle) and the share of each mode.
    fn on_modes(target: &Mixture, samples: &[[f32; 2]], device: &Device) -> (f64, Vec<f64>) {
        let distance = samples
            .iter()
            .map(|p| {
                let d = |c: &[f64; 2]| ((p[0] as f64 - c[0]).powi(2) + (p[1] as f64 - c[1]).powi(2)).sqrt();
                target.means.iter().map(d).fold(f64::INFINITY, f64::min)
            })
            .sum::<f64>()
            / samples.len() as f64;
        let modes = target.assign(samples, device);
        let shares = (0..target.weights.len())
            .map(|k| modes.iter().filter(|&&m| m == k).count() as f64 / samples.len() as f64)
            .collect();
        (distance, shares)
    }

    fn assert_on_target(target: &Mixture, samples: &[[f32; 2]], device: &Device, what: &str) {
        let (distance, shares) = on_modes(target, samples, device);
        assert!((distance - 0.376).abs() < 0.03, "{what}: mean distance to a mode {distance}");
        assert!(shares.iter().all(|s| (s - 1.0 / 6.0).abs() < 0.03), "{what}: shares {shares:?}");
    }

    /// Driven by the exact score and started from the exact data at t_mid, every rule on the
    /// chain and on VP reproduces the target (MMD² within the sampling noise of the estimator),
    /// with the evaluations above t_mid saved; a wrong surrogate (one broad Gaussian) started at
    /// t_max is pulled onto the target's modes, started at t_mid = 0 it is returned untouched.
    #[test]
    fn surrogate_starts_reach_the_target_and_save_evaluations() {
        let device = Device::flex();
        let n = 1500;
        let target = Mixture::circle(6, 3.0, 0.3);
        let mut rng = Rng::new(11);
        let sets: Vec<Vec<[f32; 2]>> = (0..3).map(|_| target.sample(n, &mut rng).0).collect();
        let noise = mmd2(&sets[1], &sets[2]).abs();
        let bound = 4.0 * noise + 1e-4;
        let exact = &sets[0];
        assert_on_target(&target, exact, &device, "exact samples");
        let chain = Sde::ddpm(&ScheduleConfig::default());
        for sde in [chain, Sde::vp(), Sde::ve(10.0)] {
            let model = MixtureScore { mixture: &target, sde: &sde };
            for (method, steps) in [
                (Method::ancestral(), 500),
                (Method::Ddim { eta: 0.0 }, 100),
                (Method::rd(), 1000),
                (Method::OdeHeun, 100),
                (Method::DpmSolver2M, 100),
                (Method::EdmHeun, 50),
                (Method::OdeRk45 { rtol: 1e-5, atol: 1e-5 }, 1),
            ] {
                // Step 250 of the chain's 500, or t = 0.5.
                let t_mid = 0.5;
                let sampler =
                    SdeSampler::from_surrogate(method, sde, steps, tensor(&sets[1], &device), t_mid, 7).unwrap();
                let samples = points(sampler.run(&model));
                let distance = mmd2(&samples, exact);
                assert!(distance < bound, "{sde:?} {method:?}: MMD² {distance} ≥ {bound}");
                assert_on_target(&target, &samples, &device, &format!("{sde:?} {method:?}"));
                let full = planned_nfe(method, &grid(method, &sde, steps));
                let started = planned_nfe(method, &grid_from(&grid(method, &sde, steps), t_mid));
                if let (Some(full), Some(started)) = (full, started) {
                    assert!(started < full, "{method:?}: {started} of {full}");
                }
            }
            // Ancestral on the chain from step 250: exactly 250 evaluations, as planned.
            if sde.chain_steps().is_some() {
                let mut sampler =
                    SdeSampler::from_surrogate(Method::ancestral(), sde, 500, tensor(&sets[1], &device), 0.5, 7)
                        .unwrap();
                while !sampler.done() {
                    sampler.step(&model);
                }
                assert_eq!(sampler.nfe(), 250);
                assert_eq!(planned_nfe(Method::ancestral(), &grid(Method::ancestral(), &sde, 500)), Some(500));
            }
            // A broad Gaussian surrogate: from t_max it lands on the modes; from 0 it is itself.
            let broad: Vec<[f32; 2]> = Mixture::circle(1, 0.0, 2.5).sample(n, &mut rng).0;
            assert!(on_modes(&target, &broad, &device).0 > 1.0);
            let method = if sde.chain_steps().is_some() { Method::ancestral() } else { Method::rd() };
            let from_top =
                SdeSampler::from_surrogate(method, sde, 1000, tensor(&broad, &device), sde.t_max(), 3).unwrap();
            assert_on_target(&target, &points(from_top.run(&model)), &device, &format!("{sde:?} from t_max"));
            let untouched = SdeSampler::from_surrogate(method, sde, 500, tensor(&broad, &device), 0.0, 3).unwrap();
            assert!(untouched.done());
            assert_eq!(points(untouched.x()), broad);
        }
    }

    #[test]
    fn bad_starts_are_refused() {
        let device = Device::flex();
        let x0 = tensor(&[[0.0, 0.0]], &device);
        let vp = Sde::vp();
        assert!(SdeSampler::from_surrogate(Method::rd(), vp, 10, x0.clone(), 1.5, 0).is_err());
        assert!(SdeSampler::from_surrogate(Method::rd(), vp, 10, x0.clone(), -0.1, 0).is_err());
        assert!(SdeSampler::from_surrogate(Method::rd(), vp, 10, x0.clone(), f64::NAN, 0).is_err());
        assert!(SdeSampler::from_surrogate(Method::rd(), vp, 0, x0, 0.5, 0).is_err());
    }
}
