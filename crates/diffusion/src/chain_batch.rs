//! Minibatches on the DDPM chain and their per-(x_0, t) losses: L_simple, IWDiff's weighted draws
//! and L_hybrid = L_simple + λ L_vlb (Nichol & Dhariwal 2021, §3.1, λ = 0.001) for a network that
//! outputs ε̂ and v per coordinate (`vlb`'s learned Σ_θ). Inside L_vlb the mean is held constant
//! (ε̂ enters μ_θ through a stop-gradient), so L_simple alone trains the mean and L_vlb alone
//! trains v. As in their code, the sum over t is T times one drawn term per row, in bits per
//! coordinate:  l_hybrid = mean((ε − ε̂)²) + λ T L_{t−1}/(dim · ln 2).
//! t is drawn uniformly or from an importance distribution (`importance`).

use burn::prelude::*;
use burn::tensor::activation::softmax;

use crate::importance::StepDraw;
use crate::rng::Rng;
use crate::schedule::Schedule;
use crate::sde::method::Variance;
use crate::train::EpsLoss;
use crate::vlb::StepCoefs;

pub use crate::train::config::LAMBDA;

/// Groups of `k` rows (x_0, t, ε_i, x_t,i) sharing (x_0, t), on the host.
pub struct ChainBatch {
    pub x_0: Vec<f32>,
    pub x_t: Vec<f32>,
    pub eps: Vec<f32>,
    /// Each row's t.
    pub steps: Vec<usize>,
    /// Each group's weight 1/(T p_t) when t was importance-sampled.
    pub weights: Option<Vec<f32>>,
    pub k: usize,
}

impl ChainBatch {
    /// `groups` pairs (x_0 from `data`, t ~ U{1..T} or `steps`' p), each with `k` noises
    /// ε_i ~ N(0, I) and x_t,i = √ᾱ_t x_0 + √(1 − ᾱ_t) ε_i: the draws of `DenoiserBatch::draw` when k = 1.
    pub fn draw(
        data: &[[f32; 2]],
        schedule: &Schedule,
        groups: usize,
        k: usize,
        steps: Option<&StepDraw>,
        rng: &mut Rng,
    ) -> Self {
        let mut rows = Self { x_0: vec![], x_t: vec![], eps: vec![], steps: vec![], weights: None, k };
        let mut weights = Vec::new();
        for _ in 0..groups {
            let x_0 = data[rng.below(data.len())];
            let t = match steps {
                None => 1 + rng.below(schedule.steps),
                Some(draw) => {
                    let (t, w) = draw.draw(rng);
                    weights.push(w as f32);
                    t
                }
            };
            for _ in 0..k {
                let e = [rng.normal() as f32, rng.normal() as f32];
                rows.x_t.extend(schedule.q_sample(x_0, t, e));
                rows.x_0.extend(x_0);
                rows.eps.extend(e);
                rows.steps.push(t);
            }
        }
        rows.weights = steps.map(|_| weights);
        rows
    }

    /// Each group's t.
    pub fn group_steps(&self) -> impl Iterator<Item = usize> + '_ {
        self.steps.iter().step_by(self.k).copied()
    }

    /// The network input (x_t, t̄): [n, 3].
    pub fn input(&self, schedule: &Schedule, device: &Device) -> Tensor<2> {
        let n = self.steps.len();
        let t_bar: Vec<f32> = self.steps.iter().map(|&t| schedule.t_bar(t)).collect();
        let t_bar = Tensor::<2>::from_data(TensorData::new(t_bar, [n, 1]), device);
        Tensor::cat(vec![self.tensor(&self.x_t, device), t_bar], 1)
    }

    fn tensor(&self, values: &[f32], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values.to_vec(), [self.steps.len(), 2]), device)
    }

    /// Each group's loss, [groups, 1], from the network output `out` (ε̂, and v for L_hybrid).
    pub fn group_losses(&self, out: Tensor<2>, schedule: &Schedule, loss: EpsLoss) -> Tensor<2> {
        let device = out.device();
        let eps = self.tensor(&self.eps, &device);
        match loss {
            EpsLoss::Simple => row_mse(out, eps),
            EpsLoss::Iwdiff { k, worst_first } => iw_rows(out, eps, k, worst_first),
            EpsLoss::Hybrid { lambda } => self.hybrid_rows(out, eps, schedule, lambda),
        }
    }

    /// l_hybrid per row for `out` = [ε̂, v] ([n, 4]).
    fn hybrid_rows(&self, out: Tensor<2>, eps: Tensor<2>, schedule: &Schedule, lambda: f64) -> Tensor<2> {
        let device = out.device();
        let dim = 2;
        let (eps_hat, v) = (out.clone().narrow(1, 0, dim), out.narrow(1, dim, dim));
        let (x_0, x_t) = (self.tensor(&self.x_0, &device), self.tensor(&self.x_t, &device));
        let simple = row_mse(eps_hat.clone(), eps);
        let coefs = StepCoefs::new(schedule, &self.steps, &device);
        let mean = coefs.model_mean(x_t.clone(), eps_hat.detach());
        let log_variance = coefs.log_variance(Variance::Learned, Some(v), &mean);
        let vlb = coefs.terms(x_0, x_t, mean, log_variance);
        simple + vlb.mul_scalar(lambda * schedule.steps as f64 / (dim as f64 * std::f64::consts::LN_2))
    }

    /// The minibatch loss: the mean of the group losses, each times its weight 1/(T p_t) when t
    /// was importance-sampled.
    pub fn loss(&self, groups: Tensor<2>) -> Tensor<1> {
        match &self.weights {
            None => groups.mean(),
            Some(w) => {
                let w = Tensor::<2>::from_data(TensorData::new(w.clone(), [w.len(), 1]), &groups.device());
                (groups * w).mean()
            }
        }
    }
}

/// Each row's l = mean over coordinates of (ε̂ − ε)²: [n, 1].
pub fn row_mse(eps_hat: Tensor<2>, eps: Tensor<2>) -> Tensor<2> {
    (eps_hat - eps).square().mean_dim(1)
}

/// Σ_i w̃_i l_i for each group of `k` rows: [groups, 1].
pub fn iw_rows(eps_hat: Tensor<2>, eps: Tensor<2>, k: usize, worst_first: bool) -> Tensor<2> {
    let l = row_mse(eps_hat, eps);
    let [n, _] = l.dims();
    let l = l.reshape([n / k, k]);
    (iw_weights(l.clone(), worst_first) * l).sum_dim(1)
}

/// IWDiff's weights w̃ = softmax(±l) over each group's row of losses l ([groups, k]), held constant
/// (no gradient through them); + when `worst_first`.
pub fn iw_weights(l: Tensor<2>, worst_first: bool) -> Tensor<2> {
    softmax(l.detach().mul_scalar(if worst_first { 1.0 } else { -1.0 }), 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::ScheduleConfig;

    /// The stop-gradient: ε̂'s gradient is L_simple's alone, whatever λ; v's comes from L_vlb
    /// alone (zero at λ = 0). Removing the `detach` makes the first check fail.
    #[test]
    fn the_bound_trains_the_variance_and_leaves_the_mean_to_l_simple() {
        let device = Device::flex();
        let schedule = ScheduleConfig::default().init().unwrap();
        let data = [[0.5f32, -1.0], [1.5, 0.25], [-0.75, 0.8]];
        let batch = ChainBatch::draw(&data, &schedule, 16, 1, None, &mut Rng::new(3));
        assert!(batch.steps.iter().any(|&t| t > 1));
        let out: Vec<f32> = (0..64).map(|i| ((i * 29 % 17) as f32 / 17.0) - 0.5).collect();
        let grads = |lambda: f64| -> Vec<f32> {
            let out = Tensor::<2>::from_data(TensorData::new(out.clone(), [16, 4]), &device.clone().autodiff())
                .require_grad();
            let groups = batch.group_losses(out.clone(), &schedule, EpsLoss::Hybrid { lambda });
            let grads = batch.loss(groups).backward();
            out.grad(&grads).unwrap().into_data().try_into_vec().unwrap()
        };
        let (plain, hybrid) = (grads(0.0), grads(LAMBDA));
        for (row, (p, h)) in plain.chunks(4).zip(hybrid.chunks(4)).enumerate() {
            assert!((p[0] - h[0]).abs() < 1e-7 && (p[1] - h[1]).abs() < 1e-7, "row {row}: ε̂ gradient {p:?} vs {h:?}");
            assert_eq!(&p[2..], &[0.0, 0.0], "row {row}");
            assert!(h[2] != 0.0 && h[3] != 0.0, "row {row}: v untrained {h:?}");
        }
        let v_grad: f32 = hybrid.chunks(4).map(|h| h[2].abs() + h[3].abs()).sum();
        assert!(v_grad > 1e-3, "{v_grad}");
    }
}
