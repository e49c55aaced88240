//! The `diffusion` binary's numeric flags against the core's table of ranges (`diffusion::limits`).

mod common;

use std::process::Output;

use common::{s, scratch, text};

fn diffusion(args: &[&str]) -> Output {
    common::run(args, &[])
}

/// Every numeric flag parses through the core's table of ranges: an out-of-range value is refused
/// by name, with the range, before anything runs or is created.
#[test]
fn numeric_flags_are_refused_outside_their_ranges() {
    let dir = scratch("ranges");
    let never = dir.join("never");
    let out = s(&never);
    let cases: &[(&[&str], &str)] = &[
        (&["train", "states", "--out", out, "--steps", "0"], "training steps must be an integer in [1, 10000000]"),
        (
            &["train", "states", "--out", out, "--batch", "2000000"],
            "rows per training step must be an integer in [1, 1048576]",
        ),
        (&["train", "states", "--out", out, "--lr", "0"], "the peak learning rate must be in (0, 1]"),
        (&["train", "states", "--out", out, "--ema", "1"], "moving-average decay must be in [0, 1)"),
        (&["train", "states", "--out", out, "--val-fraction", "NaN"], "held out must be in [0, 1)"),
        (
            &["train", "states", "--out", out, "--timesteps", "1"],
            "the chain's length T must be an integer in [2, 100000]",
        ),
        (&["train", "states", "--out", out, "--iw-k", "65"], "IWDiff's draws"),
        (&["train", "states", "--out", out, "--steps", "2.5"], "is not a whole number"),
        (&["train", "states-classifier", "--out", out, "--eval-every", "0"], "held-out evaluations"),
        (&["train", "mnist", "--out", out, "--channels", "8,0"], "a UNet level's width"),
        (&["train", "mnist", "--out", out, "--checkpoint-every", "0"], "steps between checkpoints"),
        (&["train", "mnist", "--out", out, "--epochs", "0"], "passes over the training set must be in (0, 10000]"),
        (&["sample", "states", "--weights", out, "--out", out, "--n", "0"], "samples or points"),
        (&["sample", "states", "--weights", out, "--out", out, "--steps", "100001"], "sampler steps"),
        (&["sample", "states", "--weights", out, "--out", out, "--eta", "2"], "DDIM's η must be in [0, 1]"),
        (&["sample", "states", "--weights", out, "--out", out, "--scale=-1"], "the guidance scale must be in [0, 100]"),
        (&["sample", "mnist", "--out", out, "--n", "0"], "MNIST images"),
        (&["compare", "states", "--weights", out, "--out", out, "--nfe", "10,0"], "network evaluations"),
        (
            &["rdmc", "--target", "gmm4", "--out", out, "--budget", "5"],
            "∇f evaluations per sample must be an integer in [10, 10000000]",
        ),
        (&["report", "states", "--out", out, "--n", "10"], "samples per report row"),
    ];
    for (args, needle) in cases {
        let result = diffusion(args);
        assert!(!result.status.success(), "{args:?} should be refused");
        assert!(text(&result).contains(needle), "{args:?}: `{}` lacks `{needle}`", text(&result));
    }
    assert!(!dir.join("never").exists(), "a refused command creates nothing");
}
