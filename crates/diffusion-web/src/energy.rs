//! The page's energy mode: reverse diffusion Monte Carlo and (tamed) ULA side by side on an energy
//! target, from the same starting points and at the same ∇f_* budget per sample, no training.

use std::cell::RefCell;
use std::rc::Rc;

use burn::prelude::*;
use diffusion::limits;
use diffusion::rdmc::heat_map;
use diffusion::rdmc::langevin::run_chains;
use diffusion::rdmc::sampler::{Rdmc, RdmcConfig};
use diffusion::rdmc::target::Target;
use diffusion::rng::Rng;
use wasm_bindgen::prelude::*;

use crate::{js_error, read};

struct State {
    target: Target,
    rdmc: Rdmc,
    ula: Tensor<2>,
    /// ULA's step 0.1/L, as in `diffusion rdmc-compare`.
    h: f64,
    rng: Rng,
    n: usize,
}

/// One energy run; `Playground.startEnergy` makes it.
#[wasm_bindgen]
pub struct EnergyRun {
    state: Rc<RefCell<State>>,
}

impl EnergyRun {
    /// `budget`: ∇f_* evaluations per sample, or 0 for the target's defaults (`RdmcConfig::for_target`).
    pub fn start(target: &str, n: u32, seed: u32, budget: u32, device: &Device) -> Result<EnergyRun, JsError> {
        crate::in_page_range(limits::PARTICLES, n as f64)?;
        if budget != 0 {
            crate::in_page_range(limits::BUDGET, budget as f64)?;
        }
        let target = Target::named(target).map_err(js_error)?;
        let config = match budget {
            0 => RdmcConfig::for_target(&target),
            budget => RdmcConfig::for_target(&target).with_budget(budget as usize),
        };
        let mut seeds = Rng::new(seed as u64);
        let rdmc = Rdmc::new(config, n as usize, seeds.next_u64(), device).map_err(js_error)?;
        let ula = rdmc.x();
        let h = 0.1 / target.smoothness();
        let state = State { target, rdmc, ula, h, rng: Rng::new(seeds.next_u64()), n: n as usize };
        Ok(EnergyRun { state: Rc::new(RefCell::new(state)) })
    }
}

#[wasm_bindgen]
impl EnergyRun {
    pub fn done(&self) -> bool {
        self.state.borrow().rdmc.done()
    }

    /// The OU time of rdMC's next outer step (T at the start).
    pub fn t(&self) -> f64 {
        self.state.borrow().rdmc.t()
    }

    /// ∇f_* evaluations per sample so far, the same for both samplers.
    #[wasm_bindgen(js_name = gradsPerSample)]
    pub fn grads_per_sample(&self) -> f64 {
        let state = self.state.borrow();
        state.rdmc.grads as f64 / state.n as f64
    }

    /// [x_min, x_max, y_min, y_max] of the target's mass.
    pub fn extent(&self) -> Vec<f64> {
        let (x, y) = self.state.borrow().target.extent();
        vec![x[0], x[1], y[0], y[1]]
    }

    /// exp(−f_*) on a `size` × `size` grid over the extent, scaled to a maximum of 1, rows from
    /// the top.
    pub async fn density(&self, size: u32) -> Result<js_sys::Float32Array, JsError> {
        if !(2..=256).contains(&size) {
            return Err(JsError::new(&format!("density grid size must be in 2..=256, got {size}")));
        }
        let f = {
            let state = self.state.borrow();
            let device = state.rdmc.x().device();
            state.target.energy(heat_map::grid(&state.target, size as usize, &device))
        };
        let density = heat_map::relative_density(&read(f).await?);
        Ok(js_sys::Float32Array::from(density.as_slice()))
    }

    /// One rdMC outer step, then ULA for as many ∇f_* evaluations per sample; resolves to
    /// `{ rdmc, ula, cloud }` (flat points; `cloud`: the inner particles of outer particle 0).
    pub async fn step(&self) -> Result<JsValue, JsError> {
        let (rdmc, ula, cloud) = {
            let mut guard = self.state.borrow_mut();
            let state = &mut *guard;
            let before = state.rdmc.grads;
            let target = state.target.clone();
            state.rdmc.step(&target);
            let steps = (state.rdmc.grads - before) / state.n;
            state.ula = run_chains(&state.target, state.ula.clone(), steps, state.h, false, &mut state.rng);
            (state.rdmc.x(), state.ula.clone(), state.rdmc.inner_cloud(0))
        };
        let object = js_sys::Object::new();
        let set = |key: &str, values: Vec<f32>| {
            js_sys::Reflect::set(&object, &key.into(), &js_sys::Float32Array::from(values.as_slice()))
                .map_err(|_| JsError::new("energy step"))
        };
        set("rdmc", read(rdmc).await?)?;
        set("ula", read(ula).await?)?;
        if let Some(cloud) = cloud {
            set("cloud", read(cloud).await?)?;
        }
        Ok(object.into())
    }
}
