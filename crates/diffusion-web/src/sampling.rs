//! The page's sampling: two sampler slots stepped a few steps at a time, guided or not, and the
//! score field at the sampler's time.

use burn::prelude::*;
use diffusion::data::states::requested_labels;
use diffusion::limits;
use diffusion::metric::on_target::{agreement, nearest_labels};
use diffusion::sde::data_marginal::data_marginal_grid;
use diffusion::sde::sampler::{Method, SdeSampler, grid};
use diffusion::sde::surrogate_start::planned_nfe;
use diffusion::surrogate::{self, t_mid_at};
use diffusion::vlb::mean_log_variance;
use wasm_bindgen::prelude::*;

use crate::{Guidance, Playground, js_error, read, slot_index};

#[wasm_bindgen]
impl Playground {
    /// Starts the reverse process from x_T ~ N(0, I) for `n` points in sampler `slot` (0, or 1 for
    /// the side-by-side run; the same seed gives both the same noise) and returns x_T. `label`: −1
    /// unguided, 0..4 guided towards that state, 5 all states in equal blocks; `scale` is the
    /// guidance scale s; `rule` is any sampler ("ancestral", "ddim", "em", "rd", "pc", "ald",
    /// "ode-heun", "ode-rk4", "dpmpp2m", "edm-heun") over `steps` on the model's own process (a
    /// DDPM network's chain: K of its T steps), guided or not. `variance`: the ancestral step's
    /// "beta", "beta-tilde" or "learned" (default: the model's own). `start`: 0 (or none) starts
    /// from the prior; K > 0 from a K-component Gaussian mixture fitted to the training points,
    /// noised to `t_mid` ∈ [0, 1] of the way to the prior (seed 003's surrogate start; on the chain
    /// the nearest step), with the evaluations above it saved. `partner`: slot 1 samples the model
    /// `loadPartner` loaded (its own process) instead of the main one.
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
        variance: Option<String>,
        start: Option<u32>,
        t_mid: Option<f64>,
        partner: Option<bool>,
    ) -> Result<js_sys::Float32Array, JsError> {
        let slot = slot_index(slot)?;
        let uses_partner = slot == 1 && partner.unwrap_or(false);
        let (x, draws) = {
            let mut state = self.state.borrow_mut();
            if state.model.is_none() {
                return Err(JsError::new("train or load a model first"));
            }
            crate::in_page_range(limits::SAMPLES, n as f64)?;
            crate::in_page_range(limits::SAMPLER_STEPS, steps as f64)?;
            if rule == "ode-rk45" {
                return Err(JsError::new(
                    "adaptive RK45 reads its error estimate synchronously: it runs in the CLI only",
                ));
            }
            let config = match (uses_partner, &state.partner) {
                (false, _) => state.config.clone(),
                (true, Some(partner)) => partner.config.clone(),
                (true, None) => return Err(JsError::new("load the side-by-side model first")),
            };
            let method = Method::parse(&rule, 0.16, 0.0, "none").map_err(js_error)?;
            let variance = variance.as_deref().filter(|_| matches!(method, Method::Ancestral { .. }));
            let method = method.with_variance(config.sampling_variance(variance, method).map_err(js_error)?);
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
                        crate::in_page_range(limits::GUIDANCE, scale)?;
                        let labels = requested_labels((label < 5).then_some(label as u8), n as usize);
                        Some(Guidance { labels, scale })
                    }
                    other => {
                        return Err(JsError::new(&format!("label must be -1 (none), 0..4 or 5 (all), got {other}")));
                    }
                };
            }
            let (sde, steps, n, seed) = (config.sde(), steps as usize, n as usize, seed as u64);
            let (sampler, draws) = match start.unwrap_or(0) {
                0 => {
                    state.full_nfe[slot] = planned_nfe(method, &grid(method, &sde, steps));
                    (SdeSampler::new(method, sde, steps, n, seed, &state.device).map_err(js_error)?, None)
                }
                components => {
                    let fraction = t_mid.unwrap_or(0.5);
                    crate::in_page_range(limits::T_START, fraction)?;
                    let t_mid = t_mid_at(&sde, fraction).map_err(js_error)?;
                    let surrogate = state.trained_on.surrogate(components as usize)?;
                    let started = surrogate::start(&surrogate, method, sde, steps, n, t_mid, seed, &state.device)
                        .map_err(js_error)?;
                    state.full_nfe[slot] = started.full_nfe;
                    (started.sampler, Some(started.draws))
                }
            };
            let x = sampler.x();
            state.samplers[slot] = Some(sampler);
            state.uses_partner[slot] = uses_partner;
            (x, draws)
        };
        let draws = match draws {
            Some(draws) => Some(read(draws).await?),
            None => None,
        };
        self.state.borrow_mut().surrogate_draws = draws;
        Ok(js_sys::Float32Array::from(read(x).await?.as_slice()))
    }

    /// A learned variance's profile over the chain: rows (t, β_t, β̃_t, Σ_θ(t)) for 50 steps t from
    /// 2 to T, Σ_θ the exp of the mean log Σ_θ over x_t ~ q(x_t | x_0) of 500 data points
    /// (`Float32Array`, 4 per row); empty for a model without one.
    #[wasm_bindgen(js_name = varianceProfile)]
    pub async fn variance_profile(&self) -> Result<js_sys::Float32Array, JsError> {
        let (log_variance, table) = {
            let state = self.state.borrow();
            let model = state.model.as_ref().ok_or_else(|| JsError::new("train or load a model first"))?;
            let score = state.config.eps_score(model).map_err(js_error)?;
            let schedule = &state.schedule;
            let big_t = schedule.steps;
            let mut steps: Vec<usize> = (0..50).map(|i| 2 + (big_t - 2) * i / 49).collect();
            steps.dedup();
            let rows = state.data.spread(500);
            let x_0 = Tensor::<2>::from_data(TensorData::new(rows, [500, 2]), &state.device);
            let table: Vec<[f32; 3]> =
                steps.iter().map(|&t| [t as f32, schedule.beta[t] as f32, schedule.beta_tilde(t) as f32]).collect();
            (mean_log_variance(&score, schedule, x_0, &steps, 7), table)
        };
        let Some(log_variance) = log_variance else { return Ok(js_sys::Float32Array::new_with_length(0)) };
        let sigma = read(log_variance.exp()).await?;
        let rows: Vec<f32> = table.iter().zip(sigma).flat_map(|(row, s)| [row[0], row[1], row[2], s]).collect();
        Ok(js_sys::Float32Array::from(rows.as_slice()))
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

    /// The state requested for each sample of the guided run (empty when unguided), for colouring.
    #[wasm_bindgen(js_name = requestedLabels)]
    pub fn requested_labels(&self) -> js_sys::Uint8Array {
        let state = self.state.borrow();
        let labels = state.guidance.as_ref().map(|g| g.labels.as_slice()).unwrap_or_default();
        js_sys::Uint8Array::from(labels)
    }

    /// The fraction of the guided run's points (flat `[n*2]`) whose nearest data point is of the
    /// requested state; `undefined` when unguided.
    #[wasm_bindgen(js_name = onTarget)]
    pub fn on_target(&self, points: &[f32]) -> Option<f64> {
        let state = self.state.borrow();
        let guidance = state.guidance.as_ref()?;
        let xy: Vec<[f32; 2]> = points.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
        let nearest = nearest_labels(&state.data.xy, state.data.labels.as_deref().unwrap_or_default(), &xy);
        Some(agreement(&nearest, &guidance.labels))
    }

    /// The last surrogate start's own draws x̃₀ (flat `[n*2]`; empty after a start from the prior).
    #[wasm_bindgen(js_name = surrogateDraws)]
    pub fn surrogate_draws(&self) -> js_sys::Float32Array {
        js_sys::Float32Array::from(self.state.borrow().surrogate_draws.as_deref().unwrap_or_default())
    }

    /// The evaluations the slot's sampler's whole grid takes (undefined for RK45 or before a start).
    #[wasm_bindgen(js_name = fullNfe)]
    pub fn full_nfe(&self, slot: Option<u32>) -> Result<Option<u32>, JsError> {
        Ok(self.state.borrow().full_nfe[slot_index(slot)?].map(|nfe| nfe as u32))
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
            let (mlp, config) = match (state.uses_partner[slot], &state.partner) {
                (true, Some(partner)) => (&partner.mlp, &partner.config),
                _ => (state.model.as_ref().expect("model"), &state.config),
            };
            let model = config.eps_score(mlp).map_err(js_error)?;
            match (&state.guidance, &state.classifier.model, slot) {
                (Some(guidance), Some(classifier), 0) => {
                    let (labels, scale) = (&guidance.labels, guidance.scale);
                    let guided =
                        state.classifier.config.guide(classifier, &model, model.sde, labels, scale, &state.device);
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

    /// The data's forward marginal p_t (its 1000 evenly spread points, or a drawing) on a
    /// `size` × `size` grid over [−2.5, 2.5]² at t ∈ [0, 1] of the model's process, rows from the
    /// top (`sde::data_marginal`): [size²].
    #[wasm_bindgen(js_name = marginalDensity)]
    pub fn marginal_density(&self, t: f64, size: u32) -> Result<js_sys::Float32Array, JsError> {
        if !(2..=128).contains(&size) || !(0.0..=1.0).contains(&t) {
            return Err(JsError::new(&format!(
                "marginalDensity wants t in [0, 1] and size in 2..=128, got {t}, {size}"
            )));
        }
        let state = self.state.borrow();
        let sde = state.config.sde();
        let trained_on = &state.trained_on.points;
        let stride = trained_on.len().div_ceil(1000).max(1);
        let points: Vec<[f32; 2]> = trained_on.iter().step_by(stride).copied().collect();
        let grid = data_marginal_grid(&sde, t.clamp(sde.t_min(), sde.t_max()), &points, (-2.5, 2.5), size as usize);
        Ok(js_sys::Float32Array::from(grid.as_slice()))
    }
}
