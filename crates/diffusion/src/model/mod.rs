//! Networks, one file each.

pub mod cnn;
pub mod fourier;
pub mod mlp;
pub mod unet;
pub mod vae;
