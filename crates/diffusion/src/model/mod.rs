//! Networks, one file each.

pub mod mlp;
