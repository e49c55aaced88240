//! The `diffusion` binary on the real STATES data: train → weights → sample → grade, and bad input.

mod common;

use std::path::Path;
use std::process::Output;

use common::{s, scratch, text};

fn diffusion(args: &[&str]) -> Output {
    common::run(args, &[])
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
    assert!(losses.starts_with("step,train,validation\n"));
    // The held-out loss is evaluated every 50 steps and at the last one.
    let held_out: Vec<&str> = losses.lines().skip(1).filter(|l| !l.ends_with(',')).collect();
    assert_eq!(held_out.len(), 1, "{held_out:?}");
    assert!(held_out[0].starts_with("40,"));
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

    // The same ε-network drives the SDE samplers (on the chain's own process), and the
    // probability-flow ODE gives the data's likelihood.
    for sampler in ["ode-heun", "pc", "em", "edm-heun"] {
        let out = diffusion(&[
            "sample",
            "states",
            "--weights",
            s(&weights),
            "--n",
            "200",
            "--out",
            s(&samples),
            "--sampler",
            sampler,
            "--steps",
            "20",
        ]);
        assert!(out.status.success(), "{sampler}: {}", text(&out));
        assert!(text(&out).contains(&format!("NFE, {sampler}")), "{}", text(&out));
    }
    let compare = dir.join("compare");
    let out = diffusion(&[
        "compare",
        "states",
        "--weights",
        s(&weights),
        "--out",
        s(&compare),
        "--n",
        "100",
        "--steps",
        "5,10",
        "--samplers",
        "em,dpmpp2m",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let table = std::fs::read_to_string(compare.join("compare.md")).unwrap();
    assert!(table.contains("| dpmpp2m | 10 | 10 |") && table.contains("| ancestral | 500 | 500 |"), "{table}");
    assert!(compare.join("em-5.png").exists());
    let out = diffusion(&[
        "sample",
        "states",
        "--weights",
        s(&weights),
        "--n",
        "50",
        "--out",
        s(&samples),
        "--sampler",
        "em",
        "--steps",
        "10",
        "--denoise",
    ]);
    assert!(out.status.success() && text(&out).contains("(11 NFE, em)"), "{}", text(&out));
    let out = diffusion(&["likelihood", "--weights", s(&weights), "--n", "50", "--steps", "10"]);
    assert!(out.status.success(), "{}", text(&out));
    let nll: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(nll.is_finite() && text(&out).contains("bits/dim"), "{}", text(&out));
    let out = diffusion(&["sample", "states", "--weights", s(&weights), "--out", s(&samples), "--sampler", "magic"]);
    assert!(!out.status.success() && text(&out).contains("unknown sampler"));

    // The data scored as samples reproduces the course's reference.
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/states.csv");
    let out = diffusion(&["eval", "nll", data]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2.1520");
    // A reader that has gone (`| head` done) ends the run quietly, not with a panic.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_diffusion"))
        .args(["eval", "nll", data])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", text(&out));
}

/// The course's second task: a noisy classifier, guided sampling per state, and the report.
#[test]
fn classifier_guided_sampling_and_report() {
    let dir = scratch("guided");
    let (denoiser, classifier) = (dir.join("denoiser"), dir.join("classifier"));
    let out = diffusion(&["train", "states", "--out", s(&denoiser), "--steps", "300", "--batch", "1024"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = diffusion(&[
        "train",
        "states-classifier",
        "--out",
        s(&classifier),
        "--steps",
        "300",
        "--batch",
        "1024",
        "--lr",
        "3e-3",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    for file in ["classifier.safetensors", "loss.csv", "loss.png", "accuracy.csv", "validation.md"] {
        assert!(classifier.join(file).metadata().map(|m| m.len() > 0).unwrap_or(false), "missing {file}");
    }
    // Per-bucket validation accuracy: high on clean points, near chance (20%) at t ≈ T.
    let table = std::fs::read_to_string(classifier.join("validation.md")).unwrap();
    let accuracy = |row: &str| -> f64 {
        let line = table.lines().find(|l| l.starts_with(row)).unwrap();
        line.split('|').nth(2).unwrap().trim().trim_end_matches('%').parse().unwrap()
    };
    assert!(accuracy("| 0–49") > 95.0 && accuracy("| 450–500") < 40.0, "{table}");

    let (weights, c_weights) = (denoiser.join("denoiser.safetensors"), classifier.join("classifier.safetensors"));
    let samples = dir.join("idaho.csv");
    let guided_with = |label: &str, out: &Path, n: &str, sampler: &[&str]| {
        let mut args = vec![
            "sample",
            "states",
            "--weights",
            s(&weights),
            "--classifier",
            s(&c_weights),
            "--label",
            label,
            "--scale",
            "2",
            "--n",
            n,
            "--out",
            s(out),
        ];
        args.extend(sampler);
        diffusion(&args)
    };
    let guided = |label: &str, out: &Path, n: &str| guided_with(label, out, n, &[]);
    // Guidance is a score wrapper: DPM-Solver++ at 20 steps takes it as the ancestral chain does.
    let out = guided_with("OK", &samples, "300", &["--sampler", "dpmpp2m", "--steps", "20"]);
    assert!(out.status.success() && text(&out).contains("(20 NFE, dpmpp2m)"), "{}", text(&out));
    let line = text(&out).lines().find(|l| l.starts_with("Oklahoma")).unwrap().to_string();
    let nearest: f64 = line.split("on target ").nth(1).unwrap().split('%').next().unwrap().parse().unwrap();
    assert!(nearest > 80.0, "{line}");
    let out = guided("ID", &samples, "400");
    assert!(out.status.success(), "{}", text(&out));
    let csv = std::fs::read_to_string(&samples).unwrap();
    assert!(csv.starts_with("x,y,label\n") && csv.lines().count() == 401);
    assert!(csv.lines().skip(1).all(|l| l.ends_with(",1")));
    // Idaho's line reports the fraction on target; a short run already lands most samples there.
    let line = text(&out).lines().find(|l| l.starts_with("Idaho")).unwrap().to_string();
    let nearest: f64 = line.split("on target ").nth(1).unwrap().split('%').next().unwrap().parse().unwrap();
    assert!(nearest > 80.0, "{line}");

    let all = dir.join("all.csv");
    let out = guided("all", &all, "503");
    assert!(out.status.success(), "{}", text(&out));
    let csv = std::fs::read_to_string(&all).unwrap();
    for label in 0..5 {
        let count = csv.lines().filter(|l| l.ends_with(&format!(",{label}"))).count();
        assert!((100..=101).contains(&count), "label {label}: {count}");
    }
    // Guidance needs a classifier file, not a denoiser, and a real state.
    let out = diffusion(&[
        "sample",
        "states",
        "--weights",
        s(&weights),
        "--classifier",
        s(&weights),
        "--label",
        "MI",
        "--out",
        s(&all),
    ]);
    assert!(!out.status.success() && text(&out).contains("not a classifier"), "{}", text(&out));
    assert!(text(&guided("Texas", &all, "10")).contains("unknown state"));

    let report = dir.join("report");
    let out = diffusion(&[
        "report",
        "states",
        "--weights",
        s(&weights),
        "--classifier",
        s(&c_weights),
        "--n",
        "200",
        "--scale",
        "2",
        "--out",
        s(&report),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    for needle in
        ["| unconditional |", "| Idaho (ID) |", "| Wisconsin (WI) |", "diffusion train states-classifier", "450–500"]
    {
        assert!(md.contains(needle), "report.md lacks {needle}:\n{md}");
    }
    for png in
        ["unconditional", "state-MI", "state-OK", "guided-all", "denoiser-loss", "classifier-loss", "prediction-map-t0"]
    {
        assert!(report.join(format!("{png}.png")).metadata().map(|m| m.len() > 1000).unwrap_or(false), "{png}.png");
    }
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

    // Fail before the work: an output that cannot be written, a batch that cannot fit.
    let blocked = csv.join("sub");
    // (The weights are bad too: the output is checked first, before anything is loaded.)
    let out = diffusion(&["sample", "states", "--weights", s(&weights), "--out", s(&blocked.join("s.csv"))]);
    assert!(!out.status.success() && text(&out).contains("cannot create the folder"), "{}", text(&out));
    let out = diffusion(&["train", "states", "--out", s(&blocked), "--steps", "1"]);
    assert!(!out.status.success() && text(&out).contains("cannot create the folder"), "{}", text(&out));
    let huge = ["--batch", "1048576", "--objective", "iwdiff", "--iw-k", "64"];
    let out = diffusion(&[&["train", "states", "--out", s(&dir.join("huge"))], &huge[..]].concat());
    assert!(!out.status.success() && text(&out).contains("GiB (estimate)"), "{}", text(&out));
    assert!(!dir.join("huge").exists(), "a refused run creates nothing");
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

/// `train states --sde`: a continuous-time score model per SDE, sampled by that SDE's samplers
/// (ancestral for VE/VP, DDIM, adaptive RK45, PC with the corrector flag) and scored by the
/// probability-flow likelihood; sub-VP refuses ancestral sampling with a reason.
#[test]
fn continuous_time_models_train_sample_and_score() {
    let dir = scratch("sde");
    for sde in ["vp", "subvp", "ve"] {
        let run = dir.join(sde);
        let out = diffusion(&["train", "states", "--sde", sde, "--out", s(&run), "--steps", "30", "--batch", "512"]);
        assert!(out.status.success(), "{}", text(&out));
        let config = std::fs::read_to_string(run.join("config.json")).unwrap();
        assert!(config.contains("\"fourier\"") && config.contains("\"ema_decay\": 0.999"), "{config}");
        let weights = run.join("denoiser.safetensors");
        let samplers: &[&[&str]] = &[
            &["--sampler", "ancestral", "--steps", "50"],
            &["--sampler", "ddim", "--steps", "20", "--eta", "0.5"],
            &["--sampler", "ode-rk45"],
            &["--sampler", "em", "--corrector", "langevin", "--steps", "20"],
            &["--sampler", "rdmc"],
        ];
        for extra in samplers {
            let samples = dir.join(format!("{sde}.csv"));
            let mut args = vec!["sample", "states", "--weights", s(&weights), "--n", "100", "--out", s(&samples)];
            args.extend_from_slice(extra);
            let out = diffusion(&args);
            if sde == "subvp" && extra[1] == "ancestral" {
                assert!(!out.status.success());
                assert!(text(&out).contains("VE and VP"), "{}", text(&out));
                continue;
            }
            assert!(out.status.success(), "{sde} {extra:?}: {}", text(&out));
            let csv = std::fs::read_to_string(&samples).unwrap();
            assert_eq!(csv.lines().count(), 101);
            assert!(csv.lines().skip(1).all(|l| l.split(',').all(|v| v.parse::<f32>().unwrap().is_finite())));
        }
        let out = diffusion(&["likelihood", "--weights", s(&weights), "--n", "50", "--steps", "20"]);
        assert!(out.status.success(), "{}", text(&out));
        let nll: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert!(nll.is_finite() && nll > 0.0 && nll < 20.0, "{sde}: NLL {nll}");
        assert!(text(&out).contains("bits/dim"));
    }
    let out = diffusion(&["train", "states", "--sde", "vq", "--out", s(&dir.join("x"))]);
    assert!(!out.status.success() && text(&out).contains("unknown SDE"), "{}", text(&out));
}

/// `diffusion rdmc` samples every energy target without training; `rdmc-compare` writes its table
/// and grid; a bad target or budget is a clear error.
#[test]
fn rdmc_samples_energy_targets() {
    let dir = scratch("rdmc");
    for target in ["gmm4", "gmm8", "ring", "funnel", "muller-brown", "states-kde"] {
        let out_csv = dir.join(format!("{target}.csv"));
        let out = diffusion(&["rdmc", "--target", target, "--n", "40", "--budget", "500", "--out", s(&out_csv)]);
        assert!(out.status.success(), "{target}: {}", text(&out));
        let csv = std::fs::read_to_string(&out_csv).unwrap();
        assert!(csv.starts_with("x,y\n") && csv.lines().count() == 41, "{target}");
        assert!(csv.lines().skip(1).all(|l| l.split(',').all(|v| v.parse::<f32>().unwrap().is_finite())), "{target}");
        assert!(text(&out).contains("evaluations per sample"), "{}", text(&out));
    }
    let compare = dir.join("compare");
    let out = diffusion(&["rdmc-compare", "--target", "gmm4", "--n", "40", "--budgets", "200", "--out", s(&compare)]);
    assert!(out.status.success(), "{}", text(&out));
    let md = std::fs::read_to_string(compare.join("compare.md")).unwrap();
    assert!(md.contains("| rdMC | 200 |") && md.contains("| ULA | 200 |") && md.contains("| MALA | 200 |"), "{md}");
    assert!(compare.join("grid.png").metadata().unwrap().len() > 1000);
    let out = diffusion(&["rdmc", "--target", "banana", "--out", s(&dir.join("x.csv"))]);
    assert!(!out.status.success() && text(&out).contains("unknown target"), "{}", text(&out));
    let out = diffusion(&["rdmc", "--target", "gmm4", "--budget", "0", "--out", s(&dir.join("x.csv"))]);
    assert!(!out.status.success() && text(&out).contains("--budget"), "{}", text(&out));
}

/// A diverging run (learning rate 1) is stopped by the guard with the step, the loss and advice,
/// and writes nothing (it diverged before a step could be kept).
#[test]
fn a_diverging_run_is_stopped_and_writes_nothing() {
    let dir = scratch("diverge");
    let out = diffusion(&["train", "states", "--lr", "1", "--steps", "200", "--batch", "256", "--out", s(&dir)]);
    assert!(!out.status.success());
    let message = text(&out);
    assert!(
        message.contains("learning rate 1 diverged at step") && message.contains("try a learning rate ≤ 0.1"),
        "{message}"
    );
    assert!(!dir.join("denoiser.safetensors").exists(), "a diverged run wrote weights");
}
