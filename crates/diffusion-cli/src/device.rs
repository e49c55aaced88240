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

/// Refuses a run whose estimated peak memory (`bytes`, from the core's model rule) exceeds what the
/// machine has available, before any work starts. Checked on the CPU device only: there the
/// estimate is host memory, read from /proc/meminfo (where that file is missing it says nothing).
pub fn check_memory(device: DeviceArg, bytes: u64, what: &str) -> Result<(), String> {
    if device != DeviceArg::Cpu {
        return Ok(());
    }
    let Some(available) = available_bytes() else { return Ok(()) };
    if bytes > available {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        return Err(format!(
            "{what} needs about {:.1} GiB (estimate) but this machine has {:.1} GiB available: make it smaller",
            gib(bytes),
            gib(available)
        ));
    }
    Ok(())
}

/// MemAvailable from /proc/meminfo, in bytes.
fn available_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
