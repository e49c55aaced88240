//! `diffusion bench states`: training steps/s and sampling samples/s per device (numbers, not tests).

use std::time::Instant;

use burn::prelude::*;
use clap::Args;
use diffusion::checkpoint::CheckpointConfig;
use diffusion::data::states::states;
use diffusion::limits;
use diffusion::sde::sampler::{Method, SdeSampler};
use diffusion::train::TrainConfig;

use crate::common::to_vec;
use crate::device::DeviceArg;
use crate::ranged::ranged;

#[derive(Args)]
pub struct BenchArgs {
    /// Devices to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "cpu,wgpu")]
    devices: Vec<DeviceArg>,
    #[arg(long, default_value_t = 10_000, value_parser = ranged::<usize>(limits::BATCH))]
    batch: usize,
    /// Timed training steps (after 3 warm-up steps).
    #[arg(long, default_value_t = 20, value_parser = ranged::<usize>(limits::TRAIN_STEPS))]
    steps: usize,
    /// Points sampled through all T reverse steps.
    #[arg(long, default_value_t = 5000, value_parser = ranged::<usize>(limits::SAMPLES))]
    n: usize,
}

pub fn bench_states(args: BenchArgs) -> Result<(), String> {
    println!("| device | batch | train steps/s | ms/step | samples/s (n = {}, T steps) |", args.n);
    println!("|---|---|---|---|---|");
    for device_arg in &args.devices {
        let device = device_arg.device()?;
        let config = CheckpointConfig::denoiser();
        let schedule = config.schedule.init()?;
        let train = TrainConfig { steps: args.steps + 3, batch: args.batch, ..Default::default() };
        let mut trainer = config.denoiser_trainer(&train, states().xy, &device)?;
        for _ in 0..3 {
            to_vec(trainer.step())?;
        }
        let started = Instant::now();
        let losses: Vec<Tensor<1>> = (0..args.steps).map(|_| trainer.step()).collect();
        to_vec(Tensor::cat(losses, 0))?; // waits for the device
        let train_seconds = started.elapsed().as_secs_f64();

        let mlp = trainer.model();
        let model = config.eps_score(&mlp)?;
        let started = Instant::now();
        let sampler = SdeSampler::new(Method::ancestral(), model.sde, schedule.steps, args.n, 0, &device)?;
        to_vec(sampler.run(&model))?;
        let sample_seconds = started.elapsed().as_secs_f64();
        println!(
            "| {} | {} | {:.2} | {:.0} | {:.1} |",
            device_arg.name(),
            args.batch,
            args.steps as f64 / train_seconds,
            1000.0 * train_seconds / args.steps as f64,
            args.n as f64 / sample_seconds
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct BenchMnistArgs {
    /// An MNIST UNet file (its architecture is what is timed).
    #[arg(long, default_value = "web/models/mnist-vp.safetensors")]
    weights: std::path::PathBuf,
    #[arg(long, value_delimiter = ',', default_value = "cpu,wgpu")]
    devices: Vec<DeviceArg>,
    /// Grid sizes: images sampled at once.
    #[arg(long, value_delimiter = ',', default_value = "1,16,256", value_parser = ranged::<usize>(limits::IMAGE_BATCH))]
    batches: Vec<usize>,
    /// Timed DPM-Solver++(2M) steps (network evaluations) per measurement, after one warm-up step.
    #[arg(long, default_value_t = 5, value_parser = ranged::<usize>(limits::NFE))]
    steps: usize,
}

/// Sampling speed of the MNIST UNet: network evaluations of one image per second, and what that
/// means for a 50-step sampler (images/s), per device and batch.
pub fn bench_mnist(args: BenchMnistArgs) -> Result<(), String> {
    use diffusion::data::mnist::PIXELS;
    println!("| device | images at once | image evaluations/s | images/s at 50 steps |");
    println!("|---|---|---|---|");
    for device_arg in &args.devices {
        let device = match device_arg.device() {
            Ok(device) => device,
            Err(e) => {
                println!("| {} | – | unavailable: {e} | – |", device_arg.name());
                continue;
            }
        };
        let (unet, file) = crate::mnist::load_unet(&args.weights, &device)?;
        for &n in &args.batches {
            let labels: Vec<i64> = diffusion::data::label_cycle(10, n).into_iter().map(|l| l as i64).collect();
            let model = file.score_model(&unet, labels, 0.0)?;
            let mut sampler =
                SdeSampler::with_dim(Method::DpmSolver2M, file.score.sde, args.steps + 1, n, PIXELS, 0, &device)?;
            sampler.step(&model);
            to_vec(sampler.x())?;
            let started = Instant::now();
            for _ in 0..args.steps {
                sampler.step(&model);
            }
            to_vec(sampler.x())?;
            let rate = (n * args.steps) as f64 / started.elapsed().as_secs_f64();
            println!("| {} | {n} | {rate:.1} | {:.2} |", device_arg.name(), rate / 50.0);
        }
    }
    Ok(())
}
