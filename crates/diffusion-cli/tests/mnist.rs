//! The MNIST commands on the real IDX files (`cargo xtask fetch-data mnist`; `cargo xtask test`
//! fetches them and sets MNIST_DIR): train (and resume) a tiny UNet, sample it into .npy files, train
//! a classifier briefly, evaluate, compare, score bits/dim, and refuse bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{s, scratch, text};

fn mnist_dir() -> PathBuf {
    let dir = std::env::var_os("MNIST_DIR").map(PathBuf::from).unwrap_or_else(diffusion::data::mnist::default_dir);
    assert!(
        dir.join("t10k-images-idx3-ubyte").exists(),
        "no MNIST in {}: run `cargo xtask fetch-data mnist`",
        dir.display()
    );
    dir
}

fn diffusion(args: &[&str]) -> Output {
    let data = mnist_dir();
    common::run(args, &[("DIFFUSION_DATA", data.parent().unwrap())])
}

fn ok(args: &[&str]) -> String {
    let out = diffusion(args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    text(&out)
}

fn fails(args: &[&str], needle: &str) {
    let out = diffusion(args);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(text(&out).contains(needle), "{args:?}: `{}` lacks `{needle}`", text(&out));
}

/// A run killed (SIGKILL) halfway through writing its second checkpoint leaves the first one whole:
/// `--resume` from it ends with the same bytes as a run that was never interrupted.
#[test]
fn a_run_killed_mid_checkpoint_resumes_bit_for_bit() {
    use std::io::BufRead;
    let dir = scratch("killed");
    let tiny = ["--channels", "8,16", "--batch", "8", "--checkpoint-every", "2", "--grid-every", "0", "--steps", "6"];
    let (whole, killed) = (dir.join("whole"), dir.join("killed"));
    ok(&[&["train", "mnist", "--out", s(&whole)], &tiny[..]].concat());

    // The second write of optim.bpk (the step-4 checkpoint) stops halfway; then the process dies.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_diffusion"))
        .args([&["train", "mnist", "--out", s(&killed)], &tiny[..]].concat())
        .env("DIFFUSION_DATA", mnist_dir().parent().unwrap())
        .env("DIFFUSION_STALL_WRITE", "optim.bpk:2")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        log += &line;
        if line.starts_with("stalled writing") {
            break;
        }
    }
    assert!(log.contains("stalled writing"), "the write never stalled: {log}");
    child.kill().unwrap(); // SIGKILL on unix
    child.wait().unwrap();
    let current = std::fs::read_to_string(killed.join("checkpoint/CURRENT")).unwrap();
    assert!(current.starts_with("step-00000002."), "CURRENT moved past the killed write: {current}");
    let half = std::fs::read_dir(killed.join("checkpoint"))
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("step-00000004."));
    assert!(half, "the half-written step-4 snapshot should be on disk beside the good one");

    ok(&[&["train", "mnist", "--out", s(&killed), "--resume", s(&killed)], &tiny[..]].concat());
    let read = |run: &Path, file: &str| std::fs::read(run.join(file)).unwrap();
    assert!(read(&whole, "unet.safetensors") == read(&killed, "unet.safetensors"), "resumed weights differ");
    assert_eq!(read(&whole, "loss.csv"), read(&killed, "loss.csv"));
    let leftovers: Vec<String> = std::fs::read_dir(killed.join("checkpoint"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step-"))
        .collect();
    assert_eq!(leftovers.len(), 1, "older and half-written snapshots are removed: {leftovers:?}");
}

/// DDPM-14: `train mnist-surrogate --kind ddpm14` trains the UNet on 14×14 digits (resumable),
/// writes it as a surrogate whose draws cost 20 evaluations at 14², and its digits start the
/// shipped 28×28 UNet part-way; the 14×14 UNet samples 28×28 digits (doubled) by itself, and a
/// start or a likelihood that needs 28×28 refuses it by name.
#[test]
fn a_ddpm14_surrogate_starts_the_full_unet() {
    let dir = scratch("ddpm14");
    let run = dir.join("run");
    let tiny = ["--kind", "ddpm14", "--channels", "8,16", "--batch", "8", "--out", s(&run)];
    let log = ok(&[&["train", "mnist-surrogate", "--steps", "2"], &tiny[..]].concat());
    assert!(log.contains("14×14 digits") && log.contains("20 evaluations at 14×14"), "{log}");
    ok(&[&["train", "mnist-surrogate", "--steps", "3", "--resume"], &tiny[..]].concat());
    assert_eq!(std::fs::read_to_string(run.join("loss.csv")).unwrap().lines().count(), 4);
    assert!(run.join("grid.png").exists() && run.join("unet-000003.safetensors").exists());
    let surrogate = run.join("surrogate.safetensors");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/models/mnist-vp.safetensors");
    let samples = dir.join("started");
    let base = ["sample", "mnist", "--n", "10", "--steps", "4", "--out", s(&samples)];
    let log = ok(&[&base[..], &["--weights", s(&shipped), "--surrogate", s(&surrogate), "--t-start", "0.5"]].concat());
    assert!(log.contains("after the surrogate's 20 at its own size"), "{log}");
    let npy = |dir: &Path| std::fs::read(dir.join("samples.npy")).unwrap();
    let header = |bytes: &[u8]| 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let started = npy(&samples);
    assert_eq!(started.len(), header(&started) + 10 * 784);
    let small = run.join("unet.safetensors");
    ok(&[&base[..], &["--weights", s(&small)]].concat());
    let alone = npy(&samples);
    assert_eq!(alone.len(), header(&alone) + 10 * 784, "a 14×14 model's samples are doubled to 28×28");
    fails(
        &[&base[..], &["--weights", s(&small), "--surrogate", s(&surrogate), "--t-start", "0.5"]].concat(),
        "not a 14×14 one",
    );
    fails(&["likelihood-mnist", "--weights", s(&small), "--n", "2", "--steps", "2"], "no density of MNIST's 28×28");
}

#[test]
fn train_resume_sample_evaluate() {
    let dir = scratch("pipeline");
    let run = dir.join("run");
    let tiny = ["--channels", "8,16", "--batch", "8", "--checkpoint-every", "2", "--grid-every", "3"];
    ok(&[&["train", "mnist", "--out", s(&run), "--steps", "3"], &tiny[..]].concat());
    let current = std::fs::read_to_string(run.join("checkpoint/CURRENT")).unwrap();
    let snapshot = format!("checkpoint/{}", current.trim());
    for file in ["unet.safetensors", "loss.csv", "loss.png", "grid-000003.png", "checkpoint/CURRENT"]
        .into_iter()
        .map(String::from)
        .chain(["optim.bpk", "state.json"].map(|f| format!("{snapshot}/{f}")))
    {
        assert!(run.join(&file).metadata().map(|m| m.len() > 0).unwrap_or(false), "missing {file}");
    }
    assert!(current.starts_with("step-00000003."), "{current}");
    // --resume continues to the new total and keeps the earlier losses.
    ok(&[&["train", "mnist", "--out", s(&run), "--resume", s(&run), "--steps", "5"], &tiny[..]].concat());
    let losses = std::fs::read_to_string(run.join("loss.csv")).unwrap();
    assert_eq!(losses.lines().count(), 6, "{losses}");

    let weights = run.join("unet.safetensors");
    let samples = dir.join("samples");
    let sample = |out: &Path, extra: &[&str]| {
        ok(&[&["sample", "mnist", "--weights", s(&weights), "--n", "20", "--steps", "3", "--out", s(out)], extra]
            .concat())
    };
    let log = sample(&samples, &["--sampler", "ddim", "--label", "all", "--guidance", "2"]);
    // Not a terminal: the progress bar still leaves its final state as a line.
    assert!(log.contains("20/20 images"), "{log}");
    let npy = std::fs::read(samples.join("samples.npy")).unwrap();
    assert!(npy.starts_with(b"\x93NUMPY\x01\x00"));
    let header_len = u16::from_le_bytes([npy[8], npy[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0, "the data starts 64-byte aligned");
    assert_eq!(npy.len(), 10 + header_len + 20 * 784);
    // Read back as NumPy would: uint8 (20, 28, 28) and int64 labels.
    let images = npyz::NpyFile::new(&npy[..]).unwrap();
    assert_eq!((images.shape(), images.dtype().descr()), (&[20u64, 28, 28][..], "'|u1'".to_string()));
    let labels = std::fs::read(samples.join("labels.npy")).unwrap();
    let labels = npyz::NpyFile::new(&labels[..]).unwrap();
    assert_eq!((labels.shape(), labels.dtype().descr()), (&[20u64][..], "'<i8'".to_string()));
    assert_eq!(labels.into_vec::<i64>().unwrap(), (0..20).map(|i| i / 2).collect::<Vec<i64>>());
    assert!(samples.join("grid.png").exists());
    sample(&dir.join("pc"), &["--sampler", "pc", "--label", "7", "--guidance", "0"]);
    // rdMC with a budget of 100 evaluations per sample: 2 inner particles per outer one.
    ok(&[
        "sample",
        "mnist",
        "--weights",
        s(&weights),
        "--n",
        "4",
        "--steps",
        "100",
        "--sampler",
        "rdmc",
        "--out",
        s(&dir.join("rdmc")),
    ]);
    assert!(dir.join("rdmc/samples.npy").exists());

    // A classifier trained for a few steps, then the metrics.
    let classifier = dir.join("classifier");
    ok(&["train", "mnist-classifier", "--out", s(&classifier), "--epochs", "0.02", "--batch", "64"]);
    let cnn = classifier.join("classifier.safetensors");
    let eval = ok(&["eval", "mnist", "--samples", s(&samples), "--classifier", s(&cnn)]);
    assert!(eval.contains("accuracy") && eval.contains("classifier-FID"), "{eval}");
    // 20 samples of --label all: two of each digit, so every digit has its own accuracy.
    let per_digit = eval.lines().find(|l| l.starts_with("accuracy per requested digit")).unwrap_or_default();
    assert_eq!(per_digit.matches(": ").count(), 10, "{eval}");
    let table = dir.join("compare");
    ok(&[
        "compare",
        "mnist",
        "--weights",
        s(&weights),
        "--classifier",
        s(&cnn),
        "--samplers",
        "ddim,em,rdmc",
        "--nfe",
        "2",
        "--n",
        "20",
        "--out",
        s(&table),
    ]);
    let md = std::fs::read_to_string(table.join("compare.md")).unwrap();
    let rows = ["| ddim", "| em", "| rdmc"];
    assert_eq!(md.lines().filter(|l| rows.iter().any(|r| l.starts_with(r))).count(), 3, "{md}");
    let bits = ok(&["likelihood-mnist", "--weights", s(&weights), "--n", "2", "--steps", "2"]);
    let value: f64 = bits.split_whitespace().nth(2).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    assert!(value.is_finite() && value > 0.0, "{bits}");
    assert!(bits.contains("from t = 1e-3"), "{bits}");

    // Fine-tuning for the likelihood: from these weights, down to t = 10⁻⁵ on dequantised pixels;
    // the file remembers its t_min and the likelihood starts there.
    let tuned = dir.join("tuned");
    let likelihood_run =
        ["--t-min", "1e-5", "--t-sampling", "mixed", "--dequantise", "--batch", "8", "--grid-every", "0"];
    ok(&[&["train", "mnist", "--init", s(&weights), "--out", s(&tuned), "--steps", "2"], &likelihood_run[..]].concat());
    let bits = ok(&["likelihood-mnist", "--weights", s(&tuned.join("unet.safetensors")), "--n", "2", "--steps", "2"]);
    assert!(bits.contains("from t = 1e-5"), "{bits}");

    // A log-SNR time input from scratch; t_min chosen on training images, then the test scored there.
    let fresh = dir.join("log-snr");
    let log_snr = ["--time-input", "log-snr", "--channels", "8,16"];
    ok(&[&["train", "mnist", "--out", s(&fresh), "--steps", "2"], &likelihood_run[..], &log_snr[..]].concat());
    let weights_ls = fresh.join("unet.safetensors");
    let chosen = ok(&[
        "likelihood-mnist",
        "--weights",
        s(&weights_ls),
        "--n",
        "2",
        "--steps",
        "2",
        "--choose-t-min",
        "1e-3,1e-2",
    ]);
    assert_eq!(chosen.matches("train bits/dim").count(), 2, "{chosen}");
    let test_line = chosen.lines().find(|l| l.starts_with("test bits/dim")).unwrap_or_default();
    assert!(test_line.contains("from t = 1e-3,") || test_line.contains("from t = 1e-2,"), "{chosen}");
    fails(
        &["likelihood-mnist", "--weights", s(&weights_ls), "--choose-t-min", "0"],
        "smallest continuous time t must be in [1e-7, 0.5]",
    );

    // The decoder bound: two widths chosen between on training images, the test scored with one.
    let decoded =
        ok(&["likelihood-mnist", "--weights", s(&weights), "--n", "2", "--steps", "2", "--decoder-sigma", "0.5,2"]);
    assert_eq!(decoded.matches("train bits/dim").count(), 2, "{decoded}");
    let test_line = decoded.lines().find(|l| l.starts_with("test bits/dim")).unwrap_or_default();
    let value: f64 = test_line.split_whitespace().nth(2).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    assert!(value.is_finite() && value > 0.0, "{decoded}");
    assert!(test_line.contains("decoder σ = 0.5 levels") || test_line.contains("decoder σ = 2 levels"), "{decoded}");
    fails(
        &["likelihood-mnist", "--weights", s(&weights), "--decoder-sigma", "0"],
        "σ in pixel levels must be in [0.001, 1000]",
    );
    let single =
        ok(&["likelihood-mnist", "--weights", s(&weights), "--n", "2", "--steps", "2", "--choose-t-min", "1e-2"]);
    assert!(single.contains("from t = 1e-2,") && !single.contains("train bits/dim"), "{single}");
    fails(
        &["likelihood-mnist", "--weights", s(&weights), "--batch", "0"],
        "images per likelihood ODE solve must be an integer in [1, 1000]",
    );

    // Bad input: a truncated file, a foreign file, a bad label, missing data.
    let bytes = std::fs::read(&weights).unwrap();
    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    fails(&["sample", "mnist", "--weights", s(&truncated), "--out", s(&dir.join("x"))], "not a valid safetensors");
    fails(
        &["sample", "mnist", "--weights", s(&cnn), "--out", s(&dir.join("x"))],
        "holds a mnist-classifier, not a mnist-denoiser",
    );
    fails(&["sample", "mnist", "--weights", s(&weights), "--label", "12", "--out", s(&dir.join("x"))], "--label");
    fails(&["train", "mnist", "--out", s(&dir.join("y")), "--data", s(&dir.join("nowhere"))], "fetch-data mnist");
    fails(&["train", "mnist", "--out", s(&dir.join("y")), "--lr=-1"], "learning rate must be in (0, 1]");
    fails(&["train", "mnist", "--out", s(&dir.join("y")), "--t-min", "0"], "continuous time t must be in [1e-7, 0.5]");
    fails(&["train", "mnist", "--out", s(&dir.join("y")), "--t-sampling", "often"], "--t-sampling");
    // A batch whose step cannot fit is refused with the estimate, before anything is created.
    let huge = ["--batch", "4096", "--channels", "512,512,512"];
    fails(&[&["train", "mnist", "--out", s(&dir.join("huge"))], &huge[..]].concat(), "GiB (estimate)");
    assert!(!dir.join("huge").exists(), "a refused run creates nothing");
    // The judge's training has the divergence guard too: at learning rate 1 it stops, writes nothing.
    let judge = dir.join("judge");
    let args = ["--epochs", "0.1", "--batch", "64", "--lr", "1"];
    fails(&[&["train", "mnist-classifier", "--out", s(&judge)], &args[..]].concat(), "diverged at step");
    assert!(!judge.join("classifier.safetensors").exists(), "a diverged judge is never written");
    fails(&["train", "mnist", "--out", s(&dir.join("y")), "--time-input", "sideways"], "--time-input");
    fails(&["train", "mnist", "--out", s(&dir.join("y")), "--init", s(&truncated)], "not a valid safetensors");
    std::fs::remove_dir_all(&dir).unwrap();
}
