//! The config of an MNIST UNet's model file (`model_file`, role `mnist-denoiser`): the network,
//! its SDE and time features, and how it was trained, so one file rebuilds the model.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::Role;
use crate::limits;
use crate::model::unet::{UNet, UNetConfig};
use crate::sde::Sde;
use crate::sde::dsm::{ScoreConfig, TimeSampling};
use crate::sde::unet_score::UNetScore;

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
        limits::TRAIN_STEPS.check(self.steps as f64)?;
        limits::MNIST_BATCH.check(self.batch as f64)?;
        limits::LR.check(self.lr)?;
        limits::WARMUP.check(self.warmup as f64)?;
        limits::EMA.check(self.ema_decay)?;
        if let Some(t) = self.t_min {
            limits::T_MIN.check(t)?;
        }
        let ok = self.clip > 0.0 && self.clip.is_finite() && (0.0..=1.0).contains(&self.label_dropout);
        if !ok {
            return Err(Error::Config(format!("unreasonable MNIST training hyper-parameters {self:?}")));
        }
        Ok(())
    }

    /// The smallest t training draws for `sde`.
    pub fn t_min(&self, sde: &Sde) -> f64 {
        self.t_min.unwrap_or(sde.t_min())
    }
}

/// The JSON stored with the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UNetFileConfig {
    /// Always `mnist-denoiser`.
    pub role: Role,
    pub unet: UNetConfig,
    pub score: ScoreConfig,
    /// How the weights were trained, when known.
    pub train: Option<UNetTrainConfig>,
    /// Optimiser steps behind the weights.
    #[serde(default)]
    pub steps_done: usize,
    /// The side of the images it models: MNIST's 28, or 14 for DDPM-14 (the digits bilinearly
    /// halved, seed 003 §3.2); files from before this field model 28².
    #[serde(default = "full_side")]
    pub side: usize,
}

fn full_side() -> usize {
    crate::data::mnist::SIDE
}

impl UNetFileConfig {
    pub fn new(unet: UNetConfig, score: ScoreConfig) -> Self {
        Self { role: Role::MnistDenoiser, unet, score, train: None, steps_done: 0, side: full_side() }
    }

    /// Pixels per image, side².
    pub fn pixels(&self) -> usize {
        self.side * self.side
    }

    /// The side, the network, its input config and their agreement checked (`model_file::unet`,
    /// every run and a DDPM-14 surrogate do this).
    pub fn validate(&self) -> Result<()> {
        limits::IMAGE_SIDE.check(self.side as f64)?;
        self.score.validate()?;
        if self.unet.time_features != self.score.fourier.width() {
            return Err(Error::Config("the UNet's time input does not match its Fourier features".into()));
        }
        self.unet.validate()
    }

    /// `unet` as a score model with one class label per row and guidance weight `guidance`.
    pub fn score_model<'a>(&self, unet: &'a UNet, labels: Vec<i64>, guidance: f64) -> Result<UNetScore<'a>> {
        UNetScore::new(unet, &self.score, self.unet.null_class(), labels, guidance)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a config serialises")
    }
}
