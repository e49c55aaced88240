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
    /// Nichol & Dhariwal 2021, eq. 17: ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T + s)/(1 + s)) π/2), so
    /// β_t = 1 − ᾱ_t/ᾱ_{t−1}, clipped at 0.999 (the last steps, where f → 0).
    Cosine { s: f64 },
}

/// β_t never exceeds this (the cosine schedule's clip).
pub const BETA_MAX: f64 = 0.999;

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

impl ScheduleConfig {
    /// By the CLI's and the page's names: `linear` (β from `beta_range`, default Ho et al.'s
    /// 1e-4 → 0.02; the HSE study's short T = 100 chain takes 4e-4 → 0.18) or `cosine` (s = 0.008),
    /// over T = `steps`.
    pub fn named(name: &str, steps: usize, beta_range: Option<(f64, f64)>) -> Result<Self> {
        let betas = match (name, beta_range) {
            ("linear", range) => {
                let (beta_1, beta_t) = range.unwrap_or((1e-4, 0.02));
                BetaSchedule::Linear { beta_1, beta_t }
            }
            ("cosine", None) => BetaSchedule::Cosine { s: 0.008 },
            ("cosine", Some(_)) => return Err(Error::Config("the cosine schedule takes no β range".into())),
            (other, _) => return Err(Error::Config(format!("unknown schedule `{other}`: linear or cosine"))),
        };
        let config = Self { steps, betas };
        config.validate()?;
        Ok(config)
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
        match *self {
            BetaSchedule::Linear { beta_1, beta_t } => beta_1 + (beta_t - beta_1) * (t - 1) as f64 / (steps - 1) as f64,
            BetaSchedule::Cosine { s } => {
                let f = |t: usize| {
                    (((t as f64 / steps as f64 + s) / (1.0 + s)) * std::f64::consts::FRAC_PI_2).cos().powi(2)
                };
                (1.0 - f(t) / f(t - 1)).min(BETA_MAX)
            }
        }
    }

    /// −log α_t = −log(1 − β_t), the chain's rate of −log ᾱ per step.
    pub fn neg_log_alpha(&self, t: usize, steps: usize) -> f64 {
        -(1.0 - self.beta(t, steps)).ln()
    }
}

impl ScheduleConfig {
    /// Checks T and the β range without building the tables.
    pub fn validate(&self) -> Result<()> {
        crate::limits::TIMESTEPS.check(self.steps as f64)?;
        if let BetaSchedule::Linear { beta_1, beta_t } = self.betas {
            crate::limits::BETA.check(beta_1)?;
            crate::limits::BETA.check(beta_t)?;
        }
        match self.betas {
            BetaSchedule::Linear { beta_1, beta_t } if !(0.0 < beta_1 && beta_1 <= beta_t && beta_t < 1.0) => {
                Err(Error::Config(format!("need 0 < β_1 ≤ β_T < 1, got {beta_1}, {beta_t}")))
            }
            BetaSchedule::Cosine { s } if !(s > 0.0 && s < 1.0) => {
                Err(Error::Config(format!("the cosine schedule's offset s must be in (0, 1), got {s}")))
            }
            _ => Ok(()),
        }
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

    /// Where β is not clipped, ᾱ_t is f(t)/f(0) exactly; the clip only touches the last steps, and
    /// ᾱ_T is 0 up to the clip (the chain ends at pure noise).
    #[test]
    fn cosine_schedule_matches_its_closed_form() {
        let config = ScheduleConfig::named("cosine", 1000, None).unwrap();
        let schedule = config.init().unwrap();
        let f = |t: f64| (((t / 1000.0 + 0.008) / 1.008) * std::f64::consts::FRAC_PI_2).cos().powi(2);
        let clipped: Vec<usize> = (1..=1000).filter(|&t| schedule.beta[t] >= BETA_MAX).collect();
        assert_eq!(clipped, [1000], "only the last step is clipped at T = 1000");
        for t in [1, 10, 250, 500, 900, 999] {
            let want = f(t as f64) / f(0.0);
            assert!(
                (schedule.alpha_bar[t] - want).abs() < 1e-12 * want.max(1e-3),
                "t {t}: {} vs {want}",
                schedule.alpha_bar[t]
            );
        }
        // β_1 = 1 − f(1)/f(0) ≈ 4e-5: far gentler at the start than linear's 1e-4 at T = 1000.
        assert!(schedule.beta[1] > 3e-5 && schedule.beta[1] < 5e-5, "{}", schedule.beta[1]);
        assert!(schedule.alpha_bar[1000] < 1e-6);
        // The process view agrees with the tables at its steps.
        let sde = crate::sde::Sde::ddpm(&config);
        for k in [1, 100, 999] {
            let (m, _) = sde.marginal(k as f64 / 1000.0);
            assert!((m * m - schedule.alpha_bar[k]).abs() < 1e-9, "k {k}");
        }
        assert!(ScheduleConfig::named("cosine", 100, Some((1e-4, 0.02))).is_err());
        assert!(ScheduleConfig::named("quadratic", 100, None).is_err());
        let short = ScheduleConfig::named("linear", 100, Some((4e-4, 0.18))).unwrap().init().unwrap();
        assert!((short.beta[100] - 0.18).abs() < 1e-15);
    }

    #[test]
    fn absurd_schedules_are_rejected() {
        let bad = |beta_1, beta_t, steps| ScheduleConfig { steps, betas: BetaSchedule::Linear { beta_1, beta_t } };
        assert!(bad(0.0, 0.02, 500).init().is_err());
        assert!(bad(1e-4, 1.5, 500).init().is_err());
        assert!(bad(0.1, 0.01, 500).init().is_err());
        assert!(bad(1e-4, 0.02, 1).init().is_err());
        assert!(bad(f64::NAN, 0.02, 500).init().is_err());
        assert!(ScheduleConfig { steps: 100, betas: BetaSchedule::Cosine { s: 0.0 } }.init().is_err());
        assert!(ScheduleConfig { steps: 100, betas: BetaSchedule::Cosine { s: f64::NAN } }.init().is_err());
    }
}
