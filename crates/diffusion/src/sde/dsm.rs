//! Denoising score matching on continuous time (Song et al. 2021, eq. 7):
//!   θ* = argmin E_t { λ(t) E_{x_0} E_{x_t | x_0} ‖s_θ(x_t, t) − ∇ log p_{0t}(x_t | x_0)‖² },
//! t ~ U(t_min, 1), x_t = m(t) x_0 + s(t) z, ∇ log p_{0t} = −z/s(t). The network predicts
//! ε̂(x_t, t) and s_θ = −ε̂/s(t), so with λ = s(t)² the loss is ‖ε̂ − z‖² (the DDPM form), and with
//! the likelihood weighting λ = g(t)² (Song et al. 2021b) it is (g²/s²)‖ε̂ − z‖².
//! The network sees c_in(t) x_t with c_in = 1/√(m² + s²) (EDM's input scaling for data of unit
//! variance; 1 for VP) and the Fourier features γ(t).
//!
//! Flow matching (Lipman et al. 2023; Liu et al. 2023, rectified flow) is the same draw with a
//! velocity network: on the path x_t = m x_0 + s z it regresses u = ṁ x_0 + ṡ z (on the flow
//! path, z − x_0), whose conditional mean is the PF-ODE velocity. Reflow trains on pairs
//! (x_0, z) coupled by a first model's ODE instead of independent draws.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::fourier::{Fourier, FourierConfig};
use crate::rng::Rng;
use crate::sde::Sde;

/// One minibatch of a denoiser's objective, built on the host from a seeded source.
pub struct DenoiserBatch {
    /// Network input, rows of `width` (DDPM: (x_t, y_t, t̄); DSM: (c_in x_t, γ(t))): [batch · width].
    pub input: Vec<f32>,
    pub width: usize,
    /// What the network regresses: the noise ε that made x_t, or for a velocity network the
    /// path's velocity u = ṁ x_0 + ṡ ε: [batch · 2].
    pub target: Vec<f32>,
    /// Per-row weight of ‖ε̂ − ε‖² (`None`: all 1).
    pub weight: Option<Vec<f32>>,
    pub batch: usize,
}

impl DenoiserBatch {
    /// (input [batch, width], target [batch, 2], weight [batch]) on `device`.
    pub fn tensors(&self, device: &Device) -> (Tensor<2>, Tensor<2>, Option<Tensor<1>>) {
        let input = Tensor::from_data(TensorData::new(self.input.clone(), [self.batch, self.width]), device);
        let target = Tensor::from_data(TensorData::new(self.target.clone(), [self.batch, 2]), device);
        let weight = self.weight.as_ref().map(|w| Tensor::from_data(TensorData::new(w.clone(), [self.batch]), device));
        (input, target, weight)
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

/// What a continuous-time network outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prediction {
    /// ε̂(x_t, t), the noise (the score is −ε̂/s).
    #[default]
    Eps,
    /// The PF-ODE velocity v̂(x_t, t) ≈ E[ṁ x_0 + ṡ z | x_t] (flow matching). From x = m x̂₀ + s ε̂
    /// and v̂ = ṁ x̂₀ + ṡ ε̂: ε̂ = (m v̂ − ṁ x)/(m ṡ − s ṁ); on the flow path ε̂ = x + (1 − t) v̂.
    Velocity,
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
    #[serde(default, skip_serializing_if = "is_eps")]
    pub prediction: Prediction,
}

fn is_eps(prediction: &Prediction) -> bool {
    *prediction == Prediction::Eps
}

impl ScoreConfig {
    pub fn new(sde: Sde) -> Self {
        Self {
            sde,
            fourier: FourierConfig::default(),
            weighting: Weighting::Sigma2,
            time_input: TimeInput::T,
            prediction: Prediction::Eps,
        }
    }

    /// Conditional flow matching on the rectified-flow path: a velocity network, plain loss.
    pub fn flow_matching() -> Self {
        Self { prediction: Prediction::Velocity, ..Self::new(Sde::Flow) }
    }

    /// ε̂ from the network's output at (x, t): itself, or from a velocity (see [`Prediction`]).
    pub fn eps_from_output(&self, x: Tensor<2>, out: Tensor<2>, t: f64) -> Tensor<2> {
        match self.prediction {
            Prediction::Eps => out,
            Prediction::Velocity => {
                let ((m, s), (dm, ds)) = (self.sde.marginal(t), self.sde.marginal_rate(t));
                let det = m * ds - s * dm;
                (out.mul_scalar(m) - x.mul_scalar(dm)).div_scalar(det)
            }
        }
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
        if self.prediction == Prediction::Velocity && self.weighting != Weighting::Sigma2 {
            return Err(Error::Config(
                "a velocity network (flow matching) trains with the plain loss: --weighting sigma2".into(),
            ));
        }
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

    /// Draws `batch` triples (x_0 from `data`, t ~ U(t_min, 1), z ~ N(0, I), or with `coupling`
    /// the z paired with that x_0): network input rows (c_in x_t, γ(t)), the target (z, or the
    /// velocity ṁ x_0 + ṡ z) and the weight λ(t)/s(t)².
    pub fn draw(
        &self,
        fourier: &Fourier,
        data: &[[f32; 2]],
        coupling: Option<&[[f32; 2]]>,
        batch: usize,
        rng: &mut Rng,
    ) -> DenoiserBatch {
        let width = self.input_width();
        let t_min = self.sde.t_min();
        let mut input = Vec::with_capacity(batch * width);
        let mut target = Vec::with_capacity(batch * 2);
        let mut weight = Vec::with_capacity(batch);
        for _ in 0..batch {
            let i = rng.below(data.len());
            let x_0 = data[i];
            let t = t_min + (1.0 - t_min) * rng.uniform();
            let z = match coupling {
                Some(noise) => noise[i].map(f64::from),
                None => [rng.normal(), rng.normal()],
            };
            let (m, s) = self.sde.marginal(t);
            let c_in = self.c_in(t);
            input.extend((0..2).map(|d| (c_in * (m * x_0[d] as f64 + s * z[d])) as f32));
            input.extend(fourier.embed(self.noise_input(t)));
            match self.prediction {
                Prediction::Eps => target.extend(z.map(|v| v as f32)),
                Prediction::Velocity => {
                    let (dm, ds) = self.sde.marginal_rate(t);
                    target.extend((0..2).map(|d| (dm * x_0[d] as f64 + ds * z[d]) as f32));
                }
            }
            weight.push(self.weight(t) as f32);
        }
        let weight = (self.weighting != Weighting::Sigma2).then_some(weight);
        DenoiserBatch { input, width, target, weight, batch }
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
            let batch = config.draw(&fourier, &data, None, 64, &mut Rng::new(0));
            assert_eq!((batch.input.len(), batch.target.len(), batch.width), (64 * 34, 128, 34));
            assert!(batch.weight.is_none() && batch.input.iter().all(|v| v.is_finite()));
            config.weighting = Weighting::Likelihood;
            let batch = config.draw(&fourier, &data, None, 64, &mut Rng::new(0));
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

    /// The velocity target on the flow path is u = z − x_0: the input c_in(t) x_t is
    /// c_in(t) (x_0 + t u), whose coefficients on (x_0, u) must agree with c_in at their own t (a
    /// target x_0 − z or z alone fails); and a velocity's ε̂
    /// inverts the exact PF-ODE velocity of a mixture back to −s ∇log p, on the flow path and VP.
    #[test]
    fn velocity_targets_and_their_eps() {
        let config = ScoreConfig::flow_matching();
        let fourier = config.fourier.init().unwrap();
        let x_0 = [1.0f32, -2.0];
        let batch = config.draw(&fourier, &[x_0], None, 256, &mut Rng::new(4));
        for (row, u) in batch.input.chunks(batch.width).zip(batch.target.chunks(2)) {
            // The input is c_in(t) x_t = α x_0 + β u with α = c_in(t), β = c_in(t) t: solve for (α, β).
            let (x, u) = (x_0.map(f64::from), [u[0] as f64, u[1] as f64]);
            let det = x[0] * u[1] - x[1] * u[0];
            let alpha = (row[0] as f64 * u[1] - row[1] as f64 * u[0]) / det;
            let beta = (x[0] * row[1] as f64 - x[1] * row[0] as f64) / det;
            let t = beta / alpha;
            assert!((alpha - config.c_in(t)).abs() < 1e-4, "t {t}: α {alpha} vs c_in {}", config.c_in(t));
            assert!((1e-3 - 1e-6..=1.0 + 1e-6).contains(&t), "t {t}");
        }
        let device = Device::flex();
        let mixture = crate::sde::mixture::Mixture::circle(4, 2.0, 0.3);
        for sde in [Sde::Flow, Sde::vp()] {
            let config = ScoreConfig { prediction: Prediction::Velocity, ..ScoreConfig::new(sde) };
            let x = Tensor::<2>::from_floats([[0.3, 2.0], [-1.0, 0.0]], &device);
            for t in [0.1, 0.5, 0.9] {
                let score = mixture.score(&sde, x.clone(), t);
                let velocity = x.clone().mul_scalar(sde.drift_coef(t)) - score.clone().mul_scalar(0.5 * sde.g2(t));
                let eps = config.eps_from_output(x.clone(), velocity, t);
                let want = score.mul_scalar(-sde.marginal(t).1);
                let gap: f32 = (eps - want).abs().max().into_scalar();
                assert!(gap < 1e-4, "{sde:?} t {t}: ε̂ from the velocity is {gap} off");
            }
        }
        assert!(ScoreConfig { weighting: Weighting::Likelihood, ..ScoreConfig::flow_matching() }.validate().is_err());
    }
}
