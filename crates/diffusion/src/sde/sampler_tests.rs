//! The sampler driver against exact scores: every rule on every process reproduces the target.

use super::*;
use crate::metric::mmd::mmd2;
use crate::schedule::ScheduleConfig;
use crate::sde::ddim::ddim;
use crate::sde::mixture::Mixture;
use crate::sde::predictor::ancestral;
use crate::sde::score::MixtureScore;

fn points(x: Tensor<2>) -> Vec<[f32; 2]> {
    let v: Vec<f32> = x.into_data().try_into_vec().unwrap();
    v.chunks_exact(2).map(|p| [p[0], p[1]]).collect()
}

/// Driven by the exact score, every sampler reproduces the mixture under every SDE: the mass of
/// each mode within ±0.03, and MMD² to exact samples below 4× the largest |MMD²| between pairs
/// of exact sample sets (the estimator's own sampling noise) + 1e-4. The bound has power: the
/// exact samples with a 10% wider spread (what a wrong σ does) exceed it.
#[test]
fn every_sampler_reproduces_analytic_mixtures() {
    let device = Device::flex();
    let n = 2000;
    for (name, mixture) in [("circle", Mixture::circle(8, 4.0, 0.3)), ("anisotropic", Mixture::anisotropic())] {
        let mut rng = Rng::new(5);
        let sets: Vec<Vec<[f32; 2]>> = (0..4).map(|_| mixture.sample(n, &mut rng).0).collect();
        let exact = &sets[0];
        let noise = (1..4).map(|i| mmd2(&sets[i], &sets[(i % 3) + 1]).abs()).fold(0.0, f64::max);
        let bound = 4.0 * noise + 1e-4;
        let mean = |d: usize| exact.iter().map(|p| p[d] as f64).sum::<f64>() / n as f64;
        let (mx, my) = (mean(0), mean(1));
        let wide: Vec<[f32; 2]> = sets[1]
            .iter()
            .map(|p| [(mx + 1.1 * (p[0] as f64 - mx)) as f32, (my + 1.1 * (p[1] as f64 - my)) as f32])
            .collect();
        assert!(mmd2(&wide, exact) > bound, "{name}: the bound {bound} cannot see a 10% wider spread");
        for sde in [Sde::ve(10.0), Sde::vp(), Sde::sub_vp(), Sde::ddpm(&ScheduleConfig::default()), Sde::Flow] {
            let model = MixtureScore { mixture: &mixture, sde: &sde };
            for (method, steps) in [
                (Method::OdeEuler, 1000),
                (Method::em(), 1000),
                (Method::rd(), 1000),
                (Method::pc(), 500),
                (Method::ancestral(), 1000),
                (Method::Ddim { eta: 0.0 }, 200),
                (Method::Ddim { eta: 1.0 }, 1000),
                (Method::OdeRk45 { rtol: 1e-5, atol: 1e-5 }, 1),
                (Method::OdeHeun, 200),
                (Method::OdeRk4, 100),
                (Method::DpmSolver2M, 200),
                (Method::EdmHeun, 100),
            ] {
                if matches!(method, Method::Ancestral { .. }) && matches!(sde, Sde::SubVp { .. } | Sde::Flow) {
                    assert!(SdeSampler::new(method, sde, steps, n, 1, &device).is_err());
                    continue;
                }
                let sampler = SdeSampler::new(method, sde, steps, n, 1, &device).unwrap();
                let samples = points(sampler.run(&model));
                assert!(samples.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
                let modes = mixture.assign(&samples, &device);
                for (k, w) in mixture.weights.iter().enumerate() {
                    let share = modes.iter().filter(|&&m| m == k).count() as f64 / n as f64;
                    assert!((share - w).abs() < 0.03, "{name} {sde:?} {method:?}: mode {k} {share} vs {w}");
                }
                let mmd = mmd2(&samples, exact);
                assert!(mmd < bound, "{name} {sde:?} {method:?}: MMD² {mmd} vs bound {bound}");
            }
        }
    }
}

/// `steps_for_nfe` is what the sampler then actually spends.
#[test]
fn steps_for_nfe_matches_the_counted_evaluations() {
    let device = Device::flex();
    let mixture = crate::sde::mixture::Mixture::circle(8, 4.0, 0.3);
    let sde = Sde::vp();
    let model = crate::sde::score::MixtureScore { mixture: &mixture, sde: &sde };
    for name in ["em", "rd", "pc", "ald", "ancestral", "ddim", "euler", "ode-heun", "ode-rk4", "dpmpp2m", "edm-heun"] {
        let method = Method::named(name, 0.16).unwrap();
        for nfe in [10, 20, 35] {
            let steps = method.steps_for_nfe(nfe).unwrap();
            let mut sampler = SdeSampler::new(method, sde, steps, 4, 0, &device).unwrap();
            while !sampler.done() {
                sampler.step(&model);
            }
            assert!(
                sampler.nfe() <= nfe && sampler.nfe() + 4 > nfe,
                "{name} at {nfe}: {steps} steps, {} NFE",
                sampler.nfe()
            );
        }
    }
    assert_eq!(Method::named("ode-rk45", 0.16).unwrap().steps_for_nfe(10), None);
}

/// The point of DPM-Solver++(2M): at 25 evaluations it is already on the modes, where
/// Euler–Maruyama at the same budget is not (the exact score, VP).
#[test]
fn dpm_solver_is_accurate_in_few_steps() {
    let device = Device::flex();
    let mixture = Mixture::circle(8, 4.0, 0.3);
    let sde = Sde::vp();
    let model = MixtureScore { mixture: &mixture, sde: &sde };
    let spread = |method: Method| {
        let x = SdeSampler::new(method, sde, 25, 2000, 3, &device).unwrap().run(&model);
        let v: Vec<f32> = x.into_data().try_into_vec().unwrap();
        // Mean distance to the nearest mode centre: 0.3·√(π/2) ≈ 0.376 for exact samples.
        let d: f64 = v
            .chunks_exact(2)
            .map(|p| {
                let distance = |m: &[f64; 2]| ((p[0] as f64 - m[0]).powi(2) + (p[1] as f64 - m[1]).powi(2)).sqrt();
                mixture.means.iter().map(distance).fold(f64::INFINITY, f64::min)
            })
            .sum();
        d / 2000.0
    };
    let (dpm, em) = (spread(Method::DpmSolver2M), spread(Method::em()));
    // EDM's Heun at 25 levels (49 NFE) is as close.
    let edm = spread(Method::EdmHeun);
    assert!((edm - 0.376).abs() < 0.04, "EDM Heun at 25 levels: {edm}");
    assert!((dpm - 0.376).abs() < 0.04, "DPM-Solver++(2M) at 25 NFE: {dpm}");
    // Measured: DPM-Solver++ 0.388, Euler–Maruyama 0.329 (its large last steps shrink the modes).
    let error = |d: f64| (d - 0.376).abs();
    assert!(error(em) > error(dpm) + 0.02, "Euler–Maruyama at 25 NFE should be visibly worse: {em} vs {dpm}");
}

/// One Gaussian N(μ, s² I) (a point mass for s → 0) as a single-component mixture.
fn gaussian(mu: [f64; 2], s: f64) -> Mixture {
    Mixture::new(vec![1.0], vec![mu], vec![[s * s, 0.0, 0.0, s * s]]).unwrap()
}

fn moments(x: Tensor<2>) -> ([f64; 2], [f64; 2]) {
    let v: Vec<f32> = x.into_data().try_into_vec().unwrap();
    let n = v.len() / 2;
    let mut mean = [0.0; 2];
    let mut std = [0.0; 2];
    for d in 0..2 {
        mean[d] = (0..n).map(|i| v[2 * i + d] as f64).sum::<f64>() / n as f64;
        std[d] = ((0..n).map(|i| (v[2 * i + d] as f64 - mean[d]).powi(2)).sum::<f64>() / n as f64).sqrt();
    }
    (mean, std)
}

/// Ho et al.'s Algorithm 2 is the driver's ancestral rule on the chain's process with all T steps:
/// driven by the exact score of a Gaussian it reproduces it (T = 500 is fine enough for ±3% on
/// the std), a point mass collapses onto its point, and the grid is the chain's steps.
#[test]
fn the_ddpm_chain_reproduces_a_gaussian_and_a_point() {
    let device = Device::flex();
    let sde = Sde::ddpm(&ScheduleConfig::default());
    let target = gaussian([1.0, -0.5], 0.3);
    let model = MixtureScore { mixture: &target, sde: &sde };
    let (mean, std) = moments(SdeSampler::new(Method::ancestral(), sde, 500, 20_000, 4, &device).unwrap().run(&model));
    for d in 0..2 {
        assert!((mean[d] - target.means[0][d]).abs() < 0.01, "mean {mean:?}");
        assert!((std[d] - 0.3).abs() < 0.3 * 0.03, "std {std:?}");
    }
    let point = gaussian([-1.0, 2.0], 1e-5);
    let model = MixtureScore { mixture: &point, sde: &sde };
    let (mean, std) = moments(SdeSampler::new(Method::ancestral(), sde, 500, 1000, 9, &device).unwrap().run(&model));
    assert!((mean[0] + 1.0).abs() < 1e-3 && (mean[1] - 2.0).abs() < 1e-3, "{mean:?}");
    assert!(std[0] < 3e-3 && std[1] < 3e-3, "{std:?}");
    // The grid: every step T..1, then x̂₀ to t = 0; T network evaluations.
    let times = grid(Method::ancestral(), &sde, 500);
    assert_eq!(times.len(), 501);
    assert!(times.iter().take(500).enumerate().all(|(i, t)| (t * 500.0 - (500 - i) as f64).abs() < 1e-9));
    assert_eq!(*times.last().unwrap(), 0.0);
    let mut sampler = SdeSampler::new(Method::ancestral(), sde, 500, 5, 1, &device).unwrap();
    sampler.step(&model);
    assert!((sampler.t() - 499.0 / 500.0).abs() < 1e-12);
    let a = sampler.run(&model).into_data();
    let mut again = SdeSampler::new(Method::ancestral(), sde, 500, 5, 1, &device).unwrap();
    while !again.done() {
        again.step(&model);
    }
    assert_eq!(again.nfe(), 500);
    assert_eq!(a, again.x().into_data());
    // One step is x̂₀ from t = 1: for a point mass exactly the point.
    let (mean, _) = moments(SdeSampler::new(Method::Ddim { eta: 0.0 }, sde, 1, 4, 0, &device).unwrap().run(&model));
    assert!((mean[0] + 1.0).abs() < 1e-4 && (mean[1] - 2.0).abs() < 1e-4, "{mean:?}");
}

/// DDIM η = 0 with the exact ε follows the probability-flow ODE, for a Gaussian the affine map
/// x_0 = μ + s (x_T − √ᾱ_T μ)/√(ᾱ_T s² + 1 − ᾱ_T). Started from N(0, I) instead of the true x_T
/// marginal, it lands on N(μ(1 − s√ᾱ_T/v), (s/v)²), v the denominator: the chain reproduces that
/// bias (η = 1 forgets it). Respaced to 50 of the 500 steps both stay close but under-disperse,
/// as expected of σ² = β̃ with few steps.
#[test]
fn ddim_on_the_chain_transports_a_gaussian() {
    let device = Device::flex();
    let config = ScheduleConfig::default();
    let sde = Sde::ddpm(&config);
    let a_t = config.init().unwrap().alpha_bar[500];
    let target = gaussian([0.5, -1.0], 0.4);
    let model = MixtureScore { mixture: &target, sde: &sde };
    let v = (a_t * 0.16 + 1.0 - a_t).sqrt();
    for (steps, eta, std_tolerance) in [(500, 0.0, 0.02), (500, 1.0, 0.02), (50, 0.0, 0.06), (50, 1.0, 0.12)] {
        let sampler = SdeSampler::new(Method::Ddim { eta }, sde, steps, 20_000, 2, &device).unwrap();
        let (mean, std) = moments(sampler.run(&model));
        let bias = if eta == 0.0 { 0.4 * a_t.sqrt() / v } else { 0.0 };
        let want_std = if eta == 0.0 && steps == 500 { 0.4 / v } else { 0.4 };
        for d in 0..2 {
            let want = target.means[0][d] * (1.0 - bias);
            assert!((mean[d] - want).abs() < 0.015, "{steps} steps, η {eta}: mean {mean:?} vs {want}");
            assert!((std[d] - want_std).abs() < want_std * std_tolerance, "{steps} steps, η {eta}: std {std:?}");
        }
    }
}

/// The two ancestral variances told apart, on a 10-step grid of every process. For data
/// N(0, σ_d² I) the reverse conditional q(x_{t'} | x_t) is Gaussian with mean coefficient
/// (m/m') v'/v and variance v' − (m/m')² v'²/v, v = m² σ_d² + s². DDIM's σ_η² at η = 1 is the
/// posterior variance of q(x_{t'} | x_t, x_0), so it is exact when the data is a point; the VP
/// ancestral rule's β = 1 − (m/m')² is exact for data N(0, I) instead (Ho et al. §3.2); SMLD's
/// (VE) chain uses the posterior variance. Each misses the other's case by more than 1%.
#[test]
fn ancestral_beta_and_ddim_beta_tilde_are_exact_for_their_own_data() {
    let device = Device::flex();
    for sde in [Sde::vp(), Sde::ddpm(&ScheduleConfig::default()), Sde::ve(10.0), Sde::sub_vp()] {
        for data_std in [1e-4, 1.0] {
            let target = gaussian([0.0, 0.0], data_std);
            let model = MixtureScore { mixture: &target, sde: &sde };
            let times = grid(Method::Ddim { eta: 1.0 }, &sde, 10);
            let (t, t_next) = (times[4], times[5]);
            let variance = |t: f64| {
                let (m, s) = sde.marginal(t);
                m * m * data_std * data_std + s * s
            };
            let ratio = sde.marginal(t).0 / sde.marginal(t_next).0;
            let (v, v_next) = (variance(t), variance(t_next));
            let (want_a, want_var) = (ratio * v_next / v, v_next - ratio * ratio * v_next * v_next / v);
            // x' = a x + σ z: a from x = e₁ without noise, σ from x = 0 with z = e₁.
            let one = || Tensor::<2>::from_floats([[1.0, 0.0]], &device);
            let zero = || Tensor::<2>::zeros([1, 2], &device);
            let first = |x: Tensor<2>| -> f64 { x.narrow(1, 0, 1).into_scalar::<f32>() as f64 };
            let gap =
                |a: f64, sigma: f64| ((a - want_a).abs() / want_a).max((sigma * sigma - want_var).abs() / want_var);
            let point = data_std < 1.0;
            let ddim_gap = gap(
                first(ddim(&model, &sde, one(), (t, t_next), 1.0, None)),
                first(ddim(&model, &sde, zero(), (t, t_next), 1.0, Some(one()))),
            );
            assert_eq!(ddim_gap < 1e-3, point, "{sde:?} data std {data_std}: DDIM η = 1 gap {ddim_gap}");
            assert!(!(1e-3..=1e-2).contains(&ddim_gap), "{sde:?} data std {data_std}: DDIM gap {ddim_gap}");
            if let Some(a) = ancestral(&model, &sde, one(), (t, t_next), Variance::Beta, None) {
                let sigma = first(ancestral(&model, &sde, zero(), (t, t_next), Variance::Beta, Some(one())).unwrap());
                let ancestral_gap = gap(first(a), sigma);
                let exact = if matches!(sde, Sde::Ve { .. }) { point } else { !point };
                assert_eq!(ancestral_gap < 1e-3, exact, "{sde:?} data std {data_std}: ancestral gap {ancestral_gap}");
                assert!(!(1e-3..=1e-2).contains(&ancestral_gap), "{sde:?}: ancestral gap {ancestral_gap}");
            }
        }
    }
}

/// Respaced sampling (Nichol & Dhariwal 2021, eq. 10–11): on K of the chain's T steps S_1 < … < S_K,
/// the ancestral step from S_i to S_{i−1} is the chain's own with β_S = 1 − ᾱ_{S_i}/ᾱ_{S_{i−1}}
/// (read off the tables, not the process), DDIM at η = 1 adds β̃_S = β_S (1 − ᾱ_{S_{i−1}})/(1 − ᾱ_{S_i});
/// and K = T gives back β_t itself, step by step; the ancestral step with σ² = β̃ adds √β̃_S, and
/// with a learned v, σ² = β_S^v β̃_S^{1−v}. On the linear and the cosine schedule.
#[test]
fn respaced_chain_steps_follow_the_tables() {
    struct Zero;
    const V: f64 = 0.25;
    impl ScoreModel for Zero {
        fn score(&self, x: Tensor<2>, _: f64) -> Tensor<2> {
            x.zeros_like()
        }
        fn score_and_v(&self, x: Tensor<2>, t: f64) -> (Tensor<2>, Option<Tensor<2>>) {
            (self.score(x.clone(), t), Some(x.ones_like().mul_scalar(V)))
        }
    }
    let device = Device::flex();
    let first = |x: Tensor<2>| -> f64 { x.narrow(1, 0, 1).into_scalar::<f32>() as f64 };
    let one = || Tensor::<2>::from_floats([[1.0, 0.0]], &device);
    let zero = || Tensor::<2>::zeros([1, 2], &device);
    for config in [ScheduleConfig::default(), ScheduleConfig::named("cosine", 1000, None).unwrap()] {
        let (sde, tables) = (Sde::ddpm(&config), config.init().unwrap());
        let big_t = config.steps;
        for k in [big_t, 10] {
            let times = grid(Method::ancestral(), &sde, k);
            assert_eq!(times.len(), k + 1, "K steps then x̂₀");
            let step = |t: f64| (t * big_t as f64).round() as usize;
            for pair in times[..k].windows(2).step_by(k / 5) {
                let (s, s_prev) = (step(pair[0]), step(pair[1]));
                let beta = 1.0 - tables.alpha_bar[s] / tables.alpha_bar[s_prev];
                if k == big_t {
                    assert_eq!(s_prev + 1, s);
                    assert!((beta - tables.beta[s]).abs() < 1e-9 * tables.beta[s].max(1e-3));
                }
                // x' = x/√(1 − β_S) + √β_S z with a zero score.
                let step_noise = |variance| {
                    first(ancestral(&Zero, &sde, zero(), (pair[0], pair[1]), variance, Some(one())).unwrap())
                };
                let mean = first(ancestral(&Zero, &sde, one(), (pair[0], pair[1]), Variance::Beta, None).unwrap());
                let noise = step_noise(Variance::Beta);
                let tolerance = 1e-5 * (1.0 + 1.0 / beta.sqrt());
                assert!((mean - 1.0 / (1.0 - beta).sqrt()).abs() < tolerance * 10.0, "{config:?} K {k} S {s}: {mean}");
                assert!(
                    (noise - beta.sqrt()).abs() < tolerance,
                    "{config:?} K {k} S {s}: σ {noise} vs √β_S {}",
                    beta.sqrt()
                );
                let beta_tilde = beta * (1.0 - tables.alpha_bar[s_prev]) / (1.0 - tables.alpha_bar[s]);
                let ddim_noise = first(ddim(&Zero, &sde, zero(), (pair[0], pair[1]), 1.0, Some(one())));
                assert!(
                    (ddim_noise - beta_tilde.sqrt()).abs() < tolerance,
                    "{config:?} K {k}: DDIM σ {ddim_noise} vs √β̃_S"
                );
                let tilde_noise = step_noise(Variance::BetaTilde);
                assert!(
                    (tilde_noise - beta_tilde.sqrt()).abs() < tolerance,
                    "{config:?} K {k}: σ {tilde_noise} vs √β̃_S"
                );
                let learned = (beta.powf(V) * beta_tilde.powf(1.0 - V)).sqrt();
                let learned_noise = step_noise(Variance::Learned);
                assert!(
                    (learned_noise - learned).abs() < tolerance,
                    "{config:?} K {k}: σ {learned_noise} vs {learned}"
                );
            }
        }
    }
}

/// On the flow path the paths to a point are straight: x_t = (1 − t) p + t z, so one Euler step
/// of its exact velocity lands on p, and DDIM (η = 0) is the same step (x̂₀ = x − t v̂).
/// The ODE driven by the velocity a network would predict, v = (x − p)/t, agrees with the score's.
#[test]
fn the_flow_path_is_straight_to_a_point() {
    let device = Device::flex();
    let sde = Sde::Flow;
    let point = gaussian([1.5, -0.5], 1e-6);
    let model = MixtureScore { mixture: &point, sde: &sde };
    for method in [Method::OdeEuler, Method::Ddim { eta: 0.0 }] {
        for steps in [1, 3] {
            let (mean, std) = moments(SdeSampler::new(method, sde, steps, 500, 2, &device).unwrap().run(&model));
            assert!((mean[0] - 1.5).abs() < 2e-3 && (mean[1] + 0.5).abs() < 2e-3, "{method:?} {steps}: {mean:?}");
            assert!(std[0] < 3e-3 && std[1] < 3e-3, "{method:?} {steps}: {std:?}");
        }
    }
    // A wrong drift (VP's in place of the flow's) would not give the straight velocity.
    let x = Tensor::<2>::from_floats([[0.3, 2.0], [-1.0, 0.0]], &device);
    let t = 0.6;
    let drift = crate::sde::ode::pf_drift(&model, &sde, x.clone(), t);
    let straight = (x - Tensor::<2>::from_floats([[1.5, -0.5]], &device)).div_scalar(t);
    let gap: f32 = (drift - straight).abs().max().into_scalar();
    assert!(gap < 1e-3, "PF-ODE velocity off the straight line by {gap}");
}
