//! `cargo xtask check-cuda`: type-checks the CLI with burn's `cuda` feature on a machine without
//! internet access or a GPU.
//!
//! burn 0.22's CUDA runtime depends on cubecl-llvm, whose build script (tracel-llvm-bundler)
//! downloads a prebuilt LLVM 23.1 from GitHub: impossible offline. The check stands Debian's LLVM
//! 22 in for it (`apt-get install llvm-22-dev libpolly-22-dev libzstd-dev`): a private
//! `XDG_DATA_HOME` under the target directory holds the bundle's "installed" marker and an
//! `llvm-config` that forwards to Debian's, with its absolute `libz3.so` rewritten to `-lz3` (the
//! bundler would turn that path into `-llibz3`). A compile check only: a binary built this way is
//! never shipped or benchmarked (LLVM 22 is not the version cubecl-llvm is tested with).

use std::path::Path;

use crate::{Result, cargo, run, target_dir};

const DEBIAN_LLVM_CONFIG: &str = "/usr/lib/llvm-22/bin/llvm-config";
const BUNDLE: &str = "tracel-llvm-23.1.0-4";

/// What to install when [`available`] is false.
pub const MISSING: &str = "/usr/lib/llvm-22/bin/llvm-config is missing: apt-get install -y \
                           --no-install-recommends llvm-22-dev libpolly-22-dev libzstd-dev";

/// Whether Debian's LLVM 22 is installed.
pub fn available() -> bool {
    Path::new(DEBIAN_LLVM_CONFIG).exists()
}

pub fn check_cuda() -> Result<()> {
    if !available() {
        return Err(MISSING.into());
    }
    let xdg = target_dir().join("tools").join("cuda-check-xdg");
    let bundle = xdg.join("tracel").join(BUNDLE);
    let bin = bundle.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let write = |path: &Path, text: &str| std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()));
    write(&bundle.join(".tracel-llvm-installed"), "")?;
    let wrapper = bin.join("llvm-config");
    write(&wrapper, &format!("#!/bin/sh\n{DEBIAN_LLVM_CONFIG} \"$@\" | sed 's#[^ ]*/libz3\\.so#-lz3#g'\n"))?;
    make_executable(&wrapper)?;
    run(cargo()
        .args(["check", "--release", "--package", "diffusion-cli", "--features", "cuda"])
        .env("XDG_DATA_HOME", &xdg))?;
    eprintln!("xtask: the CLI type-checks with --features cuda (LLVM 22 standing in for tracel's 23.1)");
    Ok(())
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<()> {
    Err("check-cuda needs a Unix shell for its llvm-config wrapper".into())
}
