//! Networks, one file each.

pub mod fourier;
pub mod mlp;
