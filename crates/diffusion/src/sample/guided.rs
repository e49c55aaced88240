//! Classifier guidance (Dhariwal & Nichol 2021, Algorithm 2; the course handout):
//!   ε̂(x_t, t) = ε_θ(x_t, t) − s √(1 − ᾱ_t) ∇_{x_t} log f_φ(y | x_t, t),
//! the ε of p_t(x_t) f_φ(y | x_t, t)^s (since ∇ log p_t = −ε/√(1−ᾱ_t)). Wrapping any `EpsModel`
//! makes every sampler guided; the gradient is burn's autodiff, so it runs on every device.

use burn::prelude::*;

use crate::classifier::log_probs;
use crate::model::mlp::Mlp;
use crate::sample::EpsModel;
use crate::schedule::Schedule;

/// ∇_{x_t} log f_φ(y_i | x_t,i, t) for each row, with y given as one-hot rows: [n, 2].
pub fn log_prob_grad(classifier: &Mlp, schedule: &Schedule, x_t: Tensor<2>, t: usize, one_hot: Tensor<2>) -> Tensor<2> {
    // The classifier's parameters stay constants; only x_t is tracked. Rows are independent, so the
    // gradient of the sum over rows is each row's own gradient.
    let x = x_t.detach().autodiff().require_grad();
    let selected = (log_probs(classifier, schedule, x.clone(), t) * one_hot).sum();
    let grads = selected.backward();
    x.grad(&grads).expect("x_t is tracked")
}

/// ε_θ guided towards the labels `one_hot` ([n, classes], one row per sample) with scale s.
pub struct Guided<'a, M: EpsModel> {
    pub base: &'a M,
    pub classifier: &'a Mlp,
    pub schedule: &'a Schedule,
    pub one_hot: Tensor<2>,
    pub scale: f64,
}

impl<M: EpsModel> EpsModel for Guided<'_, M> {
    fn eps(&self, x_t: Tensor<2>, t: usize) -> Tensor<2> {
        let grad = log_prob_grad(self.classifier, self.schedule, x_t.clone(), t, self.one_hot.clone());
        let coef = self.scale * (1.0 - self.schedule.alpha_bar[t]).sqrt();
        self.base.eps(x_t, t) - grad.mul_scalar(coef)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::one_hot;
    use crate::model::mlp::MlpConfig;
    use crate::sample::MlpEps;
    use crate::sample::chain::{Chain, Rule};
    use crate::schedule::ScheduleConfig;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec().unwrap()
    }

    /// The autodiff gradient against central differences of log f_φ(y | x, t) in f64 on the host.
    #[test]
    fn guidance_gradient_matches_finite_differences() {
        let device = Device::flex();
        let schedule = ScheduleConfig::default().init().unwrap();
        // Smooth enough: a random network, evaluated away from PReLU kinks by taking a small step.
        let classifier = MlpConfig::classifier().init(&device, 4).unwrap();
        let points = [[0.3f32, -0.7], [-1.2, 0.4], [0.9, 1.1]];
        let labels = [1u8, 3, 4];
        let t = 120;
        let x = Tensor::<2>::from_data(TensorData::new(points.concat(), [3, 2]), &device);
        let grad = values(log_prob_grad(&classifier, &schedule, x, t, one_hot(&labels, &device)));
        let log_p = |p: [f32; 2], label: u8| -> f64 {
            let x = Tensor::<2>::from_data(TensorData::new(p.to_vec(), [1, 2]), &device);
            values(log_probs(&classifier, &schedule, x, t))[label as usize] as f64
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
        let schedule = ScheduleConfig::default().init().unwrap();
        let points: Vec<f32> = (0..64).map(|i| ((i * 37 % 29) as f32 / 7.0) - 2.0).collect();
        let labels: Vec<u8> = (0..32).map(|i| (i % 5) as u8).collect();
        let gradient = |device: &Device| {
            let classifier = MlpConfig::classifier().init(device, 11).unwrap();
            let x = Tensor::<2>::from_data(TensorData::new(points.clone(), [32, 2]), device);
            values(log_prob_grad(&classifier, &schedule, x, 40, one_hot(&labels, device)))
        };
        let (cpu, gpu) = (gradient(&Device::flex()), gradient(&wgpu));
        for (c, g) in cpu.iter().zip(&gpu) {
            assert!((c - g).abs() <= 1e-4 + 1e-3 * c.abs(), "cpu {c} vs wgpu {g}");
        }
    }

    /// Scale 0: the guided chain is the unguided one, step for step, for both update rules.
    #[test]
    fn scale_zero_is_unguided_sampling() {
        let device = Device::flex();
        let schedule = ScheduleConfig { steps: 50, ..Default::default() }.init().unwrap();
        let denoiser = MlpConfig::denoiser().init(&device, 1).unwrap();
        let classifier = MlpConfig::classifier().init(&device, 2).unwrap();
        let base = MlpEps { mlp: &denoiser, schedule: &schedule };
        let n = 64;
        for rule in [Rule::Ancestral, Rule::Ddim] {
            let guided = Guided {
                base: &base,
                classifier: &classifier,
                schedule: &schedule,
                one_hot: one_hot(&vec![2; n], &device),
                scale: 0.0,
            };
            let a = Chain::new(rule, n, &schedule, 9, &device).run(&guided, &schedule);
            let b = Chain::new(rule, n, &schedule, 9, &device).run(&base, &schedule);
            assert_eq!(a.into_data(), b.into_data(), "{rule:?}");
            // And a non-zero scale does change the samples.
            let pushed = Guided { scale: 1.0, ..guided };
            let c = Chain::new(rule, n, &schedule, 9, &device).run(&pushed, &schedule);
            assert_ne!(values(c), values(Chain::new(rule, n, &schedule, 9, &device).run(&base, &schedule)));
        }
    }

    /// A classifier with a known analytic log f: logits (w·x) for two classes, so
    /// ∇ log f(0|x) = (1 − softmax_0) (w_0 − w_1); guidance must move ε̂ against it by s√(1−ᾱ_t).
    #[test]
    fn guided_eps_has_the_handout_sign_and_scale() {
        use burn::module::Param;
        use burn::nn::Linear;
        let device = Device::flex();
        let schedule = ScheduleConfig::default().init().unwrap();
        // One linear layer: logits = x w + b with the t̄ row of w zero; class 0 pulls towards +x.
        let weight = Tensor::<2>::from_floats([[1.0, -1.0], [0.0, 0.0], [0.0, 0.0]], &device);
        let bias = Tensor::<1>::zeros([2], &device);
        let classifier = Mlp {
            layers: vec![Linear { weight: Param::from_tensor(weight), bias: Some(Param::from_tensor(bias)) }],
            activations: vec![],
        };
        struct Zero;
        impl EpsModel for Zero {
            fn eps(&self, x_t: Tensor<2>, _: usize) -> Tensor<2> {
                x_t.zeros_like()
            }
        }
        let x = Tensor::<2>::from_floats([[0.0, 0.0]], &device);
        let label = Tensor::<2>::from_floats([[1.0, 0.0]], &device);
        let t = 300;
        let guided = Guided { base: &Zero, classifier: &classifier, schedule: &schedule, one_hot: label, scale: 2.0 };
        let eps = values(guided.eps(x, t));
        // At x = 0 both classes have probability ½: ∇ log f(0|x) = ½ · (2, 0) = (1, 0).
        let want = -2.0 * (1.0 - schedule.alpha_bar[t]).sqrt();
        assert!((eps[0] as f64 - want).abs() < 1e-5 && eps[1].abs() < 1e-6, "{eps:?} vs ({want}, 0)");
    }
}
