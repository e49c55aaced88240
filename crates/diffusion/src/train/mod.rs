//! The one training loop, over a model and an objective: Adam at the [`Plan`]'s learning rate
//! (warm-up, cosine), optional gradient clipping, an EMA of the weights, and minibatches drawn
//! from a generator keyed by (seed, step), so a run stopped and resumed from a [`TrainState`]
//! continues bit for bit. It advances one step at a time, so the browser can interleave frames.
//!
//! The objectives: denoising on points (`objective::PointDenoising`, L_simple on the DDPM chain or
//! score matching on an SDE), on images (`train_unet::ImageDenoising`), the noisy classifier's
//! cross-entropy (`classifier::NoisyClassification`) and the judge's (`model::cnn::DigitClassification`).

use burn::grad_clipping::GradientClippingConfig;
use burn::module::{ModuleMapper, Param, ParamId};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use crate::ema::{ema_update, warmup_decay};
use crate::error::{Error, Result};
use crate::io::{self, NamedTensor};
use crate::rng::Rng;
use guard::Guard;

pub mod config;
pub mod guard;
pub mod plan;

pub use config::{EpsLoss, TrainConfig};
pub use guard::Divergence;
pub use plan::Plan;

/// What a run minimises.
pub trait Objective<M> {
    /// The loss of `model` on a fresh minibatch drawn from `rng`, on the (autodiff) `device`.
    fn loss(&self, model: &M, rng: &mut Rng, device: &Device) -> Tensor<1>;

    /// The minibatch's loss and its gradients: by default `loss` differentiated at once; an
    /// objective may accumulate over parts of the minibatch to bound memory.
    fn loss_and_grads(&self, model: &M, rng: &mut Rng, device: &Device) -> (Tensor<1>, GradientsParams)
    where
        M: Module,
    {
        let loss = self.loss(model, rng, device);
        let grads = GradientsParams::from_grads(loss.backward(), model);
        (loss, grads)
    }
}

/// The sub-seeds of a run, drawn in this order from the one stream `Rng::new(seed)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeds {
    /// The network's initial weights.
    pub init: u64,
    /// The key of the per-step minibatch generators.
    pub minibatches: u64,
    /// The train / held-out split of the data.
    pub split: u64,
    /// The fixed noise of the held-out evaluation.
    pub validation: u64,
    /// The noise of reflow's pairs.
    pub reflow: u64,
}

impl Seeds {
    pub fn of(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        Self {
            init: rng.next_u64(),
            minibatches: rng.next_u64(),
            split: rng.next_u64(),
            validation: rng.next_u64(),
            reflow: rng.next_u64(),
        }
    }
}

/// A run's state as the caller stores it: weights, their EMA, Adam's moments, the step.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    pub model: Vec<NamedTensor>,
    pub ema: Option<Vec<NamedTensor>>,
    pub optim: Vec<u8>,
    pub step: usize,
}

pub struct Trainer<M, O> {
    model: M,
    /// The moving average of `model`'s weights (no autodiff); `None` when the plan has no EMA.
    ema: Option<M>,
    optim: ModuleOptimizer,
    objective: O,
    plan: Plan,
    minibatches: u64,
    device: Device,
    step: usize,
    guard: Guard,
    /// The last state the guard accepted: (model, EMA, optimiser, step).
    good: (M, Option<M>, ModuleOptimizer, usize),
}

impl<M: Module, O: Objective<M>> Trainer<M, O> {
    /// A fresh run: `init(device, seed)` builds the network on the autodiff twin of `device`.
    pub fn new(
        init: impl FnOnce(&Device, u64) -> Result<M>,
        objective: O,
        plan: Plan,
        device: &Device,
    ) -> Result<Self> {
        plan.validate()?;
        let seeds = Seeds::of(plan.seed);
        let device = device.clone().autodiff();
        let model = number_params(init(&device, seeds.init)?);
        let ema = (plan.ema_decay > 0.0).then(|| model.valid());
        let optim = AdamConfig::new()
            .with_epsilon(1e-8)
            .with_grad_clipping(plan.clip.map(|c| GradientClippingConfig::Norm(c as f32)))
            .init();
        let good = (model.clone(), ema.clone(), optim.clone(), 0);
        let guard = Guard::default();
        Ok(Self { model, ema, optim, objective, plan, minibatches: seeds.minibatches, device, step: 0, guard, good })
    }

    /// The divergence guard (`guard`): `losses` are those of the steps since the last check, in
    /// order, read back by the caller. If one is not finite or far above the running median, the
    /// run goes back to the weights, EMA and Adam state of the last check that passed (or the
    /// start) and the divergence is returned; otherwise this state becomes the one to go back to.
    pub fn check(&mut self, losses: &[f32]) -> std::result::Result<(), Divergence> {
        match self.guard.check(losses) {
            None => {
                self.good = (self.model.clone(), self.ema.clone(), self.optim.clone(), self.step);
                Ok(())
            }
            Some((offset, loss, median)) => {
                let step = self.step - losses.len() + offset + 1;
                let (model, ema, optim, restored) = self.good.clone();
                (self.model, self.ema, self.optim, self.step) = (model, ema, optim, restored);
                Err(Divergence { step, loss, median, restored, lr: self.plan.lr })
            }
        }
    }

    /// One Adam step on the minibatch of (seed, step); returns its loss, still on the device (read
    /// it when convenient: synchronously natively, with `into_data_async` in the browser).
    pub fn step(&mut self) -> Tensor<1> {
        let mut rng = Rng::keyed(self.minibatches, self.step as u64);
        let (loss, grads) = self.objective.loss_and_grads(&self.model, &mut rng, &self.device);
        self.model = self.optim.step(self.plan.lr_at(self.step), self.model.clone(), grads);
        if let Some(ema) = self.ema.take() {
            let decay = warmup_decay(self.plan.ema_decay, self.step);
            self.ema = Some(ema_update(ema, &self.model.valid(), decay));
        }
        self.step += 1;
        loss.detach().without_autodiff()
    }

    /// The weights to sample with: the moving average (the raw weights without one).
    pub fn model(&self) -> M {
        self.ema.clone().unwrap_or_else(|| self.model.valid())
    }

    /// Starts from given weights (fine-tuning), as both the trained and the averaged network.
    pub fn load_weights(&mut self, tensors: &[NamedTensor]) -> Result<()> {
        self.model = io::load(self.model.clone(), tensors)?;
        self.ema = self.ema.as_ref().map(|_| self.model.valid());
        Ok(())
    }

    /// Everything the run needs to continue. Native only (reads the weights synchronously).
    pub fn state(&self) -> Result<TrainState> {
        let optim = self
            .optim
            .into_bytes()
            .map_err(|e| Error::Config(format!("cannot save the optimiser state: {e:?}")))?
            .to_vec();
        Ok(TrainState {
            model: io::host_tensors(&self.model.valid())?,
            ema: self.ema.as_ref().map(io::host_tensors).transpose()?,
            optim,
            step: self.step,
        })
    }

    /// Continues from `state` (of a run with the same network, objective and plan); on error the
    /// trainer is unchanged.
    pub fn restore(&mut self, state: &TrainState) -> Result<()> {
        let model = io::load(self.model.clone(), &state.model)?;
        let ema = match (&self.ema, &state.ema) {
            (Some(ema), Some(tensors)) => Some(io::load(ema.clone(), tensors)?),
            (None, None) => None,
            _ => return Err(Error::Config("the saved run and this one differ in keeping an EMA".into())),
        };
        let optim = self
            .optim
            .clone()
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(state.optim.clone()))
            .map_err(|e| Error::Config(format!("cannot load the optimiser state: {e:?}")))?;
        (self.model, self.ema, self.optim, self.step) = (model, ema, optim, state.step);
        self.good = (self.model.clone(), self.ema.clone(), self.optim.clone(), self.step);
        Ok(())
    }

    pub fn objective(&self) -> &O {
        &self.objective
    }

    /// The objective, to change how it runs (not what it computes), e.g. where its losses are read.
    pub fn objective_mut(&mut self) -> &mut O {
        &mut self.objective
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// The plain device the run's evaluations belong on.
    pub fn device(&self) -> Device {
        self.device.clone().without_autodiff()
    }
}

/// Gives the parameters fixed ids by visiting order, so Adam's saved moments find their parameters
/// again in a freshly built network.
fn number_params<M: Module>(model: M) -> M {
    struct Number(u64);
    impl ModuleMapper for Number {
        fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.id = ParamId::from(self.0);
            self.0 += 1;
            param
        }
    }
    model.map(&mut Number(1))
}

#[cfg(test)]
#[path = "trainer_tests.rs"]
mod tests;
