//! `--device cpu|wgpu|cuda` → a burn `Device`.

use burn::prelude::*;
use clap::ValueEnum;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    /// burn's flex CPU backend (all cores).
    Cpu,
    /// wgpu: Vulkan, Metal or DX12 (Mesa lavapipe on a machine without a GPU).
    Wgpu,
    /// CUDA (needs a build with `--features cuda`).
    Cuda,
}

impl DeviceArg {
    pub fn device(self) -> Result<Device, String> {
        match self {
            DeviceArg::Cpu => Ok(Device::flex()),
            DeviceArg::Wgpu => Device::wgpu_options()
                .init()
                .map_err(|e| format!("no wgpu adapter (is a Vulkan driver installed?): {e}")),
            #[cfg(feature = "cuda")]
            DeviceArg::Cuda => Ok(Device::cuda(0)),
            #[cfg(not(feature = "cuda"))]
            DeviceArg::Cuda => Err("this binary was built without CUDA: rebuild with `--features cuda`".into()),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DeviceArg::Cpu => "cpu",
            DeviceArg::Wgpu => "wgpu",
            DeviceArg::Cuda => "cuda",
        }
    }
}
