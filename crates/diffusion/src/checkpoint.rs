//! A model file: an MLP's safetensors weights with, in the header metadata, everything needed to
//! rebuild the network and its schedule, what it is for (denoiser or classifier) and how it was
//! trained.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::{self, NamedTensor};
use crate::model::mlp::{Mlp, MlpConfig};
use crate::objective::Objective;
use crate::schedule::{Schedule, ScheduleConfig};
use crate::sde::Sde;
use crate::sde::dsm::ScoreConfig;
use crate::sde::score::EpsScore;
use crate::train::TrainConfig;

/// What the network predicts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// ε̂(x_t, t), the DDPM noise prediction (files without a role are denoisers).
    #[default]
    Denoiser,
    /// Logits of f_φ(y | x_t, t), the noisy classifier used for guidance.
    Classifier,
}

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
        let score = ScoreConfig::new(sde);
        let model = MlpConfig { d_input: score.input_width(), ..MlpConfig::denoiser() };
        Self { model, score: Some(score), ..Self::denoiser() }
    }

    /// By the CLI's and the page's names: `ddpm` (the course's chain) or an SDE's (`vp`, `subvp`, `ve`).
    pub fn named_denoiser(name: &str) -> Result<Self> {
        match name {
            "ddpm" => Ok(Self::denoiser()),
            name => Sde::named(name)
                .map(Self::score_model)
                .ok_or_else(|| Error::Config(format!("unknown SDE `{name}`: ddpm, vp, subvp or ve"))),
        }
    }

    /// The weights' EMA decay a run uses unless told otherwise: 0.999 for score models (Song et
    /// al.), none for the course DDPM (its measured defaults).
    pub fn default_ema_decay(&self) -> f64 {
        if self.score.is_some() { 0.999 } else { TrainConfig::default().ema_decay }
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

    /// The training objective of this denoiser.
    pub fn objective(&self) -> Result<Objective> {
        match &self.score {
            Some(score) => Objective::dsm(score.clone()),
            None => Ok(Objective::Ddpm(self.schedule.init()?)),
        }
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

/// Safetensors bytes of a network whose parameters were read to the host.
pub fn encode(tensors: &[NamedTensor], config: &CheckpointConfig) -> Result<Vec<u8>> {
    io::encode(tensors, &config.to_json())
}

/// Rebuilds a network of the given role from a file's bytes on `device`. A file without config
/// metadata is read as the course's default architecture for that role; a file of the other role
/// or any mismatch is an error naming the tensor.
pub fn decode(bytes: &[u8], role: Role, device: &Device) -> Result<Checkpoint> {
    let file = io::decode(bytes)?;
    let config: CheckpointConfig = match &file.config_json {
        Some(json) => serde_json::from_str(json)
            .map_err(|e| Error::Weights(format!("the file's config metadata is not a model config: {e}")))?,
        None => match role {
            Role::Denoiser => CheckpointConfig::denoiser(),
            Role::Classifier => CheckpointConfig::classifier(),
        },
    };
    if config.role != role {
        let name = |r: Role| format!("{r:?}").to_lowercase();
        return Err(Error::Weights(format!("this file holds a {}, not a {}", name(config.role), name(role))));
    }
    let schedule = config.schedule.init()?;
    let mlp = io::load(config.model.init(device, 0)?, &file.tensors)?;
    Ok(Checkpoint { mlp, schedule, config })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(mlp: &Mlp) -> Vec<NamedTensor> {
        io::parameters(mlp)
            .into_iter()
            .map(|(name, shape, t)| NamedTensor { name, shape, values: t.into_data().try_into_vec().unwrap() })
            .collect()
    }

    #[test]
    fn a_file_rebuilds_its_model() {
        let device = Device::flex();
        let config = CheckpointConfig {
            role: Role::Denoiser,
            model: MlpConfig { d_input: 3, hidden: vec![4], d_output: 2 },
            schedule: ScheduleConfig { steps: 10, ..Default::default() },
            score: None,
            train: Some(TrainConfig::default()),
        };
        let mlp = config.model.init(&device, 3).unwrap();
        let bytes = encode(&host(&mlp), &config).unwrap();
        let loaded = decode(&bytes, Role::Denoiser, &device).unwrap();
        assert_eq!(loaded.config, config);
        assert_eq!(loaded.schedule.steps, 10);
        let x = Tensor::<2>::ones([2, 3], &device);
        assert_eq!(loaded.mlp.forward(x.clone()).into_data(), mlp.forward(x).into_data());
        // Without metadata the file must fit the course's default network, and this one does not.
        let bare = io::encode(&host(&mlp), "").unwrap();
        assert!(decode(&bare, Role::Denoiser, &device).is_err());
    }

    #[test]
    fn a_continuous_model_keeps_its_sde_and_embedding() {
        let device = Device::flex();
        let config = CheckpointConfig::score_model(Sde::sub_vp());
        assert_eq!(config.model.d_input, 34);
        let bytes = encode(&host(&config.model.init(&device, 0).unwrap()), &config).unwrap();
        let loaded = decode(&bytes, Role::Denoiser, &device).unwrap();
        assert_eq!(loaded.config, config);
        assert_eq!(loaded.config.sde(), Sde::sub_vp());
        assert!(matches!(loaded.config.objective().unwrap(), Objective::Dsm(..)));
        // A DDPM file (no `score`) still reads, as its chain.
        assert_eq!(CheckpointConfig::denoiser().sde(), Sde::ddpm(&ScheduleConfig::default()));
    }

    #[test]
    fn a_classifier_is_not_loaded_as_a_denoiser() {
        let device = Device::flex();
        let config = CheckpointConfig::classifier();
        let bytes = encode(&host(&config.model.init(&device, 0).unwrap()), &config).unwrap();
        assert!(decode(&bytes, Role::Classifier, &device).is_ok());
        let err = decode(&bytes, Role::Denoiser, &device).err().unwrap();
        assert!(err.to_string().contains("holds a classifier, not a denoiser"), "{err}");
        // Without metadata, the classifier's shapes do not fit a denoiser, and the error names a tensor.
        let bare = io::encode(&host(&config.model.init(&device, 0).unwrap()), "").unwrap();
        let err = decode(&bare, Role::Denoiser, &device).err().unwrap();
        assert!(err.to_string().contains("layers."), "{err}");
        assert!(decode(&bare, Role::Classifier, &device).is_ok());
    }
}
