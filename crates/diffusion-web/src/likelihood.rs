//! The likelihood of the training data under the page's model: −log p(x) through the
//! probability-flow ODE (the core's `FlowRun`, exact divergence in 2-D), stepped a few RK4 steps
//! at a time so that the worker yields between them.

use burn::prelude::*;
use diffusion::data::states::spread;
use diffusion::limits;
use diffusion::metric::bits_per_dim::nats_to_bits_per_dim;
use diffusion::metric::image_bits::mean_and_error;
use diffusion::sde::likelihood::{Divergence, FlowRun, Grid};
use wasm_bindgen::prelude::*;

use crate::{Playground, in_page_range, js_error, read};

#[wasm_bindgen]
impl Playground {
    /// Starts the ODE from `n` of the training points (spread evenly through them) over `steps`
    /// RK4 steps on the log-SNR grid from the model's t_min to 1; returns the points it scores
    /// (fewer than `n` for a smaller drawing).
    #[wasm_bindgen(js_name = startLikelihood)]
    pub fn start_likelihood(&self, n: u32, steps: u32) -> Result<u32, JsError> {
        in_page_range(limits::SAMPLES, n as f64)?;
        in_page_range(limits::ODE_STEPS, steps as f64)?;
        let mut state = self.state.borrow_mut();
        if state.model.is_none() {
            return Err(JsError::new("train or load a model first"));
        }
        let points = &state.trained_on.points;
        let n = (n as usize).clamp(1, points.len());
        let rows = spread(points, n);
        let x = Tensor::<2>::from_data(TensorData::new(rows, [n, 2]), &state.device);
        let sde = state.config.sde();
        let times = Grid::LogSnr.times(&sde, sde.t_min(), steps.max(1) as usize);
        state.likelihood = Some(FlowRun::new(x, &times, Divergence::Exact, 0));
        Ok(n as u32)
    }

    /// Up to `k` more steps of the ODE; returns the steps taken so far (all of them: done).
    #[wasm_bindgen(js_name = likelihoodSteps)]
    pub fn likelihood_steps(&self, k: u32) -> Result<u32, JsError> {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        let model = state.model.as_ref().ok_or_else(|| JsError::new("train or load a model first"))?;
        let score = state.config.eps_score(model).map_err(js_error)?;
        let run = state.likelihood.as_mut().ok_or_else(|| JsError::new("start the likelihood first"))?;
        for _ in 0..k {
            run.step(&score, &score.sde);
        }
        Ok(run.progress().0 as u32)
    }

    /// The finished run's mean −log p(x) in nats, its standard error, the network passes per
    /// point and the mean in bits per dimension: `Float64Array [nll, error, nfe, bits]`.
    #[wasm_bindgen(js_name = likelihoodResult)]
    pub async fn likelihood_result(&self) -> Result<js_sys::Float64Array, JsError> {
        let (log_p, nfe) = {
            let state = self.state.borrow();
            let run = state.likelihood.as_ref().ok_or_else(|| JsError::new("start the likelihood first"))?;
            if !run.done() {
                return Err(JsError::new("the likelihood ODE has not reached t = 1 yet"));
            }
            (run.flow().log_likelihood(&state.config.sde()), run.flow().nfe)
        };
        let nlls: Vec<f64> = read(log_p).await?.iter().map(|&l| -(l as f64)).collect();
        if nlls.iter().any(|v| !v.is_finite()) {
            return Err(JsError::new("the likelihood is not finite: the model has diverged"));
        }
        let (nll, error) = mean_and_error(&nlls);
        Ok(js_sys::Float64Array::from([nll, error, nfe as f64, nats_to_bits_per_dim(nll, 2)].as_slice()))
    }
}
