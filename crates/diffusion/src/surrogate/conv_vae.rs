//! Training the MNIST surrogate (`model::conv_vae`) with the one trainer: minibatches of images
//! and their labels drawn from the step's stream, ε for the reparameterisation from the same
//! stream, and the mean negative ELBO (nats per image) as the loss; `neg_elbo_of` scores a
//! held-out split with the same estimator.

use burn::prelude::*;

use crate::data::mnist::Mnist;
use crate::error::{Error, Result};
use crate::model::cnn::images;
use crate::model::conv_vae::{ConvVae, ConvVaeConfig};
use crate::rng::Rng;
use crate::train::{Objective, Plan, Trainer};

pub struct DigitElbo {
    pub data: Mnist,
    pub batch: usize,
    pub latent: usize,
}

impl Objective<ConvVae> for DigitElbo {
    fn loss(&self, model: &ConvVae, rng: &mut Rng, device: &Device) -> Tensor<1> {
        let indices: Vec<usize> = (0..self.batch).map(|_| rng.below(self.data.len())).collect();
        neg_elbo_at(model, &self.data, &indices, self.latent, rng, device).mean()
    }
}

/// −ELBO(x_i, y_i) of the images `indices` of `data` (nats each, [indices.len()]), one
/// z = μ + σ ε per image with ε ~ N(0, I_latent) from `rng`.
fn neg_elbo_at(
    model: &ConvVae,
    data: &Mnist,
    indices: &[usize],
    latent: usize,
    rng: &mut Rng,
    device: &Device,
) -> Tensor<1> {
    let n = indices.len();
    let labels: Vec<i64> = indices.iter().map(|&i| data.labels[i] as i64).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), device);
    let eps = Tensor::from_data(TensorData::new(rng.normals(n * latent), [n, latent]), device);
    model.neg_elbo(images(data, indices, device), labels, eps)
}

/// The negative ELBO of every image of `data` (nats each, [data.len()]; a held-out split's mean is
/// the surrogate's score), `batch` images at a time, with the training loss's estimator.
pub fn neg_elbo_of(
    model: &ConvVae,
    config: &ConvVaeConfig,
    data: &Mnist,
    batch: usize,
    rng: &mut Rng,
    device: &Device,
) -> Result<Tensor<1>> {
    crate::limits::MNIST_BATCH.check(batch as f64)?;
    data.full_size("a conv VAE")?;
    if data.is_empty() {
        return Err(Error::Config("no images to score".into()));
    }
    let parts: Vec<Tensor<1>> = (0..data.len())
        .step_by(batch)
        .map(|start| {
            let indices: Vec<usize> = (start..(start + batch).min(data.len())).collect();
            neg_elbo_at(model, data, &indices, config.latent, rng, device)
        })
        .collect();
    Ok(Tensor::cat(parts, 0))
}

/// A fresh run training a conv VAE of `config` on `data` with `plan`, `batch` images a step.
pub fn trainer(
    config: &ConvVaeConfig,
    plan: Plan,
    data: Mnist,
    batch: usize,
    device: &Device,
) -> Result<Trainer<ConvVae, DigitElbo>> {
    config.validate()?;
    crate::limits::MNIST_BATCH.check(batch as f64)?;
    data.full_size("a conv VAE")?;
    if data.is_empty() {
        return Err(Error::Config("a conv VAE needs images to train on".into()));
    }
    let objective = DigitElbo { data, batch, latent: config.latent };
    Trainer::new(|device, seed| config.init(device, seed), objective, plan, device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mnist::{PIXELS, SIDE};

    /// Two synthetic digits (a bar for 1, a ring for 0): 150 steps lower the negative ELBO by far,
    /// and each label decodes to its own shape from any z.
    #[test]
    fn learns_two_shapes_by_label() {
        let device = Device::flex();
        let ink = |label: u8, p: usize| {
            let (r, c) = ((p / SIDE) as f64 - 13.5, (p % SIDE) as f64 - 13.5);
            if label == 0 { ((r * r + c * c).sqrt() - 8.0).abs() < 2.0 } else { c.abs() < 2.0 }
        };
        let labels: Vec<u8> = (0..64).map(|i| (i % 2) as u8).collect();
        let pixels: Vec<u8> =
            labels.iter().flat_map(|&l| (0..PIXELS).map(move |p| if ink(l, p) { 255 } else { 0 })).collect();
        let data = Mnist { images: pixels.clone(), labels: labels.clone(), side: crate::data::mnist::SIDE };
        let config = ConvVaeConfig { latent: 4, channels: [8, 16] };
        let mut run = trainer(&config, Plan::constant(150, 3e-3, 0), data, 32, &device).unwrap();
        let first: f32 = run.step().into_scalar();
        let mut last = first;
        for _ in 1..150 {
            last = run.step().into_scalar();
        }
        assert!(last < 0.3 * first, "negative ELBO {first} → {last}");
        let vae = run.model();
        // The held-out score is the loss's estimator image by image: its mean over the set sits
        // at the last training losses', and a different batch size only regroups the same stream.
        let data = Mnist { images: pixels, labels: labels.clone(), side: crate::data::mnist::SIDE };
        let scores = |batch| -> Vec<f32> {
            neg_elbo_of(&vae, &config, &data, batch, &mut Rng::new(4), &device)
                .unwrap()
                .into_data()
                .try_into_vec()
                .unwrap()
        };
        let (by_10, by_64) = (scores(10), scores(64));
        assert_eq!(by_10.len(), 64);
        let mean = by_10.iter().sum::<f32>() / 64.0;
        assert!((mean - last).abs() < 0.2 * last, "held-out −ELBO {mean} against the last loss {last}");
        assert!(by_10.iter().zip(&by_64).all(|(a, b)| (a - b).abs() <= 1e-3 * a.abs().max(1.0)));
        let mut rng = Rng::new(3);
        let z = Tensor::<2>::from_data(TensorData::new(rng.normals(8 * 4), [8, 4]), &device);
        let wanted = [0i64, 1, 0, 1, 0, 1, 0, 1];
        let decoded: Vec<f32> =
            vae.decode(z, Tensor::from_data(TensorData::from(wanted), &device)).into_data().try_into_vec().unwrap();
        for (i, image) in decoded.chunks_exact(PIXELS).enumerate() {
            let agree = (0..PIXELS).filter(|&p| (image[p] > 0.0) == ink(wanted[i] as u8, p)).count();
            assert!(agree as f64 > 0.95 * PIXELS as f64, "image {i} (label {}): {agree} pixels agree", wanted[i]);
        }
    }
}
