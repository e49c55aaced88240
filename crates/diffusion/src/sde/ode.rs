//! The probability-flow ODE dx/dt = f(x, t) − ½ g(t)² s(x, t) (Song et al. 2021, eq. 13), which has
//! the same marginals as the SDE, integrated backwards in time with fixed-step Euler, Heun or RK4,
//! or adaptive RK45. A network that predicts the velocity itself (flow matching) gives it directly.

use burn::prelude::*;

use crate::sde::Sde;
use crate::sde::score::ScoreModel;

/// The ODE's drift at (x, t): the model's own velocity, else a(t) x − ½ g(t)² s(x, t).
pub fn pf_drift(model: &impl ScoreModel, sde: &Sde, x: Tensor<2>, t: f64) -> Tensor<2> {
    if let Some(velocity) = model.velocity(x.clone(), t) {
        return velocity;
    }
    let score = model.score(x.clone(), t);
    x.mul_scalar(sde.drift_coef(t)) - score.mul_scalar(0.5 * sde.g2(t))
}

/// Euler (1 evaluation): x ← x + h v(x, t), h = t' − t. On the flow path with a velocity network
/// this is rectified flow's sampler (and equals DDIM with η = 0 there).
pub fn euler(model: &impl ScoreModel, sde: &Sde, x: Tensor<2>, t: f64, t_next: f64) -> Tensor<2> {
    let k1 = pf_drift(model, sde, x.clone(), t);
    x + k1.mul_scalar(t_next - t)
}

/// Heun (2 evaluations): k₁ = v(x, t), k₂ = v(x + h k₁, t + h), x ← x + h (k₁ + k₂)/2, h = t' − t.
pub fn heun(model: &impl ScoreModel, sde: &Sde, x: Tensor<2>, t: f64, t_next: f64) -> Tensor<2> {
    let h = t_next - t;
    let k1 = pf_drift(model, sde, x.clone(), t);
    let k2 = pf_drift(model, sde, x.clone() + k1.clone().mul_scalar(h), t_next);
    x + (k1 + k2).mul_scalar(0.5 * h)
}

/// Classical RK4 (4 evaluations).
pub fn rk4(model: &impl ScoreModel, sde: &Sde, x: Tensor<2>, t: f64, t_next: f64) -> Tensor<2> {
    let h = t_next - t;
    let k1 = pf_drift(model, sde, x.clone(), t);
    let k2 = pf_drift(model, sde, x.clone() + k1.clone().mul_scalar(0.5 * h), t + 0.5 * h);
    let k3 = pf_drift(model, sde, x.clone() + k2.clone().mul_scalar(0.5 * h), t + 0.5 * h);
    let k4 = pf_drift(model, sde, x.clone() + k3.clone().mul_scalar(h), t_next);
    x + (k1 + k2.mul_scalar(2.0) + k3.mul_scalar(2.0) + k4).mul_scalar(h / 6.0)
}

/// Adaptive Dormand–Prince 5(4) (the RK45 of scipy's `solve_ivp`, which Song et al. use), one
/// accepted step per [`Rk45::step`]. The whole batch is one system: the error of a step is the
/// RMS over all entries of (x⁵ − x⁴)/(atol + rtol·max(|x|, |x'|)), accepted when ≤ 1; the next
/// step size is h·clamp(0.9 err^{−1/5}, 0.2, 10). Native only: reading the error back is
/// synchronous.
pub struct Rk45 {
    pub rtol: f64,
    pub atol: f64,
    t: f64,
    t_end: f64,
    /// The next step size (negative when integrating backwards); `None` before the first step.
    h: Option<f64>,
    /// The drift at (x, t), reused from the last stage of the previous step (FSAL).
    k1: Option<Tensor<2>>,
    pub nfe: usize,
    pub rejected: usize,
}

/// Dormand–Prince tableau: nodes c, stages a, 5th-order weights b and b − b̂ (the 4th-order error).
const C: [f64; 6] = [1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0];
const A: [&[f64]; 6] = [
    &[1.0 / 5.0],
    &[3.0 / 40.0, 9.0 / 40.0],
    &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
    &[19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0],
    &[9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0],
    &[35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0],
];
const E: [f64; 7] =
    [71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0];

impl Rk45 {
    pub fn new(t: f64, t_end: f64, rtol: f64, atol: f64) -> Self {
        Self { rtol, atol, t, t_end, h: None, k1: None, nfe: 0, rejected: 0 }
    }

    pub fn t(&self) -> f64 {
        self.t
    }

    pub fn done(&self) -> bool {
        (self.t - self.t_end).abs() <= 1e-12 * self.t_end.abs().max(1.0)
    }

    fn scaled_rms(&self, v: Tensor<2>, x: Tensor<2>, x_new: Option<Tensor<2>>) -> f64 {
        let size = match x_new {
            Some(x_new) => x.abs().max_pair(x_new.abs()),
            None => x.abs(),
        };
        let scaled = v / size.mul_scalar(self.rtol).add_scalar(self.atol);
        scaled.square().mean().sqrt().into_scalar::<f32>() as f64
    }

    /// Advances x by one accepted step (retrying smaller steps as needed) and returns it.
    pub fn step(&mut self, model: &impl ScoreModel, sde: &Sde, x: Tensor<2>) -> Tensor<2> {
        if self.done() {
            return x;
        }
        let direction = (self.t_end - self.t).signum();
        let k1 = match self.k1.take() {
            Some(k1) => k1,
            None => {
                self.nfe += 1;
                pf_drift(model, sde, x.clone(), self.t)
            }
        };
        // Hairer's starting step: 1% of |x|/|f| in the scaled norm.
        let mut h = self.h.unwrap_or_else(|| {
            let (d0, d1) = (self.scaled_rms(x.clone(), x.clone(), None), self.scaled_rms(k1.clone(), x.clone(), None));
            let h0 = if d0 < 1e-5 || d1 < 1e-5 { 1e-6 } else { 0.01 * d0 / d1 };
            direction * h0
        });
        loop {
            if (self.t + h - self.t_end) * direction > 0.0 {
                h = self.t_end - self.t;
            }
            let mut k = vec![k1.clone()];
            for (c, a) in C.iter().zip(A) {
                let stage = a.iter().zip(&k).fold(x.clone(), |acc, (a, k)| acc + k.clone().mul_scalar(a * h));
                if k.len() == 6 {
                    // The last row of A is the 5th-order solution itself.
                    self.nfe += 1;
                    let k7 = pf_drift(model, sde, stage.clone(), self.t + h);
                    k.push(k7);
                    let error = E
                        .iter()
                        .zip(&k)
                        .fold(Tensor::zeros(x.dims(), &x.device()), |acc, (e, k)| acc + k.clone().mul_scalar(e * h));
                    let err = self.scaled_rms(error, x.clone(), Some(stage.clone()));
                    if err <= 1.0 || h.abs() < 1e-10 {
                        let factor = if err == 0.0 { 10.0 } else { (0.9 * err.powf(-0.2)).clamp(0.2, 10.0) };
                        self.t += h;
                        self.h = Some(h * factor);
                        self.k1 = k.pop();
                        return stage;
                    }
                    self.rejected += 1;
                    h *= if err.is_finite() { (0.9 * err.powf(-0.2)).clamp(0.2, 1.0) } else { 0.2 };
                    break;
                }
                self.nfe += 1;
                k.push(pf_drift(model, sde, stage, self.t + c * h));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sde::mixture::Mixture;
    use crate::sde::score::MixtureScore;

    /// RK45 meets its tolerance: from t = 1 to t_min under the exact mixture score it lands where
    /// 4000 RK4 steps land, and a looser tolerance takes fewer evaluations.
    #[test]
    fn rk45_matches_a_fine_fixed_step_solution() {
        let device = Device::flex();
        let mixture = Mixture::circle(8, 4.0, 0.3);
        for sde in [Sde::vp(), Sde::ve(10.0)] {
            let model = MixtureScore { mixture: &mixture, sde: &sde };
            let x_1 =
                Tensor::<2>::from_floats([[0.3, -1.2], [1.5, 0.7], [-0.4, 0.1]], &device).mul_scalar(sde.prior_std());
            let steps = 4000;
            let h = (1.0 - sde.t_min()) / steps as f64;
            let reference =
                (0..steps).fold(x_1.clone(), |x, i| rk4(&model, &sde, x, 1.0 - i as f64 * h, 1.0 - (i + 1) as f64 * h));
            let run = |tol: f64| {
                let mut rk45 = Rk45::new(1.0, sde.t_min(), tol, tol);
                let mut x = x_1.clone();
                while !rk45.done() {
                    x = rk45.step(&model, &sde, x);
                }
                (x, rk45.nfe)
            };
            let (x, nfe) = run(1e-5);
            let gap: f32 = (x - reference.clone()).abs().max().into_scalar();
            assert!(gap < 2e-3, "{sde:?}: RK45 is {gap} from the fine solution ({nfe} NFE)");
            let (loose, loose_nfe) = run(1e-2);
            assert!(loose_nfe < nfe, "{sde:?}: {loose_nfe} vs {nfe} NFE");
            // (measured 0.25 for VE, whose x starts at the scale σ_max = 10)
            let loose_gap: f32 = (loose - reference).abs().max().into_scalar();
            assert!(loose_gap < 0.5 && loose_gap > gap, "{sde:?}: {loose_gap}");
        }
    }
}
