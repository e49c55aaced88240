//! The denoising objective on 2-D points, an [`Objective`] of the one trainer.
//!
//! L_simple (Ho et al. 2020, eq. 14): E_{t, x_0, ε} ‖ε − ε_θ(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t)‖², with
//! t ~ U{1..T}; we report the mean over elements (PyTorch's `mse_loss`), i.e. ‖·‖² / dim.
//! Its continuous-time twin, denoising score matching on an SDE, is in `sde::dsm`; both train a
//! network ε̂ on batches of (input, ε[, weight]).

use burn::prelude::*;

use crate::error::{Error, Result};
use crate::model::fourier::Fourier;
use crate::model::mlp::{Mlp, MlpConfig};
use crate::rng::Rng;
use crate::schedule::Schedule;
pub use crate::sde::dsm::EpsBatch;
use crate::sde::dsm::ScoreConfig;
use crate::train::Objective;

/// What a denoiser is trained on: the discrete DDPM chain or an SDE's continuous time.
pub enum Denoising {
    Ddpm(Schedule),
    Dsm(ScoreConfig, Fourier),
}

impl Denoising {
    pub fn dsm(config: ScoreConfig) -> Result<Self> {
        config.validate()?;
        let fourier = config.fourier.init()?;
        Ok(Denoising::Dsm(config, fourier))
    }

    pub fn draw(&self, data: &[[f32; 2]], batch: usize, rng: &mut Rng) -> EpsBatch {
        match self {
            Denoising::Ddpm(schedule) => EpsBatch::draw(data, schedule, batch, rng),
            Denoising::Dsm(config, fourier) => config.draw(fourier, data, batch, rng),
        }
    }

    /// The network input width: (x_t, t̄) on the chain, (c_in x_t, γ(t)) on an SDE.
    pub fn input_width(&self) -> usize {
        match self {
            Denoising::Ddpm(_) => 3,
            Denoising::Dsm(score, _) => score.input_width(),
        }
    }
}

/// The one trainer on points.
pub type DenoiserTrainer = crate::train::Trainer<Mlp, PointDenoising>;

/// Denoising minibatches of `batch` points drawn from `data`.
pub struct PointDenoising {
    pub denoising: Denoising,
    data: Vec<[f32; 2]>,
    batch: usize,
}

impl PointDenoising {
    /// Checks that `model` takes the objective's input and predicts a 2-D ε.
    pub fn new(denoising: Denoising, data: Vec<[f32; 2]>, batch: usize, model: &MlpConfig) -> Result<Self> {
        if data.is_empty() {
            return Err(Error::Config("no training data".into()));
        }
        if !(1..=1 << 20).contains(&batch) {
            return Err(Error::Config(format!("batch must be in 1..=1048576, got {batch}")));
        }
        let width = denoising.input_width();
        if model.d_input != width || model.d_output != 2 {
            return Err(Error::Config(format!(
                "the objective feeds {width} inputs and wants 2 outputs; the model has {} and {}",
                model.d_input, model.d_output
            )));
        }
        Ok(Self { denoising, data, batch })
    }
}

impl Objective<Mlp> for PointDenoising {
    fn loss(&self, model: &Mlp, rng: &mut Rng, device: &Device) -> Tensor<1> {
        self.denoising.draw(&self.data, self.batch, rng).loss(model, device)
    }
}

impl Schedule {
    /// The forward process in closed form, q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I): x_t for a given ε.
    pub fn q_sample(&self, x_0: [f32; 2], t: usize, eps: [f32; 2]) -> [f32; 2] {
        let (a, s) = (self.alpha_bar[t].sqrt(), (1.0 - self.alpha_bar[t]).sqrt());
        [(a * x_0[0] as f64 + s * eps[0] as f64) as f32, (a * x_0[1] as f64 + s * eps[1] as f64) as f32]
    }
}

impl EpsBatch {
    /// Draws `batch` triples (x_0 from `data`, t ~ U{1..T}, ε ~ N(0, I)) and noises x_0 to x_t.
    pub fn draw(data: &[[f32; 2]], schedule: &Schedule, batch: usize, rng: &mut Rng) -> Self {
        let mut input = Vec::with_capacity(batch * 3);
        let mut eps = Vec::with_capacity(batch * 2);
        for _ in 0..batch {
            let x_0 = data[rng.below(data.len())];
            let t = 1 + rng.below(schedule.steps);
            let e = [rng.normal() as f32, rng.normal() as f32];
            let x_t = schedule.q_sample(x_0, t, e);
            input.extend([x_t[0], x_t[1], schedule.t_bar(t)]);
            eps.extend(e);
        }
        Self { input, width: 3, eps, weight: None, batch }
    }
}

impl EpsBatch {
    /// The weighted ε-loss of `model` on this batch (a held-out batch scores the sampling weights).
    pub fn loss(&self, model: &Mlp, device: &Device) -> Tensor<1> {
        let (input, eps, weight) = self.tensors(device);
        weighted_eps_mse(model.forward(input), eps, weight)
    }
}

/// mean((ε − ε̂)²) over the batch and both coordinates.
pub fn eps_mse(eps_hat: Tensor<2>, eps: Tensor<2>) -> Tensor<1> {
    (eps_hat - eps).square().mean()
}

/// mean over rows of w · mean((ε − ε̂)²), or [`eps_mse`] without weights.
pub fn weighted_eps_mse(eps_hat: Tensor<2>, eps: Tensor<2>, weight: Option<Tensor<1>>) -> Tensor<1> {
    match weight {
        None => eps_mse(eps_hat, eps),
        Some(w) => ((eps_hat - eps).square().mean_dim(1).reshape([-1]) * w).mean(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::ScheduleConfig;

    /// The forward marginals: for fixed x_0 and t, x_t has mean √ᾱ_t x_0 and variance 1 − ᾱ_t.
    #[test]
    fn forward_process_has_the_right_marginals() {
        let schedule = ScheduleConfig::default().init().unwrap();
        let mut rng = Rng::new(11);
        let x_0 = [1.5f32, -0.5];
        let n = 100_000;
        for t in [1, 50, 250, 500] {
            let xs: Vec<[f32; 2]> =
                (0..n).map(|_| schedule.q_sample(x_0, t, [rng.normal() as f32, rng.normal() as f32])).collect();
            for d in 0..2 {
                let mean = xs.iter().map(|p| p[d] as f64).sum::<f64>() / n as f64;
                let var = xs.iter().map(|p| (p[d] as f64 - mean).powi(2)).sum::<f64>() / n as f64;
                let (want_mean, want_var) = (schedule.alpha_bar[t].sqrt() * x_0[d] as f64, 1.0 - schedule.alpha_bar[t]);
                // 5 standard errors: √(var/n) for the mean, var·√(2/n) for the variance.
                assert!(
                    (mean - want_mean).abs() < 5.0 * (want_var / n as f64).sqrt(),
                    "t {t}: mean {mean} vs {want_mean}"
                );
                assert!(
                    (var - want_var).abs() < 5.0 * want_var * (2.0 / n as f64).sqrt(),
                    "t {t}: var {var} vs {want_var}"
                );
            }
        }
    }

    #[test]
    fn batches_are_reproducible_and_well_formed() {
        let schedule = ScheduleConfig::default().init().unwrap();
        let data = [[0.0f32, 1.0], [2.0, 3.0]];
        let a = EpsBatch::draw(&data, &schedule, 64, &mut Rng::new(3));
        let b = EpsBatch::draw(&data, &schedule, 64, &mut Rng::new(3));
        assert_eq!((a.input.len(), a.eps.len()), (192, 128));
        assert_eq!(a.input, b.input);
        assert!(a.input.chunks(3).all(|row| row[2] > -1.0 && row[2] <= 1.0));
    }
}
