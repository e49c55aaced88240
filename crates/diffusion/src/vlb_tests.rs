//! The chain's bound against closed forms and exact models.

use super::*;
use crate::schedule::ScheduleConfig;
use crate::sde::Sde;
use crate::sde::mixture::Mixture;
use crate::sde::score::MixtureScore;

fn column(values: &[f32], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len(), 1]), device)
}

fn host(x: Tensor<2>) -> Vec<f64> {
    x.into_data().try_into_vec::<f32>().unwrap().into_iter().map(f64::from).collect()
}

/// KL(N(μ₁, σ₁²) ‖ N(μ₂, σ₂²)) against a Monte-Carlo mean of log q − log p over 200 000 draws of
/// q (within 5 standard errors), and 0 between equal Gaussians; the NLL against the density.
#[test]
fn normal_kl_and_nll_match_their_definitions() {
    let device = Device::flex();
    let cases = [(0.3f64, 0.5f64, -0.2f64, 1.2f64), (1.0, 0.1, 0.0, 1.0), (-2.0, 2.0, 0.5, 0.3)];
    let mut rng = Rng::new(9);
    for (m1, s1, m2, s2) in cases {
        let f = |v: f64| column(&[v as f32], &device);
        let kl = host(normal_kl(f(m1), f((s1 * s1).ln()), f(m2), f((s2 * s2).ln())))[0];
        let log_n = |x: f64, m: f64, s: f64| -0.5 * ((2.0 * std::f64::consts::PI * s * s).ln() + ((x - m) / s).powi(2));
        let draws: Vec<f64> = (0..200_000)
            .map(|_| {
                let x = m1 + s1 * rng.normal();
                log_n(x, m1, s1) - log_n(x, m2, s2)
            })
            .collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let se = (draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64).sqrt()
            / (draws.len() as f64).sqrt();
        assert!((kl - mean).abs() < 5.0 * se + 1e-5, "{:?}: {kl} vs {mean} ± {se}", (m1, s1, m2, s2));
        let nll = host(normal_nll(f(0.7), f(m2), f((s2 * s2).ln())))[0];
        assert!((nll + log_n(0.7, m2, s2)).abs() < 1e-5, "{nll}");
    }
    let same =
        host(normal_kl(f32_col(0.4, &device), f32_col(-1.0, &device), f32_col(0.4, &device), f32_col(-1.0, &device)));
    assert!(same[0].abs() < 1e-7);
}

fn f32_col(v: f32, device: &Device) -> Tensor<2> {
    column(&[v], device)
}

/// The posterior q(x_{t−1} | x_t, x_0) by Bayes' rule from q(x_t | x_{t−1}) = N(√α_t x_{t−1}, β_t)
/// and q(x_{t−1} | x_0) = N(√ᾱ_{t−1} x_0, 1 − ᾱ_{t−1}): precision α_t/β_t + 1/(1 − ᾱ_{t−1}), and
/// mean = variance · (√α_t x_t/β_t + √ᾱ_{t−1} x_0/(1 − ᾱ_{t−1})). On the linear and the cosine chain.
#[test]
fn the_posterior_is_bayes_rule() {
    for config in [ScheduleConfig::default(), ScheduleConfig::named("cosine", 100, None).unwrap()] {
        let s = config.init().unwrap();
        for t in [2, 3, s.steps / 2, s.steps] {
            let variance = 1.0 / (s.alpha[t] / s.beta[t] + 1.0 / (1.0 - s.alpha_bar[t - 1]));
            let want = (
                variance * s.alpha_bar[t - 1].sqrt() / (1.0 - s.alpha_bar[t - 1]),
                variance * s.alpha[t].sqrt() / s.beta[t],
            );
            let got = s.posterior_mean_coefs(t);
            assert!((s.beta_tilde(t) - variance).abs() < 1e-12 * variance.max(1e-9), "{config:?} t {t}");
            assert!(
                (got.0 - want.0).abs() < 1e-9 && (got.1 - want.1).abs() < 1e-9,
                "{config:?} t {t}: {got:?} vs {want:?}"
            );
        }
        assert_eq!(s.beta_tilde(1), 0.0);
        assert_eq!(s.log_beta_tilde_clipped(1), s.beta_tilde(2).ln());
    }
}

/// The bound of `n` draws of a Gaussian N(μ, σ_d² I) under its exact ε-model on `config`'s chain
/// with `variance`, minus the data's true −log p(x_0): (mean gap, its standard error).
fn gap(config: ScheduleConfig, mean: [f64; 2], std: f64, variance: Variance, n: usize) -> (f64, f64) {
    let device = Device::flex();
    let gaussian = Mixture::new(vec![1.0], vec![mean], vec![[std * std, 0.0, 0.0, std * std]]).unwrap();
    let sde = Sde::ddpm(&config);
    let model = MixtureScore { mixture: &gaussian, sde: &sde };
    let (points, _) = gaussian.sample(n, &mut Rng::new(4));
    let x_0 = Tensor::<2>::from_data(TensorData::new(points.concat(), [n, 2]), &device);
    let log_p: Vec<f32> = gaussian.log_prob(&Sde::ve(10.0), x_0.clone(), 0.0).into_data().try_into_vec().unwrap();
    let bound = chain_bound(&model, &config.init().unwrap(), x_0, variance, 8).unwrap();
    let gaps: Vec<f64> = bound.iter().zip(&log_p).map(|(b, &l)| b + l as f64).collect();
    let m = gaps.iter().sum::<f64>() / n as f64;
    let var = gaps.iter().map(|g| (g - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    (m, (var / n as f64).sqrt())
}

/// For data N(0, I) the chain is stationary and its reverse kernel is exactly N(√α_t x_t, β_t):
/// the exact ε-model with σ² = β makes p_θ's joint q's, and the bound is −log p(x_0) itself
/// (within 4 standard errors of its one-draw-per-step estimate), on a short linear chain and a
/// cosine one. With σ² = β̃ it is not: the gap is far outside the error.
#[test]
fn the_bound_of_an_exact_model_of_n01_is_its_nll() {
    for config in [
        ScheduleConfig::named("linear", 100, Some((4e-4, 0.18))).unwrap(),
        ScheduleConfig::named("cosine", 200, None).unwrap(),
    ] {
        let (g, se) = gap(config, [0.0, 0.0], 1.0, Variance::Beta, 2000);
        assert!(g.abs() < 4.0 * se + 1e-3, "{config:?}: gap {g} ± {se}");
        let (g, se) = gap(config, [0.0, 0.0], 1.0, Variance::BetaTilde, 2000);
        assert!(g > 10.0 * se && g > 0.05, "{config:?} with β̃: gap {g} ± {se}");
    }
}

/// For a narrow Gaussian away from 0 neither fixed variance is the true reverse one. With σ² = β
/// the bound sits above −log p by a gap that closes as the chain gets finer (cosine, T = 10 →
/// 1000): clearly positive at T = 10, the NLL within its standard error (4 SE) at T = 1000. With
/// σ² = β̃ it does not close: at the first steps, where the data is wide against the noise, the
/// true reverse variance is ≈ β_t and β̃_t/β_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) stays far from 1 however
/// fine the chain (Nichol & Dhariwal's figure 2: the first steps carry the bound).
#[test]
fn the_bound_of_an_exact_model_closes_on_the_nll_as_t_grows() {
    let run = |t, variance| gap(ScheduleConfig::named("cosine", t, None).unwrap(), [0.5, -1.0], 0.3, variance, 2000);
    let ((coarse, coarse_se), (fine, fine_se)) = (run(10, Variance::Beta), run(1000, Variance::Beta));
    assert!(coarse > 5.0 * coarse_se && coarse > fine + 4.0 * (coarse_se + fine_se), "{coarse} ± {coarse_se}, {fine}");
    assert!(fine.abs() < 4.0 * fine_se && fine_se < 0.05, "T = 1000: {fine} ± {fine_se}");
    let (tilde, tilde_se) = run(1000, Variance::BetaTilde);
    assert!(tilde > 0.5 && tilde > 10.0 * tilde_se, "β̃ at T = 1000: {tilde} ± {tilde_se}");
}

/// The learned variance's profile: a model whose v is 1 everywhere has Σ_θ = β_t, v = 0 gives β̃_t
/// (clipped at t = 1), and a model without v has none.
#[test]
fn the_variance_profile_spans_beta_tilde_to_beta() {
    struct Constant(f64);
    impl ScoreModel for Constant {
        fn score(&self, x: Tensor<2>, _: f64) -> Tensor<2> {
            x.zeros_like()
        }
        fn score_and_v(&self, x: Tensor<2>, t: f64) -> (Tensor<2>, Option<Tensor<2>>) {
            (self.score(x.clone(), t), Some(x.ones_like().mul_scalar(self.0)))
        }
    }
    struct Fixed;
    impl ScoreModel for Fixed {
        fn score(&self, x: Tensor<2>, _: f64) -> Tensor<2> {
            x.zeros_like()
        }
    }
    let device = Device::flex();
    let schedule = ScheduleConfig::default().init().unwrap();
    let x_0 = Tensor::<2>::ones([8, 2], &device);
    let steps = [1, 2, 250, 500];
    for v in [1.0, 0.0] {
        let got = host(mean_log_variance(&Constant(v), &schedule, x_0.clone(), &steps, 1).unwrap().reshape([4, 1]));
        for (g, &t) in got.iter().zip(&steps) {
            let want = if v == 1.0 { schedule.beta[t].ln() } else { schedule.log_beta_tilde_clipped(t) };
            assert!((g - want).abs() < 1e-4, "v {v} t {t}: {g} vs {want}");
        }
    }
    assert!(mean_log_variance(&Fixed, &schedule, x_0, &steps, 1).is_none());
}
