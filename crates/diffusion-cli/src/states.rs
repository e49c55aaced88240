//! The STATES commands: train the course's DDPM, sample it (unguided or guided towards a state),
//! grade samples.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use clap::Args;
use diffusion::checkpoint::{Checkpoint, Role};
use diffusion::classifier::classify;
use diffusion::data::states::requested_labels;
use diffusion::data::states::{Points, STATE_CODES, STATE_NAMES, states, to_csv};
use diffusion::limits;
use diffusion::metric::kde_nll::Kde;
use diffusion::metric::on_target::{fraction_on, nearest_labels};
use diffusion::model_file;
use diffusion::rdmc::sampler::RdmcConfig;
use diffusion::rdmc::target::LearnedPotential;
use diffusion::rng::Rng;
use diffusion::sde::sampler::{Method, SdeSampler};
use diffusion::sde::score::{EpsScore, ScoreModel};
use diffusion::train::{Seeds, TrainConfig};

use crate::common::{Curves, bar, load, to_labels, to_points, to_vec, train_loop};
use crate::device::{DeviceArg, check_memory};
use crate::files::{writable_dir, writable_file, write};
use crate::plot::{self, Titles};
use crate::ranged::ranged;
use crate::states_config::{TrainArgs, chain_options, denoiser_config, process_name, reflow_pairs};
use crate::surrogate::{StartArgs, draw_from};

#[derive(Args)]
pub struct SampleArgs {
    /// A denoiser.safetensors written by `diffusion train states`.
    #[arg(long)]
    weights: PathBuf,
    /// A classifier.safetensors (`diffusion train states-classifier`) for guided sampling.
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// The state to guide towards: 0..4, a code (MI) or name (Michigan), or `all` (n split evenly).
    #[arg(long)]
    label: Option<String>,
    /// Guidance scale s in ε̂ = ε_θ − s √(1−ᾱ_t) ∇ log f_φ(y | x_t, t).
    #[arg(long, default_value_t = 1.0, value_parser = ranged::<f64>(limits::GUIDANCE))]
    scale: f64,
    /// The update rule, on the file's own process (a DDPM file's T-step chain, or its SDE), guided
    /// or not: ancestral (Ho et al. Algorithm 2 on the chain), ddim (η = 0: the handout's guided
    /// form), em (Euler–Maruyama), rd (reverse diffusion), pc (reverse diffusion + Langevin), ald
    /// (annealed Langevin), ode-heun, ode-rk4, ode-rk45, dpmpp2m, edm-heun.
    /// Or rdmc: reverse diffusion Monte Carlo on the learned density (no importance resampling).
    #[arg(long, default_value = "ancestral")]
    sampler: String,
    /// Grid steps. On a DDPM file's chain: ancestral and ddim take K ≤ T of its steps, evenly
    /// respaced (500 = all of the course's), then x̂₀; the other rules K intervals down to step 1.
    #[arg(long, default_value_t = 500, value_parser = ranged::<usize>(limits::SAMPLER_STEPS))]
    steps: usize,
    /// The ancestral step's noise variance on the chain: beta (σ² = β), beta-tilde (σ² = β̃) or
    /// learned (a hybrid-trained file's Σ_θ). Default: learned for such a file, else beta.
    #[arg(long)]
    variance: Option<String>,
    /// DDIM's stochasticity η ∈ [0, 1] (1: ancestral sampling on the respaced chain).
    #[arg(long, default_value_t = 0.0, value_parser = ranged::<f64>(limits::ETA))]
    eta: f64,
    /// End a continuous-time sampler with Tweedie's denoising step x̂₀ = (x + s² ∇log p)/m (one more NFE).
    #[arg(long)]
    denoise: bool,
    /// Signal-to-noise ratio r of the Langevin corrector (pc, ald, --corrector).
    #[arg(long, default_value_t = 0.16, value_parser = ranged::<f64>(limits::SNR))]
    snr: f64,
    /// `langevin`: one Langevin corrector step before each predictor step of em or rd (pc is rd
    /// with it already); `none` (the default) leaves the sampler as named.
    #[arg(long, default_value = "none")]
    corrector: String,
    /// Number of samples in total.
    #[arg(long, default_value_t = 5000, value_parser = ranged::<usize>(limits::SAMPLES))]
    n: usize,
    /// Output CSV (header `x,y`, or `x,y,label` with the requested label when guided).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 0, value_parser = ranged::<u64>(limits::SEED))]
    seed: u64,
    /// Also draw the samples over the data (PNG).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Also draw the paths of the first 200 samples from noise to their ends (PNG).
    #[arg(long)]
    trails: Option<PathBuf>,
    #[command(flatten)]
    start: StartArgs,
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
}

pub fn train(args: TrainArgs) -> Result<(), String> {
    let mut config = denoiser_config(&args.sde, &args.weighting, &args.objective)?;
    if args.reflow.is_some() && args.objective != "flow-matching" {
        return Err("--reflow trains a flow-matching model: add --objective flow-matching".into());
    }
    let (loss, t_sampling) = chain_options(&args, &mut config)?;
    let train = TrainConfig {
        steps: args.steps,
        batch: args.batch,
        lr: args.lr,
        seed: args.seed,
        ema_decay: args.ema.unwrap_or(config.default_ema_decay()),
        val_fraction: args.val_fraction,
        loss,
        t_sampling,
        ..Default::default()
    };
    config.train = Some(train.clone());
    train.validate()?;
    let batch = format!("training at batch {} ({} rows a step)", train.batch, train.rows_per_step());
    check_memory(args.device, config.model.training_bytes(train.rows_per_step()), &batch)?;
    writable_dir(&args.out)?;
    let device = args.device.device()?;
    let seeds = Seeds::of(args.seed);
    let (points, held_out) = states().split(args.val_fraction, seeds.split)?;
    let (data, noise) = match &args.reflow {
        None => (points.xy, None),
        Some(path) => {
            let (x0, z) = reflow_pairs(path, (args.reflow_pairs, args.reflow_steps), seeds.reflow, &device)?;
            (x0, Some(z))
        }
    };
    let mut trainer = config.coupled_trainer(&train, data, noise, &device)?;
    // A fixed held-out batch: 8 (t, ε) draws per held-out point.
    let validation = (!held_out.is_empty())
        .then(|| trainer.objective().denoising.draw(&held_out.xy, held_out.len() * 8, &mut Rng::new(seeds.validation)));

    eprintln!(
        "training the STATES denoiser ({}) on {} ({} steps, batch {}, lr {}, EMA {}, {} points held out)",
        process_name(&args),
        args.device.name(),
        train.steps,
        train.batch,
        train.lr,
        train.ema_decay,
        held_out.len()
    );
    let trainer = std::cell::RefCell::new(&mut trainer);
    let curves = train_loop(
        train.steps,
        || trainer.borrow_mut().step(),
        |losses| trainer.borrow_mut().check(losses),
        args.eval_every.max(1),
        |_| {
            validation
                .as_ref()
                .map(|batch| to_vec(batch.loss(&trainer.borrow().model(), &device)).map(|v| v[0]))
                .transpose()
        },
    )?;
    curves.kept_anything()?;
    let trainer = trainer.into_inner();

    let weights = args.out.join("denoiser.safetensors");
    let bytes = model_file::encode(&diffusion::io::host_tensors(&trainer.model())?, &config)?;
    write(&weights, bytes)?;
    write(&args.out.join("config.json"), config.to_json())?;
    write(&args.out.join("loss.csv"), curves.to_csv())?;
    curves.plot(&args.out.join("loss.png"), &format!("STATES denoiser ({}) training loss", process_name(&args)))?;
    if let Some(&(_, last)) = curves.validation.last() {
        eprintln!("held-out loss {last:.4}");
    }
    curves.verdict(&weights)?;
    eprintln!("wrote {} (+ config.json, loss.csv, loss.png)", weights.display());
    Ok(())
}

/// `--label`: a number, code or name of a state, or `all`.
pub fn parse_label(text: &str) -> Result<Option<u8>, String> {
    if text.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    let by_name = (0..STATE_NAMES.len())
        .find(|&i| STATE_NAMES[i].eq_ignore_ascii_case(text) || STATE_CODES[i].eq_ignore_ascii_case(text));
    match (text.parse::<usize>().ok().filter(|&i| i < STATE_NAMES.len()), by_name) {
        (Some(i), _) | (None, Some(i)) => Ok(Some(i as u8)),
        _ => Err(format!("unknown state `{text}`: use 0..4, {} or all", STATE_CODES.join(", "))),
    }
}

/// Samples `n` points from a denoiser with any sampler on its own process (a DDPM file's chain or
/// its SDE), guided towards `labels` with `scale` when a classifier is given; ends with Tweedie's
/// x̂₀ when `denoise` is set. Returns x on the host and the network evaluations.
pub fn draw(
    denoiser: &Checkpoint,
    guidance: Option<(&Checkpoint, &[u8], f64)>,
    (method, denoise): (Method, bool),
    steps: usize,
    n: usize,
    seed: u64,
    device: &Device,
) -> Result<(Vec<[f32; 2]>, usize), String> {
    let model = denoiser.eps_score()?;
    let sampler = SdeSampler::new(method, model.sde, steps, n, seed, device)?;
    run_guided(sampler, &model, guidance, denoise, device)
}

/// Steps `sampler` to its end on the denoiser's score `model`, guided when a classifier is given.
pub fn run_guided(
    sampler: SdeSampler,
    model: &EpsScore,
    guidance: Option<(&Checkpoint, &[u8], f64)>,
    denoise: bool,
    device: &Device,
) -> Result<(Vec<[f32; 2]>, usize), String> {
    match guidance {
        None => run(sampler, model, denoise),
        Some((classifier, labels, scale)) => {
            let guided = classifier.config.guide(&classifier.mlp, model, model.sde, labels, scale, device);
            run(sampler, &guided, denoise)
        }
    }
}

/// Steps a sampler to its end with a progress bar over t.
fn run(mut sampler: SdeSampler, model: &impl ScoreModel, denoise: bool) -> Result<(Vec<[f32; 2]>, usize), String> {
    let progress = bar(1000, "{bar:40} t {pos}‰ done [{elapsed_precise}]");
    while !sampler.done() {
        sampler.step(model);
        progress.set_position(((1.0 - sampler.t()) * 1000.0) as u64);
    }
    if denoise {
        sampler.denoise(model);
    }
    progress.finish_and_clear();
    Ok((to_points(sampler.x())?, sampler.nfe()))
}

/// The fraction on target by the nearest data point's label and by the clean classifier (t = 0).
pub fn on_target(
    samples: &[[f32; 2]],
    target: u8,
    classifier: &Checkpoint,
    device: &Device,
) -> Result<(f64, f64), String> {
    let data = states();
    let nearest = nearest_labels(&data.xy, data.labels.as_deref().expect("labelled"), samples);
    let flat: Vec<f32> = samples.iter().flatten().copied().collect();
    let x = Tensor::from_data(TensorData::new(flat, [samples.len(), 2]), device);
    let predicted = to_labels(classify(&classifier.mlp, &classifier.schedule, x, 0))?;
    Ok((fraction_on(&nearest, target), fraction_on(&predicted, target as i64)))
}

/// rdMC on the learned density: ∇f_* ≈ −s_θ(x, t_min) (the report's use of a trained score), ULA
/// inner loop, no importance resampling (f_* is unknown); returns x and the network evaluations per
/// sample.
pub fn draw_rdmc(
    denoiser: &Checkpoint,
    n: usize,
    seed: u64,
    device: &Device,
) -> Result<(Vec<[f32; 2]>, usize), String> {
    let potential = LearnedPotential::of(denoiser.eps_score()?);
    let config = RdmcConfig::for_states();
    let (xy, (grads, _)) = crate::rdmc::draw(&potential, config, n, seed, device)?;
    Ok((xy, grads as usize))
}

pub fn sample(args: SampleArgs) -> Result<(), String> {
    if !args.scale.is_finite() || args.scale.abs() > 1000.0 {
        return Err(format!("--scale must be a number in [-1000, 1000], got {}", args.scale));
    }
    writable_file(&args.out)?;
    args.plot.as_deref().map(writable_file).transpose()?;
    args.trails.as_deref().map(writable_file).transpose()?;
    let device = args.device.device()?;
    let denoiser = load(&args.weights, Role::Denoiser, &device)?;
    let rdmc = args.sampler == "rdmc";
    if rdmc && args.trails.is_some() {
        return Err("--trails follows a sampler's grid; rdmc has none".into());
    }
    let start = args.start.resolve(&denoiser.config, &device)?;
    if start.is_some() && (rdmc || args.trails.is_some()) {
        return Err("--surrogate starts a sampler's grid part-way: not with rdmc or --trails".into());
    }
    let method = match rdmc {
        true => None,
        false => {
            let method = Method::parse(&args.sampler, args.snr, args.eta, &args.corrector)?;
            Some(method.with_variance(denoiser.config.sampling_variance(args.variance.as_deref(), method)?))
        }
    };
    if rdmc && args.classifier.is_some() {
        return Err("rdmc samples the learned density alone: drop --classifier or pick another sampler".into());
    }
    let (classifier, label) = match (&args.classifier, &args.label) {
        (Some(path), Some(label)) => (Some(load(path, Role::Classifier, &device)?), parse_label(label)?),
        (None, None) => (None, None),
        _ => return Err("guided sampling needs both --classifier and --label".into()),
    };
    let labels = requested_labels(label, args.n);
    let started = Instant::now();
    let guidance = classifier.as_ref().map(|c| (c, labels.as_slice(), args.scale));
    let (xy, nfe) = match (method, &start) {
        (Some(method), Some((surrogate, t_mid))) => {
            let (method, n) = ((method, args.denoise), args.n);
            let (xy, nfe, full) =
                draw_from(&denoiser, guidance, (surrogate, *t_mid), method, args.steps, n, args.seed, &device)?;
            let full = full.map_or("RK45 picks its own steps".into(), |full| format!("the whole grid takes {full}"));
            eprintln!("surrogate start at t = {t_mid}: {nfe} NFE ({full})");
            (xy, nfe)
        }
        (Some(method), None) => {
            draw(&denoiser, guidance, (method, args.denoise), args.steps, args.n, args.seed, &device)?
        }
        (None, _) => draw_rdmc(&denoiser, args.n, args.seed, &device)?,
    };
    let seconds = started.elapsed().as_secs_f64();
    let points = Points { xy, labels: classifier.is_some().then(|| labels.clone()) };
    write(&args.out, to_csv(&points))?;
    let kde = Kde::fit(&states().xy)?;
    let nll = kde.nll(&points.xy)?;
    eprintln!(
        "{} samples ({} NFE, {}) in {seconds:.1} s ({:.0} samples/s) → {}; grader NLL {nll:.4}",
        args.n,
        nfe,
        args.sampler,
        args.n as f64 / seconds,
        args.out.display()
    );
    if let Some(classifier) = &classifier {
        for l in 0..STATE_NAMES.len() as u8 {
            let mine = points.with_label(l);
            if mine.is_empty() {
                continue;
            }
            let nll = kde.nll(&mine.xy)?;
            let (nearest, clean) = on_target(&mine.xy, l, classifier, &device)?;
            eprintln!(
                "{}: grader NLL {nll:.4}, on target {:.1}% (nearest data point) / {:.1}% (classifier at t = 0)",
                STATE_NAMES[l as usize],
                100.0 * nearest,
                100.0 * clean
            );
        }
    }
    if let Some(path) = &args.plot {
        let title = format!("{} samples, {} ({} NFE): grader NLL {nll:.3}", args.n, args.sampler, nfe);
        plot::scatter_over_data(path, Titles::plane(&title), &states().xy, &points.xy, points.labels.as_deref())?;
        eprintln!("plotted {}", path.display());
    }
    if let (Some(path), Some(method)) = (&args.trails, method) {
        let paths = trails(&denoiser, method, args.steps, args.seed, &device)?;
        let title = format!("paths of {} samples: {}, {} steps (unguided)", paths.len(), args.sampler, args.steps);
        plot::trails(path, Titles::plane(&title), &states().xy, &paths)?;
        eprintln!("plotted {}", path.display());
    }
    Ok(())
}

/// The first 200 samples' positions at every grid time (the same prior draws as a run of any n
/// with this seed).
fn trails(
    denoiser: &Checkpoint,
    method: Method,
    steps: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<Vec<[f32; 2]>>, String> {
    let model = denoiser.eps_score()?;
    let mut sampler = SdeSampler::new(method, model.sde, steps, 200, seed, device)?;
    let mut paths: Vec<Vec<[f32; 2]>> = to_points(sampler.x())?.into_iter().map(|p| vec![p]).collect();
    while !sampler.done() {
        sampler.step(&model);
        to_points(sampler.x())?.into_iter().zip(&mut paths).for_each(|(p, path)| path.push(p));
    }
    Ok(paths)
}

/// Reads a loss curve CSV written by a training command.
pub fn read_curves(path: &Path) -> Result<Curves, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Curves::from_csv(&text).map_err(|e| format!("{}: {e}", path.display()))
}
