//! A time- and class-conditional UNet for 28×28 images (Ho et al. 2020, appendix B; Song et al.
//! 2021's NCSN++ without its extras), predicting ε̂(x_t, t, y):
//!
//! - residual blocks h = conv(SiLU(GN(x))) + W·SiLU(e); h = conv(SiLU(GN(h))); out = skip(x) + h,
//!   where e = MLP(γ(t)) + E[y] is the time embedding (random Fourier features γ) plus a learned
//!   class embedding, and class `classes` is the null class ∅ of classifier-free guidance;
//! - levels at 28², 14², 7² (stride-2 convolutions down, nearest-neighbour ×2 + conv up), with
//!   skip connections from every down block to its up block;
//! - single-head self-attention in the middle, at 7².
//!
//! Config → init(&Device) → Module → forward, as in burn's own modules.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Embedding, EmbeddingConfig, GroupNorm, GroupNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{silu, softmax};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Widths and depths; stored in the weights file so a file rebuilds its network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UNetConfig {
    /// Channels per resolution level (28², 14², 7², ...).
    pub channels: Vec<usize>,
    /// Residual blocks per level on the way down (the way up has one more, for the level's input).
    pub res_blocks: usize,
    /// Width of the time/class embedding.
    pub emb: usize,
    /// Width of the time features γ(t) fed in (2 × Fourier frequencies).
    pub time_features: usize,
    /// Real classes; index `classes` is the null class ∅.
    pub classes: usize,
    /// GroupNorm groups (must divide every width).
    pub groups: usize,
}

impl Default for UNetConfig {
    /// The shipped MNIST model: 683 k parameters (a size this 2-core CPU trains in an hour).
    fn default() -> Self {
        Self { channels: vec![16, 32, 64], res_blocks: 1, emb: 128, time_features: 32, classes: 10, groups: 8 }
    }
}

impl UNetConfig {
    pub fn validate(&self) -> Result<()> {
        let ok = !self.channels.is_empty()
            && self.channels.len() <= 4
            && self.channels.iter().all(|&c| c > 0 && c <= 1024 && self.groups > 0 && c % self.groups == 0)
            && (1..=8).contains(&self.res_blocks)
            && (1..=4096).contains(&self.emb)
            && (1..=4096).contains(&self.time_features)
            && (1..=1000).contains(&self.classes);
        if !ok {
            return Err(Error::Config(format!("unreasonable UNet config {self:?}")));
        }
        Ok(())
    }

    /// A lower bound on the parameter count, cheap to compute before building anything: each
    /// level's `res_blocks` residual blocks on its way down hold at least one 3×3 convolution
    /// c_l → c_l, so at least Σ_l res_blocks · 9 c_l² weights.
    pub fn min_params(&self) -> usize {
        self.channels.iter().map(|&c| self.res_blocks * 9 * c * c).sum()
    }

    /// Activation elements of one `side`² image through the network, Σ (c_in + c_out)·s² over
    /// every convolution-bearing block (residual blocks, down- and up-sampling, the input and
    /// output convolutions) plus the attention's 3·c·s² + s⁴: what a training step keeps per image
    /// for the backward pass, up to a constant factor ([`Self::training_bytes`]).
    pub fn activation_units(&self, side: usize) -> u64 {
        let c = &self.channels;
        let area = |level: usize| {
            let s = side.div_ceil(1 << level) as u64;
            s * s
        };
        let block = |c_in: usize, c_out: usize, level: usize| (c_in + c_out) as u64 * area(level);
        let mut units = block(1, c[0], 0);
        let mut skips = vec![c[0]];
        let mut width = c[0];
        for (level, &c_level) in c.iter().enumerate() {
            for _ in 0..self.res_blocks {
                units += block(width, c_level, level);
                width = c_level;
                skips.push(width);
            }
            if level + 1 < c.len() {
                units += block(width, width, level + 1);
                skips.push(width);
            }
        }
        let deepest = c.len() - 1;
        units += 2 * block(width, width, deepest) + 3 * width as u64 * area(deepest) + area(deepest).pow(2);
        for (level, &c_level) in c.iter().enumerate().rev() {
            for _ in 0..=self.res_blocks {
                let skip = skips.pop().unwrap_or(0);
                units += block(width + skip, c_level, level);
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

    /// The null class index (the unconditional model).
    pub fn null_class(&self) -> usize {
        self.classes
    }

    /// Builds the network with burn's default initialisers, seeded.
    pub fn init(&self, device: &Device, seed: u64) -> Result<UNet> {
        self.validate()?;
        device.seed(seed);
        let (emb, groups) = (self.emb, self.groups);
        let conv3 = |c_in: usize, c_out: usize, stride: usize| {
            Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let res = |c_in: usize, c_out: usize| ResBlock {
            norm1: GroupNormConfig::new(groups, c_in).init(device),
            conv1: conv3(c_in, c_out, 1),
            emb: LinearConfig::new(emb, c_out).init(device),
            norm2: GroupNormConfig::new(groups, c_out).init(device),
            conv2: conv3(c_out, c_out, 1),
            skip: (c_in != c_out).then(|| Conv2dConfig::new([c_in, c_out], [1, 1]).init(device)),
        };
        let c = &self.channels;
        let levels = c.len();
        let mut down = Vec::new();
        let mut downsample = Vec::new();
        // The widths of the skip connections, in the order they are pushed.
        let mut skips = vec![c[0]];
        let mut width = c[0];
        for (level, &c_level) in c.iter().enumerate() {
            for _ in 0..self.res_blocks {
                down.push(res(width, c_level));
                width = c_level;
                skips.push(width);
            }
            if level + 1 < levels {
                downsample.push(conv3(width, width, 2));
                skips.push(width);
            }
        }
        let mid = [res(width, width), res(width, width)];
        let attention = Attention {
            norm: GroupNormConfig::new(groups, width).init(device),
            qkv: LinearConfig::new(width, 3 * width).init(device),
            out: LinearConfig::new(width, width).init(device),
        };
        let mut up = Vec::new();
        let mut upsample = Vec::new();
        for (level, &c_level) in c.iter().enumerate().rev() {
            for _ in 0..=self.res_blocks {
                let skip = skips.pop().expect("one skip per up block");
                up.push(res(width + skip, c_level));
                width = c_level;
            }
            if level > 0 {
                upsample.push(conv3(width, width, 1));
            }
        }
        Ok(UNet {
            input: conv3(1, c[0], 1),
            time: [LinearConfig::new(self.time_features, emb).init(device), LinearConfig::new(emb, emb).init(device)],
            class: EmbeddingConfig::new(self.classes + 1, emb).init(device),
            down,
            downsample,
            mid,
            attention,
            up,
            upsample,
            out_norm: GroupNormConfig::new(groups, width).init(device),
            output: conv3(width, 1, 1),
            res_blocks: self.res_blocks,
        })
    }
}

#[derive(Module, Debug)]
pub struct ResBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    emb: Linear,
    norm2: GroupNorm,
    conv2: Conv2d,
    skip: Option<Conv2d>,
}

impl ResBlock {
    fn forward(&self, x: Tensor<4>, emb: Tensor<2>) -> Tensor<4> {
        let h = self.conv1.forward(silu(self.norm1.forward(x.clone())));
        let [b, c, _, _] = h.dims();
        let h = h + self.emb.forward(silu(emb)).reshape([b, c, 1, 1]);
        let h = self.conv2.forward(silu(self.norm2.forward(h)));
        match &self.skip {
            Some(skip) => skip.forward(x) + h,
            None => x + h,
        }
    }
}

/// x + W_o softmax(Q Kᵀ/√C) V over the H·W positions.
#[derive(Module, Debug)]
pub struct Attention {
    norm: GroupNorm,
    qkv: Linear,
    out: Linear,
}

impl Attention {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let tokens = self.norm.forward(x.clone()).reshape([b, c, h * w]).swap_dims(1, 2);
        let qkv = self.qkv.forward(tokens).chunk(3, 2);
        let (q, k, v) = (qkv[0].clone(), qkv[1].clone(), qkv[2].clone());
        let weights = softmax(q.matmul(k.swap_dims(1, 2)).div_scalar((c as f64).sqrt()), 2);
        let attended = self.out.forward(weights.matmul(v));
        x + attended.swap_dims(1, 2).reshape([b, c, h, w])
    }
}

#[derive(Module, Debug)]
pub struct UNet {
    input: Conv2d,
    time: [Linear; 2],
    class: Embedding,
    down: Vec<ResBlock>,
    downsample: Vec<Conv2d>,
    mid: [ResBlock; 2],
    attention: Attention,
    up: Vec<ResBlock>,
    upsample: Vec<Conv2d>,
    out_norm: GroupNorm,
    output: Conv2d,
    res_blocks: usize,
}

/// Nearest-neighbour ×2: [b, c, h, w] → [b, c, 2h, 2w].
fn upsample2(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1]).repeat_dim(3, 2).repeat_dim(5, 2).reshape([b, c, 2 * h, 2 * w])
}

impl UNet {
    /// `x`: [b, 1, 28, 28] (already scaled by c_in), `time`: γ(t) rows [b, time_features],
    /// `labels`: [b] in 0..=classes (classes = ∅) → ε̂: [b, 1, 28, 28].
    pub fn forward(&self, x: Tensor<4>, time: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<4> {
        let b = labels.dims()[0];
        let emb = self.time[1].forward(silu(self.time[0].forward(time)));
        let [_, width] = emb.dims();
        let emb = emb + self.class.forward(labels.reshape([b, 1])).reshape([b, width]);
        let mut h = self.input.forward(x);
        let mut skips = vec![h.clone()];
        let mut blocks = self.down.iter();
        for level in 0..=self.downsample.len() {
            for block in blocks.by_ref().take(self.res_blocks) {
                h = block.forward(h, emb.clone());
                skips.push(h.clone());
            }
            if let Some(down) = self.downsample.get(level) {
                h = down.forward(h);
                skips.push(h.clone());
            }
        }
        h = self.mid[0].forward(h, emb.clone());
        h = self.attention.forward(h);
        h = self.mid[1].forward(h, emb.clone());
        let mut blocks = self.up.iter();
        for level in 0..=self.upsample.len() {
            for block in blocks.by_ref().take(self.res_blocks + 1) {
                let skip = skips.pop().expect("one skip per up block");
                h = block.forward(Tensor::cat(vec![h, skip], 1), emb.clone());
            }
            if let Some(up) = self.upsample.get(level) {
                h = up.forward(upsample2(h));
            }
        }
        self.output.forward(silu(self.out_norm.forward(h)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> UNetConfig {
        UNetConfig { channels: vec![8, 16], res_blocks: 1, emb: 16, time_features: 8, classes: 10, groups: 4 }
    }

    #[test]
    fn shapes_parameter_budget_and_conditioning() {
        let device = Device::flex();
        let shipped = UNetConfig::default().init(&device, 0).unwrap();
        let params = shipped.num_params();
        assert!((500_000..=2_000_000).contains(&params), "{params} parameters");
        // The memory estimate's unit count for the shipped widths (its calibration point).
        assert_eq!(UNetConfig::default().activation_units(28), 320_705);

        let unet = small().init(&device, 0).unwrap();
        let x = Tensor::<4>::random([3, 1, 28, 28], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
        let time = Tensor::<2>::ones([3, 8], &device);
        let labels = |l: [i64; 3]| Tensor::<1, Int>::from_data(TensorData::from(l), &device);
        let a = unet.forward(x.clone(), time.clone(), labels([0, 1, 10]));
        assert_eq!(a.dims(), [3, 1, 28, 28]);
        let b = unet.forward(x, time, labels([0, 2, 10]));
        // Each row depends on its own label only.
        let diff: Vec<f32> = (a - b).abs().sum_dim(3).sum_dim(2).reshape([3]).into_data().try_into_vec().unwrap();
        assert!(diff[0] == 0.0 && diff[1] > 0.0 && diff[2] == 0.0, "{diff:?}");
    }

    #[test]
    fn absurd_configs_are_rejected() {
        let device = Device::flex();
        assert!(UNetConfig { groups: 5, ..small() }.init(&device, 0).is_err());
        assert!(UNetConfig { channels: vec![], ..small() }.init(&device, 0).is_err());
        assert!(UNetConfig { res_blocks: 0, ..small() }.init(&device, 0).is_err());
    }
}
