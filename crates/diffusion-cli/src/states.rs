//! The STATES commands: train the course's DDPM, sample it, grade samples.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use clap::Args;
use diffusion::checkpoint::{DenoiserConfig, decode_denoiser, encode_denoiser};
use diffusion::data::states::{Points, parse_points_csv, states, to_csv};
use diffusion::io::{NamedTensor, parameters};
use diffusion::metric::kde_nll::Kde;
use diffusion::metric::precision::{precision, support_radius};
use diffusion::model::mlp::Mlp;
use diffusion::sample::MlpEps;
use diffusion::sample::ancestral::AncestralSampler;
use diffusion::train::{DdpmTrainer, TrainConfig};
use indicatif::{ProgressBar, ProgressStyle};

use crate::device::DeviceArg;
use crate::plot;

#[derive(Args)]
pub struct TrainArgs {
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = TrainConfig::default().steps)]
    steps: usize,
    /// (point, t) pairs per Adam step.
    #[arg(long, default_value_t = TrainConfig::default().batch)]
    batch: usize,
    /// Peak learning rate (cosine-decayed to 5% of it by the last step).
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    lr: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Decay of the weights' moving average that is saved for sampling (0: save the raw weights).
    #[arg(long, default_value_t = TrainConfig::default().ema_decay)]
    ema: f64,
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
}

#[derive(Args)]
pub struct SampleArgs {
    /// A denoiser.safetensors written by `diffusion train states`.
    #[arg(long)]
    weights: PathBuf,
    #[arg(long, default_value_t = 5000)]
    n: usize,
    /// Output CSV (header `x,y`).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also draw the samples over the data (PNG).
    #[arg(long)]
    plot: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
}

fn bar(len: usize, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> "));
    bar
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a tensor to the host (natively a synchronous read is fine).
pub fn to_vec<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, String> {
    tensor.into_data().try_into_vec::<f32>().map_err(|e| format!("{e:?}"))
}

/// The network's parameters, read to the host.
fn host_parameters(mlp: &Mlp) -> Result<Vec<NamedTensor>, String> {
    parameters(mlp)
        .into_iter()
        .map(|(name, shape, tensor)| Ok(NamedTensor { name, shape, values: to_vec(tensor)? }))
        .collect()
}

pub fn train(args: TrainArgs) -> Result<(), String> {
    let train =
        TrainConfig { steps: args.steps, batch: args.batch, lr: args.lr, seed: args.seed, ..Default::default() };
    let config = DenoiserConfig { train: Some(train.clone()), ..Default::default() };
    let device = args.device.device()?;
    let schedule = config.schedule.init().map_err(|e| e.to_string())?;
    let mut trainer =
        DdpmTrainer::new(&config.model, schedule, train.clone(), states().xy, &device).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;

    eprintln!(
        "training the STATES DDPM on {} ({} steps, batch {}, lr {})",
        args.device.name(),
        train.steps,
        train.batch,
        train.lr
    );
    let progress = bar(train.steps, "{bar:40} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}");
    let started = Instant::now();
    let mut losses: Vec<f32> = Vec::with_capacity(train.steps);
    let mut pending = Vec::new();
    // Read losses back in groups, so a GPU is not stalled after every step.
    let read_every = 10;
    for step in 1..=train.steps {
        pending.push(trainer.step());
        if pending.len() == read_every || step == train.steps {
            let group = to_vec(Tensor::cat(std::mem::take(&mut pending), 0))?;
            if let Some(bad) = group.iter().find(|l| !l.is_finite()) {
                return Err(format!("the loss became {bad} at step {step}: lower --lr"));
            }
            losses.extend(group);
            let recent = &losses[losses.len().saturating_sub(50)..];
            let mean = recent.iter().sum::<f32>() / recent.len() as f32;
            let rate = step as f64 / started.elapsed().as_secs_f64();
            progress.set_message(format!("loss {mean:.4}  {rate:.2} steps/s"));
            progress.set_position(step as u64);
        }
    }
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("trained {} steps in {seconds:.1} s ({:.2} steps/s)", train.steps, train.steps as f64 / seconds);

    let weights = args.out.join("denoiser.safetensors");
    let bytes = encode_denoiser(&host_parameters(&trainer.model())?, &config).map_err(|e| e.to_string())?;
    write(&weights, bytes)?;
    write(&args.out.join("config.json"), config.to_json())?;
    let csv: String = std::iter::once("step,loss\n".to_string())
        .chain(losses.iter().enumerate().map(|(i, l)| format!("{},{l}\n", i + 1)))
        .collect();
    write(&args.out.join("loss.csv"), csv)?;
    let curve: Vec<(f64, f64)> = losses.iter().enumerate().map(|(i, l)| ((i + 1) as f64, *l as f64)).collect();
    plot::curve(&args.out.join("loss.png"), &curve)?;
    eprintln!("wrote {} (+ config.json, loss.csv, loss.png)", weights.display());
    Ok(())
}

pub fn sample(args: SampleArgs) -> Result<(), String> {
    if !(1..=10_000_000).contains(&args.n) {
        return Err(format!("--n must be in 1..=10000000, got {}", args.n));
    }
    let bytes = std::fs::read(&args.weights).map_err(|e| format!("{}: {e}", args.weights.display()))?;
    let device = args.device.device()?;
    let denoiser = decode_denoiser(&bytes, &device).map_err(|e| format!("{}: {e}", args.weights.display()))?;
    let model = MlpEps { mlp: &denoiser.mlp, schedule: &denoiser.schedule };
    let started = Instant::now();
    let mut sampler = AncestralSampler::new(args.n, &denoiser.schedule, args.seed, &device);
    let progress = bar(denoiser.schedule.steps, "{bar:40} t {pos}/{len} [{elapsed_precise}]");
    while sampler.t() > 0 {
        sampler.step(&model, &denoiser.schedule);
        progress.inc(1);
    }
    let flat = to_vec(sampler.x())?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let points = Points { xy: flat.chunks_exact(2).map(|p| [p[0], p[1]]).collect(), labels: None };
    write(&args.out, to_csv(&points))?;
    let nll = Kde::fit(&states().xy).and_then(|kde| kde.nll(&points.xy)).map_err(|e| e.to_string())?;
    eprintln!(
        "{} samples in {seconds:.1} s ({:.0} samples/s) → {}; grader NLL {nll:.4}",
        args.n,
        args.n as f64 / seconds,
        args.out.display()
    );
    if let Some(path) = &args.plot {
        plot::scatter_over_data(path, &states().xy, &points.xy, None)?;
        eprintln!("plotted {}", path.display());
    }
    Ok(())
}

pub fn eval_nll(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let samples = parse_points_csv(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let data = states().xy;
    let nll = Kde::fit(&data).and_then(|kde| kde.nll(&samples.xy)).map_err(|e| e.to_string())?;
    println!("{nll:.4}");
    // The grader rewards samples piled on dense spots; the reverse direction (the data scored by a
    // KDE of the samples) punishes missing outlines and haze. The data on itself scores 2.152.
    match Kde::fit(&samples.xy).and_then(|kde| kde.nll(&data)) {
        Ok(coverage) => eprintln!("coverage (data under a KDE of the samples): {coverage:.4}"),
        Err(e) => eprintln!("coverage not computed: {e}"),
    }
    // Haze between the outlines, which both KDE numbers forgive (≈ 0.95 for a fresh draw of the data).
    let precision = precision(&samples.xy, &data, support_radius(&data));
    eprintln!("precision (samples as close to the data as the data to itself): {precision:.3}");
    Ok(())
}
