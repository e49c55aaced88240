//! The page's MNIST half: a UNet trained by the native CLI, loaded from its file, sampled a grid at a
//! time with any SDE sampler and classifier-free guidance, step by step so the page can animate the
//! denoising; a surrogate start (seed 003, Algorithm 4) from the conv VAE's digits noised to t_mid;
//! inpainting of a digit whose erased pixels the model fills in; and the CNN judge that names each
//! digit.

use std::cell::RefCell;
use std::rc::Rc;

use burn::prelude::*;
use burn::tensor::activation::softmax;
use diffusion::data::mnist::{PIXELS, to_model};
use diffusion::io::Role;
use diffusion::limits;
use diffusion::model::cnn::Cnn;
use diffusion::model::unet::UNet;
use diffusion::model_file;
use diffusion::rng::Rng;
use diffusion::sde::inpaint::{Known, inpaint_step};
use diffusion::sde::sampler::{Method, SdeSampler, grid};
use diffusion::sde::surrogate_start::planned_nfe;
use diffusion::surrogate::{Surrogate, start_digits, t_mid_at};
use diffusion::unet_checkpoint::UNetFileConfig;
use wasm_bindgen::prelude::*;

use crate::{js_error, read};

struct Run {
    sampler: SdeSampler,
    labels: Vec<i64>,
    guidance: f64,
    known: Option<Known>,
    rng: Rng,
    /// The evaluations the sampler's whole grid takes from t_max (`None`: RK45).
    full_nfe: Option<usize>,
    /// A surrogate start's own digits x̃₀, before they were noised to t_mid.
    draws: Option<Tensor<2>>,
}

struct State {
    device: Device,
    unet: UNet,
    file: UNetFileConfig,
    judge: Option<Cnn>,
    surrogate: Option<Surrogate>,
    run: Option<Run>,
}

/// A loaded MNIST model; `Playground.loadMnist` makes it.
#[wasm_bindgen]
pub struct MnistModel {
    state: Rc<RefCell<State>>,
}

impl MnistModel {
    pub fn load(bytes: &[u8], device: &Device) -> Result<MnistModel, JsError> {
        let (unet, file) = model_file::unet(bytes, device).map_err(js_error)?;
        if file.side != diffusion::data::mnist::SIDE {
            return Err(JsError::new(&format!(
                "this UNet models {0}×{0} digits (a DDPM-14 surrogate); the page draws MNIST's 28×28",
                file.side
            )));
        }
        let state = State { device: device.clone(), unet, file, judge: None, surrogate: None, run: None };
        Ok(MnistModel { state: Rc::new(RefCell::new(state)) })
    }
}

/// Labels for `n` images: `label` −1 = the digits 0..9 in turn, 10 = unconditional, else that digit.
fn labels_for(label: i32, n: usize) -> Result<Vec<i64>, JsError> {
    match label {
        -1 => Ok(diffusion::data::label_cycle(10, n).into_iter().map(|l| l as i64).collect()),
        0..=10 => Ok(vec![label as i64; n]),
        _ => Err(JsError::new(&format!("digit must be −1 (all), 0..9 or 10 (none), got {label}"))),
    }
}

#[wasm_bindgen]
impl MnistModel {
    /// Parameters, steps of training behind the weights and the SDE, for the page to show.
    pub fn describe(&self) -> String {
        let state = self.state.borrow();
        format!(
            "UNet {:?}, {} parameters, {} training steps, {:?}",
            state.file.unet.channels,
            state.unet.num_params(),
            state.file.steps_done,
            state.file.score.sde
        )
    }

    /// Loads the CNN that names the digits (web/models/mnist-classifier.safetensors).
    #[wasm_bindgen(js_name = loadJudge)]
    pub fn load_judge(&self, bytes: &[u8]) -> Result<(), JsError> {
        let mut state = self.state.borrow_mut();
        let (cnn, _) = model_file::cnn(bytes, &state.device).map_err(js_error)?;
        state.judge = Some(cnn);
        Ok(())
    }

    /// Loads the surrogate a start can begin from (`diffusion train mnist-surrogate`;
    /// web/models/mnist-vae.safetensors is shipped).
    #[wasm_bindgen(js_name = loadSurrogate)]
    pub fn load_surrogate(&self, bytes: &[u8]) -> Result<(), JsError> {
        let mut state = self.state.borrow_mut();
        let (surrogate, _) = model_file::surrogate(bytes, Role::MnistSurrogate, &state.device).map_err(js_error)?;
        if surrogate.nfe() > 0 {
            // A DDPM-14's draws are a whole sampler run, made in one call: the page's start draws
            // one-shot digits only, so the tab never waits on a run it cannot show.
            return Err(JsError::new("the page starts from a one-shot surrogate (the conv VAE), not a DDPM-14"));
        }
        state.surrogate = Some(surrogate);
        Ok(())
    }

    #[wasm_bindgen(js_name = hasSurrogate)]
    pub fn has_surrogate(&self) -> bool {
        self.state.borrow().surrogate.is_some()
    }

    /// Starts `n` images of `label` (see `labels_for`) with sampler `sampler` (em, pc, ode-rk4,
    /// ddim, dpmpp2m, ...) in `steps` steps, guidance weight `guidance`.
    pub fn start(
        &self,
        n: u32,
        label: i32,
        sampler: String,
        steps: u32,
        guidance: f64,
        seed: u32,
    ) -> Result<(), JsError> {
        self.start_with(n, label, &sampler, steps, guidance, seed, None, None)
    }

    /// A surrogate start: the surrogate's digits of the same labels (any digit for
    /// unconditional), noised by the SDE's kernel to t_mid at `fraction` ∈ [0, 1] of the way to
    /// the prior (`surrogate::t_mid_at`), then denoised by the sampler over its grid's times below.
    #[wasm_bindgen(js_name = startFromSurrogate)]
    #[allow(clippy::too_many_arguments)]
    pub fn start_from_surrogate(
        &self,
        n: u32,
        label: i32,
        sampler: String,
        steps: u32,
        guidance: f64,
        seed: u32,
        fraction: f64,
    ) -> Result<(), JsError> {
        self.start_with(n, label, &sampler, steps, guidance, seed, None, Some(fraction))
    }

    /// Inpainting: `image` (784 bytes, 0 = background) with `mask` (784 bytes, 1 = keep); `n`
    /// completions of the erased pixels.
    #[wasm_bindgen(js_name = startInpaint)]
    #[allow(clippy::too_many_arguments)]
    pub fn start_inpaint(
        &self,
        image: &[u8],
        mask: &[u8],
        n: u32,
        label: i32,
        sampler: String,
        steps: u32,
        guidance: f64,
        seed: u32,
    ) -> Result<(), JsError> {
        if image.len() != PIXELS || mask.len() != PIXELS {
            return Err(JsError::new("inpainting needs a 28×28 image and a 28×28 mask"));
        }
        let device = self.state.borrow().device.clone();
        let rows = n as usize;
        let y: Vec<f32> = image.iter().map(|&b| to_model(b)).collect::<Vec<_>>().repeat(rows);
        let keep: Vec<f32> = mask.iter().map(|&m| if m > 0 { 1.0 } else { 0.0 }).collect::<Vec<_>>().repeat(rows);
        let known = Known {
            y: Tensor::from_data(TensorData::new(y, [rows, PIXELS]), &device),
            mask: Tensor::from_data(TensorData::new(keep, [rows, PIXELS]), &device),
        };
        self.start_with(n, label, &sampler, steps, guidance, seed, Some(known), None)
    }

    #[allow(clippy::too_many_arguments)]
    fn start_with(
        &self,
        n: u32,
        label: i32,
        sampler: &str,
        steps: u32,
        guidance: f64,
        seed: u32,
        known: Option<Known>,
        start_fraction: Option<f64>,
    ) -> Result<(), JsError> {
        crate::in_page_range(limits::IMAGES, n as f64)?;
        crate::in_page_range(limits::SAMPLER_STEPS, steps as f64)?;
        crate::in_page_range(limits::GUIDANCE, guidance)?;
        let method =
            Method::named(sampler, 0.16).ok_or_else(|| JsError::new(&format!("unknown sampler `{sampler}`")))?;
        if matches!(method, Method::OdeRk45 { .. }) {
            return Err(JsError::new("RK45 reads its error back synchronously: not in the browser"));
        }
        let mut state = self.state.borrow_mut();
        let labels = labels_for(label, n as usize)?;
        let (sde, steps) = (state.file.score.sde, steps as usize);
        let mut seeds = Rng::new(seed as u64);
        let (sampler, draws, full_nfe) = match start_fraction {
            None => {
                let sampler =
                    SdeSampler::with_dim(method, sde, steps, n as usize, PIXELS, seeds.next_u64(), &state.device)
                        .map_err(js_error)?;
                (sampler, None, planned_nfe(method, &grid(method, &sde, steps)))
            }
            Some(fraction) => {
                let surrogate = state.surrogate.as_ref().ok_or_else(|| JsError::new("load the surrogate first"))?;
                let t_mid = t_mid_at(&sde, fraction).map_err(js_error)?;
                let started =
                    start_digits(surrogate, method, sde, steps, &labels, t_mid, seeds.next_u64(), &state.device)
                        .map_err(js_error)?;
                (started.sampler, Some(started.draws), started.full_nfe)
            }
        };
        state.run = Some(Run { sampler, labels, guidance, known, rng: Rng::new(seeds.next_u64()), full_nfe, draws });
        Ok(())
    }

    /// A surrogate start's own digits x̃₀ (model scale, flat [n · 784]), before noising.
    #[wasm_bindgen(js_name = surrogateDraws)]
    pub async fn surrogate_draws(&self) -> Result<js_sys::Float32Array, JsError> {
        let draws = self.state.borrow().run.as_ref().and_then(|r| r.draws.clone());
        let draws = draws.ok_or_else(|| JsError::new("this run did not start from a surrogate"))?;
        Ok(js_sys::Float32Array::from(read(draws).await?.as_slice()))
    }

    /// The evaluations the run's whole grid would take from t_max (undefined for RK45): a
    /// surrogate start's saving is this less `nfe()`.
    #[wasm_bindgen(js_name = fullNfe)]
    pub fn full_nfe(&self) -> Option<u32> {
        self.state.borrow().run.as_ref().and_then(|r| r.full_nfe).map(|n| n as u32)
    }

    /// Advances `k` steps and resolves to the images, model scale [−1, 1], flat [n · 784].
    pub async fn step(&self, k: u32) -> Result<js_sys::Float32Array, JsError> {
        let x = {
            let mut guard = self.state.borrow_mut();
            let state = &mut *guard;
            let run = state.run.as_mut().ok_or_else(|| JsError::new("start sampling first"))?;
            let model =
                state.file.score_model(&state.unet, run.labels.clone(), run.guidance).map_err(js_error)?.clipped();
            for _ in 0..k {
                if run.sampler.done() {
                    break;
                }
                match &run.known {
                    Some(known) => inpaint_step(&mut run.sampler, &model, known, &state.file.score.sde, &mut run.rng),
                    None => run.sampler.step(&model),
                }
            }
            run.sampler.x()
        };
        Ok(js_sys::Float32Array::from(read(x).await?.as_slice()))
    }

    pub fn done(&self) -> bool {
        self.state.borrow().run.as_ref().is_none_or(|r| r.sampler.done())
    }

    /// The sampler's current time t ∈ [t_min, 1].
    pub fn t(&self) -> f64 {
        self.state.borrow().run.as_ref().map_or(1.0, |r| r.sampler.t())
    }

    pub fn nfe(&self) -> u32 {
        self.state.borrow().run.as_ref().map_or(0, |r| r.sampler.nfe() as u32)
    }

    /// The judge's class probabilities of images given in model scale, flat [n · 784] → [n · 10].
    pub async fn classify(&self, images: &[f32]) -> Result<js_sys::Float32Array, JsError> {
        let probabilities = {
            let state = self.state.borrow();
            let judge = state.judge.as_ref().ok_or_else(|| JsError::new("load the classifier first"))?;
            let n = images.len() / PIXELS;
            if n == 0 || n * PIXELS != images.len() {
                return Err(JsError::new("classify wants whole 28×28 images"));
            }
            let x = Tensor::<2>::from_data(TensorData::new(images.to_vec(), [n, PIXELS]), &state.device);
            softmax(judge.forward(x.clamp(-1.0, 1.0)), 1)
        };
        Ok(js_sys::Float32Array::from(read(probabilities).await?.as_slice()))
    }
}
