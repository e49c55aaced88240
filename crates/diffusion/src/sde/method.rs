//! The update rules the sampler driver steps, by name.

use crate::error::{Error, Result};

/// Every sampler's name, as `Method::named` takes them.
pub const NAMES: [&str; 12] =
    ["ancestral", "ddim", "em", "rd", "pc", "ald", "euler", "ode-heun", "ode-rk4", "ode-rk45", "dpmpp2m", "edm-heun"];

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Predictor {
    EulerMaruyama,
    ReverseDiffusion,
    /// None: corrector-only sampling (annealed Langevin dynamics).
    None,
}

/// The noise variance σ² of the chain's ancestral step from t to t' (Ho et al. §3.2; Nichol &
/// Dhariwal §2.2.1), with β = 1 − ᾱ_t/ᾱ_{t'} the (respaced) step's β and
/// β̃ = β (1 − ᾱ_{t'})/(1 − ᾱ_t) its posterior variance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Variance {
    /// σ² = β, exact for data N(0, I).
    #[default]
    Beta,
    /// σ² = β̃, exact for data at a point.
    BetaTilde,
    /// σ² = exp(v log β + (1 − v) log β̃) with the network's v (a learned-variance model; a
    /// model without v is sampled with σ² = β).
    Learned,
}

impl Variance {
    /// By the CLI's and the page's names: beta, beta-tilde, learned.
    pub fn named(name: &str) -> Result<Self> {
        match name {
            "beta" => Ok(Variance::Beta),
            "beta-tilde" => Ok(Variance::BetaTilde),
            "learned" => Ok(Variance::Learned),
            other => Err(Error::Config(format!("unknown variance `{other}`: beta, beta-tilde or learned"))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// A predictor, then `corrector_steps` Langevin steps with signal-to-noise ratio `snr`.
    Pc {
        predictor: Predictor,
        corrector_steps: usize,
        snr: f64,
    },
    /// Ancestral sampling on the SDE's discrete chain (VE and VP), with the VP chain's noise
    /// `variance` (VE's step always takes its posterior variance).
    Ancestral {
        variance: Variance,
    },
    /// DDIM with stochasticity η (0: deterministic).
    Ddim {
        eta: f64,
    },
    /// Euler on the probability-flow ODE (rectified flow's sampler), one evaluation per step.
    OdeEuler,
    OdeHeun,
    OdeRk4,
    /// Adaptive Dormand–Prince 5(4) on the probability-flow ODE (native only; `steps` is ignored).
    OdeRk45 {
        rtol: f64,
        atol: f64,
    },
    /// DPM-Solver++(2M), one evaluation per step.
    DpmSolver2M,
    /// EDM's Heun on its ρ = 7 noise grid, ending with a denoising step.
    EdmHeun,
}

impl Method {
    /// Ho et al.'s ancestral step, σ² = β.
    pub fn ancestral() -> Self {
        Method::Ancestral { variance: Variance::Beta }
    }

    pub fn em() -> Self {
        Method::Pc { predictor: Predictor::EulerMaruyama, corrector_steps: 0, snr: 0.16 }
    }

    pub fn rd() -> Self {
        Method::Pc { predictor: Predictor::ReverseDiffusion, corrector_steps: 0, snr: 0.16 }
    }

    /// Song et al.'s PC: reverse diffusion + one Langevin step, r = 0.16.
    pub fn pc() -> Self {
        Method::Pc { predictor: Predictor::ReverseDiffusion, corrector_steps: 1, snr: 0.16 }
    }

    /// By the CLI's and the page's names: em, rd, pc (with Langevin snr r), ald (annealed
    /// Langevin: the corrector alone), ancestral, ddim (η = 0; see [`Method::with_eta`]), euler, ode-heun,
    /// ode-rk4, ode-rk45 (rtol = atol = 1e-5), dpmpp2m, edm-heun.
    pub fn named(name: &str, snr: f64) -> Option<Self> {
        match name {
            "ancestral" => Some(Method::ancestral()),
            "ddim" => Some(Method::Ddim { eta: 0.0 }),
            "ode-rk45" => Some(Method::OdeRk45 { rtol: 1e-5, atol: 1e-5 }),
            "em" => Some(Method::em()),
            "rd" => Some(Method::rd()),
            "pc" => Some(Method::Pc { predictor: Predictor::ReverseDiffusion, corrector_steps: 1, snr }),
            "ald" => Some(Method::Pc { predictor: Predictor::None, corrector_steps: 1, snr }),
            "euler" | "ode-euler" => Some(Method::OdeEuler),
            "ode-heun" => Some(Method::OdeHeun),
            "ode-rk4" => Some(Method::OdeRk4),
            "dpmpp2m" => Some(Method::DpmSolver2M),
            "edm-heun" => Some(Method::EdmHeun),
            _ => None,
        }
    }

    /// Score evaluations one grid step of this rule spends (a step ending at t = 0 spends one:
    /// Tweedie's x̂₀); `None` for RK45, which chooses its own steps.
    pub fn nfe_per_step(&self) -> Option<usize> {
        Some(match *self {
            Method::Pc { predictor, corrector_steps, .. } => {
                corrector_steps + usize::from(predictor != Predictor::None)
            }
            Method::Ancestral { .. } | Method::Ddim { .. } | Method::DpmSolver2M | Method::OdeEuler => 1,
            Method::OdeHeun | Method::EdmHeun => 2,
            Method::OdeRk4 => 4,
            Method::OdeRk45 { .. } => return None,
        })
    }

    /// The grid steps whose evaluations total at most `nfe` (EDM's Heun spends 2 per level but 1
    /// on its last; RK45 chooses its own steps: `None`).
    pub fn steps_for_nfe(&self, nfe: usize) -> Option<usize> {
        let per_step = self.nfe_per_step()?;
        let steps = match self {
            Method::EdmHeun => nfe.div_ceil(2),
            _ => nfe / per_step.max(1),
        };
        (steps >= 1).then_some(steps)
    }

    /// A predictor with `steps` Langevin corrector steps of ratio `snr` before each predictor step
    /// (Song et al.'s PC with any predictor); `None` for the ODE solvers and samplers that have no
    /// predictor–corrector form here.
    pub fn with_corrector(self, steps: usize, snr: f64) -> Option<Self> {
        match self {
            Method::Pc { predictor, .. } => Some(Method::Pc { predictor, corrector_steps: steps, snr }),
            _ => None,
        }
    }

    /// A sampler by name with its options, as the CLI and the page take them: `corrector` is
    /// `none` or `langevin` (one Langevin step of ratio `snr` before each em/rd step), `eta` is
    /// DDIM's η. Every name runs on every process (the DDPM chain's too) and takes guidance.
    pub fn parse(name: &str, snr: f64, eta: f64, corrector: &str) -> Result<Self> {
        let method = Method::named(name, snr)
            .map(|m| m.with_eta(eta))
            .ok_or_else(|| Error::Config(format!("unknown sampler `{name}`: {}", NAMES.join(", "))))?;
        match corrector {
            "none" => Ok(method),
            "langevin" => method
                .with_corrector(1, snr)
                .ok_or_else(|| Error::Config(format!("the Langevin corrector combines with em or rd, not `{name}`"))),
            other => Err(Error::Config(format!("unknown corrector `{other}`: langevin or none"))),
        }
    }

    /// The ancestral step's noise variance (other methods are unchanged).
    pub fn with_variance(self, variance: Variance) -> Self {
        match self {
            Method::Ancestral { .. } => Method::Ancestral { variance },
            other => other,
        }
    }

    /// DDIM's η (other methods are unchanged).
    pub fn with_eta(self, eta: f64) -> Self {
        match self {
            Method::Ddim { .. } => Method::Ddim { eta },
            other => other,
        }
    }
}
