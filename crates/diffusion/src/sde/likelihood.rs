//! Exact likelihood through the probability-flow ODE (Song et al. 2021, appendix D.2): along
//! dx/dt = ṽ(x, t) = f(x, t) − ½ g(t)² s(x, t), the log-density obeys d log p_t(x_t)/dt = −∇·ṽ, so
//!   log p_{t_min}(x) = log p_1(x_1) + ∫_{t_min}^1 ∇·ṽ(x_t, t) dt,
//! with x_t the ODE solution started at x. The divergence is exact (one autodiff pass per
//! dimension) or Hutchinson's estimate E_z[zᵀ (∂ṽ/∂x) z] with Rademacher or Gaussian probes.

use burn::prelude::*;

use crate::rng::Rng;
use crate::sde::Sde;
use crate::sde::ode::pf_drift;
use crate::sde::score::ScoreModel;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Divergence {
    Exact,
    Hutchinson { probes: usize, rademacher: bool },
}

/// ∇·ṽ(x, t) for each row: [n], with fresh probes. The score must be built from tensor ops on x
/// (autodiff sees it).
pub fn divergence(
    model: &impl ScoreModel,
    sde: &Sde,
    x: Tensor<2>,
    t: f64,
    how: Divergence,
    rng: &mut Rng,
) -> Tensor<1> {
    let (probes, scale) = probes(how, x.dims(), &x.device(), rng);
    drift_and_divergence(model, sde, x, t, &probes, scale).1
}

/// The vectors w_k of the divergence estimate Σ_k w_kᵀ (∂ṽ/∂x) w_k · scale: the unit vectors
/// (exact, scale 1) or Rademacher/Gaussian probes (Hutchinson, scale 1/probes).
fn probes(how: Divergence, [n, dim]: [usize; 2], device: &Device, rng: &mut Rng) -> (Vec<Tensor<2>>, f64) {
    match how {
        Divergence::Exact => (
            (0..dim)
                .map(|d| {
                    let mut e = vec![0.0f32; n * dim];
                    (0..n).for_each(|i| e[i * dim + d] = 1.0);
                    Tensor::from_data(TensorData::new(e, [n, dim]), device)
                })
                .collect(),
            1.0,
        ),
        Divergence::Hutchinson { probes, rademacher } => (
            (0..probes.max(1))
                .map(|_| {
                    let z: Vec<f32> = if rademacher {
                        (0..n * dim).map(|_| if rng.uniform() < 0.5 { -1.0 } else { 1.0 }).collect()
                    } else {
                        rng.normals(n * dim)
                    };
                    Tensor::from_data(TensorData::new(z, [n, dim]), device)
                })
                .collect(),
            1.0 / probes.max(1) as f64,
        ),
    }
}

/// Where the RK4 steps from t_min to 1 fall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    /// Evenly in t.
    Uniform,
    /// Evenly in the log signal-to-noise ratio λ(t) = log(m(t)/s(t)) of the perturbation kernel
    /// N(m x_0, s² I). The flow is stiffest near t_min, where s is smallest (VP: s² ≈ β_min t),
    /// and this grid puts short steps there while keeping enough near t = 1, where VP's drift
    /// −½β(t) x is largest (for VP, t_min = 10⁻³ and 100 steps, the first step is ~10⁻⁴ long
    /// instead of 10⁻²). For VE, λ = −log s.
    LogSnr,
}

impl Grid {
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "uniform" => Some(Grid::Uniform),
            "log-snr" => Some(Grid::LogSnr),
            _ => None,
        }
    }

    /// t_min = t_0 < t_1 < … < t_steps = t_max (1, or the flow path's 1 − 10⁻³).
    pub fn times(self, sde: &Sde, t_min: f64, steps: usize) -> Vec<f64> {
        let (steps, t_max) = (steps.max(1), sde.t_max());
        match self {
            Grid::Uniform => (0..=steps).map(|i| t_min + (t_max - t_min) * i as f64 / steps as f64).collect(),
            Grid::LogSnr => {
                let (lo, hi) = (sde.log_snr(t_min), sde.log_snr(t_max));
                (0..=steps)
                    .map(|i| match i {
                        0 => t_min,
                        i if i == steps => t_max,
                        i => sde.time_at_log_snr(lo + (hi - lo) * i as f64 / steps as f64, t_min),
                    })
                    .collect()
            }
        }
    }
}

/// ṽ(x, t) and the divergence estimate Σ_k w_kᵀ (∂ṽ/∂x) w_k · scale from one autodiff pass per
/// probe w_k (the drift is read off the first pass, so it costs no extra evaluation).
fn drift_and_divergence(
    model: &impl ScoreModel,
    sde: &Sde,
    x: Tensor<2>,
    t: f64,
    probes: &[Tensor<2>],
    scale: f64,
) -> (Tensor<2>, Tensor<1>) {
    let mut drift = None;
    let divergence = probes
        .iter()
        .map(|w| {
            let x = x.clone().detach().autodiff().require_grad();
            let v = pf_drift(model, sde, x.clone(), t);
            let grads = (v.clone() * w.clone()).sum().backward();
            drift.get_or_insert_with(|| v.inner());
            (x.grad(&grads).expect("x is tracked") * w.clone()).sum_dim(1)
        })
        .reduce(|a, b| a + b)
        .expect("at least one probe")
        .mul_scalar(scale)
        .reshape([-1]);
    (drift.expect("at least one probe"), divergence)
}

/// The ODE carried from t_min to 1: the end point x_1 and ∫ ∇·ṽ dt, per row.
pub struct Flow {
    pub x_1: Tensor<2>,
    pub integral: Tensor<1>,
    /// Network passes used (a forward and a backward pass count as one).
    pub nfe: usize,
}

impl Flow {
    /// log p_{t_min}(x) under the model: the SDE's prior at x_1 plus the integral, in nats.
    pub fn log_likelihood(&self, sde: &Sde) -> Tensor<1> {
        sde.prior_log_prob(self.x_1.clone()) + self.integral.clone()
    }
}

/// Integrates the augmented ODE (x, ∫∇·ṽ) forward with RK4 steps between consecutive `times`
/// (from `Grid::times`: t_min, …, 1).
/// Hutchinson's probes are drawn once per row and kept for the whole trajectory (as Song et al.
/// do), so the integrand is a smooth function of t that RK4 converges on; the estimate of
/// log p stays unbiased.
pub fn flow(model: &impl ScoreModel, sde: &Sde, x: Tensor<2>, times: &[f64], how: Divergence, seed: u64) -> Flow {
    let mut run = FlowRun::new(x, times, how, seed);
    while !run.done() {
        run.step(model, sde);
    }
    run.flow
}

/// [`flow`] one RK4 step at a time, for callers that must yield between steps (the page's worker).
pub struct FlowRun {
    flow: Flow,
    probes: Vec<Tensor<2>>,
    scale: f64,
    times: Vec<f64>,
    /// The steps taken: the ODE is at `times[taken]`.
    taken: usize,
}

impl FlowRun {
    /// The ODE at t_min = `times[0]`, with x and ∫∇·ṽ = 0 (probes drawn from `seed`).
    pub fn new(x: Tensor<2>, times: &[f64], how: Divergence, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let [n, _] = x.dims();
        let device = x.device();
        let (probes, scale) = probes(how, x.dims(), &device, &mut rng);
        let integral = Tensor::<1>::zeros([n], &device);
        Self { flow: Flow { x_1: x, integral, nfe: 0 }, probes, scale, times: times.to_vec(), taken: 0 }
    }

    /// One RK4 step from `times[taken]` to the next time: x += h (k₁ + 2k₂ + 2k₃ + k₄)/6, and the
    /// same weights on the divergences.
    pub fn step(&mut self, model: &impl ScoreModel, sde: &Sde) {
        if self.done() {
            return;
        }
        let (t, h) = (self.times[self.taken], self.times[self.taken + 1] - self.times[self.taken]);
        let (probes, scale) = (&self.probes, self.scale);
        let mut nfe = 0;
        let mut stage = |x: Tensor<2>, t: f64| {
            nfe += probes.len();
            drift_and_divergence(model, sde, x, t, probes, scale)
        };
        let x = self.flow.x_1.clone();
        let (k1, d1) = stage(x.clone(), t);
        let (k2, d2) = stage(x.clone() + k1.clone().mul_scalar(0.5 * h), t + 0.5 * h);
        let (k3, d3) = stage(x.clone() + k2.clone().mul_scalar(0.5 * h), t + 0.5 * h);
        let (k4, d4) = stage(x.clone() + k3.clone().mul_scalar(h), t + h);
        self.flow.x_1 = x + (k1 + k2.mul_scalar(2.0) + k3.mul_scalar(2.0) + k4).mul_scalar(h / 6.0);
        let d = (d1 + d2.mul_scalar(2.0) + d3.mul_scalar(2.0) + d4).mul_scalar(h / 6.0);
        self.flow.integral = self.flow.integral.clone() + d;
        self.flow.nfe += nfe;
        self.taken += 1;
    }

    /// Whether the ODE has reached the last time (1).
    pub fn done(&self) -> bool {
        self.taken + 1 >= self.times.len()
    }

    /// (steps taken, steps in all).
    pub fn progress(&self) -> (usize, usize) {
        (self.taken, self.times.len().saturating_sub(1))
    }

    /// The flow so far (complete once [`done`](Self::done)).
    pub fn flow(&self) -> &Flow {
        &self.flow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sde::mixture::Mixture;
    use crate::sde::score::MixtureScore;

    fn values(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec().unwrap()
    }

    /// Under the exact score, the ODE's log-density equals the mixture's closed form: with the
    /// exact p_1 at the end point to 5e-3 nats (measured < 1e-4), and with the SDE's prior to
    /// within the prior's own approximation error.
    #[test]
    fn likelihood_of_an_analytic_mixture_is_its_density() {
        let device = Device::flex();
        let mixture = Mixture::anisotropic();
        let (points, _) = mixture.sample(24, &mut Rng::new(3));
        let x = Tensor::<2>::from_data(TensorData::new(points.concat(), [24, 2]), &device);
        // Each SDE from its own t_min on both grids, and VP from 10⁻⁵ (a model trained that low).
        let cases = [Sde::ve(10.0), Sde::vp(), Sde::sub_vp()]
            .into_iter()
            .flat_map(|sde| [(sde, Grid::Uniform, sde.t_min()), (sde, Grid::LogSnr, sde.t_min())])
            .chain([(Sde::vp(), Grid::LogSnr, 1e-5)]);
        for (sde, grid, t_min) in cases {
            let model = MixtureScore { mixture: &mixture, sde: &sde };
            let want = values(mixture.log_prob(&sde, x.clone(), t_min));
            let flow = flow(&model, &sde, x.clone(), &grid.times(&sde, t_min, 100), Divergence::Exact, 0);
            // The prior's own error: VP's N(0, I) misses e^{−B(1)/2} μ ≈ 0.007 μ; VE's N(0, σ_max²)
            // misses μ and Σ against σ_max = 10 (measured up to 0.11 nats here).
            let prior_tolerance = if matches!(sde, Sde::Ve { .. }) { 0.15 } else { 0.01 };
            let exact_end = values(mixture.log_prob(&sde, flow.x_1.clone(), 1.0) + flow.integral.clone());
            let with_prior = values(flow.log_likelihood(&sde));
            for i in 0..24 {
                assert!(
                    (exact_end[i] - want[i]).abs() < 5e-3,
                    "{sde:?} {grid:?} row {i}: {} vs {}",
                    exact_end[i],
                    want[i]
                );
                assert!(
                    (with_prior[i] - want[i]).abs() < prior_tolerance,
                    "{sde:?} row {i}: {} vs {}",
                    with_prior[i],
                    want[i]
                );
            }
        }
    }

    /// Both grids run from t_min to 1 in increasing steps; the log-SNR grid's λ(t) is evenly
    /// spaced and its first step is far shorter than the uniform grid's.
    #[test]
    fn grids_span_t_min_to_1_and_log_snr_is_even_in_lambda() {
        for sde in [Sde::ve(10.0), Sde::vp(), Sde::sub_vp()] {
            for grid in [Grid::Uniform, Grid::LogSnr] {
                let t = grid.times(&sde, sde.t_min(), 50);
                assert_eq!(t.len(), 51);
                assert_eq!((t[0], t[50]), (sde.t_min(), 1.0));
                assert!(t.windows(2).all(|w| w[1] > w[0]), "{sde:?} {grid:?}");
            }
            let t = Grid::LogSnr.times(&sde, sde.t_min(), 50);
            let lambda: Vec<f64> = t.iter().map(|&t| sde.log_snr(t)).collect();
            let even = (lambda[50] - lambda[0]) / 50.0;
            assert!(lambda.windows(2).all(|w| (w[1] - w[0] - even).abs() < 1e-6 * even.abs()), "{sde:?}");
            assert!(t[1] - t[0] < 0.1 * (1.0 - sde.t_min()) / 50.0, "{sde:?}: first step {}", t[1] - t[0]);
        }
    }

    /// Stepped a step at a time (as the page does), the run counts its steps, is done at t = 1,
    /// spends 4 stages × 2 exact probes per step, and a step past the end changes nothing.
    #[test]
    fn a_flow_run_steps_to_t_max_and_then_stays() {
        let device = Device::flex();
        let mixture = Mixture::circle(8, 4.0, 0.3);
        let sde = Sde::vp();
        let model = MixtureScore { mixture: &mixture, sde: &sde };
        let x = Tensor::<2>::from_floats([[3.5, 0.5], [0.0, -4.2]], &device);
        let times = Grid::LogSnr.times(&sde, sde.t_min(), 6);
        let mut run = FlowRun::new(x, &times, Divergence::Exact, 0);
        for taken in 0..6 {
            assert_eq!((run.progress(), run.done()), ((taken, 6), false));
            run.step(&model, &sde);
        }
        assert_eq!((run.progress(), run.done(), run.flow().nfe), ((6, 6), true, 6 * 4 * 2));
        let end = values(run.flow().log_likelihood(&sde));
        run.step(&model, &sde);
        assert_eq!((values(run.flow().log_likelihood(&sde)), run.flow().nfe), (end, 48));
    }

    /// Hutchinson's estimator is unbiased: averaged over many probes it matches the exact divergence.
    #[test]
    fn hutchinson_matches_the_exact_divergence() {
        let device = Device::flex();
        let mixture = Mixture::circle(8, 4.0, 0.3);
        let sde = Sde::vp();
        let model = MixtureScore { mixture: &mixture, sde: &sde };
        let x = Tensor::<2>::from_floats([[3.5, 0.5], [0.0, -4.2], [1.0, 1.0]], &device);
        let exact = values(divergence(&model, &sde, x.clone(), 0.3, Divergence::Exact, &mut Rng::new(0)));
        for rademacher in [true, false] {
            let how = Divergence::Hutchinson { probes: 4000, rademacher };
            let estimate = values(divergence(&model, &sde, x.clone(), 0.3, how, &mut Rng::new(1)));
            for (e, h) in exact.iter().zip(&estimate) {
                assert!((e - h).abs() < 0.05 * (1.0 + e.abs()), "rademacher {rademacher}: {h} vs exact {e}");
            }
        }
    }

    /// Two isotropic Gaussians in 16-D, N(±μ, σ² I), perturbed by `sde`: score built from tensor ops.
    struct Mixture16 {
        sde: Sde,
        mu: Tensor<2>,
        sigma: f64,
    }

    impl ScoreModel for Mixture16 {
        fn score(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
            let (m, s) = self.sde.marginal(t);
            let v = m * m * self.sigma * self.sigma + s * s;
            let mean = self.mu.clone().mul_scalar(m);
            // Responsibilities of the two components (equal weights): softmax of −‖x ∓ mμ‖²/(2v).
            let d_plus = (x.clone() - mean.clone()).square().sum_dim(1).mul_scalar(-0.5 / v);
            let d_minus = (x.clone() + mean.clone()).square().sum_dim(1).mul_scalar(-0.5 / v);
            let r = burn::tensor::activation::softmax(Tensor::cat(vec![d_plus, d_minus], 1), 1);
            let r_plus = r.clone().narrow(1, 0, 1).mul_scalar(2.0).sub_scalar(1.0);
            // Σ r_k (mμ_k − x)/v with μ_± = ±μ.
            (mean * r_plus - x).div_scalar(v)
        }
    }

    /// In 16-D, Hutchinson's estimate is unbiased: the mean of many single-probe estimates is within
    /// 4 standard errors of the exact divergence (16 autodiff passes), for both probe kinds.
    #[test]
    fn hutchinson_is_unbiased_in_16_dimensions() {
        let device = Device::flex();
        let dim = 16;
        let mut rng = Rng::new(9);
        let mu: Vec<f32> = (0..dim).map(|i| if i % 2 == 0 { 1.0 } else { -0.5 }).collect();
        let model =
            Mixture16 { sde: Sde::vp(), mu: Tensor::from_data(TensorData::new(mu, [1, dim]), &device), sigma: 0.4 };
        let x = Tensor::<2>::from_data(TensorData::new(rng.normals(3 * dim), [3, dim]), &device);
        let exact = values(divergence(&model, &model.sde, x.clone(), 0.2, Divergence::Exact, &mut rng));
        for rademacher in [true, false] {
            let draws = 2000;
            let estimates: Vec<Vec<f32>> = (0..draws)
                .map(|_| {
                    values(divergence(
                        &model,
                        &model.sde,
                        x.clone(),
                        0.2,
                        Divergence::Hutchinson { probes: 1, rademacher },
                        &mut rng,
                    ))
                })
                .collect();
            for (row, e) in exact.iter().enumerate() {
                let column: Vec<f64> = estimates.iter().map(|v| v[row] as f64).collect();
                let mean = column.iter().sum::<f64>() / draws as f64;
                let sd = (column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (draws - 1) as f64).sqrt();
                let se = sd / (draws as f64).sqrt();
                assert!(se > 0.0, "the estimator must actually vary");
                assert!((mean - *e as f64).abs() < 4.0 * se, "rademacher {rademacher} row {row}: {mean} ± {se} vs {e}");
            }
        }
    }
}
