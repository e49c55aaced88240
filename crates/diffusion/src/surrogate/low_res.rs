//! DDPM-14, the seed's DDPM-16 at MNIST's scale (seed 003 §3.2): the project's UNet trained on
//! the digits bilinearly halved to 14² (`UNetFileConfig::side`, `Mnist::resized`), sampled at
//! 14² by the one sampler driver with the rule its file names, then bilinearly doubled to 28²
//! (`data::bilinear`) and clipped to the pixel range: x̃₀ = clip(up(x₀^{14}), −1, 1). A 14² pass
//! costs about a quarter of a 28² one, so its draws are cheap but blurred; the full model then
//! restores the detail from t_mid.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::bilinear::resize;
use crate::data::mnist::SIDE;
use crate::error::{Error, Result};
use crate::limits;
use crate::model::unet::UNet;
use crate::sde::sampler::{Method, SdeSampler, grid};
use crate::sde::surrogate_start::planned_nfe;
use crate::unet_checkpoint::UNetFileConfig;

/// A low-resolution UNet's file config and how its draws are sampled (stored in the surrogate's
/// file, so the file alone draws the same digits).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LowResConfig {
    pub model: UNetFileConfig,
    /// The rule, by its CLI name (`dpmpp2m`, `ddim`, `ancestral`, ...).
    pub sampler: String,
    pub steps: usize,
    /// Classifier-free guidance weight w of the draws.
    pub guidance: f64,
}

impl LowResConfig {
    /// The rule `sampler` names (a Langevin corrector's r at the CLI's default 0.16).
    pub fn method(&self) -> Result<Method> {
        Method::named(&self.sampler, 0.16).ok_or_else(|| {
            Error::Config(format!("a low-resolution surrogate samples with a named rule, not `{}`", self.sampler))
        })
    }

    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.method()?;
        limits::SAMPLER_STEPS.check(self.steps as f64)?;
        limits::GUIDANCE.check(self.guidance)
    }

    /// Network evaluations per draw at the low resolution (each one guided pass of 2 rows when
    /// w > 0); `None` when RK45 picks its steps.
    pub fn nfe(&self) -> Option<usize> {
        let method = self.method().ok()?;
        planned_nfe(method, &grid(method, &self.model.score.sde, self.steps))
    }
}

/// A loaded DDPM-14.
#[derive(Clone, Debug)]
pub struct LowRes {
    pub unet: UNet,
    pub config: LowResConfig,
}

impl LowRes {
    /// One digit of each label (0..=9, or the null class for none) [n, 784], sampled at the
    /// model's side from the sampler noise of `seed` and doubled to 28² on `device`.
    pub fn draw_digits(&self, labels: &[i64], seed: u64, device: &Device) -> Result<Tensor<2>> {
        let config = &self.config;
        let model = config.model.score_model(&self.unet, labels.to_vec(), config.guidance)?.clipped();
        let sde = config.model.score.sde;
        let sampler = SdeSampler::with_dim(
            config.method()?,
            sde,
            config.steps,
            labels.len(),
            config.model.pixels(),
            seed,
            device,
        )?;
        Ok(resize(sampler.run(&model), config.model.side, SIDE).clamp(-1.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::unet::UNetConfig;
    use crate::sde::Sde;
    use crate::sde::dsm::ScoreConfig;

    fn tiny(side: usize) -> LowRes {
        let model = UNetFileConfig { side, ..UNetFileConfig::new(UNetConfig::tiny(), ScoreConfig::new(Sde::vp())) };
        let unet = model.unet.init(&Device::flex(), 2).unwrap();
        LowRes { unet, config: LowResConfig { model, sampler: "dpmpp2m".into(), steps: 4, guidance: 1.0 } }
    }

    /// A draw is a 28² digit in the pixel range, the seed's own (the same seed, the same digits),
    /// and exactly the bilinear doubling of the 14² sample the driver makes from that seed's
    /// noise. A rule without a fixed grid of its own (rdMC) and a side past 28 are refused.
    #[test]
    fn draws_are_doubled_low_resolution_samples() {
        let device = Device::flex();
        let low = tiny(14);
        low.config.validate().unwrap();
        assert_eq!(low.config.nfe(), Some(4));
        let draws = low.draw_digits(&[3, 7, 10], 5, &device).unwrap();
        assert_eq!(draws.dims(), [3, 784]);
        let values: Vec<f32> = draws.clone().into_data().try_into_vec().unwrap();
        assert!(values.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
        assert_eq!(low.draw_digits(&[3, 7, 10], 5, &device).unwrap().into_data(), draws.clone().into_data());
        let model = low.config.model.score_model(&low.unet, vec![3, 7, 10], 1.0).unwrap().clipped();
        let small = SdeSampler::with_dim(Method::DpmSolver2M, Sde::vp(), 4, 3, 196, 5, &device).unwrap().run(&model);
        let doubled: Vec<f32> = resize(small, 14, 28).clamp(-1.0, 1.0).into_data().try_into_vec().unwrap();
        let gap = values.iter().zip(&doubled).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(gap < 1e-6, "{gap}");
        let bad = LowResConfig { sampler: "rdmc".into(), ..low.config.clone() };
        assert!(bad.validate().is_err());
        assert!(
            LowResConfig { model: UNetFileConfig { side: 40, ..low.config.model.clone() }, ..low.config }
                .validate()
                .is_err()
        );
    }

    /// `with_draw_steps` resamples the same network on a shorter grid: its draws are those of a
    /// file that says 2 steps, its cost is 2 evaluations; 0 steps and a one-shot surrogate are refused.
    #[test]
    fn draw_steps_override_the_files() {
        use crate::surrogate::Surrogate;
        let device = Device::flex();
        let low = tiny(14);
        let two = LowRes { unet: low.unet.clone(), config: LowResConfig { steps: 2, ..low.config.clone() } };
        let surrogate = Surrogate::Diffusion(Box::new(low)).with_draw_steps(2).unwrap();
        assert_eq!(surrogate.nfe(), 2);
        let Surrogate::Diffusion(shortened) = &surrogate else { unreachable!() };
        let drawn = shortened.draw_digits(&[1, 4], 8, &device).unwrap();
        assert_eq!(drawn.into_data(), two.draw_digits(&[1, 4], 8, &device).unwrap().into_data());
        assert!(surrogate.with_draw_steps(0).is_err());
        let mixture = Surrogate::Gmm(crate::sde::mixture::Mixture::anisotropic());
        assert!(mixture.with_draw_steps(4).is_err());
    }
}
