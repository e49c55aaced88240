//! `diffusion train mnist`: the UNet training run, resumable from its snapshot directory.

use crate::common::{bar, to_vec};
use crate::device::{DeviceArg, check_memory};
use crate::files::{writable_dir, write};
use crate::ranged::ranged;
use burn::prelude::*;
use clap::Args;
use diffusion::limits;
use diffusion::model::unet::{PRESETS, UNetConfig};
use diffusion::sde::Sde;
use diffusion::sde::dsm::{ScoreConfig, TimeInput, TimeSampling, Weighting};
use diffusion::sde::sampler::Method;
use diffusion::train_unet::{Snapshot, UNetRun, UNetTrainConfig};
use diffusion::unet_checkpoint::UNetFileConfig;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::mnist::{all_labels, draw, grid_png, load_split};

#[derive(Args)]
pub struct TrainArgs {
    /// The forward SDE.
    #[arg(long, default_value = "vp")]
    sde: String,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// Output directory: unet.safetensors (EMA), checkpoint/, loss.csv, loss.png, grid-*.png.
    #[arg(long)]
    out: PathBuf,
    /// Total optimiser steps (with --resume: the new total).
    #[arg(long, default_value_t = 10_000, value_parser = ranged::<usize>(limits::TRAIN_STEPS))]
    steps: usize,
    /// Or total epochs over the 60 000 training images (overrides --steps).
    #[arg(long, value_parser = ranged::<f64>(limits::EPOCHS))]
    epochs: Option<f64>,
    #[arg(long, default_value_t = 128, value_parser = ranged::<usize>(limits::MNIST_BATCH))]
    batch: usize,
    #[arg(long, default_value_t = 2e-4, value_parser = ranged::<f64>(limits::LR))]
    lr: f64,
    #[arg(long, default_value_t = 500, value_parser = ranged::<usize>(limits::WARMUP))]
    warmup: usize,
    #[arg(long, default_value_t = 0.9999, value_parser = ranged::<f64>(limits::EMA))]
    ema: f64,
    #[arg(long, default_value_t = 0, value_parser = ranged::<u64>(limits::SEED))]
    seed: u64,
    /// UNet widths per level (28², 14², 7²).
    #[arg(long, default_value = "16,32,64", value_delimiter = ',', value_parser = ranged::<usize>(limits::CHANNELS))]
    channels: Vec<usize>,
    #[arg(long, default_value_t = 1, value_parser = ranged::<usize>(limits::RES_BLOCKS))]
    res_blocks: usize,
    /// A named architecture (seed 003's Table 4.3 scaled to MNIST; `diffusion::model::unet`):
    /// its widths, depth and block replace --channels and --res-blocks.
    #[arg(long, value_parser = PRESETS, conflicts_with_all = ["channels", "res_blocks", "resume", "init"])]
    unet_preset: Option<String>,
    /// The side of the images it learns: 28, or 14 for DDPM-14 (the digits halved bilinearly; its
    /// samples are doubled back to 28×28). Ignored with --resume and --init (the file's).
    #[arg(long, default_value_t = 28, value_parser = ranged::<usize>(limits::IMAGE_SIDE))]
    side: usize,
    /// Continue the run whose checkpoint is in DIR/checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Fine-tune: a fresh run (new Adam state and warm-up) starting from this model file's
    /// weights and architecture (--sde, --channels and --res-blocks are then the file's).
    #[arg(long, conflicts_with = "resume")]
    init: Option<PathBuf>,
    /// The smallest t drawn (default: the SDE's, 10⁻³ for VP). Test bits/dim needs a model
    /// trained down to where s(t) is below a pixel bin (VP: 10⁻⁵).
    #[arg(long, value_parser = ranged::<f64>(limits::T_MIN))]
    t_min: Option<f64>,
    /// How t is drawn: `uniform`, `log-snr` (uniform in log(m/s): the likelihood weighting,
    /// importance-sampled) or `mixed` (half each).
    #[arg(long, default_value = "uniform")]
    t_sampling: String,
    /// What the time features see: `t` or `log-snr` (½ − λ/16, which keeps t < 10⁻³ apart;
    /// for models trained to a small --t-min). Ignored with --resume and --init (the file's).
    #[arg(long, default_value = "t")]
    time_input: String,
    /// Train on uniformly dequantised pixels, (b + v)/127.5 − 1 with v ~ U[0, 1) (what test
    /// bits/dim scores).
    #[arg(long)]
    dequantise: bool,
    /// Save the checkpoint (and unet.safetensors) every N steps.
    #[arg(long, default_value_t = 500, value_parser = ranged::<usize>(limits::CHECKPOINT_EVERY))]
    checkpoint_every: usize,
    /// Also keep the EMA weights of every checkpoint as unet-NNNNNN.safetensors (a training-length
    /// study scores them; seed 003's Tables 4.1–4.2).
    #[arg(long)]
    keep_checkpoints: bool,
    /// Write a 10×10 sample grid every N steps and at the end (0: never).
    #[arg(long, default_value_t = 2000, value_parser = ranged::<usize>(limits::GRID_EVERY))]
    grid_every: usize,
    /// Directory with the MNIST IDX files (default: the `cargo xtask fetch-data mnist` cache).
    #[arg(long)]
    data: Option<PathBuf>,
}

/// Refuses a batch whose training step on `side`² images would not fit in the CPU's available
/// memory.
fn check_step_memory(args: &TrainArgs, unet: &UNetConfig, side: usize) -> Result<(), String> {
    let what =
        format!("a UNet training step at batch {} (widths {:?}, {:?} blocks)", args.batch, unet.channels, unet.block);
    check_memory(args.device, unet.training_bytes(args.batch, side), &what)
}

pub fn train(args: TrainArgs) -> Result<(), String> {
    // A fresh run's memory is checked before anything is created; a resumed or fine-tuned one's
    // (its widths are the file's) once the trainer is built, before its first step.
    let unet = match &args.unet_preset {
        Some(name) => UNetConfig::preset(name).ok_or_else(|| format!("no UNet preset `{name}`"))?,
        None => UNetConfig { channels: args.channels.clone(), res_blocks: args.res_blocks, ..Default::default() },
    };
    if args.resume.is_none() && args.init.is_none() {
        check_step_memory(&args, &unet, args.side)?;
    }
    writable_dir(&args.out)?;
    let device = args.device.device()?;
    let data = load_split(args.data.as_deref(), true)?;
    let steps = match args.epochs {
        Some(e) => ((e * data.len() as f64) / args.batch.max(1) as f64).ceil() as usize,
        None => args.steps,
    };
    let t_sampling = TimeSampling::named(&args.t_sampling)
        .ok_or_else(|| format!("unknown --t-sampling `{}`: uniform, log-snr or mixed", args.t_sampling))?;
    let time_input = TimeInput::named(&args.time_input)
        .ok_or_else(|| format!("unknown --time-input `{}`: t or log-snr", args.time_input))?;
    let config = UNetTrainConfig {
        steps,
        batch: args.batch,
        lr: args.lr,
        warmup: args.warmup,
        ema_decay: args.ema,
        seed: args.seed,
        t_min: args.t_min,
        t_sampling,
        dequantise: args.dequantise,
        init: args.init.as_ref().map(|p| p.display().to_string()),
        ..Default::default()
    };
    let mut trainer = match (&args.resume, &args.init) {
        (Some(dir), _) => {
            let snapshot = read_snapshot(&dir.join("checkpoint"))?;
            UNetRun::resume(&snapshot, steps, data, &device).map_err(|e| format!("{}: {e}", dir.display()))?
        }
        (None, Some(path)) => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            UNetRun::fine_tune(&bytes, config, data, &device).map_err(|e| format!("{}: {e}", path.display()))?
        }
        (None, None) => {
            let sde = Sde::named(&args.sde).ok_or_else(|| format!("unknown SDE `{}`: vp, subvp or ve", args.sde))?;
            let score = ScoreConfig { weighting: Weighting::Sigma2, time_input, ..ScoreConfig::new(sde) };
            UNetRun::new(UNetFileConfig { side: args.side, ..UNetFileConfig::new(unet, score) }, config, data, &device)?
        }
    };
    if args.resume.is_some() || args.init.is_some() {
        let file = trainer.file_config();
        check_step_memory(&args, &file.unet, file.side)?;
    }
    let params = trainer.ema().num_params();
    let first = trainer.steps_done();
    let side = trainer.file_config().side;
    eprintln!(
        "MNIST UNet ({params} parameters, {side}×{side} digits) on {}: steps {}..{steps}, batch {}",
        args.device.name(),
        first,
        trainer.config().batch
    );
    let loss_path = args.out.join("loss.csv");
    let mut losses = match (&args.resume, std::fs::read_to_string(&loss_path)) {
        (Some(_), Ok(text)) => {
            text.lines().skip(1).filter_map(|l| l.split(',').nth(1)?.parse().ok()).take(first).collect()
        }
        _ => Vec::new(),
    };
    let progress = bar(steps, "{bar:40} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}");
    progress.set_position(first as u64);
    let started = Instant::now();
    let mut pending = Vec::new();
    let batch = trainer.config().batch;
    let save = |trainer: &UNetRun, losses: &Vec<f32>| -> Result<(), String> {
        write_snapshot(&args.out.join("checkpoint"), &trainer.snapshot()?, trainer.steps_done())?;
        write(&args.out.join("unet.safetensors"), trainer.ema_bytes()?)?;
        let csv: String = std::iter::once("step,loss\n".to_string())
            .chain(losses.iter().enumerate().map(|(i, l)| format!("{},{l}\n", i + 1)))
            .collect();
        write(&loss_path, csv)
    };
    while trainer.steps_done() < steps {
        pending.push(trainer.step());
        let done = trainer.steps_done();
        let checkpoint = done % args.checkpoint_every == 0 || done == steps;
        // Losses are read back every 10 steps, and before a checkpoint so loss.csv matches it.
        if pending.len() == 10 || checkpoint {
            let group = to_vec(Tensor::cat(std::mem::take(&mut pending), 0))?;
            if let Err(divergence) = trainer.check(&group) {
                // Back at the last accepted step: keep it if this run got past where it started.
                progress.abandon();
                losses.truncate(divergence.restored);
                if divergence.restored > first {
                    save(&trainer, &losses)?;
                    return Err(format!("{divergence} (saved as the checkpoint and unet.safetensors)"));
                }
                return Err(format!("{divergence}; nothing was written"));
            }
            losses.extend(group);
            let recent = &losses[losses.len().saturating_sub(100)..];
            let mean = recent.iter().sum::<f32>() / recent.len() as f32;
            let rate = (done - first) as f64 * batch as f64 / started.elapsed().as_secs_f64();
            progress.set_message(format!("loss {mean:.4}  {rate:.1} images/s"));
            progress.set_position(done as u64);
        }
        if checkpoint {
            save(&trainer, &losses)?;
            if args.keep_checkpoints {
                write(&args.out.join(format!("unet-{done:06}.safetensors")), trainer.ema_bytes()?)?;
            }
        }
        if args.grid_every > 0 && (done % args.grid_every == 0 || done == steps) {
            let file = trainer.file_config();
            let (images, ..) =
                draw(&trainer.ema(), &file, &all_labels(100), (Method::DpmSolver2M, 50), 1.0, None, 0, &device)?;
            grid_png(&args.out.join(format!("grid-{done:06}.png")), &images, 10)?;
        }
    }
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    let images = (steps - first) as f64 * batch as f64;
    eprintln!("trained steps {first}..{steps} in {seconds:.0} s ({:.1} images/s)", images / seconds);
    let smoothed: Vec<(f64, f64)> = losses
        .chunks(50)
        .enumerate()
        .map(|(i, c)| ((i * 50 + c.len()) as f64, c.iter().map(|&l| l as f64).sum::<f64>() / c.len() as f64))
        .collect();
    let titles = crate::plot::Titles { title: "MNIST UNet training loss", x: "step", y: "loss" };
    let series = [("training (mean of 50 steps)", smoothed.as_slice(), crate::plot::LABEL_COLOURS[0])];
    crate::plot::curves(&args.out.join("loss.png"), titles, &series)
}

/// Writes a training snapshot into `dir` so that a crash at any moment leaves the last complete
/// one readable: the files of [`Snapshot::FILES`] go into a new folder `step-NNNNNNNN.*`, then the
/// one-line file `CURRENT` that names the snapshot is replaced atomically, then older folders (and
/// any a killed write left half-written) are removed.
fn write_snapshot(dir: &Path, snapshot: &Snapshot, step: usize) -> Result<(), String> {
    writable_dir(dir)?;
    let fail = |e: std::io::Error| format!("cannot write a checkpoint in {}: {e}", dir.display());
    let folder = tempfile::Builder::new().prefix(&format!("step-{step:08}.")).tempdir_in(dir).map_err(fail)?.keep();
    let parts: [&[u8]; 4] = [&snapshot.model, &snapshot.ema, &snapshot.optim, snapshot.state.as_bytes()];
    Snapshot::FILES.iter().zip(parts).try_for_each(|(name, bytes)| write(&folder.join(name), bytes))?;
    let name = folder.file_name().and_then(|n| n.to_str()).expect("a name we made").to_string();
    write(&dir.join("CURRENT"), format!("{name}\n"))?;
    for entry in std::fs::read_dir(dir).map_err(fail)?.flatten() {
        let other = entry.file_name().to_string_lossy().into_owned();
        if other.starts_with("step-") && other != name {
            std::fs::remove_dir_all(entry.path()).map_err(fail)?;
        }
    }
    Ok(())
}

/// Reads the snapshot `CURRENT` names in `dir` (or, for checkpoints written before snapshots had
/// folders, the files in `dir` itself).
fn read_snapshot(dir: &Path) -> Result<Snapshot, String> {
    let dir = match std::fs::read_to_string(dir.join("CURRENT")) {
        Ok(name) if name.trim().starts_with("step-") && !name.trim().contains(['/', '\\']) => dir.join(name.trim()),
        Ok(_) => return Err(format!("{}/CURRENT does not name a snapshot", dir.display())),
        Err(_) => dir.to_path_buf(),
    };
    let read =
        |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("cannot read {name} in {}: {e}", dir.display()));
    let [model, ema, optim, state] = Snapshot::FILES;
    let state = String::from_utf8(read(state)?).map_err(|_| format!("{}/state.json is not text", dir.display()))?;
    Ok(Snapshot { model: read(model)?, ema: read(ema)?, optim: read(optim)?, state })
}
