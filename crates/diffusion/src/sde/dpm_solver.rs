//! DPM-Solver++(2M) (Lu et al. 2022, arXiv 2211.01095, Algorithm 2): a second-order multistep
//! solver of the probability-flow ODE in the data prediction x̂₀ = (x + s(t)² ∇log p_t)/m(t) and
//! the half-log-SNR λ(t) = log(m(t)/s(t)). With h_i = λ_i − λ_{i−1}:
//!   x_i = (s_i/s_{i−1}) x_{i−1} − m_i (e^{−h_i} − 1) D_i,
//!   D_1 = x̂₀(x_0, t_0);  D_i = (1 + 1/(2r_i)) x̂₀_{i−1} − 1/(2r_i) x̂₀_{i−2},  r_i = h_{i−1}/h_i.
//! One score evaluation per step.

use burn::prelude::*;

use crate::sde::Sde;
use crate::sde::score::ScoreModel;

/// x̂₀ of a score model at (x, t) (Tweedie's formula).
pub fn x0_hat(model: &impl ScoreModel, sde: &Sde, x: Tensor<2>, t: f64) -> Tensor<2> {
    sde.x0_from_score(x.clone(), model.score(x, t), t)
}

/// One step from t to t_next given this step's x̂₀ and the previous step's (t_prev, x̂₀) if any.
pub fn step(
    sde: &Sde,
    x: Tensor<2>,
    t: f64,
    t_next: f64,
    x0: Tensor<2>,
    previous: Option<(f64, Tensor<2>)>,
) -> Tensor<2> {
    let (m_next, s_next) = sde.marginal(t_next);
    let (_, s) = sde.marginal(t);
    let lambda = |t| sde.log_snr(t);
    let h = lambda(t_next) - lambda(t);
    let d = match previous {
        None => x0,
        Some((t_prev, x0_prev)) => {
            let r = (lambda(t) - lambda(t_prev)) / h;
            x0.mul_scalar(1.0 + 0.5 / r) - x0_prev.mul_scalar(0.5 / r)
        }
    };
    x.mul_scalar(s_next / s) - d.mul_scalar(m_next * ((-h).exp() - 1.0))
}

#[cfg(test)]
mod tests {
    use crate::sde::Sde;
    use crate::sde::mixture::Mixture;
    use crate::sde::sampler::{Method, SdeSampler, grid};
    use crate::sde::score::MixtureScore;
    use burn::prelude::*;

    /// On a grid far from uniform in λ (step lengths cycling through 1, 2, 4, so r = ½, ½ or 4),
    /// DPM-Solver++(2M) with the exact score converges to a 1000-step RK4 solution of the same
    /// probability-flow ODE from the same start at second order (doubling the steps cuts the mean
    /// error by more than 3×, where a first-order rule gives 2×), and beats the first-order solver
    /// on the same grid (DDIM, η = 0). Ignoring r (the uniform-grid formula) makes it first order
    /// (measured 0.035 → 0.018); an inverted r does not show here (see the next test).
    #[test]
    fn dpm_solver_matches_a_reference_ode_solution_on_a_non_uniform_grid() {
        let device = Device::flex();
        let mixture = Mixture::circle(8, 4.0, 0.3);
        let sde = Sde::vp();
        let model = MixtureScore { mixture: &mixture, sde: &sde };
        let n = 200;
        let run = |method: Method, times: Vec<f64>| -> Vec<f32> {
            let sampler = SdeSampler::on_grid(method, sde, times, n, 2, 8, &device).unwrap();
            sampler.run(&model).into_data().try_into_vec().unwrap()
        };
        let reference = run(Method::OdeRk4, grid(Method::DpmSolver2M, &sde, 1000));
        let (lo, hi) = (sde.log_snr(1.0), sde.log_snr(sde.t_min()));
        let alternating = |steps: usize| -> Vec<f64> {
            let mut lambdas = vec![0.0];
            (0..steps).for_each(|i| lambdas.push(lambdas[i] + [1.0, 2.0, 4.0][i % 3]));
            let total = lambdas[steps];
            lambdas.iter().map(|l| sde.time_at_log_snr(lo + (hi - lo) * l / total, sde.t_min())).collect()
        };
        let error = |x: &[f32]| x.iter().zip(&reference).map(|(a, b)| (a - b).abs()).sum::<f32>() / x.len() as f32;
        let (coarse, fine) =
            (error(&run(Method::DpmSolver2M, alternating(42))), error(&run(Method::DpmSolver2M, alternating(84))));
        let first_order = error(&run(Method::Ddim { eta: 0.0 }, alternating(42)));
        assert!(coarse / fine > 3.0, "DPM-Solver++(2M) error {coarse} → {fine} when the steps double");
        assert!(first_order > 3.0 * coarse, "first order {first_order} vs DPM-Solver++(2M) {coarse}");
        assert!(fine < 0.01, "{fine}");
    }

    /// One step by hand (Lu et al. Algorithm 2): with x = 0, x̂₀ = 1 and the previous x̂₀ = 0,
    /// x_next = −m' (e^{−h} − 1) (1 + 1/(2r)), r = h_{i−1}/h_i; an inverted r, which the ODE test
    /// above cannot tell apart, fails here.
    #[test]
    fn one_step_is_the_papers_formula() {
        let device = Device::flex();
        let sde = Sde::vp();
        let (t_prev, t, t_next) = (0.8, 0.5, 0.45);
        let (h_prev, h) = (sde.log_snr(t) - sde.log_snr(t_prev), sde.log_snr(t_next) - sde.log_snr(t));
        let one = Tensor::<2>::ones([1, 2], &device);
        let x = super::step(&sde, one.zeros_like(), t, t_next, one.clone(), Some((t_prev, one.zeros_like())));
        let got: f32 = x.narrow(1, 0, 1).into_scalar();
        let want = -sde.marginal(t_next).0 * ((-h).exp() - 1.0) * (1.0 + h / (2.0 * h_prev));
        assert!((got as f64 - want).abs() < 1e-5 * want.abs(), "{got} vs {want}");
    }
}
