//! The denoiser config `train states` builds from its flags: the process (`--sde`, `--weighting`)
//! and, on the DDPM chain, its schedule and ε-loss.

use std::path::Path;

use burn::prelude::*;
use diffusion::checkpoint::{CheckpointConfig, Role};
use diffusion::importance::StepSampling;
use diffusion::schedule::ScheduleConfig;
use diffusion::sde::dsm::Prediction;
use diffusion::sde::dsm::Weighting;
use diffusion::sde::method::Method;
use diffusion::sde::reflow;
use diffusion::train::EpsLoss;

use std::path::PathBuf;

use clap::Args;
use diffusion::limits;
use diffusion::train::TrainConfig;

use crate::common::{load, to_points};
use crate::device::DeviceArg;
use crate::ranged::ranged;

/// `diffusion train states`'s flags.
#[derive(Args)]
pub struct TrainArgs {
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = TrainConfig::default().steps, value_parser = ranged::<usize>(limits::TRAIN_STEPS))]
    pub steps: usize,
    /// (point, t) pairs per Adam step.
    #[arg(long, default_value_t = TrainConfig::default().batch, value_parser = ranged::<usize>(limits::BATCH))]
    pub batch: usize,
    /// Peak learning rate (cosine-decayed to 5% of it by the last step).
    #[arg(long, default_value_t = TrainConfig::default().lr, value_parser = ranged::<f64>(limits::LR))]
    pub lr: f64,
    #[arg(long, default_value_t = 0, value_parser = ranged::<u64>(limits::SEED))]
    pub seed: u64,
    /// ddpm: the course's discrete T = 500 chain (L_simple, input t̄). vp, subvp, ve: denoising
    /// score matching on that SDE's continuous time t ~ U(t_min, 1), input (c_in x, Fourier γ(t)).
    #[arg(long, default_value = "ddpm")]
    pub sde: String,
    /// The DDPM chain's β schedule (--sde ddpm): linear or cosine (Nichol & Dhariwal eq. 17).
    #[arg(long, default_value = "linear")]
    pub schedule: String,
    /// The DDPM chain's length T (--sde ddpm).
    #[arg(long, default_value_t = 500, value_parser = ranged::<usize>(limits::TIMESTEPS))]
    pub timesteps: usize,
    /// β_1,β_T of the linear schedule (default 1e-4,0.02; the HSE study's T = 100 uses 4e-4,0.18).
    #[arg(long)]
    pub beta_range: Option<String>,
    /// The loss: simple (L_simple; on an SDE, ‖ε̂ − z‖²), iwdiff (--sde ddpm: k draws per (x₀, t),
    /// weighted by a softmax of their losses), hybrid (--sde ddpm: L_simple + 0.001 L_vlb with a
    /// learned variance: the network also outputs v, Σ = exp(v log β + (1 − v) log β̃)) or
    /// flow-matching (a velocity network v̂(x_t, t) regressing z − x₀ on the rectified-flow path
    /// x_t = (1 − t) x₀ + t z; sample it with euler or ode-heun).
    #[arg(long, default_value = "simple")]
    pub objective: String,
    /// Reflow (with --objective flow-matching): a flow-matching denoiser.safetensors whose ODE
    /// couples each noise draw z with its solution x̂₀; the new model trains on those pairs.
    #[arg(long)]
    pub reflow: Option<PathBuf>,
    /// Reflow's pairs, drawn from the first model (seeded by --seed).
    #[arg(long, default_value_t = 20000, value_parser = ranged::<usize>(limits::SAMPLES))]
    pub reflow_pairs: usize,
    /// Heun steps of the first model's ODE that make each pair (2 evaluations each).
    #[arg(long, default_value_t = 100, value_parser = ranged::<usize>(limits::SAMPLER_STEPS))]
    pub reflow_steps: usize,
    /// IWDiff's draws per (x₀, t).
    #[arg(long, default_value_t = 2, value_parser = ranged::<usize>(limits::IW_K))]
    pub iw_k: usize,
    /// IWDiff's weights: worst (the seed's softmax(l), the worst draw weighs most) or best
    /// (IWAE's softmax(−l)).
    #[arg(long, default_value = "worst")]
    pub iw_weights: String,
    /// How the chain's t is drawn (--sde ddpm): uniform, or importance (p_t ∝ √E[L_t²] from the
    /// last 10 losses at each t, Nichol & Dhariwal eq. 8–9).
    #[arg(long, default_value = "uniform")]
    pub t_sampling: String,
    /// With importance sampling: extra loss-only batches per step that refresh the history ("IS+2").
    #[arg(long, default_value_t = 0, value_parser = ranged::<usize>(limits::IS_EXTRA))]
    pub is_extra: usize,
    /// λ(t) of denoising score matching: sigma2 (λ = s(t)², i.e. ‖ε̂ − z‖²) or likelihood (λ = g(t)²).
    #[arg(long, default_value = "sigma2")]
    pub weighting: String,
    /// Decay of the weights' moving average that is saved for sampling (0: save the raw weights;
    /// default 0 for ddpm, 0.999 for the SDEs).
    #[arg(long, value_parser = ranged::<f64>(limits::EMA))]
    pub ema: Option<f64>,
    /// Fraction of the points held out (per state) for the validation curve; 0 trains on all.
    #[arg(long, default_value_t = 0.1, value_parser = ranged::<f64>(limits::VAL_FRACTION))]
    pub val_fraction: f64,
    /// Evaluate the held-out loss every this many steps.
    #[arg(long, default_value_t = 50, value_parser = ranged::<usize>(limits::EVAL_EVERY))]
    pub eval_every: usize,
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

/// What the run trains, for its messages: the process, or flow matching (with reflow).
pub fn process_name(args: &TrainArgs) -> String {
    match (args.objective.as_str(), &args.reflow) {
        ("flow-matching", None) => "flow matching".into(),
        ("flow-matching", Some(_)) => "flow matching, reflow".into(),
        _ => args.sde.clone(),
    }
}

/// The denoiser config of `--sde`, `--weighting` and `--objective flow-matching` (a velocity
/// network on the flow path, `--sde flow` or left at its default).
pub fn denoiser_config(sde: &str, weighting: &str, objective: &str) -> Result<CheckpointConfig, String> {
    let mut config = match (objective, sde) {
        ("flow-matching", "ddpm" | "flow") => CheckpointConfig::flow_matching(),
        ("flow-matching", other) => {
            return Err(format!("flow matching runs on the rectified-flow path (--sde flow), not `{other}`"));
        }
        _ => CheckpointConfig::named_denoiser(sde)?,
    };
    let weighting = match weighting {
        "sigma2" => Weighting::Sigma2,
        "likelihood" => Weighting::Likelihood,
        other => return Err(format!("unknown weighting `{other}`: sigma2 or likelihood")),
    };
    match &mut config.score {
        Some(score) => score.weighting = weighting,
        None if weighting != Weighting::Sigma2 => {
            return Err("--weighting applies to the SDEs (--sde vp|subvp|ve)".into());
        }
        None => {}
    }
    Ok(config)
}

/// The chain (`--schedule`, `--timesteps`, `--beta-range`), ε-loss (`--objective`) and t-sampling
/// (`--t-sampling`, `--is-extra`) of a DDPM run.
pub fn chain_options(args: &TrainArgs, config: &mut CheckpointConfig) -> Result<(EpsLoss, StepSampling), String> {
    let beta_range = match &args.beta_range {
        None => None,
        Some(text) => match text.split_once(',').map(|(a, b)| (a.trim().parse::<f64>(), b.trim().parse::<f64>())) {
            Some((Ok(a), Ok(b))) => Some((a, b)),
            _ => return Err(format!("--beta-range wants two numbers `β_1,β_T`, got `{text}`")),
        },
    };
    let worst_first = match args.iw_weights.as_str() {
        "worst" => true,
        "best" => false,
        other => return Err(format!("unknown --iw-weights `{other}`: worst or best")),
    };
    let objective = if args.objective == "flow-matching" { "simple" } else { args.objective.as_str() };
    let loss = EpsLoss::named(objective, args.iw_k, worst_first)?;
    let t_sampling = match (args.t_sampling.as_str(), args.is_extra) {
        ("uniform", 0) => StepSampling::Uniform,
        ("uniform", _) => return Err("--is-extra goes with --t-sampling importance".into()),
        ("importance", extra) => StepSampling::Importance { extra },
        (other, _) => return Err(format!("unknown --t-sampling `{other}`: uniform or importance")),
    };
    let custom = args.schedule != "linear" || args.timesteps != 500 || beta_range.is_some();
    match &config.score {
        None => config.schedule = ScheduleConfig::named(&args.schedule, args.timesteps, beta_range)?,
        Some(_) if custom || loss != EpsLoss::Simple || t_sampling != StepSampling::Uniform => {
            return Err(
                "--schedule, --timesteps, --beta-range, --objective and --t-sampling apply to --sde ddpm".into()
            );
        }
        Some(_) => {}
    }
    *config = config.clone().for_loss(loss);
    Ok((loss, t_sampling))
}

/// Data points and the noise each is paired with.
pub type Pairs = (Vec<[f32; 2]>, Vec<[f32; 2]>);

/// Reflow's training pairs (x̂₀, z): `pairs` noise draws from `seed` carried to data by the
/// flow-matching model at `path` with `steps` Heun steps.
pub fn reflow_pairs(path: &Path, (pairs, steps): (usize, usize), seed: u64, device: &Device) -> Result<Pairs, String> {
    let first = load(path, Role::Denoiser, device)?;
    if first.config.score.as_ref().map(|s| s.prediction) != Some(Prediction::Velocity) {
        return Err(format!(
            "{}: --reflow takes a flow-matching model (train states --objective flow-matching)",
            path.display()
        ));
    }
    let model = first.eps_score()?;
    eprintln!("reflow: carrying {pairs} noise draws to data with {} ({steps} Heun steps)", path.display());
    let (x0, z) = reflow::pairs(&model, model.sde, (Method::OdeHeun, steps), pairs, seed, device)?;
    let (x0, z) = (to_points(x0)?, to_points(z)?);
    if x0.iter().flatten().any(|v| !v.is_finite()) {
        return Err(format!("{}: its ODE diverged; the pairs are not finite", path.display()));
    }
    Ok((x0, z))
}
