//! Likelihood of 8-bit data in bits per dimension, with uniform dequantisation (Theis et al. 2016;
//! Ho et al. 2020, §4.2). Pixels x ∈ {0, …, 255}^D become u = (x + v)/256 ∈ [0, 1]^D, v ~ U[0, 1)^D,
//! and the model sees y = a u + b (e.g. a = 2, b = −1 for [−1, 1]). The change of variables gives
//! log p_u(u) = log p_y(y) + D log a, and −log P(x) ≤ −E_v log p_u(u) + D log 256, so
//!   bits/dim = −log p_y(y)/(D ln 2) − log₂ a + 8.
//! (A fixed offset of 7 is right only for a = 2.)

use crate::rng::Rng;

/// y = a (x + v)/256 + b for each pixel byte, v ~ U[0, 1).
pub fn dequantize(pixels: &[u8], a: f64, b: f64, rng: &mut Rng) -> Vec<f32> {
    pixels.iter().map(|&x| (a * (x as f64 + rng.uniform()) / 256.0 + b) as f32).collect()
}

/// The bound on −log₂ P(x)/D from a model's log p_y(y) in nats over D dimensions.
pub fn bits_per_dim(log_p_y: f64, dim: usize, a: f64) -> f64 {
    -log_p_y / (dim as f64 * std::f64::consts::LN_2) - a.log2() + 8.0
}

/// A continuous density's −log p in nats over `dim` dimensions as bits per dimension (no
/// dequantisation: STATES points).
pub fn nats_to_bits_per_dim(nll: f64, dim: usize) -> f64 {
    nll / (dim as f64 * std::f64::consts::LN_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model that is uniform over the dequantised cube puts mass 1/256 on each pixel value: exactly
    /// 8 bits/dim whatever the scaling a, b.
    #[test]
    fn a_uniform_model_scores_8_bits_under_every_scaling() {
        let dim = 784;
        for a in [2.0, 1.0, 255.0 / 256.0 * 2.0, 256.0, 0.5] {
            // p_y uniform on [b, b + a]^D (any b): log p_y = −D ln a.
            let log_p_y = -(dim as f64) * f64::ln(a);
            let bpd = bits_per_dim(log_p_y, dim, a);
            assert!((bpd - 8.0).abs() < 1e-9, "a {a}: {bpd}");
        }
        let mut rng = Rng::new(0);
        let y = dequantize(&[0, 255, 128], 2.0, -1.0, &mut rng);
        assert!(y[0] >= -1.0 && y[0] < -1.0 + 2.0 / 256.0 && y[1] >= 1.0 - 2.0 / 256.0 && y[1] < 1.0);
        assert!((y[2] - (2.0 * 128.5 / 256.0 - 1.0) as f32).abs() < 1.0 / 256.0);
    }

    /// A sharper model: a density twice as high on every coordinate saves exactly one bit per dim.
    #[test]
    fn doubling_the_density_saves_one_bit() {
        let (dim, a) = (10, 2.0);
        let base = bits_per_dim(-(dim as f64) * f64::ln(a), dim, a);
        let sharper = bits_per_dim(-(dim as f64) * f64::ln(a) + dim as f64 * f64::ln(2.0), dim, a);
        assert!((base - sharper - 1.0).abs() < 1e-12);
    }
}
