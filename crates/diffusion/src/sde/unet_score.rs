//! The MNIST UNet as a [`ScoreModel`] on flattened images (rows of side² pixels in [−1, 1]), with
//! classifier-free guidance (Ho & Salimans 2022): ε̃ = (1 + w) ε̂(x, t, y) − w ε̂(x, t, ∅), and
//! s(x, t) = −ε̃/s(t). Every sampler and the likelihood take it as they take the 2-D models.
//! For sampling, the implied x̂₀ = (x − s ε̃)/m can be clipped to the pixel range [−1, 1] (Ho et
//! al. 2020's sampler does this), ε̃ ← (x − m clip(x̂₀))/s: one switch that every sampler then
//! inherits. The likelihood uses the model unclipped.

use burn::prelude::*;

use crate::error::Result;
use crate::model::fourier::Fourier;
use crate::model::unet::UNet;
use crate::sde::dsm::ScoreConfig;
use crate::sde::score::ScoreModel;

pub struct UNetScore<'a> {
    pub unet: &'a UNet,
    pub score: ScoreConfig,
    fourier: Fourier,
    /// One class per row (the null class for unconditional rows).
    labels: Vec<i64>,
    null: usize,
    /// The guidance weight w (0: the conditional model alone).
    pub guidance: f64,
    /// Clip x̂₀ to [−1, 1] (sampling only).
    pub clip: bool,
}

impl<'a> UNetScore<'a> {
    /// `unet` with its input config `score` and null class `null` (= the number of classes).
    pub fn new(unet: &'a UNet, score: &ScoreConfig, null: usize, labels: Vec<i64>, guidance: f64) -> Result<Self> {
        crate::limits::GUIDANCE.check(guidance)?;
        if let Some(bad) = labels.iter().find(|&&l| l < 0 || l as usize > null) {
            return Err(crate::Error::Config(format!("label {bad} is not a class (0..{null}, {null} = none)")));
        }
        let fourier = score.fourier.init()?;
        Ok(Self { unet, score: score.clone(), fourier, labels, null, guidance, clip: false })
    }

    /// With x̂₀ clipped to the pixel range (for sampling).
    pub fn clipped(mut self) -> Self {
        self.clip = true;
        self
    }

    /// ε̂(c_in x, γ(t), labels) for rows of side² pixels [n, side²] → [n, side²] (784 for MNIST,
    /// 196 for DDPM-14).
    fn eps_with(&self, x: Tensor<2>, t: f64, labels: Vec<i64>) -> Tensor<2> {
        let [n, pixels] = x.dims();
        let side = pixels.isqrt();
        assert_eq!(side * side, pixels, "rows of square images");
        let device = x.device();
        let x = x.mul_scalar(self.score.c_in(t)).reshape([n, 1, side, side]);
        let time = self.fourier.rows(self.score.noise_input(t), n, &device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), &device);
        self.unet.forward(x, time, labels).reshape([n, pixels])
    }

    /// The guided ε̃(x, t) (x̂₀-clipped if set); one network pass of 2n rows when guided.
    pub fn eps(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
        let [n, _] = x.dims();
        assert_eq!(n, self.labels.len(), "one label per row");
        let eps = if self.guidance == 0.0 {
            self.eps_with(x.clone(), t, self.labels.clone())
        } else {
            let labels = self.labels.iter().copied().chain(std::iter::repeat_n(self.null as i64, n)).collect();
            let both = self.eps_with(Tensor::cat(vec![x.clone(), x.clone()], 0), t, labels);
            let (cond, uncond) = (both.clone().slice(0..n), both.slice(n..2 * n));
            cond.mul_scalar(1.0 + self.guidance) - uncond.mul_scalar(self.guidance)
        };
        if !self.clip {
            return eps;
        }
        let (m, s) = self.score.sde.marginal(t);
        let x0 = (x.clone() - eps.mul_scalar(s)).div_scalar(m).clamp(-1.0, 1.0);
        (x - x0.mul_scalar(m)).div_scalar(s)
    }

    /// Network passes per score evaluation, in rows of the batch (2 when guided).
    pub fn passes(&self) -> usize {
        if self.guidance == 0.0 { 1 } else { 2 }
    }
}

impl ScoreModel for UNetScore<'_> {
    fn score(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
        self.eps(x, t).div_scalar(-self.score.sde.marginal(t).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::unet::UNetConfig;
    use crate::sde::Sde;
    use crate::unet_checkpoint::UNetFileConfig;

    #[test]
    fn guidance_combines_two_passes_and_clipping_bounds_x0() {
        let device = Device::flex();
        let unet_config = UNetConfig::tiny();
        let file = UNetFileConfig::new(unet_config, ScoreConfig::new(Sde::vp()));
        let unet = file.unet.init(&device, 0).unwrap();
        let x =
            Tensor::<2>::random([3, crate::data::mnist::PIXELS], burn::tensor::Distribution::Normal(0.0, 2.0), &device);
        let t = 0.3;
        let eps = |labels: Vec<i64>, w: f64| file.score_model(&unet, labels, w).unwrap().eps(x.clone(), t);
        let (cond, uncond) = (eps(vec![1, 5, 9], 0.0), eps(vec![10; 3], 0.0));
        let guided = eps(vec![1, 5, 9], 2.0);
        let want = cond.mul_scalar(3.0) - uncond.mul_scalar(2.0);
        let gap: f32 = (guided - want).abs().max().into_scalar();
        assert!(gap < 1e-4, "{gap}");

        let clipped = file.score_model(&unet, vec![1, 5, 9], 2.0).unwrap().clipped().eps(x.clone(), t);
        let (m, s) = file.score.sde.marginal(t);
        let x0: Vec<f32> = (x - clipped.mul_scalar(s)).div_scalar(m).into_data().try_into_vec().unwrap();
        assert!(x0.iter().all(|v| v.abs() <= 1.0 + 1e-3), "x̂₀ outside [−1, 1]");
        assert!(file.score_model(&unet, vec![11], 0.0).is_err(), "label 11 is not a class");
    }
}
