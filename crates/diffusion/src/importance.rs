//! Importance-sampled t (Nichol & Dhariwal 2021, §3.3, eq. 8–9): the loss Σ_t L_t is estimated
//! with t ~ p_t and weight 1/(T p_t) (unbiased for any p with full support), where
//!   p_t ∝ √E[L_t²]
//! from the last 10 losses recorded at each t, uniform until every t has 10, and mixed with a
//! share 0.001 of the uniform distribution so no t starves. The chain's steps are t = 1..=T.

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// Losses kept per t.
pub const HISTORY: usize = 10;
/// The uniform distribution's share in p.
pub const UNIFORM_SHARE: f64 = 0.001;

/// How training draws the chain's step t.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StepSampling {
    /// t ~ U{1..T}.
    #[default]
    Uniform,
    /// t ~ p_t ∝ √E[L_t²], with `extra` more loss-only minibatches per step (t uniform) that
    /// refresh the history (the HSE study's "IS+2": extra = 2).
    Importance { extra: usize },
}

/// The last [`HISTORY`] losses at each t = 1..=T.
#[derive(Clone, Debug)]
pub struct LossHistory {
    /// losses[t − 1]: a ring of up to HISTORY values, `next[t − 1]` the slot written next.
    losses: Vec<Vec<f64>>,
    next: Vec<usize>,
}

impl LossHistory {
    pub fn new(steps: usize) -> Self {
        Self { losses: vec![Vec::with_capacity(HISTORY); steps], next: vec![0; steps] }
    }

    /// Keeps `loss` as one of t's last HISTORY (a non-finite loss is not kept).
    pub fn record(&mut self, t: usize, loss: f64) {
        if !loss.is_finite() {
            return;
        }
        let (ring, next) = (&mut self.losses[t - 1], &mut self.next[t - 1]);
        if ring.len() < HISTORY {
            ring.push(loss);
        } else {
            ring[*next] = loss;
        }
        *next = (*next + 1) % HISTORY;
    }

    /// Whether every t has HISTORY losses.
    pub fn ready(&self) -> bool {
        self.losses.iter().all(|ring| ring.len() == HISTORY)
    }

    /// p_t for t = 1..=T: (1 − ρ) √E[L_t²]/Σ_s √E[L_s²] + ρ/T once ready, else uniform.
    pub fn probabilities(&self) -> Vec<f64> {
        let steps = self.losses.len();
        let uniform = 1.0 / steps as f64;
        if !self.ready() {
            return vec![uniform; steps];
        }
        let rms: Vec<f64> =
            self.losses.iter().map(|ring| (ring.iter().map(|l| l * l).sum::<f64>() / HISTORY as f64).sqrt()).collect();
        let total: f64 = rms.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            return vec![uniform; steps];
        }
        rms.iter().map(|r| (1.0 - UNIFORM_SHARE) * r / total + UNIFORM_SHARE * uniform).collect()
    }
}

/// Draws t = 1..=T from p_t by its cumulative sums.
pub struct StepDraw {
    cdf: Vec<f64>,
    p: Vec<f64>,
}

impl StepDraw {
    pub fn new(p: Vec<f64>) -> Self {
        let cdf = p
            .iter()
            .scan(0.0, |sum, p| {
                *sum += p;
                Some(*sum)
            })
            .collect();
        Self { cdf, p }
    }

    /// t ~ p and its weight 1/(T p_t).
    pub fn draw(&self, rng: &mut Rng) -> (usize, f64) {
        let u = rng.uniform() * self.cdf[self.cdf.len() - 1];
        let i = self.cdf.partition_point(|&c| c <= u).min(self.p.len() - 1);
        (i + 1, 1.0 / (self.p.len() as f64 * self.p[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a synthetic loss L_t = σ_t |z| (z ~ N(0, 1), σ_t = 1 + 3 t/T, so √E[L_t²] = σ_t), drawing
    /// t from the history's p and recording what it draws, p settles on the σ_t profile: averaged
    /// over rounds it is within 3% of σ_t/Σσ at every t. Before every t has 10 losses p is uniform;
    /// the weighted estimate mean(w L) stays unbiased for mean_t E[L_t].
    #[test]
    fn p_converges_to_the_root_mean_square_profile() {
        let steps = 20;
        let sigma = |t: usize| 1.0 + 3.0 * t as f64 / steps as f64;
        let mut history = LossHistory::new(steps);
        let mut rng = Rng::new(5);
        for t in 1..=steps {
            for _ in 0..HISTORY - 1 {
                history.record(t, sigma(t) * rng.normal().abs());
            }
        }
        assert!(!history.ready());
        assert!(history.probabilities().iter().all(|&p| p == 1.0 / steps as f64));
        for t in 1..=steps {
            history.record(t, sigma(t) * rng.normal().abs());
        }
        assert!(history.ready());
        let rounds = 4000;
        let (mut average, mut estimate) = (vec![0.0; steps], 0.0);
        for _ in 0..rounds {
            let p = history.probabilities();
            average.iter_mut().zip(&p).for_each(|(a, p)| *a += p / rounds as f64);
            let draw = StepDraw::new(p);
            for _ in 0..64 {
                let (t, w) = draw.draw(&mut rng);
                let loss = sigma(t) * rng.normal().abs();
                estimate += w * loss / (64 * rounds) as f64;
                history.record(t, loss);
            }
        }
        let total: f64 = (1..=steps).map(sigma).sum();
        for t in 1..=steps {
            let want = (1.0 - UNIFORM_SHARE) * sigma(t) / total + UNIFORM_SHARE / steps as f64;
            assert!((average[t - 1] - want).abs() < 0.03 * want, "t {t}: {} vs {want}", average[t - 1]);
        }
        // E|z| = √(2/π): the mean loss over t is √(2/π) · mean σ_t.
        let truth = (2.0 / std::f64::consts::PI).sqrt() * total / steps as f64;
        assert!((estimate - truth).abs() < 0.01 * truth, "{estimate} vs {truth}");
    }

    /// The draw follows p, and every t keeps the uniform share's floor.
    #[test]
    fn draws_follow_p_with_a_floor() {
        let mut p = [0.0; 10];
        p[2] = 1.0;
        let mixed: Vec<f64> = p.iter().map(|p| (1.0 - UNIFORM_SHARE) * p + UNIFORM_SHARE / 10.0).collect();
        let draw = StepDraw::new(mixed.clone());
        let mut rng = Rng::new(1);
        let n = 200_000;
        let mut counts = [0usize; 10];
        for _ in 0..n {
            counts[draw.draw(&mut rng).0 - 1] += 1;
        }
        for (count, want) in counts.iter().zip(&mixed) {
            let got = *count as f64 / n as f64;
            assert!((got - want).abs() < 5.0 * (want / n as f64).sqrt() + 1e-6, "{counts:?}");
        }
        assert!(counts.iter().all(|&c| c > 0));
    }
}
