//! Training the MNIST UNet by denoising score matching on an SDE (Song et al. 2021, eq. 7, as in
//! `sde::dsm`): x_t = m(t) x_0 + s(t) z with t ~ U(t_min, 1), loss λ(t)/s(t)² · mean‖ε̂ − z‖², the
//! label replaced by the null class with probability p (classifier-free guidance, Ho & Salimans
//! 2022). Adam with a linear warm-up, per-tensor gradient-norm clipping and an EMA of the weights.
//!
//! Each step's minibatch is drawn from a generator seeded by (seed, step), so a run stopped and
//! resumed from a checkpoint (weights, EMA, Adam moments, step) continues exactly.

use std::path::Path;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::{ModuleMapper, Param, ParamId};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::mnist::{Mnist, PIXELS, SIDE, to_model};
use crate::ema::{ema_update, warmup_decay};
use crate::error::{Error, Result};
use crate::io;
use crate::io::host_tensors;
use crate::model::fourier::Fourier;
use crate::model::unet::UNet;
use crate::rng::Rng;
use crate::sde::dsm::ScoreConfig;
use crate::unet_checkpoint::{self, UNetFileConfig};

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
            && (0.0..=1.0).contains(&self.label_dropout);
        if !ok {
            return Err(Error::Config(format!("unreasonable MNIST training hyper-parameters {self:?}")));
        }
        Ok(())
    }

    /// η_s = lr · min(1, (s + 1)/warmup).
    pub fn lr_at(&self, step: usize) -> f64 {
        self.lr * ((step + 1) as f64 / self.warmup.max(1) as f64).min(1.0)
    }
}

/// One minibatch on the host: network input c_in x_t, γ(t) rows, labels (∅ = `null`), z, weights.
pub struct ImageBatch {
    pub input: Vec<f32>,
    pub time: Vec<f32>,
    pub labels: Vec<i64>,
    pub eps: Vec<f32>,
    pub weight: Vec<f32>,
    pub batch: usize,
}

impl ImageBatch {
    pub fn draw(
        data: &Mnist,
        score: &ScoreConfig,
        fourier: &Fourier,
        batch: usize,
        label_dropout: f64,
        null: usize,
        rng: &mut Rng,
    ) -> Self {
        let t_min = score.sde.t_min();
        let mut out = ImageBatch {
            input: Vec::with_capacity(batch * PIXELS),
            time: Vec::with_capacity(batch * score.fourier.width()),
            labels: Vec::with_capacity(batch),
            eps: Vec::with_capacity(batch * PIXELS),
            weight: Vec::with_capacity(batch),
            batch,
        };
        for _ in 0..batch {
            let i = rng.below(data.len());
            let t = t_min + (1.0 - t_min) * rng.uniform();
            let (m, s) = score.sde.marginal(t);
            let c_in = score.c_in(t);
            let z = rng.normals(PIXELS);
            out.input.extend(
                data.image(i).iter().zip(&z).map(|(&b, &z)| (c_in * (m * to_model(b) as f64 + s * z as f64)) as f32),
            );
            out.eps.extend(z);
            out.time.extend(fourier.embed(t));
            let drop = rng.uniform() < label_dropout;
            out.labels.push(if drop { null as i64 } else { data.labels[i] as i64 });
            out.weight.push(score.weight(t) as f32);
        }
        out
    }

    /// The weighted ε-loss of `unet` on this batch: mean over rows of w · mean over pixels (ε̂ − z)².
    pub fn loss(&self, unet: &UNet, device: &Device) -> Tensor<1> {
        let b = self.batch;
        let x = Tensor::<4>::from_data(TensorData::new(self.input.clone(), [b, 1, SIDE, SIDE]), device);
        let width = self.time.len() / b;
        let time = Tensor::<2>::from_data(TensorData::new(self.time.clone(), [b, width]), device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(self.labels.clone(), [b]), device);
        let eps = Tensor::<4>::from_data(TensorData::new(self.eps.clone(), [b, 1, SIDE, SIDE]), device);
        let weight = Tensor::<1>::from_data(TensorData::new(self.weight.clone(), [b]), device);
        let per_row = (unet.forward(x, time, labels) - eps).square().reshape([b, PIXELS]).mean_dim(1).reshape([b]);
        (per_row * weight).mean()
    }
}

/// Gives the parameters fixed ids by visiting order, so Adam's saved moments find their parameters
/// again in a freshly built network.
fn number_params(unet: UNet) -> UNet {
    struct Number(u64);
    impl ModuleMapper for Number {
        fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.id = ParamId::from(self.0);
            self.0 += 1;
            param
        }
    }
    unet.map(&mut Number(1))
}

/// What `state.json` of a checkpoint directory holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TrainState {
    file: UNetFileConfig,
    step: usize,
}

pub struct UNetTrainer {
    unet: UNet,
    ema: UNet,
    optim: ModuleOptimizer,
    file: UNetFileConfig,
    config: UNetTrainConfig,
    fourier: Fourier,
    data: Mnist,
    device: Device,
    step: usize,
}

impl UNetTrainer {
    /// A fresh run; `device` is the plain device, training runs on its autodiff twin.
    pub fn new(file: UNetFileConfig, config: UNetTrainConfig, data: Mnist, device: &Device) -> Result<Self> {
        config.validate()?;
        file.score.validate()?;
        if data.is_empty() {
            return Err(Error::Config("no training images".into()));
        }
        if file.unet.time_features != file.score.fourier.width() {
            return Err(Error::Config("the UNet's time input must be 2 × the Fourier frequencies".into()));
        }
        let device = device.clone().autodiff();
        let unet = number_params(file.unet.init(&device, config.seed)?);
        let ema = unet.valid();
        let fourier = file.score.fourier.init()?;
        let optim = AdamConfig::new()
            .with_epsilon(1e-8)
            .with_grad_clipping(Some(GradientClippingConfig::Norm(config.clip as f32)))
            .init();
        let file = UNetFileConfig { train: Some(config.clone()), ..file };
        Ok(Self { unet, ema, optim, file, config, fourier, data, device, step: 0 })
    }

    /// One Adam step; returns the minibatch loss, still on the device.
    pub fn step(&mut self) -> Tensor<1> {
        let mut rng = Rng::new(self.config.seed ^ (self.step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let batch = ImageBatch::draw(
            &self.data,
            &self.file.score,
            &self.fourier,
            self.config.batch,
            self.config.label_dropout,
            self.file.unet.null_class(),
            &mut rng,
        );
        let loss = batch.loss(&self.unet, &self.device);
        let grads = GradientsParams::from_grads(loss.backward(), &self.unet);
        self.unet = self.optim.step(self.config.lr_at(self.step), self.unet.clone(), grads);
        let decay = warmup_decay(self.config.ema_decay, self.step);
        self.ema = ema_update(self.ema.clone(), &self.unet.valid(), decay);
        self.step += 1;
        loss.detach().without_autodiff()
    }

    pub fn steps_done(&self) -> usize {
        self.step
    }

    pub fn config(&self) -> &UNetTrainConfig {
        &self.config
    }

    /// The EMA weights, for sampling.
    pub fn ema(&self) -> &UNet {
        &self.ema
    }

    /// The file config of the weights as they are now.
    pub fn file_config(&self) -> UNetFileConfig {
        UNetFileConfig { steps_done: self.step, ..self.file.clone() }
    }

    /// The EMA weights as a model file.
    pub fn ema_bytes(&self) -> Result<Vec<u8>> {
        unet_checkpoint::encode(&host_tensors(&self.ema)?, &self.file_config())
    }

    /// Writes everything a run needs to continue into `dir` (model, EMA, Adam state, step).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let io_err =
            |e: std::io::Error| Error::Config(format!("cannot write the checkpoint in {}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io_err)?;
        let model = unet_checkpoint::encode(&host_tensors(&self.unet.valid())?, &self.file_config())?;
        std::fs::write(dir.join("model.safetensors"), model).map_err(io_err)?;
        std::fs::write(dir.join("ema.safetensors"), self.ema_bytes()?).map_err(io_err)?;
        self.optim
            .save(dir.join("optim.bpk"))
            .map_err(|e| Error::Config(format!("cannot save the optimiser state: {e:?}")))?;
        let state = TrainState { file: self.file_config(), step: self.step };
        std::fs::write(dir.join("state.json"), serde_json::to_string_pretty(&state).expect("serialises"))
            .map_err(io_err)
    }

    /// Continues the run saved in `dir`, training up to `steps` in all.
    pub fn resume(dir: &Path, steps: usize, data: Mnist, device: &Device) -> Result<Self> {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| Error::Config(format!("cannot read {} in {}: {e}", name, dir.display())))
        };
        let state: TrainState = serde_json::from_slice(&read("state.json")?)
            .map_err(|e| Error::Config(format!("{}/state.json is not a training state: {e}", dir.display())))?;
        let config = UNetTrainConfig { steps, ..state.file.train.clone().unwrap_or_default() };
        let mut trainer = Self::new(state.file, config, data, device)?;
        let weights = |name: &str| -> Result<Vec<io::NamedTensor>> { Ok(io::decode(&read(name)?)?.tensors) };
        trainer.unet = io::load(trainer.unet, &weights("model.safetensors")?)?;
        trainer.ema = io::load(trainer.ema, &weights("ema.safetensors")?)?;
        trainer.optim = trainer
            .optim
            .load(dir.join("optim.bpk"))
            .map_err(|e| Error::Config(format!("cannot load the optimiser state: {e:?}")))?;
        trainer.step = state.step;
        trainer.file.train = Some(trainer.config.clone());
        Ok(trainer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::unet::UNetConfig;
    use crate::sde::Sde;
    use crate::sde::dsm::Weighting;

    fn tiny_data() -> Mnist {
        let mut rng = Rng::new(0);
        let images = (0..16 * PIXELS).map(|_| (rng.below(4) * 85) as u8).collect();
        Mnist { images, labels: (0..16).map(|i| (i % 10) as u8).collect() }
    }

    fn file() -> UNetFileConfig {
        let unet =
            UNetConfig { channels: vec![8, 16], res_blocks: 1, emb: 16, time_features: 32, classes: 10, groups: 4 };
        UNetFileConfig::new(unet, ScoreConfig::new(Sde::vp()))
    }

    fn config(steps: usize) -> UNetTrainConfig {
        UNetTrainConfig { steps, batch: 4, lr: 1e-3, warmup: 2, ..Default::default() }
    }

    #[test]
    fn resume_continues_exactly() {
        let device = Device::flex();
        let mut straight = UNetTrainer::new(file(), config(4), tiny_data(), &device).unwrap();
        let losses: Vec<f32> = (0..4).map(|_| straight.step().into_scalar()).collect();
        assert!(losses.iter().all(|l| l.is_finite()));

        let dir = std::env::temp_dir().join(format!("unet-resume-{}", std::process::id()));
        let mut first = UNetTrainer::new(file(), config(4), tiny_data(), &device).unwrap();
        let mut resumed_losses: Vec<f32> = (0..2).map(|_| first.step().into_scalar()).collect();
        first.save(&dir).unwrap();
        drop(first);
        let mut second = UNetTrainer::resume(&dir, 4, tiny_data(), &device).unwrap();
        assert_eq!(second.steps_done(), 2);
        resumed_losses.extend((0..2).map(|_| second.step().into_scalar::<f32>()));
        assert_eq!(losses, resumed_losses);
        assert_eq!(straight.ema_bytes().unwrap(), second.ema_bytes().unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn labels_drop_to_the_null_class_at_the_given_rate() {
        let score = ScoreConfig::new(Sde::vp());
        let fourier = score.fourier.init().unwrap();
        let batch = ImageBatch::draw(&tiny_data(), &score, &fourier, 4000, 0.1, 10, &mut Rng::new(1));
        let dropped = batch.labels.iter().filter(|&&l| l == 10).count() as f64 / 4000.0;
        assert!((dropped - 0.1).abs() < 0.02, "{dropped}");
        assert!(batch.input.iter().all(|v| v.is_finite()) && batch.weight.iter().all(|&w| w == 1.0));
        assert_eq!(ScoreConfig { weighting: Weighting::Sigma2, ..score }.weight(0.5), 1.0);
    }

    #[test]
    fn absurd_hyper_parameters_are_rejected() {
        for bad in [
            UNetTrainConfig { lr: f64::NAN, ..config(4) },
            UNetTrainConfig { batch: 0, ..config(4) },
            UNetTrainConfig { label_dropout: 1.5, ..config(4) },
            UNetTrainConfig { clip: 0.0, ..config(4) },
        ] {
            assert!(UNetTrainer::new(file(), bad, tiny_data(), &Device::flex()).is_err());
        }
    }
}
