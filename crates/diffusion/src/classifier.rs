//! The noisy classifier f_φ(y | x_t, t) of classifier guidance (Dhariwal & Nichol 2021, §4.1; the
//! course handout): an MLP on (x_t, t̄) trained with cross-entropy on points noised by the same
//! forward process as the denoiser, x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε with t ~ U{0..T} (t = 0: clean).

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::data::states::{Points, STATE_NAMES};
use crate::error::{Error, Result};
use crate::model::mlp::{Mlp, MlpConfig};
use crate::rng::Rng;
use crate::schedule::Schedule;
use crate::sde::guidance::log_probs_at;
use crate::train::Objective;

/// Number of classes (the five states).
pub const CLASSES: usize = STATE_NAMES.len();

/// Noisy labelled points on the host: rows (x_t, y_t, t̄), their labels and their t.
pub struct LabelBatch {
    pub input: Vec<f32>,
    pub labels: Vec<u8>,
    pub t: Vec<usize>,
}

impl LabelBatch {
    /// `batch` random (x_0, y) from `points`, t ~ U{0..T}, ε ~ N(0, I).
    pub fn draw(points: &Points, schedule: &Schedule, batch: usize, rng: &mut Rng) -> Self {
        let labels = points.labels.as_ref().expect("classifier data has labels");
        let mut out = Self { input: Vec::with_capacity(batch * 3), labels: Vec::new(), t: Vec::new() };
        for _ in 0..batch {
            let i = rng.below(points.len());
            out.push(schedule, points.xy[i], labels[i], rng.below(schedule.steps + 1), rng);
        }
        out
    }

    /// Every point of `points` once per bucket: t uniform inside each of `buckets` equal slices of
    /// 0..=T, so the validation accuracy can be read per noise level.
    pub fn per_bucket(points: &Points, schedule: &Schedule, buckets: usize, rng: &mut Rng) -> Self {
        let labels = points.labels.as_ref().expect("classifier data has labels");
        let mut out = Self { input: Vec::new(), labels: Vec::new(), t: Vec::new() };
        for (x_0, &label) in points.xy.iter().zip(labels) {
            for bucket in 0..buckets {
                let (lo, hi) = bucket_range(bucket, buckets, schedule.steps);
                out.push(schedule, *x_0, label, lo + rng.below(hi - lo), rng);
            }
        }
        out
    }

    fn push(&mut self, schedule: &Schedule, x_0: [f32; 2], label: u8, t: usize, rng: &mut Rng) {
        let x_t = schedule.q_sample(x_0, t, [rng.normal() as f32, rng.normal() as f32]);
        self.input.extend([x_t[0], x_t[1], schedule.t_bar(t)]);
        self.labels.push(label);
        self.t.push(t);
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    fn tensors(&self, device: &Device) -> (Tensor<2>, Tensor<2>) {
        let input = Tensor::from_data(TensorData::new(self.input.clone(), [self.len(), 3]), device);
        (input, one_hot(&self.labels, device))
    }
}

/// t ∈ lo..hi of bucket `k` of `buckets` equal slices of 0..=T.
pub fn bucket_range(k: usize, buckets: usize, steps: usize) -> (usize, usize) {
    ((k * (steps + 1)) / buckets, ((k + 1) * (steps + 1)) / buckets)
}

/// Rows of the identity: [n, CLASSES].
pub fn one_hot(labels: &[u8], device: &Device) -> Tensor<2> {
    let mut values = vec![0.0f32; labels.len() * CLASSES];
    for (row, &label) in labels.iter().enumerate() {
        values[row * CLASSES + label as usize] = 1.0;
    }
    Tensor::from_data(TensorData::new(values, [labels.len(), CLASSES]), device)
}

/// log f_φ(· | x_t, t) for every class: log-softmax of the logits, [n, CLASSES].
pub fn log_probs(classifier: &Mlp, schedule: &Schedule, x_t: Tensor<2>, t: usize) -> Tensor<2> {
    log_probs_at(classifier, x_t, schedule.t_bar(t))
}

/// argmax_y f_φ(y | x_t, t) for each row of x_t: [n].
pub fn classify(classifier: &Mlp, schedule: &Schedule, x_t: Tensor<2>, t: usize) -> Tensor<1, Int> {
    log_probs(classifier, schedule, x_t, t).argmax(1).reshape([-1])
}

/// Cross-entropy −mean_i log softmax(logits_i)[y_i], with the labels as one-hot rows.
pub fn cross_entropy(logits: Tensor<2>, one_hot: Tensor<2>) -> Tensor<1> {
    (log_softmax(logits, 1) * one_hot).sum_dim(1).mean().neg()
}

/// The one trainer on the noisy classifier's objective.
pub type ClassifierTrainer = crate::train::Trainer<Mlp, NoisyClassification>;

/// The cross-entropy of noisy labelled minibatches of `batch` points of `data`.
pub struct NoisyClassification {
    schedule: Schedule,
    data: Points,
    batch: usize,
}

impl NoisyClassification {
    /// `data` must carry labels below the model's outputs.
    pub fn new(schedule: Schedule, data: Points, batch: usize, model: &MlpConfig) -> Result<Self> {
        match &data.labels {
            None => return Err(Error::Config("the classifier needs labelled points".into())),
            Some(_) if data.is_empty() => return Err(Error::Config("no training data".into())),
            Some(labels) if labels.iter().any(|&l| l as usize >= model.d_output) => {
                return Err(Error::Config(format!("labels must be below the {} outputs", model.d_output)));
            }
            Some(_) => {}
        }
        if model.d_input != 3 {
            return Err(Error::Config(format!("the classifier sees (x_t, t̄): 3 inputs, not {}", model.d_input)));
        }
        Ok(Self { schedule, data, batch })
    }
}

impl Objective<Mlp> for NoisyClassification {
    fn loss(&self, model: &Mlp, rng: &mut Rng, device: &Device) -> Tensor<1> {
        let batch = LabelBatch::draw(&self.data, &self.schedule, self.batch, rng);
        let (input, targets) = batch.tensors(device);
        cross_entropy(model.forward(input), targets)
    }
}

/// A fixed held-out set: each validation point once per t bucket.
pub struct Validation {
    batch: LabelBatch,
    pub buckets: usize,
    pub steps: usize,
}

/// Held-out loss and accuracy, overall and per t bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierMetrics {
    pub loss: f32,
    pub accuracy: f64,
    /// (t_lo, t_hi inclusive, accuracy) per bucket.
    pub by_bucket: Vec<(usize, usize, f64)>,
}

impl Validation {
    pub fn new(points: &Points, schedule: &Schedule, buckets: usize, seed: u64) -> Self {
        let batch = LabelBatch::per_bucket(points, schedule, buckets, &mut Rng::new(seed));
        Self { batch, buckets, steps: schedule.steps }
    }

    /// The held-out cross-entropy and the predicted labels, on the device (read them as suits).
    pub fn evaluate(&self, model: &Mlp, device: &Device) -> (Tensor<1>, Tensor<1, Int>) {
        let (input, targets) = self.batch.tensors(device);
        let logits = model.forward(input);
        let predicted = logits.clone().argmax(1).reshape([-1]);
        (cross_entropy(logits, targets), predicted)
    }

    /// Accuracy from the predictions read back by the caller.
    pub fn summarise(&self, loss: f32, predicted: &[i64]) -> ClassifierMetrics {
        let hits: Vec<bool> = predicted.iter().zip(&self.batch.labels).map(|(&p, &y)| p == y as i64).collect();
        let rate = |rows: &mut dyn Iterator<Item = bool>| {
            let (n, k) = rows.fold((0usize, 0usize), |(n, k), hit| (n + 1, k + hit as usize));
            k as f64 / n.max(1) as f64
        };
        let by_bucket = (0..self.buckets)
            .map(|b| {
                let (lo, hi) = bucket_range(b, self.buckets, self.steps);
                let mut rows = hits.iter().zip(&self.batch.t).filter(|(_, t)| (lo..hi).contains(*t)).map(|(h, _)| *h);
                (lo, hi - 1, rate(&mut rows))
            })
            .collect();
        ClassifierMetrics { loss, accuracy: rate(&mut hits.iter().copied()), by_bucket }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::CheckpointConfig;
    use crate::data::states::states;
    use crate::schedule::ScheduleConfig;
    use crate::train::TrainConfig;

    #[test]
    fn cross_entropy_of_known_logits() {
        let device = Device::flex();
        // Uniform logits: −log(1/5) whatever the label.
        let loss = cross_entropy(Tensor::zeros([3, 5], &device), one_hot(&[0, 2, 4], &device));
        assert!((loss.into_scalar::<f32>() - 5f32.ln()).abs() < 1e-6);
        // A confident right answer costs ≈ 0, a confident wrong one ≈ the logit gap.
        let logits = Tensor::<2>::from_floats([[20.0, 0.0, 0.0, 0.0, 0.0]], &device);
        assert!(cross_entropy(logits.clone(), one_hot(&[0], &device)).into_scalar::<f32>() < 1e-6);
        assert!((cross_entropy(logits, one_hot(&[1], &device)).into_scalar::<f32>() - 20.0).abs() < 1e-3);
    }

    #[test]
    fn buckets_tile_zero_to_t() {
        let covered: Vec<usize> = (0..10)
            .flat_map(|k| {
                let (lo, hi) = bucket_range(k, 10, 500);
                lo..hi
            })
            .collect();
        assert_eq!(covered, (0..=500).collect::<Vec<_>>());
    }

    /// A short run learns the states: near chance at t ≈ T (the signal √ᾱ_T ≈ 0.08 is buried),
    /// nearly perfect on clean points, and its prediction at t = 0 labels each state's own data.
    #[test]
    fn a_short_run_separates_the_states() {
        let device = Device::flex();
        let schedule = ScheduleConfig::default().init().unwrap();
        let (train, val) = states().split(0.1, 0).unwrap();
        let train_config = TrainConfig { steps: 400, batch: 1024, lr: 3e-3, ..Default::default() };
        let mut trainer = CheckpointConfig::classifier().classifier_trainer(&train_config, train, &device).unwrap();
        let first = trainer.step().into_scalar::<f32>();
        let mut last = first;
        while trainer.steps_done() < 400 {
            last = trainer.step().into_scalar::<f32>();
        }
        assert!((first - 5f32.ln()).abs() < 0.3, "first loss {first}");
        assert!(last < 0.8 * first, "loss {first} → {last}");
        let validation = Validation::new(&val, &schedule, 10, 1);
        let (loss, predicted) = validation.evaluate(&trainer.model(), &device);
        let metrics =
            validation.summarise(loss.into_scalar(), &predicted.into_data().try_into_vec_as::<i64>().unwrap());
        let (first_bucket, last_bucket) = (metrics.by_bucket[0].2, metrics.by_bucket[9].2);
        assert!(first_bucket > 0.95, "{metrics:?}");
        assert!(last_bucket < 0.4, "{metrics:?}");
        // The prediction at t = 0 on each state's own (training and held-out) points.
        let model = trainer.model();
        for label in 0..CLASSES as u8 {
            let own = states().with_label(label);
            let x = Tensor::from_data(TensorData::new(own.flat(), [own.len(), 2]), &device);
            let predicted: Vec<i64> = classify(&model, &schedule, x, 0).into_data().try_into_vec_as().unwrap();
            let right = predicted.iter().filter(|&&p| p == label as i64).count() as f64 / own.len() as f64;
            assert!(right >= 0.95, "state {label}: {right}");
        }
    }
}
