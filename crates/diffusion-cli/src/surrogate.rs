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
use diffusion::model_file;
use diffusion::rng::Rng;
use diffusion::sde::sampler::{Method, SdeSampler, grid};
use diffusion::sde::surrogate_start::planned_nfe;
use diffusion::surrogate::em::{EmConfig, fit};
use diffusion::surrogate::{FitRecord, Surrogate, SurrogateFile};

use crate::files::{writable_dir, write};
use crate::grading::Grader;
use crate::ranged::ranged;
use crate::states::run_guided;

#[derive(Args)]
pub struct TrainSurrogateArgs {
    /// The surrogate: gmm (a Gaussian mixture fitted by EM).
    #[arg(long, default_value = "gmm", value_parser = ["gmm"])]
    kind: String,
    /// The mixture's components K.
    #[arg(long, default_value_t = 10, value_parser = ranged::<usize>(limits::COMPONENTS))]
    components: usize,
    /// EM iterations at most (it stops earlier once the log-likelihood gains < 1e-7 nats/point).
    #[arg(long, default_value_t = 500, value_parser = ranged::<usize>(limits::EM_ITERATIONS))]
    iterations: usize,
    /// Seeds k-means++'s choice of starting centres.
    #[arg(long, default_value_t = 0, value_parser = ranged::<u64>(limits::SEED))]
    seed: u64,
    /// Output directory (surrogate.safetensors and config.json are written there).
    #[arg(long)]
    out: PathBuf,
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
    /// The surrogate and its start time t_mid on `config`'s process, if asked for.
    pub fn resolve(&self, config: &CheckpointConfig) -> Result<Option<(Surrogate, f64)>, String> {
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
        Ok(Some((read(path)?.0, t_mid)))
    }
}

/// The surrogate of a file, with its config.
pub fn read(path: &Path) -> Result<(Surrogate, SurrogateFile), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    model_file::surrogate(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Fits a `components`-Gaussian mixture to every STATES point by EM and writes it into `out`
/// (surrogate.safetensors, config.json); returns it with its fit record and the fit's seconds.
pub fn fit_and_write(
    components: usize,
    iterations: usize,
    seed: u64,
    out: &Path,
) -> Result<(Surrogate, FitRecord, f64), String> {
    writable_dir(out)?;
    let data = states().xy;
    let started = Instant::now();
    let fitted = fit(&data, &EmConfig { max_iterations: iterations, ..EmConfig::new(components, seed) })?;
    let seconds = started.elapsed().as_secs_f64();
    let log_likelihood = *fitted.log_likelihood.last().expect("one iteration at least");
    let surrogate = Surrogate::Gmm(fitted.mixture);
    let record = FitRecord { points: data.len(), seed, iterations: fitted.log_likelihood.len(), log_likelihood };
    let file = SurrogateFile { role: Role::StatesSurrogate, model: surrogate.kind(), fit: Some(record.clone()) };
    write(&out.join("surrogate.safetensors"), model_file::encode(&surrogate.tensors(), &file)?)?;
    write(&out.join("config.json"), serde_json::to_string_pretty(&file).expect("a config serialises"))?;
    Ok((surrogate, record, seconds))
}

pub fn train(args: TrainSurrogateArgs) -> Result<(), String> {
    let (surrogate, record, seconds) = fit_and_write(args.components, args.iterations, args.seed, &args.out)?;
    let n = record.points;
    let [nll, coverage, precision] = Grader::new()?.grade(&surrogate.sample(n, &mut Rng::new(args.seed)))?;
    let nats = -record.log_likelihood;
    eprintln!(
        "a {}-component Gaussian mixture by EM ({} iterations, {seconds:.2} s): −log p = {nats:.4} nats/point on \
         the {n} points ({:.4} bits/dim); {n} of its samples: grader NLL {nll:.4}, coverage {coverage:.4}, \
         precision {precision:.3}",
        args.components,
        record.iterations,
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
    let mut streams = Rng::new(seed);
    let x0 = surrogate.sample(n, &mut Rng::new(streams.next_u64()));
    let x0 = Tensor::<2>::from_data(TensorData::new(x0.concat(), [n, 2]), device);
    let sampler = SdeSampler::from_surrogate(method, model.sde, steps, x0, t_mid, streams.next_u64())?;
    let full = planned_nfe(method, &grid(method, &model.sde, steps)).map(|nfe| nfe + usize::from(denoise));
    let (xy, nfe) = run_guided(sampler, &model, guidance, denoise, device)?;
    Ok((xy, nfe, full))
}
