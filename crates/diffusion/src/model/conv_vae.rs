//! A small class-conditional convolutional VAE for MNIST (Kingma & Welling 2014; Sohn et al. 2015),
//! seed 003's one-shot surrogate for digits. Encoder q(z | x, y): conv 4×4/2 (c₁) → ReLU → conv
//! 4×4/2 (c₂) → ReLU → [features, e(y)] → linear → (μ, log σ²). Decoder p(x | z, y): [z, e'(y)] →
//! linear → ReLU → c₂ × 7 × 7 → transposed conv 4×4/2 (c₁) → ReLU → transposed conv 4×4/2 (1)
//! → pixel logits ℓ. Pixels are Bernoulli with p = (x + 1)/2 (x in the model scale [−1, 1]); a
//! sample is the decoder's mean image 2σ(ℓ) − 1: one network evaluation per image.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use serde::{Deserialize, Serialize};

use crate::data::mnist::{PIXELS, SIDE};
use crate::error::{Error, Result};

/// The digits a label names.
pub const CLASSES: usize = 10;
/// Width of each label embedding.
const LABEL_WIDTH: usize = 16;
/// The side of the innermost feature map (28 → 14 → 7).
const INNER: usize = SIDE / 4;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvVaeConfig {
    /// Latent dimensions.
    pub latent: usize,
    /// Channels c₁, c₂ of the two convolutions (at 14² and 7²).
    pub channels: [usize; 2],
}

impl Default for ConvVaeConfig {
    fn default() -> Self {
        Self { latent: 16, channels: [32, 64] }
    }
}

#[derive(Module, Debug)]
pub struct ConvVae {
    enc1: Conv2d,
    enc2: Conv2d,
    enc_class: Embedding,
    enc_out: Linear,
    dec_class: Embedding,
    dec_in: Linear,
    dec1: ConvTranspose2d,
    dec2: ConvTranspose2d,
}

impl ConvVaeConfig {
    pub fn validate(&self) -> Result<()> {
        crate::limits::LATENT.check(self.latent as f64)?;
        if self.channels.iter().any(|c| !(1..=512).contains(c)) {
            return Err(Error::Config(format!("a conv VAE needs 1 to 512 channels per convolution, got {self:?}")));
        }
        Ok(())
    }

    /// Weights and biases: two 4×4 convolutions, two label embeddings, the two linear maps and the
    /// two transposed convolutions.
    pub fn num_params(&self) -> usize {
        let [c1, c2] = self.channels;
        let (z, flat) = (self.latent, c2 * INNER * INNER);
        let conv = |c_in: usize, c_out: usize| c_in * c_out * 16 + c_out;
        conv(1, c1)
            + conv(c1, c2)
            + 2 * CLASSES * LABEL_WIDTH
            + (flat + LABEL_WIDTH) * 2 * z
            + 2 * z
            + (z + LABEL_WIDTH) * flat
            + flat
            + conv(c2, c1)
            + conv(c1, 1)
    }

    /// The networks, with weights drawn from `seed`.
    pub fn init(&self, device: &Device, seed: u64) -> Result<ConvVae> {
        self.validate()?;
        device.seed(seed);
        let [c1, c2] = self.channels;
        let flat = c2 * INNER * INNER;
        let down = |c_in, c_out| {
            Conv2dConfig::new([c_in, c_out], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let up = |c_in, c_out| {
            ConvTranspose2dConfig::new([c_in, c_out], [4, 4]).with_stride([2, 2]).with_padding([1, 1]).init(device)
        };
        Ok(ConvVae {
            enc1: down(1, c1),
            enc2: down(c1, c2),
            enc_class: EmbeddingConfig::new(CLASSES, LABEL_WIDTH).init(device),
            enc_out: LinearConfig::new(flat + LABEL_WIDTH, 2 * self.latent).init(device),
            dec_class: EmbeddingConfig::new(CLASSES, LABEL_WIDTH).init(device),
            dec_in: LinearConfig::new(self.latent + LABEL_WIDTH, flat).init(device),
            dec1: up(c2, c1),
            dec2: up(c1, 1),
        })
    }
}

impl ConvVae {
    fn embed(table: &Embedding, labels: Tensor<1, Int>) -> Tensor<2> {
        let n = labels.dims()[0];
        table.forward(labels.reshape([n, 1])).reshape([n, LABEL_WIDTH])
    }

    /// (μ, log σ²) of q(z | x, y) for images `x` [n, 784] in the model scale.
    pub fn encode(&self, x: Tensor<2>, labels: Tensor<1, Int>) -> (Tensor<2>, Tensor<2>) {
        let n = x.dims()[0];
        let h = relu(self.enc1.forward(x.reshape([n, 1, SIDE, SIDE])));
        let h = relu(self.enc2.forward(h)).reshape([n as i64, -1]);
        let stats = self.enc_out.forward(Tensor::cat(vec![h, Self::embed(&self.enc_class, labels)], 1));
        let latent = stats.dims()[1] / 2;
        (stats.clone().narrow(1, 0, latent), stats.narrow(1, latent, latent).clamp(-12.0, 8.0))
    }

    /// The decoder's pixel logits ℓ [n, 784] for latents `z` [n, latent].
    pub fn logits(&self, z: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<2> {
        let n = z.dims()[0];
        let h = relu(self.dec_in.forward(Tensor::cat(vec![z, Self::embed(&self.dec_class, labels)], 1)));
        let channels = h.dims()[1] / (INNER * INNER);
        let h = relu(self.dec1.forward(h.reshape([n, channels, INNER, INNER])));
        self.dec2.forward(h).reshape([n, PIXELS])
    }

    /// The negative ELBO of each image, in nats, with z = μ + σ ε (`eps` [n, latent]):
    /// Σ_pixels [softplus(ℓ) − p ℓ] + ½ Σ (μ² + σ² − log σ² − 1), p = (x + 1)/2 — the Bernoulli
    /// cross-entropy (with grey levels as soft targets it is a training loss, not a density).
    pub fn neg_elbo(&self, x: Tensor<2>, labels: Tensor<1, Int>, eps: Tensor<2>) -> Tensor<1> {
        let (mu, log_var) = self.encode(x.clone(), labels.clone());
        let z = mu.clone() + (log_var.clone() * 0.5).exp() * eps;
        let logits = self.logits(z, labels);
        let p = (x + 1.0) * 0.5;
        // softplus(ℓ) = max(ℓ, 0) + log(1 + e^{−|ℓ|}), stable for any ℓ.
        let softplus = logits.clone().clamp_min(0.0) + logits.clone().abs().neg().exp().log1p();
        let reconstruction = (softplus - p * logits).sum_dim(1);
        let kl = (mu.powi_scalar(2) + log_var.clone().exp() - log_var).sub_scalar(1.0).sum_dim(1).mul_scalar(0.5);
        (reconstruction + kl).reshape([-1])
    }

    /// The mean images 2σ(ℓ) − 1 [n, 784] (model scale) decoded from `z` for `labels`.
    pub fn decode(&self, z: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<2> {
        sigmoid(self.logits(z, labels)) * 2.0 - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameter count's closed form matches the module's, and the shapes line up.
    #[test]
    fn counts_and_shapes() {
        let device = Device::flex();
        for config in [ConvVaeConfig::default(), ConvVaeConfig { latent: 3, channels: [4, 8] }] {
            let vae = config.init(&device, 0).unwrap();
            assert_eq!(vae.num_params(), config.num_params(), "{config:?}");
            let n = 3;
            let x = Tensor::<2>::zeros([n, PIXELS], &device);
            let labels = Tensor::<1, Int>::from_data(TensorData::from([0i64, 4, 9]), &device);
            let (mu, log_var) = vae.encode(x.clone(), labels.clone());
            assert_eq!((mu.dims(), log_var.dims()), ([n, config.latent], [n, config.latent]));
            let z = Tensor::<2>::zeros([n, config.latent], &device);
            let images: Vec<f32> = vae.decode(z.clone(), labels.clone()).into_data().try_into_vec().unwrap();
            assert_eq!(images.len(), n * PIXELS);
            assert!(images.iter().all(|v| v.abs() < 1.0));
            let loss: Vec<f32> = vae.neg_elbo(x, labels, z).into_data().try_into_vec().unwrap();
            assert!(loss.len() == n && loss.iter().all(|l| l.is_finite() && *l > 0.0), "{loss:?}");
        }
        assert!(ConvVaeConfig { latent: 0, channels: [4, 8] }.validate().is_err());
    }

    /// neg_elbo is −log p(x | z) + KL computed on the host from the networks' own outputs: the
    /// Bernoulli term −[p log σ(ℓ) + (1 − p) log(1 − σ(ℓ))] per pixel and the Gaussian KL.
    #[test]
    fn neg_elbo_is_cross_entropy_plus_kl() {
        let device = Device::flex();
        let config = ConvVaeConfig { latent: 2, channels: [4, 4] };
        let vae = config.init(&device, 1).unwrap();
        let mut rng = crate::rng::Rng::new(2);
        let n = 2;
        let pixels: Vec<f32> = (0..n * PIXELS).map(|_| rng.uniform() as f32 * 2.0 - 1.0).collect();
        let x = Tensor::<2>::from_data(TensorData::new(pixels.clone(), [n, PIXELS]), &device);
        let labels = Tensor::<1, Int>::from_data(TensorData::from([3i64, 7]), &device);
        let eps = Tensor::<2>::from_data(TensorData::new(rng.normals(n * 2), [n, 2]), &device);
        let got: Vec<f32> = vae.neg_elbo(x.clone(), labels.clone(), eps.clone()).into_data().try_into_vec().unwrap();
        let (mu, log_var) = vae.encode(x, labels.clone());
        let z = mu.clone() + (log_var.clone() * 0.5).exp() * eps;
        let host = |t: Tensor<2>| -> Vec<f64> { t.into_data().convert::<f64>().try_into_vec().unwrap() };
        let (logits, mu, log_var) = (host(vae.logits(z, labels)), host(mu), host(log_var));
        for i in 0..n {
            let bce: f64 = (0..PIXELS)
                .map(|j| {
                    let (l, p) = (logits[i * PIXELS + j], (pixels[i * PIXELS + j] as f64 + 1.0) / 2.0);
                    let s = 1.0 / (1.0 + (-l).exp());
                    -(p * s.ln() + (1.0 - p) * (1.0 - s).ln())
                })
                .sum();
            let kl: f64 = (0..2)
                .map(|k| 0.5 * (mu[i * 2 + k].powi(2) + log_var[i * 2 + k].exp() - log_var[i * 2 + k] - 1.0))
                .sum();
            assert!((got[i] as f64 - (bce + kl)).abs() < 1e-4 * (bce + kl), "{} vs {}", got[i], bce + kl);
        }
    }
}
