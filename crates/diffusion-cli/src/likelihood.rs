//! `diffusion likelihood`: −log p(x) of data under a trained denoiser, through the probability-flow
//! ODE of its SDE (a DDPM network: the chain's own process), with the exact divergence in
//! 2-D or Hutchinson's estimate; with `--bound`, first the DDPM chain's variational bound.

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use clap::Args;
use diffusion::checkpoint::Role;
use diffusion::data::states::states;
use diffusion::limits;
use diffusion::metric::bits_per_dim::nats_to_bits_per_dim;
use diffusion::metric::image_bits::mean_and_error;
use diffusion::sde::likelihood::{Divergence, Grid, flow};
use diffusion::sde::sampler::Method;
use diffusion::vlb::chain_bound;

use crate::common::{load, to_vec};
use crate::device::DeviceArg;
use crate::ranged::ranged;

#[derive(Args)]
pub struct LikelihoodArgs {
    /// A denoiser.safetensors.
    #[arg(long)]
    weights: PathBuf,
    /// The data set to score (`states`).
    #[arg(long, default_value = "states")]
    data: String,
    /// Score N points spread evenly through the file (every point: 5000). The file is grouped by
    /// state, so the first N would be one state only.
    #[arg(long, default_value_t = 5000, value_parser = ranged::<usize>(limits::SAMPLES))]
    n: usize,
    /// RK4 steps of the ODE from t_min to 1 (0 with --bound: the bound alone).
    #[arg(long, default_value_t = 100, value_parser = ranged::<usize>(limits::ODE_STEPS))]
    steps: usize,
    /// Where the steps fall: `log-snr` (evenly in log(m/s) of the perturbation kernel, short steps
    /// near t_min where the flow is stiff) or `uniform` (evenly in t).
    #[arg(long, default_value = "log-snr")]
    grid: String,
    /// Hutchinson probes per evaluation (0: the exact divergence).
    #[arg(long, default_value_t = 0, value_parser = ranged::<usize>(limits::PROBES))]
    probes: usize,
    /// Also the DDPM chain's variational bound L_T + Σ L_{t−1} + L_0 (a Gaussian decoder), one
    /// draw of x_t per step and point, with the ancestral variance of `--variance`.
    #[arg(long)]
    bound: bool,
    /// The bound's p_θ variance: beta, beta-tilde or learned (default: the file's own).
    #[arg(long)]
    variance: Option<String>,
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
}

pub fn likelihood(args: LikelihoodArgs) -> Result<(), String> {
    if args.data != "states" {
        return Err(format!("unknown data set `{}` (states)", args.data));
    }
    if args.steps == 0 && !args.bound {
        return Err("--steps 0 computes nothing without --bound".into());
    }
    let grid = Grid::named(&args.grid).ok_or(format!("unknown --grid `{}` (log-snr, uniform)", args.grid))?;
    let device = args.device.device()?;
    let denoiser = load(&args.weights, Role::Denoiser, &device)?;
    let model = denoiser.eps_score()?;
    let sde = model.sde;
    let data = states();
    let n = args.n.clamp(1, data.len());
    let rows = data.spread(n);
    let x = Tensor::<2>::from_data(TensorData::new(rows, [n, 2]), &device);
    let how = match args.probes {
        0 => Divergence::Exact,
        probes => Divergence::Hutchinson { probes, rademacher: true },
    };
    if args.bound {
        let Some(schedule) = denoiser.config.score.is_none().then_some(&denoiser.schedule) else {
            return Err("--bound is the DDPM chain's: this file is a continuous-time SDE model".into());
        };
        let variance = denoiser.config.sampling_variance(args.variance.as_deref(), Method::ancestral())?;
        let started = Instant::now();
        let bound = chain_bound(&model, schedule, x.clone(), variance, 0)?;
        let (nats, error) = mean_and_error(&bound);
        println!("{nats:.4}");
        eprintln!(
            "variational bound {nats:.4} ± {error:.4} nats ({:.4} bits/dim) over {n} points, σ² {variance:?}; {} NFE per point, {:.1} s",
            nats_to_bits_per_dim(nats, 2),
            schedule.steps,
            started.elapsed().as_secs_f64()
        );
        if args.steps == 0 {
            return Ok(());
        }
    } else if args.variance.is_some() {
        return Err("--variance goes with --bound".into());
    }
    let started = Instant::now();
    let flow = flow(&model, &sde, x, &grid.times(&sde, sde.t_min(), args.steps), how, 0);
    let log_p = to_vec(flow.log_likelihood(&sde))?;
    let nlls: Vec<f64> = log_p.iter().map(|&l| -(l as f64)).collect();
    let (nll, error) = mean_and_error(&nlls);
    println!("{nll:.4}");
    eprintln!(
        "NLL {nll:.4} ± {error:.4} nats ({:.4} bits/dim) over {n} points; {} NFE per point batch, {:.1} s",
        nats_to_bits_per_dim(nll, 2),
        flow.nfe,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
