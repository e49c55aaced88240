//! The native wgpu device for tests, initialised once per test process (burn refuses a second
//! initialisation of the same runtime).

use std::sync::OnceLock;

use burn::prelude::*;

/// wgpu on whatever adapter the machine has (Mesa lavapipe in CI: `apt install mesa-vulkan-drivers`).
pub fn wgpu() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            Device::wgpu_options()
                .init()
                .expect("no wgpu adapter: install a Vulkan driver (Debian: mesa-vulkan-drivers)")
        })
        .clone()
}
