//! Sampling the reverse SDE or its ODE from the prior, one grid step at a time, counting network
//! (score) evaluations: the one sampler driver, for the DDPM chain and the continuous SDEs alike.
//! The grid runs from t = t_max (1; the flow path's 1 − 10⁻³) down to t_min: uniform (for the DDPM chain: its T steps evenly
//! respaced), uniform in log-SNR for DPM-Solver++, EDM's ρ = 7 levels for its Heun. A grid that
//! ends at t = 0 (the chain's ancestral and DDIM rules, EDM's) takes its last interval as Tweedie's
//! x̂₀ at the last time, which for the chain is exactly Ho et al.'s final step (σ_1 = 0, ᾱ_1 = α_1).

use burn::prelude::*;

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sde::Sde;
use crate::sde::corrector::langevin;
use crate::sde::ddim::ddim;
use crate::sde::dpm_solver::{self, x0_hat};
use crate::sde::edm;
use crate::sde::ode::{Rk45, euler, heun, rk4};
use crate::sde::predictor::{ancestral, euler_maruyama, reverse_diffusion};
use crate::sde::score::ScoreModel;

pub use crate::sde::method::{Method, Predictor, Variance};

/// The times t_0 = t_max > t_1 > … of `steps` intervals for `method` on `sde`.
pub fn grid(method: Method, sde: &Sde, steps: usize) -> Vec<f64> {
    let (t_min, t_max) = (sde.t_min(), sde.t_max());
    match method {
        // Lu et al.: steps uniform in the half-log-SNR λ, where the ODE's solution is smooth.
        Method::DpmSolver2M => {
            let (hi, lo) = (sde.log_snr(t_min), sde.log_snr(t_max));
            (0..=steps).map(|i| sde.time_at_log_snr(lo + (hi - lo) * i as f64 / steps as f64, t_min)).collect()
        }
        // The N noise levels of EDM, then the final denoising step.
        Method::EdmHeun => edm::grid(sde, steps).into_iter().chain([0.0]).collect(),
        Method::OdeRk45 { .. } => vec![t_max, t_min],
        _ => match sde.chain_steps() {
            // The chain's own rules (Ho et al.'s ancestral step, DDIM) take K ≤ T of its steps and
            // go to t = 0 as x̂₀ from step 1; every other rule takes K intervals down to step 1 as
            // on a continuous SDE (its last step adds no noise), on whole steps while K < T.
            Some(t_max) => {
                let to_zero = matches!(method, Method::Ancestral { .. } | Method::Ddim { .. });
                let times = chain_steps(t_max, if to_zero { steps.min(t_max) } else { steps + 1 });
                times.into_iter().chain(to_zero.then_some(0.0)).collect()
            }
            None => (0..=steps).map(|i| t_max - (t_max - t_min) * i as f64 / steps as f64).collect(),
        },
    }
}

/// `points` times of the T-step chain from t = 1 down to its step 1: τ_k = 1 + (T − 1)(k − 1)/(K − 1)
/// for k = K..1 over t = τ/T (both ends kept, as Nichol & Dhariwal respace), rounded to whole
/// steps when K ≤ T.
fn chain_steps(t_max: usize, points: usize) -> Vec<f64> {
    if points <= 1 {
        return vec![1.0];
    }
    let tau = |k: usize| 1.0 + (t_max - 1) as f64 * k as f64 / (points - 1) as f64;
    let mut taus: Vec<f64> = (0..points).rev().map(tau).collect();
    if points <= t_max {
        taus.iter_mut().for_each(|t| *t = t.round());
        taus.dedup();
    }
    taus.into_iter().map(|tau| tau / t_max as f64).collect()
}

pub struct SdeSampler {
    method: Method,
    sde: Sde,
    grid: Vec<f64>,
    i: usize,
    x: Tensor<2>,
    rng: Rng,
    nfe: usize,
    /// DPM-Solver++(2M)'s memory: the previous step's (t, x̂₀).
    previous: Option<(f64, Tensor<2>)>,
    /// RK45's own adaptive time stepping.
    rk45: Option<Rk45>,
}

impl SdeSampler {
    /// x ~ N(0, prior_std² I) for `n` 2-D points and a grid of `steps` intervals from 1 to t_min.
    pub fn new(method: Method, sde: Sde, steps: usize, n: usize, seed: u64, device: &Device) -> Result<Self> {
        Self::with_dim(method, sde, steps, n, 2, seed, device)
    }

    /// As [`SdeSampler::new`] for `n` rows of `dim` coordinates (flattened images: 784).
    pub fn with_dim(
        method: Method,
        sde: Sde,
        steps: usize,
        n: usize,
        dim: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        crate::limits::SAMPLER_STEPS.check(steps as f64)?;
        Self::on_grid(method, sde, grid(method, &sde, steps), n, dim, seed, device)
    }

    /// As [`SdeSampler::with_dim`] on a given grid of decreasing times from 1 (a grid ending at
    /// t = 0 ends with Tweedie's x̂₀).
    pub fn on_grid(
        method: Method,
        sde: Sde,
        grid: Vec<f64>,
        n: usize,
        dim: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        if grid.len() < 2 {
            return Err(Error::Config("a sampler's time grid needs at least two times".into()));
        }
        let mut rng = Rng::new(seed);
        let prior: Vec<f32> = rng.normals(n * dim).into_iter().map(|z| z * sde.prior_std() as f32).collect();
        let x = Tensor::from_data(TensorData::new(prior, [n, dim]), device);
        Self::from_state(method, sde, grid, x, rng)
    }

    /// The sampler at `x`, the state at the grid's first time, drawing its noise from `rng` (a
    /// surrogate start, `sde::surrogate_start`; a one-time grid is already done).
    pub fn from_state(method: Method, sde: Sde, grid: Vec<f64>, x: Tensor<2>, rng: Rng) -> Result<Self> {
        sde.validate()?;
        match method {
            Method::Ancestral { .. } if matches!(sde, Sde::SubVp { .. } | Sde::Flow) => {
                return Err(Error::Config(
                    "ancestral sampling is defined for VE and VP (Song et al. appendix F); use rd or ddim for sub-VP, euler or ode-heun for the flow path"
                        .into(),
                ));
            }
            Method::Ddim { eta } => crate::limits::ETA.check(eta)?,
            Method::OdeRk45 { rtol, atol } if !(rtol > 1e-12 && rtol < 1.0 && atol > 1e-12 && atol < 1.0) => {
                return Err(Error::Config(format!("RK45 tolerances must be in (1e-12, 1), got {rtol}, {atol}")));
            }
            Method::Ancestral { variance }
                if variance != Variance::Beta && !matches!(sde, Sde::Vp { .. } | Sde::Ddpm { .. }) =>
            {
                return Err(Error::Config(
                    "a choice of ancestral variance is the VP chain's (VE's step takes its posterior variance)".into(),
                ));
            }
            _ => {}
        }
        let falls = grid.windows(2).all(|w| w[1] < w[0]);
        if grid.is_empty() || !falls || grid[0].is_nan() || grid[0] > 1.0 || grid[grid.len() - 1] < 0.0 {
            return Err(Error::Config("a time grid must fall strictly from at most 1 to at least 0".into()));
        }
        let rk45 = match method {
            Method::OdeRk45 { rtol, atol } if grid.len() >= 2 => Some(Rk45::new(grid[0], sde.t_min(), rtol, atol)),
            _ => None,
        };
        Ok(Self { method, sde, grid, i: 0, x, rng, nfe: 0, previous: None, rk45 })
    }

    pub fn t(&self) -> f64 {
        match &self.rk45 {
            Some(rk45) => rk45.t(),
            None => self.grid[self.i],
        }
    }

    pub fn done(&self) -> bool {
        match &self.rk45 {
            Some(rk45) => rk45.done(),
            None => self.i + 1 >= self.grid.len(),
        }
    }

    /// Score evaluations so far.
    pub fn nfe(&self) -> usize {
        self.nfe
    }

    pub fn x(&self) -> Tensor<2> {
        self.x.clone()
    }

    /// Replaces the current state (inpainting overwrites the known coordinates between steps).
    pub fn set_x(&mut self, x: Tensor<2>) {
        self.x = x;
    }

    fn noise(&mut self) -> Tensor<2> {
        let [n, d] = self.x.dims();
        Tensor::from_data(TensorData::new(self.rng.normals(n * d), [n, d]), &self.x.device())
    }

    /// One grid step (the predictor's last step adds no noise: it returns the mean).
    pub fn step(&mut self, model: &impl ScoreModel) {
        if self.done() {
            return;
        }
        if let Some(rk45) = &mut self.rk45 {
            let before = rk45.nfe;
            self.x = rk45.step(model, &self.sde, self.x.clone());
            self.nfe += rk45.nfe - before;
            return;
        }
        let (t, t_next) = (self.grid[self.i], self.grid[self.i + 1]);
        let last = self.i + 2 == self.grid.len();
        let x = self.x.clone();
        if t_next == 0.0 {
            self.nfe += 1;
            self.x = x0_hat(model, &self.sde, x, t);
            self.i += 1;
            return;
        }
        self.x = match self.method {
            Method::Ancestral { variance } => {
                self.nfe += 1;
                let z = (!last).then(|| self.noise());
                ancestral(model, &self.sde, x, (t, t_next), variance, z).expect("checked in new")
            }
            Method::Ddim { eta } => {
                self.nfe += 1;
                let z = (!last && eta > 0.0).then(|| self.noise());
                ddim(model, &self.sde, x, (t, t_next), eta, z)
            }
            Method::OdeRk45 { .. } => unreachable!("stepped above"),
            Method::OdeEuler => {
                self.nfe += 1;
                euler(model, &self.sde, x, t, t_next)
            }
            Method::OdeHeun => {
                self.nfe += 2;
                heun(model, &self.sde, x, t, t_next)
            }
            Method::OdeRk4 => {
                self.nfe += 4;
                rk4(model, &self.sde, x, t, t_next)
            }
            Method::EdmHeun => {
                self.nfe += 2;
                edm::heun(model, &self.sde, x, t, t_next)
            }
            Method::DpmSolver2M => {
                self.nfe += 1;
                let x0 = x0_hat(model, &self.sde, x.clone(), t);
                let next = dpm_solver::step(&self.sde, x, t, t_next, x0.clone(), self.previous.take());
                self.previous = Some((t, x0));
                next
            }
            Method::Pc { predictor, corrector_steps, snr } => {
                let mut x = x;
                let alpha = self.sde.step_alpha(t, t_next);
                for _ in 0..corrector_steps {
                    let z = self.noise();
                    x = langevin(model, x, t, snr, alpha, z);
                    self.nfe += 1;
                }
                let z = (!last).then(|| self.noise());
                match predictor {
                    Predictor::EulerMaruyama => {
                        self.nfe += 1;
                        euler_maruyama(model, &self.sde, x, t, t - t_next, z)
                    }
                    Predictor::ReverseDiffusion => {
                        self.nfe += 1;
                        reverse_diffusion(model, &self.sde, x, t, t - t_next, z)
                    }
                    Predictor::None => x,
                }
            }
        };
        self.i += 1;
    }

    /// Tweedie's denoising as an optional last step: x ← x̂₀ = (x + s² ∇log p)/m at the final t
    /// (one more evaluation; nothing on a grid that already ended at t = 0 with it).
    pub fn denoise(&mut self, model: &impl ScoreModel) {
        let t = self.t();
        if t <= 0.0 {
            return;
        }
        self.x = x0_hat(model, &self.sde, self.x.clone(), t);
        self.nfe += 1;
    }

    pub fn run(mut self, model: &impl ScoreModel) -> Tensor<2> {
        while !self.done() {
            self.step(model);
        }
        self.x
    }
}

#[cfg(test)]
#[path = "sampler_tests.rs"]
mod tests;
