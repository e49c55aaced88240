//! Sample-quality metrics.

pub mod bits_per_dim;
pub mod fid;
pub mod image_bits;
pub mod inception_score;
pub mod kde_nll;
pub mod mmd;
pub mod on_target;
pub mod precision;
pub mod prediction_map;
pub mod sliced_wasserstein;
