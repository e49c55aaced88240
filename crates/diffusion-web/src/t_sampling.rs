//! The page's view of how training draws the chain's step t: importance sampling's losses, read
//! asynchronously after each chunk of steps and recorded (the core defers them), and the
//! histogram of the t drawn so far beside importance sampling's current p_t.

use wasm_bindgen::prelude::*;

use crate::{Playground, read};

impl Playground {
    /// Reads the losses importance sampling left in the last steps and records them in its history,
    /// in the order the steps made them; nothing to do with uniform t. (One read per batch: the
    /// step's batch is an autodiff tensor, its refresh batches are not, so they are not joined.)
    pub(crate) async fn record_pending(&self) -> Result<(), JsError> {
        let pending = {
            let state = self.state.borrow();
            state.trainer.as_ref().map(|t| t.objective().take_pending()).unwrap_or_default()
        };
        for (steps, losses) in pending {
            let values = read(losses).await?;
            if let Some(trainer) = self.state.borrow().trainer.as_ref() {
                trainer.objective().record_losses(&steps, &values);
            }
        }
        Ok(())
    }
}

#[wasm_bindgen]
impl Playground {
    /// The t drawn for training so far and the distribution the next step draws from, in `bins`
    /// equal bins of the chain's steps 1..=T: flat rows (first t, last t, share of the draws, mass
    /// of p_t: importance sampling's, or uniform) as a `Float32Array`; empty without a chain run.
    #[wasm_bindgen(js_name = tHistogram)]
    pub fn t_histogram(&self, bins: u32) -> Result<js_sys::Float32Array, JsError> {
        if !(1..=500).contains(&bins) {
            return Err(JsError::new(&format!("tHistogram wants 1..=500 bins, got {bins}")));
        }
        let state = self.state.borrow();
        let Some(trainer) = state.trainer.as_ref() else { return Ok(js_sys::Float32Array::new_with_length(0)) };
        let counts = trainer.objective().t_counts();
        let steps = counts.len();
        if steps == 0 {
            return Ok(js_sys::Float32Array::new_with_length(0));
        }
        let p = trainer.objective().t_probabilities().unwrap_or_else(|| vec![1.0 / steps as f64; steps]);
        let total = counts.iter().sum::<u64>().max(1) as f64;
        let bins = (bins as usize).min(steps);
        let rows: Vec<f32> = (0..bins)
            .flat_map(|b| {
                let (lo, hi) = (b * steps / bins, (b + 1) * steps / bins);
                let drawn = counts[lo..hi].iter().sum::<u64>() as f64 / total;
                let mass: f64 = p[lo..hi].iter().sum();
                [(lo + 1) as f32, hi as f32, drawn as f32, mass as f32]
            })
            .collect();
        Ok(js_sys::Float32Array::from(rows.as_slice()))
    }
}
