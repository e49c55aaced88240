//! The discrete DDPM noise schedule (Ho et al. 2020, arXiv 2006.11239, §2 and §4).
//!
//! β_t for t = 1..T, α_t = 1 − β_t, ᾱ_t = ∏_{s≤t} α_s, and the forward marginal
//! q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I)   (Ho et al. eq. 4).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How β_t is spread over t = 1..T.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BetaSchedule {
    /// β_t evenly spaced from `beta_1` to `beta_T` (torch.linspace, as the course handout says).
    Linear { beta_1: f64, beta_t: f64 },
}

/// The course's schedule: T = 500, β linear from 1e-4 to 0.02.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleConfig {
    pub steps: usize,
    pub betas: BetaSchedule,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self { steps: 500, betas: BetaSchedule::Linear { beta_1: 1e-4, beta_t: 0.02 } }
    }
}

/// The tables of a discrete schedule, indexed by t = 1..=T (slot 0 is t = 0: β = 0, ᾱ = 1).
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub steps: usize,
    pub beta: Vec<f64>,
    pub alpha: Vec<f64>,
    pub alpha_bar: Vec<f64>,
}

impl BetaSchedule {
    /// β_t for t = 1..=T (`steps` = T).
    pub fn beta(&self, t: usize, steps: usize) -> f64 {
        let BetaSchedule::Linear { beta_1, beta_t } = *self;
        beta_1 + (beta_t - beta_1) * (t - 1) as f64 / (steps - 1) as f64
    }

    /// −log α_t = −log(1 − β_t), the chain's rate of −log ᾱ per step.
    pub fn neg_log_alpha(&self, t: usize, steps: usize) -> f64 {
        -(1.0 - self.beta(t, steps)).ln()
    }
}

impl ScheduleConfig {
    /// Checks T and the β range without building the tables.
    pub fn validate(&self) -> Result<()> {
        let t_max = self.steps;
        if !(2..=100_000).contains(&t_max) {
            return Err(Error::Config(format!("T must be in 2..=100000, got {t_max}")));
        }
        let BetaSchedule::Linear { beta_1, beta_t } = self.betas;
        if !(0.0 < beta_1 && beta_1 <= beta_t && beta_t < 1.0) {
            return Err(Error::Config(format!("need 0 < β_1 ≤ β_T < 1, got {beta_1}, {beta_t}")));
        }
        Ok(())
    }

    pub fn init(&self) -> Result<Schedule> {
        self.validate()?;
        let t_max = self.steps;
        let mut beta = vec![0.0];
        beta.extend((1..=t_max).map(|t| self.betas.beta(t, t_max)));
        let alpha: Vec<f64> = beta.iter().map(|b| 1.0 - b).collect();
        let alpha_bar = alpha
            .iter()
            .scan(1.0, |prod, a| {
                *prod *= a;
                Some(*prod)
            })
            .collect();
        Ok(Schedule { steps: t_max, beta, alpha, alpha_bar })
    }
}

impl Schedule {
    /// The network's time input, t̄ = 2(t − T/2)/T ∈ (−1, 1] (the course handout).
    pub fn t_bar(&self, t: usize) -> f32 {
        (2.0 * (t as f64 - self.steps as f64 / 2.0) / self.steps as f64) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_schedule_matches_hand_values() {
        let s = ScheduleConfig::default().init().unwrap();
        assert_eq!(s.beta.len(), 501);
        assert!((s.beta[1] - 1e-4).abs() < 1e-15 && (s.beta[500] - 0.02).abs() < 1e-15);
        assert!((s.alpha_bar[1] - (1.0 - 1e-4)).abs() < 1e-15);
        let step = (0.02 - 1e-4) / 499.0;
        assert!((s.alpha_bar[2] - (1.0 - 1e-4) * (1.0 - 1e-4 - step)).abs() < 1e-15);
        // ᾱ_T = ∏(1 − β_t) ≈ exp(−Σβ) ≈ exp(−5.025): the chain ends near N(0, I).
        assert!(s.alpha_bar[500] > 3e-3 && s.alpha_bar[500] < 7e-3, "{}", s.alpha_bar[500]);
        assert_eq!(s.t_bar(250), 0.0);
        assert_eq!(s.t_bar(500), 1.0);
    }

    #[test]
    fn absurd_schedules_are_rejected() {
        let bad = |beta_1, beta_t, steps| ScheduleConfig { steps, betas: BetaSchedule::Linear { beta_1, beta_t } };
        assert!(bad(0.0, 0.02, 500).init().is_err());
        assert!(bad(1e-4, 1.5, 500).init().is_err());
        assert!(bad(0.1, 0.01, 500).init().is_err());
        assert!(bad(1e-4, 0.02, 1).init().is_err());
        assert!(bad(f64::NAN, 0.02, 500).init().is_err());
    }
}
