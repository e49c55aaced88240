//! The config of a STATES MLP's model file (`model_file`, roles `denoiser` and `classifier`):
//! everything needed to rebuild the network and its process, and how it was trained.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::classifier::{ClassifierTrainer, NoisyClassification, one_hot};
use crate::data::states::Points;
use crate::error::{Error, Result};
pub use crate::io::Role;
use crate::model::mlp::{Mlp, MlpConfig};
use crate::objective::{DenoiserTrainer, Denoising, PointDenoising};
use crate::schedule::{Schedule, ScheduleConfig};
use crate::sde::Sde;
use crate::sde::dsm::ScoreConfig;
use crate::sde::guidance::ClassifierGuided;
use crate::sde::method::{Method, Variance};
use crate::sde::score::{EpsScore, ScoreModel};
use crate::train::{EpsLoss, TrainConfig, Trainer};

/// The JSON stored with the weights (and written as `config.json` by the CLI).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointConfig {
    #[serde(default)]
    pub role: Role,
    pub model: MlpConfig,
    pub schedule: ScheduleConfig,
    /// A denoiser trained on an SDE's continuous time (`None`: on the discrete DDPM chain of
    /// `schedule`, input t̄).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<ScoreConfig>,
    /// How the weights were trained, when known.
    pub train: Option<TrainConfig>,
}

impl CheckpointConfig {
    /// The course's DDPM: the 4 × 256 PReLU MLP with T = 500 and linear β.
    pub fn denoiser() -> Self {
        Self {
            role: Role::Denoiser,
            model: MlpConfig::denoiser(),
            schedule: ScheduleConfig::default(),
            score: None,
            train: None,
        }
    }

    /// The course's denoiser body (4 × 256 PReLU) trained by denoising score matching on `sde`,
    /// with input (c_in x, γ(t)).
    pub fn score_model(sde: Sde) -> Self {
        Self::continuous(ScoreConfig::new(sde))
    }

    /// The course's denoiser body as a velocity network trained by conditional flow matching on
    /// the rectified-flow path x_t = (1 − t) x_0 + t z.
    pub fn flow_matching() -> Self {
        Self::continuous(ScoreConfig::flow_matching())
    }

    /// The course's denoiser body on the continuous-time input of `score`.
    fn continuous(score: ScoreConfig) -> Self {
        let model = MlpConfig { d_input: score.input_width(), ..MlpConfig::denoiser() };
        Self { model, score: Some(score), ..Self::denoiser() }
    }

    /// By the CLI's and the page's names: `ddpm` (the course's chain), an SDE's (`vp`, `subvp`,
    /// `ve`, `flow`: ε-prediction on it) or `flow-matching` (a velocity network on the flow path).
    pub fn named_denoiser(name: &str) -> Result<Self> {
        match name {
            "ddpm" => Ok(Self::denoiser()),
            "flow-matching" => Ok(Self::flow_matching()),
            name => Sde::named(name).map(Self::score_model).ok_or_else(|| {
                Error::Config(format!("unknown SDE `{name}`: ddpm, vp, subvp, ve, flow or flow-matching"))
            }),
        }
    }

    /// The weights' EMA decay a run uses unless told otherwise: 0.999 for score models (Song et
    /// al.), none for the course DDPM (its measured defaults).
    pub fn default_ema_decay(&self) -> f64 {
        if self.score.is_some() { 0.999 } else { TrainConfig::default().ema_decay }
    }

    /// Whether the denoiser outputs a learned variance's v beside ε̂ (trained with L_hybrid).
    pub fn learns_variance(&self) -> bool {
        self.role == Role::Denoiser && self.model.d_output == 4
    }

    /// This denoiser with the outputs `loss` trains: ε̂ and, for L_hybrid, v (a learned variance).
    pub fn for_loss(mut self, loss: EpsLoss) -> Self {
        self.model.d_output = loss.outputs();
        self
    }

    /// The ancestral step's variance a file samples with unless told otherwise: its learned one,
    /// else σ² = β.
    pub fn default_variance(&self) -> Variance {
        if self.learns_variance() { Variance::Learned } else { Variance::Beta }
    }

    /// The ancestral variance to sample `method` with, by name (the CLI's `--variance`, the page's
    /// menu): this file's default unless named; `learned` only for a file that learned one; a
    /// choice only for the ancestral rule.
    pub fn sampling_variance(&self, name: Option<&str>, method: Method) -> Result<Variance> {
        let Some(name) = name else { return Ok(self.default_variance()) };
        let variance = Variance::named(name)?;
        if !matches!(method, Method::Ancestral { .. }) {
            return Err(Error::Config("the variance is the ancestral step's choice (ddim takes η)".into()));
        }
        if variance == Variance::Learned && !self.learns_variance() {
            return Err(Error::Config("this file has no learned variance (train it with the hybrid objective)".into()));
        }
        Ok(variance)
    }

    /// The process the denoiser's samplers run on: its SDE, or its DDPM chain.
    pub fn sde(&self) -> Sde {
        match &self.score {
            Some(score) => score.sde,
            None => Sde::ddpm(&self.schedule),
        }
    }

    /// The denoiser network `mlp` of this config as a score model on its process.
    pub fn eps_score<'a>(&'a self, mlp: &'a Mlp) -> Result<EpsScore<'a>> {
        EpsScore::new(mlp, self.sde(), self.score.as_ref())
    }

    /// `base`, a score model on `sde`, guided by this noisy classifier (`mlp`) towards `labels`
    /// (one per sample) with scale s; the classifier is asked at the σ-matched time of its own
    /// process (`ClassifierGuided`).
    pub fn guide<'a, M: ScoreModel>(
        &self,
        mlp: &'a Mlp,
        base: &'a M,
        sde: Sde,
        labels: &[u8],
        scale: f64,
        device: &Device,
    ) -> ClassifierGuided<'a, M> {
        ClassifierGuided {
            base,
            sde,
            classifier: mlp,
            classifier_sde: self.sde(),
            one_hot: one_hot(labels, device),
            scale,
        }
    }

    /// The training objective of this denoiser.
    pub fn denoising(&self) -> Result<Denoising> {
        match &self.score {
            Some(score) => Denoising::dsm(score.clone()),
            None => Ok(Denoising::Ddpm(self.schedule.init()?)),
        }
    }

    /// A fresh run training this denoiser on `data` (2-D points) with `train`.
    pub fn denoiser_trainer(
        &self,
        train: &TrainConfig,
        data: Vec<[f32; 2]>,
        device: &Device,
    ) -> Result<DenoiserTrainer> {
        self.coupled_trainer(train, data, None, device)
    }

    /// As [`CheckpointConfig::denoiser_trainer`], on the pairs (data_i, noise_i) when `noise` is
    /// given (reflow, `sde::reflow`).
    pub fn coupled_trainer(
        &self,
        train: &TrainConfig,
        data: Vec<[f32; 2]>,
        noise: Option<Vec<[f32; 2]>>,
        device: &Device,
    ) -> Result<DenoiserTrainer> {
        train.validate()?;
        let mut objective =
            PointDenoising::new(self.denoising()?, data, (train.batch, train.loss, train.t_sampling), &self.model)?;
        if let Some(noise) = noise {
            objective = objective.coupled(noise)?;
        }
        Trainer::new(|device, seed| self.model.init(device, seed), objective, train.plan(), device)
    }

    /// A fresh run training this noisy classifier on the labelled `data` with `train`.
    pub fn classifier_trainer(&self, train: &TrainConfig, data: Points, device: &Device) -> Result<ClassifierTrainer> {
        train.validate()?;
        let objective = NoisyClassification::new(self.schedule.init()?, data, train.batch, &self.model)?;
        Trainer::new(|device, seed| self.model.init(device, seed), objective, train.plan(), device)
    }

    /// The course's noisy classifier: 100, 200, 500 hidden units, 5 logits, the same T = 500 chain.
    pub fn classifier() -> Self {
        Self { role: Role::Classifier, model: MlpConfig::classifier(), ..Self::denoiser() }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a config serialises")
    }
}

/// A loaded network, ready to use.
pub struct Checkpoint {
    pub mlp: Mlp,
    pub schedule: Schedule,
    pub config: CheckpointConfig,
}

impl Checkpoint {
    /// The loaded denoiser as a score model on its process.
    pub fn eps_score(&self) -> Result<EpsScore<'_>> {
        self.config.eps_score(&self.mlp)
    }
}
