//! Surrogates (seed 003 §3.2): cheap models of the data whose samples x̃₀ start a diffusion
//! sampler part-way, at t_mid (`sde::surrogate_start`, Algorithm 4). Each is saved in the one model
//! file under the role `states-surrogate`: its parameters as tensors, this config as the metadata.
//!
//! | kind  | tensors                                               | sampled by |
//! |-------|-------------------------------------------------------|------------|
//! | `gmm` | `weights` [K], `means` [K, 2], `covariances` [K, 2, 2] | Σ_k w_k N(μ_k, Σ_k), fitted by EM (`em`) |

pub mod em;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::{NamedTensor, Role};
use crate::limits;
use crate::rng::Rng;
use crate::sde::mixture::Mixture;

/// What kind of surrogate a file holds, and its size.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SurrogateKind {
    /// A Gaussian mixture of `components` full-covariance components.
    Gmm { components: usize },
}

/// How a surrogate was fitted, when known.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitRecord {
    pub points: usize,
    pub seed: u64,
    pub iterations: usize,
    /// The mean log-likelihood per training point (nats) at the end of the fit.
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
#[derive(Clone, Debug, PartialEq)]
pub enum Surrogate {
    Gmm(Mixture),
}

impl Surrogate {
    /// `n` independent draws x̃₀ (2-D points).
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Vec<[f32; 2]> {
        match self {
            Surrogate::Gmm(mixture) => mixture.sample(n, rng).0,
        }
    }

    /// Its config (without a fit record).
    pub fn kind(&self) -> SurrogateKind {
        match self {
            Surrogate::Gmm(mixture) => SurrogateKind::Gmm { components: mixture.weights.len() },
        }
    }

    /// Its parameters as the file's tensors.
    pub fn tensors(&self) -> Vec<NamedTensor> {
        match self {
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
        }
    }

    /// The surrogate `file` describes from its `tensors`: names, shapes and finiteness checked,
    /// then the mixture's own checks (positive weights, symmetric positive-definite covariances).
    pub fn from_tensors(file: &SurrogateFile, tensors: &[NamedTensor]) -> Result<Self> {
        if file.role != Role::StatesSurrogate {
            return Err(Error::Weights(format!("this file holds a {}, not a states-surrogate", file.role.name())));
        }
        match file.model {
            SurrogateKind::Gmm { components: k } => {
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
