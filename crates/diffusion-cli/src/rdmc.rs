//! `diffusion rdmc`: reverse diffusion Monte Carlo on an energy target, no training; and
//! `diffusion rdmc-compare`: rdMC against ULA and MALA at equal gradient budgets.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use clap::Args;
use diffusion::data::states::{Points, to_csv};
use diffusion::limits;
use diffusion::metric::mmd::mmd2;
use diffusion::metric::sliced_wasserstein::sliced_w2;
use diffusion::rdmc::langevin::{annealed_chains, run_chains};
use diffusion::rdmc::sampler::{Inner, Rdmc, RdmcConfig};
use diffusion::rdmc::target::{Potential, Target};
use diffusion::rng::Rng;

use crate::common::{bar, to_points};
use crate::device::DeviceArg;
use crate::files::{writable_dir, writable_file, write};
use crate::plot::{self, Titles};
use crate::ranged::ranged;

#[derive(Args)]
pub struct RdmcArgs {
    /// gmm4, gmm8, ring, funnel, muller-brown or states-kde.
    #[arg(long)]
    target: String,
    /// Samples (outer particles).
    #[arg(long, default_value_t = 1000, value_parser = ranged::<usize>(limits::PARTICLES))]
    n: usize,
    /// The inner sampler of q_t: ula or mala.
    #[arg(long, default_value = "ula")]
    inner: String,
    /// ∇f_* evaluations per sample (fits inner particles and iterations to it; default: the
    /// target's settings, 16 × 20 per outer step, 50 outer steps).
    #[arg(long, value_parser = ranged::<usize>(limits::BUDGET))]
    budget: Option<usize>,
    #[arg(long, default_value_t = 0, value_parser = ranged::<u64>(limits::SEED))]
    seed: u64,
    /// Output CSV, header `x,y`.
    #[arg(long)]
    out: PathBuf,
    /// Also draw the samples over reference samples of the target (PNG).
    #[arg(long)]
    plot: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
}

#[derive(Args)]
pub struct CompareArgs {
    #[arg(long)]
    target: String,
    /// ∇f_* evaluations per sample.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000", value_parser = ranged::<usize>(limits::BUDGET))]
    budgets: Vec<usize>,
    #[arg(long, default_value_t = 500, value_parser = ranged::<usize>(limits::PARTICLES))]
    n: usize,
    #[arg(long, default_value_t = 0, value_parser = ranged::<u64>(limits::SEED))]
    seed: u64,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
}

fn inner(name: &str) -> Result<Inner, String> {
    match name {
        "ula" => Ok(Inner::Ula),
        "mala" => Ok(Inner::Mala),
        other => Err(format!("unknown inner sampler `{other}`: ula or mala")),
    }
}

/// Samples, with the ∇f_* and f_* evaluations spent per sample.
type Drawn = (Vec<[f32; 2]>, (f64, f64));

/// Runs rdMC with `config` for `n` samples of any potential (an energy target, or a trained score).
pub fn draw(
    target: &impl Potential,
    config: RdmcConfig,
    n: usize,
    seed: u64,
    device: &Device,
) -> Result<Drawn, String> {
    let steps = config.outer_steps();
    let mut rdmc = Rdmc::new(config, n, seed, device)?;
    let progress = bar(steps, "{bar:40} outer step {pos}/{len} [{elapsed_precise}]");
    while !rdmc.done() {
        rdmc.step(target);
        progress.inc(1);
    }
    progress.finish_and_clear();
    let per_sample = (rdmc.grads as f64 / n as f64, rdmc.energies as f64 / n as f64);
    let points = to_points(rdmc.x())?;
    let diverged = points.iter().filter(|p| !(p[0].is_finite() && p[1].is_finite())).count();
    if diverged > 0 {
        return Err(format!(
            "rdMC diverged: {diverged} of {n} samples are not finite (the potential's gradient overflowed); \
             nothing written"
        ));
    }
    Ok((points, per_sample))
}

/// MMD², sliced W₂ and the largest per-mode mass error (mixtures) against exact samples.
struct Scores {
    mmd2: Option<f64>,
    sw2: Option<f64>,
    mode_error: Option<f64>,
}

fn score(target: &Target, samples: &[[f32; 2]], reference: Option<&[[f32; 2]]>, device: &Device) -> Scores {
    let finite = samples.iter().all(|p| p[0].is_finite() && p[1].is_finite());
    let (mmd2, sw2) = match reference {
        Some(reference) if finite => {
            // MMD² is O(n²): at most 2000 points a side.
            let cap = |p: &[[f32; 2]]| p[..p.len().min(2000)].to_vec();
            (Some(mmd2(&cap(samples), &cap(reference))), Some(sliced_w2(samples, reference, 200, 0)))
        }
        _ => (None, None),
    };
    let mode_error = target.mixture().filter(|_| finite).map(|mixture| {
        let modes = mixture.assign(samples, device);
        mixture
            .weights
            .iter()
            .enumerate()
            .map(|(k, w)| (modes.iter().filter(|&&m| m == k).count() as f64 / samples.len() as f64 - w).abs())
            .fold(0.0, f64::max)
    });
    Scores { mmd2, sw2, mode_error }
}

fn show(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

pub fn rdmc(args: RdmcArgs) -> Result<(), String> {
    let target = Target::named(&args.target)?;
    let mut config = RdmcConfig { inner: inner(&args.inner)?, ..RdmcConfig::for_target(&target) };
    if let Some(budget) = args.budget {
        config = config.with_budget(budget);
    }
    writable_file(&args.out)?;
    args.plot.as_deref().map(writable_file).transpose()?;
    let device = args.device.device()?;
    let started = Instant::now();
    let mut seeds = Rng::new(args.seed);
    let (samples, (grads, energies)) = draw(&target, config.clone(), args.n, seeds.next_u64(), &device)?;
    let seconds = started.elapsed().as_secs_f64();
    write(&args.out, to_csv(&Points { xy: samples.clone(), labels: None }))?;
    let reference = target.reference(args.n.max(1000), &mut Rng::new(seeds.next_u64()));
    let scores = score(&target, &samples, reference.as_deref(), &device);
    eprintln!(
        "rdMC on {} ({} inner, n = {}, K = {}, {} outer steps): {} samples in {seconds:.1} s, {grads:.0} ∇f \
         evaluations per sample (and {energies:.0} of f for importance resampling) → {}",
        args.target,
        args.inner,
        config.inner_particles,
        config.inner_steps,
        config.outer_steps(),
        args.n,
        args.out.display()
    );
    eprintln!(
        "MMD² {}, sliced W₂ {}, largest mode-mass error {}",
        show(scores.mmd2, 5),
        show(scores.sw2, 4),
        show(scores.mode_error, 3)
    );
    if let Some(path) = &args.plot {
        let title = format!("rdMC on {} ({} inner particles)", args.target, args.inner);
        plot::scatter_over_data(path, Titles::plane(&title), reference.as_deref().unwrap_or(&[]), &samples, None)?;
    }
    Ok(())
}

pub fn compare(args: CompareArgs) -> Result<(), String> {
    let target = Target::named(&args.target)?;
    let device = args.device.device()?;
    writable_dir(&args.out)?;
    let mut seeds = Rng::new(args.seed);
    // Every method starts from the same particles (the rdMC seed) and its chains share one stream.
    let (start, chains, reference) = (seeds.next_u64(), seeds.next_u64(), seeds.next_u64());
    let reference = target.reference(args.n.max(2000), &mut Rng::new(reference));
    let base = RdmcConfig::for_target(&target);
    let l = target.smoothness();
    let mut md = String::from(
        "| method | budget (∇f per sample) | ∇f used | f used | MMD² | sliced W₂ | mode-mass error | wall time (s) |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let mut panels = Vec::new();
    for method in ["rdMC", "rdMC, no IS", "ULA", "MALA", "annealed ULA"] {
        for &budget in &args.budgets {
            let started = Instant::now();
            let (samples, (used, energies)) = match method {
                "rdMC" => draw(&target, base.clone().with_budget(budget), args.n, start, &device)?,
                "rdMC, no IS" => {
                    let config = RdmcConfig { candidates: 0, ..base.clone().with_budget(budget) };
                    draw(&target, config, args.n, start, &device)?
                }
                "annealed ULA" => {
                    let x = Rdmc::new(base.clone(), args.n, start, &device)?.x();
                    let x = annealed_chains(&target, x, budget, 0.1 / l, (10, 0.02), &mut Rng::new(chains));
                    (to_points(x)?, (budget as f64, 0.0))
                }
                _ => {
                    // The same start as rdMC's outer particles, then `budget` Langevin steps.
                    let x = Rdmc::new(base.clone(), args.n, start, &device)?.x();
                    let (mala, h) = if method == "MALA" { (true, 0.5 / l) } else { (false, 0.1 / l) };
                    let x = run_chains(&target, x, budget, h, mala, &mut Rng::new(chains));
                    (to_points(x)?, (budget as f64, if mala { budget as f64 } else { 0.0 }))
                }
            };
            let seconds = started.elapsed().as_secs_f64();
            let s = score(&target, &samples, reference.as_deref(), &device);
            let _ = writeln!(
                md,
                "| {method} | {budget} | {used:.0} | {energies:.0} | {} | {} | {} | {seconds:.1} |",
                show(s.mmd2, 5),
                show(s.sw2, 4),
                show(s.mode_error, 3)
            );
            eprintln!(
                "{method} at {budget}: MMD² {}, SW₂ {}, mode error {}",
                show(s.mmd2, 5),
                show(s.sw2, 4),
                show(s.mode_error, 3)
            );
            panels.push((format!("{method}, {budget} ∇f"), samples));
        }
    }
    md.push_str(&format!(
        "\n{} samples per row on `{}`, seed {}; MMD² (RBF, median bandwidth) and sliced W₂ against {} exact samples; \
         ULA steps 0.1/L, MALA 0.5/L (L = {l}), from rdMC's starting points; annealed ULA tempers p_*^β with β \
         rising geometrically 0.02 → 1 over 10 equal shares of the budget (step 0.1/(βL)). rdMC spends f_* evaluations on \
         importance resampling (512 candidates per outer step), which the ∇f budget does not count: \
         `rdMC, no IS` is the same sampler without them. `grid.png`: rows rdMC, rdMC without IS, ULA, MALA, annealed ULA; \
         columns the budgets.\n",
        args.n,
        args.target,
        args.seed,
        reference.as_ref().map_or(0, Vec::len),
    ));
    let title = format!("{}: samplers (rows) by ∇f budget (columns), exact samples in grey", args.target);
    let reference = reference.as_deref().unwrap_or(&[]);
    plot::scatter_grid(&args.out.join("grid.png"), &title, reference, &panels, args.budgets.len())?;
    write(&args.out.join("compare.md"), &md)?;
    println!("{md}");
    Ok(())
}
