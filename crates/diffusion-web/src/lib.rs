//! The wasm-bindgen adapter the page's Web Worker drives: bytes and flat arrays in, flat arrays out.
//! No maths here: training, sampling and the grader come from the core crate. Every read of a
//! tensor is `into_data_async().await`, which WebGPU requires.

use std::cell::RefCell;
use std::rc::Rc;

use burn::prelude::*;
use diffusion::checkpoint::{DenoiserConfig, decode_denoiser, encode_denoiser};
use diffusion::data::states::states;
use diffusion::io::{self, NamedTensor};
use diffusion::metric::kde_nll::Kde;
use diffusion::model::mlp::Mlp;
use diffusion::sample::MlpEps;
use diffusion::sample::ancestral::AncestralSampler;
use diffusion::schedule::Schedule;
use diffusion::train::{DdpmTrainer, TrainConfig};
use wasm_bindgen::prelude::*;

struct State {
    device: Device,
    schedule: Schedule,
    config: DenoiserConfig,
    trainer: Option<DdpmTrainer>,
    model: Option<Mlp>,
    sampler: Option<AncestralSampler>,
    kde: Kde,
}

/// One playground per worker: a device, a model being trained or loaded, and a sampler.
#[wasm_bindgen]
pub struct Playground {
    state: Rc<RefCell<State>>,
    device_name: String,
    gpu: bool,
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
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
    let config = DenoiserConfig::default();
    let state = State {
        device,
        schedule: config.schedule.init().map_err(js_error)?,
        config,
        trainer: None,
        model: None,
        sampler: None,
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

async fn read(tensor: Tensor<2>) -> Result<Vec<f32>, JsError> {
    let data = tensor.into_data_async().await.map_err(js_error)?;
    data.try_into_vec::<f32>().map_err(|e| JsError::new(&format!("{e:?}")))
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

    /// Starts a new training run (a fresh network); bad hyper-parameters are an error.
    #[wasm_bindgen(js_name = startTraining)]
    pub fn start_training(&self, steps: u32, batch: u32, lr: f64, seed: u32) -> Result<(), JsError> {
        let mut state = self.state.borrow_mut();
        let train =
            TrainConfig { steps: steps as usize, batch: batch as usize, lr, seed: seed as u64, ..Default::default() };
        // A fresh run uses the course's network and schedule, whatever was loaded before.
        let config = DenoiserConfig { train: Some(train.clone()), ..Default::default() };
        let schedule = config.schedule.init().map_err(js_error)?;
        let trainer =
            DdpmTrainer::new(&config.model, schedule.clone(), train, states().xy, &state.device).map_err(js_error)?;
        state.trainer = Some(trainer);
        state.schedule = schedule;
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
            state.model = Some(state.trainer.as_ref().map(DdpmTrainer::model).expect("trainer"));
            Tensor::cat(losses, 0).unsqueeze::<2>()
        };
        Ok(js_sys::Float32Array::from(read(losses).await?.as_slice()))
    }

    /// Loads a `denoiser.safetensors` written by the CLI (or downloaded from this page).
    #[wasm_bindgen(js_name = loadWeights)]
    pub fn load_weights(&self, bytes: &[u8]) -> Result<(), JsError> {
        let mut state = self.state.borrow_mut();
        // Decoded in full before anything is replaced: a bad file leaves the current model alone.
        let denoiser = decode_denoiser(bytes, &state.device).map_err(js_error)?;
        state.schedule = denoiser.schedule;
        state.config = denoiser.config;
        state.model = Some(denoiser.mlp);
        state.trainer = None;
        state.sampler = None;
        Ok(())
    }

    /// The current weights as safetensors bytes (the CLI's format).
    pub async fn weights(&self) -> Result<js_sys::Uint8Array, JsError> {
        let (parameters, config) = {
            let state = self.state.borrow();
            let model = state.model.as_ref().ok_or_else(|| JsError::new("no model yet"))?;
            (io::parameters(model), state.config.clone())
        };
        let mut tensors = Vec::new();
        for (name, shape, tensor) in parameters {
            let values = read(tensor.unsqueeze::<2>()).await?;
            tensors.push(NamedTensor { name, shape, values });
        }
        let bytes = encode_denoiser(&tensors, &config).map_err(js_error)?;
        Ok(js_sys::Uint8Array::from(bytes.as_slice()))
    }

    /// Starts the reverse process from x_T ~ N(0, I) for `n` points; returns x_T.
    #[wasm_bindgen(js_name = startSampling)]
    pub async fn start_sampling(&self, n: u32, seed: u32) -> Result<js_sys::Float32Array, JsError> {
        let x = {
            let mut state = self.state.borrow_mut();
            if state.model.is_none() {
                return Err(JsError::new("train or load a model first"));
            }
            if !(1..=100_000).contains(&n) {
                return Err(JsError::new(&format!("points must be in 1..=100000, got {n}")));
            }
            let sampler = AncestralSampler::new(n as usize, &state.schedule, seed as u64, &state.device);
            let x = sampler.x();
            state.sampler = Some(sampler);
            x
        };
        Ok(js_sys::Float32Array::from(read(x).await?.as_slice()))
    }

    /// The sampler's current t (T at the start, 0 when done).
    #[wasm_bindgen(js_name = samplingT)]
    pub fn sampling_t(&self) -> u32 {
        self.state.borrow().sampler.as_ref().map_or(0, |s| s.t() as u32)
    }

    /// Advances the reverse process by up to `k` steps and resolves to the current points.
    #[wasm_bindgen(js_name = sampleSteps)]
    pub async fn sample_steps(&self, k: u32) -> Result<js_sys::Float32Array, JsError> {
        let x = {
            let mut guard = self.state.borrow_mut();
            let state = &mut *guard;
            let sampler = state.sampler.as_mut().ok_or_else(|| JsError::new("press Sample first"))?;
            let model = MlpEps { mlp: state.model.as_ref().expect("model"), schedule: &state.schedule };
            for _ in 0..k {
                sampler.step(&model, &state.schedule);
            }
            sampler.x()
        };
        Ok(js_sys::Float32Array::from(read(x).await?.as_slice()))
    }

    /// The course grader's NLL of flat `[n*2]` points (KDE on all 5000 data points).
    pub fn nll(&self, points: &[f32]) -> Result<f64, JsError> {
        let xy: Vec<[f32; 2]> = points.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
        self.state.borrow().kde.nll(&xy).map_err(js_error)
    }
}
