//! A second model for the side-by-side slot — e.g. the shipped flow-matching model beside the DDPM
//! being trained or loaded — sampled from the same noise, so that the two processes' paths can be
//! compared particle by particle.

use diffusion::checkpoint::{CheckpointConfig, Role};
use diffusion::model::mlp::Mlp;
use diffusion::model_file;
use wasm_bindgen::prelude::*;

use crate::{Playground, js_error};

/// The side-by-side slot's own network and its file's config.
pub(crate) struct Partner {
    pub mlp: Mlp,
    pub config: CheckpointConfig,
}

#[wasm_bindgen]
impl Playground {
    /// Loads a `denoiser.safetensors` (any process: the DDPM chain, an SDE, flow matching) as the
    /// side-by-side slot's model; `startSampling(…, slot 1, …, partner = true)` then samples it.
    #[wasm_bindgen(js_name = loadPartner)]
    pub fn load_partner(&self, bytes: &[u8]) -> Result<(), JsError> {
        let mut state = self.state.borrow_mut();
        // A file that fails leaves no partner, not the previous one under the new name.
        state.partner = None;
        state.samplers[1] = None;
        let denoiser = model_file::mlp(bytes, Role::Denoiser, &state.device).map_err(js_error)?;
        state.partner = Some(Partner { mlp: denoiser.mlp, config: denoiser.config });
        Ok(())
    }
}
