//! `diffusion train states-surrogate` and `sample states --surrogate`: a cheap model of the STATES
//! points (a Gaussian mixture fitted by EM) whose samples, noised to t_mid by the process's exact
//! kernel, start any sampler there (seed 003, Algorithm 4; `diffusion::sde::surrogate_start`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use clap::Args;
use diffusion::checkpoint::{Checkpoint, CheckpointConfig, Role};
use diffusion::data::states::states;
use diffusion::limits;
use diffusion::model::vae::VaeConfig;
use diffusion::model_file;
use diffusion::rng::Rng;
use diffusion::sde::sampler::Method;
use diffusion::surrogate::em::{self, EmConfig};
use diffusion::surrogate::vae;
use diffusion::surrogate::{FitRecord, Surrogate, SurrogateFile, start};
use diffusion::train::TrainConfig;

use crate::common::{to_points, train_loop};
use crate::device::DeviceArg;
use crate::files::{writable_dir, write};
use crate::grading::Grader;
use crate::ranged::ranged;
use crate::states::run_guided;

#[derive(Args)]
pub struct TrainSurrogateArgs {
    /// The surrogate: gmm (a Gaussian mixture fitted by EM) or vae (a small variational
    /// autoencoder, 2 latent dimensions, 2 × 128 PReLU each way, trained on the ELBO).
    #[arg(long, default_value = "gmm", value_parser = ["gmm", "vae"])]
    kind: String,
    /// The mixture's components K.
    #[arg(long, default_value_t = 10, value_parser = ranged::<usize>(limits::COMPONENTS))]
    components: usize,
    /// EM iterations at most (it stops earlier once the log-likelihood gains < 1e-7 nats/point).
    #[arg(long, default_value_t = 500, value_parser = ranged::<usize>(limits::EM_ITERATIONS))]
    iterations: usize,
    /// The VAE's training steps (Adam, cosine-decayed learning rate).
    #[arg(long, default_value_t = 3000, value_parser = ranged::<usize>(limits::TRAIN_STEPS))]
    steps: usize,
    /// The VAE's points per step.
    #[arg(long, default_value_t = 1024, value_parser = ranged::<usize>(limits::BATCH))]
    batch: usize,
    /// The VAE's peak learning rate.
    #[arg(long, default_value_t = 2e-3, value_parser = ranged::<f64>(limits::LR))]
    lr: f64,
    /// Seeds k-means++'s starting centres, or the VAE's weights and minibatches.
    #[arg(long, default_value_t = 0, value_parser = ranged::<u64>(limits::SEED))]
    seed: u64,
    /// Output directory (surrogate.safetensors and config.json are written there).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
}

/// How to fit a surrogate.
#[derive(Clone, Copy, Debug)]
pub enum Fit {
    Gmm { components: usize, iterations: usize },
    Vae { steps: usize, batch: usize, lr: f64 },
}

impl Fit {
    pub fn name(&self) -> String {
        match self {
            Fit::Gmm { components, .. } => format!("GMM-{components}"),
            Fit::Vae { .. } => "VAE".into(),
        }
    }
}

/// `sample states`'s surrogate start.
#[derive(Args)]
pub struct StartArgs {
    /// A surrogate.safetensors (`diffusion train states-surrogate`): its samples, noised by the
    /// process's kernel to t_mid, start the sampler there instead of at the prior.
    #[arg(long)]
    surrogate: Option<PathBuf>,
    /// On a DDPM file's T-step chain: the step k ∈ [0, T] to start at (0: the surrogate's samples).
    #[arg(long, value_parser = ranged::<usize>(limits::T_MID))]
    t_mid: Option<usize>,
    /// On an SDE or flow file: the time t ∈ [0, t_max] to start at.
    #[arg(long, value_parser = ranged::<f64>(limits::T_START))]
    t_start: Option<f64>,
}

impl StartArgs {
    /// The surrogate (on `device`) and its start time t_mid on `config`'s process, if asked for.
    pub fn resolve(&self, config: &CheckpointConfig, device: &Device) -> Result<Option<(Surrogate, f64)>, String> {
        let Some(path) = &self.surrogate else {
            return match self.t_mid.is_some() || self.t_start.is_some() {
                true => Err("--t-mid and --t-start place a surrogate start: add --surrogate FILE".into()),
                false => Ok(None),
            };
        };
        let sde = config.sde();
        let t_mid = match (sde.chain_steps(), self.t_mid, self.t_start) {
            (Some(steps), Some(k), None) if k <= steps => k as f64 / steps as f64,
            (Some(steps), Some(k), None) => return Err(format!("--t-mid {k} is past this chain's T = {steps}")),
            (Some(steps), _, _) => {
                return Err(format!("this file samples a {steps}-step chain: give --t-mid K in [0, {steps}]"));
            }
            (None, None, Some(t)) if t <= sde.t_max() => t,
            (None, None, Some(t)) => {
                return Err(format!("--t-start {t} is past this process's t_max = {}", sde.t_max()));
            }
            (None, _, _) => {
                return Err(format!("this file's process is continuous: give --t-start t in [0, {}]", sde.t_max()));
            }
        };
        Ok(Some((read(path, device)?.0, t_mid)))
    }
}

/// The surrogate of a file, with its config.
pub fn read(path: &Path, device: &Device) -> Result<(Surrogate, SurrogateFile), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    model_file::surrogate(&bytes, Role::StatesSurrogate, device).map_err(|e| format!("{}: {e}", path.display()))
}

/// Fits a surrogate to every STATES point (a mixture by EM, or a VAE by the one trainer) and
/// writes it into `out` (surrogate.safetensors, config.json); returns it, its fit record and seconds.
pub fn fit_and_write(fit: Fit, seed: u64, out: &Path, device: &Device) -> Result<(Surrogate, FitRecord, f64), String> {
    writable_dir(out)?;
    let data = states().xy;
    let started = Instant::now();
    let (surrogate, iterations, log_likelihood) = match fit {
        Fit::Gmm { components, iterations } => {
            let fitted = em::fit(&data, &EmConfig { max_iterations: iterations, ..EmConfig::new(components, seed) })?;
            let log_likelihood = *fitted.log_likelihood.last().expect("one iteration at least");
            (Surrogate::Gmm(fitted.mixture), fitted.log_likelihood.len(), log_likelihood)
        }
        Fit::Vae { steps, batch, lr } => {
            let config = VaeConfig::default();
            let train = TrainConfig { steps, batch, lr, seed, ema_decay: 0.0, ..Default::default() };
            let mut trainer = vae::trainer(&config, &train, data.clone(), device)?;
            let trainer = std::cell::RefCell::new(&mut trainer);
            let curves = train_loop(
                steps,
                || trainer.borrow_mut().step(),
                |l| trainer.borrow_mut().check(l),
                steps,
                |_| Ok(None),
            )?;
            if let Some(divergence) = &curves.diverged {
                return Err(format!("{divergence}; nothing was written"));
            }
            let recent = &curves.train[curves.train.len().saturating_sub(100)..];
            let elbo = -(recent.iter().map(|&l| l as f64).sum::<f64>() / recent.len() as f64);
            (Surrogate::Vae(trainer.into_inner().model(), config), steps, elbo)
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let record = FitRecord { points: data.len(), seed, iterations, log_likelihood };
    let file = SurrogateFile { role: Role::StatesSurrogate, model: surrogate.kind(), fit: Some(record.clone()) };
    write(&out.join("surrogate.safetensors"), model_file::encode(&surrogate.tensors()?, &file)?)?;
    write(&out.join("config.json"), serde_json::to_string_pretty(&file).expect("a config serialises"))?;
    Ok((surrogate, record, seconds))
}

pub fn train(args: TrainSurrogateArgs) -> Result<(), String> {
    let fit = match args.kind.as_str() {
        "vae" => Fit::Vae { steps: args.steps, batch: args.batch, lr: args.lr },
        _ => Fit::Gmm { components: args.components, iterations: args.iterations },
    };
    let device = args.device.device()?;
    let (surrogate, record, seconds) = fit_and_write(fit, args.seed, &args.out, &device)?;
    let n = record.points;
    let draws = to_points(surrogate.draw(n, &mut Rng::new(args.seed), &device)?)?;
    let [nll, coverage, precision] = Grader::new()?.grade(&draws)?;
    let nats = -record.log_likelihood;
    let what = match fit {
        Fit::Gmm { components, .. } => {
            format!("a {components}-component Gaussian mixture by EM ({} iterations", record.iterations)
        }
        Fit::Vae { .. } => format!("a VAE ({} steps", record.iterations),
    };
    let bound = if matches!(fit, Fit::Vae { .. }) { "−ELBO, an upper bound on −log p" } else { "−log p" };
    eprintln!(
        "{what}, {seconds:.2} s): {nats:.4} nats/point on the {n} points ({bound}; {:.4} bits/dim); {n} of its \
         samples: grader NLL {nll:.4}, coverage {coverage:.4}, precision {precision:.3}",
        nats / (2.0 * std::f64::consts::LN_2),
    );
    eprintln!("wrote {}", args.out.join("surrogate.safetensors").display());
    Ok(())
}

/// Samples, the evaluations spent, and what the whole grid would have spent (`None`: RK45).
pub type Started = (Vec<[f32; 2]>, usize, Option<usize>);

/// `n` samples from the surrogate's draws noised to t_mid and denoised from there by `method` on
/// the denoiser's process; returns the samples, the evaluations spent and what the sampler's whole
/// grid would have spent (`None` for RK45).
#[allow(clippy::too_many_arguments)]
pub fn draw_from(
    denoiser: &Checkpoint,
    guidance: Option<(&Checkpoint, &[u8], f64)>,
    (surrogate, t_mid): (&Surrogate, f64),
    (method, denoise): (Method, bool),
    steps: usize,
    n: usize,
    seed: u64,
    device: &Device,
) -> Result<Started, String> {
    let model = denoiser.eps_score()?;
    let started = start(surrogate, method, model.sde, steps, n, t_mid, seed, device)?;
    let full = started.full_nfe.map(|nfe| nfe + usize::from(denoise));
    let (xy, nfe) = run_guided(started.sampler, &model, guidance, denoise, device)?;
    Ok((xy, nfe, full))
}
