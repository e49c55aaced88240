//! Denoising score matching on continuous time (Song et al. 2021, eq. 7):
//!   θ* = argmin E_t { λ(t) E_{x_0} E_{x_t | x_0} ‖s_θ(x_t, t) − ∇ log p_{0t}(x_t | x_0)‖² },
//! t ~ U(t_min, 1), x_t = m(t) x_0 + s(t) z, ∇ log p_{0t} = −z/s(t). The network predicts
//! ε̂(x_t, t) and s_θ = −ε̂/s(t), so with λ = s(t)² the loss is ‖ε̂ − z‖² (the DDPM form), and with
//! the likelihood weighting λ = g(t)² (Song et al. 2021b) it is (g²/s²)‖ε̂ − z‖².
//! The network sees c_in(t) x_t with c_in = 1/√(m² + s²) (EDM's input scaling for data of unit
//! variance; 1 for VP) and the Fourier features γ(t).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::fourier::{Fourier, FourierConfig};
use crate::rng::Rng;
use crate::sde::Sde;

/// One minibatch of an ε-prediction objective, built on the host from a seeded source.
pub struct EpsBatch {
    /// Network input, rows of `width` (DDPM: (x_t, y_t, t̄); DSM: (c_in x_t, γ(t))): [batch · width].
    pub input: Vec<f32>,
    pub width: usize,
    /// The noise ε that made x_t: [batch · 2].
    pub eps: Vec<f32>,
    /// Per-row weight of ‖ε̂ − ε‖² (`None`: all 1).
    pub weight: Option<Vec<f32>>,
    pub batch: usize,
}

impl EpsBatch {
    /// (input [batch, width], ε [batch, 2], weight [batch]) on `device`.
    pub fn tensors(&self, device: &Device) -> (Tensor<2>, Tensor<2>, Option<Tensor<1>>) {
        let input = Tensor::from_data(TensorData::new(self.input.clone(), [self.batch, self.width]), device);
        let eps = Tensor::from_data(TensorData::new(self.eps.clone(), [self.batch, 2]), device);
        let weight = self.weight.as_ref().map(|w| Tensor::from_data(TensorData::new(w.clone(), [self.batch]), device));
        (input, eps, weight)
    }
}

/// λ(t) of the objective.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weighting {
    /// λ = s(t)²: ‖ε̂ − z‖².
    #[default]
    Sigma2,
    /// λ = g(t)²: (g²/s²)‖ε̂ − z‖², which bounds the negative log-likelihood.
    Likelihood,
}

/// How training draws t ∈ [t_min, 1].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeSampling {
    /// t ~ U(t_min, 1).
    #[default]
    Uniform,
    /// λ = log(m/s) ~ U(λ(1), λ(t_min)), then t = λ⁻¹(λ). On VP, g²/s² = β/s² = −2 dλ/dt, so the
    /// plain ‖ε̂ − z‖² at these t is the likelihood weighting λ(t) = g² importance-sampled (Song et
    /// al. 2021b, §4.2), up to a constant: most draws land at high SNR, near t_min.
    LogSnr,
    /// Half the draws each way: the likelihood's small t without starving the large t that
    /// sample quality needs.
    Mixed,
}

impl TimeSampling {
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "uniform" => Some(TimeSampling::Uniform),
            "log-snr" => Some(TimeSampling::LogSnr),
            "mixed" => Some(TimeSampling::Mixed),
            _ => None,
        }
    }

    pub fn draw(self, sde: &Sde, t_min: f64, rng: &mut Rng) -> f64 {
        let log_snr = match self {
            TimeSampling::Uniform => false,
            TimeSampling::LogSnr => true,
            TimeSampling::Mixed => rng.uniform() < 0.5,
        };
        let u = rng.uniform();
        if log_snr {
            let (lo, hi) = (sde.log_snr(1.0), sde.log_snr(t_min));
            sde.time_at_log_snr(lo + (hi - lo) * u, t_min)
        } else {
            t_min + (1.0 - t_min) * u
        }
    }
}

/// What the time features γ(·) are computed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeInput {
    /// t itself (Song et al. 2021).
    #[default]
    T,
    /// c_noise = ½ − λ(t)/16 with the log-SNR λ = log(m/s) (the idea of EDM's c_noise = ¼ ln σ):
    /// VP's λ ∈ [−5, 9] for t ∈ [1, 10⁻⁷] lands in [0.8, −0.1], and t = 10⁻⁵ lies 0.14 from
    /// 10⁻³ (two thirds of the gap from 10⁻³ to 10⁻¹), where γ(t) sees 10⁻³ of that gap.
    LogSnr,
}

impl TimeInput {
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "t" => Some(TimeInput::T),
            "log-snr" => Some(TimeInput::LogSnr),
            _ => None,
        }
    }
}

/// A continuous-time score model: its SDE, time embedding and training weighting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreConfig {
    pub sde: Sde,
    pub fourier: FourierConfig,
    #[serde(default)]
    pub weighting: Weighting,
    #[serde(default)]
    pub time_input: TimeInput,
}

impl ScoreConfig {
    pub fn new(sde: Sde) -> Self {
        Self { sde, fourier: FourierConfig::default(), weighting: Weighting::Sigma2, time_input: TimeInput::T }
    }

    /// The scalar the time features γ(·) see at time t (see [`TimeInput`]).
    pub fn noise_input(&self, t: f64) -> f64 {
        match self.time_input {
            TimeInput::T => t,
            TimeInput::LogSnr => 0.5 - self.sde.log_snr(t).clamp(-64.0, 64.0) / 16.0,
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.sde.validate()?;
        self.fourier.validate()
    }

    /// Columns of the network's input: x (2) and γ(t).
    pub fn input_width(&self) -> usize {
        2 + self.fourier.width()
    }

    /// c_in(t) = 1/√(m(t)² + s(t)²).
    pub fn c_in(&self, t: f64) -> f64 {
        let (m, s) = self.sde.marginal(t);
        1.0 / (m * m + s * s).sqrt()
    }

    /// λ(t)/s(t)², the factor in front of ‖ε̂ − z‖².
    pub fn weight(&self, t: f64) -> f64 {
        match self.weighting {
            Weighting::Sigma2 => 1.0,
            Weighting::Likelihood => self.sde.g2(t) / self.sde.marginal(t).1.powi(2),
        }
    }

    /// Draws `batch` triples (x_0 from `data`, t ~ U(t_min, 1), z ~ N(0, I)): network input rows
    /// (c_in x_t, γ(t)), the target z and the weight λ(t)/s(t)².
    pub fn draw(&self, fourier: &Fourier, data: &[[f32; 2]], batch: usize, rng: &mut Rng) -> EpsBatch {
        let width = self.input_width();
        let t_min = self.sde.t_min();
        let mut input = Vec::with_capacity(batch * width);
        let mut eps = Vec::with_capacity(batch * 2);
        let mut weight = Vec::with_capacity(batch);
        for _ in 0..batch {
            let x_0 = data[rng.below(data.len())];
            let t = t_min + (1.0 - t_min) * rng.uniform();
            let z = [rng.normal(), rng.normal()];
            let (m, s) = self.sde.marginal(t);
            let c_in = self.c_in(t);
            input.extend((0..2).map(|d| (c_in * (m * x_0[d] as f64 + s * z[d])) as f32));
            input.extend(fourier.embed(self.noise_input(t)));
            eps.extend(z.map(|v| v as f32));
            weight.push(self.weight(t) as f32);
        }
        let weight = (self.weighting != Weighting::Sigma2).then_some(weight);
        EpsBatch { input, width, eps, weight, batch }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The likelihood weighting's factor g²/s² in closed form: for VP it is β(t)/(1 − e^{−B(t)}),
    /// and for VP, VE and the DDPM chain it equals −2 dλ/dt (λ = log(m/s)), the identity behind
    /// log-SNR t-sampling. A wrong g² (a missing √, VE's ln factor) fails one of them.
    #[test]
    fn the_likelihood_weight_is_its_closed_form() {
        for sde in [Sde::vp(), Sde::ve(10.0), Sde::ddpm(&crate::schedule::ScheduleConfig::default())] {
            let config = ScoreConfig { weighting: Weighting::Likelihood, ..ScoreConfig::new(sde) };
            for t in [0.0123, 0.2345, 0.5555, 0.9011] {
                let h = 1e-6;
                let slope = (sde.log_snr(t + h) - sde.log_snr(t - h)) / (2.0 * h);
                let weight = config.weight(t);
                assert!((weight + 2.0 * slope).abs() < 1e-4 * weight, "{sde:?} t {t}: {weight} vs {}", -2.0 * slope);
                if sde == Sde::vp() {
                    let (beta, big_b) = (0.1 + t * 19.9, 0.1 * t + 0.5 * t * t * 19.9);
                    assert!((weight - beta / (1.0 - (-big_b).exp())).abs() < 1e-9 * weight, "t {t}");
                }
            }
        }
    }

    /// Log-SNR draws are uniform in λ: on VP that is the density ∝ g²/s² = β/s², so the share of
    /// draws below t matches ∫_{t_min}^t β/s² over ∫_{t_min}^1 β/s².
    #[test]
    fn log_snr_sampling_follows_the_likelihood_weighting() {
        let (sde, t_min) = (Sde::vp(), 1e-5);
        let mut rng = Rng::new(0);
        let draws: Vec<f64> = (0..20_000).map(|_| TimeSampling::LogSnr.draw(&sde, t_min, &mut rng)).collect();
        assert!(draws.iter().all(|t| (t_min..=1.0).contains(t)));
        let weight = |t: f64| sde.g2(t) / sde.marginal(t).1.powi(2);
        // ∫ by the trapezoid rule on a log grid in t.
        let integral = |a: f64, b: f64| {
            let n = 20_000;
            let ts: Vec<f64> = (0..=n).map(|i| a * (b / a).powf(i as f64 / n as f64)).collect();
            ts.windows(2).map(|w| 0.5 * (weight(w[0]) + weight(w[1])) * (w[1] - w[0])).sum::<f64>()
        };
        let total = integral(t_min, 1.0);
        for t in [1e-4, 1e-3, 1e-2, 0.1, 0.5] {
            let share = draws.iter().filter(|&&d| d < t).count() as f64 / draws.len() as f64;
            let want = integral(t_min, t) / total;
            assert!((share - want).abs() < 0.015, "t {t}: {share} vs {want}");
        }
        let mixed: Vec<f64> = (0..20_000).map(|_| TimeSampling::Mixed.draw(&sde, t_min, &mut rng)).collect();
        let above = mixed.iter().filter(|&&d| d > 0.5).count() as f64 / mixed.len() as f64;
        let log_above = draws.iter().filter(|&&d| d > 0.5).count() as f64 / draws.len() as f64;
        assert!((above - (0.5 * 0.5 + 0.5 * log_above)).abs() < 0.015, "{above}");
    }

    #[test]
    fn batches_are_well_formed() {
        for sde in [Sde::vp(), Sde::sub_vp(), Sde::ve(10.0)] {
            let mut config = ScoreConfig::new(sde);
            let fourier = config.fourier.init().unwrap();
            let data = [[1.0f32, -1.0]];
            let batch = config.draw(&fourier, &data, 64, &mut Rng::new(0));
            assert_eq!((batch.input.len(), batch.eps.len(), batch.width), (64 * 34, 128, 34));
            assert!(batch.weight.is_none() && batch.input.iter().all(|v| v.is_finite()));
            config.weighting = Weighting::Likelihood;
            let batch = config.draw(&fourier, &data, 64, &mut Rng::new(0));
            assert!(batch.weight.unwrap().iter().all(|w| w.is_finite() && *w > 0.0));
        }
        // VP keeps unit variance, so c_in = 1; VE scales its inputs down by up to σ_max.
        assert!((ScoreConfig::new(Sde::vp()).c_in(0.6) - 1.0).abs() < 1e-12);
        assert!((ScoreConfig::new(Sde::ve(10.0)).c_in(1.0) - 1.0 / 101f64.sqrt()).abs() < 1e-3);
    }

    /// The log-SNR time input keeps small t apart (10⁻⁵ and 10⁻³ differ by two thirds of the gap
    /// between 10⁻³ and 10⁻¹; under t by a hundredth),
    /// stays in a range Fourier features of scale 16 resolve, and files without the field read as t.
    #[test]
    fn log_snr_time_input_spreads_small_t() {
        let t_input = ScoreConfig::new(Sde::vp());
        let config = ScoreConfig { time_input: TimeInput::LogSnr, ..t_input.clone() };
        assert_eq!(t_input.noise_input(0.3), 0.3);
        let c = |t: f64| config.noise_input(t);
        let (a, b) = (c(1e-3) - c(1e-5), c(1e-1) - c(1e-3));
        assert!(a > 0.14 && (0.6..0.75).contains(&(a / b)), "{a} {b}");
        let ratio_t = (t_input.noise_input(1e-3) - t_input.noise_input(1e-5)) / (0.1 - 1e-3);
        assert!(ratio_t < 0.011, "{ratio_t}");
        assert!((-0.2..0.0).contains(&c(1e-7)) && (0.7..0.9).contains(&c(1.0)), "{} {}", c(1e-7), c(1.0));
        let old = r#"{"sde":{"kind":"vp","beta_min":0.1,"beta_max":20.0},"fourier":{"frequencies":16,"scale":16.0,"seed":0},"weighting":"sigma2"}"#;
        let read: ScoreConfig = serde_json::from_str(old).unwrap();
        assert_eq!(read.time_input, TimeInput::T);
        assert_eq!(TimeInput::named("log-snr"), Some(TimeInput::LogSnr));
    }
}
