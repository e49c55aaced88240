//! The denoising objective on 2-D points, an [`Objective`] of the one trainer.
//!
//! L_simple (Ho et al. 2020, eq. 14): E_{t, x_0, ε} ‖ε − ε_θ(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t)‖², with
//! t ~ U{1..T}; we report the mean over elements (PyTorch's `mse_loss`), i.e. ‖·‖² / dim.
//! Its continuous-time twin, denoising score matching on an SDE, is in `sde::dsm`; both train a
//! network ε̂ on batches of (input, ε[, weight]).

use burn::prelude::*;

use std::cell::RefCell;

use burn::optim::{GradientsAccumulator, GradientsParams};

use crate::chain_batch::{ChainBatch, iw_rows, iw_weights, row_mse};
use crate::error::{Error, Result};
use crate::importance::{LossHistory, StepDraw, StepSampling};
use crate::model::fourier::Fourier;
use crate::model::mlp::{Mlp, MlpConfig};
use crate::rng::Rng;
use crate::schedule::Schedule;
pub use crate::sde::dsm::DenoiserBatch;
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

    /// A minibatch of `batch` rows from `data` with fresh noise.
    pub fn draw(&self, data: &[[f32; 2]], batch: usize, rng: &mut Rng) -> DenoiserBatch {
        match self {
            Denoising::Ddpm(schedule) => DenoiserBatch::draw(data, schedule, batch, rng),
            Denoising::Dsm(config, fourier) => config.draw(fourier, data, None, batch, rng),
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

/// Losses importance sampling has yet to record: the steps t of a batch's groups, and their losses.
pub type PendingLosses = (Vec<usize>, Tensor<2>);

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
    /// IWDiff with k > 1 and uniform t: the k draws' gradients are accumulated one draw at a
    /// time, so the autodiff graph holds one draw per (x₀, t) whatever k.
    accumulate: bool,
    /// Reflow: the noise z_i each data point x_0,i is paired with (the i-th row of `data` is a
    /// first model's ODE solution from z_i); `None`: independent noise.
    coupling: Option<Vec<[f32; 2]>>,
    /// With importance-sampled t where a tensor may not be read synchronously (the browser): the
    /// losses to record wait here, (their steps t, the losses), for `take_pending`.
    pending: Option<RefCell<Vec<PendingLosses>>>,
    /// How often each step t = 1..=T was drawn for a training minibatch (the chain only).
    drawn: RefCell<Vec<u64>>,
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
        crate::limits::BATCH.check(batch as f64)?;
        let width = denoising.input_width();
        let outputs = loss.outputs();
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
        let drawn = RefCell::new(match &denoising {
            Denoising::Ddpm(schedule) => vec![0; schedule.steps],
            Denoising::Dsm(..) => Vec::new(),
        });
        Ok(Self { denoising, data, batch, loss, importance, accumulate: true, coupling: None, pending: None, drawn })
    }

    /// Importance sampling's losses are no longer read back in the step: they wait for
    /// [`take_pending`](Self::take_pending), and whoever reads them calls
    /// [`record_losses`](Self::record_losses) (the page's worker, which must read asynchronously).
    /// Until then the next steps draw t from the history as it was.
    pub fn defer_recording(&mut self) {
        self.pending = Some(RefCell::default());
    }

    /// The losses waiting to be recorded: (the steps t, their losses [groups, 1]).
    pub fn take_pending(&self) -> Vec<PendingLosses> {
        self.pending.as_ref().map(|p| p.take()).unwrap_or_default()
    }

    /// Records losses read from [`take_pending`](Self::take_pending): `losses[i]` at step `steps[i]`.
    pub fn record_losses(&self, steps: &[usize], losses: &[f32]) {
        if let Some((_, history)) = &self.importance {
            let mut history = history.borrow_mut();
            steps.iter().zip(losses).for_each(|(&t, &l)| history.record(t, l as f64));
        }
    }

    /// How often each step t = 1..=T has been drawn for a training minibatch so far (empty off the
    /// chain).
    pub fn t_counts(&self) -> Vec<u64> {
        self.drawn.borrow().clone()
    }

    fn count_drawn(&self, batch: &ChainBatch) {
        let mut drawn = self.drawn.borrow_mut();
        batch.group_steps().for_each(|t| drawn[t - 1] += 1);
    }

    /// Trains on the pairs (data_i, `noise`_i) instead of independent noise (reflow, Liu et al.
    /// 2023: straighter paths); continuous time only.
    pub fn coupled(mut self, noise: Vec<[f32; 2]>) -> Result<Self> {
        if !matches!(self.denoising, Denoising::Dsm(..)) {
            return Err(Error::Config("reflow pairs train a continuous-time model (flow matching)".into()));
        }
        if noise.len() != self.data.len() {
            return Err(Error::Config(format!("{} noise rows for {} data points", noise.len(), self.data.len())));
        }
        if noise.iter().flatten().chain(self.data.iter().flatten()).any(|v| !v.is_finite()) {
            return Err(Error::Config("a reflow pair is not finite".into()));
        }
        self.coupling = Some(noise);
        Ok(self)
    }

    /// The same objective differentiating IWDiff's k draws at once (memory grows with k).
    pub fn without_accumulation(mut self) -> Self {
        self.accumulate = false;
        self
    }

    /// IWDiff's loss and gradients with memory flat in k: w̃ from one pass without autodiff over
    /// all k draws, then for each draw i the gradient of mean over groups of w̃_i l_i, accumulated
    /// (their sum is the gradient of Σ_i w̃_i l_i averaged over the groups).
    fn iw_accumulated(
        &self,
        model: &Mlp,
        schedule: &Schedule,
        (k, worst_first): (usize, bool),
        rng: &mut Rng,
        device: &Device,
    ) -> (Tensor<1>, GradientsParams) {
        let batch = ChainBatch::draw(&self.data, schedule, self.batch, k, None, rng);
        self.count_drawn(&batch);
        let plain = device.clone().without_autodiff();
        let groups = self.batch;
        let eps = Tensor::<2>::from_data(TensorData::new(batch.eps.clone(), [groups * k, 2]), &plain);
        let input = batch.input(schedule, &plain);
        let l = row_mse(model.valid().forward(input.clone()), eps.clone()).reshape([groups, k]);
        let w = iw_weights(l, worst_first);
        let (input, eps) = (input.reshape([groups, k, 3]), eps.reshape([groups, k, 2]));
        let mut accumulator = GradientsAccumulator::<Mlp>::new();
        let mut total = Tensor::<1>::zeros([1], &plain);
        for i in 0..k {
            let draw = |x: &Tensor<3>, width: usize| x.clone().narrow(1, i, 1).reshape([groups, width]).autodiff();
            let w_i = w.clone().narrow(1, i, 1).autodiff();
            let loss = (w_i * row_mse(model.forward(draw(&input, 3)), draw(&eps, 2))).mean();
            accumulator.accumulate(model, GradientsParams::from_grads(loss.backward(), model));
            total = total + loss.detach().without_autodiff();
        }
        (total.autodiff(), accumulator.grads())
    }

    /// The importance distribution p_t (t = 1..=T) the next step draws from; `None` with uniform t.
    pub fn t_probabilities(&self) -> Option<Vec<f64>> {
        self.importance.as_ref().map(|(_, history)| history.borrow().probabilities())
    }

    /// The chain's minibatch loss; with importance-sampled t, t ~ p from the history, each group
    /// weighted 1/(T p_t), and the groups' losses (and those of `extra` uniform loss-only batches)
    /// recorded: read back synchronously, or left for `take_pending` after `defer_recording`.
    fn chain_loss(&self, model: &Mlp, schedule: &Schedule, loss: EpsLoss, rng: &mut Rng, device: &Device) -> Tensor<1> {
        let k = match loss {
            EpsLoss::Iwdiff { k, .. } => k,
            _ => 1,
        };
        let Some((extra, history)) = &self.importance else {
            let batch = ChainBatch::draw(&self.data, schedule, self.batch, k, None, rng);
            self.count_drawn(&batch);
            return batch.loss(batch.group_losses(model.forward(batch.input(schedule, device)), schedule, loss));
        };
        let draw = StepDraw::new(history.borrow().probabilities());
        let batch = ChainBatch::draw(&self.data, schedule, self.batch, k, Some(&draw), rng);
        self.count_drawn(&batch);
        let groups = batch.group_losses(model.forward(batch.input(schedule, device)), schedule, loss);
        let record = |batch: &ChainBatch, groups: Tensor<2>| {
            if let Some(pending) = &self.pending {
                pending.borrow_mut().push((batch.group_steps().collect(), groups.detach()));
            } else if let Ok(values) = groups.detach().into_data().convert::<f32>().try_into_vec::<f32>() {
                self.record_losses(&batch.group_steps().collect::<Vec<_>>(), &values);
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
            (Denoising::Dsm(config, fourier), _) => {
                config.draw(fourier, &self.data, self.coupling.as_deref(), self.batch, rng).loss(model, device)
            }
        }
    }

    fn loss_and_grads(&self, model: &Mlp, rng: &mut Rng, device: &Device) -> (Tensor<1>, GradientsParams) {
        match (&self.denoising, self.loss) {
            (Denoising::Ddpm(schedule), EpsLoss::Iwdiff { k, worst_first })
                if k > 1 && self.accumulate && self.importance.is_none() =>
            {
                self.iw_accumulated(model, schedule, (k, worst_first), rng, device)
            }
            _ => {
                let loss = self.loss(model, rng, device);
                let grads = GradientsParams::from_grads(loss.backward(), model);
                (loss, grads)
            }
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

impl DenoiserBatch {
    /// Draws `batch` triples (x_0 from `data`, t ~ U{1..T}, ε ~ N(0, I)) and noises x_0 to x_t.
    pub fn draw(data: &[[f32; 2]], schedule: &Schedule, batch: usize, rng: &mut Rng) -> Self {
        let rows = ChainBatch::draw(data, schedule, batch, 1, None, rng);
        let input = rows.x_t.chunks_exact(2).zip(&rows.steps).flat_map(|(x, &t)| [x[0], x[1], schedule.t_bar(t)]);
        Self { input: input.collect(), width: 3, target: rows.eps, weight: None, batch }
    }
}

impl DenoiserBatch {
    /// The weighted loss of `model` on this batch, ε̂ or v̂ against the target (a held-out batch
    /// scores the sampling weights); a learned-variance network's v outputs are not part of it.
    pub fn loss(&self, model: &Mlp, device: &Device) -> Tensor<1> {
        let (input, target, weight) = self.tensors(device);
        weighted_eps_mse(model.forward(input).narrow(1, 0, 2), target, weight)
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
#[path = "objective_tests.rs"]
mod tests;
