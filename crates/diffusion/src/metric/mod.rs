//! Sample-quality metrics.

pub mod kde_nll;
pub mod precision;
