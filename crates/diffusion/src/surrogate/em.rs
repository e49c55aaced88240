//! A Gaussian mixture fitted to 2-D points by expectation–maximisation (Dempster, Laird & Rubin
//! 1977; Bishop, PRML §9.2.2), the STATES surrogate of seed 003 §3.2:
//! - E: r_ik = w_k N(x_i; μ_k, Σ_k) / Σ_j w_j N(x_i; μ_j, Σ_j)
//! - M: N_k = Σ_i r_ik, w_k = N_k / n, μ_k = Σ_i r_ik x_i / N_k,
//!   Σ_k = Σ_i r_ik (x_i − μ_k)(x_i − μ_k)ᵀ / N_k + ε I
//!
//! started from k-means++ seeds (Arthur & Vassilvitskii 2007) with each point given to its nearest
//! seed, and stopped when the mean log-likelihood per point gains less than `tolerance`. ε is 10⁻⁶
//! of the data's mean variance: it keeps a component on a few collinear points invertible.
//! Written here rather than taken from a crate: it is the project's subject (a surrogate of
//! the seed), 2-D with closed-form 2 × 2 algebra, and it must run in the browser's wasm too.

use crate::error::{Error, Result};
use crate::limits;
use crate::rng::Rng;
use crate::sde::mixture::Mixture;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmConfig {
    pub components: usize,
    pub max_iterations: usize,
    /// Stop when the mean log-likelihood per point gains less than this (nats).
    pub tolerance: f64,
    pub seed: u64,
}

impl EmConfig {
    pub fn new(components: usize, seed: u64) -> Self {
        Self { components, max_iterations: 500, tolerance: 1e-7, seed }
    }
}

/// The fitted mixture and the mean log-likelihood per point after each iteration.
#[derive(Clone, Debug)]
pub struct EmFit {
    pub mixture: Mixture,
    pub log_likelihood: Vec<f64>,
}

/// One component's parameters in f64: weight, mean, covariance [a, b, b, c].
#[derive(Clone, Copy, Debug)]
struct Component {
    weight: f64,
    mean: [f64; 2],
    cov: [f64; 4],
}

impl Component {
    /// log w + log N(x; μ, Σ) = log w − log 2π − ½ log det Σ − ½ dᵀ Σ⁻¹ d.
    fn log_density(&self, x: [f64; 2]) -> f64 {
        let [a, b, _, c] = self.cov;
        let det = a * c - b * b;
        let (dx, dy) = (x[0] - self.mean[0], x[1] - self.mean[1]);
        let quadratic = (c * dx * dx - 2.0 * b * dx * dy + a * dy * dy) / det;
        self.weight.ln() - (2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln() - 0.5 * quadratic
    }
}

/// Fits `config.components` Gaussians to `points` (finite, at least as many as components).
pub fn fit(points: &[[f32; 2]], config: &EmConfig) -> Result<EmFit> {
    limits::COMPONENTS.check(config.components as f64)?;
    limits::EM_ITERATIONS.check(config.max_iterations as f64)?;
    let k = config.components;
    if points.len() < k.max(2) {
        return Err(Error::Config(format!(
            "EM with {k} components needs at least {} points, got {}",
            k.max(2),
            points.len()
        )));
    }
    if points.iter().flatten().any(|v| !v.is_finite()) {
        return Err(Error::Config("the points to fit contain NaN or infinite values".into()));
    }
    let x: Vec<[f64; 2]> = points.iter().map(|p| [p[0] as f64, p[1] as f64]).collect();
    let n = x.len() as f64;
    let all = moments(&x, &vec![1.0; x.len()]);
    let spread = 0.5 * (all.cov[0] + all.cov[3]);
    let ridge = 1e-6 * spread;
    if spread <= 1e-12 * (1.0 + all.mean[0].powi(2) + all.mean[1].powi(2)) {
        return Err(Error::Config("the points to fit are all the same point".into()));
    }
    let mut components = seed_components(&x, k, (all.cov, ridge), &mut Rng::new(config.seed));
    let mut log_likelihood: Vec<f64> = Vec::new();
    let mut r = vec![0.0; x.len() * k];
    for _ in 0..config.max_iterations {
        // E step, with the mean log-likelihood of the parameters it used.
        let mut total = 0.0;
        for (i, xi) in x.iter().enumerate() {
            let row = &mut r[i * k..(i + 1) * k];
            row.iter_mut().zip(&components).for_each(|(r, c)| *r = c.log_density(*xi));
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = row.iter().map(|l| (l - max).exp()).sum();
            row.iter_mut().for_each(|l| *l = (*l - max).exp() / sum);
            total += max + sum.ln();
        }
        let mean_ll = total / n;
        let gain = log_likelihood.last().map(|last| mean_ll - last);
        log_likelihood.push(mean_ll);
        if gain.is_some_and(|g| g.abs() < config.tolerance) {
            break;
        }
        // M step.
        for (j, component) in components.iter_mut().enumerate() {
            let weights: Vec<f64> = (0..x.len()).map(|i| r[i * k + j]).collect();
            let mass: f64 = weights.iter().sum();
            if mass < 1e-9 {
                // An emptied component keeps its place, at the smallest weight that stays finite.
                component.weight = 1e-12;
                continue;
            }
            let m = moments(&x, &weights);
            *component = Component { weight: mass / n, mean: m.mean, cov: add_ridge(m.cov, ridge) };
        }
    }
    let mixture = Mixture::new(
        components.iter().map(|c| c.weight).collect(),
        components.iter().map(|c| c.mean).collect(),
        components.iter().map(|c| c.cov).collect(),
    )?;
    Ok(EmFit { mixture, log_likelihood })
}

/// The weighted mean and covariance of `x` (weights summing to more than 0).
fn moments(x: &[[f64; 2]], weights: &[f64]) -> Component {
    let mass: f64 = weights.iter().sum();
    let mut mean = [0.0; 2];
    for (p, w) in x.iter().zip(weights) {
        mean[0] += w * p[0] / mass;
        mean[1] += w * p[1] / mass;
    }
    let mut cov = [0.0; 4];
    for (p, w) in x.iter().zip(weights) {
        let (dx, dy) = (p[0] - mean[0], p[1] - mean[1]);
        cov[0] += w * dx * dx / mass;
        cov[1] += w * dx * dy / mass;
        cov[3] += w * dy * dy / mass;
    }
    cov[2] = cov[1];
    Component { weight: mass, mean, cov }
}

fn add_ridge(cov: [f64; 4], ridge: f64) -> [f64; 4] {
    [cov[0] + ridge, cov[1], cov[2], cov[3] + ridge]
}

/// k-means++ seeds (each next seed drawn with probability ∝ its squared distance to the nearest
/// seed so far), each point given to its nearest seed, and each group's moments plus the ridge
/// (a seed left alone takes the data's covariance `all`).
fn seed_components(x: &[[f64; 2]], k: usize, (all, ridge): ([f64; 4], f64), rng: &mut Rng) -> Vec<Component> {
    let d2 = |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2);
    let mut seeds = vec![x[rng.below(x.len())]];
    let mut nearest: Vec<f64> = x.iter().map(|p| d2(*p, seeds[0])).collect();
    while seeds.len() < k {
        let total: f64 = nearest.iter().sum();
        let mut u = rng.uniform() * total;
        let i = nearest.iter().position(|&d| {
            u -= d;
            u < 0.0
        });
        let next = x[i.unwrap_or(x.len() - 1)];
        seeds.push(next);
        nearest.iter_mut().zip(x).for_each(|(d, p)| *d = d.min(d2(*p, next)));
    }
    let group = |p: &[f64; 2]| (0..k).min_by(|&a, &b| d2(*p, seeds[a]).total_cmp(&d2(*p, seeds[b]))).expect("k ≥ 1");
    let groups: Vec<usize> = x.iter().map(group).collect();
    (0..k)
        .map(|j| {
            let weights: Vec<f64> = groups.iter().map(|&g| f64::from(u8::from(g == j))).collect();
            let members: f64 = weights.iter().sum();
            if members < 2.0 {
                // A seed alone (duplicates): the data's spread around it.
                return Component {
                    weight: members.max(1.0) / x.len() as f64,
                    mean: seeds[j],
                    cov: add_ridge(all, ridge),
                };
            }
            let m = moments(x, &weights);
            Component { weight: members / x.len() as f64, mean: m.mean, cov: add_ridge(m.cov, ridge) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From 4000 draws of a known two-component mixture, EM recovers its weights, means and
    /// covariances, and never loses likelihood from one iteration to the next.
    #[test]
    fn em_recovers_a_known_mixture() {
        let truth = Mixture::anisotropic();
        let (points, _) = truth.sample(4000, &mut Rng::new(3));
        let fit = fit(&points, &EmConfig::new(2, 0)).unwrap();
        let order: Vec<usize> = if fit.mixture.means[0][0] < fit.mixture.means[1][0] { vec![0, 1] } else { vec![1, 0] };
        for (j, &f) in order.iter().enumerate() {
            assert!((fit.mixture.weights[f] - truth.weights[j]).abs() < 0.03, "{:?}", fit.mixture.weights);
            for d in 0..2 {
                assert!((fit.mixture.means[f][d] - truth.means[j][d]).abs() < 0.08, "{:?}", fit.mixture.means);
            }
            for e in 0..4 {
                assert!(
                    (fit.mixture.covariances[f][e] - truth.covariances[j][e]).abs() < 0.08,
                    "{:?}",
                    fit.mixture.covariances
                );
            }
        }
        assert!(fit.log_likelihood.windows(2).all(|w| w[1] >= w[0] - 1e-7), "{:?}", fit.log_likelihood);
        assert!(fit.log_likelihood.len() > 2 && fit.log_likelihood.len() < 500);
        // The truth's own mean log-density on the same draws: the fit is at least as likely.
        let device = burn::prelude::Device::flex();
        let x = burn::prelude::Tensor::<2>::from_data(
            burn::prelude::TensorData::new(points.concat(), [points.len(), 2]),
            &device,
        );
        let lp: Vec<f32> = truth.log_prob(&crate::sde::Sde::vp(), x, 0.0).into_data().try_into_vec().unwrap();
        let truth_ll = lp.iter().map(|&l| l as f64).sum::<f64>() / lp.len() as f64;
        let last = *fit.log_likelihood.last().unwrap();
        assert!(last >= truth_ll - 1e-4 && last < truth_ll + 0.02, "{last} vs the truth's {truth_ll}");
    }

    #[test]
    fn em_refuses_what_it_cannot_fit() {
        let points = [[0.0f32, 1.0], [1.0, 0.0], [2.0, 2.0]];
        assert!(fit(&points, &EmConfig::new(4, 0)).is_err());
        assert!(fit(&points, &EmConfig::new(0, 0)).is_err());
        assert!(fit(&[[f32::NAN, 0.0], [1.0, 1.0], [2.0, 0.0]], &EmConfig::new(1, 0)).is_err());
        assert!(fit(&[[1.0, 1.0]; 10], &EmConfig::new(2, 0)).is_err());
        // Duplicated points: every component stays a valid Gaussian.
        let mut twins = vec![[0.0f32, 0.0]; 50];
        twins.extend(vec![[1.0f32, 1.0]; 50]);
        let fit = fit(&twins, &EmConfig::new(3, 1)).unwrap();
        assert!(fit.log_likelihood.iter().all(|l| l.is_finite()));
    }
}
