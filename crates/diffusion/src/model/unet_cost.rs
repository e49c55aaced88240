//! What a UNet config costs before anything is built: a lower bound on its parameters (to check
//! a file can hold them) and the memory of a training step (to refuse a batch that would not fit).

use crate::model::unet::UNetConfig;

impl UNetConfig {
    /// A lower bound on the parameter count, cheap to compute before building anything: each
    /// level's `res_blocks` residual blocks on its way down hold at least
    /// `BlockKind::min_params(c_l)` weights (9 c_l² for a standard block).
    pub fn min_params(&self) -> usize {
        self.channels.iter().map(|&c| self.res_blocks * self.block.min_params(c)).sum()
    }

    /// Activation elements of one `side`² image through the network (at `padded_side`),
    /// Σ (c_in + c_out)·s² over every convolution-bearing block (down- and up-sampling, the input
    /// and output convolutions; a residual block's own channels from
    /// `BlockKind::activation_channels`) plus the attention's 3·c·s² + s⁴: what a training step
    /// keeps per image for the backward pass, up to a constant factor ([`Self::training_bytes`]).
    pub fn activation_units(&self, side: usize) -> u64 {
        let c = &self.channels;
        let side = self.padded_side(side);
        let area = |level: usize| {
            let s = side.div_ceil(1 << level) as u64;
            s * s
        };
        let block = |c_in: usize, c_out: usize, level: usize| (c_in + c_out) as u64 * area(level);
        let res =
            |c_in: usize, c_out: usize, level: usize| self.block.activation_channels(c_in, c_out) as u64 * area(level);
        let mut units = block(1, c[0], 0);
        let mut skips = vec![c[0]];
        let mut width = c[0];
        for (level, &c_level) in c.iter().enumerate() {
            for _ in 0..self.res_blocks {
                units += res(width, c_level, level);
                width = c_level;
                skips.push(width);
            }
            if level + 1 < c.len() {
                units += block(width, width, level + 1);
                skips.push(width);
            }
        }
        let deepest = c.len() - 1;
        units += 2 * res(width, width, deepest) + 3 * width as u64 * area(deepest) + area(deepest).pow(2);
        for (level, &c_level) in c.iter().enumerate().rev() {
            for _ in 0..=self.res_blocks {
                let skip = skips.pop().unwrap_or(0);
                units += res(width + skip, c_level, level);
                width = c_level;
            }
            if level > 0 {
                units += block(width, width, level - 1);
            }
        }
        units + block(width, 1, 0)
    }

    /// Bytes a training step of `batch` images of `side`² needs, estimated: 4 · (K · batch ·
    /// [`Self::activation_units`] + 4 · P) for the f32 activations kept for the backward pass
    /// (K per unit) and the weights, gradients and Adam's two moments (P: [`Self::min_params`], a
    /// minor term). K = 5.2 is fitted to the peak RSS of `train mnist` on the CPU device with the
    /// CLI's allocator, which keeps freed memory (1.69 GB at batch 256 with the shipped widths,
    /// 320 705 units; 5.9 MB more per image from batch 64 to 256, whose 0.55 GB include ~0.18 GB
    /// of data and sampling that do not grow with the batch).
    pub fn training_bytes(&self, batch: usize, side: usize) -> u64 {
        (4.0 * (5.2 * batch as f64 * self.activation_units(side) as f64 + 4.0 * self.min_params() as f64)) as u64
    }
}
