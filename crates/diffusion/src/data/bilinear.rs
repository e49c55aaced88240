//! Bilinear resampling of square images, the seed's "bilinear down, bilinear up" for DDPM-14
//! (seed 003 §3.2): output pixel i of `to` samples the input of `from` at the half-pixel
//! coordinate u = (i + ½)·from/to − ½, clamped to [0, from − 1], weighting its two neighbours by
//! 1 − frac(u) and frac(u) along each axis (PyTorch's `interpolate(mode="bilinear",
//! align_corners=False)` without antialiasing). Halving a side averages each 2×2 block; doubling
//! it gives interior pixels ¾ of the nearer and ¼ of the farther neighbour.
//!
//! The resampling is separable: with the interpolation matrix W [to, from] of those weights, an
//! image X becomes W X Wᵀ, two matrix products on the tensors' device (nothing is read back).
//! burn's `interpolate` computes the same values (checked), but pulling its kernels into the page's
//! wasm costs 0.11 MB of gzip for an operation the page never runs; the products reuse the
//! matmul every network already has.

use burn::prelude::*;

/// W [to, from] (row-major): row i holds the two half-pixel bilinear weights of output pixel i.
pub fn weights(from: usize, to: usize) -> Vec<f32> {
    let mut w = vec![0.0f32; to * from];
    for i in 0..to {
        let u = ((i as f64 + 0.5) * from as f64 / to as f64 - 0.5).clamp(0.0, (from - 1) as f64);
        let low = u.floor() as usize;
        let high = (low + 1).min(from - 1);
        let frac = (u - low as f64) as f32;
        w[i * from + low] += 1.0 - frac;
        w[i * from + high] += frac;
    }
    w
}

/// Rows of flattened `from`² images [n, from²] → [n, to²], resampled bilinearly: W X Wᵀ.
pub fn resize(x: Tensor<2>, from: usize, to: usize) -> Tensor<2> {
    let [n, pixels] = x.dims();
    assert_eq!(pixels, from * from, "rows of {from}×{from} images");
    if from == to {
        return x;
    }
    let device = x.device();
    let w_t = Tensor::<2>::from_data(TensorData::new(weights(from, to), [to, from]), &device).transpose();
    // Along each row (columns b → j), then along each column (rows a → i).
    let rows = x.reshape([n * from, from]).matmul(w_t.clone()).reshape([n, from, to]).swap_dims(1, 2);
    let both = rows.reshape([n * to, from]).matmul(w_t).reshape([n, to, to]).swap_dims(1, 2);
    both.reshape([n, to * to])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(x: Tensor<2>) -> Vec<f32> {
        x.into_data().try_into_vec().unwrap()
    }

    /// Halving averages 2×2 blocks; doubling [[1, 2], [3, 4]] gives PyTorch's half-pixel rows
    /// (1, 1.25, 1.75, 2), ...; a constant image stays constant both ways.
    #[test]
    fn halving_averages_blocks_and_doubling_weights_three_to_one() {
        let device = Device::flex();
        let image: Vec<f32> = (0..16).map(|i| (i * i % 7) as f32).collect();
        let half = values(resize(Tensor::from_data(TensorData::new(image.clone(), [1, 16]), &device), 4, 2));
        for (k, got) in half.iter().enumerate() {
            let (r, c) = (2 * (k / 2), 2 * (k % 2));
            let block =
                (image[r * 4 + c] + image[r * 4 + c + 1] + image[(r + 1) * 4 + c] + image[(r + 1) * 4 + c + 1]) / 4.0;
            assert!((got - block).abs() < 1e-6, "pixel {k}: {got} against the block's mean {block}");
        }
        let small = Tensor::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 4]), &device);
        let doubled = values(resize(small, 2, 4));
        let want = [1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0f32];
        for (k, (got, want)) in doubled.iter().zip(want).enumerate() {
            assert!((got - want).abs() < 1e-6, "pixel {k}: {got}, PyTorch gives {want}");
        }
        let flat = Tensor::<2>::full([3, 196], 0.3, &device);
        let up = values(resize(flat, 14, 28));
        assert_eq!(up.len(), 3 * 784);
        assert!(up.iter().all(|v| (v - 0.3).abs() < 1e-6));
    }

    /// The products give what burn's own `interpolate` (bilinear, half-pixel centres) gives, both
    /// ways and at a side that does not divide evenly.
    #[test]
    fn agrees_with_burns_interpolate() {
        use burn::tensor::module::interpolate;
        use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
        let device = Device::flex();
        for (from, to) in [(28, 14), (14, 28), (7, 12), (12, 5)] {
            let x = Tensor::<2>::random([2, from * from], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
            let options =
                InterpolateOptions::new(InterpolateMode::Bilinear).with_align_corners(false).with_output_size([to, to]);
            let burn = interpolate(x.clone().reshape([2, 1, from, from]), options).reshape([2, to * to]);
            let gap: f32 = (resize(x, from, to) - burn).abs().max().into_scalar();
            assert!(gap < 1e-5, "{from} → {to}: {gap}");
        }
    }
}
