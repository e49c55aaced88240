//! A small variational autoencoder for 2-D points (Kingma & Welling 2014), seed 003's one-shot
//! neural surrogate for STATES: encoder q(z | x) = N(μ(x), diag σ²(x)) and decoder
//! p(x | z) = N(f(z), σ_x² I) are the course's PReLU MLPs; the prior is N(0, I). A sample is
//! f(z) + σ_x ε with z, ε ~ N(0, I): one network evaluation per point.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::mlp::{Mlp, MlpConfig};
use crate::rng::Rng;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VaeConfig {
    /// Latent dimensions.
    pub latent: usize,
    /// Hidden widths of the encoder and of the decoder.
    pub hidden: Vec<usize>,
    /// The decoder's fixed noise σ_x (in the data's units).
    pub sigma_x: f64,
}

impl Default for VaeConfig {
    fn default() -> Self {
        Self { latent: 2, hidden: vec![128, 128], sigma_x: 0.05 }
    }
}

#[derive(Module, Debug)]
pub struct Vae {
    pub encoder: Mlp,
    pub decoder: Mlp,
}

impl VaeConfig {
    fn encoder(&self) -> MlpConfig {
        MlpConfig { d_input: 2, hidden: self.hidden.clone(), d_output: 2 * self.latent }
    }

    fn decoder(&self) -> MlpConfig {
        MlpConfig { d_input: self.latent, hidden: self.hidden.clone(), d_output: 2 }
    }

    pub fn validate(&self) -> Result<()> {
        if !((1..=64).contains(&self.latent) && self.sigma_x > 1e-4 && self.sigma_x < 10.0) {
            return Err(Error::Config(format!(
                "a VAE needs 1 to 64 latent dimensions and σ_x in (1e-4, 10), got {self:?}"
            )));
        }
        self.encoder().validate()?;
        self.decoder().validate()
    }

    pub fn num_params(&self) -> usize {
        self.encoder().num_params() + self.decoder().num_params()
    }

    /// Both networks, from two streams of `seed`.
    pub fn init(&self, device: &Device, seed: u64) -> Result<Vae> {
        self.validate()?;
        let mut streams = Rng::new(seed);
        let encoder = self.encoder().init(device, streams.next_u64())?;
        Ok(Vae { encoder, decoder: self.decoder().init(device, streams.next_u64())? })
    }
}

impl Vae {
    /// The negative ELBO of each row of `x` ([n, 2]) with the reparameterised z = μ + σ ε
    /// (`eps` [n, latent]), in nats: ‖x − f(z)‖²/(2σ_x²) + log(2π σ_x²) + ½ Σ (μ² + σ² − log σ² − 1).
    pub fn neg_elbo(&self, x: Tensor<2>, eps: Tensor<2>, sigma_x: f64) -> Tensor<1> {
        let latent = eps.dims()[1];
        let stats = self.encoder.forward(x.clone());
        let mu = stats.clone().narrow(1, 0, latent);
        let log_var = stats.narrow(1, latent, latent).clamp(-12.0, 8.0);
        let z = mu.clone() + (log_var.clone() * 0.5).exp() * eps;
        let reconstruction =
            (x - self.decoder.forward(z)).powi_scalar(2).sum_dim(1).div_scalar(2.0 * sigma_x * sigma_x);
        let kl = (mu.powi_scalar(2) + log_var.clone().exp() - log_var).sub_scalar(1.0).sum_dim(1).mul_scalar(0.5);
        let constant = (2.0 * std::f64::consts::PI * sigma_x * sigma_x).ln();
        (reconstruction + kl).add_scalar(constant).reshape([-1])
    }

    /// Samples f(z) + σ_x ε for z ([n, latent]) and ε ([n, 2]) drawn by the caller.
    pub fn decode(&self, z: Tensor<2>, eps: Tensor<2>, sigma_x: f64) -> Tensor<2> {
        self.decoder.forward(z) + eps.mul_scalar(sigma_x)
    }
}
