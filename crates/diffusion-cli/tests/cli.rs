//! The `diffusion` binary on the real STATES data: train → weights → sample → grade, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn diffusion(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffusion")).args(args).output().expect("the binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("diffusion-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn train_sample_and_grade() {
    let dir = scratch("pipeline");
    let run = dir.join("run");
    let out = diffusion(&["train", "states", "--out", s(&run), "--steps", "40", "--batch", "512", "--seed", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    for file in ["denoiser.safetensors", "config.json", "loss.csv", "loss.png"] {
        assert!(run.join(file).metadata().map(|m| m.len() > 0).unwrap_or(false), "missing {file}");
    }
    let losses = std::fs::read_to_string(run.join("loss.csv")).unwrap();
    assert_eq!(losses.lines().count(), 41, "header + one row per step");
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    assert!(config.contains("\"steps\": 500") && config.contains("256"), "{config}");

    let samples = dir.join("samples.csv");
    let plot = dir.join("samples.png");
    let weights = run.join("denoiser.safetensors");
    let out = diffusion(&[
        "sample",
        "states",
        "--weights",
        s(&weights),
        "--n",
        "300",
        "--out",
        s(&samples),
        "--plot",
        s(&plot),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let csv = std::fs::read_to_string(&samples).unwrap();
    assert!(csv.starts_with("x,y\n") && csv.lines().count() == 301);
    assert!(plot.metadata().unwrap().len() > 1000);

    let out = diffusion(&["eval", "nll", s(&samples)]);
    assert!(out.status.success(), "{}", text(&out));
    let nll: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    // 40 steps is far from trained, but the samples are finite and near the data.
    assert!(nll.is_finite() && nll > 2.0 && nll < 20.0, "nll {nll}");

    // The data scored as samples reproduces the course's reference.
    let out = diffusion(&["eval", "nll", concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/states.csv")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2.1520");
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = scratch("bad");
    let csv = dir.join("bad.csv");
    std::fs::write(&csv, "x,y\n1,2\n3,four\n").unwrap();
    let out = diffusion(&["eval", "nll", s(&csv)]);
    assert!(!out.status.success());
    assert!(text(&out).contains("line 3"), "{}", text(&out));

    let weights = dir.join("bad.safetensors");
    std::fs::write(&weights, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":").unwrap();
    let out = diffusion(&["sample", "states", "--weights", s(&weights), "--n", "10", "--out", s(&dir.join("o.csv"))]);
    assert!(!out.status.success());
    assert!(text(&out).contains("not a valid safetensors file"), "{}", text(&out));

    let out = diffusion(&["train", "states", "--out", s(&dir), "--lr=-1"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("learning rate"), "{}", text(&out));
    let out = diffusion(&[
        "sample",
        "states",
        "--weights",
        s(&weights),
        "--n",
        "10",
        "--out",
        s(&dir.join("o.csv")),
        "--device",
        "cuda",
    ]);
    assert!(!out.status.success());
}
