//! MNIST metrics: `train mnist-classifier` (the judging CNN), `eval mnist` (class accuracy and
//! classifier-FID of a samples.npy), `compare mnist` (sampler × NFE table and grid), `likelihood
//! mnist` (test bits/dim through the probability-flow ODE).

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use clap::Args;
use diffusion::data::mnist::{Mnist, PIXELS, SIDE, to_model};
use diffusion::io::Role;
use diffusion::limits;
use diffusion::metric::fid::fid;
use diffusion::metric::inception_score::inception_score;
use diffusion::model::cnn::{Cnn, CnnConfig, CnnFile, accuracy, judge_trainer};
use diffusion::model_file;
use diffusion::rng::Rng;
use diffusion::sde::sampler::Method;
use diffusion::train::Plan;

use crate::common::{to_vec, train_loop};
use crate::device::DeviceArg;
use crate::files::{writable_dir, write};
use crate::mnist::{draw, draw_rdmc, grid_png, labels_for, load_split, load_unet};
use crate::ranged::ranged;

#[derive(Args)]
pub struct TrainClassifierArgs {
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 3.0, value_parser = ranged::<f64>(limits::EPOCHS))]
    epochs: f64,
    #[arg(long, default_value_t = 128, value_parser = ranged::<usize>(limits::MNIST_BATCH))]
    batch: usize,
    #[arg(long, default_value_t = 1e-3, value_parser = ranged::<f64>(limits::LR))]
    lr: f64,
    #[arg(long, default_value_t = 0, value_parser = ranged::<u64>(limits::SEED))]
    seed: u64,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    #[arg(long)]
    data: Option<PathBuf>,
}

pub fn train_classifier(args: TrainClassifierArgs) -> Result<(), String> {
    let device = args.device.device()?;
    let (train, test) = (load_split(args.data.as_deref(), true)?, load_split(args.data.as_deref(), false)?);
    let steps = (args.epochs * train.len() as f64 / args.batch.max(1) as f64).ceil() as usize;
    let config = CnnConfig::default();
    // Cosine decay of the learning rate to 0 over the run.
    let plan = Plan { lr_final_fraction: 0.0, ..Plan::constant(steps.max(1), args.lr, args.seed) };
    let trainer = std::cell::RefCell::new(judge_trainer(&config, train, plan, args.batch, &device)?);
    writable_dir(&args.out)?;
    let started = Instant::now();
    // The one training loop, with its divergence guard: a diverged run keeps its last good step.
    let curves =
        train_loop(steps, || trainer.borrow_mut().step(), |l| trainer.borrow_mut().check(l), steps, |_| Ok(None))?;
    curves.kept_anything()?;
    let cnn = trainer.into_inner().model();
    let test_accuracy = accuracy(&cnn, &test, &device);
    eprintln!("{steps} steps in {:.0} s; test accuracy {:.4}", started.elapsed().as_secs_f64(), test_accuracy);
    let file = CnnFile { role: Role::MnistClassifier, cnn: config, test_accuracy: Some(test_accuracy) };
    let tensors = diffusion::io::host_tensors(&cnn)?;
    let weights = args.out.join("classifier.safetensors");
    write(&weights, model_file::encode(&tensors, &file)?)?;
    curves.verdict(&weights)?;
    println!("{test_accuracy:.4}");
    Ok(())
}

pub fn load_cnn(path: &Path, device: &Device) -> Result<Cnn, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(model_file::cnn(&bytes, device).map_err(|e| format!("{}: {e}", path.display()))?.0)
}

/// What the judge says of n images.
struct Judged {
    /// Penultimate features [n · features].
    features: Vec<f32>,
    predicted: Vec<i64>,
    /// Class probabilities [n · 10].
    probabilities: Vec<f32>,
}

/// The judge's verdict on images given as bytes [n · 784].
fn judge(cnn: &Cnn, images: &[u8], device: &Device) -> Result<Judged, String> {
    let mut features = Vec::new();
    let mut predicted = Vec::new();
    let mut probabilities = Vec::new();
    for chunk in images.chunks(1000 * PIXELS) {
        let n = chunk.len() / PIXELS;
        let x =
            Tensor::<2>::from_data(TensorData::new(chunk.iter().map(|&b| to_model(b)).collect(), [n, PIXELS]), device);
        let f = cnn.features(x);
        let logits = cnn.logits_of(f.clone());
        predicted.extend(
            logits
                .clone()
                .argmax(1)
                .into_data()
                .convert::<i64>()
                .try_into_vec::<i64>()
                .map_err(|e| format!("{e:?}"))?,
        );
        probabilities.extend(to_vec(burn::tensor::activation::softmax(logits, 1))?);
        features.extend(to_vec(f)?);
    }
    Ok(Judged { features, predicted, probabilities })
}

/// The scores of a set of generated digits.
pub struct Scores {
    /// Fraction classified as the requested digit (rows with a real label only).
    pub accuracy: f64,
    /// Fréchet distance of the classifier's features against the test set.
    pub fid: f64,
    /// The Inception Score with the judge's class probabilities (`metric::inception_score`).
    pub inception: f64,
    /// The accuracy among the samples of each requested digit 0..9 (None where there were none).
    pub per_digit: [Option<f64>; 10],
}

pub fn score(cnn: &Cnn, images: &[u8], labels: &[i64], reference: &[f32], device: &Device) -> Result<Scores, String> {
    let Judged { features, predicted, probabilities } = judge(cnn, images, device)?;
    let conditional: Vec<(i64, i64)> =
        labels.iter().zip(&predicted).filter(|(l, _)| (0..10).contains(*l)).map(|(&l, &p)| (l, p)).collect();
    let accuracy = conditional.iter().filter(|(l, p)| l == p).count() as f64 / conditional.len().max(1) as f64;
    let per_digit = std::array::from_fn(|d| {
        let asked: Vec<i64> = conditional.iter().filter(|(l, _)| *l == d as i64).map(|&(_, p)| p).collect();
        (!asked.is_empty()).then(|| asked.iter().filter(|&&p| p == d as i64).count() as f64 / asked.len() as f64)
    });
    let fid = fid(&features, reference, features.len() / labels.len().max(1))?;
    let inception = inception_score(&probabilities, 10)?;
    Ok(Scores { accuracy, fid, inception, per_digit })
}

/// The CNN judge and the test digits its features are compared against, as every MNIST scoring
/// command takes them.
#[derive(Args)]
pub struct JudgeArgs {
    /// The CNN judge (`train mnist-classifier`).
    #[arg(long, default_value = "web/models/mnist-classifier.safetensors")]
    pub classifier: PathBuf,
    /// The folder holding MNIST's IDX files (default: the `cargo xtask fetch-data mnist` cache).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

impl JudgeArgs {
    /// The judge and its features of the 10 000 test digits (the FID reference).
    pub fn load(&self, device: &Device) -> Result<(Cnn, Vec<f32>), String> {
        let cnn = load_cnn(&self.classifier, device)?;
        let reference = reference_features(&cnn, &load_split(self.data.as_deref(), false)?, device)?;
        Ok((cnn, reference))
    }
}

/// The classifier's features of the 10 000 test images (the FID reference).
pub fn reference_features(cnn: &Cnn, test: &Mnist, device: &Device) -> Result<Vec<f32>, String> {
    Ok(judge(cnn, &test.images, device)?.features)
}

#[derive(Args)]
pub struct EvalArgs {
    /// A directory written by `sample mnist` (samples.npy, labels.npy).
    #[arg(long)]
    samples: PathBuf,
    #[command(flatten)]
    judge: JudgeArgs,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
}

pub fn eval(args: EvalArgs) -> Result<(), String> {
    let device = args.device.device()?;
    let side = SIDE as u64;
    let (n, images) = crate::npy::read::<u8>(&args.samples.join("samples.npy"), &[side, side])?;
    let (n_labels, labels) = crate::npy::read::<i64>(&args.samples.join("labels.npy"), &[])?;
    if n_labels != n {
        return Err(format!("{n} images but {n_labels} labels"));
    }
    let (cnn, reference) = args.judge.load(&device)?;
    let scores = score(&cnn, &images, &labels, &reference, &device)?;
    println!(
        "accuracy {:.4}  classifier-FID {:.3}  Inception Score {:.3}  ({} samples)",
        scores.accuracy,
        scores.fid,
        scores.inception,
        labels.len()
    );
    let per_digit: Vec<String> =
        scores.per_digit.iter().enumerate().filter_map(|(d, a)| a.map(|a| format!("{d}: {a:.3}"))).collect();
    if !per_digit.is_empty() {
        println!("accuracy per requested digit  {}", per_digit.join("  "));
    }
    Ok(())
}

#[derive(Args)]
pub struct CompareArgs {
    #[arg(long, default_value = "web/models/mnist-vp.safetensors")]
    weights: PathBuf,
    #[command(flatten)]
    judge: JudgeArgs,
    /// Sampler names as `sample mnist` takes them (rdmc: its budget is the NFE).
    #[arg(long, default_value = "em,pc,ode-rk4,ddim,dpmpp2m", value_delimiter = ',')]
    samplers: Vec<String>,
    /// Network evaluations per sample for each row.
    #[arg(long, default_value = "20,50", value_delimiter = ',', value_parser = ranged::<usize>(limits::NFE))]
    nfe: Vec<usize>,
    /// Samples per row (classes split evenly).
    #[arg(long, default_value_t = 1000, value_parser = ranged::<usize>(limits::IMAGES))]
    n: usize,
    #[arg(long, default_value_t = 1.0, value_parser = ranged::<f64>(limits::GUIDANCE))]
    guidance: f64,
    /// rdMC rows: the time t₀ whose learned density it samples (default t_min), then denoised.
    #[arg(long, value_parser = ranged::<f64>(limits::RDMC_T0))]
    rdmc_t0: Option<f64>,
    #[arg(long, default_value_t = 250, value_parser = ranged::<usize>(limits::IMAGE_BATCH))]
    batch: usize,
    #[arg(long, default_value_t = 0, value_parser = ranged::<u64>(limits::SEED))]
    seed: u64,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// compare.md and grid.png (one row of samples per table row).
    #[arg(long)]
    out: PathBuf,
}

pub fn compare(args: CompareArgs) -> Result<(), String> {
    let device = args.device.device()?;
    let (unet, file) = load_unet(&args.weights, &device)?;
    let (cnn, reference) = args.judge.load(&device)?;
    writable_dir(&args.out)?;
    let labels = labels_for("all", args.n)?;
    let mut table = format!(
        "# MNIST samplers ({}, {} samples per row, guidance w = {})\n\n| sampler | steps | NFE | accuracy | classifier-FID | Inception Score | wall s |\n|---|---|---|---|---|---|---|\n",
        args.weights.display(),
        args.n,
        args.guidance
    );
    let mut grid = Vec::new();
    for name in &args.samplers {
        let method = match Method::named(name, 0.16) {
            Some(method) => Some(method),
            None if name == "rdmc" => None,
            None => return Err(format!("unknown sampler `{name}`")),
        };
        for &nfe in &args.nfe {
            let started = Instant::now();
            // The same per-batch seeds for every sampler and budget.
            let mut seeds = Rng::new(args.seed);
            let mut images = Vec::new();
            let (steps, nfe) = match method {
                Some(method) => {
                    let Some(steps) = method.steps_for_nfe(nfe) else { continue };
                    for chunk in labels.chunks(args.batch.max(1)) {
                        let seed = seeds.next_u64();
                        images
                            .extend(draw(&unet, &file, chunk, (method, steps), args.guidance, None, seed, &device)?.0);
                    }
                    (steps, nfe)
                }
                None => {
                    let mut used = 0;
                    for chunk in labels.chunks(args.batch.max(1)) {
                        let (drawn, per_sample) = draw_rdmc(
                            &unet,
                            &file,
                            chunk,
                            nfe,
                            args.rdmc_t0,
                            args.guidance,
                            seeds.next_u64(),
                            &device,
                        )?;
                        images.extend(drawn);
                        used = per_sample;
                    }
                    (0, used)
                }
            };
            let seconds = started.elapsed().as_secs_f64();
            let s = score(&cnn, &images, &labels, &reference, &device)?;
            let label = match args.rdmc_t0 {
                Some(t0) if method.is_none() => format!("{name} (t₀ = {t0})"),
                _ => name.clone(),
            };
            let line = format!(
                "| {label} | {steps} | {nfe} | {:.4} | {:.3} | {:.3} | {seconds:.1} |\n",
                s.accuracy, s.fid, s.inception
            );
            eprint!("{line}");
            table.push_str(&line);
            // One of each digit for the grid.
            for d in 0..10 {
                let i = labels.iter().position(|&l| l == d).unwrap_or(0);
                grid.extend_from_slice(&images[i * PIXELS..(i + 1) * PIXELS]);
            }
        }
    }
    write(&args.out.join("compare.md"), &table)?;
    grid_png(&args.out.join("grid.png"), &grid, 10)?;
    println!("{table}");
    Ok(())
}
