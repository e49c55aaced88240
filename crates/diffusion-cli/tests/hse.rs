//! The `diffusion` binary with the HSE study's options (seed 003) on the real STATES data: chain
//! schedules, IWDiff, importance-sampled t, and L_hybrid's learned variance through sampling and
//! the chain's bound.

mod common;

use std::process::Output;

use common::{s, scratch, text};

fn diffusion(args: &[&str]) -> Output {
    common::run(args, &[])
}

/// The chain and loss options of `train states`: a cosine T = 100 chain trained with IWDiff, its
/// file recording both, sampled on its own; bad values are clear errors.
#[test]
fn schedules_and_iwdiff_train_and_sample() {
    let dir = scratch("hse");
    let run = dir.join("cosine");
    let flags = ["--steps", "20", "--batch", "256", "--schedule", "cosine", "--timesteps", "100"];
    let out = diffusion(
        &[&["train", "states", "--out", s(&run), "--objective", "iwdiff", "--iw-k", "3"], &flags[..]].concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    assert!(config.contains("\"cosine\"") && config.contains("\"iwdiff\"") && config.contains("\"k\": 3"), "{config}");
    let samples = dir.join("samples.csv");
    let weights = run.join("denoiser.safetensors");
    let out =
        diffusion(&["sample", "states", "--weights", s(&weights), "--n", "50", "--steps", "10", "--out", s(&samples)]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&samples).unwrap().lines().count(), 51);
    // Importance-sampled t with two refresh batches ("IS+2") on IWDiff: the file records it.
    let is_run = dir.join("importance");
    let out = diffusion(
        &[
            &["train", "states", "--out", s(&is_run), "--objective", "iwdiff", "--t-sampling", "importance"][..],
            &["--is-extra", "2"][..],
            &flags[..],
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let config = std::fs::read_to_string(is_run.join("config.json")).unwrap();
    assert!(config.contains("\"importance\"") && config.contains("\"extra\": 2"), "{config}");
    for (extra, needle) in [
        (&["--is-extra", "2"][..], "--is-extra goes with"),
        (&["--t-sampling", "stratified"][..], "unknown --t-sampling"),
        (&["--schedule", "quadratic"][..], "unknown schedule"),
        (&["--objective", "iwdiff", "--iw-k", "0"][..], "IWDiff's draws"),
        (&["--objective", "vlb"][..], "unknown objective"),
        (&["--beta-range", "0.1"][..], "--beta-range"),
        (&["--sde", "vp", "--schedule", "cosine"][..], "apply to --sde ddpm"),
        (&["--sde", "vp", "--objective", "hybrid"][..], "apply to --sde ddpm"),
    ] {
        let out = diffusion(&[&["train", "states", "--out", s(&dir.join("x")), "--steps", "2"], extra].concat());
        assert!(!out.status.success() && text(&out).contains(needle), "{extra:?}: {}", text(&out));
    }
    // A file without a learned variance refuses `--variance learned`, and `--variance` is the
    // ancestral rule's.
    for (extra, needle) in [
        (&["--variance", "learned"][..], "no learned variance"),
        (&["--variance", "beta-tilde", "--sampler", "ddim"][..], "ddim takes η"),
        (&["--variance", "large"][..], "unknown variance"),
    ] {
        let out = diffusion(&[&["sample", "states", "--weights", s(&weights), "--out", s(&samples)], extra].concat());
        assert!(!out.status.success() && text(&out).contains(needle), "{extra:?}: {}", text(&out));
    }
}

/// L_hybrid trains a learned variance that the file carries: the config has four outputs, the
/// sampler takes the learned Σ_θ by default (and β or β̃ on request), and `likelihood --bound`
/// prints the chain's bound, which is worse with σ² = β̃ than with the learned variance.
#[test]
fn hybrid_learns_a_variance_the_file_samples_with() {
    let dir = scratch("hybrid");
    let run = dir.join("hybrid");
    let out = diffusion(&[
        "train",
        "states",
        "--out",
        s(&run),
        "--objective",
        "hybrid",
        "--steps",
        "60",
        "--batch",
        "512",
        "--timesteps",
        "100",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    assert!(config.contains("\"hybrid\"") && config.contains("\"d_output\": 4"), "{config}");
    let weights = run.join("denoiser.safetensors");
    for variance in ["learned", "beta", "beta-tilde"] {
        let samples = dir.join(format!("{variance}.csv"));
        let out = diffusion(&[
            "sample",
            "states",
            "--weights",
            s(&weights),
            "--n",
            "50",
            "--steps",
            "10",
            "--variance",
            variance,
            "--out",
            s(&samples),
        ]);
        assert!(out.status.success(), "{variance}: {}", text(&out));
        assert_eq!(std::fs::read_to_string(&samples).unwrap().lines().count(), 51);
    }
    let bound = |variance: &str| -> f64 {
        let out = diffusion(&[
            "likelihood",
            "--weights",
            s(&weights),
            "--bound",
            "--variance",
            variance,
            "--n",
            "200",
            "--steps",
            "10",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("variational bound"), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).lines().next().unwrap().trim().parse().unwrap()
    };
    let (learned, tilde) = (bound("learned"), bound("beta-tilde"));
    assert!(learned.is_finite() && learned < tilde, "bound: learned {learned}, β̃ {tilde}");
}

/// `report hse` trains each chosen row once per seed, grades it and writes the table; run again,
/// it reuses the trained models (resumable) and writes the same table.
#[test]
fn the_report_trains_grades_and_resumes() {
    let dir = scratch("hse-report");
    let (out, runs) = (dir.join("report"), dir.join("runs"));
    let args = ["report", "hse", "--out", s(&out), "--runs", s(&runs), "--steps", "3", "--seeds", "0,1", "--n", "100"];
    let rows = ["--rows", "simple,hybrid"];
    let first = diffusion(&[&args[..], &rows[..]].concat());
    assert!(first.status.success(), "{}", text(&first));
    let table = std::fs::read_to_string(out.join("README.md")).unwrap();
    let (main, by_variance) = table.split_once("\n## The ancestral step's variance").expect("two tables");
    let lines: Vec<&str> = main.lines().filter(|l| l.starts_with("| L_")).collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[1].contains("learned variance") && lines[1].matches(" / ").count() == 7, "{table}");
    // The variance × K table: β and β̃ for L_simple, and the learned Σ_θ too for L_hybrid.
    let variances: Vec<&str> = by_variance.lines().filter(|l| l.starts_with("| L_")).collect();
    assert_eq!(variances.len(), 5, "{table}");
    let learned: Vec<&str> = by_variance.lines().filter(|l| l.contains("| learned Σ_θ |")).collect();
    assert!(learned.len() == 1 && learned[0].matches(" / ").count() == 5, "{table}");
    let model = runs.join("hybrid-seed1/denoiser.safetensors");
    let written = std::fs::metadata(&model).unwrap().modified().unwrap();
    let again = diffusion(&[&args[..], &rows[..]].concat());
    assert!(again.status.success() && !text(&again).contains("training the STATES denoiser"), "{}", text(&again));
    assert_eq!(std::fs::metadata(&model).unwrap().modified().unwrap(), written, "a trained row is reused");
    assert_eq!(std::fs::read_to_string(out.join("README.md")).unwrap(), table, "same models, same seeds, same table");
    let bad = diffusion(&[&args[..], &["--rows", "simpel"][..]].concat());
    assert!(!bad.status.success() && text(&bad).contains("unknown row `simpel`"), "{}", text(&bad));
}
