//! The page's noisy classifier: training, held-out metrics, files, and what it predicts.

use burn::prelude::*;
use diffusion::checkpoint::{CheckpointConfig, Role};
use diffusion::limits;
use diffusion::metric::prediction_map::{Grid, prediction_map};
use diffusion::model_file;
use diffusion::train::{Seeds, TrainConfig};
use wasm_bindgen::prelude::*;

use crate::{ClassifierState, Playground, encode, js_error, read, read_labels};
use diffusion::classifier::Validation;

#[wasm_bindgen]
impl Playground {
    /// Starts training a fresh noisy classifier on 90% of the points (10% held out per state).
    #[wasm_bindgen(js_name = startClassifierTraining)]
    pub fn start_classifier_training(&self, steps: u32, batch: u32, lr: f64, seed: u32) -> Result<(), JsError> {
        crate::in_page_range(limits::TRAIN_STEPS, steps as f64)?;
        crate::in_page_range(limits::BATCH, batch as f64)?;
        crate::in_page_range(limits::LR, lr)?;
        let mut state = self.state.borrow_mut();
        let train = TrainConfig {
            steps: steps as usize,
            batch: batch as usize,
            lr,
            seed: seed as u64,
            val_fraction: 0.1,
            ..Default::default()
        };
        let config = CheckpointConfig { train: Some(train.clone()), ..CheckpointConfig::classifier() };
        let schedule = config.schedule.init().map_err(js_error)?;
        let seeds = Seeds::of(train.seed);
        let (points, held_out) = state.data.split(train.val_fraction, seeds.split).map_err(js_error)?;
        let trainer = config.classifier_trainer(&train, points, &state.device).map_err(js_error)?;
        let validation = Validation::new(&held_out, &schedule, 10, seeds.validation);
        state.classifier =
            ClassifierState { trainer: Some(trainer), model: None, config, validation: Some(validation) };
        Ok(())
    }

    /// Runs `k` classifier steps and resolves to their cross-entropies (`Float32Array`).
    #[wasm_bindgen(js_name = trainClassifierSteps)]
    pub async fn train_classifier_steps(&self, k: u32) -> Result<js_sys::Float32Array, JsError> {
        let losses = {
            let mut state = self.state.borrow_mut();
            let classifier = &mut state.classifier;
            let trainer = classifier.trainer.as_mut().ok_or_else(|| JsError::new("press Train classifier first"))?;
            let losses: Vec<Tensor<1>> = (0..k.max(1)).map(|_| trainer.step()).collect();
            Tensor::cat(losses, 0)
        };
        let losses = read(losses).await?;
        let mut state = self.state.borrow_mut();
        let classifier = &mut state.classifier;
        let trainer = classifier.trainer.as_mut().ok_or_else(|| JsError::new("press Train classifier first"))?;
        // The divergence guard, as for the denoiser (`trainSteps`).
        let verdict = trainer.check(&losses);
        classifier.model = Some(trainer.model());
        verdict.map_err(|d| JsError::new(&d.to_string()))?;
        Ok(js_sys::Float32Array::from(losses.as_slice()))
    }

    /// Held-out loss and accuracy of the classifier: `{ loss, accuracy, byBucket: [[t_lo, t_hi, acc]] }`.
    #[wasm_bindgen(js_name = classifierMetrics)]
    pub async fn classifier_metrics(&self) -> Result<JsValue, JsError> {
        let (loss, predicted) = {
            let state = self.state.borrow();
            let classifier = &state.classifier;
            let (Some(model), Some(validation)) = (&classifier.model, &classifier.validation) else {
                return Err(JsError::new("no classifier with a held-out set"));
            };
            validation.evaluate(model, &state.device)
        };
        let loss = read(loss).await?[0];
        let predicted = read_labels(predicted).await?;
        let state = self.state.borrow();
        let metrics = state.classifier.validation.as_ref().expect("validation").summarise(loss, &predicted);
        let out = js_sys::Object::new();
        let set = |k: &str, v: JsValue| js_sys::Reflect::set(&out, &k.into(), &v).map(|_| ());
        let buckets = js_sys::Array::new();
        for (lo, hi, accuracy) in &metrics.by_bucket {
            buckets.push(&js_sys::Array::of3(&(*lo as u32).into(), &(*hi as u32).into(), &(*accuracy).into()));
        }
        set("loss", (metrics.loss as f64).into())
            .and(set("accuracy", metrics.accuracy.into()))
            .and(set("byBucket", buckets.into()))
            .map_err(|_| JsError::new("classifierMetrics"))?;
        Ok(out.into())
    }

    /// Loads a `classifier.safetensors` written by the CLI (or downloaded from this page).
    #[wasm_bindgen(js_name = loadClassifier)]
    pub fn load_classifier(&self, bytes: &[u8]) -> Result<(), JsError> {
        let mut state = self.state.borrow_mut();
        let loaded = model_file::mlp(bytes, Role::Classifier, &state.device).map_err(js_error)?;
        state.classifier =
            ClassifierState { trainer: None, model: Some(loaded.mlp), config: loaded.config, validation: None };
        Ok(())
    }

    /// The classifier's weights as safetensors bytes.
    #[wasm_bindgen(js_name = classifierWeights)]
    pub async fn classifier_weights(&self) -> Result<js_sys::Uint8Array, JsError> {
        let (model, config) = {
            let state = self.state.borrow();
            let model = state.classifier.model.clone().ok_or_else(|| JsError::new("no classifier yet"))?;
            (model, state.classifier.config.clone())
        };
        encode(&model, &config).await
    }

    #[wasm_bindgen(js_name = hasClassifier)]
    pub fn has_classifier(&self) -> bool {
        self.state.borrow().classifier.model.is_some()
    }

    /// The classifier's argmax over a `width` × `height` grid of [−2.5, 2.5]² at time t, row-major
    /// from the top-left (`Uint8Array` of labels).
    #[wasm_bindgen(js_name = predictionMap)]
    pub async fn prediction_map(&self, t: u32, width: u32, height: u32) -> Result<js_sys::Uint8Array, JsError> {
        if !(1..=512).contains(&width) || !(1..=512).contains(&height) {
            return Err(JsError::new("the map must be 1..=512 cells on each side"));
        }
        let cells = {
            let state = self.state.borrow();
            let model = state.classifier.model.as_ref().ok_or_else(|| JsError::new("no classifier yet"))?;
            let t = (t as usize).min(state.schedule.steps);
            let grid = Grid::states(width as usize, height as usize);
            prediction_map(model, &state.schedule, &grid, t, &state.device)
        };
        let labels: Vec<u8> = read_labels(cells).await?.into_iter().map(|l| l as u8).collect();
        Ok(js_sys::Uint8Array::from(labels.as_slice()))
    }
}
