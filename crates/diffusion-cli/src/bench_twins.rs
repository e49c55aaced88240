//! `diffusion bench twin WORKLOAD`: one timed run of a workload that `bench/twins.py` also runs in
//! PyTorch (same network, batch, optimiser and sampler), printed as one JSON line. `cargo xtask
//! bench` alternates the two and prints the ratios; a benchmark, never a test.

use std::time::Instant;

use burn::prelude::*;
use clap::{Args, ValueEnum};
use diffusion::checkpoint::CheckpointConfig;
use diffusion::data::mnist::{Mnist, PIXELS, SIDE};
use diffusion::data::states::states;
use diffusion::limits;
use diffusion::model::unet::{UNet, UNetConfig};
use diffusion::rng::Rng;
use diffusion::sde::Sde;
use diffusion::sde::dsm::{ScoreConfig, Weighting};
use diffusion::sde::sampler::{Method, SdeSampler};
use diffusion::train::TrainConfig;
use diffusion::train_unet::{UNetRun, UNetTrainConfig};
use diffusion::unet_checkpoint::UNetFileConfig;

use crate::common::to_vec;
use crate::device::DeviceArg;
use crate::ranged::ranged;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Workload {
    /// One Adam step of the STATES MLP (3 → 4 × 256 PReLU → 2) on the ε-loss: steps/s.
    StatesTrain,
    /// `n` STATES points through all 500 ancestral steps: samples/s.
    StatesSample,
    /// One Adam step of the MNIST UNet (clipping, EMA) at batch `batch`: steps/s.
    MnistTrain,
    /// DPM-Solver++(2M) steps of the MNIST UNet on `batch` images at once: image evaluations/s.
    MnistSample,
}

#[derive(Args)]
pub struct TwinArgs {
    workload: Workload,
    #[arg(long, default_value = "cpu")]
    device: DeviceArg,
    /// Rows per step (STATES training, default 10 000) or images at once (MNIST, default 128).
    #[arg(long, value_parser = ranged::<usize>(limits::BATCH))]
    batch: Option<usize>,
    /// Timed steps (training steps or sampler steps) after the warm-up ones.
    #[arg(long, default_value_t = 10, value_parser = ranged::<usize>(limits::TRAIN_STEPS))]
    steps: usize,
    /// STATES points sampled through all T steps.
    #[arg(long, default_value_t = 5000, value_parser = ranged::<usize>(limits::SAMPLES))]
    n: usize,
}

const WARMUP: usize = 3;

pub fn bench_twin(args: TwinArgs) -> Result<(), String> {
    let device = args.device.device()?;
    let (batch, rate, unit) = match args.workload {
        Workload::StatesTrain => {
            let batch = args.batch.unwrap_or(10_000);
            (batch, states_train(batch, args.steps, &device)?, "steps/s")
        }
        Workload::StatesSample => (args.n, states_sample(args.n, &device)?, "samples/s"),
        Workload::MnistTrain => {
            let batch = args.batch.unwrap_or(128);
            (batch, mnist_train(batch, args.steps, &device)?, "steps/s")
        }
        Workload::MnistSample => {
            let batch = args.batch.unwrap_or(128);
            let file = mnist_file();
            let unet = file.unet.init(&device, 0)?;
            (batch, mnist_sample(&unet, &file, batch, args.steps, &device)?, "image evaluations/s")
        }
    };
    let name = args.workload.to_possible_value().expect("a named workload").get_name().to_string();
    println!("{}", serde_json::json!({ "impl": "burn", "workload": name, "batch": batch, "rate": rate, "unit": unit }));
    Ok(())
}

/// Steps/s of `steps` calls of `step` after [`WARMUP`] of them, reading the last loss back.
fn steps_per_second(steps: usize, mut step: impl FnMut() -> Tensor<1>) -> Result<f64, String> {
    for _ in 0..WARMUP {
        to_vec(step())?;
    }
    let started = Instant::now();
    let losses: Vec<Tensor<1>> = (0..steps).map(|_| step()).collect();
    to_vec(Tensor::cat(losses, 0))?; // waits for the device
    Ok(steps as f64 / started.elapsed().as_secs_f64())
}

pub fn states_train(batch: usize, steps: usize, device: &Device) -> Result<f64, String> {
    let train = TrainConfig { steps: steps + WARMUP, batch, ..Default::default() };
    let mut trainer = CheckpointConfig::denoiser().denoiser_trainer(&train, states().xy, device)?;
    steps_per_second(steps, || trainer.step())
}

/// The course DDPM (T = 500) from a fresh network: the time per step does not depend on the weights.
pub fn states_sample(n: usize, device: &Device) -> Result<f64, String> {
    let config = CheckpointConfig::denoiser();
    let mlp = config.model.init(device, 0)?;
    let model = config.eps_score(&mlp)?;
    let steps = config.schedule.init()?.steps;
    let started = Instant::now();
    let sampler = SdeSampler::new(Method::ancestral(), model.sde, steps, n, 0, device)?;
    to_vec(sampler.run(&model))?;
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// The shipped UNet's widths and SDE; random bytes stand in for the digits (the step's cost does
/// not depend on them), so the bench needs no data files.
fn mnist_file() -> UNetFileConfig {
    let score = ScoreConfig { weighting: Weighting::Sigma2, ..ScoreConfig::new(Sde::vp()) };
    UNetFileConfig::new(UNetConfig::default(), score)
}

fn mnist_train(batch: usize, steps: usize, device: &Device) -> Result<f64, String> {
    let mut rng = Rng::new(0);
    let images = 1024;
    let data = Mnist {
        images: (0..images * PIXELS).map(|_| (rng.uniform() * 256.0) as u8).collect(),
        labels: (0..images).map(|i| (i % 10) as u8).collect(),
        side: SIDE,
    };
    let config = UNetTrainConfig { steps: steps + WARMUP, batch, warmup: 0, ..Default::default() };
    let mut run = UNetRun::new(mnist_file(), config, data, device)?;
    steps_per_second(steps, || run.step())
}

/// Image evaluations/s of DPM-Solver++(2M) steps of `unet` on `batch` images at once.
pub fn mnist_sample(
    unet: &UNet,
    file: &UNetFileConfig,
    batch: usize,
    steps: usize,
    device: &Device,
) -> Result<f64, String> {
    let labels = diffusion::data::label_cycle(10, batch).into_iter().map(|l| l as i64).collect();
    let model = file.score_model(unet, labels, 0.0)?;
    let mut sampler =
        SdeSampler::with_dim(Method::DpmSolver2M, file.score.sde, steps + WARMUP, batch, PIXELS, 0, device)?;
    for _ in 0..WARMUP {
        sampler.step(&model);
    }
    to_vec(sampler.x())?;
    let started = Instant::now();
    for _ in 0..steps {
        sampler.step(&model);
    }
    to_vec(sampler.x())?;
    Ok((batch * steps) as f64 / started.elapsed().as_secs_f64())
}
