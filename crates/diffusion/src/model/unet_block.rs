//! The UNet's residual block, of two kinds (seed 003 §4.4), both conditioned on the embedding e:
//!
//! - **standard** (Ho et al. 2020): h = conv₃(SiLU(GN(x))) + W·SiLU(e); h = conv₃(SiLU(GN(h)));
//!   out = skip(x) + h;
//! - **MBConv with squeeze-excitation** (MobileNetV2's inverted bottleneck, as CoAtNet uses it):
//!   with E = expansion · c_out inner channels,
//!   h₁ = conv₁(SiLU(GN(x))) + W·SiLU(e)                         (1×1, c_in → E),
//!   h₂ = SiLU(dw₃(SiLU(GN(h₁))))                               (depthwise 3×3: E groups),
//!   h₃ = h₂ ⊙ σ(W₂ SiLU(W₁ mean_{hw}(h₂)))                     (W₁: E → r, r = max(1, ⌊ρ c_in⌋)),
//!   out = skip(x) + conv₁(h₃)                                  (1×1, E → c_out, no activation).
//!
//! skip is a 1×1 convolution when c_in ≠ c_out, the identity otherwise. [`params`] gives either
//! block's parameter count in closed form.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, silu};
use serde::{Deserialize, Serialize};

/// Which residual block the UNet is built of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BlockKind {
    #[default]
    Standard,
    /// `expansion` (the seed's 4) widens the inner channels; `se_ratio` ρ (the seed's 0.25) sizes
    /// the squeeze-excitation's bottleneck from the block's input channels.
    MbConv { expansion: usize, se_ratio: f64 },
}

impl BlockKind {
    /// The seed's MBConv: expansion 4, SE ratio 0.25.
    pub const MBCONV: BlockKind = BlockKind::MbConv { expansion: 4, se_ratio: 0.25 };

    pub fn is_valid(&self) -> bool {
        match *self {
            BlockKind::Standard => true,
            BlockKind::MbConv { expansion, se_ratio } => {
                (1..=8).contains(&expansion) && (0.0..=1.0).contains(&se_ratio)
            }
        }
    }

    /// The squeeze-excitation's bottleneck width r = max(1, ⌊ρ c_in⌋).
    fn se_width(se_ratio: f64, c_in: usize) -> usize {
        ((se_ratio * c_in as f64).floor() as usize).max(1)
    }

    /// A lower bound on one block's weights from c to c: a standard block's first 3×3
    /// convolution (9c²), an MBConv's two 1×1 convolutions (2·expansion·c²).
    pub fn min_params(&self, c: usize) -> usize {
        match *self {
            BlockKind::Standard => 9 * c * c,
            BlockKind::MbConv { expansion, .. } => 2 * expansion * c * c,
        }
    }

    /// The feature maps a block keeps per pixel for the backward pass, in channels: c_in + c_out
    /// for a standard block (the convention `UNetConfig::activation_units` is calibrated on),
    /// plus 3E for an MBConv's expanded, depthwise and gated maps.
    pub fn activation_channels(&self, c_in: usize, c_out: usize) -> usize {
        match *self {
            BlockKind::Standard => c_in + c_out,
            BlockKind::MbConv { expansion, .. } => c_in + 3 * expansion * c_out + c_out,
        }
    }
}

/// The parameter count of one block of `kind` from `c_in` to `c_out` channels with an embedding
/// of width `emb`, in closed form (convolutions and linear maps with biases, GroupNorm with a
/// scale and a shift per channel):
/// - standard: 2c_in + (9c_in c_out + c_out) + (emb c_out + c_out) + 2c_out + (9c_out² + c_out) + skip;
/// - MBConv: 2c_in + (c_in E + E) + (emb E + E) + 2E + (9E + E) + (E r + r + r E + E)
///   + (E c_out + c_out) + skip;
///
/// with skip = c_in c_out + c_out when c_in ≠ c_out, else 0.
pub fn params(kind: BlockKind, c_in: usize, c_out: usize, emb: usize) -> usize {
    let skip = if c_in != c_out { c_in * c_out + c_out } else { 0 };
    match kind {
        BlockKind::Standard => {
            2 * c_in
                + (9 * c_in * c_out + c_out)
                + (emb * c_out + c_out)
                + 2 * c_out
                + (9 * c_out * c_out + c_out)
                + skip
        }
        BlockKind::MbConv { expansion, se_ratio } => {
            let e = expansion * c_out;
            let r = BlockKind::se_width(se_ratio, c_in);
            2 * c_in
                + (c_in * e + e)
                + (emb * e + e)
                + 2 * e
                + (9 * e + e)
                + (e * r + r + r * e + e)
                + (e * c_out + c_out)
                + skip
        }
    }
}

/// The channel gate σ(W₂ SiLU(W₁ mean_{hw}(h))) of squeeze-excitation.
#[derive(Module, Debug)]
pub struct SqueezeExcite {
    reduce: Linear,
    expand: Linear,
}

impl SqueezeExcite {
    /// The gate of `h` ([b, E, h, w]): [b, E], each entry in (0, 1).
    pub fn gate(&self, h: Tensor<4>) -> Tensor<2> {
        let [b, c, _, _] = h.dims();
        let squeezed = h.mean_dim(3).mean_dim(2).reshape([b, c]);
        sigmoid(self.expand.forward(silu(self.reduce.forward(squeezed))))
    }
}

#[derive(Module, Debug)]
pub struct ResBlock {
    norm1: GroupNorm,
    /// Standard: 3×3, c_in → c_out. MBConv: the 1×1 expansion, c_in → E.
    conv1: Conv2d,
    emb: Linear,
    norm2: GroupNorm,
    /// Standard: 3×3, c_out → c_out. MBConv: the depthwise 3×3 on E channels.
    conv2: Conv2d,
    skip: Option<Conv2d>,
    /// MBConv only.
    se: Option<SqueezeExcite>,
    /// MBConv only: the 1×1 projection E → c_out.
    project: Option<Conv2d>,
}

/// A block of `kind` from `c_in` to `c_out` channels (GroupNorm of `groups`, which must divide
/// c_in and c_out), with burn's default initialisers.
pub fn block(kind: BlockKind, c_in: usize, c_out: usize, emb: usize, groups: usize, device: &Device) -> ResBlock {
    let conv = |c_in: usize, c_out: usize, k: usize, groups: usize| {
        Conv2dConfig::new([c_in, c_out], [k, k])
            .with_groups(groups)
            .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
            .init(device)
    };
    // The skip is built last, after the block's own layers (the order its seeded init draws in).
    let skip = || (c_in != c_out).then(|| conv(c_in, c_out, 1, 1));
    match kind {
        BlockKind::Standard => ResBlock {
            norm1: GroupNormConfig::new(groups, c_in).init(device),
            conv1: conv(c_in, c_out, 3, 1),
            emb: LinearConfig::new(emb, c_out).init(device),
            norm2: GroupNormConfig::new(groups, c_out).init(device),
            conv2: conv(c_out, c_out, 3, 1),
            skip: skip(),
            se: None,
            project: None,
        },
        BlockKind::MbConv { expansion, se_ratio } => {
            let e = expansion * c_out;
            let r = BlockKind::se_width(se_ratio, c_in);
            let (norm1, conv1) = (GroupNormConfig::new(groups, c_in).init(device), conv(c_in, e, 1, 1));
            let (emb, norm2) = (LinearConfig::new(emb, e).init(device), GroupNormConfig::new(groups, e).init(device));
            let conv2 = conv(e, e, 3, e);
            let se = SqueezeExcite {
                reduce: LinearConfig::new(e, r).init(device),
                expand: LinearConfig::new(r, e).init(device),
            };
            let project = conv(e, c_out, 1, 1);
            ResBlock { norm1, conv1, emb, norm2, conv2, skip: skip(), se: Some(se), project: Some(project) }
        }
    }
}

impl ResBlock {
    /// `x` [b, c_in, h, w] with the embedding `emb` [b, width] → [b, c_out, h, w].
    pub fn forward(&self, x: Tensor<4>, emb: Tensor<2>) -> Tensor<4> {
        let h = self.conv1.forward(silu(self.norm1.forward(x.clone())));
        let [b, c, _, _] = h.dims();
        let h = h + self.emb.forward(silu(emb)).reshape([b, c, 1, 1]);
        let mut h = self.conv2.forward(silu(self.norm2.forward(h)));
        if let (Some(se), Some(project)) = (&self.se, &self.project) {
            h = silu(h);
            let gate = se.gate(h.clone()).reshape([b, c, 1, 1]);
            h = project.forward(h * gate);
        }
        match &self.skip {
            Some(skip) => skip.forward(x) + h,
            None => x + h,
        }
    }

    /// The squeeze-excitation gate this block applies to `x`'s inner features (MBConv only).
    pub fn se_gate(&self, x: Tensor<4>, emb: Tensor<2>) -> Option<Tensor<2>> {
        let se = self.se.as_ref()?;
        let h = self.conv1.forward(silu(self.norm1.forward(x)));
        let [b, c, _, _] = h.dims();
        let h = h + self.emb.forward(silu(emb)).reshape([b, c, 1, 1]);
        Some(se.gate(silu(self.conv2.forward(silu(self.norm2.forward(h))))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// Both kinds' parameter counts equal the closed form, with and without the skip convolution,
    /// and an MBConv block at the seed's settings holds fewer weights than a standard one.
    #[test]
    fn parameter_counts_match_the_closed_form() {
        let device = Device::flex();
        for kind in [BlockKind::Standard, BlockKind::MBCONV, BlockKind::MbConv { expansion: 2, se_ratio: 0.5 }] {
            for (c_in, c_out) in [(8, 8), (8, 16), (24, 16), (3 * 4, 4)] {
                let built = block(kind, c_in, c_out, 20, 4, &device).num_params();
                assert_eq!(built, params(kind, c_in, c_out, 20), "{kind:?} {c_in} → {c_out}");
                assert!(built >= kind.min_params(c_in.min(c_out)), "{kind:?} {c_in} → {c_out}");
            }
        }
        // 64 → 64 with an embedding of 128: 2·64 + 4·64·… by hand for the MBConv (E = 256, r = 16).
        let by_hand = 128
            + (64 * 256 + 256)
            + (128 * 256 + 256)
            + 512
            + (9 * 256 + 256)
            + (256 * 16 + 16 + 16 * 256 + 256)
            + (256 * 64 + 64);
        assert_eq!(params(BlockKind::MBCONV, 64, 64, 128), by_hand);
        assert!(params(BlockKind::MBCONV, 64, 64, 128) < params(BlockKind::Standard, 64, 64, 128));
    }

    /// The SE gate lies strictly inside (0, 1), differs between channels and between inputs, and
    /// the block keeps the spatial shape.
    #[test]
    fn the_se_gate_is_a_fraction_that_depends_on_the_input() {
        let device = Device::flex();
        device.seed(3);
        let mbconv = block(BlockKind::MBCONV, 8, 16, 12, 4, &device);
        let x = Tensor::<4>::random([2, 8, 7, 7], Distribution::Normal(0.0, 1.0), &device);
        let emb = Tensor::<2>::random([2, 12], Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(mbconv.forward(x.clone(), emb.clone()).dims(), [2, 16, 7, 7]);
        let gate: Vec<f32> = mbconv.se_gate(x, emb).unwrap().into_data().try_into_vec().unwrap();
        assert_eq!(gate.len(), 2 * 64);
        assert!(gate.iter().all(|&g| g > 0.0 && g < 1.0), "{gate:?}");
        let spread =
            |v: &[f32]| v.iter().cloned().fold(f32::MIN, f32::max) - v.iter().cloned().fold(f32::MAX, f32::min);
        assert!(spread(&gate[..64]) > 1e-3, "the gate is the same for every channel");
        assert!(gate[..64].iter().zip(&gate[64..]).any(|(a, b)| (a - b).abs() > 1e-4), "the gate ignores its input");
        let standard = block(BlockKind::Standard, 8, 16, 12, 4, &device);
        let x = Tensor::<4>::zeros([1, 8, 5, 5], &device);
        assert!(standard.se_gate(x, Tensor::zeros([1, 12], &device)).is_none());
    }
}
