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

use crate::data::mnist::{Mnist, PIXELS, SCALE_A, SCALE_B, SIDE, to_model};
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
        config: &UNetTrainConfig,
        null: usize,
        rng: &mut Rng,
    ) -> Self {
        let (batch, t_min) = (config.batch, config.t_min(&score.sde));
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
            let t = config.t_sampling.draw(&score.sde, t_min, rng);
            let (m, s) = score.sde.marginal(t);
            let c_in = score.c_in(t);
            let x_0: Vec<f32> = match config.dequantise {
                true => dequantize(data.image(i), 256.0 * SCALE_A, SCALE_B, rng),
                false => data.image(i).iter().map(|&b| to_model(b)).collect(),
            };
            let z = rng.normals(PIXELS);
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

/// The UNet's denoising objective: minibatches of `config.batch` images of `data`.
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
        file.score.validate()?;
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
        if file.unet.time_features != file.score.fourier.width() {
            return Err(Error::Config("the UNet's time input must be 2 × the Fourier frequencies".into()));
        }
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
mod tests {
    use super::*;
    use crate::model::unet::UNetConfig;
    use crate::sde::Sde;

    fn tiny_data() -> Mnist {
        let mut rng = Rng::new(0);
        let images = (0..16 * PIXELS).map(|_| (rng.below(4) * 85) as u8).collect();
        Mnist { images, labels: (0..16).map(|i| (i % 10) as u8).collect() }
    }

    fn file() -> UNetFileConfig {
        let unet = UNetConfig {
            channels: vec![8, 16],
            res_blocks: 1,
            emb: 16,
            time_features: 32,
            classes: 10,
            groups: 4,
            ..UNetConfig::default()
        };
        UNetFileConfig::new(unet, ScoreConfig::new(Sde::vp()))
    }

    fn config(steps: usize) -> UNetTrainConfig {
        UNetTrainConfig { steps, batch: 4, lr: 1e-3, warmup: 2, ..Default::default() }
    }

    #[test]
    fn resume_continues_exactly() {
        let device = Device::flex();
        let mut straight = UNetRun::new(file(), config(4), tiny_data(), &device).unwrap();
        let losses: Vec<f32> = (0..4).map(|_| straight.step().into_scalar()).collect();
        assert!(losses.iter().all(|l| l.is_finite()));

        let mut first = UNetRun::new(file(), config(4), tiny_data(), &device).unwrap();
        let mut resumed_losses: Vec<f32> = (0..2).map(|_| first.step().into_scalar()).collect();
        let snapshot = first.snapshot().unwrap();
        drop(first);
        let mut second = UNetRun::resume(&snapshot, 4, tiny_data(), &device).unwrap();
        assert_eq!(second.steps_done(), 2);
        resumed_losses.extend((0..2).map(|_| second.step().into_scalar::<f32>()));
        assert_eq!(losses, resumed_losses);
        assert_eq!(straight.ema_bytes().unwrap(), second.ema_bytes().unwrap());
        // A damaged snapshot is an error, not a panic.
        let broken = Snapshot { optim: snapshot.optim[..snapshot.optim.len() / 2].to_vec(), ..snapshot.clone() };
        assert!(UNetRun::resume(&broken, 4, tiny_data(), &device).is_err());
        assert!(UNetRun::resume(&Snapshot { state: "{".into(), ..snapshot }, 4, tiny_data(), &device).is_err());
    }

    #[test]
    fn labels_drop_to_the_null_class_at_the_given_rate() {
        let score = ScoreConfig::new(Sde::vp());
        let fourier = score.fourier.init().unwrap();
        let config = UNetTrainConfig { batch: 4000, label_dropout: 0.1, ..Default::default() };
        let batch = ImageBatch::draw(&tiny_data(), &score, &fourier, &config, 10, &mut Rng::new(1));
        let dropped = batch.labels.iter().filter(|&&l| l == 10).count() as f64 / 4000.0;
        assert!((dropped - 0.1).abs() < 0.02, "{dropped}");
        assert!(batch.input.iter().all(|v| v.is_finite()) && batch.weight.iter().all(|&w| w == 1.0));
        assert_eq!(ScoreConfig { weighting: Weighting::Sigma2, ..score }.weight(0.5), 1.0);
    }

    /// With t_min = 10⁻⁵ and log-SNR draws most inputs are nearly clean, and dequantised ones
    /// spread over the whole bin of their byte rather than sitting on its edge.
    #[test]
    fn dequantised_small_t_inputs_fill_their_bins() {
        let score = ScoreConfig::new(Sde::vp());
        let fourier = score.fourier.init().unwrap();
        let data = Mnist { images: vec![0; 64 * PIXELS], labels: vec![0; 64] };
        let config = UNetTrainConfig {
            batch: 64,
            t_min: Some(1e-5),
            t_sampling: TimeSampling::LogSnr,
            dequantise: true,
            ..Default::default()
        };
        let batch = ImageBatch::draw(&data, &score, &fourier, &config, 10, &mut Rng::new(2));
        let bin = 1.0 / 127.5;
        let inside = batch.input.iter().filter(|&&x| (-1.0..-1.0 + bin).contains(&x)).count();
        let lower_half = batch.input.iter().filter(|&&x| (-1.0..-1.0 + 0.5 * bin).contains(&x)).count();
        // Uniform in λ from λ(1) ≈ −5 to λ(10⁻⁵) ≈ 7: the draws near t_min have s(t) below a bin.
        assert!(inside > batch.input.len() / 10, "{inside}");
        assert!((lower_half as f64 / inside as f64 - 0.5).abs() < 0.1, "{lower_half} of {inside}");
        let plain = ImageBatch::draw(
            &data,
            &score,
            &fourier,
            &UNetTrainConfig { dequantise: false, ..config },
            10,
            &mut Rng::new(2),
        );
        let above_edge = plain.input.iter().filter(|&&x| (-1.0 + 0.5 * bin..-1.0 + bin).contains(&x)).count();
        assert!(above_edge < inside / 4, "{above_edge} vs {inside}");
    }

    /// A fine-tuning run starts from the file's weights, as both its network and its EMA.
    #[test]
    fn fine_tuning_starts_from_the_file() {
        let device = Device::flex();
        let mut run = UNetRun::new(file(), config(2), tiny_data(), &device).unwrap();
        run.step();
        let bytes = run.ema_bytes().unwrap();
        let tuned = UNetRun::fine_tune(&bytes, config(2), tiny_data(), &device).unwrap();
        let values = |b: &[u8]| {
            let mut tensors = io::decode(b).unwrap().tensors;
            tensors.sort_by(|x, y| x.name.cmp(&y.name));
            tensors
        };
        let (a, b) = (values(&bytes), values(&tuned.ema_bytes().unwrap()));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((&x.name, &x.values), (&y.name, &y.values));
        }
        assert!(UNetRun::fine_tune(&bytes[..bytes.len() / 2], config(2), tiny_data(), &device).is_err());
    }

    /// Log-SNR (or mixed) t-sampling with the likelihood weighting would count g²/s² twice: refused;
    /// each alone is accepted.
    #[test]
    fn log_snr_sampling_with_the_likelihood_weighting_is_refused() {
        let device = Device::flex();
        let likelihood = |f: UNetFileConfig| UNetFileConfig {
            score: ScoreConfig { weighting: Weighting::Likelihood, ..f.score },
            ..f
        };
        for t_sampling in [TimeSampling::LogSnr, TimeSampling::Mixed] {
            let config = UNetTrainConfig { t_sampling, ..config(2) };
            let err = UNetRun::new(likelihood(file()), config.clone(), tiny_data(), &device).err().unwrap();
            assert!(err.to_string().contains("likelihood weighting"), "{err}");
            assert!(UNetRun::new(file(), config, tiny_data(), &device).is_ok());
        }
        assert!(UNetRun::new(likelihood(file()), config(2), tiny_data(), &device).is_ok());
    }

    #[test]
    fn absurd_hyper_parameters_are_rejected() {
        for bad in [
            UNetTrainConfig { lr: f64::NAN, ..config(4) },
            UNetTrainConfig { batch: 0, ..config(4) },
            UNetTrainConfig { label_dropout: 1.5, ..config(4) },
            UNetTrainConfig { clip: 0.0, ..config(4) },
            UNetTrainConfig { t_min: Some(0.0), ..config(4) },
        ] {
            assert!(UNetRun::new(file(), bad, tiny_data(), &Device::flex()).is_err());
        }
    }
}
