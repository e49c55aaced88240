//! `diffusion train mnist-surrogate`: MNIST's surrogates, written as surrogate.safetensors (role
//! `mnist-surrogate`) with a grid of their own digits:
//! - `--kind vae`: the one-shot class-conditional conv VAE (`diffusion::model::conv_vae`) trained
//!   on the ELBO by the one trainer;
//! - `--kind ddpm14`: DDPM-14 (`diffusion::surrogate::low_res`), the UNet trained by `train mnist
//!   --side 14` in the same folder (checkpointed, resumable with `--resume`), its draws sampled by
//!   DPM-Solver++(2M) in 20 steps with guidance w = 1 and doubled to 28².
//!
//! `sample mnist --surrogate FILE --t-start t` starts any sampler from either's digits noised to t
//! (seed 003, Algorithm 4).

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
use diffusion::surrogate::low_res::{LowRes, LowResConfig};
use diffusion::surrogate::{FitRecord, Surrogate, SurrogateFile};
use diffusion::train::{Plan, Seeds};

use crate::common::{to_vec, train_loop};
use crate::device::DeviceArg;
use crate::files::{writable_dir, write};
use crate::mnist::{all_labels, grid_png, load_split};
use crate::ranged::ranged;

#[derive(Args)]
pub struct TrainArgs {
    /// The surrogate: vae (a class-conditional conv VAE) or ddpm14 (the UNet on 14×14 digits).
    #[arg(long, default_value = "vae", value_parser = ["vae", "ddpm14"])]
    kind: String,
    /// Latent dimensions (vae).
    #[arg(long, default_value_t = 16, value_parser = ranged::<usize>(limits::LATENT))]
    latent: usize,
    /// Training steps (vae: Adam, learning rate decayed to 0 by a cosine; ddpm14: Adam after 100
    /// warm-up steps, with an EMA of the weights).
    #[arg(long, default_value_t = 3000, value_parser = ranged::<usize>(limits::TRAIN_STEPS))]
    steps: usize,
    #[arg(long, default_value_t = 128, value_parser = ranged::<usize>(limits::MNIST_BATCH))]
    batch: usize,
    /// The peak learning rate (default: vae 2e-3, ddpm14 1.5e-3 as the shipped UNet).
    #[arg(long, value_parser = ranged::<f64>(limits::LR))]
    lr: Option<f64>,
    /// ddpm14: continue the UNet's run in --out (its checkpoint/) to --steps in all.
    #[arg(long)]
    resume: bool,
    /// ddpm14: the UNet's widths per level (14², 7², 4² on the image padded to 16²).
    #[arg(long, default_value = "16,32,64", value_delimiter = ',', value_parser = ranged::<usize>(limits::CHANNELS))]
    channels: Vec<usize>,
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
    if args.kind == "ddpm14" {
        return train_ddpm14(&args);
    }
    if args.resume {
        return Err("--resume continues a ddpm14 run; a conv VAE trains in one go".into());
    }
    let device = args.device.device()?;
    let (data, test) = (load_split(args.data.as_deref(), true)?, load_split(args.data.as_deref(), false)?);
    let config = ConvVaeConfig { latent: args.latent, ..ConvVaeConfig::default() };
    let plan = Plan { lr_final_fraction: 0.0, ..Plan::constant(args.steps, args.lr.unwrap_or(2e-3), args.seed) };
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

/// The rule DDPM-14's draws are sampled with: DPM-Solver++(2M), 20 steps, guidance w = 1.
const DDPM14_DRAWS: (&str, usize, f64) = ("dpmpp2m", 20, 1.0);

/// DDPM-14: `train mnist --side 14` into `--out` (the same checkpoints and loss curve), then its
/// EMA weights with the rule of its draws as surrogate.safetensors and 100 of its digits as grid.png.
fn train_ddpm14(args: &TrainArgs) -> Result<(), String> {
    use clap::{Args as _, FromArgMatches as _};
    let out = args.out.display().to_string();
    let lr = args.lr.unwrap_or(1.5e-3).to_string();
    let (steps, batch, seed) = (args.steps.to_string(), args.batch.to_string(), args.seed.to_string());
    let channels = args.channels.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let mut argv = vec!["train", "--side", "14", "--out", &out, "--steps", &steps, "--batch", &batch];
    argv.extend(["--lr", &lr, "--warmup", "100", "--seed", &seed, "--device", args.device.name()]);
    // The grid is the surrogate's own, drawn below with the rule of its draws; every
    // checkpoint's weights are kept for the training-length table.
    argv.extend(["--channels", &channels, "--grid-every", "0", "--keep-checkpoints"]);
    if args.resume {
        argv.extend(["--resume", &out]);
    }
    let data = args.data.as_ref().map(|d| d.display().to_string());
    if let Some(dir) = &data {
        argv.extend(["--data", dir]);
    }
    let command = crate::mnist_train::TrainArgs::augment_args(clap::Command::new("train"));
    let matches = command.try_get_matches_from(argv).map_err(|e| e.to_string())?;
    crate::mnist_train::train(crate::mnist_train::TrainArgs::from_arg_matches(&matches).map_err(|e| e.to_string())?)?;
    let device = args.device.device()?;
    let (unet, model) = crate::mnist::load_unet(&args.out.join("unet.safetensors"), &device)?;
    let (sampler, steps, guidance) = DDPM14_DRAWS;
    let config = LowResConfig { model, sampler: sampler.into(), steps, guidance };
    let surrogate = Surrogate::Diffusion(Box::new(LowRes { unet, config }));
    let file = SurrogateFile { role: surrogate.role(), model: surrogate.kind(), fit: None };
    let path = args.out.join("surrogate.safetensors");
    write(&path, model_file::encode(&surrogate.tensors()?, &file)?)?;
    let mut streams = Rng::new(Seeds::of(args.seed).validation);
    let digits = surrogate.draw_digits(&all_labels(100), &mut Rng::new(streams.next_u64()), &device)?;
    let bytes: Vec<u8> = to_vec(digits)?.into_iter().map(diffusion::data::mnist::to_byte).collect();
    grid_png(&args.out.join("grid.png"), &bytes, 10)?;
    eprintln!(
        "DDPM-14: its draws take {} evaluations at 14×14 ({sampler}, {steps} steps, w = {guidance}); wrote {}",
        surrogate.nfe(),
        path.display()
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
