//! The divergence guard of the one trainer: a loss that is not finite, or more than [`FACTOR`]
//! times the median of the last [`WINDOW`] accepted losses, is divergence. Why 100×: healthy runs
//! at the CLI's defaults stay within 1.11× of that median over all 3000 steps (measured for
//! L_simple, IS, IS+2, IWDiff and L_hybrid on STATES); a small-batch, high-rate L_hybrid run
//! spikes to ~20× in its first steps (the decoder term at t = 1 is a Gaussian density, unbounded
//! for continuous data while Σ_θ is small and μ_θ untrained) and then settles; a diverging run
//! grows by 10²–10¹¹ at once (measured: learning rate 0.05 gives 456× at step 2, learning rate 1
//! 5·10¹¹×). The median (not the mean) keeps one bad step from raising the bar for the next.

use std::collections::VecDeque;

/// How far above the running median a loss may go.
pub const FACTOR: f32 = 100.0;
/// Accepted losses the median is taken over.
pub const WINDOW: usize = 50;

/// A run that diverged, and what the trainer did about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// The step (1-based) whose loss tripped the guard, and that loss.
    pub step: usize,
    pub loss: f32,
    /// The running median it was compared with (`None`: the first loss was already bad).
    pub median: Option<f32>,
    /// The step whose weights and optimiser state the trainer went back to.
    pub restored: usize,
    /// The run's peak learning rate.
    pub lr: f64,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = match self.median {
            Some(median) if self.loss.is_finite() => {
                format!("loss {:.3e}, {:.0}× its running median {median:.3}", self.loss, self.loss / median)
            }
            _ => format!("loss {}", self.loss),
        };
        write!(
            f,
            "learning rate {} diverged at step {} ({how}); kept the weights of step {}; try a learning rate ≤ {}",
            self.lr,
            self.step,
            self.restored,
            self.lr / 10.0
        )
    }
}

/// The recent accepted losses.
#[derive(Clone, Debug, Default)]
pub struct Guard {
    recent: VecDeque<f32>,
}

impl Guard {
    /// Checks `losses` in order; accepts each good one, and returns the offset, loss and median of
    /// the first bad one.
    pub fn check(&mut self, losses: &[f32]) -> Option<(usize, f32, Option<f32>)> {
        for (i, &loss) in losses.iter().enumerate() {
            let median = self.median();
            if !loss.is_finite() || median.is_some_and(|m| loss > FACTOR * m) {
                return Some((i, loss, median));
            }
            if self.recent.len() == WINDOW {
                self.recent.pop_front();
            }
            self.recent.push_back(loss);
        }
        None
    }

    fn median(&self) -> Option<f32> {
        if self.recent.is_empty() {
            return None;
        }
        let mut sorted: Vec<f32> = self.recent.iter().copied().collect();
        sorted.sort_by(f32::total_cmp);
        Some(sorted[sorted.len() / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_passes_noise_and_stops_a_blow_up() {
        let mut guard = Guard::default();
        // A falling, noisy curve (±50%) passes.
        let healthy: Vec<f32> =
            (0..200).map(|i| (1.0 - i as f32 / 400.0) * (1.0 + 0.5 * ((i * 7 % 11) as f32 / 11.0))).collect();
        assert_eq!(guard.check(&healthy), None);
        // A spike of 20× passes; one loss 120× the median trips it, with the median it was held against.
        assert_eq!(guard.check(&[15.0]), None);
        let bad = guard.check(&[0.8, 90.0, 0.7]).unwrap();
        assert_eq!(bad.0, 1);
        assert!(bad.2.unwrap() > 0.5 && bad.2.unwrap() < 1.0, "{bad:?}");
        // Non-finite losses always do, even first.
        let first = Guard::default().check(&[f32::NAN]).unwrap();
        assert!(first.0 == 0 && first.1.is_nan() && first.2.is_none());
        assert!(Guard::default().check(&[1.0, f32::INFINITY]).is_some());
        let message = Divergence { step: 37, loss: 3.2e15, median: Some(0.41), restored: 30, lr: 1.0 }.to_string();
        assert!(message.contains("learning rate 1 diverged at step 37") && message.contains("≤ 0.1"), "{message}");
    }
}
