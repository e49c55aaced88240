//! Exponential moving average of the weights (Polyak averaging), used for sampling:
//! θ̄ ← μ θ̄ + (1 − μ) θ after every optimiser step, with the warm-up μ_s = min(μ, (1 + s)/(10 + s))
//! so the average is not dominated by the random initialisation early on.

use burn::module::{ModuleMapper, Param};
use burn::prelude::*;

use crate::io::parameters;

/// The decay at step `s` (0-based): min(μ, (1 + s)/(10 + s)).
pub fn warmup_decay(decay: f64, step: usize) -> f64 {
    decay.min((1.0 + step as f64) / (10.0 + step as f64))
}

/// Returns μ·`average` + (1 − μ)·`model`, parameter by parameter (same architecture).
pub fn ema_update<M: Module>(average: M, model: &M, decay: f64) -> M {
    struct Blend {
        current: std::vec::IntoIter<Tensor<1>>,
        decay: f64,
    }
    impl ModuleMapper for Blend {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let current = self.current.next().expect("the same architecture");
            let decay = self.decay;
            param.map(|old| {
                let dims = old.dims();
                old.mul_scalar(decay) + current.reshape(dims).mul_scalar(1.0 - decay)
            })
        }
    }
    let current: Vec<Tensor<1>> = parameters(model).into_iter().map(|(_, _, t)| t).collect();
    average.map(&mut Blend { current: current.into_iter(), decay })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mlp::MlpConfig;

    #[test]
    fn blends_parameter_by_parameter() {
        let device = Device::flex();
        let config = MlpConfig { d_input: 3, hidden: vec![4], d_output: 2 };
        let (a, b) = (config.init(&device, 1).unwrap(), config.init(&device, 2).unwrap());
        let blended = ema_update(a.clone(), &b, 0.75);
        let values = |m: &crate::model::mlp::Mlp| -> Vec<f32> {
            parameters(m).into_iter().flat_map(|(_, _, t)| t.into_data().try_into_vec::<f32>().unwrap()).collect()
        };
        for ((x, y), z) in values(&a).iter().zip(values(&b)).zip(values(&blended)) {
            assert!((0.75 * x + 0.25 * y - z).abs() < 1e-6);
        }
        assert_eq!(warmup_decay(0.999, 0), 0.1);
        assert_eq!(warmup_decay(0.999, 1_000_000), 0.999);
    }
}
