//! The MNIST classifier that judges generated digits: conv 3×3 (32) → ReLU → max-pool →
//! conv 3×3 (64) → ReLU → max-pool → linear 3136 → 128 (ReLU: the features of the "classifier
//! FID") → linear 128 → 10 logits. Trained by cross-entropy with Adam on images shifted by up to
//! ±2 pixels (`DigitClassification`).
//! Inputs are images in the model scale [−1, 1] (`data::mnist::to_model`).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use crate::data::mnist::{Mnist, PIXELS, SIDE, to_model};
use crate::error::{Error, Result};
use crate::io::Role;
use crate::rng::Rng;
use crate::train::{Objective, Plan, Trainer};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CnnConfig {
    pub channels: [usize; 2],
    pub features: usize,
}

impl Default for CnnConfig {
    fn default() -> Self {
        Self { channels: [32, 64], features: 128 }
    }
}

impl CnnConfig {
    pub fn init(&self, device: &Device, seed: u64) -> Result<Cnn> {
        if self.channels.iter().any(|&c| c == 0 || c > 1024) || !(1..=4096).contains(&self.features) {
            return Err(Error::Config(format!("unreasonable CNN config {self:?}")));
        }
        device.seed(seed);
        let [c1, c2] = self.channels;
        let conv = |c_in, c_out| {
            Conv2dConfig::new([c_in, c_out], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device)
        };
        Ok(Cnn {
            conv1: conv(1, c1),
            conv2: conv(c1, c2),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            hidden: LinearConfig::new(c2 * 7 * 7, self.features).init(device),
            logits: LinearConfig::new(self.features, 10).init(device),
        })
    }
}

#[derive(Module, Debug)]
pub struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    hidden: Linear,
    logits: Linear,
}

impl Cnn {
    /// Images [n, 784] → penultimate features [n, features].
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        let [n, _] = x.dims();
        let h = self.pool.forward(relu(self.conv1.forward(x.reshape([n, 1, SIDE, SIDE]))));
        let h = self.pool.forward(relu(self.conv2.forward(h)));
        relu(self.hidden.forward(h.reshape([n as i64, -1])))
    }

    /// Images [n, 784] → logits [n, 10].
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.logits_of(self.features(x))
    }

    /// Features [n, features] → logits [n, 10].
    pub fn logits_of(&self, features: Tensor<2>) -> Tensor<2> {
        self.logits.forward(features)
    }
}

/// The config of the judge's model file (`model_file`, role `mnist-classifier`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CnnFile {
    /// Always `mnist-classifier`.
    pub role: Role,
    pub cnn: CnnConfig,
    /// Accuracy on the 10 000 test images, when measured.
    pub test_accuracy: Option<f64>,
}

/// Images `indices` of `data` as model-scale rows [n, 784] on `device`.
pub fn images(data: &Mnist, indices: &[usize], device: &Device) -> Tensor<2> {
    let pixels: Vec<f32> = indices.iter().flat_map(|&i| data.image(i).iter().map(|&b| to_model(b))).collect();
    Tensor::from_data(TensorData::new(pixels, [indices.len(), PIXELS]), device)
}

/// `image` moved by (dy, dx) pixels, background filling the gap.
fn shifted(image: &[u8], dy: isize, dx: isize) -> Vec<u8> {
    let side = SIDE as isize;
    (0..PIXELS as isize)
        .map(|p| {
            let (r, c) = (p / side - dy, p % side - dx);
            if (0..side).contains(&r) && (0..side).contains(&c) { image[(r * side + c) as usize] } else { 0 }
        })
        .collect()
}

/// The judge's objective: cross-entropy on minibatches of `batch` images of `data`, each shifted
/// by up to ±2 pixels in each direction.
pub struct DigitClassification {
    data: Mnist,
    batch: usize,
}

impl DigitClassification {
    pub fn new(data: Mnist, batch: usize) -> Result<Self> {
        data.full_size("the judge")?;
        if data.is_empty() || !(1..=8192).contains(&batch) {
            return Err(Error::Config(format!("bad classifier training: {} images, batch {batch}", data.len())));
        }
        Ok(Self { data, batch })
    }
}

impl Objective<Cnn> for DigitClassification {
    fn loss(&self, cnn: &Cnn, rng: &mut Rng, device: &Device) -> Tensor<1> {
        let indices: Vec<usize> = (0..self.batch).map(|_| rng.below(self.data.len())).collect();
        let pixels: Vec<f32> = indices
            .iter()
            .flat_map(|&i| {
                let (dy, dx) = (rng.below(5) as isize - 2, rng.below(5) as isize - 2);
                shifted(self.data.image(i), dy, dx).into_iter().map(to_model)
            })
            .collect();
        let x = Tensor::from_data(TensorData::new(pixels, [self.batch, PIXELS]), device);
        let labels: Vec<i64> = indices.iter().map(|&i| self.data.labels[i] as i64).collect();
        let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [self.batch]), device);
        CrossEntropyLossConfig::new().init(device).forward(cnn.forward(x), y)
    }
}

/// A fresh run training the judge on `data` with minibatches of `batch`.
pub fn judge_trainer(
    config: &CnnConfig,
    data: Mnist,
    plan: Plan,
    batch: usize,
    device: &Device,
) -> Result<Trainer<Cnn, DigitClassification>> {
    Trainer::new(|device, seed| config.init(device, seed), DigitClassification::new(data, batch)?, plan, device)
}

/// Fraction of `data` that `cnn` labels correctly (batches of 1000).
pub fn accuracy(cnn: &Cnn, data: &Mnist, device: &Device) -> f64 {
    let mut correct = 0usize;
    for start in (0..data.len()).step_by(1000) {
        let indices: Vec<usize> = (start..(start + 1000).min(data.len())).collect();
        let predicted: Vec<i64> =
            cnn.forward(images(data, &indices, device)).argmax(1).into_data().convert::<i64>().try_into_vec().unwrap();
        correct += indices.iter().zip(&predicted).filter(|&(&i, &p)| data.labels[i] as i64 == p).count();
    }
    correct as f64 / data.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes of synthetic digits (a bar vs a ring) are learned in a few steps.
    #[test]
    fn learns_a_toy_task() {
        let device = Device::flex();
        let mut images = Vec::new();
        let mut labels = Vec::new();
        let mut rng = Rng::new(0);
        for i in 0..64 {
            let ring = i % 2 == 1;
            for p in 0..PIXELS {
                let (r, c) = ((p / SIDE) as f64 - 13.5, (p % SIDE) as f64 - 13.5);
                let ink = if ring { ((r * r + c * c).sqrt() - 8.0).abs() < 2.0 } else { c.abs() < 2.0 };
                images.push(if ink { 200 + rng.below(56) as u8 } else { rng.below(30) as u8 });
            }
            labels.push(if ring { 0 } else { 1 });
        }
        let data = Mnist { images, labels, side: crate::data::mnist::SIDE };
        let plan = Plan::constant(30, 1e-3, 0);
        let mut trainer = judge_trainer(&CnnConfig::default(), data.clone(), plan, 16, &device).unwrap();
        for _ in 0..30 {
            trainer.step();
        }
        assert_eq!(accuracy(&trainer.model(), &data, &device), 1.0);
        assert_eq!(trainer.model().features(images_of(&data, &device)).dims(), [64, 128]);
    }

    fn images_of(data: &Mnist, device: &Device) -> Tensor<2> {
        images(data, &(0..data.len()).collect::<Vec<_>>(), device)
    }
}
