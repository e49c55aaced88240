//! Surrogate diffusion through the binary: fit a Gaussian mixture, start the shipped chain and SDE
//! models from its samples part-way, guided and not, regenerate the report at a tiny budget, and
//! refuse what does not fit (nothing written).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{s, scratch, text};

fn diffusion(args: &[&str]) -> Output {
    common::run(args, &[])
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/models").join(name)
}

fn rows(path: &Path) -> Vec<Vec<f32>> {
    let csv = std::fs::read_to_string(path).unwrap();
    csv.lines().skip(1).map(|l| l.split(',').map(|v| v.parse::<f32>().unwrap()).collect()).collect()
}

#[test]
fn a_mixture_starts_samplers_part_way() {
    let dir = scratch("surrogate");
    let gmm = dir.join("gmm");
    let out = diffusion(&["train", "states-surrogate", "--components", "5", "--out", s(&gmm)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("5-component Gaussian mixture by EM") && text(&out).contains("nats/point"),
        "{}",
        text(&out)
    );
    let surrogate = gmm.join("surrogate.safetensors");
    assert!(std::fs::read_to_string(gmm.join("config.json")).unwrap().contains("\"role\": \"states-surrogate\""));

    let (chain, vp, classifier) = (
        shipped("states-denoiser.safetensors"),
        shipped("states-vp.safetensors"),
        shipped("states-classifier.safetensors"),
    );
    let samples = dir.join("samples.csv");
    let sample = |weights: &Path, extra: &[&str]| {
        let base = ["sample", "states", "--weights", s(weights), "--surrogate", s(&surrogate), "--out", s(&samples)];
        diffusion(&[&base[..], &["--n", "200"], extra].concat())
    };
    // The chain from step 100 of 500: 100 evaluations, saved 400.
    let out = sample(&chain, &["--t-mid", "100"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("surrogate start at t = 0.2: 100 NFE (the whole grid takes 500)"), "{}", text(&out));
    let from_100 = rows(&samples);
    assert!(from_100.len() == 200 && from_100.iter().flatten().all(|v| v.is_finite()));
    // Step 0 is the surrogate's own samples: no network, and not the same points as from step 100.
    let out = sample(&chain, &["--t-mid", "0"]);
    assert!(out.status.success() && text(&out).contains("0 NFE"), "{}", text(&out));
    assert_ne!(rows(&samples), from_100);
    // DDIM on 50 respaced steps, and guided towards Ohio.
    let out = sample(&chain, &["--t-mid", "250", "--sampler", "ddim", "--steps", "50"]);
    assert!(out.status.success() && text(&out).contains("the whole grid takes 50"), "{}", text(&out));
    let guided = ["--t-mid", "250", "--classifier", s(&classifier), "--label", "OH", "--scale", "2"];
    let out = sample(&chain, &guided);
    assert!(out.status.success() && text(&out).contains("Ohio: grader NLL"), "{}", text(&out));
    // A continuous file starts at a time.
    let out = sample(&vp, &["--t-start", "0.5", "--sampler", "dpmpp2m", "--steps", "20"]);
    assert!(out.status.success() && text(&out).contains("surrogate start at t = 0.5"), "{}", text(&out));

    // A VAE surrogate trains with the one trainer and starts the chain the same way.
    let vae = dir.join("vae");
    let out =
        diffusion(&["train", "states-surrogate", "--kind", "vae", "--steps", "30", "--batch", "256", "--out", s(&vae)]);
    assert!(out.status.success() && text(&out).contains("a VAE (30 steps"), "{}", text(&out));
    let vae_file = vae.join("surrogate.safetensors");
    let base = ["sample", "states", "--weights", s(&chain), "--surrogate", s(&vae_file)];
    let out = diffusion(&[&base[..], &["--t-mid", "50", "--n", "100", "--out", s(&samples)]].concat());
    assert!(out.status.success() && text(&out).contains("50 NFE"), "{}", text(&out));

    std::fs::remove_file(&samples).unwrap();
    for (weights, extra, want) in [
        (&vp, &["--t-mid", "100"][..], "continuous: give --t-start"),
        (&chain, &["--t-start", "0.5"], "500-step chain: give --t-mid"),
        (&chain, &["--t-mid", "501"], "past this chain's T = 500"),
        (&chain, &[], "give --t-mid K in [0, 500]"),
        (&chain, &["--t-mid", "10", "--sampler", "rdmc"], "not with rdmc"),
        (&chain, &["--t-start", "1.5"], "in [0, 1], got 1.5"),
    ] {
        let out = sample(weights, extra);
        assert!(!out.status.success() && text(&out).contains(want), "{extra:?}: {}", text(&out));
    }
    let out = diffusion(&["sample", "states", "--weights", s(&chain), "--t-mid", "3", "--out", s(&samples)]);
    assert!(!out.status.success() && text(&out).contains("add --surrogate FILE"), "{}", text(&out));
    let not_one = ["sample", "states", "--weights", s(&chain), "--surrogate", s(&chain), "--t-mid", "3"];
    let out = diffusion(&[&not_one[..], &["--out", s(&samples)]].concat());
    assert!(!out.status.success() && text(&out).contains("holds a denoiser, not a states-surrogate"), "{}", text(&out));
    assert!(!samples.exists(), "a refused run wrote its output");
    let out = diffusion(&["train", "states-surrogate", "--components", "0", "--out", s(&dir.join("never"))]);
    assert!(
        !out.status.success() && text(&out).contains("components must be an integer in [1, 1000]"),
        "{}",
        text(&out)
    );
    assert!(!dir.join("never").exists());
}

#[test]
fn the_surrogate_report_regenerates_at_a_tiny_budget() {
    let dir = scratch("surrogate-report");
    let (report, runs) = (dir.join("report"), dir.join("runs"));
    let weights = shipped("states-denoiser.safetensors");
    let args = ["report", "surrogate", "--out", s(&report), "--runs", s(&runs), "--weights", s(&weights)];
    let tiny = ["--components", "3", "--vae-steps", "20", "--n", "100", "--seeds", "0"];
    let out = diffusion(&[&args[..], &tiny].concat());
    assert!(out.status.success(), "{}", text(&out));
    let md = std::fs::read_to_string(report.join("README.md")).unwrap();
    let table: Vec<&str> = md.lines().filter(|l| l.starts_with("| ancestral") || l.starts_with("| DDIM")).collect();
    assert_eq!(table.len(), 18, "{md}");
    assert!(md.contains("VAE, t_mid = T/4 (step 125) | 125 |") && md.contains("20 training steps"), "{md}");
    assert!(md.contains("GMM-3, t_mid = T/2 (step 250) | 250 |") && md.contains("(no network)"), "{md}");
    // A second run reuses the fitted mixture and writes the same quality columns.
    let again = diffusion(&[&args[..], &tiny].concat());
    assert!(again.status.success(), "{}", text(&again));
    let quality = |md: &str| -> Vec<String> {
        md.lines()
            .filter(|l| l.starts_with("| ancestral") || l.starts_with("| DDIM"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').collect();
                [cells[1], cells[2], cells[3], cells[6], cells[7], cells[8]].join("|")
            })
            .collect()
    };
    assert_eq!(quality(&std::fs::read_to_string(report.join("README.md")).unwrap()), quality(&md));
}
