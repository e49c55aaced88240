//! Flow matching through the binary: train a velocity network on the rectified-flow path, sample it
//! with every ODE rule (and the SDE rules, which see its score), reflow it, compare it, and refuse
//! what does not apply.

mod common;

use std::path::Path;
use std::process::Output;

use common::{s, scratch, text};

fn diffusion(args: &[&str]) -> Output {
    common::run(args, &[])
}

/// `diffusion sample states --weights W --out OUT` with `extra` flags.
fn sample(weights: &Path, out: &Path, extra: &[&str]) -> Output {
    diffusion(&[&["sample", "states", "--weights", s(weights), "--out", s(out)], extra].concat())
}

fn finite_rows(csv: &str) -> usize {
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(rows.iter().all(|l| l.split(',').all(|v| v.parse::<f32>().unwrap().is_finite())), "{csv}");
    rows.len()
}

#[test]
fn flow_matching_trains_samples_and_reflows() {
    let dir = scratch("flow");
    let first = dir.join("first");
    let train = ["train", "states", "--objective", "flow-matching", "--steps", "30", "--batch", "512"];
    let out = diffusion(&[&train[..], &["--out", s(&first)]].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("flow matching"), "{}", text(&out));
    let config = std::fs::read_to_string(first.join("config.json")).unwrap();
    assert!(config.contains("\"kind\": \"flow\"") && config.contains("\"prediction\": \"velocity\""), "{config}");
    let weights = first.join("denoiser.safetensors");
    let samples = dir.join("samples.csv");
    for extra in [
        &["--sampler", "euler", "--steps", "8"][..],
        &["--sampler", "ode-heun", "--steps", "4"],
        &["--sampler", "ddim", "--steps", "5"],
        &["--sampler", "pc", "--steps", "20"],
        &["--sampler", "dpmpp2m", "--steps", "6"],
    ] {
        let out = sample(&weights, &samples, &[&["--n", "64"], extra].concat());
        assert!(out.status.success(), "{extra:?}: {}", text(&out));
        assert_eq!(finite_rows(&std::fs::read_to_string(&samples).unwrap()), 64, "{extra:?}");
    }
    // --trails draws the first 200 samples' paths (a PNG); rdmc has no grid to follow.
    let trails = dir.join("trails.png");
    let out = sample(&weights, &samples, &["--sampler", "euler", "--steps", "4", "--n", "10", "--trails", s(&trails)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(std::fs::read(&trails).unwrap().starts_with(b"\x89PNG"));
    let out = sample(&weights, &samples, &["--sampler", "rdmc", "--trails", s(&trails)]);
    assert!(!out.status.success() && text(&out).contains("rdmc has none"), "{}", text(&out));
    let out = sample(&weights, &samples, &["--sampler", "ancestral"]);
    assert!(!out.status.success() && text(&out).contains("euler or ode-heun for the flow path"), "{}", text(&out));
    let out = diffusion(&["likelihood", "--weights", s(&weights), "--n", "50", "--steps", "20"]);
    assert!(out.status.success(), "{}", text(&out));
    let nll: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(nll.is_finite() && nll > 0.0 && nll < 20.0, "NLL {nll}");

    // Reflow: the first model's ODE makes the pairs the second one trains on.
    let second = dir.join("second");
    let reflow = ["--reflow", s(&weights), "--reflow-pairs", "300", "--reflow-steps", "5", "--out", s(&second)];
    let out = diffusion(&[&train[..], &reflow].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("carrying 300 noise draws"), "{}", text(&out));
    let out =
        sample(&second.join("denoiser.safetensors"), &samples, &["--sampler", "euler", "--steps", "2", "--n", "32"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(finite_rows(&std::fs::read_to_string(&samples).unwrap()), 32);

    // compare's reference row on the flow path is its fine ODE.
    let compared = dir.join("compare");
    let out = diffusion(&[
        "compare",
        "states",
        "--weights",
        s(&weights),
        "--samplers",
        "euler",
        "--nfe",
        "2",
        "--n",
        "100",
        "--out",
        s(&compared),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let md = std::fs::read_to_string(compared.join("compare.md")).unwrap();
    assert!(md.contains("| ode-heun | 500 | 1000 |") && md.contains("| euler | 2 | 2 |"), "{md}");
}

#[test]
fn flow_matching_refuses_what_does_not_apply() {
    let dir = scratch("flow-refusals");
    let ddpm = dir.join("ddpm");
    let out =
        diffusion(&["train", "states", "--steps", "2", "--batch", "64", "--val-fraction", "0", "--out", s(&ddpm)]);
    assert!(out.status.success(), "{}", text(&out));
    let (ddpm_file, missing) = (ddpm.join("denoiser.safetensors"), dir.join("missing.safetensors"));
    let cases: &[(&[&str], &str)] = &[
        (&["--objective", "flow-matching", "--sde", "vp"], "rectified-flow path"),
        (&["--objective", "flow-matching", "--weighting", "likelihood"], "plain loss"),
        (&["--reflow", "x.safetensors"], "add --objective flow-matching"),
        (&["--objective", "flow-matching", "--reflow", s(&ddpm_file)], "takes a flow-matching model"),
        (&["--objective", "flow-matching", "--reflow", s(&missing)], "missing.safetensors"),
    ];
    for (extra, message) in cases {
        let out = dir.join("refused");
        let run = diffusion(&[&["train", "states", "--steps", "2", "--out", s(&out)], *extra].concat());
        assert!(!run.status.success() && text(&run).contains(message), "{extra:?}: {}", text(&run));
        assert!(!out.join("denoiser.safetensors").exists(), "{extra:?} wrote a model");
    }
}
