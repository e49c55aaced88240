//! The one model file: safetensors weights (f32, under their module paths; `io`) with, in the
//! header metadata, a JSON config tagged by its `role` that rebuilds the network, its process and
//! records its training:
//!
//! | role               | config                              | network |
//! |--------------------|-------------------------------------|---------|
//! | `denoiser`         | `checkpoint::CheckpointConfig`      | MLP ε̂ on the DDPM chain or an SDE |
//! | `classifier`       | `checkpoint::CheckpointConfig`      | MLP noisy classifier |
//! | `mnist-denoiser`   | `unet_checkpoint::UNetFileConfig`   | UNet ε̂ on an SDE |
//! | `mnist-classifier` | `model::cnn::CnnFile`               | the CNN judge |
//! | `states-surrogate` | `surrogate::SurrogateFile`          | a Gaussian mixture, or a VAE's two MLPs |
//! | `mnist-surrogate`  | `surrogate::SurrogateFile`          | a class-conditional conv VAE |
//!
//! One encoder and one loader: the loader reads the role before anything else, refuses a file of
//! another role by name, checks the config, then every tensor's name, shape and finiteness
//! (`io::load`) before a network exists. Files written before the role tag (STATES MLPs without
//! metadata or without `role`) read as the course's denoiser.

use burn::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::checkpoint::{Checkpoint, CheckpointConfig};
use crate::error::{Error, Result};
use crate::io::{self, NamedTensor, Role};
use crate::model::cnn::{Cnn, CnnFile};
use crate::model::unet::UNet;
use crate::surrogate::{Surrogate, SurrogateFile, SurrogateKind};
use crate::unet_checkpoint::UNetFileConfig;

/// Parameters (64 MiB of f32) a loader may allocate to build a network before checking its file's
/// tensors; a config asking for more than that and than the file holds is refused from the config.
const BUILD_FREELY: usize = 1 << 24;

/// Safetensors bytes of parameters read to the host, with `config` (which carries its role).
pub fn encode(tensors: &[NamedTensor], config: &impl Serialize) -> Result<Vec<u8>> {
    let json = serde_json::to_string_pretty(config).map_err(|e| Error::Weights(format!("config: {e}")))?;
    io::encode(tensors, &json)
}

/// The role of a file's config (`None`: a file without metadata).
pub fn role(bytes: &[u8]) -> Result<Option<Role>> {
    io::decode(bytes)?.config_json.as_deref().map(role_of).transpose()
}

fn role_of(json: &str) -> Result<Role> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::Weights(format!("the file's config metadata is not JSON: {e}")))?;
    match value.get("role") {
        None => Ok(Role::Denoiser),
        Some(role) => serde_json::from_value(role.clone()).map_err(|_| {
            Error::Weights(format!(
                "unknown role {role} in the file's config: denoiser, classifier, mnist-denoiser, mnist-classifier, states-surrogate or mnist-surrogate"
            ))
        }),
    }
}

/// The tensors and parsed config of a file that holds a `want`.
fn open<C: DeserializeOwned>(bytes: &[u8], want: Role) -> Result<(Vec<NamedTensor>, Option<C>)> {
    let file = io::decode(bytes)?;
    let Some(json) = file.config_json else { return Ok((file.tensors, None)) };
    let role = role_of(&json)?;
    if role != want {
        return Err(Error::Weights(format!("this file holds a {}, not a {}", role.name(), want.name())));
    }
    let config = serde_json::from_str(&json)
        .map_err(|e| Error::Weights(format!("the file's config metadata is not a {} config: {e}", want.name())))?;
    Ok((file.tensors, Some(config)))
}

/// A STATES MLP of `role` (denoiser or classifier). A file without metadata is read as the
/// course's default network for that role.
pub fn mlp(bytes: &[u8], role: Role, device: &Device) -> Result<Checkpoint> {
    let default = match role {
        Role::Denoiser => CheckpointConfig::denoiser(),
        Role::Classifier => CheckpointConfig::classifier(),
        other => return Err(Error::Config(format!("a {} is not a STATES MLP", other.name()))),
    };
    let (tensors, config) = open::<CheckpointConfig>(bytes, role)?;
    let config = config.unwrap_or(default);
    if let Some(score) = &config.score {
        score.validate()?;
    }
    if role == Role::Denoiser && config.model.d_output != 2 && !(config.model.d_output == 4 && config.score.is_none()) {
        return Err(Error::Weights(format!(
            "a denoiser outputs ε̂ (2 values) or, on the DDPM chain, ε̂ and a learned variance's v (4); this one outputs {}",
            config.model.d_output
        )));
    }
    let schedule = config.schedule.init()?;
    config.model.validate()?;
    can_hold(&tensors, config.model.num_params(), "an MLP of")?;
    let mlp = io::load(config.model.init(device, 0)?, &tensors)?;
    Ok(Checkpoint { mlp, schedule, config })
}

/// Checked before building a network: a config may describe one far larger than the file (and
/// than memory). Networks of up to `BUILD_FREELY` parameters are built and their tensors checked
/// one by one (that error names a tensor); a larger one must have its `params` in the file.
fn can_hold(tensors: &[NamedTensor], params: usize, network: &str) -> Result<()> {
    let values: usize = tensors.iter().map(|t| t.values.len()).sum();
    if params > values.max(BUILD_FREELY) {
        return Err(Error::Weights(format!(
            "the file holds {values} values but its config describes {network} {params} parameters"
        )));
    }
    Ok(())
}

/// The MNIST UNet of a file, with its config.
pub fn unet(bytes: &[u8], device: &Device) -> Result<(UNet, UNetFileConfig)> {
    let (tensors, config) = open::<UNetFileConfig>(bytes, Role::MnistDenoiser)?;
    let config = config.ok_or_else(|| {
        Error::Weights("the file has no config metadata; an MNIST UNet file records its architecture".into())
    })?;
    config.score.validate()?;
    if config.unet.time_features != config.score.fourier.width() {
        return Err(Error::Weights("the UNet's time input does not match its Fourier features".into()));
    }
    config.validate()?;
    can_hold(&tensors, config.unet.min_params(), "a UNet of at least")?;
    Ok((io::load(config.unet.init(device, 0)?, &tensors)?, config))
}

/// The MNIST judge of a file, with its config.
pub fn cnn(bytes: &[u8], device: &Device) -> Result<(Cnn, CnnFile)> {
    let (tensors, config) = open::<CnnFile>(bytes, Role::MnistClassifier)?;
    let config = config.ok_or_else(|| Error::Weights("not an MNIST classifier file (no config metadata)".into()))?;
    Ok((io::load(config.cnn.init(device, 0)?, &tensors)?, config))
}

/// The surrogate of a file of `role` (`states-surrogate` or `mnist-surrogate`), with its config
/// (a VAE's networks built on `device`).
pub fn surrogate(bytes: &[u8], role: Role, device: &Device) -> Result<(Surrogate, SurrogateFile)> {
    if !matches!(role, Role::StatesSurrogate | Role::MnistSurrogate) {
        return Err(Error::Config(format!("a {} is not a surrogate", role.name())));
    }
    let (tensors, config) = open::<SurrogateFile>(bytes, role)?;
    let config = config.ok_or_else(|| Error::Weights("not a surrogate file (no config metadata)".into()))?;
    match &config.model {
        SurrogateKind::Vae(vae) => {
            vae.validate().map_err(|e| Error::Weights(e.to_string()))?;
            can_hold(&tensors, vae.num_params(), "a VAE of")?;
        }
        SurrogateKind::ConvVae(vae) => {
            vae.validate().map_err(|e| Error::Weights(e.to_string()))?;
            can_hold(&tensors, vae.num_params(), "a conv VAE of")?;
        }
        SurrogateKind::Diffusion(low) => {
            low.validate().map_err(|e| Error::Weights(e.to_string()))?;
            can_hold(&tensors, low.model.unet.min_params(), "a UNet of at least")?;
        }
        SurrogateKind::Gmm { .. } => {}
    }
    Ok((Surrogate::from_tensors(&config, &tensors, device)?, config))
}

#[cfg(test)]
#[path = "model_file_tests.rs"]
mod tests;
