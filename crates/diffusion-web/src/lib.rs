//! The wasm-bindgen adapter the page's Web Worker drives: bytes and flat arrays in, flat arrays out.
//! No maths here: training, sampling and the grader come from the core crate. Every read of a
//! tensor is `into_data_async().await`, which WebGPU requires.

use std::cell::RefCell;
use std::rc::Rc;

use burn::prelude::*;
use diffusion::checkpoint::{CheckpointConfig, Role};
use diffusion::classifier::{ClassifierTrainer, Validation};
use diffusion::data::states::{Points, drawn_points, states};
use diffusion::importance::StepSampling;
use diffusion::io::{self, NamedTensor};
use diffusion::limits::{self, Limit};
use diffusion::metric::kde_nll::Kde;
use diffusion::model::mlp::Mlp;
use diffusion::model_file;
use diffusion::objective::DenoiserTrainer;
use diffusion::schedule::{Schedule, ScheduleConfig};
use diffusion::sde::likelihood::FlowRun;
use diffusion::sde::sampler::SdeSampler;
use diffusion::surrogate::Surrogate;
use diffusion::surrogate::em::{self, EmConfig};
use diffusion::train::{EpsLoss, TrainConfig};
use wasm_bindgen::prelude::*;

mod classifier;
mod energy;
mod likelihood;
mod mnist;
mod partner;
mod sampling;
mod t_sampling;
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
    /// The evaluations each slot's whole grid takes (`None`: RK45), against which a surrogate
    /// start's saving is shown.
    full_nfe: [Option<usize>; 2],
    /// A surrogate start's own draws x̃₀ (flat), before they were noised to t_mid.
    surrogate_draws: Option<Vec<f32>>,
    /// The data's likelihood under the model, being integrated (web/worker.js steps it).
    likelihood: Option<FlowRun>,
    /// The side-by-side slot's own model, when one is loaded, and whether each slot samples it.
    partner: Option<partner::Partner>,
    uses_partner: [bool; 2],
    /// The requested states and scale of the running chain when it is guided.
    guidance: Option<Guidance>,
    classifier: ClassifierState,
    data: Points,
    /// The points the last run trained on (the states, or a drawing) and their KDE: the page's NLL
    /// and p_t's heat map are of these.
    trained_on: TrainingData,
}

struct TrainingData {
    points: Vec<[f32; 2]>,
    kde: Kde,
    /// The last Gaussian-mixture surrogate fitted to these points, by its components K.
    surrogate: Option<(usize, Surrogate)>,
}

impl TrainingData {
    fn of(points: Vec<[f32; 2]>) -> Result<Self, JsError> {
        let kde = Kde::fit(&points).map_err(js_error)?;
        Ok(Self { points, kde, surrogate: None })
    }

    /// A K-component mixture fitted to these points by EM (seed 0), kept for the next start.
    fn surrogate(&mut self, components: usize) -> Result<Surrogate, JsError> {
        in_page_range(limits::COMPONENTS, components as f64)?;
        match &self.surrogate {
            Some((k, surrogate)) if *k == components => Ok(surrogate.clone()),
            _ => {
                let fitted = em::fit(&self.points, &EmConfig::new(components, 0)).map_err(js_error)?;
                let surrogate = Surrogate::Gmm(fitted.mixture);
                self.surrogate = Some((components, surrogate.clone()));
                Ok(surrogate)
            }
        }
    }
}

struct Guidance {
    labels: Vec<u8>,
    scale: f64,
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
    let data = states();
    let state = State {
        trained_on: TrainingData::of(data.xy.clone())?,
        data,
        device,
        schedule: config.schedule.init().map_err(js_error)?,
        config,
        trainer: None,
        model: None,
        samplers: [None, None],
        full_nfe: [None, None],
        surrogate_draws: None,
        likelihood: None,
        partner: None,
        uses_partner: [false, false],
        guidance: None,
        classifier,
    };
    Ok(Playground { state: Rc::new(RefCell::new(state)), device_name, gpu })
}

/// `value` checked against the core's range `limit` and the page's cap (the one place ranges live).
pub(crate) fn in_page_range(limit: Limit, value: f64) -> Result<(), JsError> {
    limit.check_page(value).map_err(js_error)
}

/// The core's table of ranges, `[{ id, min, max, minOpen, maxOpen, integer, pageMax, meaning }]`,
/// from which the page sets its inputs' `min` and `max`.
#[wasm_bindgen]
pub fn limits() -> Result<JsValue, JsError> {
    serde_wasm_bindgen::to_value(limits::ALL).map_err(js_error)
}

/// Panics on purpose: a real wasm trap, so the page's tests can check that the page survives one
/// (its supervisor starts a new worker and gives the models back).
#[wasm_bindgen(js_name = trapForTests)]
pub fn trap_for_tests() {
    panic!("a deliberate trap (trapForTests)");
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
    /// SDE's continuous time, with the weights' EMA 0.999 used for sampling). On the chain:
    /// `schedule` "linear" or "cosine" over T = `timesteps`, `objective` "simple", "hybrid"
    /// (a learned variance) or "iwdiff" (`iw_k` draws, default 2, the seed's weights), and
    /// `t_sampling` "uniform", "importance" or "importance+2" (two refresh batches per step).
    #[wasm_bindgen(js_name = startTraining)]
    #[allow(clippy::too_many_arguments)]
    pub fn start_training(
        &self,
        steps: u32,
        batch: u32,
        lr: f64,
        seed: u32,
        sde: Option<String>,
        schedule: Option<String>,
        timesteps: Option<u32>,
        objective: Option<String>,
        points: Option<Vec<f32>>,
        t_sampling: Option<String>,
        iw_k: Option<u32>,
    ) -> Result<(), JsError> {
        in_page_range(limits::TRAIN_STEPS, steps as f64)?;
        in_page_range(limits::BATCH, batch as f64)?;
        in_page_range(limits::LR, lr)?;
        if let Some(t) = timesteps {
            in_page_range(limits::TIMESTEPS, t as f64)?;
        }
        let mut state = self.state.borrow_mut();
        // A fresh run uses the course's network and schedule, whatever was loaded before.
        let mut config = CheckpointConfig::named_denoiser(sde.as_deref().unwrap_or("ddpm")).map_err(js_error)?;
        let iw_k = iw_k.unwrap_or(2);
        in_page_range(limits::IW_K, iw_k as f64)?;
        let loss = EpsLoss::named(objective.as_deref().unwrap_or("simple"), iw_k as usize, true).map_err(js_error)?;
        let t_sampling = match t_sampling.as_deref().unwrap_or("uniform") {
            "uniform" => StepSampling::Uniform,
            "importance" => StepSampling::Importance { extra: 0 },
            "importance+2" => StepSampling::Importance { extra: 2 },
            other => {
                return Err(JsError::new(&format!(
                    "t sampling must be uniform, importance or importance+2, got {other}"
                )));
            }
        };
        if config.score.is_none() {
            let (name, t) = (schedule.as_deref().unwrap_or("linear"), timesteps.unwrap_or(500) as usize);
            config.schedule = ScheduleConfig::named(name, t, None).map_err(js_error)?;
            config = config.for_loss(loss);
        } else if loss != EpsLoss::Simple {
            return Err(JsError::new("the objectives other than L_simple are the DDPM chain's"));
        }
        let train = TrainConfig {
            steps: steps as usize,
            batch: batch as usize,
            lr,
            seed: seed as u64,
            ema_decay: config.default_ema_decay(),
            loss,
            t_sampling,
            ..Default::default()
        };
        config.train = Some(train.clone());
        // Points drawn in the page, or the five states; the NLL the page reports is under a KDE
        // of the same data.
        let points = match points {
            Some(flat) => drawn_points(&flat).map_err(js_error)?.xy,
            None => state.data.xy.clone(),
        };
        let mut trainer = config.denoiser_trainer(&train, points.clone(), &state.device).map_err(js_error)?;
        // The page may not read a tensor in the step: importance sampling's losses wait for it.
        trainer.objective_mut().defer_recording();
        state.trained_on = TrainingData::of(points)?;
        state.trainer = Some(trainer);
        state.schedule = config.schedule.init().map_err(js_error)?;
        state.config = config;
        Ok(())
    }

    /// Runs `k` training steps and resolves to their losses (`Float32Array`). The trainer's
    /// divergence guard checks them: a diverged run is back at its last good weights (which
    /// become the model) and this rejects with what happened ("… diverged at step …").
    #[wasm_bindgen(js_name = trainSteps)]
    pub async fn train_steps(&self, k: u32) -> Result<js_sys::Float32Array, JsError> {
        let losses = {
            let mut state = self.state.borrow_mut();
            let trainer = state.trainer.as_mut().ok_or_else(|| JsError::new("press Train first"))?;
            let losses: Vec<Tensor<1>> = (0..k.max(1)).map(|_| trainer.step()).collect();
            Tensor::cat(losses, 0)
        };
        let losses = read(losses).await?;
        self.record_pending().await?;
        let mut state = self.state.borrow_mut();
        let trainer = state.trainer.as_mut().ok_or_else(|| JsError::new("press Train first"))?;
        let verdict = trainer.check(&losses);
        state.model = Some(state.trainer.as_ref().map(DenoiserTrainer::model).expect("trainer"));
        verdict.map_err(|d| JsError::new(&d.to_string()))?;
        Ok(js_sys::Float32Array::from(losses.as_slice()))
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
        // A file's model is scored against the course's data (the STATES files are all there are).
        state.trained_on = TrainingData::of(state.data.xy.clone())?;
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

    /// The NLL of flat `[n*2]` points under a KDE of the data the last run trained on: the course
    /// grader (all 5000 STATES points), or the drawn points.
    pub fn nll(&self, points: &[f32]) -> Result<f64, JsError> {
        let xy: Vec<[f32; 2]> = points.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
        self.state.borrow().trained_on.kde.nll(&xy).map_err(js_error)
    }
}
