//! The MNIST UNet as a [`ScoreModel`] on flattened images (rows of 784 pixels in [−1, 1]), with
//! classifier-free guidance (Ho & Salimans 2022): ε̃ = (1 + w) ε̂(x, t, y) − w ε̂(x, t, ∅), and
//! s(x, t) = −ε̃/s(t). Every sampler and the likelihood take it as they take the 2-D models.

use burn::prelude::*;

use crate::data::mnist::{PIXELS, SIDE};
use crate::error::Result;
use crate::model::fourier::Fourier;
use crate::model::unet::UNet;
use crate::sde::dsm::ScoreConfig;
use crate::sde::score::ScoreModel;
use crate::unet_checkpoint::UNetFileConfig;

pub struct UNetScore<'a> {
    pub unet: &'a UNet,
    pub score: ScoreConfig,
    fourier: Fourier,
    /// One class per row (the null class for unconditional rows).
    labels: Vec<i64>,
    null: usize,
    /// The guidance weight w (0: the conditional model alone).
    pub guidance: f64,
}

impl<'a> UNetScore<'a> {
    pub fn new(unet: &'a UNet, file: &UNetFileConfig, labels: Vec<i64>, guidance: f64) -> Result<Self> {
        if !(0.0..=100.0).contains(&guidance) {
            return Err(crate::Error::Config(format!("guidance weight must be in [0, 100], got {guidance}")));
        }
        let null = file.unet.null_class();
        if let Some(bad) = labels.iter().find(|&&l| l < 0 || l as usize > null) {
            return Err(crate::Error::Config(format!("label {bad} is not a class (0..{null}, {null} = none)")));
        }
        let fourier = file.score.fourier.init()?;
        Ok(Self { unet, score: file.score.clone(), fourier, labels, null, guidance })
    }

    /// ε̂(c_in x, γ(t), labels) for rows [n, 784] → [n, 784].
    fn eps_with(&self, x: Tensor<2>, t: f64, labels: Vec<i64>) -> Tensor<2> {
        let [n, _] = x.dims();
        let device = x.device();
        let x = x.mul_scalar(self.score.c_in(t)).reshape([n, 1, SIDE, SIDE]);
        let time = self.fourier.rows(t, n, &device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), &device);
        self.unet.forward(x, time, labels).reshape([n, PIXELS])
    }

    /// The guided ε̃(x, t); one network pass of 2n rows when guided.
    pub fn eps(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
        let [n, _] = x.dims();
        assert_eq!(n, self.labels.len(), "one label per row");
        if self.guidance == 0.0 {
            return self.eps_with(x, t, self.labels.clone());
        }
        let labels = self.labels.iter().copied().chain(std::iter::repeat_n(self.null as i64, n)).collect();
        let both = self.eps_with(Tensor::cat(vec![x.clone(), x], 0), t, labels);
        let (cond, uncond) = (both.clone().slice(0..n), both.slice(n..2 * n));
        cond.mul_scalar(1.0 + self.guidance) - uncond.mul_scalar(self.guidance)
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
