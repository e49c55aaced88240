//! The wasm-bindgen adapter the page's Web Worker drives: bytes and flat arrays in, flat arrays out.
//! No maths here: training, sampling and the grader come from the core crate. Every read of a
//! tensor is `into_data_async().await`, which WebGPU requires.

use std::cell::RefCell;
use std::rc::Rc;

use burn::prelude::*;
use diffusion::checkpoint::{CheckpointConfig, Role};
use diffusion::classifier::{ClassifierTrainer, Validation, one_hot};
use diffusion::data::label_blocks;
use diffusion::data::states::{Points, states};
use diffusion::io::{self, NamedTensor};
use diffusion::metric::kde_nll::Kde;
use diffusion::metric::on_target::nearest_labels;
use diffusion::metric::prediction_map::{Grid, prediction_map};
use diffusion::model::mlp::Mlp;
use diffusion::model_file;
use diffusion::objective::DenoiserTrainer;
use diffusion::schedule::Schedule;
use diffusion::sde::guidance::ClassifierGuided;
use diffusion::sde::sampler::{Method, SdeSampler};
use diffusion::train::{Seeds, TrainConfig};
use wasm_bindgen::prelude::*;

mod energy;
mod mnist;
pub use energy::EnergyRun;
pub use mnist::MnistModel;

/// The noisy classifier: being trained, or loaded, with its held-out set.
struct ClassifierState {
    trainer: Option<ClassifierTrainer>,
    model: Option<Mlp>,
    config: CheckpointConfig,
    validation: Option<Validation>,
}

struct State {
    device: Device,
    schedule: Schedule,
    config: CheckpointConfig,
    trainer: Option<DenoiserTrainer>,
    model: Option<Mlp>,
    /// Two sampler slots: the main run and, side by side, a second sampler from the same noise.
    samplers: [Option<SdeSampler>; 2],
    /// One-hot labels and scale of the running chain when it is guided.
    guidance: Option<(Tensor<2>, f64)>,
    classifier: ClassifierState,
    data: Points,
    kde: Kde,
}

/// One playground per worker: a device, a model being trained or loaded, and a sampler.
#[wasm_bindgen]
pub struct Playground {
    state: Rc<RefCell<State>>,
    device_name: String,
    gpu: bool,
}

pub(crate) fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// A sampler slot from JS: 0 (the default) or 1.
fn slot_index(slot: Option<u32>) -> Result<usize, JsError> {
    match slot.unwrap_or(0) {
        slot @ (0 | 1) => Ok(slot as usize),
        other => Err(JsError::new(&format!("sampler slot must be 0 or 1, got {other}"))),
    }
}

/// Starts on WebGPU (`gpu`, after its one-time async initialisation) or on the CPU (flex).
#[wasm_bindgen(js_name = createPlayground)]
pub async fn create_playground(gpu: bool) -> Result<Playground, JsError> {
    console_error_panic_hook::set_once();
    let (device, device_name) = if gpu {
        #[cfg(target_family = "wasm")]
        let device = Device::wgpu_options().init_async().await.map_err(js_error)?;
        #[cfg(not(target_family = "wasm"))]
        let device = Device::wgpu(Default::default());
        (device, "webgpu (burn wgpu)".to_string())
    } else {
        (Device::flex(), "cpu (burn flex)".to_string())
    };
    let config = CheckpointConfig::denoiser();
    let classifier =
        ClassifierState { trainer: None, model: None, config: CheckpointConfig::classifier(), validation: None };
    let state = State {
        device,
        schedule: config.schedule.init().map_err(js_error)?,
        config,
        trainer: None,
        model: None,
        samplers: [None, None],
        guidance: None,
        classifier,
        data: states(),
        kde: Kde::fit(&states().xy).map_err(js_error)?,
    };
    Ok(Playground { state: Rc::new(RefCell::new(state)), device_name, gpu })
}

/// The STATES data for drawing: `{ xy: Float32Array [n*2], labels: Uint8Array [n] }`.
#[wasm_bindgen(js_name = statesData)]
pub fn states_data() -> Result<JsValue, JsError> {
    let data = states();
    let object = js_sys::Object::new();
    let xy = js_sys::Float32Array::from(data.flat().as_slice());
    let labels = js_sys::Uint8Array::from(data.labels.unwrap_or_default().as_slice());
    js_sys::Reflect::set(&object, &"xy".into(), &xy).map_err(|_| JsError::new("statesData"))?;
    js_sys::Reflect::set(&object, &"labels".into(), &labels).map_err(|_| JsError::new("statesData"))?;
    Ok(object.into())
}

pub(crate) async fn read<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, JsError> {
    let data = tensor.into_data_async().await.map_err(js_error)?;
    data.try_into_vec::<f32>().map_err(|e| JsError::new(&format!("{e:?}")))
}

async fn read_labels(tensor: Tensor<1, Int>) -> Result<Vec<i64>, JsError> {
    let data = tensor.into_data_async().await.map_err(js_error)?;
    data.try_into_vec_as::<i64>().map_err(|e| JsError::new(&format!("{e:?}")))
}

/// A network's parameters read to the host (asynchronously) and encoded with its config.
async fn encode(model: &Mlp, config: &CheckpointConfig) -> Result<js_sys::Uint8Array, JsError> {
    let mut tensors = Vec::new();
    for (name, shape, tensor) in io::parameters(model) {
        tensors.push(NamedTensor { name, shape, values: read(tensor).await? });
    }
    let bytes = model_file::encode(&tensors, config).map_err(js_error)?;
    Ok(js_sys::Uint8Array::from(bytes.as_slice()))
}

#[wasm_bindgen]
impl Playground {
    #[wasm_bindgen(js_name = deviceName)]
    pub fn device_name(&self) -> String {
        self.device_name.clone()
    }

    #[wasm_bindgen(js_name = isGpu)]
    pub fn is_gpu(&self) -> bool {
        self.gpu
    }

    /// The current network, schedule and training configuration, as a JS object.
    pub fn config(&self) -> Result<JsValue, JsError> {
        serde_wasm_bindgen::to_value(&self.state.borrow().config).map_err(js_error)
    }

    /// Starts a new training run (a fresh network); bad hyper-parameters are an error. `sde`:
    /// "ddpm" (the course's T-step chain) or "vp", "subvp", "ve" (denoising score matching on that
    /// SDE's continuous time, with the weights' EMA 0.999 used for sampling).
    #[wasm_bindgen(js_name = startTraining)]
    pub fn start_training(
        &self,
        steps: u32,
        batch: u32,
        lr: f64,
        seed: u32,
        sde: Option<String>,
    ) -> Result<(), JsError> {
        let mut state = self.state.borrow_mut();
        // A fresh run uses the course's network and schedule, whatever was loaded before.
        let mut config = CheckpointConfig::named_denoiser(sde.as_deref().unwrap_or("ddpm")).map_err(js_error)?;
        let train = TrainConfig {
            steps: steps as usize,
            batch: batch as usize,
            lr,
            seed: seed as u64,
            ema_decay: config.default_ema_decay(),
            ..Default::default()
        };
        config.train = Some(train.clone());
        let trainer = config.denoiser_trainer(&train, states().xy, &state.device).map_err(js_error)?;
        state.trainer = Some(trainer);
        state.schedule = config.schedule.init().map_err(js_error)?;
        state.config = config;
        Ok(())
    }

    /// Runs `k` training steps and resolves to their losses (`Float32Array`).
    #[wasm_bindgen(js_name = trainSteps)]
    pub async fn train_steps(&self, k: u32) -> Result<js_sys::Float32Array, JsError> {
        let losses = {
            let mut state = self.state.borrow_mut();
            let trainer = state.trainer.as_mut().ok_or_else(|| JsError::new("press Train first"))?;
            let losses: Vec<Tensor<1>> = (0..k.max(1)).map(|_| trainer.step()).collect();
            state.model = Some(state.trainer.as_ref().map(DenoiserTrainer::model).expect("trainer"));
            Tensor::cat(losses, 0)
        };
        Ok(js_sys::Float32Array::from(read(losses).await?.as_slice()))
    }

    /// Loads a `denoiser.safetensors` written by the CLI (or downloaded from this page).
    #[wasm_bindgen(js_name = loadWeights)]
    pub fn load_weights(&self, bytes: &[u8]) -> Result<(), JsError> {
        let mut state = self.state.borrow_mut();
        // Decoded in full before anything is replaced: a bad file leaves the current model alone.
        let denoiser = model_file::mlp(bytes, Role::Denoiser, &state.device).map_err(js_error)?;
        state.schedule = denoiser.schedule;
        state.config = denoiser.config;
        state.model = Some(denoiser.mlp);
        state.trainer = None;
        state.samplers = [None, None];
        Ok(())
    }

    /// The current weights as safetensors bytes (the CLI's format).
    pub async fn weights(&self) -> Result<js_sys::Uint8Array, JsError> {
        let (model, config) = {
            let state = self.state.borrow();
            (state.model.clone().ok_or_else(|| JsError::new("no model yet"))?, state.config.clone())
        };
        encode(&model, &config).await
    }

    /// Starts training a fresh noisy classifier on 90% of the points (10% held out per state).
    #[wasm_bindgen(js_name = startClassifierTraining)]
    pub fn start_classifier_training(&self, steps: u32, batch: u32, lr: f64, seed: u32) -> Result<(), JsError> {
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
            classifier.model = Some(trainer.model());
            Tensor::cat(losses, 0)
        };
        Ok(js_sys::Float32Array::from(read(losses).await?.as_slice()))
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

    /// The label of each point's nearest data point (`Uint8Array`), to judge guided samples.
    #[wasm_bindgen(js_name = nearestLabels)]
    pub fn nearest_labels(&self, points: &[f32]) -> js_sys::Uint8Array {
        let state = self.state.borrow();
        let xy: Vec<[f32; 2]> = points.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
        let labels = nearest_labels(&state.data.xy, state.data.labels.as_deref().unwrap_or_default(), &xy);
        js_sys::Uint8Array::from(labels.as_slice())
    }

    /// Starts the reverse process from x_T ~ N(0, I) for `n` points in sampler `slot` (0, or 1 for
    /// the side-by-side run; the same seed gives both the same noise) and returns x_T. `label`: −1
    /// unguided, 0..4 guided towards that state, 5 all states in equal blocks; `scale` is the
    /// guidance scale s; `rule` is any sampler ("ancestral", "ddim", "em", "rd", "pc", "ald",
    /// "ode-heun", "ode-rk4", "dpmpp2m", "edm-heun") over `steps` on the model's own process (a
    /// DDPM network's chain: K of its T steps), guided or not.
    #[wasm_bindgen(js_name = startSampling)]
    #[allow(clippy::too_many_arguments)]
    pub async fn start_sampling(
        &self,
        n: u32,
        seed: u32,
        label: i32,
        scale: f64,
        rule: String,
        steps: u32,
        slot: Option<u32>,
    ) -> Result<js_sys::Float32Array, JsError> {
        let slot = slot_index(slot)?;
        let x = {
            let mut state = self.state.borrow_mut();
            if state.model.is_none() {
                return Err(JsError::new("train or load a model first"));
            }
            if !(1..=100_000).contains(&n) {
                return Err(JsError::new(&format!("points must be in 1..=100000, got {n}")));
            }
            if rule == "ode-rk45" {
                return Err(JsError::new(
                    "adaptive RK45 reads its error estimate synchronously: it runs in the CLI only",
                ));
            }
            let method = Method::parse(&rule, 0.16, 0.0, "none").map_err(js_error)?;
            if slot == 1 && label >= 0 {
                return Err(JsError::new("the side-by-side sampler runs unguided"));
            }
            if slot == 0 {
                state.guidance = match label {
                    -1 => None,
                    0..=5 => {
                        if state.classifier.model.is_none() {
                            return Err(JsError::new("guided sampling needs a classifier: train or load one"));
                        }
                        if !scale.is_finite() || scale.abs() > 1000.0 {
                            return Err(JsError::new(&format!(
                                "the guidance scale must be in [-1000, 1000], got {scale}"
                            )));
                        }
                        let n = n as usize;
                        let labels: Vec<u8> = match label {
                            5 => label_blocks(5, n).into_iter().map(|l| l as u8).collect(),
                            l => vec![l as u8; n],
                        };
                        Some((one_hot(&labels, &state.device), scale))
                    }
                    other => {
                        return Err(JsError::new(&format!("label must be -1 (none), 0..4 or 5 (all), got {other}")));
                    }
                };
            }
            let sampler =
                SdeSampler::new(method, state.config.sde(), steps as usize, n as usize, seed as u64, &state.device)
                    .map_err(js_error)?;
            let x = sampler.x();
            state.samplers[slot] = Some(sampler);
            x
        };
        Ok(js_sys::Float32Array::from(read(x).await?.as_slice()))
    }

    /// The sampler's current t on the chain's scale: round(T t), T at the start, at least 1 until
    /// it is done, then 0.
    #[wasm_bindgen(js_name = samplingT)]
    pub fn sampling_t(&self, slot: Option<u32>) -> Result<u32, JsError> {
        let state = self.state.borrow();
        Ok(match &state.samplers[slot_index(slot)?] {
            None => 0,
            Some(sampler) if sampler.done() => 0,
            Some(sampler) => ((sampler.t() * state.schedule.steps as f64).round() as u32).max(1),
        })
    }

    /// The sampler's current time on the SDE's scale t ∈ [0, 1] (the chain's t_d/T).
    #[wasm_bindgen(js_name = samplingTime)]
    pub fn sampling_time(&self, slot: Option<u32>) -> Result<f64, JsError> {
        let state = self.state.borrow();
        Ok(match &state.samplers[slot_index(slot)?] {
            None => 0.0,
            Some(sampler) => sampler.t(),
        })
    }

    /// Network evaluations of the slot's sampling run so far.
    pub fn nfe(&self, slot: Option<u32>) -> Result<u32, JsError> {
        let state = self.state.borrow();
        Ok(match &state.samplers[slot_index(slot)?] {
            None => 0,
            Some(sampler) => sampler.nfe() as u32,
        })
    }

    /// Advances the slot's reverse process by up to `k` steps and resolves to its current points.
    #[wasm_bindgen(js_name = sampleSteps)]
    pub async fn sample_steps(&self, k: u32, slot: Option<u32>) -> Result<js_sys::Float32Array, JsError> {
        let slot = slot_index(slot)?;
        let x = {
            let mut guard = self.state.borrow_mut();
            let state = &mut *guard;
            let sampler = state.samplers[slot].as_mut().ok_or_else(|| JsError::new("press Sample first"))?;
            let mlp = state.model.as_ref().expect("model");
            let model = state.config.eps_score(mlp).map_err(js_error)?;
            match (&state.guidance, &state.classifier.model, slot) {
                (Some((one_hot, scale)), Some(classifier), 0) => {
                    let guided = ClassifierGuided {
                        base: &model,
                        sde: model.sde,
                        classifier,
                        classifier_sde: state.classifier.config.sde(),
                        one_hot: one_hot.clone(),
                        scale: *scale,
                    };
                    (0..k).for_each(|_| sampler.step(&guided));
                }
                _ => (0..k).for_each(|_| sampler.step(&model)),
            }
            sampler.x()
        };
        Ok(js_sys::Float32Array::from(read(x).await?.as_slice()))
    }

    /// The model's score field at time `t` ∈ [0, 1] on a `size` × `size` grid over the data's square:
    /// flat rows (x, y, u, v) with (u, v) = s(t) ∇log p_t = −ε̂, the direction (and, relative to the
    /// noise, the strength) in which the reverse process pushes each point.
    #[wasm_bindgen(js_name = scoreField)]
    pub async fn score_field(&self, t: f64, size: u32) -> Result<js_sys::Float32Array, JsError> {
        if !(2..=64).contains(&size) || !(0.0..=1.0).contains(&t) {
            return Err(JsError::new(&format!("scoreField wants t in [0, 1] and size in 2..=64, got {t}, {size}")));
        }
        let (grid, field) = {
            let state = self.state.borrow();
            let mlp = state.model.as_ref().ok_or_else(|| JsError::new("train or load a model first"))?;
            let model = state.config.eps_score(mlp).map_err(js_error)?;
            let t = t.max(model.sde.t_min());
            let size = size as usize;
            let grid: Vec<f32> = (0..size * size)
                .flat_map(|i| {
                    let at = |k: usize| -2.5 + 5.0 * k as f32 / (size - 1) as f32;
                    [at(i % size), at(i / size)]
                })
                .collect();
            let x = Tensor::<2>::from_data(TensorData::new(grid.clone(), [size * size, 2]), &state.device);
            (grid, model.eps(x, t).neg())
        };
        let field = read(field).await?;
        let rows: Vec<f32> =
            grid.chunks_exact(2).zip(field.chunks_exact(2)).flat_map(|(p, v)| [p[0], p[1], v[0], v[1]]).collect();
        Ok(js_sys::Float32Array::from(rows.as_slice()))
    }

    /// Starts the energy mode on `target` (gmm4, gmm8, ring, funnel, muller-brown, states-kde):
    /// rdMC and ULA from the same `n` starting points, at `budget` ∇f_* evaluations per sample
    /// (0: the target's defaults).
    #[wasm_bindgen(js_name = startEnergy)]
    pub fn start_energy(&self, target: String, n: u32, seed: u32, budget: u32) -> Result<EnergyRun, JsError> {
        EnergyRun::start(&target, n, seed, budget, &self.state.borrow().device)
    }

    /// Loads an MNIST UNet file (`diffusion train mnist` writes one; web/models/mnist-vp.safetensors
    /// is shipped) on this playground's device.
    #[wasm_bindgen(js_name = loadMnist)]
    pub fn load_mnist(&self, bytes: &[u8]) -> Result<MnistModel, JsError> {
        MnistModel::load(bytes, &self.state.borrow().device)
    }

    /// The course grader's NLL of flat `[n*2]` points (KDE on all 5000 data points).
    pub fn nll(&self, points: &[f32]) -> Result<f64, JsError> {
        let xy: Vec<[f32; 2]> = points.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
        self.state.borrow().kde.nll(&xy).map_err(js_error)
    }
}
