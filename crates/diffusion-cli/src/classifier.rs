//! `diffusion train states-classifier`: the noisy classifier f_φ(y | x_t, t) for guidance, with a
//! held-out split, loss curves and validation accuracy per noise level.

use std::cell::RefCell;
use std::path::PathBuf;

use clap::Args;
use diffusion::checkpoint::CheckpointConfig;
use diffusion::classifier::{ClassifierMetrics, Validation};
use diffusion::data::states::states;
use diffusion::limits;
use diffusion::model_file;
use diffusion::train::{Seeds, TrainConfig};

use crate::common::{to_labels, to_vec, train_loop};
use crate::device::{DeviceArg, check_memory};
use crate::files::{writable_dir, write};
use crate::ranged::ranged;

/// Validation accuracy is reported in this many equal slices of t ∈ 0..=T.
pub const BUCKETS: usize = 10;

#[derive(Args)]
pub struct TrainClassifierArgs {
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 2000, value_parser = ranged::<usize>(limits::TRAIN_STEPS))]
    pub steps: usize,
    /// (point, t) pairs per Adam step.
    #[arg(long, default_value_t = 4096, value_parser = ranged::<usize>(limits::BATCH))]
    pub batch: usize,
    /// Peak learning rate (cosine-decayed to 5% of it by the last step).
    #[arg(long, default_value_t = 2e-3, value_parser = ranged::<f64>(limits::LR))]
    pub lr: f64,
    #[arg(long, default_value_t = 0, value_parser = ranged::<u64>(limits::SEED))]
    pub seed: u64,
    /// Fraction of the points held out (per state) for validation.
    #[arg(long, default_value_t = 0.1, value_parser = ranged::<f64>(limits::VAL_FRACTION))]
    pub val_fraction: f64,
    /// Evaluate on the held-out points every this many steps.
    #[arg(long, default_value_t = 50, value_parser = ranged::<usize>(limits::EVAL_EVERY))]
    pub eval_every: usize,
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

/// A markdown table of held-out accuracy per t bucket.
pub fn accuracy_table(metrics: &ClassifierMetrics) -> String {
    let mut out = String::from("| t | accuracy |\n|---|---|\n");
    for (lo, hi, accuracy) in &metrics.by_bucket {
        out.push_str(&format!("| {lo}–{hi} | {:.1}% |\n", 100.0 * accuracy));
    }
    out.push_str(&format!("| all | {:.1}% |\n", 100.0 * metrics.accuracy));
    out
}

pub fn train(args: TrainClassifierArgs) -> Result<(), String> {
    if args.val_fraction <= 0.0 {
        return Err("the classifier needs held-out points: --val-fraction must be in (0, 1)".into());
    }
    let train = TrainConfig {
        steps: args.steps,
        batch: args.batch,
        lr: args.lr,
        seed: args.seed,
        val_fraction: args.val_fraction,
        ..Default::default()
    };
    let config = CheckpointConfig { train: Some(train.clone()), ..CheckpointConfig::classifier() };
    train.validate()?;
    let batch = format!("training at batch {}", train.batch);
    check_memory(args.device, config.model.training_bytes(train.batch), &batch)?;
    writable_dir(&args.out)?;
    let device = args.device.device()?;
    let schedule = config.schedule.init()?;
    let seeds = Seeds::of(args.seed);
    let (points, held_out) = states().split(args.val_fraction, seeds.split)?;
    let trainer = config.classifier_trainer(&train, points, &device)?;
    let validation = Validation::new(&held_out, &schedule, BUCKETS, seeds.validation);
    eprintln!(
        "training the STATES noisy classifier on {} ({} steps, batch {}, lr {}, {} points held out)",
        args.device.name(),
        train.steps,
        train.batch,
        train.lr,
        held_out.len()
    );
    let trainer = RefCell::new(trainer);
    let accuracy = RefCell::new(Vec::new());
    let evaluate = || -> Result<ClassifierMetrics, String> {
        let (loss, predicted) = validation.evaluate(&trainer.borrow().model(), &device);
        Ok(validation.summarise(to_vec(loss)?[0], &to_labels(predicted)?))
    };
    let curves = train_loop(
        train.steps,
        || trainer.borrow_mut().step(),
        |losses| trainer.borrow_mut().check(losses),
        args.eval_every.max(1),
        |step| {
            let metrics = evaluate()?;
            accuracy.borrow_mut().push((step, metrics.accuracy));
            Ok(Some(metrics.loss))
        },
    )?;
    curves.kept_anything()?;
    let metrics = evaluate()?;

    let weights = args.out.join("classifier.safetensors");
    let model = trainer.borrow().model();
    write(&weights, model_file::encode(&diffusion::io::host_tensors(&model)?, &config)?)?;
    write(&args.out.join("config.json"), config.to_json())?;
    write(&args.out.join("loss.csv"), curves.to_csv())?;
    curves.plot(&args.out.join("loss.png"), "STATES noisy classifier training loss")?;
    let csv: String = std::iter::once("step,validation_accuracy\n".to_string())
        .chain(accuracy.borrow().iter().map(|(s, a)| format!("{s},{a}\n")))
        .collect();
    write(&args.out.join("accuracy.csv"), csv)?;
    let table = accuracy_table(&metrics);
    write(&args.out.join("validation.md"), &table)?;
    eprintln!("held-out cross-entropy {:.4}; accuracy by t:\n{table}", metrics.loss);
    curves.verdict(&weights)?;
    eprintln!("wrote {} (+ config.json, loss.csv, loss.png, accuracy.csv, validation.md)", weights.display());
    Ok(())
}
