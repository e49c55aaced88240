//! The diffusion playground's core: schedules, models, objectives, samplers and metrics on burn,
//! backend-agnostic (the caller picks the `Device`: CPU `flex`, wgpu/WebGPU, CUDA) and free of
//! I/O, so the native CLI and the browser run the same code.

pub mod chain_batch;
pub mod checkpoint;
pub mod classifier;
pub mod data;
pub mod ema;
pub mod error;
pub mod importance;
pub mod io;
pub mod limits;
pub mod metric;
pub mod model;
pub mod model_file;
pub mod objective;
pub mod rdmc;
pub mod rng;
pub mod schedule;
pub mod sde;
pub mod surrogate;
pub mod train;
pub mod train_unet;
pub mod unet_checkpoint;
pub mod vlb;

#[cfg(test)]
mod test_device;

pub use error::{Error, Result};
