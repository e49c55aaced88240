//! Any text as a points CSV (`x,y[,label]`).
#![no_main]

use diffusion::data::states::parse_points_csv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = parse_points_csv(text);
    }
});
