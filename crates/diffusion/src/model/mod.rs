//! Networks, one file each.

pub mod cnn;
pub mod conv_vae;
pub mod fourier;
pub mod mlp;
pub mod unet;
pub mod unet_block;
mod unet_cost;
pub mod vae;
