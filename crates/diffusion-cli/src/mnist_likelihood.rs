//! `diffusion likelihood-mnist`: test bits/dim of an MNIST UNet file (the estimator is the core's `metric::image_bits`).

use crate::device::DeviceArg;
use crate::mnist::{load_split, load_unet};
use crate::ranged::ranged;
use clap::Args;
use diffusion::data::mnist::{Mnist, PIXELS};
use diffusion::limits;
use diffusion::metric::image_bits::{Bits, Estimator, image_bits, mean_and_error};
use diffusion::sde::likelihood::Grid;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct LikelihoodArgs {
    #[arg(long, default_value = "web/models/mnist-vp.safetensors")]
    weights: PathBuf,
    /// Test images scored (the first N).
    #[arg(long, default_value_t = 100, value_parser = ranged::<usize>(limits::IMAGES))]
    n: usize,
    /// RK4 steps of the probability-flow ODE.
    #[arg(long, default_value_t = 50, value_parser = ranged::<usize>(limits::ODE_STEPS))]
    steps: usize,
    /// Where the steps fall: `log-snr` (evenly in log(m/s) of the perturbation kernel, short steps
    /// near t_min where the flow is stiff) or `uniform` (evenly in t).
    #[arg(long, default_value = "log-snr")]
    grid: String,
    /// The time the ODE starts from, where the dequantised data stands in for p_t (default: the
    /// t_min the model was trained down to).
    #[arg(long, value_parser = ranged::<f64>(limits::T_MIN))]
    t_min: Option<f64>,
    /// Candidate start times (comma-separated): each scores the first --n training images and
    /// the best one scores the test images (overrides --t-min).
    #[arg(long, value_delimiter = ',', value_parser = ranged::<f64>(limits::T_MIN))]
    choose_t_min: Vec<f64>,
    /// Score through a decoder instead of uniform dequantisation: the data noised to t_min by the
    /// forward kernel, the ODE's density there, and a Gaussian of width σ around the model's x̂₀
    /// integrated over each pixel level's bin (a variational bound on −log P;
    /// `sde::discrete_bound`). Candidate widths σ in pixel levels (1 = 1/127.5 on the model's
    /// scale), comma-separated; with several, the best on the first --n training images scores
    /// the test set.
    #[arg(long, value_delimiter = ',', value_parser = ranged::<f64>(limits::DECODER_SIGMA))]
    decoder_sigma: Vec<f64>,
    /// Hutchinson probes per evaluation.
    #[arg(long, default_value_t = 1, value_parser = ranged::<usize>(limits::MNIST_PROBES))]
    probes: usize,
    #[arg(long, default_value_t = 50, value_parser = ranged::<usize>(limits::LIKELIHOOD_BATCH))]
    batch: usize,
    #[arg(long, default_value_t = 0, value_parser = ranged::<u64>(limits::SEED))]
    seed: u64,
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
}

/// Test bits/dim, by one of two bounds on −log₂ P(x)/D. Uniform dequantisation: the ODE's density
/// at y = a (b + v)/256 + c with a = 256/127.5, c = −1 (the model's pixel scale at v = 0). With
/// --decoder-sigma: the variational bound through a decoder (`sde::discrete_bound`). Any start
/// time t_min gives a normalised density (the prior pushed through the ODE down to t_min), so t_min
/// (like σ) is a choice of the model; with several candidates the choice is made on training
/// images and only the chosen one scores the test set.
pub fn likelihood(args: LikelihoodArgs) -> Result<(), String> {
    if args.steps == 0 {
        return Err("--steps 0: the MNIST likelihood needs at least one ODE step".into());
    }
    let grid = Grid::named(&args.grid).ok_or(format!("unknown --grid `{}` (log-snr, uniform)", args.grid))?;
    let device = args.device.device()?;
    let (unet, file) = load_unet(&args.weights, &device)?;
    if file.side != diffusion::data::mnist::SIDE {
        let (path, side) = (args.weights.display(), file.side);
        return Err(format!("{path}: a {side}×{side} model (DDPM-14) has no density of MNIST's 28×28 test digits"));
    }
    let sde = file.score.sde;
    let trained_to = file.train.as_ref().map_or(sde.t_min(), |t| t.t_min(&sde));
    let t_min = args.t_min.unwrap_or(trained_to);
    limits::T_MIN.check(t_min)?;
    let decoder = !args.decoder_sigma.is_empty();
    let widths = if decoder { args.decoder_sigma.clone() } else { vec![0.0] };
    let score = |images: &Mnist, t_min: f64| -> Result<Bits, String> {
        if images.len() < args.n {
            return Err(format!("--n {} is more than the {} images there are", args.n, images.len()));
        }
        let estimator = Estimator {
            times: grid.times(&sde, t_min, args.steps),
            probes: args.probes,
            batch: args.batch,
            seed: args.seed,
            decoder_widths: args.decoder_sigma.clone(),
        };
        let started = Instant::now();
        let model = |count: usize| file.score_model(&unet, vec![10; count], 0.0);
        let progress = |done: usize| eprintln!("{done} / {} images, {:.0} s", args.n, started.elapsed().as_secs_f64());
        let pixels = &images.images[..args.n * PIXELS];
        image_bits(model, &sde, pixels, &estimator, &device, progress).map_err(|e| e.to_string())
    };
    let mean = |bits: &[f64]| bits.iter().sum::<f64>() / bits.len() as f64;
    let estimator = |w: usize, decoder_bits: &[Vec<f64>]| match decoder {
        true => format!("decoder σ = {} levels, of which the decoder {:.4}", widths[w], mean(&decoder_bits[w])),
        false => "uniform dequantisation".to_string(),
    };
    let starts = if args.choose_t_min.is_empty() { vec![t_min] } else { args.choose_t_min.clone() };
    let (t_min, chosen) = if starts.len() * widths.len() == 1 {
        (starts[0], 0)
    } else {
        let train = load_split(args.data.as_deref(), true)?;
        let mut best = (f64::INFINITY, t_min, 0);
        for &t in &starts {
            let Bits { bits, decoder_bits } = score(&train, t)?;
            for (w, bits) in bits.iter().enumerate() {
                let bits = mean(bits);
                let how = estimator(w, &decoder_bits);
                println!("train bits/dim {bits:.4} from t = {t:e}, {how} (first {} training images)", args.n);
                if bits < best.0 {
                    best = (bits, t, w);
                }
            }
        }
        if !best.0.is_finite() {
            return Err("no candidate scored a finite bits/dim on the training images".into());
        }
        (best.1, best.2)
    };
    let started = Instant::now();
    let test = load_split(args.data.as_deref(), false)?;
    let Bits { mut bits, decoder_bits } = score(&test, t_min)?;
    let how = estimator(chosen, &decoder_bits);
    let (mean, se) = mean_and_error(&bits.swap_remove(chosen));
    let mut line = String::new();
    let _ = write!(
        line,
        "test bits/dim {mean:.4} ± {se:.4} (first {} test images, unconditional, {}, from t = {t_min:e}, {} RK4 steps on the {} grid, {} probe(s), {:.0} s)",
        args.n,
        how,
        args.steps,
        args.grid,
        args.probes,
        started.elapsed().as_secs_f64()
    );
    println!("{line}");
    Ok(())
}
