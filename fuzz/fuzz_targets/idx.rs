//! Any bytes as an MNIST IDX image file and as a label file (raw or gzipped), alone and paired.
#![no_main]

use diffusion::data::mnist::{Mnist, read_idx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = read_idx(bytes, 3, "images");
    let _ = read_idx(bytes, 1, "labels");
    let split = bytes.first().map_or(0, |&b| b as usize).min(bytes.len());
    let _ = Mnist::from_idx(&bytes[..split], &bytes[split..]);
});
