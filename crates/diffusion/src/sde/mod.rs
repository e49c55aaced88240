//! Score-based SDEs (Song et al. 2021, §3.4 and appendix B) on continuous t ∈ [ε, 1]. All three
//! have a linear drift f(x, t) = a(t) x and a scalar diffusion g(t), so the perturbation kernel is
//! Gaussian, p_{0t}(x_t | x_0) = N(m(t) x_0, s(t)² I):
//!   VE:     dx = σ(t) √(2 ln(σ_max/σ_min)) dw,  σ(t) = σ_min (σ_max/σ_min)^t,
//!           m = 1, s² = σ(t)² − σ_min² (exact; Song's code uses σ(t)², which differs by σ_min²);
//!   VP:     dx = −½β(t) x dt + √β(t) dw,  β(t) = β_min + t(β_max − β_min),
//!           m = e^{−½B(t)}, s² = 1 − e^{−B(t)}, B(t) = ∫₀ᵗ β = β_min t + ½t²(β_max − β_min);
//!   sub-VP: dx = −½β(t) x dt + √(β(t)(1 − e^{−2B(t)})) dw,  m = e^{−½B(t)}, s = 1 − e^{−B(t)};
//!   DDPM:   the discrete chain of Ho et al. as the VP SDE whose B(t) interpolates −log ᾱ linearly
//!           between its steps t = k/T, i.e. β(t) = −T log(1 − β_k) on ((k−1)/T, k/T]: then
//!           m(k/T)² = ᾱ_k exactly, every sampler and the likelihood see the noise levels the
//!           network was trained on, and the ancestral step between adjacent steps is Ho et al.'s;
//!   flow:   the linear path of flow matching and rectified flow (Lipman et al. 2023, Liu et al.
//!           2023), x_t = (1 − t) x_0 + t z: m = 1 − t, s = t, i.e. a(t) = −1/(1 − t) and
//!           g² = d(s²)/dt − 2a s² = 2t/(1 − t); its PF-ODE velocity is E[z − x_0 | x_t].

pub mod corrector;
pub mod data_marginal;
pub mod ddim;
pub mod discrete_bound;
pub mod dpm_solver;
pub mod dsm;
pub mod edm;
pub mod guidance;
pub mod inpaint;
pub mod likelihood;
pub mod method;
pub mod mixture;
pub mod ode;
pub mod predictor;
pub mod reflow;
pub mod sampler;
pub mod score;
pub mod surrogate_start;
pub mod unet_score;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schedule::{BetaSchedule, ScheduleConfig};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Sde {
    Ve {
        sigma_min: f64,
        sigma_max: f64,
    },
    Vp {
        beta_min: f64,
        beta_max: f64,
    },
    SubVp {
        beta_min: f64,
        beta_max: f64,
    },
    /// The T-step DDPM chain (`steps` = T), exact at t = k/T.
    Ddpm {
        steps: usize,
        betas: BetaSchedule,
    },
    /// The rectified-flow path x_t = (1 − t) x_0 + t z.
    Flow,
}

impl Sde {
    /// VP with Song et al.'s β_min = 0.1, β_max = 20.
    pub fn vp() -> Self {
        Sde::Vp { beta_min: 0.1, beta_max: 20.0 }
    }

    pub fn sub_vp() -> Self {
        Sde::SubVp { beta_min: 0.1, beta_max: 20.0 }
    }

    /// VE with σ_max about the largest distance between data points (Song & Ermon 2020,
    /// technique 1); `sigma_max` = 10 suits 2-D data of unit scale.
    pub fn ve(sigma_max: f64) -> Self {
        Sde::Ve { sigma_min: 0.01, sigma_max }
    }

    /// By the CLI's and the page's names: vp, subvp, ve (σ_max = 10), flow.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "flow" | "rectified-flow" => Some(Sde::Flow),
            "vp" => Some(Sde::vp()),
            "subvp" | "sub-vp" => Some(Sde::sub_vp()),
            "ve" => Some(Sde::ve(10.0)),
            _ => None,
        }
    }

    /// The process of a DDPM chain.
    pub fn ddpm(schedule: &ScheduleConfig) -> Self {
        Sde::Ddpm { steps: schedule.steps, betas: schedule.betas }
    }

    pub fn validate(&self) -> Result<()> {
        let ok = match *self {
            Sde::Ve { sigma_min, sigma_max } => 0.0 < sigma_min && sigma_min < sigma_max && sigma_max < 1e6,
            Sde::Vp { beta_min, beta_max } | Sde::SubVp { beta_min, beta_max } => {
                0.0 < beta_min && beta_min <= beta_max && beta_max < 1e4
            }
            Sde::Ddpm { steps, betas } => return ScheduleConfig { steps, betas }.validate(),
            Sde::Flow => true,
        };
        if ok { Ok(()) } else { Err(Error::Config(format!("unreasonable SDE parameters {self:?}"))) }
    }

    /// The smallest time the samplers reach and training draws (Song et al.: 1e-5 VE, 1e-3 VP;
    /// the DDPM chain's step 1, t = 1/T).
    pub fn t_min(&self) -> f64 {
        match self {
            Sde::Ve { .. } => 1e-5,
            Sde::Ddpm { steps, .. } => 1.0 / *steps as f64,
            _ => 1e-3,
        }
    }

    /// The time the samplers start from and the likelihood integrates to: 1, except on the flow
    /// path, whose m(1) = 0 makes a(t), g² and Tweedie's x̂₀ = (x + s² ∇log p)/m infinite at 1;
    /// it starts at 1 − 10⁻³, where x_t = 10⁻³ x_0 + 0.999 z is N(0, I) to within 10⁻³ of the
    /// data's scale.
    pub fn t_max(&self) -> f64 {
        match self {
            Sde::Flow => 1.0 - 1e-3,
            _ => 1.0,
        }
    }

    /// The chain's T, `None` for a continuous-time SDE.
    pub fn chain_steps(&self) -> Option<usize> {
        match self {
            Sde::Ddpm { steps, .. } => Some(*steps),
            _ => None,
        }
    }

    /// λ(t) = log(m(t)/s(t)), the log signal-to-noise ratio of the perturbation kernel (halved
    /// against Kingma et al.'s log(m²/s²)); it falls as t grows for every SDE here.
    pub fn log_snr(&self, t: f64) -> f64 {
        let (m, s) = self.marginal(t);
        (m / s).ln()
    }

    /// The t ∈ [t_lo, 1] with λ(t) = `lambda` (clamped to the ends), by bisection.
    pub fn time_at_log_snr(&self, lambda: f64, t_lo: f64) -> f64 {
        let (mut a, mut b) = (t_lo, 1.0);
        for _ in 0..60 {
            let mid = 0.5 * (a + b);
            if self.log_snr(mid) > lambda { a = mid } else { b = mid }
        }
        0.5 * (a + b)
    }

    /// β(t) (VP, sub-VP; the chain's −T log(1 − β_k) on ((k−1)/T, k/T]).
    fn beta(&self, t: f64) -> f64 {
        match *self {
            Sde::Vp { beta_min, beta_max } | Sde::SubVp { beta_min, beta_max } => beta_min + t * (beta_max - beta_min),
            Sde::Ve { .. } | Sde::Flow => 0.0,
            Sde::Ddpm { steps, betas } => {
                let k = ((t * steps as f64).ceil() as usize).clamp(1, steps);
                steps as f64 * betas.neg_log_alpha(k, steps)
            }
        }
    }

    /// B(t) = ∫₀ᵗ β(s) ds (the chain's −log ᾱ, linear between its steps).
    fn beta_integral(&self, t: f64) -> f64 {
        match *self {
            Sde::Vp { beta_min, beta_max } | Sde::SubVp { beta_min, beta_max } => {
                beta_min * t + 0.5 * t * t * (beta_max - beta_min)
            }
            Sde::Ve { .. } | Sde::Flow => 0.0,
            Sde::Ddpm { steps, betas } => {
                let u = (t * steps as f64).clamp(0.0, steps as f64);
                let k = u.floor() as usize;
                let whole: f64 = (1..=k).map(|j| betas.neg_log_alpha(j, steps)).sum();
                let part = if k < steps { (u - k as f64) * betas.neg_log_alpha(k + 1, steps) } else { 0.0 };
                whole + part
            }
        }
    }

    /// VE's σ_min (σ_max/σ_min)^t (the noise scale of its diffusion, not the σ below).
    fn ve_scale(&self, t: f64) -> f64 {
        match *self {
            Sde::Ve { sigma_min, sigma_max } => sigma_min * (sigma_max / sigma_min).powf(t),
            _ => f64::NAN,
        }
    }

    /// σ(t) = s(t)/m(t), the noise level of the scaled variable x/m (Karras et al.); increasing
    /// in t, and λ(t) = −log σ(t).
    pub fn sigma(&self, t: f64) -> f64 {
        let (m, s) = self.marginal(t);
        s / m
    }

    /// The t ∈ [0, 1] with σ(t) = `sigma`, by bisection.
    pub fn time_at_sigma(&self, sigma: f64) -> f64 {
        self.time_at_log_snr(-sigma.ln(), 0.0)
    }

    /// a(t) in the drift f(x, t) = a(t) x.
    pub fn drift_coef(&self, t: f64) -> f64 {
        match self {
            Sde::Ve { .. } => 0.0,
            Sde::Flow => -1.0 / (1.0 - t),
            _ => -0.5 * self.beta(t),
        }
    }

    /// (dm/dt, ds/dt): the velocity of the kernel's path is u = ṁ x_0 + ṡ z. ṁ = a m, and
    /// d(s²)/dt = 2a s² + g² gives ṡ = (g² + 2a s²)/(2s); the flow path's are (−1, 1).
    pub fn marginal_rate(&self, t: f64) -> (f64, f64) {
        if *self == Sde::Flow {
            return (-1.0, 1.0);
        }
        let ((m, s), a) = (self.marginal(t), self.drift_coef(t));
        (a * m, (self.g2(t) + 2.0 * a * s * s) / (2.0 * s))
    }

    /// g(t)².
    pub fn g2(&self, t: f64) -> f64 {
        match *self {
            Sde::Ve { sigma_min, sigma_max } => self.ve_scale(t).powi(2) * 2.0 * (sigma_max / sigma_min).ln(),
            Sde::Vp { .. } | Sde::Ddpm { .. } => self.beta(t),
            Sde::SubVp { .. } => self.beta(t) * (1.0 - (-2.0 * self.beta_integral(t)).exp()),
            Sde::Flow => 2.0 * t / (1.0 - t),
        }
    }

    /// (m(t), s(t)) of the perturbation kernel N(m(t) x_0, s(t)² I).
    pub fn marginal(&self, t: f64) -> (f64, f64) {
        match *self {
            Sde::Ve { sigma_min, .. } => (1.0, (self.ve_scale(t).powi(2) - sigma_min * sigma_min).max(0.0).sqrt()),
            Sde::Vp { .. } | Sde::Ddpm { .. } => {
                let b = self.beta_integral(t);
                ((-0.5 * b).exp(), (-(-b).exp_m1()).sqrt())
            }
            Sde::SubVp { .. } => {
                let b = self.beta_integral(t);
                ((-0.5 * b).exp(), 1.0 - (-b).exp())
            }
            Sde::Flow => (1.0 - t, t),
        }
    }

    /// α of the grid step from t down to t_next: 1 − β = m(t)²/m(t_next)² = e^{−∫β} (the DDPM
    /// chain's α_k between adjacent steps; 1 for VE, whose m is 1).
    pub fn step_alpha(&self, t: f64, t_next: f64) -> f64 {
        (self.marginal(t).0 / self.marginal(t_next).0).powi(2)
    }

    /// Tweedie's formula for the kernel N(m x₀, s² I): x̂₀ = E[x₀ | x_t = x] = (x + s² ∇log p_t)/m,
    /// from the score at (x, t).
    pub fn x0_from_score(&self, x: Tensor<2>, score: Tensor<2>, t: f64) -> Tensor<2> {
        let (m, s) = self.marginal(t);
        (x + score.mul_scalar(s * s)).div_scalar(m)
    }

    /// Its inverse: ∇log p_t = (m x̂₀ − x)/s².
    pub fn score_from_x0(&self, x: Tensor<2>, x0: Tensor<2>, t: f64) -> Tensor<2> {
        let (m, s) = self.marginal(t);
        (x0.mul_scalar(m) - x).div_scalar(s * s)
    }

    /// The prior p_1 = N(0, prior_std² I) the reverse process starts from (it approximates the
    /// t = 1 marginal: for VE the mean x_0 is neglected against σ_max).
    pub fn prior_std(&self) -> f64 {
        match *self {
            Sde::Ve { sigma_max, .. } => sigma_max,
            _ => 1.0,
        }
    }

    /// log N(x; 0, prior_std² I) of each row of x: [n].
    pub fn prior_log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        let [_, dim] = x.dims();
        let var = self.prior_std().powi(2);
        let constant = -0.5 * dim as f64 * (2.0 * std::f64::consts::PI * var).ln();
        x.square().sum_dim(1).reshape([-1]).mul_scalar(-0.5 / var).add_scalar(constant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// The marginal std must be what the SDE's own diffusion produces: simulate the forward SDE
    /// from a point with Euler–Maruyama on a fine grid and compare mean and spread with (m, s).
    /// A wrong g (a missing √, a wrong ln factor, sub-VP's extra term) fails this.
    #[test]
    fn marginals_match_a_forward_simulation() {
        for sde in [Sde::ve(10.0), Sde::vp(), Sde::sub_vp(), Sde::ddpm(&ScheduleConfig::default()), Sde::Flow] {
            let mut rng = Rng::new(1);
            let (n, steps, x_0) = (4000, 2000, 1.5);
            for t_end in [0.1, 0.5, sde.t_max().min(0.9)] {
                let dt = t_end / steps as f64;
                let mut xs = vec![x_0; n];
                for i in 0..steps {
                    let t = i as f64 * dt;
                    let (a, g) = (sde.drift_coef(t), sde.g2(t).sqrt());
                    for x in xs.iter_mut() {
                        *x += a * *x * dt + g * dt.sqrt() * rng.normal();
                    }
                }
                let mean = xs.iter().sum::<f64>() / n as f64;
                let std = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
                let (m, s) = sde.marginal(t_end);
                // Sampling error of the mean s/√n, of the std s/√(2n); a little for discretisation.
                assert!(
                    (mean - m * x_0).abs() < 4.0 * s / (n as f64).sqrt() + 2e-3,
                    "{sde:?} t {t_end}: mean {mean} vs {}",
                    m * x_0
                );
                assert!(
                    (std - s).abs() < 4.0 * s / (2.0 * n as f64).sqrt() + 2e-3 * s,
                    "{sde:?} t {t_end}: std {std} vs {s}"
                );
            }
        }
    }

    /// The chain's process is exact at its steps: m(k/T)² = ᾱ_k, s² = 1 − ᾱ_k, β between adjacent
    /// steps is β_k, λ(t) = log(m/s) is monotone and inverted by `time_at_log_snr` and
    /// `time_at_sigma`; t_min is step 1.
    #[test]
    fn the_ddpm_chain_is_exact_at_its_steps() {
        let config = ScheduleConfig::default();
        let schedule = config.init().unwrap();
        let sde = Sde::ddpm(&config);
        sde.validate().unwrap();
        assert_eq!(sde.t_min(), 1.0 / 500.0);
        for k in [0, 1, 2, 5, 50, 250, 499, 500] {
            let (m, s) = sde.marginal(k as f64 / 500.0);
            let a = schedule.alpha_bar[k];
            assert!((m * m - a).abs() < 1e-12 * a.max(1e-3), "step {k}: m² {} vs ᾱ {a}", m * m);
            assert!((s * s - (1.0 - a)).abs() < 1e-12, "step {k}: s² {} vs {}", s * s, 1.0 - a);
            if k >= 1 {
                let (m_prev, _) = sde.marginal((k - 1) as f64 / 500.0);
                let beta = 1.0 - (m / m_prev).powi(2);
                assert!((beta - schedule.beta[k]).abs() < 1e-12, "step {k}: β {beta} vs {}", schedule.beta[k]);
            }
        }
        for t in [0.0013, 0.01, 0.3, 0.77, 1.0] {
            let back = sde.time_at_log_snr(sde.log_snr(t), 0.0);
            assert!((back - t).abs() < 1e-9, "{t} → {back}");
            assert!((sde.time_at_sigma(sde.sigma(t)) - t).abs() < 1e-9);
            assert!(sde.log_snr(t - 1e-3) > sde.log_snr(t));
        }
        // g² = β(t) = −dB/dt: the forward simulation test above covers the drift and diffusion.
        assert!(Sde::Ddpm { steps: 1, betas: config.betas }.validate().is_err());
    }

    /// The path's velocity ṁ x_0 + ṡ z: the rates are the derivatives of (m, s) (a wrong ṡ
    /// formula or a wrong flow drift fails), and on the flow path u = z − x_0.
    #[test]
    fn marginal_rates_are_derivatives() {
        for sde in [Sde::ve(10.0), Sde::vp(), Sde::sub_vp(), Sde::Flow] {
            for t in [0.05, 0.3, 0.7, 0.95] {
                let h = 1e-6;
                let ((m1, s1), (m0, s0)) = (sde.marginal(t + h), sde.marginal(t - h));
                let (dm, ds) = ((m1 - m0) / (2.0 * h), (s1 - s0) / (2.0 * h));
                let (rm, rs) = sde.marginal_rate(t);
                assert!((rm - dm).abs() < 1e-5 * dm.abs().max(1.0), "{sde:?} t {t}: ṁ {rm} vs {dm}");
                assert!((rs - ds).abs() < 1e-5 * ds.abs().max(1.0), "{sde:?} t {t}: ṡ {rs} vs {ds}");
                if sde == Sde::Flow {
                    // The flow's a and g² give the same rates through the general formula.
                    let ((m, s), a) = (sde.marginal(t), sde.drift_coef(t));
                    assert!(
                        (a * m + 1.0).abs() < 1e-12 && ((sde.g2(t) + 2.0 * a * s * s) / (2.0 * s) - 1.0).abs() < 1e-12
                    );
                }
            }
        }
        assert_eq!(Sde::named("flow"), Some(Sde::Flow));
        assert!(Sde::Flow.t_max() < 1.0 && Sde::vp().t_max() == 1.0);
    }

    #[test]
    fn known_values() {
        let vp = Sde::vp();
        // B(1) = 0.1 + 0.5·19.9 = 10.05.
        let (m, s) = vp.marginal(1.0);
        assert!((m - (-5.025f64).exp()).abs() < 1e-12 && (s - (1.0 - (-10.05f64).exp()).sqrt()).abs() < 1e-12);
        assert_eq!(Sde::sub_vp().marginal(1.0).1, 1.0 - (-10.05f64).exp());
        let ve = Sde::ve(10.0);
        assert!((ve.ve_scale(1.0) - 10.0).abs() < 1e-12 && (ve.ve_scale(0.0) - 0.01).abs() < 1e-15);
        assert_eq!(ve.marginal(0.0).1, 0.0);
        assert!(Sde::Ve { sigma_min: 1.0, sigma_max: 0.5 }.validate().is_err());
        assert!(Sde::Vp { beta_min: f64::NAN, beta_max: 1.0 }.validate().is_err());
    }
}
