//! `diffusion train mnist-surrogate`: MNIST's one-shot surrogate, a class-conditional conv VAE
//! (`diffusion::model::conv_vae`) trained on the ELBO by the one trainer, written as
//! surrogate.safetensors (role `mnist-surrogate`) with a grid of its own digits. `sample mnist
//! --surrogate FILE --t-start t` starts any sampler from its digits noised to t (seed 003,
//! Algorithm 4).

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::Device;
use clap::Args;
use diffusion::checkpoint::Role;
use diffusion::limits;
use diffusion::model::conv_vae::ConvVaeConfig;
use diffusion::model_file;
use diffusion::rng::Rng;
use diffusion::surrogate::conv_vae::{neg_elbo_of, trainer};
use diffusion::surrogate::{FitRecord, Surrogate, SurrogateFile};
use diffusion::train::{Plan, Seeds};

use crate::common::{to_vec, train_loop};
use crate::device::DeviceArg;
use crate::files::{writable_dir, write};
use crate::mnist::{all_labels, grid_png, load_split};
use crate::ranged::ranged;

#[derive(Args)]
pub struct TrainArgs {
    /// The surrogate: vae (a class-conditional conv VAE; DDPM-14 is not built yet).
    #[arg(long, default_value = "vae", value_parser = ["vae"])]
    kind: String,
    /// Latent dimensions.
    #[arg(long, default_value_t = 16, value_parser = ranged::<usize>(limits::LATENT))]
    latent: usize,
    /// Training steps (Adam, learning rate decayed to 0 by a cosine).
    #[arg(long, default_value_t = 3000, value_parser = ranged::<usize>(limits::TRAIN_STEPS))]
    steps: usize,
    #[arg(long, default_value_t = 128, value_parser = ranged::<usize>(limits::MNIST_BATCH))]
    batch: usize,
    #[arg(long, default_value_t = 2e-3, value_parser = ranged::<f64>(limits::LR))]
    lr: f64,
    #[arg(long, default_value_t = 0, value_parser = ranged::<u64>(limits::SEED))]
    seed: u64,
    /// Output directory: surrogate.safetensors, config.json and grid.png (100 of its digits).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// The folder holding MNIST's IDX files.
    #[arg(long)]
    data: Option<PathBuf>,
}

pub fn train(args: TrainArgs) -> Result<(), String> {
    let device = args.device.device()?;
    let (data, test) = (load_split(args.data.as_deref(), true)?, load_split(args.data.as_deref(), false)?);
    let config = ConvVaeConfig { latent: args.latent, ..ConvVaeConfig::default() };
    let plan = Plan { lr_final_fraction: 0.0, ..Plan::constant(args.steps, args.lr, args.seed) };
    let points = data.len();
    let run = std::cell::RefCell::new(trainer(&config, plan, data, args.batch, &device)?);
    writable_dir(&args.out)?;
    let started = Instant::now();
    let curves =
        train_loop(args.steps, || run.borrow_mut().step(), |l| run.borrow_mut().check(l), args.steps, |_| Ok(None))?;
    if let Some(divergence) = &curves.diverged {
        return Err(format!("{divergence}; nothing was written"));
    }
    let seconds = started.elapsed().as_secs_f64();
    let vae = run.into_inner().model();
    // The test split's negative ELBO (one z per image) and the grid's digits: two streams of the
    // run's evaluation seed, apart from its initial weights' and minibatches'.
    let mut streams = Rng::new(Seeds::of(args.seed).validation);
    let scores = neg_elbo_of(&vae, &config, &test, 1000, &mut Rng::new(streams.next_u64()), &device)?;
    let nats = to_vec(scores)?.iter().map(|&l| l as f64).sum::<f64>() / test.len() as f64;
    let surrogate = Surrogate::ConvVae(Box::new(vae), config);
    let record = FitRecord { points, seed: args.seed, iterations: args.steps, log_likelihood: -nats };
    let file = SurrogateFile { role: surrogate.role(), model: surrogate.kind(), fit: Some(record) };
    write(&args.out.join("surrogate.safetensors"), model_file::encode(&surrogate.tensors()?, &file)?)?;
    write(&args.out.join("config.json"), serde_json::to_string_pretty(&file).expect("a config serialises"))?;
    let digits = surrogate.draw_digits(&all_labels(100), &mut Rng::new(streams.next_u64()), &device)?;
    let bytes: Vec<u8> = to_vec(digits)?.into_iter().map(diffusion::data::mnist::to_byte).collect();
    grid_png(&args.out.join("grid.png"), &bytes, 10)?;
    eprintln!(
        "a conv VAE ({} steps, {seconds:.0} s): test −ELBO {nats:.1} nats/image (Bernoulli on grey levels: a loss, \
         not a density); wrote {}",
        args.steps,
        args.out.join("surrogate.safetensors").display()
    );
    Ok(())
}

/// The MNIST surrogate of a file.
pub fn read(path: &Path, device: &Device) -> Result<Surrogate, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (surrogate, _) =
        model_file::surrogate(&bytes, Role::MnistSurrogate, device).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(surrogate)
}
