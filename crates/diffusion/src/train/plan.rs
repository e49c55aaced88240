//! The optimisation plan every run follows: Adam at a learning rate with linear warm-up and cosine
//! decay, optional per-tensor gradient-norm clipping, an EMA of the weights, and the run's seed.

use crate::error::{Error, Result};
use crate::limits;

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Optimiser steps in the run (the cosine's period).
    pub steps: usize,
    /// Peak learning rate η.
    pub lr: f64,
    /// Steps of linear warm-up W (0: none).
    pub warmup: usize,
    /// η_min / η at the end of the cosine (1: a constant rate).
    pub lr_final_fraction: f64,
    /// Each parameter's gradient rescaled to norm ≤ clip.
    pub clip: Option<f64>,
    /// Decay μ of the weights' moving average (0: sample the raw weights).
    pub ema_decay: f64,
    /// The run's seed: the parent of its initialisation and minibatch streams ([`super::Seeds`]).
    pub seed: u64,
}

impl Plan {
    /// A constant-rate plan with no warm-up, clipping or EMA.
    pub fn constant(steps: usize, lr: f64, seed: u64) -> Self {
        Self { steps, lr, warmup: 0, lr_final_fraction: 1.0, clip: None, ema_decay: 0.0, seed }
    }

    pub fn validate(&self) -> Result<()> {
        limits::TRAIN_STEPS.check(self.steps as f64)?;
        limits::LR.check(self.lr)?;
        limits::WARMUP.check(self.warmup as f64)?;
        limits::EMA.check(self.ema_decay)?;
        let ok = (0.0..=1.0).contains(&self.lr_final_fraction) && self.clip.is_none_or(|c| c > 0.0 && c.is_finite());
        if !ok {
            return Err(Error::Config(format!("unreasonable optimisation plan {self:?}")));
        }
        Ok(())
    }

    /// η_s = min(1, (s + 1)/W) · [η_min + ½(η − η_min)(1 + cos(π s / S))], s = 0..S−1.
    pub fn lr_at(&self, step: usize) -> f64 {
        let warm = if self.warmup == 0 { 1.0 } else { ((step + 1) as f64 / self.warmup as f64).min(1.0) };
        let lr_min = self.lr * self.lr_final_fraction;
        let progress = step as f64 / self.steps.max(1) as f64;
        warm * (lr_min + 0.5 * (self.lr - lr_min) * (1.0 + (std::f64::consts::PI * progress).cos()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_and_warm_up() {
        let cosine = Plan { lr_final_fraction: 0.0, ..Plan::constant(100, 1.0, 0) };
        assert_eq!(cosine.lr_at(0), 1.0);
        assert!((cosine.lr_at(50) - 0.5).abs() < 1e-12);
        assert!(cosine.lr_at(99) < 0.001);
        let tail = Plan { lr_final_fraction: 0.05, ..cosine.clone() };
        assert!((tail.lr_at(100) - 0.05).abs() < 1e-12);
        let warm = Plan { warmup: 4, ..Plan::constant(100, 2.0, 0) };
        assert_eq!([0, 1, 3, 50].map(|s| warm.lr_at(s)), [0.5, 1.0, 2.0, 2.0]);
        for bad in [
            Plan { lr: f64::NAN, ..warm.clone() },
            Plan { steps: 0, ..warm.clone() },
            Plan { clip: Some(0.0), ..warm.clone() },
            Plan { ema_decay: 1.0, ..warm.clone() },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
