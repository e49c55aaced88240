//! Surrogates (seed 003 §3.2): cheap models of the data whose samples x̃₀ start a diffusion
//! sampler part-way, at t_mid (`sde::surrogate_start`, Algorithm 4). Each is saved in the one model
//! file under the role `states-surrogate`: its parameters as tensors, this config as the metadata.
//!
//! | kind  | tensors                                               | sampled by |
//! |-------|-------------------------------------------------------|------------|
//! | `gmm` | `weights` [K], `means` [K, 2], `covariances` [K, 2, 2] | Σ_k w_k N(μ_k, Σ_k), fitted by EM (`em`) |
//! | `vae` | the encoder's and decoder's MLP parameters (`encoder.…`, `decoder.…`) | f(z) + σ_x ε, trained on the ELBO (`vae`) |
//!
//! MNIST's surrogates, under the role `mnist-surrogate`: a class-conditional convolutional VAE
//! (`conv_vae`, kind `conv_vae`: its mean image 2σ(ℓ(z, y)) − 1 for z ~ N(0, I) and the digit
//! y), or DDPM-14 (`low_res`, kind `diffusion`: the UNet's tensors, its file config and the rule
//! its draws are sampled with, at 14² and doubled to 28²).

pub mod conv_vae;
pub mod em;
pub mod low_res;
pub mod vae;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::{NamedTensor, Role};
use crate::limits;
use crate::model::conv_vae::{self as digits, ConvVae, ConvVaeConfig};
use crate::model::vae::{Vae, VaeConfig};
use crate::rng::Rng;
use crate::sde::Sde;
use crate::sde::mixture::Mixture;
use crate::sde::sampler::{Method, SdeSampler, grid};
use crate::sde::surrogate_start::planned_nfe;
use crate::surrogate::low_res::{LowRes, LowResConfig};

/// A sampler started from a surrogate, with the surrogate's own draws x̃₀ and the evaluations the
/// rule's whole grid would have spent (`None`: RK45 picks its own steps). What the draws cost a
/// DDPM-14 is `Surrogate::nfe`.
pub struct SurrogateStart {
    pub sampler: SdeSampler,
    pub draws: Tensor<2>,
    pub full_nfe: Option<usize>,
}

/// Algorithm 4 for `n` points: x̃₀ drawn from `surrogate`, then `method`'s sampler of `steps` on
/// `sde` started at t_mid from them (`SdeSampler::from_surrogate`). The draws and the sampler's
/// noise come from two streams of `seed`, so a seed gives the CLI and the page the same run.
#[allow(clippy::too_many_arguments)]
pub fn start(
    surrogate: &Surrogate,
    method: Method,
    sde: Sde,
    steps: usize,
    n: usize,
    t_mid: f64,
    seed: u64,
    device: &Device,
) -> Result<SurrogateStart> {
    limits::SAMPLES.check(n as f64)?;
    let mut streams = Rng::new(seed);
    let draws = surrogate.draw(n, &mut Rng::new(streams.next_u64()), device)?;
    let sampler = SdeSampler::from_surrogate(method, sde, steps, draws.clone(), t_mid, streams.next_u64())?;
    let full_nfe = planned_nfe(method, &grid(method, &sde, steps));
    Ok(SurrogateStart { sampler, draws, full_nfe })
}

/// Algorithm 4 for MNIST: one surrogate digit x̃₀ (a conv VAE's or a DDPM-14's) of each label in `labels` (10, the UNet's
/// unconditional ∅, draws a digit uniformly), then `method`'s sampler of `steps` on `sde` started
/// at t_mid from them. The draws and the sampler's noise come from two streams of `seed`.
#[allow(clippy::too_many_arguments)]
pub fn start_digits(
    surrogate: &Surrogate,
    method: Method,
    sde: Sde,
    steps: usize,
    labels: &[i64],
    t_mid: f64,
    seed: u64,
    device: &Device,
) -> Result<SurrogateStart> {
    let mut streams = Rng::new(seed);
    let mut rng = Rng::new(streams.next_u64());
    let unconditional = digits::CLASSES as i64;
    let labels: Vec<i64> =
        labels.iter().map(|&l| if l == unconditional { rng.below(digits::CLASSES) as i64 } else { l }).collect();
    let draws = surrogate.draw_digits(&labels, &mut rng, device)?;
    let sampler = SdeSampler::from_surrogate(method, sde, steps, draws.clone(), t_mid, streams.next_u64())?;
    let full_nfe = planned_nfe(method, &grid(method, &sde, steps));
    Ok(SurrogateStart { sampler, draws, full_nfe })
}

/// The start time at `fraction` ∈ [0, 1] of the way from the data to the prior: on the T-step chain
/// the nearest whole step, round(fraction · T)/T; on a continuous process fraction · t_max.
pub fn t_mid_at(sde: &Sde, fraction: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(Error::Config(format!(
            "a surrogate start's fraction of the way must be in [0, 1], got {fraction}"
        )));
    }
    Ok(match sde.chain_steps() {
        Some(steps) => (fraction * steps as f64).round() / steps as f64,
        None => fraction * sde.t_max(),
    })
}

/// What kind of surrogate a file holds, and its size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SurrogateKind {
    /// A Gaussian mixture of `components` full-covariance components.
    Gmm { components: usize },
    /// A variational autoencoder (`model::vae`).
    Vae(VaeConfig),
    /// MNIST's class-conditional convolutional VAE (`model::conv_vae`).
    ConvVae(ConvVaeConfig),
    /// DDPM-14: a UNet on smaller digits and the rule its draws use (`low_res`).
    Diffusion(Box<LowResConfig>),
}

/// How a surrogate was fitted, when known.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitRecord {
    pub points: usize,
    pub seed: u64,
    pub iterations: usize,
    /// The mean log-likelihood per training point (nats) at the end of the fit (a VAE's ELBO: a
    /// lower bound on it).
    pub log_likelihood: f64,
}

/// The JSON stored with a surrogate's tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SurrogateFile {
    pub role: Role,
    pub model: SurrogateKind,
    pub fit: Option<FitRecord>,
}

/// A loaded surrogate, ready to sample.
#[derive(Clone, Debug)]
pub enum Surrogate {
    Gmm(Mixture),
    Vae(Vae, VaeConfig),
    ConvVae(Box<ConvVae>, ConvVaeConfig),
    Diffusion(Box<LowRes>),
}

impl Surrogate {
    /// `n` independent STATES points x̃₀ ([n, 2] on `device`; a VAE decodes them there, so
    /// nothing is read back). A conv VAE draws digits of chosen labels instead (`draw_digits`).
    pub fn draw(&self, n: usize, rng: &mut Rng, device: &Device) -> Result<Tensor<2>> {
        Ok(match self {
            Surrogate::ConvVae(..) | Surrogate::Diffusion(..) => {
                return Err(Error::Config(
                    "an MNIST surrogate draws digits of chosen labels (draw_digits), not points".into(),
                ));
            }
            Surrogate::Gmm(mixture) => {
                let points = mixture.sample(n, rng).0;
                Tensor::from_data(TensorData::new(points.concat(), [n, 2]), device)
            }
            Surrogate::Vae(vae, config) => {
                let z = Tensor::from_data(TensorData::new(rng.normals(n * config.latent), [n, config.latent]), device);
                let eps = Tensor::from_data(TensorData::new(rng.normals(n * 2), [n, 2]), device);
                vae.decode(z, eps, config.sigma_x)
            }
        })
    }

    /// One draw x̃₀ ([n, 784], model scale) of each digit in `labels` (0..=9), from a conv VAE or
    /// a DDPM-14 (its sampler's noise from `rng`'s next sub-stream).
    pub fn draw_digits(&self, labels: &[i64], rng: &mut Rng, device: &Device) -> Result<Tensor<2>> {
        if let Some(bad) = labels.iter().find(|&&l| !(0..digits::CLASSES as i64).contains(&l)) {
            return Err(Error::Config(format!("an MNIST surrogate draws the digits 0 to 9, not {bad}")));
        }
        limits::SAMPLES.check(labels.len() as f64)?;
        let (vae, config) = match self {
            Surrogate::ConvVae(vae, config) => (vae, config),
            Surrogate::Diffusion(low) => return low.draw_digits(labels, rng.next_u64(), device),
            _ => return Err(Error::Config("a STATES surrogate draws points, not digits".into())),
        };
        let n = labels.len();
        let z = Tensor::from_data(TensorData::new(rng.normals(n * config.latent), [n, config.latent]), device);
        Ok(vae.decode(z, Tensor::from_data(TensorData::new(labels.to_vec(), [n]), device)))
    }

    /// The role of its file: a conv VAE and a DDPM-14 model MNIST, the others STATES.
    pub fn role(&self) -> Role {
        match self {
            Surrogate::ConvVae(..) | Surrogate::Diffusion(..) => Role::MnistSurrogate,
            _ => Role::StatesSurrogate,
        }
    }

    /// Network evaluations each draw costs the surrogate (a DDPM-14's, at its resolution).
    pub fn nfe(&self) -> usize {
        match self {
            Surrogate::Diffusion(low) => low.config.nfe().unwrap_or(low.config.steps),
            _ => 0,
        }
    }

    /// The same DDPM-14 with its draws sampled in `steps` steps of its rule instead of its file's
    /// (fewer steps: cheaper, blurrier draws for the full model to restore from t_mid).
    pub fn with_draw_steps(&self, steps: usize) -> Result<Surrogate> {
        match self {
            Surrogate::Diffusion(low) => {
                let config = LowResConfig { steps, ..low.config.clone() };
                config.validate()?;
                Ok(Surrogate::Diffusion(Box::new(LowRes { unet: low.unet.clone(), config })))
            }
            _ => Err(Error::Config("only a diffusion surrogate (DDPM-14) samples its draws in steps".into())),
        }
    }

    /// Its config (without a fit record).
    pub fn kind(&self) -> SurrogateKind {
        match self {
            Surrogate::ConvVae(_, config) => SurrogateKind::ConvVae(config.clone()),
            Surrogate::Diffusion(low) => SurrogateKind::Diffusion(Box::new(low.config.clone())),
            Surrogate::Gmm(mixture) => SurrogateKind::Gmm { components: mixture.weights.len() },
            Surrogate::Vae(_, config) => SurrogateKind::Vae(config.clone()),
        }
    }

    /// Its parameters as the file's tensors (a VAE's read back from its device).
    pub fn tensors(&self) -> Result<Vec<NamedTensor>> {
        Ok(match self {
            Surrogate::Vae(vae, _) => crate::io::host_tensors(vae)?,
            Surrogate::ConvVae(vae, _) => crate::io::host_tensors(vae.as_ref())?,
            Surrogate::Diffusion(low) => crate::io::host_tensors(&low.unet)?,
            Surrogate::Gmm(mixture) => {
                let k = mixture.weights.len();
                let tensor = |name: &str, shape: Vec<usize>, values: Vec<f64>| NamedTensor {
                    name: name.into(),
                    shape,
                    values: values.into_iter().map(|v| v as f32).collect(),
                };
                vec![
                    tensor("weights", vec![k], mixture.weights.clone()),
                    tensor("means", vec![k, 2], mixture.means.concat()),
                    tensor("covariances", vec![k, 2, 2], mixture.covariances.concat()),
                ]
            }
        })
    }

    /// The surrogate `file` describes from its `tensors`: names, shapes and finiteness checked,
    /// then a mixture's own checks (positive weights, symmetric positive-definite covariances); a
    /// VAE's networks are built on `device` (`model_file::surrogate` checks its size first).
    pub fn from_tensors(file: &SurrogateFile, tensors: &[NamedTensor], device: &Device) -> Result<Self> {
        let want = match file.model {
            SurrogateKind::ConvVae(_) | SurrogateKind::Diffusion(_) => Role::MnistSurrogate,
            _ => Role::StatesSurrogate,
        };
        if file.role != want {
            return Err(Error::Weights(format!("this file holds a {}, not a {}", file.role.name(), want.name())));
        }
        match &file.model {
            SurrogateKind::Diffusion(config) => {
                config.validate().map_err(|e| Error::Weights(e.to_string()))?;
                let unet = crate::io::load(config.model.unet.init(device, 0)?, tensors)?;
                Ok(Surrogate::Diffusion(Box::new(LowRes { unet, config: config.as_ref().clone() })))
            }
            SurrogateKind::ConvVae(config) => {
                config.validate().map_err(|e| Error::Weights(e.to_string()))?;
                Ok(Surrogate::ConvVae(Box::new(crate::io::load(config.init(device, 0)?, tensors)?), config.clone()))
            }
            SurrogateKind::Vae(config) => {
                config.validate().map_err(|e| Error::Weights(e.to_string()))?;
                Ok(Surrogate::Vae(crate::io::load(config.init(device, 0)?, tensors)?, config.clone()))
            }
            &SurrogateKind::Gmm { components: k } => {
                limits::COMPONENTS.check(k as f64).map_err(|e| Error::Weights(e.to_string()))?;
                let get = |name: &str, shape: &[usize]| -> Result<Vec<f64>> {
                    let tensor = tensors.iter().find(|t| t.name == name).ok_or_else(|| {
                        Error::Weights(format!("tensor `{name}` (shape {shape:?}) is missing from the file"))
                    })?;
                    if tensor.shape != shape {
                        return Err(Error::Weights(format!(
                            "tensor `{name}` has shape {:?}, a {k}-component mixture needs {shape:?}",
                            tensor.shape
                        )));
                    }
                    if tensor.values.iter().any(|v| !v.is_finite()) {
                        return Err(Error::Weights(format!("tensor `{name}` contains NaN or infinite values")));
                    }
                    Ok(tensor.values.iter().map(|&v| v as f64).collect())
                };
                let weights = get("weights", &[k])?;
                let means = get("means", &[k, 2])?.chunks_exact(2).map(|m| [m[0], m[1]]).collect();
                let covariances =
                    get("covariances", &[k, 2, 2])?.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]).collect();
                if let Some(extra) =
                    tensors.iter().find(|t| !["weights", "means", "covariances"].contains(&t.name.as_str()))
                {
                    return Err(Error::Weights(format!(
                        "tensor `{}` is not a parameter of a Gaussian mixture",
                        extra.name
                    )));
                }
                let mixture = Mixture::new(weights, means, covariances).map_err(|e| Error::Weights(e.to_string()))?;
                Ok(Surrogate::Gmm(mixture))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::ScheduleConfig;

    #[test]
    fn start_times_fall_on_the_process() {
        let chain = Sde::ddpm(&ScheduleConfig::default());
        assert_eq!(t_mid_at(&chain, 0.5).unwrap(), 0.5);
        assert_eq!(t_mid_at(&chain, 0.2994).unwrap(), 150.0 / 500.0);
        assert_eq!(t_mid_at(&Sde::vp(), 0.25).unwrap(), 0.25);
        assert_eq!(t_mid_at(&Sde::Flow, 1.0).unwrap(), Sde::Flow.t_max());
        assert!(t_mid_at(&chain, 1.5).is_err() && t_mid_at(&chain, f64::NAN).is_err());
    }

    /// The start's draws are the surrogate's (from the seed's first stream), its state at t_mid = 0
    /// is those draws, and the same seed gives the same start.
    #[test]
    fn a_start_draws_from_its_own_streams() {
        let device = Device::flex();
        let surrogate = Surrogate::Gmm(Mixture::anisotropic());
        let chain = Sde::ddpm(&ScheduleConfig::default());
        let started = start(&surrogate, Method::ancestral(), chain, 500, 50, 0.0, 9, &device).unwrap();
        let mut streams = Rng::new(9);
        let own = surrogate.draw(50, &mut Rng::new(streams.next_u64()), &device).unwrap();
        assert_eq!(started.draws.clone().into_data(), own.into_data());
        assert_eq!(started.sampler.x().into_data(), started.draws.into_data());
        assert_eq!(started.full_nfe, Some(500));
        let again = start(&surrogate, Method::ancestral(), chain, 500, 50, 0.4, 9, &device).unwrap();
        let other = start(&surrogate, Method::ancestral(), chain, 500, 50, 0.4, 9, &device).unwrap();
        assert_eq!(again.sampler.x().into_data(), other.sampler.x().into_data());
        assert!(start(&surrogate, Method::ancestral(), chain, 500, 0, 0.4, 9, &device).is_err());
    }

    /// A digit start draws one conv-VAE digit per label from the seed's first stream (∅ becomes
    /// a digit drawn from it too), starts at t_mid = 0 on those digits, and refuses a label past ∅.
    #[test]
    fn a_digit_start_draws_its_labels() {
        let device = Device::flex();
        let config = ConvVaeConfig { latent: 4, channels: [8, 16] };
        let surrogate = Surrogate::ConvVae(Box::new(config.init(&device, 1).unwrap()), config);
        let vp = Sde::vp();
        let started = start_digits(&surrogate, Method::ancestral(), vp, 20, &[3, 7, 3], 0.0, 5, &device).unwrap();
        let mut streams = Rng::new(5);
        let own = surrogate.draw_digits(&[3, 7, 3], &mut Rng::new(streams.next_u64()), &device).unwrap();
        assert_eq!(started.draws.clone().into_data(), own.into_data());
        assert_eq!(started.sampler.x().into_data(), started.draws.into_data());
        assert_eq!(started.sampler.x().dims(), [3, crate::data::mnist::PIXELS]);
        let mut rng = Rng::new(Rng::new(5).next_u64());
        let digit = rng.below(10) as i64;
        let any = start_digits(&surrogate, Method::ancestral(), vp, 20, &[10], 0.0, 5, &device).unwrap();
        let drawn = surrogate.draw_digits(&[digit], &mut rng, &device).unwrap();
        assert_eq!(any.draws.into_data(), drawn.into_data());
        assert!(start_digits(&surrogate, Method::ancestral(), vp, 20, &[11], 0.3, 5, &device).is_err());
        assert!(
            start_digits(&Surrogate::Gmm(Mixture::anisotropic()), Method::ancestral(), vp, 20, &[1], 0.3, 5, &device)
                .is_err()
        );
    }
}
