//! Classifier guidance (Dhariwal & Nichol 2021, Algorithm 2; the course handout) as a wrapper of
//! any score model, so every sampler can be guided:
//!   ∇log p̃_t(x | y) = ∇log p_t(x) + s ∇_x log f_φ(y | x, t),
//! i.e. ε̂ = ε_θ(x_t, t) − s √(1 − ᾱ_t) ∇_{x_t} log f_φ(y | x_t, t) in ε form (s(t) = √(1 − ᾱ_t)
//! on the DDPM chain). The classifier was trained on its own process (the DDPM chain); on another
//! process it is asked at the time t_c of equal noise level σ_c(t_c) = σ(t), on x_c = x m_c/m,
//! and the chain rule brings the factor m_c/m to the gradient; where σ(t) is beyond the largest
//! noise level the classifier was trained on (VP's σ(1) ≈ 152 against the chain's ≈ 12), it gives
//! no guidance. The gradient is burn's autodiff with
//! respect to x only (the classifier's parameters stay constants), so it runs on every device.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::model::mlp::Mlp;
use crate::sde::Sde;
use crate::sde::score::ScoreModel;

/// log f_φ(· | x_t, t̄) of a noisy classifier MLP on (x_t, t̄) for every class: log-softmax of its
/// logits, [n, classes], at the network's time input t̄ = 2t − 1 (t ∈ [0, 1], the chain's k/T).
pub fn log_probs_at(classifier: &Mlp, x_t: Tensor<2>, t_bar: f32) -> Tensor<2> {
    let [n, _] = x_t.dims();
    let t_bar = Tensor::full([n, 1], t_bar, &x_t.device());
    log_softmax(classifier.forward(Tensor::cat(vec![x_t, t_bar], 1)), 1)
}

/// ∇_x log f_φ(y_i | x_i, t̄) for each row, with y given as one-hot rows: [n, dim].
pub fn log_prob_grad(classifier: &Mlp, x: Tensor<2>, t_bar: f32, one_hot: Tensor<2>) -> Tensor<2> {
    // Rows are independent, so the gradient of the sum over rows is each row's own gradient.
    let x = x.detach().autodiff().require_grad();
    let selected = (log_probs_at(classifier, x.clone(), t_bar) * one_hot).sum();
    let grads = selected.backward();
    x.grad(&grads).expect("x is tracked")
}

/// A score model guided towards the labels `one_hot` ([n, classes], one row per sample) with scale s.
pub struct ClassifierGuided<'a, M: ScoreModel> {
    pub base: &'a M,
    /// The process the base model (and the sampler) runs on.
    pub sde: Sde,
    pub classifier: &'a Mlp,
    /// The process the classifier was trained on.
    pub classifier_sde: Sde,
    pub one_hot: Tensor<2>,
    pub scale: f64,
}

impl<M: ScoreModel> ClassifierGuided<'_, M> {
    /// The classifier's time and input scale m_c/m for the sampler's time t, or `None` beyond the
    /// classifier's noise range.
    fn classifier_time(&self, t: f64) -> Option<(f64, f64)> {
        if self.sde == self.classifier_sde {
            return Some((t, 1.0));
        }
        let sigma = self.sde.sigma(t);
        if sigma > self.classifier_sde.sigma(1.0) {
            return None;
        }
        let t_c = self.classifier_sde.time_at_sigma(sigma);
        Some((t_c, self.classifier_sde.marginal(t_c).0 / self.sde.marginal(t).0))
    }
}

impl<M: ScoreModel> ClassifierGuided<'_, M> {
    /// The base score plus s ∇log f_φ(y | x, t) (at the classifier's own time and scale).
    fn guided(&self, score: Tensor<2>, x: Tensor<2>, t: f64) -> Tensor<2> {
        let Some((t_c, ratio)) = self.classifier_time(t).filter(|_| self.scale != 0.0) else {
            return score;
        };
        let grad = log_prob_grad(self.classifier, x.mul_scalar(ratio), (2.0 * t_c - 1.0) as f32, self.one_hot.clone());
        score + grad.mul_scalar(self.scale * ratio)
    }
}

/// Guidance moves the mean; a learned variance is the base model's.
impl<M: ScoreModel> ScoreModel for ClassifierGuided<'_, M> {
    fn score(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
        self.guided(self.base.score(x.clone(), t), x, t)
    }

    fn score_and_v(&self, x: Tensor<2>, t: f64) -> (Tensor<2>, Option<Tensor<2>>) {
        let (score, v) = self.base.score_and_v(x.clone(), t);
        (self.guided(score, x, t), v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::one_hot;
    use crate::model::mlp::MlpConfig;
    use crate::schedule::ScheduleConfig;
    use crate::sde::sampler::{Method, SdeSampler};

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec().unwrap()
    }

    /// The autodiff gradient against central differences of log f_φ(y | x, t) on the host.
    #[test]
    fn guidance_gradient_matches_finite_differences() {
        let device = Device::flex();
        let classifier = MlpConfig::classifier().init(&device, 4).unwrap();
        let points = [[0.3f32, -0.7], [-1.2, 0.4], [0.9, 1.1]];
        let labels = [1u8, 3, 4];
        let t_bar = -0.52;
        let x = Tensor::<2>::from_data(TensorData::new(points.concat(), [3, 2]), &device);
        let grad = values(log_prob_grad(&classifier, x, t_bar, one_hot(&labels, &device)));
        let log_p = |p: [f32; 2], label: u8| -> f64 {
            let x = Tensor::<2>::from_data(TensorData::new(p.to_vec(), [1, 2]), &device);
            values(log_probs_at(&classifier, x, t_bar))[label as usize] as f64
        };
        let h = 1e-2f32;
        for (i, (p, &label)) in points.iter().zip(&labels).enumerate() {
            for d in 0..2 {
                let (mut plus, mut minus) = (*p, *p);
                plus[d] += h;
                minus[d] -= h;
                let numeric = (log_p(plus, label) - log_p(minus, label)) / (2.0 * h as f64);
                let exact = grad[2 * i + d] as f64;
                assert!((numeric - exact).abs() < 2e-3 + 0.02 * exact.abs(), "row {i} dim {d}: {exact} vs {numeric}");
            }
            // A wrong sign or a dropped factor would not pass: the gradient is far from zero.
            assert!(grad[2 * i].abs() + grad[2 * i + 1].abs() > 1e-3);
        }
    }

    /// The gradient is burn's autodiff on any device: on wgpu (Mesa lavapipe in CI) it matches the CPU.
    #[test]
    fn guidance_gradient_on_wgpu_matches_the_cpu() {
        let wgpu = crate::test_device::wgpu();
        let points: Vec<f32> = (0..64).map(|i| ((i * 37 % 29) as f32 / 7.0) - 2.0).collect();
        let labels: Vec<u8> = (0..32).map(|i| (i % 5) as u8).collect();
        let gradient = |device: &Device| {
            let classifier = MlpConfig::classifier().init(device, 11).unwrap();
            let x = Tensor::<2>::from_data(TensorData::new(points.clone(), [32, 2]), device);
            values(log_prob_grad(&classifier, x, -0.84, one_hot(&labels, device)))
        };
        let (cpu, gpu) = (gradient(&Device::flex()), gradient(&wgpu));
        for (c, g) in cpu.iter().zip(&gpu) {
            assert!((c - g).abs() <= 1e-4 + 1e-3 * c.abs(), "cpu {c} vs wgpu {g}");
        }
    }

    /// Scale 0 is unguided sampling bit for bit, and a non-zero scale changes the samples, for
    /// every update rule (guidance is a score wrapper, not a property of one sampler).
    #[test]
    fn scale_zero_is_unguided_sampling_for_every_sampler() {
        let device = Device::flex();
        let config = crate::checkpoint::CheckpointConfig {
            schedule: ScheduleConfig { steps: 50, ..Default::default() },
            ..crate::checkpoint::CheckpointConfig::denoiser()
        };
        let denoiser = config.model.init(&device, 1).unwrap();
        let classifier = MlpConfig::classifier().init(&device, 2).unwrap();
        let base = config.eps_score(&denoiser).unwrap();
        let sde = config.sde();
        let n = 64;
        for name in ["ancestral", "ddim", "em", "pc", "ode-heun", "dpmpp2m", "edm-heun"] {
            let method = Method::named(name, 0.16).unwrap();
            let guided = ClassifierGuided {
                base: &base,
                sde,
                classifier: &classifier,
                classifier_sde: sde,
                one_hot: one_hot(&vec![2; n], &device),
                scale: 0.0,
            };
            let run = |model: &dyn Fn(&mut SdeSampler)| {
                let mut sampler = SdeSampler::new(method, sde, 10, n, 9, &device).unwrap();
                model(&mut sampler);
                values(sampler.x())
            };
            let unguided = run(&|s| {
                while !s.done() {
                    s.step(&base)
                }
            });
            assert_eq!(
                run(&|s| {
                    while !s.done() {
                        s.step(&guided)
                    }
                }),
                unguided,
                "{name}"
            );
            let pushed = ClassifierGuided { scale: 1.0, ..guided };
            let moved = run(&|s| {
                while !s.done() {
                    s.step(&pushed)
                }
            });
            assert_ne!(moved, unguided, "{name}");
        }
    }

    /// A classifier with a known analytic log f: logits (w·x) for two classes with w_0 − w_1 = (2, 0),
    /// so ∇ log f(0|x) = 2 (1 − σ(2x₁)) e₁ (σ the logistic function). In ε form guidance moves ε̂ by
    /// −s √(1−ᾱ_t) times it. On another process the classifier is asked at equal σ, on x scaled by
    /// m_c/m = s_c/s (equal σ = s/m, computed here that way, independently of the code), and the
    /// gradient carries the same factor; beyond the chain's largest σ there is no guidance.
    #[test]
    fn guided_eps_has_the_handout_sign_and_scale() {
        use burn::module::Param;
        use burn::nn::Linear;
        let device = Device::flex();
        let schedule = ScheduleConfig::default();
        let chain = Sde::ddpm(&schedule);
        let weight = Tensor::<2>::from_floats([[1.0, -1.0], [0.0, 0.0], [0.0, 0.0]], &device);
        let bias = Tensor::<1>::zeros([2], &device);
        let classifier = Mlp {
            layers: vec![Linear { weight: Param::from_tensor(weight), bias: Some(Param::from_tensor(bias)) }],
            activations: vec![],
        };
        struct Zero;
        impl ScoreModel for Zero {
            fn score(&self, x: Tensor<2>, _: f64) -> Tensor<2> {
                x.zeros_like()
            }
        }
        let x1 = 0.3;
        let x = Tensor::<2>::from_floats([[x1 as f32, 0.0]], &device);
        let label = Tensor::<2>::from_floats([[1.0, 0.0]], &device);
        for (sde, t) in [(chain, 0.6), (Sde::vp(), 0.3), (Sde::ve(10.0), 0.6)] {
            let guided = ClassifierGuided {
                base: &Zero,
                sde,
                classifier: &classifier,
                classifier_sde: chain,
                one_hot: label.clone(),
                scale: 2.0,
            };
            let s = sde.marginal(t).1;
            let eps = values(guided.score(x.clone(), t).mul_scalar(-s));
            let t_c = chain.time_at_sigma(sde.sigma(t));
            let ratio = chain.marginal(t_c).1 / s;
            let logistic = 1.0 / (1.0 + (-2.0 * x1 * ratio).exp());
            let want = -2.0 * s * ratio * 2.0 * (1.0 - logistic);
            assert!(
                (eps[0] as f64 - want).abs() < 1e-5 * want.abs().max(1.0) && eps[1].abs() < 1e-6,
                "{sde:?}: {eps:?} vs ({want}, 0)"
            );
            if sde == chain {
                let alpha_bar = schedule.init().unwrap().alpha_bar[300];
                assert!((s - (1.0 - alpha_bar).sqrt()).abs() < 1e-12, "s(t) is √(1 − ᾱ_t) on the chain");
            }
        }
        // VP at t = 0.9: σ ≈ 49 is beyond the chain's σ(1) ≈ 12, so the score is the base model's.
        let vp = ClassifierGuided {
            base: &Zero,
            sde: Sde::vp(),
            classifier: &classifier,
            classifier_sde: chain,
            one_hot: label,
            scale: 2.0,
        };
        assert!(Sde::vp().sigma(0.9) > chain.sigma(1.0));
        assert_eq!(values(vp.score(x, 0.9)), vec![0.0, 0.0]);
    }
}
