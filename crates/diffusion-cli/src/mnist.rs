//! MNIST: `train mnist` (the class-conditional UNet, checkpointing and resumable), `sample mnist`
//! (samples.npy, labels.npy, grid.png).

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use clap::Args;
use diffusion::data::mnist::{self, Mnist, PIXELS, SIDE, to_byte};
use diffusion::data::{label_blocks, label_cycle};
use diffusion::limits;
use diffusion::model::unet::UNet;
use diffusion::model_file;
use diffusion::rng::Rng;
use diffusion::sde::sampler::{Method, SdeSampler, grid};
use diffusion::sde::surrogate_start::planned_nfe;
use diffusion::surrogate::{Surrogate, start_digits};
use diffusion::unet_checkpoint::UNetFileConfig;

use crate::common::{bar, to_vec};
use crate::device::DeviceArg;
use crate::files::{writable_dir, write};
use crate::npy;
use crate::ranged::ranged;

/// The training or test split from `dir` (raw IDX, or `.gz` next to it).
pub fn load_split(dir: Option<&Path>, train: bool) -> Result<Mnist, String> {
    let dir = dir.map(Path::to_path_buf).unwrap_or_else(mnist::default_dir);
    let (images, labels) = mnist::file_names(train);
    let read = |name: &str| -> Result<Vec<u8>, String> {
        let raw = dir.join(name);
        let gz = dir.join(format!("{name}.gz"));
        std::fs::read(&raw).or_else(|_| std::fs::read(&gz)).map_err(|e| {
            format!(
                "{}: {e} (fetch MNIST with `cargo xtask fetch-data mnist`, or pass --data DIR holding the IDX files)",
                raw.display()
            )
        })
    };
    Mnist::from_idx(&read(images)?, &read(labels)?).map_err(|e| format!("{}: {e}", dir.display()))
}

pub fn load_unet(path: &Path, device: &Device) -> Result<(UNet, UNetFileConfig), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    model_file::unet(&bytes, device).map_err(|e| format!("{}: {e}", path.display()))
}

/// Labels 0..9 repeated to `n`.
pub fn all_labels(n: usize) -> Vec<i64> {
    label_cycle(10, n).into_iter().map(|l| l as i64).collect()
}

/// Pixel bytes [n · 784], the network evaluations spent per image, and what the sampler's whole
/// grid would have spent (`None`: RK45 picks its own steps).
pub type Drawn = (Vec<u8>, usize, Option<usize>);

/// A model's samples [n, side²] as 28² pixel bytes: a DDPM-14's doubled bilinearly (seed 003
/// §3.2), MNIST's own as they are.
fn full_size_bytes(x: Tensor<2>, file: &UNetFileConfig) -> Result<Vec<u8>, String> {
    let x = diffusion::data::bilinear::resize(x, file.side, SIDE);
    Ok(to_vec(x)?.into_iter().map(to_byte).collect())
}

/// Samples one image per label with `method` in `steps` grid steps (guidance weight `guidance`),
/// at the model's side (a DDPM-14's doubled to 28²). With a surrogate start (a conv VAE or a
/// DDPM-14, and t_mid), the sampler begins from its digits of the same labels (any digit for ∅)
/// noised to t_mid (Algorithm 4); its draws and the sampler's noise come from two streams of `seed`.
#[allow(clippy::too_many_arguments)]
pub fn draw(
    unet: &UNet,
    file: &UNetFileConfig,
    labels: &[i64],
    (method, steps): (Method, usize),
    guidance: f64,
    start: Option<(&Surrogate, f64)>,
    seed: u64,
    device: &Device,
) -> Result<Drawn, String> {
    let model = file.score_model(unet, labels.to_vec(), guidance)?.clipped();
    let sde = file.score.sde;
    let (mut sampler, full_nfe) = match start {
        None => (
            SdeSampler::with_dim(method, sde, steps, labels.len(), file.pixels(), seed, device)?,
            planned_nfe(method, &grid(method, &sde, steps)),
        ),
        Some(_) if file.side != SIDE => {
            return Err(format!(
                "a surrogate start hands its 28×28 digits to a 28×28 model, not a {0}×{0} one",
                file.side
            ));
        }
        Some((surrogate, t_mid)) => {
            let started = start_digits(surrogate, method, sde, steps, labels, t_mid, seed, device)?;
            (started.sampler, started.full_nfe)
        }
    };
    while !sampler.done() {
        sampler.step(&model);
    }
    let nfe = sampler.nfe();
    Ok((full_size_bytes(sampler.x(), file)?, nfe, full_nfe))
}

/// rdMC on the learned density of x_{t₀} (t₀ defaults to t_min; ∇f_* ≈ −s_θ(x, t₀), conditioned
/// on the labels and guided like the other samplers), about `budget` network evaluations per sample: T = 2, η = 0.2,
/// ULA inner loop with step 0.2/(L + κ), L = 1/s(t₀)² (the potential's curvature across the
/// noise), no importance resampling (f_* is unknown). Then one Tweedie step to the data,
/// x̂₀ = (x + s(t₀)² s_θ(x, t₀))/m(t₀) (one more evaluation). At t₀ = t_min this is the report's
/// setting; a larger t₀ smooths the potential so the inner chains move. Returns the pixel bytes
/// and the evaluations per sample.
#[allow(clippy::too_many_arguments)]
pub fn draw_rdmc(
    unet: &UNet,
    file: &UNetFileConfig,
    labels: &[i64],
    budget: usize,
    t0: Option<f64>,
    guidance: f64,
    seed: u64,
    device: &Device,
) -> Result<(Vec<u8>, usize), String> {
    use diffusion::rdmc::sampler::{Rdmc, RdmcConfig};
    use diffusion::rdmc::target::LearnedPotential;
    use diffusion::sde::score::ScoreModel;
    let sde = file.score.sde;
    let t0 = t0.unwrap_or(sde.t_min());
    if !(sde.t_min()..=0.5).contains(&t0) {
        return Err(format!("--rdmc-t0 must be in [t_min = {}, 0.5], got {t0}", sde.t_min()));
    }
    let config = RdmcConfig::for_learned(&sde, t0).with_budget(budget.saturating_sub(1).max(1));
    // ∇f_* is evaluated on the inner particles, n per outer particle (rows i·n .. i·n + n − 1).
    let inner: Vec<i64> = labels.iter().flat_map(|&l| std::iter::repeat_n(l, config.inner_particles)).collect();
    let score = file.score_model(unet, inner, guidance)?;
    let potential = LearnedPotential { score, t_min: t0 };
    let mut rdmc = Rdmc::with_dim(config, labels.len(), file.pixels(), seed, device)?;
    while !rdmc.done() {
        rdmc.step(&potential);
    }
    let per_sample = rdmc.grads / labels.len().max(1) + 1;
    // rdMC's OU process ends at a sample of p_{t₀}; Tweedie's formula denoises it.
    let x = rdmc.x();
    let outer = file.score_model(unet, labels.to_vec(), guidance)?;
    let x0 = sde.x0_from_score(x.clone(), outer.score(x, t0), t0);
    Ok((full_size_bytes(x0, file)?, per_sample))
}

/// At most 100 images for a grid, one column per class: row r holds the r-th sample of each
/// digit 0..9 (so `--label all` with n > 100 shows every class, not the first ten of digit 0);
/// with a single label, the first 100 in rows of ten.
pub fn grid_sample(images: &[u8], labels: &[i64]) -> Vec<u8> {
    let classes: Vec<Vec<usize>> = (0..10).map(|d| (0..labels.len()).filter(|&i| labels[i] == d).collect()).collect();
    let order: Vec<usize> = if classes.iter().filter(|c| !c.is_empty()).count() > 1 {
        let rows = classes.iter().map(Vec::len).max().unwrap_or(0).min(10);
        (0..rows).flat_map(|r| classes.iter().filter_map(move |c| c.get(r).copied())).collect()
    } else {
        (0..labels.len().min(100)).collect()
    };
    order.iter().flat_map(|&i| images[i * PIXELS..(i + 1) * PIXELS].iter().copied()).collect()
}

/// Images [n · 784] as a grayscale PNG grid (ink white on black, like the data), 1 px gaps.
pub fn grid_png(path: &Path, images: &[u8], columns: usize) -> Result<(), String> {
    let n = images.len() / PIXELS;
    let rows = n.div_ceil(columns);
    let (w, h) = (columns * (SIDE + 1) + 1, rows * (SIDE + 1) + 1);
    let mut pixels = vec![64u8; w * h];
    for (i, image) in images.chunks_exact(PIXELS).enumerate() {
        let (x0, y0) = (1 + (i % columns) * (SIDE + 1), 1 + (i / columns) * (SIDE + 1));
        for (j, &v) in image.iter().enumerate() {
            pixels[(y0 + j / SIDE) * w + x0 + j % SIDE] = v;
        }
    }
    write(path, crate::plot::png_bytes(&pixels, (w, h), png::ColorType::Grayscale)?)
}

#[derive(Args)]
pub struct SampleArgs {
    /// An MNIST UNet file (`train mnist` writes DIR/unet.safetensors).
    #[arg(long, default_value = "web/models/mnist-vp.safetensors")]
    weights: PathBuf,
    /// Total samples; with --label all the classes are split evenly.
    #[arg(long, default_value_t = 100, value_parser = ranged::<usize>(limits::IMAGES))]
    n: usize,
    /// all, none (unconditional) or a digit 0..9.
    #[arg(long, default_value = "all")]
    label: String,
    /// em, rd, pc, ald, ancestral, ddim, ode-heun, ode-rk4, ode-rk45, dpmpp2m, edm-heun, or rdmc
    /// (reverse diffusion Monte Carlo on the learned density; --steps is then its budget of network
    /// evaluations per sample).
    #[arg(long, default_value = "dpmpp2m")]
    sampler: String,
    #[arg(long, default_value_t = 50, value_parser = ranged::<usize>(limits::SAMPLER_STEPS))]
    steps: usize,
    /// rdMC only: the time t₀ whose learned density it samples (default t_min), then denoised.
    #[arg(long, value_parser = ranged::<f64>(limits::RDMC_T0))]
    rdmc_t0: Option<f64>,
    /// Classifier-free guidance weight w: ε̃ = (1 + w) ε(x, y) − w ε(x, ∅).
    #[arg(long, default_value_t = 1.0, value_parser = ranged::<f64>(limits::GUIDANCE))]
    guidance: f64,
    #[arg(long, default_value_t = 0.16, value_parser = ranged::<f64>(limits::SNR))]
    snr: f64,
    #[arg(long, default_value_t = 0, value_parser = ranged::<u64>(limits::SEED))]
    seed: u64,
    /// Images per batch (memory).
    #[arg(long, default_value_t = 500, value_parser = ranged::<usize>(limits::IMAGE_BATCH))]
    batch: usize,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// A surrogate (`train mnist-surrogate`: a conv VAE or a DDPM-14): its digits, noised by the
    /// process's kernel to --t-start, start the sampler there instead of at the prior.
    #[arg(long)]
    surrogate: Option<PathBuf>,
    /// The time t ∈ [0, t_max] a surrogate start begins at (0: the surrogate's own digits).
    #[arg(long, value_parser = ranged::<f64>(limits::T_START))]
    t_start: Option<f64>,
    /// A DDPM-14 surrogate's draws in this many steps of its rule instead of its file's.
    #[arg(long, value_parser = ranged::<usize>(limits::SAMPLER_STEPS))]
    draw_steps: Option<usize>,
    /// Output directory: samples.npy (N×28×28 uint8), labels.npy (int64), grid.png.
    #[arg(long)]
    out: PathBuf,
}

/// The requested class of each of `n` samples: `all` splits them evenly (0,0,…,1,1,…).
pub fn labels_for(label: &str, n: usize) -> Result<Vec<i64>, String> {
    match label {
        "all" => Ok(label_blocks(10, n).into_iter().map(|l| l as i64).collect()),
        "none" => Ok(vec![10; n]),
        digit => match digit.parse::<i64>() {
            Ok(d) if (0..=9).contains(&d) => Ok(vec![d; n]),
            _ => Err(format!("--label must be all, none or a digit 0..9, got `{digit}`")),
        },
    }
}

pub fn sample(args: SampleArgs) -> Result<(), String> {
    let device = args.device.device()?;
    let (unet, file) = load_unet(&args.weights, &device)?;
    // rdMC: --steps is its budget of network evaluations per sample.
    let rdmc = args.sampler == "rdmc";
    let method = match Method::named(&args.sampler, args.snr) {
        Some(method) => method,
        None if rdmc => Method::pc(),
        None => {
            return Err(format!(
                "unknown sampler `{}`: em, rd, pc, ald, ancestral, ddim, ode-heun, ode-rk4, ode-rk45, dpmpp2m, edm-heun, rdmc",
                args.sampler
            ));
        }
    };
    let labels = labels_for(&args.label, args.n)?;
    let sde = file.score.sde;
    let surrogate = match (&args.surrogate, args.t_start) {
        (None, None) => None,
        (Some(_), _) if rdmc => return Err("rdMC samples without a surrogate start".into()),
        (Some(path), Some(t)) if t <= sde.t_max() => Some((crate::mnist_surrogate::read(path, &device)?, t)),
        (Some(_), Some(t)) => return Err(format!("--t-start {t} is past this process's t_max = {}", sde.t_max())),
        (Some(_), None) => return Err(format!("a surrogate start needs --t-start t in [0, {}]", sde.t_max())),
        (None, Some(_)) => return Err("--t-start places a surrogate start: add --surrogate FILE".into()),
    };
    let surrogate = match (surrogate, args.draw_steps) {
        (Some((s, t)), Some(k)) => Some((s.with_draw_steps(k).map_err(|e| format!("--draw-steps: {e}"))?, t)),
        (None, Some(_)) => return Err("--draw-steps sets a DDPM-14 surrogate's steps: add --surrogate FILE".into()),
        (surrogate, None) => surrogate,
    };
    let start = surrogate.as_ref().map(|(s, t)| (s, *t));
    writable_dir(&args.out)?;
    let started = Instant::now();
    let progress = bar(args.n, "{bar:40} {pos}/{len} images [{elapsed_precise}<{eta_precise}]");
    let mut images = Vec::with_capacity(args.n * PIXELS);
    let mut seeds = Rng::new(args.seed);
    let mut spent = (0, None);
    for chunk in labels.chunks(args.batch) {
        let seed = seeds.next_u64();
        if rdmc {
            images.extend(draw_rdmc(&unet, &file, chunk, args.steps, args.rdmc_t0, args.guidance, seed, &device)?.0);
        } else {
            let (bytes, nfe, full) =
                draw(&unet, &file, chunk, (method, args.steps), args.guidance, start, seed, &device)?;
            images.extend(bytes);
            spent = (nfe, full);
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    write(&args.out.join("samples.npy"), npy::encode(&[args.n, SIDE, SIDE], &images)?)?;
    write(&args.out.join("labels.npy"), npy::encode(&[args.n], &labels)?)?;
    grid_png(&args.out.join("grid.png"), &grid_sample(&images, &labels), 10)?;
    let nfe = match (start, spent) {
        (Some((surrogate, t_mid)), (from, Some(all))) if !rdmc => {
            let cost = match surrogate.nfe() {
                0 => String::new(),
                k => format!(", after the surrogate's {k} at its own size"),
            };
            format!("; {from} network evaluations per image from t = {t_mid} (of {all}){cost}")
        }
        _ if !rdmc => format!("; {} network evaluations per image", spent.0),
        _ => String::new(),
    };
    eprintln!(
        "{} images in {seconds:.1} s ({:.2} images/s{nfe}) → {}",
        args.n,
        args.n as f64 / seconds,
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With every class requested, the grid's columns are the digits 0..9 whatever n is; with one
    /// class, the first 100 samples.
    #[test]
    fn grid_shows_ten_of_each_class() {
        for n in [20, 100, 1000] {
            let labels = labels_for("all", n).unwrap();
            // Image i is filled with its label, so the grid can be read back.
            let images: Vec<u8> = labels.iter().flat_map(|&l| std::iter::repeat_n(l as u8, PIXELS)).collect();
            let shown: Vec<u8> = grid_sample(&images, &labels).chunks(PIXELS).map(|c| c[0]).collect();
            assert_eq!(shown.len(), 10 * (n / 10).min(10), "n {n}");
            assert!(shown.iter().enumerate().all(|(i, &d)| d as usize == i % 10), "n {n}: {shown:?}");
        }
        let labels = vec![3; 250];
        let images = vec![0u8; 250 * PIXELS];
        assert_eq!(grid_sample(&images, &labels).len(), 100 * PIXELS);
    }
}
