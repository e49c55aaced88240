//! Test bits/dim of 8-bit images under a score model, by one of two bounds on −log₂ P(x)/D:
//! - uniform dequantisation: y = a (b + v)/256 + c, v ~ U[0, 1)^D (a = 256/127.5, c = −1, the
//!   model's pixel scale at v = 0), scored by the probability-flow ODE's density from t_min with the
//!   Hutchinson divergence, and bits/dim = −log p(y)/(D ln 2) − log₂ a + 8 (`bits_per_dim`);
//! - a decoder (`sde::discrete_bound`): z ~ N(m x, s² I) at t_min, the ODE's density of z, and a
//!   Gaussian of width σ around the network's x̂₀ integrated over each level's bin — the
//!   variational bound E_q[−log P(x|z) − log p(z) + log q(z|x)], for each candidate width σ.
//!
//! Randomness: one stream draws the dequantisation noise and one seed per batch, from which that
//! batch's own stream draws the encoder noise and the Hutchinson probes, so no two roles share
//! draws. Natively only: the per-batch results are read back synchronously.

use burn::prelude::*;

use crate::data::mnist::{PIXELS, SCALE_A, SCALE_B, to_model};
use crate::error::{Error, Result};
use crate::metric::bits_per_dim::{bits_per_dim, dequantize};
use crate::rng::Rng;
use crate::sde::Sde;
use crate::sde::discrete_bound::{Levels, bound_nats, decoder_nats, encode};
use crate::sde::likelihood::{Divergence, flow};
use crate::sde::score::ScoreModel;

/// How the bits are estimated.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimator {
    /// The ODE's times t_min = t_0 < … < 1.
    pub times: Vec<f64>,
    pub probes: usize,
    pub batch: usize,
    pub seed: u64,
    /// Decoder widths σ in pixel levels; empty: uniform dequantisation.
    pub decoder_widths: Vec<f64>,
}

/// Per image and per estimator (one per decoder width, or the single dequantised one): the bits/dim,
/// and for a decoder the decoder term's share of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bits {
    pub bits: Vec<Vec<f64>>,
    pub decoder_bits: Vec<Vec<f64>>,
}

/// nats of a D-dimensional image → bits/dim.
fn per_dim(nats: f64) -> f64 {
    nats / (PIXELS as f64 * std::f64::consts::LN_2)
}

/// Scores the images `pixels` (rows of 784 bytes) in batches; `model(count)` builds the score model
/// of a batch of `count` rows, `progress(done)` hears after each batch.
pub fn image_bits<M: ScoreModel>(
    model: impl Fn(usize) -> Result<M>,
    sde: &Sde,
    pixels: &[u8],
    estimator: &Estimator,
    device: &Device,
    mut progress: impl FnMut(usize),
) -> Result<Bits> {
    let n = pixels.len() / PIXELS;
    if estimator.batch == 0 || estimator.probes == 0 || estimator.times.len() < 2 {
        return Err(Error::Config("bits/dim needs a batch, a probe and at least one ODE step".into()));
    }
    let levels = Levels { count: 256, first: SCALE_B, step: SCALE_A };
    let decoder = !estimator.decoder_widths.is_empty();
    let widths = if decoder { estimator.decoder_widths.len() } else { 1 };
    let how = Divergence::Hutchinson { probes: estimator.probes, rademacher: true };
    let a = 256.0 * SCALE_A;
    let mut rng = Rng::new(estimator.seed);
    let mut out = Bits { bits: vec![Vec::new(); widths], decoder_bits: vec![Vec::new(); widths] };
    for start in (0..n).step_by(estimator.batch) {
        let count = estimator.batch.min(n - start);
        let rows = &pixels[start * PIXELS..(start + count) * PIXELS];
        let model = model(count)?;
        let seed = rng.next_u64();
        if decoder {
            let x: Vec<f32> = rows.iter().map(|&b| to_model(b)).collect();
            let x = Tensor::<2>::from_data(TensorData::new(x, [count, PIXELS]), device);
            let e = encode(&model, sde, x, &estimator.times, how, seed);
            let log_p = host(e.log_p)?;
            let x_hat = host(e.x_hat)?;
            for (w, &sigma) in estimator.decoder_widths.iter().enumerate() {
                let decoded = decoder_nats(&levels, rows, PIXELS, &x_hat, sigma * SCALE_A);
                out.bits[w].extend(bound_nats(&decoded, &e.log_q, &log_p).into_iter().map(per_dim));
                out.decoder_bits[w].extend(decoded.into_iter().map(per_dim));
            }
        } else {
            let y = dequantize(rows, a, SCALE_B, &mut rng);
            let x = Tensor::<2>::from_data(TensorData::new(y, [count, PIXELS]), device);
            let f = flow(&model, sde, x, &estimator.times, how, seed);
            out.bits[0].extend(host(f.log_likelihood(sde))?.into_iter().map(|l| bits_per_dim(l as f64, PIXELS, a)));
        }
        progress(start + count);
    }
    Ok(out)
}

/// A result read back to the host.
fn host<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor.into_data().try_into_vec::<f32>().map_err(|e| Error::Config(format!("cannot read a result: {e:?}")))
}

/// The mean and its standard error √(Σ(b − b̄)²/(n − 1)/n).
pub fn mean_and_error(bits: &[f64]) -> (f64, f64) {
    let n = bits.len() as f64;
    let mean = bits.iter().sum::<f64>() / n;
    (mean, (bits.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0) / n).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_error_of_known_values() {
        let (mean, se) = mean_and_error(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(mean, 2.5);
        // Sample variance 5/3, over n = 4.
        assert!((se - (5.0f64 / 3.0 / 4.0).sqrt()).abs() < 1e-12);
    }
}
