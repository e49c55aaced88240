//! The denoiser config `train states` builds from its flags: the process (`--sde`, `--weighting`)
//! and, on the DDPM chain, its schedule and ε-loss.

use diffusion::checkpoint::CheckpointConfig;
use diffusion::importance::StepSampling;
use diffusion::schedule::ScheduleConfig;
use diffusion::sde::dsm::Weighting;
use diffusion::train::EpsLoss;

use crate::states::TrainArgs;

/// The denoiser config of `--sde` and `--weighting`.
pub fn denoiser_config(sde: &str, weighting: &str) -> Result<CheckpointConfig, String> {
    let mut config = CheckpointConfig::named_denoiser(sde)?;
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
    let loss = EpsLoss::named(&args.objective, args.iw_k, worst_first)?;
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
