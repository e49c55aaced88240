//! An analytic Gaussian mixture p_0 = Σ_k w_k N(μ_k, Σ_k) in 2-D, perturbed exactly by an SDE: the
//! marginal at t is Σ_k w_k N(m(t) μ_k, m(t)² Σ_k + s(t)² I), so its score and log-density are
//! closed-form at every t. The samplers' test oracle, and a target that needs no training.

use burn::prelude::*;
use burn::tensor::activation::softmax;

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sde::Sde;

#[derive(Clone, Debug, PartialEq)]
pub struct Mixture {
    pub weights: Vec<f64>,
    pub means: Vec<[f64; 2]>,
    /// Row-major 2 × 2 covariances [a, b, b, c].
    pub covariances: Vec<[f64; 4]>,
}

impl Mixture {
    pub fn new(weights: Vec<f64>, means: Vec<[f64; 2]>, covariances: Vec<[f64; 4]>) -> Result<Self> {
        let total: f64 = weights.iter().sum();
        let bad = weights.is_empty()
            || weights.len() != means.len()
            || weights.len() != covariances.len()
            || weights.iter().any(|w| w.is_nan() || *w <= 0.0)
            || covariances
                .iter()
                .any(|c| !(c[0] > 0.0 && c[3] > 0.0 && c[0] * c[3] - c[1] * c[2] > 0.0 && c[1] == c[2]));
        if bad {
            return Err(Error::Config(
                "a mixture needs positive weights and symmetric positive-definite covariances".into(),
            ));
        }
        Ok(Self { weights: weights.iter().map(|w| w / total).collect(), means, covariances })
    }

    /// `k` equal components N(μ_j, σ² I) on a circle of radius `r`.
    pub fn circle(k: usize, r: f64, sigma: f64) -> Self {
        let means = (0..k)
            .map(|j| {
                let a = 2.0 * std::f64::consts::PI * j as f64 / k as f64;
                [r * a.cos(), r * a.sin()]
            })
            .collect();
        Self::new(vec![1.0; k], means, vec![[sigma * sigma, 0.0, 0.0, sigma * sigma]; k]).expect("valid")
    }

    /// Two anisotropic, correlated components of unequal weight.
    pub fn anisotropic() -> Self {
        Self::new(vec![0.3, 0.7], vec![[-2.0, 1.0], [1.5, -0.5]], vec![[0.5, 0.3, 0.3, 0.4], [0.2, -0.1, -0.1, 1.0]])
            .expect("valid")
    }

    /// Component covariances of the marginal at t: m² Σ_k + s² I.
    fn covariances_at(&self, sde: &Sde, t: f64) -> Vec<[f64; 4]> {
        let (m, s) = sde.marginal(t);
        self.covariances
            .iter()
            .map(|c| [m * m * c[0] + s * s, m * m * c[1], m * m * c[2], m * m * c[3] + s * s])
            .collect()
    }

    /// Per row and component: log w_k + log N(x; m μ_k, C_k) as [n, K], and each component's
    /// −C_k⁻¹(x − m μ_k) as K tensors [n, 2]. All tensor ops, so autodiff sees through them.
    fn terms(&self, sde: &Sde, x: Tensor<2>, t: f64) -> (Tensor<2>, Vec<Tensor<2>>) {
        let (m, _) = sde.marginal(t);
        let device = x.device();
        let mut logs = Vec::new();
        let mut pulls = Vec::new();
        for (k, c) in self.covariances_at(sde, t).iter().enumerate() {
            let det = c[0] * c[3] - c[1] * c[2];
            // C⁻¹ = [c3, −c1; −c2, c0]/det, applied to rows: d C⁻¹ (symmetric).
            let inverse = Tensor::<2>::from_data(
                TensorData::new(
                    vec![(c[3] / det) as f32, (-c[1] / det) as f32, (-c[2] / det) as f32, (c[0] / det) as f32],
                    [2, 2],
                ),
                &device,
            );
            let mean =
                Tensor::<1>::from_floats([(m * self.means[k][0]) as f32, (m * self.means[k][1]) as f32], &device);
            let d = x.clone() - mean.unsqueeze::<2>();
            let pull = d.clone().matmul(inverse);
            let quadratic = (pull.clone() * d).sum_dim(1);
            let constant = self.weights[k].ln() - (2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln();
            logs.push(quadratic.mul_scalar(-0.5).add_scalar(constant));
            pulls.push(pull.neg());
        }
        (Tensor::cat(logs, 1), pulls)
    }

    /// log p_t(x) for each row: [n].
    pub fn log_prob(&self, sde: &Sde, x: Tensor<2>, t: f64) -> Tensor<1> {
        let (logs, _) = self.terms(sde, x, t);
        // log Σ exp, stabilised by the row maximum.
        let max = logs.clone().max_dim(1);
        (logs - max.clone()).exp().sum_dim(1).log().add(max).reshape([-1])
    }

    /// ∇ log p_t(x) = Σ_k r_k(x) (−C_k⁻¹(x − m μ_k)), r the components' posterior: [n, 2].
    pub fn score(&self, sde: &Sde, x: Tensor<2>, t: f64) -> Tensor<2> {
        let (logs, pulls) = self.terms(sde, x, t);
        let r = softmax(logs, 1);
        pulls
            .into_iter()
            .enumerate()
            .map(|(k, pull)| pull * r.clone().narrow(1, k, 1))
            .reduce(|a, b| a + b)
            .expect("K ≥ 1")
    }

    /// Exact samples of p_0 with their component index.
    pub fn sample(&self, n: usize, rng: &mut Rng) -> (Vec<[f32; 2]>, Vec<usize>) {
        let mut points = Vec::with_capacity(n);
        let mut components = Vec::with_capacity(n);
        for _ in 0..n {
            let u = rng.uniform();
            let k = self
                .weights
                .iter()
                .scan(0.0, |acc, w| {
                    *acc += w;
                    Some(*acc)
                })
                .position(|c| u < c)
                .unwrap_or(self.weights.len() - 1);
            let c = self.covariances[k];
            // Cholesky of [a b; b c]: l11 = √a, l21 = b/l11, l22 = √(c − l21²).
            let (l11, l21) = (c[0].sqrt(), c[1] / c[0].sqrt());
            let l22 = (c[3] - l21 * l21).sqrt();
            let (z1, z2) = (rng.normal(), rng.normal());
            points.push([(self.means[k][0] + l11 * z1) as f32, (self.means[k][1] + l21 * z1 + l22 * z2) as f32]);
            components.push(k);
        }
        (points, components)
    }

    /// The most likely component of each point under p_0 (for per-mode mass).
    pub fn assign(&self, points: &[[f32; 2]], device: &Device) -> Vec<usize> {
        let flat: Vec<f32> = points.iter().flatten().copied().collect();
        let x = Tensor::<2>::from_data(TensorData::new(flat, [points.len(), 2]), device);
        let (logs, _) = self.terms(&Sde::vp(), x, 0.0);
        logs.argmax(1).into_data().try_into_vec_as::<i64>().expect("labels").into_iter().map(|k| k as usize).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec().unwrap()
    }

    /// The score is the gradient of the log-density: central differences, at several t, every SDE.
    #[test]
    fn score_is_the_gradient_of_log_prob() {
        let device = Device::flex();
        let mixture = Mixture::anisotropic();
        let points = [[0.3f32, -0.2], [-1.5, 1.2], [2.0, 0.5]];
        for sde in [Sde::ve(10.0), Sde::vp(), Sde::sub_vp()] {
            for t in [0.0, 0.05, 0.3, 0.9] {
                let x = Tensor::<2>::from_data(TensorData::new(points.concat(), [3, 2]), &device);
                let score = rows(mixture.score(&sde, x, t));
                let h = 1e-2f32;
                for (i, p) in points.iter().enumerate() {
                    for d in 0..2 {
                        let mut shifted = [*p, *p];
                        shifted[0][d] += h;
                        shifted[1][d] -= h;
                        let x = Tensor::<2>::from_data(TensorData::new(shifted.concat(), [2, 2]), &device);
                        let lp: Vec<f32> = mixture.log_prob(&sde, x, t).into_data().try_into_vec().unwrap();
                        let numeric = (lp[0] - lp[1]) as f64 / (2.0 * h as f64);
                        let exact = score[2 * i + d] as f64;
                        assert!(
                            (numeric - exact).abs() < 2e-2 * (1.0 + exact.abs()),
                            "{sde:?} t {t}: {exact} vs {numeric}"
                        );
                    }
                }
            }
        }
    }

    /// log p_0 integrates to 1 over a grid, and the sampler's moments match the mixture's.
    #[test]
    fn density_and_samples_agree() {
        let device = Device::flex();
        let mixture = Mixture::anisotropic();
        let (lo, hi, cells) = (-7.0f64, 7.0f64, 280usize);
        let h = (hi - lo) / cells as f64;
        let grid: Vec<f32> = (0..cells * cells)
            .flat_map(|i| {
                [(lo + (i % cells) as f64 * h + h / 2.0) as f32, (lo + (i / cells) as f64 * h + h / 2.0) as f32]
            })
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(grid, [cells * cells, 2]), &device);
        let lp: Vec<f32> = mixture.log_prob(&Sde::vp(), x, 0.0).into_data().try_into_vec().unwrap();
        let mass: f64 = lp.iter().map(|l| (*l as f64).exp() * h * h).sum();
        assert!((mass - 1.0).abs() < 1e-3, "mass {mass}");
        let (points, components) = mixture.sample(20_000, &mut Rng::new(0));
        let share = components.iter().filter(|&&k| k == 1).count() as f64 / 20_000.0;
        assert!((share - 0.7).abs() < 0.015);
        let mean_x = points.iter().map(|p| p[0] as f64).sum::<f64>() / 20_000.0;
        assert!((mean_x - (0.3 * -2.0 + 0.7 * 1.5)).abs() < 0.03, "{mean_x}");
        let assigned = mixture.assign(&points, &device);
        let agree = assigned.iter().zip(&components).filter(|(a, b)| a == b).count() as f64 / 20_000.0;
        assert!(agree > 0.95, "{agree}");
    }
}
