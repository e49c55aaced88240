//! Training the MNIST UNet by denoising score matching on an SDE (Song et al. 2021, eq. 7, as in
//! `sde::dsm`): x_t = m(t) x_0 + s(t) z with t ∈ [t_min, 1] drawn uniformly or uniformly in log-SNR
//! (`TimeSampling`), loss λ(t)/s(t)² · mean‖ε̂ − z‖², the label replaced by the null class with
//! probability p (classifier-free guidance, Ho & Salimans 2022). Adam with a linear warm-up,
//! per-tensor gradient-norm clipping and an EMA of the weights. With `dequantise`, x_0 is the
//! uniformly dequantised image y = (b + v)/127.5 − 1, v ~ U[0, 1), the very density that
//! `diffusion likelihood-mnist` scores (a model of the bare bytes puts its mass on the bins' edges).
//!
//! The run is the one trainer (`train::Trainer`) on this objective; a run stopped and resumed
//! from a snapshot (weights, EMA, Adam moments, step) continues exactly.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::mnist::{Mnist, SCALE_A, SCALE_B, to_model};
use crate::error::{Error, Result};
use crate::io;
use crate::io::host_tensors;
use crate::metric::bits_per_dim::dequantize;
use crate::model::fourier::Fourier;
use crate::model::unet::UNet;
use crate::model_file;
use crate::rng::Rng;
use crate::sde::dsm::{ScoreConfig, TimeSampling, Weighting};
use crate::train::{Objective, Plan, TrainState, Trainer};
use crate::unet_checkpoint::UNetFileConfig;
pub use crate::unet_checkpoint::UNetTrainConfig;

/// One minibatch on the host: network input c_in x_t, γ(t) rows, labels (∅ = `null`), z, weights,
/// of `side`² images.
pub struct ImageBatch {
    pub input: Vec<f32>,
    pub time: Vec<f32>,
    pub labels: Vec<i64>,
    pub eps: Vec<f32>,
    pub weight: Vec<f32>,
    pub batch: usize,
    pub side: usize,
}

impl ImageBatch {
    pub fn draw(
        data: &Mnist,
        score: &ScoreConfig,
        fourier: &Fourier,
        config: &UNetTrainConfig,
        null: usize,
        rng: &mut Rng,
    ) -> Self {
        let (batch, t_min, pixels) = (config.batch, config.t_min(&score.sde), data.pixels());
        let mut out = ImageBatch {
            input: Vec::with_capacity(batch * pixels),
            time: Vec::with_capacity(batch * score.fourier.width()),
            labels: Vec::with_capacity(batch),
            eps: Vec::with_capacity(batch * pixels),
            weight: Vec::with_capacity(batch),
            batch,
            side: data.side,
        };
        for _ in 0..batch {
            let i = rng.below(data.len());
            let t = config.t_sampling.draw(&score.sde, t_min, rng);
            let (m, s) = score.sde.marginal(t);
            let c_in = score.c_in(t);
            let x_0: Vec<f32> = match config.dequantise {
                true => dequantize(data.image(i), 256.0 * SCALE_A, SCALE_B, rng),
                false => data.image(i).iter().map(|&b| to_model(b)).collect(),
            };
            let z = rng.normals(pixels);
            out.input.extend(x_0.iter().zip(&z).map(|(&x, &z)| (c_in * (m * x as f64 + s * z as f64)) as f32));
            out.eps.extend(z);
            out.time.extend(fourier.embed(score.noise_input(t)));
            let drop = rng.uniform() < config.label_dropout;
            out.labels.push(if drop { null as i64 } else { data.labels[i] as i64 });
            out.weight.push(score.weight(t) as f32);
        }
        out
    }

    /// The weighted ε-loss of `unet` on this batch: mean over rows of w · mean over pixels (ε̂ − z)².
    pub fn loss(&self, unet: &UNet, device: &Device) -> Tensor<1> {
        let (b, side) = (self.batch, self.side);
        let x = Tensor::<4>::from_data(TensorData::new(self.input.clone(), [b, 1, side, side]), device);
        let width = self.time.len() / b;
        let time = Tensor::<2>::from_data(TensorData::new(self.time.clone(), [b, width]), device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(self.labels.clone(), [b]), device);
        let eps = Tensor::<4>::from_data(TensorData::new(self.eps.clone(), [b, 1, side, side]), device);
        let weight = Tensor::<1>::from_data(TensorData::new(self.weight.clone(), [b]), device);
        let per_row = (unet.forward(x, time, labels) - eps).square().reshape([b, side * side]).mean_dim(1).reshape([b]);
        (per_row * weight).mean()
    }
}

/// The UNet's denoising objective: minibatches of `config.batch` images of `data`, resampled to
/// the file's side when smaller (DDPM-14 learns the digits halved, `Mnist::resized`).
pub struct ImageDenoising {
    score: ScoreConfig,
    fourier: Fourier,
    config: UNetTrainConfig,
    null: usize,
    data: Mnist,
}

impl ImageDenoising {
    pub fn new(file: &UNetFileConfig, config: UNetTrainConfig, data: Mnist) -> Result<Self> {
        config.validate()?;
        file.validate()?;
        if config.t_sampling != TimeSampling::Uniform && file.score.weighting == Weighting::Likelihood {
            // Log-SNR draws already importance-sample the likelihood weighting g²/s² (up to a
            // constant, see `TimeSampling::LogSnr`); weighting those draws by g²/s² again counts it twice.
            return Err(Error::Config(
                "log-SNR (or mixed) t-sampling already importance-samples the likelihood weighting: \
                 weight by σ² with it, or draw t uniformly"
                    .into(),
            ));
        }
        if data.is_empty() {
            return Err(Error::Config("no training images".into()));
        }
        let data = if data.side == file.side { data } else { data.resized(file.side)? };
        let fourier = file.score.fourier.init()?;
        Ok(Self { score: file.score.clone(), fourier, config, null: file.unet.null_class(), data })
    }
}

impl Objective<UNet> for ImageDenoising {
    fn loss(&self, unet: &UNet, rng: &mut Rng, device: &Device) -> Tensor<1> {
        ImageBatch::draw(&self.data, &self.score, &self.fourier, &self.config, self.null, rng).loss(unet, device)
    }
}

impl UNetTrainConfig {
    /// Adam at `lr` after a linear warm-up, per-tensor clipping, the EMA.
    pub fn plan(&self) -> Plan {
        Plan {
            steps: self.steps,
            lr: self.lr,
            warmup: self.warmup,
            lr_final_fraction: 1.0,
            clip: Some(self.clip),
            ema_decay: self.ema_decay,
            seed: self.seed,
        }
    }
}

/// What `state.json` of a snapshot holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RunState {
    file: UNetFileConfig,
    step: usize,
}

/// A UNet training run: the one trainer on [`ImageDenoising`], with the file config it writes.
pub struct UNetRun {
    trainer: Trainer<UNet, ImageDenoising>,
    file: UNetFileConfig,
}

impl UNetRun {
    /// A fresh run; `device` is the plain device, training runs on its autodiff twin.
    pub fn new(file: UNetFileConfig, config: UNetTrainConfig, data: Mnist, device: &Device) -> Result<Self> {
        let objective = ImageDenoising::new(&file, config.clone(), data)?;
        let trainer = Trainer::new(|device, seed| file.unet.init(device, seed), objective, config.plan(), device)?;
        let file = UNetFileConfig { train: Some(config), ..file };
        Ok(Self { trainer, file })
    }

    /// A fresh run (new optimiser, warm-up, step 0) that starts from the weights of a model file,
    /// both as the trained and as the EMA network; the architecture and SDE are the file's.
    pub fn fine_tune(weights: &[u8], config: UNetTrainConfig, data: Mnist, device: &Device) -> Result<Self> {
        let (_, file) = model_file::unet(weights, device)?;
        let mut run = Self::new(UNetFileConfig { train: None, steps_done: 0, ..file }, config, data, device)?;
        run.trainer.load_weights(&io::decode(weights)?.tensors)?;
        Ok(run)
    }

    /// One Adam step; returns the minibatch loss, still on the device.
    pub fn step(&mut self) -> Tensor<1> {
        self.trainer.step()
    }

    /// The trainer's divergence guard on the losses since the last check (`Trainer::check`).
    pub fn check(&mut self, losses: &[f32]) -> std::result::Result<(), crate::train::Divergence> {
        self.trainer.check(losses)
    }

    pub fn steps_done(&self) -> usize {
        self.trainer.steps_done()
    }

    pub fn config(&self) -> &UNetTrainConfig {
        self.file.train.as_ref().expect("a run's file records its training")
    }

    /// The EMA weights, for sampling.
    pub fn ema(&self) -> UNet {
        self.trainer.model()
    }

    /// The file config of the weights as they are now.
    pub fn file_config(&self) -> UNetFileConfig {
        UNetFileConfig { steps_done: self.steps_done(), ..self.file.clone() }
    }

    /// The EMA weights as a model file.
    pub fn ema_bytes(&self) -> Result<Vec<u8>> {
        model_file::encode(&host_tensors(&self.ema())?, &self.file_config())
    }

    /// Everything the run needs to continue (model, EMA, Adam state, step), as bytes for the
    /// caller to store (the CLI writes them as the files of [`Snapshot::FILES`]).
    pub fn snapshot(&self) -> Result<Snapshot> {
        let state = self.trainer.state()?;
        let file = self.file_config();
        let model = model_file::encode(&state.model, &file)?;
        let ema = match &state.ema {
            Some(ema) => model_file::encode(ema, &file)?,
            None => model.clone(),
        };
        let json = serde_json::to_string_pretty(&RunState { file, step: state.step }).expect("serialises");
        Ok(Snapshot { model, ema, optim: state.optim, state: json })
    }

    /// Continues a run from its snapshot, training up to `steps` in all.
    pub fn resume(snapshot: &Snapshot, steps: usize, data: Mnist, device: &Device) -> Result<Self> {
        let state: RunState = serde_json::from_str(&snapshot.state)
            .map_err(|e| Error::Config(format!("state.json is not a training state: {e}")))?;
        let config = UNetTrainConfig { steps, ..state.file.train.clone().unwrap_or_default() };
        let mut run = Self::new(state.file, config.clone(), data, device)?;
        let saved = TrainState {
            model: io::decode(&snapshot.model)?.tensors,
            ema: (config.ema_decay > 0.0).then(|| io::decode(&snapshot.ema).map(|f| f.tensors)).transpose()?,
            optim: snapshot.optim.clone(),
            step: state.step,
        };
        run.trainer.restore(&saved)?;
        Ok(run)
    }
}

/// A run's state in bytes: the weights, their EMA, Adam's moments and the step (with the file
/// config) as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub model: Vec<u8>,
    pub ema: Vec<u8>,
    pub optim: Vec<u8>,
    pub state: String,
}

impl Snapshot {
    /// The file names a snapshot is stored under, in field order.
    pub const FILES: [&str; 4] = ["model.safetensors", "ema.safetensors", "optim.bpk", "state.json"];
}

#[cfg(test)]
#[path = "train_unet_tests.rs"]
mod tests;
