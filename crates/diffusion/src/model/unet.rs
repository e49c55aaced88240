//! A time- and class-conditional UNet for 28×28 images (Ho et al. 2020, appendix B; Song et al.
//! 2021's NCSN++ without its extras), predicting ε̂(x_t, t, y):
//!
//! - residual blocks (`unet_block`: standard, or MBConv with squeeze-excitation) conditioned on
//!   e = MLP(γ(t)) + E[y], the time embedding (random Fourier features γ) plus a learned class
//!   embedding, where class `classes` is the null class ∅ of classifier-free guidance;
//! - levels at 28², 14², 7² (stride-2 convolutions down, nearest-neighbour ×2 + conv up), with
//!   skip connections from every down block to its up block; four levels pad the image with
//!   zeros to 32² (32², 16², 8², 4²) and crop ε̂ back to 28²;
//! - single-head self-attention in the middle, at the deepest level.
//!
//! [`UNetConfig::preset`] names the architectures of seed 003's Table 4.3, scaled to MNIST.
//!
//! Config → init(&Device) → Module → forward, as in burn's own modules.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Embedding, EmbeddingConfig, GroupNorm, GroupNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{silu, softmax};
use burn::tensor::ops::PadMode;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::unet_block::{BlockKind, ResBlock, block};

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
    /// The residual block (files from before MBConv hold standard blocks).
    #[serde(default)]
    pub block: BlockKind,
}

impl Default for UNetConfig {
    /// The shipped MNIST model: 683 k parameters (a size this 2-core CPU trains in an hour).
    fn default() -> Self {
        Self {
            channels: vec![16, 32, 64],
            res_blocks: 1,
            emb: 128,
            time_features: 32,
            classes: 10,
            groups: 8,
            block: BlockKind::Standard,
        }
    }
}

/// The named architectures, in `UNetConfig::preset`'s order.
pub const PRESETS: [&str; 7] =
    ["shipped", "default", "deep-res1", "shallow-res2", "shallow-res1", "mbconv-narrow", "mbconv-wide"];

impl UNetConfig {
    /// Seed 003's Table 4.3 scaled to MNIST at the shipped model's base width 16 (the seed's
    /// 128): `default` has channel multipliers (1, 2, 2, 2) and 2 blocks per level, `deep-res1`
    /// 1 block, `shallow-res2` and `shallow-res1` drop the fourth level, and the MBConv presets
    /// keep `default`'s shape at half (`mbconv-narrow`, the seed's MBConv64) and three quarters
    /// (`mbconv-wide`, MBConv96) of its width; `shipped` is the model the page loads, (1, 2, 4)
    /// with 1 block. Four levels run on 32² (the image padded).
    pub fn preset(name: &str) -> Option<Self> {
        let standard = |channels: Vec<usize>, res_blocks| Self { channels, res_blocks, ..Self::default() };
        let mbconv = |base: usize| Self {
            block: BlockKind::MBCONV,
            groups: 4,
            ..standard(vec![base, 2 * base, 2 * base, 2 * base], 2)
        };
        Some(match name {
            "shipped" => Self::default(),
            "default" => standard(vec![16, 32, 32, 32], 2),
            "deep-res1" => standard(vec![16, 32, 32, 32], 1),
            "shallow-res2" => standard(vec![16, 32, 32], 2),
            "shallow-res1" => standard(vec![16, 32, 32], 1),
            "mbconv-narrow" => mbconv(8),
            "mbconv-wide" => mbconv(12),
            _ => return None,
        })
    }

    /// A small network for tests: two levels of 8 and 16 channels.
    #[cfg(test)]
    pub fn tiny() -> Self {
        Self { channels: vec![8, 16], emb: 16, groups: 4, ..Self::default() }
    }

    /// The side the network runs at for images of `side`²: the next multiple of 2^(levels − 1)
    /// (28 for up to three levels, 32 for four).
    pub fn padded_side(&self, side: usize) -> usize {
        let unit = 1 << (self.channels.len().max(1) - 1);
        side.div_ceil(unit) * unit
    }

    pub fn validate(&self) -> Result<()> {
        let ok = !self.channels.is_empty()
            && self.channels.len() <= 4
            && self.channels.iter().all(|&c| c > 0 && c <= 1024 && self.groups > 0 && c % self.groups == 0)
            && (1..=8).contains(&self.res_blocks)
            && (1..=4096).contains(&self.emb)
            && (1..=4096).contains(&self.time_features)
            && (1..=1000).contains(&self.classes)
            && self.block.is_valid();
        if !ok {
            return Err(Error::Config(format!("unreasonable UNet config {self:?}")));
        }
        Ok(())
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
        let res = |c_in: usize, c_out: usize| block(self.block, c_in, c_out, emb, groups, device);
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
        let [_, _, height, width] = x.dims();
        let unit = 1 << self.downsample.len();
        let (pad_h, pad_w) = (height.div_ceil(unit) * unit - height, width.div_ceil(unit) * unit - width);
        if pad_h + pad_w > 0 {
            let (top, left) = (pad_h / 2, pad_w / 2);
            let padded = x.pad((left, pad_w - left, top, pad_h - top), PadMode::Constant(0.0));
            let eps = self.forward(padded, time, labels);
            let [b, c, _, _] = eps.dims();
            return eps.slice([0..b, 0..c, top..top + height, left..left + width]);
        }
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
        UNetConfig { channels: vec![8, 16], emb: 16, time_features: 8, groups: 4, ..UNetConfig::default() }
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

    /// Every preset builds and maps 28² to 28² (four levels through the 32² padding), files name
    /// the block (and a file without one holds standard blocks), and the MBConv presets are the
    /// lightest at their shape.
    #[test]
    fn presets_build_and_keep_the_image_shape() {
        let device = Device::flex();
        let mut params = std::collections::HashMap::new();
        for name in PRESETS {
            let config = UNetConfig::preset(name).unwrap();
            let unet = config.init(&device, 0).unwrap();
            assert!(unet.num_params() >= config.min_params(), "{name}");
            let x = Tensor::<4>::random([2, 1, 28, 28], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
            let eps = unet.forward(
                x,
                Tensor::ones([2, 32], &device),
                Tensor::from_data(TensorData::from([3i64, 10]), &device),
            );
            assert_eq!(eps.dims(), [2, 1, 28, 28], "{name}");
            let json = serde_json::to_string(&config).unwrap();
            assert_eq!(serde_json::from_str::<UNetConfig>(&json).unwrap(), config);
            params.insert(name, unet.num_params());
        }
        assert_eq!(UNetConfig::preset("default").unwrap().padded_side(28), 32);
        assert_eq!(UNetConfig::preset("shallow-res1").unwrap().padded_side(28), 28);
        assert!(
            params["mbconv-narrow"] < params["mbconv-wide"] && params["mbconv-wide"] < params["default"],
            "{params:?}"
        );
        assert!(
            params["deep-res1"] < params["default"] && params["shallow-res1"] < params["shallow-res2"],
            "{params:?}"
        );
        assert!(UNetConfig::preset("tiny").is_none());
        let old = r#"{"channels":[16,32,64],"res_blocks":1,"emb":128,"time_features":32,"classes":10,"groups":8}"#;
        assert_eq!(serde_json::from_str::<UNetConfig>(old).unwrap(), UNetConfig::default());
        // An MBConv UNet's memory estimate counts its expanded maps.
        let narrow = UNetConfig::preset("mbconv-narrow").unwrap();
        let as_standard = UNetConfig { block: BlockKind::Standard, ..narrow.clone() };
        assert!(narrow.activation_units(28) > as_standard.activation_units(28));
    }

    #[test]
    fn absurd_configs_are_rejected() {
        let device = Device::flex();
        assert!(UNetConfig { groups: 5, ..small() }.init(&device, 0).is_err());
        assert!(UNetConfig { channels: vec![], ..small() }.init(&device, 0).is_err());
        assert!(UNetConfig { res_blocks: 0, ..small() }.init(&device, 0).is_err());
        let huge = BlockKind::MbConv { expansion: 100, se_ratio: 0.25 };
        assert!(UNetConfig { block: huge, ..small() }.init(&device, 0).is_err());
    }
}
