//! `cargo xtask bench [--runs N] [--only WORKLOAD]`: ours (`diffusion bench twin`) against the
//! PyTorch twins (`bench/twins.py`) on this machine, back to back: each round runs every
//! workload once in each implementation, alternating, so both see the same machine load; the
//! table gives the median of the rounds, their spread and the ratio of the medians. PyTorch comes
//! from PyPI into a virtual environment made on first use; without Python, ours run alone.

use std::path::PathBuf;
use std::process::Command;

use crate::{Result, cargo, root, run, target_dir};

/// (workload, batch flag) pairs, in the table's order.
const CASES: [(&str, Option<usize>); 6] = [
    ("states-train", Some(10_000)),
    ("states-sample", None),
    ("mnist-train", Some(128)),
    ("mnist-sample", Some(1)),
    ("mnist-sample", Some(16)),
    ("mnist-sample", Some(256)),
];

pub fn bench(args: &[String]) -> Result<()> {
    let usage = "usage: cargo xtask bench [--runs N] [--only WORKLOAD]";
    let (mut runs, mut only) = (5usize, None::<String>);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(usage)?;
        match flag.as_str() {
            "--runs" => runs = value.parse().ok().filter(|&r| (1..=100).contains(&r)).ok_or(usage)?,
            "--only" => only = Some(value.clone()),
            _ => return Err(usage.into()),
        }
    }
    let cases: Vec<_> = CASES.iter().filter(|(w, _)| only.as_deref().is_none_or(|o| o == *w)).collect();
    if cases.is_empty() {
        return Err(format!("no workload `{}`: {usage}", only.unwrap_or_default()));
    }
    run(cargo().args(["build", "--release", "--workspace"]))?;
    let ours = target_dir().join("release").join("diffusion");
    let python = match torch_python() {
        Ok(python) => Some(python),
        Err(why) => {
            eprintln!("xtask: no PyTorch twin ({why}); timing ours alone");
            None
        }
    };
    let script = root().join("bench").join("twins.py");
    let mut rates = vec![(Vec::new(), Vec::new()); cases.len()];
    let mut units = vec![String::new(); cases.len()];
    let mut torch_version = String::new();
    for round in 0..runs {
        eprintln!("xtask: bench round {} of {runs}", round + 1);
        for ((case, (ours_rates, theirs)), unit) in cases.iter().zip(rates.iter_mut()).zip(units.iter_mut()) {
            let (workload, batch) = **case;
            let flags: Vec<String> = batch.map(|b| vec!["--batch".into(), b.to_string()]).unwrap_or_default();
            let (rate, _, ours_unit) = measure(Command::new(&ours).args(["bench", "twin", workload]).args(&flags))?;
            ours_rates.push(rate);
            *unit = ours_unit;
            if let Some(python) = &python {
                let (rate, version, _) = measure(Command::new(python).arg(&script).arg(workload).args(&flags))?;
                theirs.push(rate);
                torch_version = version;
            }
        }
    }
    let peer = if python.is_some() { torch_version.as_str() } else { "PyTorch (not run)" };
    println!("\nOn {} ({runs} rounds; median, min–max):\n", machine());
    println!("| workload | batch | unit | ours (burn flex) | {peer} | ours / PyTorch |");
    println!("|---|---|---|---|---|---|");
    for ((case, (ours_rates, theirs)), unit) in cases.iter().zip(&rates).zip(&units) {
        let (workload, batch) = **case;
        let ratio = match theirs.is_empty() {
            true => "–".into(),
            false => format!("**{:.2}×**", median(ours_rates) / median(theirs)),
        };
        let batch = batch.map(|b| b.to_string()).unwrap_or_else(|| "5000".into());
        println!("| {workload} | {batch} | {unit} | {} | {} | {ratio} |", spread(ours_rates), spread(theirs));
    }
    Ok(())
}

/// Runs one timed run and reads its JSON line: (rate, implementation, unit).
fn measure(command: &mut Command) -> Result<(f64, String, String)> {
    let output = command.current_dir(root()).output().map_err(|e| format!("{command:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).ok_or(format!("{command:?} printed no result"))?;
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{line}: {e}"))?;
    let rate = value["rate"].as_f64().ok_or(format!("{line}: no rate"))?;
    let text = |key: &str| value[key].as_str().unwrap_or("?").to_string();
    Ok((rate, text("impl"), text("unit")))
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]) }
}

fn spread(values: &[f64]) -> String {
    if values.is_empty() {
        return "–".into();
    }
    let (lo, hi) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    format!("{:.3} ({:.3}–{:.3})", median(values), lo, hi)
}

/// The CPU's model name and core count, for the table's caption.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info.lines().find_map(|l| l.strip_prefix("model name")).map(|m| m.trim_start_matches([' ', '\t', ':']));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{} ({cores} cores)", model.unwrap_or("an unknown CPU"))
}

/// A Python with the pinned torch: `~/.cache/diffusion-playground/bench-venv`, made and filled
/// from PyPI (`bench/requirements.txt`) on first use.
fn torch_python() -> Result<PathBuf> {
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let venv = home.join(".cache/diffusion-playground/bench-venv");
    let python = venv.join("bin").join("python");
    let has_torch =
        |python: &PathBuf| Command::new(python).args(["-c", "import torch"]).output().is_ok_and(|o| o.status.success());
    if has_torch(&python) {
        return Ok(python);
    }
    Command::new("python3").arg("--version").output().map_err(|_| "python3 is not installed")?;
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    let requirements = root().join("bench").join("requirements.txt");
    run(Command::new(venv.join("bin").join("pip")).args(["install", "-q", "-r"]).arg(&requirements))?;
    if has_torch(&python) { Ok(python) } else { Err(format!("{} cannot import torch", python.display())) }
}
