//! A denoiser file: the network's safetensors weights with, in the header metadata, everything
//! needed to rebuild the network and its schedule (and how it was trained).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::{self, NamedTensor};
use crate::model::mlp::{Mlp, MlpConfig};
use crate::schedule::{Schedule, ScheduleConfig};
use crate::train::TrainConfig;

/// The JSON stored with the weights (and written as `config.json` by the CLI).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DenoiserConfig {
    pub model: MlpConfig,
    pub schedule: ScheduleConfig,
    /// How the weights were trained, when known.
    pub train: Option<TrainConfig>,
}

impl Default for DenoiserConfig {
    /// The course's DDPM: the 4 × 256 PReLU MLP with T = 500 and linear β.
    fn default() -> Self {
        Self { model: MlpConfig::denoiser(), schedule: ScheduleConfig::default(), train: None }
    }
}

/// A loaded denoiser, ready to sample.
pub struct Denoiser {
    pub mlp: Mlp,
    pub schedule: Schedule,
    pub config: DenoiserConfig,
}

impl DenoiserConfig {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a config serialises")
    }
}

/// Safetensors bytes of a denoiser whose parameters were read to the host.
pub fn encode_denoiser(tensors: &[NamedTensor], config: &DenoiserConfig) -> Result<Vec<u8>> {
    io::encode(tensors, &config.to_json())
}

/// Rebuilds a denoiser from a file's bytes on `device`. A file without config metadata is read as
/// the course's default architecture; any mismatch is an error naming the tensor.
pub fn decode_denoiser(bytes: &[u8], device: &Device) -> Result<Denoiser> {
    let file = io::decode(bytes)?;
    let config = match &file.config_json {
        Some(json) => serde_json::from_str(json)
            .map_err(|e| Error::Weights(format!("the file's config metadata is not a denoiser config: {e}")))?,
        None => DenoiserConfig::default(),
    };
    let schedule = config.schedule.init()?;
    let mlp = io::load(config.model.init(device, 0)?, &file.tensors)?;
    Ok(Denoiser { mlp, schedule, config })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denoiser_file_rebuilds_its_model() {
        let device = Device::flex();
        let config = DenoiserConfig {
            model: MlpConfig { d_input: 3, hidden: vec![4], d_output: 2 },
            schedule: ScheduleConfig { steps: 10, ..Default::default() },
            train: Some(TrainConfig::default()),
        };
        let mlp = config.model.init(&device, 3).unwrap();
        let tensors: Vec<NamedTensor> = io::parameters(&mlp)
            .into_iter()
            .map(|(name, shape, t)| NamedTensor { name, shape, values: t.into_data().try_into_vec().unwrap() })
            .collect();
        let bytes = encode_denoiser(&tensors, &config).unwrap();
        let loaded = decode_denoiser(&bytes, &device).unwrap();
        assert_eq!(loaded.config, config);
        assert_eq!(loaded.schedule.steps, 10);
        let x = Tensor::<2>::ones([2, 3], &device);
        assert_eq!(loaded.mlp.forward(x.clone()).into_data(), mlp.forward(x).into_data());
        // Without metadata the file must fit the course's default network, and this one does not.
        let bare = io::encode(&tensors, "").unwrap();
        assert!(decode_denoiser(&bare, &device).is_err());
    }
}
