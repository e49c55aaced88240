//! Bits/dim of discrete data through a decoder (Ho et al. 2020 §3.3's L₀; Kingma et al. 2021,
//! "Variational diffusion models", §3). The model is a latent-variable model: z ~ p_{t_min}, the
//! SDE's prior pushed through the probability-flow ODE down to t_min, then each pixel is drawn from
//! a decoder P(x_i | z) over the data's levels. With the forward kernel q(z | x) = N(m x, s² I) at
//! t_min as the encoder, every x on the levels obeys the variational bound
//!   −log P(x) ≤ E_{z~q(z|x)} [ −Σ_i log P(x_i | z) − log p_{t_min}(z) + log q(z | x) ],
//! whatever t_min and the decoder are. Our decoder is N(x̂₀_i, σ²) integrated over level i's bin
//! (the outer two bins open-ended, as Ho et al.'s L₀), centred on the model's own denoised guess
//! x̂₀ = (z + s² s_θ(z, t_min))/m (Tweedie), with a share ρ of the uniform distribution over the
//! levels mixed in so one wild pixel costs at most log(count/ρ).
//!
//! Unlike uniform dequantisation (`metric::bits_per_dim`), which scores the ODE's density at the
//! data itself, this never asks the model for a density sharper than its t_min allows: the noise
//! q adds is the noise the model was trained to remove.

use burn::prelude::*;

use crate::rng::Rng;
use crate::sde::Sde;
use crate::sde::dpm_solver::x0_hat;
use crate::sde::likelihood::{Divergence, flow};
use crate::sde::score::ScoreModel;

/// ρ: the decoder's share of the uniform distribution over the levels.
pub const UNIFORM_SHARE: f64 = 1e-6;

/// Evenly spaced data levels x_k = first + k·step, k = 0 … count − 1 (8-bit pixels on the
/// model's scale: 256 levels from −1 in steps of 2/255).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Levels {
    pub count: usize,
    pub first: f64,
    pub step: f64,
}

impl Levels {
    pub fn value(&self, k: usize) -> f64 {
        self.first + k as f64 * self.step
    }

    /// log P(k | x̂) = log[(1 − ρ) ∫_{bin k} N(u; x̂, σ²) du + ρ/count], bin k = x_k ± step/2
    /// (−∞ for the first bin's lower edge, +∞ for the last one's upper edge).
    pub fn log_prob(&self, k: usize, x_hat: f64, sigma: f64) -> f64 {
        let x = self.value(k);
        let lo = if k == 0 { f64::NEG_INFINITY } else { (x - 0.5 * self.step - x_hat) / sigma };
        let hi = if k + 1 == self.count { f64::INFINITY } else { (x + 0.5 * self.step - x_hat) / sigma };
        ((1.0 - UNIFORM_SHARE) * normal_mass(lo, hi) + UNIFORM_SHARE / self.count as f64).ln()
    }
}

/// Φ(hi) − Φ(lo) for the standard normal, taken from the tail where it does not cancel.
fn normal_mass(lo: f64, hi: f64) -> f64 {
    let upper = |x: f64| 0.5 * libm::erfc(x / std::f64::consts::SQRT_2); // 1 − Φ(x)
    if lo >= 0.0 {
        upper(lo) - upper(hi)
    } else if hi <= 0.0 {
        upper(-hi) - upper(-lo)
    } else {
        1.0 - upper(-lo) - upper(hi)
    }
}

/// One draw z ~ q(z | x) per row and the model's view of it.
pub struct Encoded {
    /// log q(z | x) per row, in nats.
    pub log_q: Vec<f64>,
    /// log p_{t_min}(z) per row through the PF-ODE, in nats: [n].
    pub log_p: Tensor<1>,
    /// The decoder's centres x̂₀(z, t_min): [n, dim].
    pub x_hat: Tensor<2>,
    /// Network passes used.
    pub nfe: usize,
}

/// Draws z = m x + s ε at t_min = `times[0]` for the rows of `x` (data on the levels), and runs
/// the PF-ODE from z (`times`: t_min, …, 1, as `likelihood::flow` takes them). The probes' seed
/// is drawn from the noise's stream, so the two never share draws.
pub fn encode(model: &impl ScoreModel, sde: &Sde, x: Tensor<2>, times: &[f64], how: Divergence, seed: u64) -> Encoded {
    let [n, dim] = x.dims();
    let t_min = times[0];
    let (m, s) = sde.marginal(t_min);
    let mut rng = Rng::new(seed);
    let eps = rng.normals(n * dim);
    let probe_seed = rng.next_u64();
    let constant = -0.5 * dim as f64 * (2.0 * std::f64::consts::PI * s * s).ln();
    let log_q = eps
        .chunks_exact(dim)
        .map(|row| constant - 0.5 * row.iter().map(|&e| (e as f64).powi(2)).sum::<f64>())
        .collect();
    let eps = Tensor::<2>::from_data(TensorData::new(eps, [n, dim]), &x.device());
    let z = x.mul_scalar(m) + eps.mul_scalar(s);
    let x_hat = x0_hat(model, sde, z.clone(), t_min);
    let f = flow(model, sde, z, times, how, probe_seed);
    Encoded { log_q, log_p: f.log_likelihood(sde), x_hat, nfe: f.nfe + 1 }
}

/// −Σ_i log P(x_i | z) in nats for each row: the decoder's share of the bound, from the data's
/// level indices and a host copy of x̂₀ (row-major, `dim` per row), with decoder width σ.
pub fn decoder_nats(levels: &Levels, indices: &[u8], dim: usize, x_hat: &[f32], sigma: f64) -> Vec<f64> {
    indices
        .chunks_exact(dim)
        .zip(x_hat.chunks_exact(dim))
        .map(|(row, centres)| {
            -row.iter().zip(centres).map(|(&k, &c)| levels.log_prob(k as usize, c as f64, sigma)).sum::<f64>()
        })
        .collect()
}

/// The bound on −log P(x) in nats for each row: the decoder's nats (`decoder_nats`) plus
/// log q(z | x) − log p_{t_min}(z), from host copies of `Encoded`'s fields.
pub fn bound_nats(decoder: &[f64], log_q: &[f64], log_p: &[f32]) -> Vec<f64> {
    decoder.iter().zip(log_q).zip(log_p).map(|((d, q), &p)| d + q - p as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sde::likelihood::Grid;
    use crate::sde::mixture::Mixture;
    use crate::sde::score::MixtureScore;

    const LEVELS: Levels = Levels { count: 4, first: -0.75, step: 0.5 };

    /// The decoder is a distribution over the levels wherever its centre is, even far outside
    /// them, and never assigns a level less than ρ/count; a narrow one on a level takes all of it.
    #[test]
    fn the_decoder_sums_to_one_over_the_levels() {
        let pixels = Levels { count: 256, first: -1.0, step: 2.0 / 255.0 };
        for levels in [LEVELS, pixels] {
            for x_hat in [-40.0, -1.0, -0.8, 0.0, 0.1234, 0.75, 3.0, 1e6] {
                for sigma in [1e-4, 0.003, 0.1, 1.0, 30.0] {
                    let logs: Vec<f64> = (0..levels.count).map(|k| levels.log_prob(k, x_hat, sigma)).collect();
                    let total: f64 = logs.iter().map(|l| l.exp()).sum();
                    assert!((total - 1.0).abs() < 1e-9, "x̂ {x_hat}, σ {sigma}: {total}");
                    let floor = (UNIFORM_SHARE / levels.count as f64).ln();
                    assert!(logs.iter().all(|&l| l >= floor - 1e-9), "x̂ {x_hat}, σ {sigma}");
                }
            }
        }
        assert!(LEVELS.log_prob(1, -0.25, 0.01).abs() < 2e-6);
        // On the edge between two bins: half each.
        assert!((LEVELS.log_prob(1, 0.0, 0.01) - 0.5f64.ln()).abs() < 1e-5);
        // The outer bins are open: a centre far below the first level is all the first level's.
        assert!(LEVELS.log_prob(0, -40.0, 0.01).abs() < 2e-6);
    }

    /// A distribution on three points of a 4-level grid in 2-D (the mixture's components are
    /// near-point masses on the levels), scored under its exact score. At a small t_min the levels
    /// are far apart against s, the posterior of x given z is certain, and the bound is tight:
    /// it equals −log P(x) = −log w at each point. At a large t_min the levels blur into each
    /// other and the decoder guesses: averaged over the data the bound then stays above the
    /// entropy −Σ w log w (a cross-entropy bound can only be), with a clear gap.
    #[test]
    fn the_bound_of_an_exact_score_is_minus_log_p_and_never_below_the_entropy() {
        let device = Device::flex();
        let points = [[0usize, 0], [2, 3], [3, 1]];
        let weights: [f64; 3] = [0.5, 0.3, 0.2];
        let entropy: f64 = weights.iter().map(|w| -w * w.ln()).sum();
        let tiny = 1e-8;
        let means = points.iter().map(|p| [LEVELS.value(p[0]), LEVELS.value(p[1])]).collect();
        let mixture = Mixture::new(weights.to_vec(), means, vec![[tiny, 0.0, 0.0, tiny]; 3]).unwrap();
        let sde = Sde::vp();
        let model = MixtureScore { mixture: &mixture, sde: &sde };
        let draws = 64;
        for (t_min, sigma, tight) in [(1e-3, 0.05, true), (0.3, 0.25, false)] {
            let times = Grid::LogSnr.times(&sde, t_min, 100);
            let (mut cross_entropy, mut variance) = (0.0, 0.0);
            for (j, point) in points.iter().enumerate() {
                let indices: Vec<u8> = (0..draws).flat_map(|_| point.map(|k| k as u8)).collect();
                let values: Vec<f32> = indices.iter().map(|&k| LEVELS.value(k as usize) as f32).collect();
                let x = Tensor::<2>::from_data(TensorData::new(values, [draws, 2]), &device);
                let e = encode(&model, &sde, x, &times, Divergence::Exact, 7 + j as u64);
                let log_p: Vec<f32> = e.log_p.into_data().try_into_vec().unwrap();
                let x_hat: Vec<f32> = e.x_hat.into_data().try_into_vec().unwrap();
                let decoded = decoder_nats(&LEVELS, &indices, 2, &x_hat, sigma);
                let nats = bound_nats(&decoded, &e.log_q, &log_p);
                let mean = nats.iter().sum::<f64>() / draws as f64;
                let var = nats.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / (draws - 1) as f64;
                if tight {
                    let want = -weights[j].ln();
                    assert!((mean - want).abs() < 0.02, "t_min {t_min}, point {j}: {mean} vs {want}");
                }
                cross_entropy += weights[j] * mean;
                variance += weights[j].powi(2) * var / draws as f64;
            }
            let gap = cross_entropy - entropy;
            if tight {
                assert!(gap.abs() < 0.02, "t_min {t_min}: {cross_entropy} vs {entropy}");
            } else {
                assert!(gap > 0.1 && gap > 3.0 * variance.sqrt(), "t_min {t_min}: gap {gap} ± {}", variance.sqrt());
            }
        }
    }
}
