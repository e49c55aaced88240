//! The denoising objective on 2-D points, an [`Objective`] of the one trainer.
//!
//! L_simple (Ho et al. 2020, eq. 14): E_{t, x_0, ε} ‖ε − ε_θ(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t)‖², with
//! t ~ U{1..T}; we report the mean over elements (PyTorch's `mse_loss`), i.e. ‖·‖² / dim.
//! Its continuous-time twin, denoising score matching on an SDE, is in `sde::dsm`; both train a
//! network ε̂ on batches of (input, ε[, weight]).

use burn::prelude::*;

use std::cell::RefCell;

use crate::chain_batch::{ChainBatch, iw_rows, row_mse};
use crate::error::{Error, Result};
use crate::importance::{LossHistory, StepDraw, StepSampling};
use crate::model::fourier::Fourier;
use crate::model::mlp::{Mlp, MlpConfig};
use crate::rng::Rng;
use crate::schedule::Schedule;
pub use crate::sde::dsm::EpsBatch;
use crate::sde::dsm::ScoreConfig;
use crate::train::{EpsLoss, Objective};

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

/// Denoising minibatches of `batch` points drawn from `data`, with L_simple or IWDiff's loss.
pub struct PointDenoising {
    pub denoising: Denoising,
    data: Vec<[f32; 2]>,
    batch: usize,
    loss: EpsLoss,
    /// On the chain with importance-sampled t: the extra loss-only batches per step and the
    /// losses seen at each t (updated by every step, so the objective holds state).
    importance: Option<(usize, RefCell<LossHistory>)>,
}

impl PointDenoising {
    /// Checks that `model` takes the objective's input and predicts a 2-D ε.
    pub fn new(
        denoising: Denoising,
        data: Vec<[f32; 2]>,
        (batch, loss, steps): (usize, EpsLoss, StepSampling),
        model: &MlpConfig,
    ) -> Result<Self> {
        if data.is_empty() {
            return Err(Error::Config("no training data".into()));
        }
        if !(1..=1 << 20).contains(&batch) {
            return Err(Error::Config(format!("batch must be in 1..=1048576, got {batch}")));
        }
        let width = denoising.input_width();
        let outputs = if loss.learns_variance() { 4 } else { 2 };
        if model.d_input != width || model.d_output != outputs {
            return Err(Error::Config(format!(
                "the objective feeds {width} inputs and wants {outputs} outputs; the model has {} and {}",
                model.d_input, model.d_output
            )));
        }
        match (&denoising, loss) {
            (Denoising::Dsm(..), EpsLoss::Iwdiff { .. }) => {
                return Err(Error::Config("IWDiff is built on the DDPM chain: train it with --sde ddpm".into()));
            }
            (Denoising::Dsm(..), EpsLoss::Hybrid { .. }) => {
                return Err(Error::Config("L_hybrid is the DDPM chain's bound: train it with --sde ddpm".into()));
            }
            _ => {}
        }
        let importance = match (&denoising, steps) {
            (_, StepSampling::Uniform) => None,
            (Denoising::Ddpm(schedule), StepSampling::Importance { extra }) => {
                Some((extra, RefCell::new(LossHistory::new(schedule.steps))))
            }
            (Denoising::Dsm(..), _) => {
                return Err(Error::Config("importance-sampled t is the DDPM chain's: train it with --sde ddpm".into()));
            }
        };
        Ok(Self { denoising, data, batch, loss, importance })
    }

    /// The importance distribution p_t (t = 1..=T) the next step draws from; `None` with uniform t.
    pub fn t_probabilities(&self) -> Option<Vec<f64>> {
        self.importance.as_ref().map(|(_, history)| history.borrow().probabilities())
    }

    /// The chain's minibatch loss; with importance-sampled t, t ~ p from the history, each group
    /// weighted 1/(T p_t), and the groups' losses (and those of `extra` uniform loss-only batches)
    /// recorded. Recording reads the losses back synchronously: native only.
    fn chain_loss(&self, model: &Mlp, schedule: &Schedule, loss: EpsLoss, rng: &mut Rng, device: &Device) -> Tensor<1> {
        let k = match loss {
            EpsLoss::Iwdiff { k, .. } => k,
            _ => 1,
        };
        let Some((extra, history)) = &self.importance else {
            let batch = ChainBatch::draw(&self.data, schedule, self.batch, k, None, rng);
            return batch.loss(batch.group_losses(model.forward(batch.input(schedule, device)), schedule, loss));
        };
        let draw = StepDraw::new(history.borrow().probabilities());
        let batch = ChainBatch::draw(&self.data, schedule, self.batch, k, Some(&draw), rng);
        let groups = batch.group_losses(model.forward(batch.input(schedule, device)), schedule, loss);
        let record = |batch: &ChainBatch, groups: Tensor<2>| {
            if let Ok(values) = groups.detach().into_data().convert::<f32>().try_into_vec::<f32>() {
                let mut history = history.borrow_mut();
                batch.group_steps().zip(values).for_each(|(t, l)| history.record(t, l as f64));
            }
        };
        record(&batch, groups.clone());
        let plain = (*extra > 0).then(|| model.valid());
        for plain in plain.iter().flat_map(|plain| std::iter::repeat_n(plain, *extra)) {
            let refresh = ChainBatch::draw(&self.data, schedule, self.batch, k, None, rng);
            let input = refresh.input(schedule, &device.clone().without_autodiff());
            record(&refresh, refresh.group_losses(plain.forward(input), schedule, loss));
        }
        batch.loss(groups)
    }
}

impl Objective<Mlp> for PointDenoising {
    fn loss(&self, model: &Mlp, rng: &mut Rng, device: &Device) -> Tensor<1> {
        match (&self.denoising, self.loss) {
            (Denoising::Ddpm(schedule), loss) => self.chain_loss(model, schedule, loss, rng, device),
            (Denoising::Dsm(..), _) => self.denoising.draw(&self.data, self.batch, rng).loss(model, device),
        }
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
        let rows = ChainBatch::draw(data, schedule, batch, 1, None, rng);
        let input = rows.x_t.chunks_exact(2).zip(&rows.steps).flat_map(|(x, &t)| [x[0], x[1], schedule.t_bar(t)]);
        Self { input: input.collect(), width: 3, eps: rows.eps, weight: None, batch }
    }
}

impl EpsBatch {
    /// The weighted ε-loss of `model` on this batch (a held-out batch scores the sampling weights);
    /// a learned-variance network's v outputs are not part of it.
    pub fn loss(&self, model: &Mlp, device: &Device) -> Tensor<1> {
        let (input, eps, weight) = self.tensors(device);
        weighted_eps_mse(model.forward(input).narrow(1, 0, 2), eps, weight)
    }
}

/// L_simple: the mean over rows of l = mean((ε − ε̂)²).
pub fn eps_mse(eps_hat: Tensor<2>, eps: Tensor<2>) -> Tensor<1> {
    row_mse(eps_hat, eps).mean()
}

/// IWDiff's loss over groups of `k` adjacent rows (one (x₀, t) each): Σ_i w̃_i l_i with
/// w̃ = softmax(±l) over the group, held constant (no gradient through the weights), averaged over
/// the groups; + when `worst_first`. With k = 1, w̃ = 1 and this is L_simple.
pub fn iw_eps_loss(eps_hat: Tensor<2>, eps: Tensor<2>, k: usize, worst_first: bool) -> Tensor<1> {
    iw_rows(eps_hat, eps, k, worst_first).mean()
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
        // k draws per (x₀, t): the rows of a group share x₀'s t and differ in ε.
        let grouped = ChainBatch::draw(&data, &schedule, 8, 4, None, &mut Rng::new(3));
        assert_eq!(grouped.steps.len(), 32);
        for group in grouped.steps.chunks(4) {
            assert!(group.iter().all(|&t| t == group[0]));
        }
        assert_eq!(grouped.group_steps().count(), 8);
        assert_ne!(grouped.eps[0..2], grouped.eps[2..4]);
    }

    fn iw_run(loss: EpsLoss, device: &Device) -> Vec<f32> {
        use crate::checkpoint::CheckpointConfig;
        use crate::data::states::states;
        use crate::train::TrainConfig;
        let train = TrainConfig { steps: 5, batch: 256, loss, ..Default::default() };
        let mut trainer = CheckpointConfig::denoiser().denoiser_trainer(&train, states().xy, device).unwrap();
        (0..5).map(|_| trainer.step().into_scalar::<f32>()).collect()
    }

    /// IWDiff with one draw per (x₀, t) is L_simple, bit for bit, through a whole (short) run: the
    /// same minibatches, w̃ = 1, the same reduction.
    #[test]
    fn iwdiff_with_one_draw_is_l_simple() {
        let device = Device::flex();
        let simple = iw_run(EpsLoss::Simple, &device);
        assert_eq!(iw_run(EpsLoss::Iwdiff { k: 1, worst_first: true }, &device), simple);
        assert_eq!(iw_run(EpsLoss::Iwdiff { k: 1, worst_first: false }, &device), simple);
        assert_ne!(iw_run(EpsLoss::Iwdiff { k: 2, worst_first: true }, &device), simple);
    }

    /// Importance-sampled t in a real run: p is uniform until every t has 10 losses (here after a
    /// few steps, the refresh batches helping), then follows the losses; the run stays finite,
    /// and the same seed gives the same run.
    #[test]
    fn importance_sampled_runs_fill_the_history_and_repeat() {
        use crate::checkpoint::CheckpointConfig;
        use crate::data::states::states;
        use crate::importance::StepSampling;
        use crate::train::TrainConfig;
        let device = Device::flex();
        let mut config = CheckpointConfig::denoiser();
        config.schedule = ScheduleConfig::named("linear", 50, Some((4e-4, 0.18))).unwrap();
        let train = TrainConfig {
            steps: 6,
            batch: 128,
            t_sampling: StepSampling::Importance { extra: 2 },
            ..Default::default()
        };
        let run = || {
            let mut trainer = config.denoiser_trainer(&train, states().xy, &device).unwrap();
            let first = trainer.objective().t_probabilities().unwrap();
            let losses: Vec<f32> = (0..6).map(|_| trainer.step().into_scalar::<f32>()).collect();
            (first, trainer.objective().t_probabilities().unwrap(), losses)
        };
        let (first, last, losses) = run();
        assert!(first.iter().all(|&p| p == 1.0 / 50.0));
        assert!((last.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let (lo, hi) = last.iter().fold((1.0f64, 0.0f64), |(lo, hi), &p| (lo.min(p), hi.max(p)));
        assert!(hi > 1.5 * lo, "p did not leave uniform: {lo} … {hi}");
        assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
        assert_eq!(run().2, losses);
    }

    /// Two draws with l = (1, 3): the seed's weights softmax(l) = (1, e²)/(1 + e²), IWAE's the
    /// reverse; the gradient is w̃_i ∂l_i, with no term through the weights.
    #[test]
    fn iwdiff_weights_and_gradient() {
        let device = Device::flex();
        // One coordinate pair per row: l_1 = (1² + 1²)/2 = 1, l_2 = (√3² + √3²)/2 = 3.
        let r = 3f32.sqrt();
        let eps = Tensor::<2>::zeros([2, 2], &device);
        let (e2, w_worst) = ((2f64).exp(), (2f64).exp() / (1.0 + (2f64).exp()));
        for (worst_first, w2) in [(true, w_worst), (false, 1.0 - w_worst)] {
            let eps_hat = Tensor::<2>::from_floats([[1.0, 1.0], [r, r]], &device.clone().autodiff()).require_grad();
            let loss = iw_eps_loss(eps_hat.clone(), eps.clone().autodiff(), 2, worst_first);
            let want = (1.0 - w2) * 1.0 + w2 * 3.0;
            let got = loss.clone().into_scalar::<f32>() as f64;
            assert!((got - want).abs() < 1e-5, "{worst_first}: {got} vs {want} (e² = {e2})");
            let grads = loss.backward();
            let g: Vec<f32> = eps_hat.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
            // ∂l_i/∂ε̂ = (ε̂ − ε) per coordinate (mean over 2 coordinates of the square).
            let want = [(1.0 - w2), (1.0 - w2), w2 * r as f64, w2 * r as f64];
            for (g, w) in g.iter().zip(want) {
                assert!((*g as f64 - w).abs() < 1e-5, "{worst_first}: {g:?} vs {want:?}");
            }
        }
    }
}
