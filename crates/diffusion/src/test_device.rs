//! The native wgpu device for tests, initialised once per test process (burn refuses a second
//! initialisation of the same runtime).

use std::sync::OnceLock;

use burn::prelude::*;

/// wgpu on whatever adapter the machine has (Mesa lavapipe in CI: `apt install mesa-vulkan-drivers`).
pub fn wgpu() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            match Device::wgpu_options().init() {
                Ok(device) => device,
                // Something in this process (an optimiser record on the default device) brought
                // the runtime up lazily first: that one is the same adapter.
                Err(e) if format!("{e:?}").contains("already initialized") => {
                    Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)
                }
                Err(e) => panic!("no wgpu adapter: install a Vulkan driver (Debian: mesa-vulkan-drivers): {e:?}"),
            }
        })
        .clone()
}
