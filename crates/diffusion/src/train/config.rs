//! The hyper-parameters of a STATES run (denoiser or noisy classifier), as stored in its model file.

use serde::{Deserialize, Serialize};

use super::Plan;
use crate::error::{Error, Result};
use crate::importance::StepSampling;
use crate::limits;

/// Nichol & Dhariwal's weight λ of L_vlb in L_hybrid.
pub const LAMBDA: f64 = 0.001;

/// How a denoiser's ε-loss treats the noise draws of one (x₀, t).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EpsLoss {
    /// L_simple: one draw ε per (x₀, t), ‖ε − ε̂‖².
    #[default]
    Simple,
    /// IWDiff (the HSE study, §3.1, Algorithm 3): `k` draws ε_i per (x₀, t),
    /// l_i = ‖ε_i − ε̂(x_{t,i}, t)‖², loss Σ_i w̃_i l_i with w̃ = softmax(±l) held constant. With
    /// `worst_first` (the seed's form) w̃ = softmax(l) puts the weight on the worst draw; without,
    /// w̃ = softmax(−l) ∝ e^{−l}, IWAE's weights from likelihoods.
    Iwdiff { k: usize, worst_first: bool },
    /// L_hybrid = L_simple + λ L_vlb (Nichol & Dhariwal §3.1; `hybrid`) for a network that also
    /// outputs the variance's v.
    Hybrid { lambda: f64 },
}

impl EpsLoss {
    /// By the CLI's and the page's names: `simple`, `iwdiff` (with `k` draws; `worst_first` the
    /// seed's weights) or `hybrid` (λ = 0.001).
    pub fn named(name: &str, k: usize, worst_first: bool) -> Result<Self> {
        match name {
            "simple" => Ok(EpsLoss::Simple),
            "iwdiff" => Ok(EpsLoss::Iwdiff { k, worst_first }),
            "hybrid" => Ok(EpsLoss::Hybrid { lambda: LAMBDA }),
            other => Err(Error::Config(format!("unknown objective `{other}`: simple, iwdiff or hybrid"))),
        }
    }

    /// Whether the network outputs v beside ε̂ (a learned variance).
    pub fn learns_variance(&self) -> bool {
        matches!(self, EpsLoss::Hybrid { .. })
    }

    /// The network's output width on 2-D points: ε̂, and v for a learned variance.
    pub fn outputs(&self) -> usize {
        if self.learns_variance() { 4 } else { 2 }
    }
}

/// Hyper-parameters of a run. The defaults are the CLI's (measured in the README).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub steps: usize,
    pub batch: usize,
    /// Peak Adam learning rate.
    pub lr: f64,
    /// Cosine decay of the learning rate from `lr` to `lr · lr_final_fraction` over `steps`.
    pub lr_final_fraction: f64,
    pub seed: u64,
    /// Decay μ of the weights' moving average used for sampling (0 samples the raw weights).
    pub ema_decay: f64,
    /// Fraction of the data held out for validation curves (the split is seeded by `seed`).
    #[serde(default)]
    pub val_fraction: f64,
    /// The denoiser's ε-loss (L_simple unless the file says otherwise).
    #[serde(default)]
    pub loss: EpsLoss,
    /// How the chain's t is drawn (uniformly unless the file says otherwise).
    #[serde(default, skip_serializing_if = "is_uniform")]
    pub t_sampling: StepSampling,
}

fn is_uniform(s: &StepSampling) -> bool {
    *s == StepSampling::Uniform
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 3000,
            batch: 4096,
            lr: 2e-3,
            lr_final_fraction: 0.05,
            seed: 0,
            ema_decay: 0.0,
            val_fraction: 0.0,
            loss: EpsLoss::Simple,
            t_sampling: StepSampling::Uniform,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Config(what));
        limits::TRAIN_STEPS.check(self.steps as f64)?;
        limits::BATCH.check(self.batch as f64)?;
        limits::LR.check(self.lr)?;
        if !(0.0..=1.0).contains(&self.lr_final_fraction) {
            return bad(format!("lr_final_fraction must be in [0, 1], got {}", self.lr_final_fraction));
        }
        limits::VAL_FRACTION.check(self.val_fraction)?;
        limits::EMA.check(self.ema_decay)?;
        if let EpsLoss::Iwdiff { k, .. } = self.loss {
            limits::IW_K.check(k as f64)?;
        }
        if let StepSampling::Importance { extra } = self.t_sampling {
            limits::IS_EXTRA.check(extra as f64)?;
        }
        if let EpsLoss::Hybrid { lambda } = self.loss
            && !(0.0..=1.0).contains(&lambda)
        {
            return bad(format!("L_hybrid's λ must be in [0, 1], got {lambda}"));
        }
        Ok(())
    }

    /// Network inputs a training step differentiates through at once, at most: the batch, k times
    /// for IWDiff (whose uniform-t path accumulates draw by draw and holds less).
    pub fn rows_per_step(&self) -> usize {
        match self.loss {
            EpsLoss::Iwdiff { k, .. } => self.batch * k,
            _ => self.batch,
        }
    }

    /// Cosine decay from `lr` to `lr · lr_final_fraction`, no warm-up or clipping.
    pub fn plan(&self) -> Plan {
        Plan {
            steps: self.steps,
            lr: self.lr,
            warmup: 0,
            lr_final_fraction: self.lr_final_fraction,
            clip: None,
            ema_decay: self.ema_decay,
            seed: self.seed,
        }
    }
}
