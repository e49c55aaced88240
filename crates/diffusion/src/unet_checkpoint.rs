//! An image model file: the UNet's safetensors weights with, in the header metadata, the network
//! config, its SDE and time features, and how it was trained, so one file rebuilds the model.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::{self, NamedTensor};
use crate::model::unet::{UNet, UNetConfig};
use crate::sde::Sde;
use crate::sde::dsm::{ScoreConfig, TimeSampling};
use crate::sde::unet_score::UNetScore;

/// The t_min a run may train down to (and the likelihood may start from).
pub const T_MIN_RANGE: std::ops::RangeInclusive<f64> = 1e-7..=0.5;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UNetTrainConfig {
    pub steps: usize,
    pub batch: usize,
    /// Adam's learning rate after warm-up.
    pub lr: f64,
    /// Steps of linear warm-up from 0 to `lr`.
    pub warmup: usize,
    /// Each parameter's gradient is rescaled to norm ≤ `clip`.
    pub clip: f64,
    pub ema_decay: f64,
    /// Probability p of training a label as the null class.
    pub label_dropout: f64,
    pub seed: u64,
    /// The smallest t drawn (default: the SDE's t_min).
    #[serde(default)]
    pub t_min: Option<f64>,
    #[serde(default)]
    pub t_sampling: TimeSampling,
    /// Train on uniformly dequantised pixels.
    #[serde(default)]
    pub dequantise: bool,
    /// The weights the run started from, when it fine-tunes another run's.
    #[serde(default)]
    pub init: Option<String>,
}

impl Default for UNetTrainConfig {
    fn default() -> Self {
        Self {
            steps: 10_000,
            batch: 128,
            lr: 2e-4,
            warmup: 500,
            clip: 1.0,
            ema_decay: 0.9999,
            label_dropout: 0.1,
            seed: 0,
            t_min: None,
            t_sampling: TimeSampling::Uniform,
            dequantise: false,
            init: None,
        }
    }
}

impl UNetTrainConfig {
    pub fn validate(&self) -> Result<()> {
        let ok = (1..=10_000_000).contains(&self.steps)
            && (1..=4096).contains(&self.batch)
            && self.lr > 0.0
            && self.lr <= 1.0
            && self.warmup <= 10_000_000
            && self.clip > 0.0
            && self.clip.is_finite()
            && (0.0..1.0).contains(&self.ema_decay)
            && (0.0..=1.0).contains(&self.label_dropout)
            && self.t_min.is_none_or(|t| T_MIN_RANGE.contains(&t));
        if !ok {
            return Err(Error::Config(format!("unreasonable MNIST training hyper-parameters {self:?}")));
        }
        Ok(())
    }

    /// η_s = lr · min(1, (s + 1)/warmup).
    pub fn lr_at(&self, step: usize) -> f64 {
        self.lr * ((step + 1) as f64 / self.warmup.max(1) as f64).min(1.0)
    }

    /// The smallest t training draws for `sde`.
    pub fn t_min(&self, sde: &Sde) -> f64 {
        self.t_min.unwrap_or(sde.t_min())
    }
}

/// The JSON stored with the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UNetFileConfig {
    /// Always "mnist-denoiser" (tells these files from the STATES MLPs).
    pub role: String,
    pub unet: UNetConfig,
    pub score: ScoreConfig,
    /// How the weights were trained, when known.
    pub train: Option<UNetTrainConfig>,
    /// Optimiser steps behind the weights.
    #[serde(default)]
    pub steps_done: usize,
}

pub const ROLE: &str = "mnist-denoiser";

impl UNetFileConfig {
    pub fn new(unet: UNetConfig, score: ScoreConfig) -> Self {
        Self { role: ROLE.into(), unet, score, train: None, steps_done: 0 }
    }

    /// `unet` as a score model with one class label per row and guidance weight `guidance`.
    pub fn score_model<'a>(&self, unet: &'a UNet, labels: Vec<i64>, guidance: f64) -> Result<UNetScore<'a>> {
        UNetScore::new(unet, &self.score, self.unet.null_class(), labels, guidance)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a config serialises")
    }
}

/// Safetensors bytes of a network whose parameters were read to the host.
pub fn encode(tensors: &[NamedTensor], config: &UNetFileConfig) -> Result<Vec<u8>> {
    io::encode(tensors, &config.to_json())
}

/// Rebuilds the UNet of a file on `device`; a file of another kind, or one whose tensors do not fit
/// its config, is an error that names the culprit.
pub fn decode(bytes: &[u8], device: &Device) -> Result<(UNet, UNetFileConfig)> {
    let file = io::decode(bytes)?;
    let json = file.config_json.as_deref().ok_or_else(|| {
        Error::Weights("the file has no config metadata; an MNIST UNet file records its architecture".into())
    })?;
    let config: UNetFileConfig = serde_json::from_str(json)
        .map_err(|e| Error::Weights(format!("the file's config metadata is not an MNIST UNet config: {e}")))?;
    if config.role != ROLE {
        return Err(Error::Weights(format!("this file holds a {}, not an {ROLE}", config.role)));
    }
    config.score.validate()?;
    if config.unet.time_features != config.score.fourier.width() {
        return Err(Error::Weights("the UNet's time input does not match its Fourier features".into()));
    }
    let unet = io::load(config.unet.init(device, 0)?, &file.tensors)?;
    Ok((unet, config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sde::Sde;

    #[test]
    fn a_file_rebuilds_its_unet_and_bad_files_are_named() {
        let device = Device::flex();
        let unet_config =
            UNetConfig { channels: vec![8, 16], res_blocks: 1, emb: 16, time_features: 32, classes: 10, groups: 4 };
        let config = UNetFileConfig::new(unet_config, ScoreConfig::new(Sde::vp()));
        let unet = config.unet.init(&device, 1).unwrap();
        let bytes = encode(&io::host_tensors(&unet).unwrap(), &config).unwrap();
        let (loaded, loaded_config) = decode(&bytes, &device).unwrap();
        assert_eq!(loaded_config, config);
        let x = Tensor::<4>::ones([2, 1, 28, 28], &device);
        let time = Tensor::<2>::ones([2, 32], &device);
        let labels = Tensor::<1, Int>::from_data(TensorData::from([3i64, 10]), &device);
        assert_eq!(
            loaded.forward(x.clone(), time.clone(), labels.clone()).into_data(),
            unet.forward(x, time, labels).into_data()
        );

        // A truncated file, a tensor of the wrong shape, a missing tensor: each says what is wrong.
        assert!(decode(&bytes[..bytes.len() / 2], &device).unwrap_err().to_string().contains("not a valid"));
        let mut tensors = io::host_tensors(&unet).unwrap();
        tensors[0].shape = vec![tensors[0].values.len()];
        let err = decode(&encode(&tensors, &config).unwrap(), &device).unwrap_err().to_string();
        assert!(err.contains(&format!("`{}`", tensors[0].name)), "{err}");
        let other = UNetFileConfig { unet: UNetConfig { channels: vec![8, 24], ..config.unet.clone() }, ..config };
        let err = decode(&encode(&io::host_tensors(&unet).unwrap(), &other).unwrap(), &device).unwrap_err().to_string();
        assert!(err.contains("shape"), "{err}");
        assert!(decode(&io::encode(&io::host_tensors(&unet).unwrap(), "").unwrap(), &device).is_err());
    }
}
