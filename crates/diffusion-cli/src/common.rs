//! What every command shares: progress bars, host reads and the training loop.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use burn::prelude::*;
use diffusion::checkpoint::{Checkpoint, Role};
use diffusion::model_file;
use diffusion::train::Divergence;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use crate::plot;

/// A progress bar on a terminal; on any other stderr (a log file, CI) its text as a plain line
/// every 30 s and once more at the end, where indicatif alone would print nothing.
pub fn bar(len: usize, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> "));
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::term_like(Box::new(LogLines::every(Duration::from_secs(30)))));
    }
    bar
}

/// A `TermLike` that keeps the bar's latest text and writes it to stderr as a line when `period`
/// has passed since the last one, and when the bar is dropped if its last state went unwritten.
#[derive(Debug)]
struct LogLines {
    period: Duration,
    state: Mutex<LogState>,
}

#[derive(Debug, Default)]
struct LogState {
    text: String,
    written: Option<Instant>,
    pending: bool,
}

impl LogLines {
    fn every(period: Duration) -> Self {
        Self { period, state: Mutex::new(LogState::default()) }
    }
}

impl TermLike for LogLines {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write_str(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        let mut state = self.state.lock().expect("not poisoned");
        if !s.trim().is_empty() {
            state.text = s.trim().to_string();
            state.pending = true;
        }
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        let mut state = self.state.lock().expect("not poisoned");
        if state.pending && state.written.is_none_or(|t| t.elapsed() >= self.period) {
            eprintln!("{}", state.text);
            state.written = Some(Instant::now());
            state.pending = false;
        }
        Ok(())
    }
}

impl Drop for LogLines {
    fn drop(&mut self) {
        let state = self.state.get_mut().expect("not poisoned");
        if state.pending {
            eprintln!("{}", state.text);
        }
    }
}

/// Reads a tensor to the host (natively a synchronous read is fine).
pub fn to_vec<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, String> {
    tensor.into_data().try_into_vec::<f32>().map_err(|e| format!("{e:?}"))
}

/// Rows of an [n, 2] tensor as points.
pub fn to_points(tensor: Tensor<2>) -> Result<Vec<[f32; 2]>, String> {
    Ok(to_vec(tensor)?.chunks_exact(2).map(|p| [p[0], p[1]]).collect())
}

pub fn to_labels(tensor: Tensor<1, Int>) -> Result<Vec<i64>, String> {
    tensor.into_data().try_into_vec_as::<i64>().map_err(|e| format!("{e:?}"))
}

/// Loads a denoiser or classifier file; errors start with the path.
pub fn load(path: &Path, role: Role, device: &Device) -> Result<Checkpoint, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    model_file::mlp(&bytes, role, device).map_err(|e| format!("{}: {e}", path.display()))
}

/// Training and held-out loss per step (validation only every few steps).
pub struct Curves {
    pub train: Vec<f32>,
    pub validation: Vec<(usize, f32)>,
    /// Set when the guard stopped the run (the curves end at the step it went back to).
    pub diverged: Option<Divergence>,
}

impl Curves {
    /// Before anything is written: an error if the run diverged before a single step was kept
    /// (its weights would be the untrained ones).
    pub fn kept_anything(&self) -> Result<(), String> {
        match &self.diverged {
            Some(d) if d.restored == 0 => Err(format!("{d}; nothing was written")),
            _ => Ok(()),
        }
    }

    /// After the weights are written: an error telling what happened if the run diverged.
    pub fn verdict(&self, weights: &Path) -> Result<(), String> {
        match &self.diverged {
            None => Ok(()),
            Some(d) => Err(format!("{d} (wrote those to {})", weights.display())),
        }
    }
}

impl Curves {
    pub fn to_csv(&self) -> String {
        let mut out = String::from("step,train,validation\n");
        let mut validation = self.validation.iter().peekable();
        for (i, loss) in self.train.iter().enumerate() {
            let step = i + 1;
            match validation.next_if(|(s, _)| *s == step) {
                Some((_, v)) => out.push_str(&format!("{step},{loss},{v}\n")),
                None => out.push_str(&format!("{step},{loss},\n")),
            }
        }
        out
    }

    /// Reads what `to_csv` wrote (the report re-plots the curves next to the weights).
    pub fn from_csv(text: &str) -> Result<Self, String> {
        let mut curves = Curves { train: Vec::new(), validation: Vec::new(), diverged: None };
        for (i, row) in text.lines().enumerate().skip(1) {
            let fields: Vec<&str> = row.split(',').collect();
            let number = |s: &str| s.trim().parse::<f32>().map_err(|_| format!("line {}: `{row}`", i + 1));
            match fields.as_slice() {
                [_, train] | [_, train, ""] => curves.train.push(number(train)?),
                [_, train, validation] => {
                    curves.train.push(number(train)?);
                    curves.validation.push((curves.train.len(), number(validation)?));
                }
                _ => return Err(format!("line {}: `{row}` is not step,train,validation", i + 1)),
            }
        }
        Ok(curves)
    }

    /// Training loss (mean of each 10 steps, blue) and validation loss (orange) against the step.
    pub fn plot(&self, path: &Path, title: &str) -> Result<(), String> {
        let smoothed: Vec<(f64, f64)> = self
            .train
            .chunks(10)
            .enumerate()
            .map(|(i, c)| ((i * 10 + c.len()) as f64, c.iter().map(|&l| l as f64).sum::<f64>() / c.len() as f64))
            .collect();
        let validation: Vec<(f64, f64)> = self.validation.iter().map(|&(s, l)| (s as f64, l as f64)).collect();
        let titles = plot::Titles { title, x: "step", y: "loss" };
        let colours = plot::LABEL_COLOURS;
        plot::curves(
            path,
            titles,
            &[("training (mean of 10 steps)", &smoothed, colours[0]), ("held-out", &validation, colours[1])],
        )
    }
}

/// Runs `steps` optimisation steps, reading the loss back in groups of 10 (so a GPU is not stalled
/// after every step) and handing each group to the trainer's divergence guard (`check`), and
/// calling `validate` every `every` steps and at the end. A divergence ends the run early, the
/// trainer back at its last good state (`Curves::diverged`).
pub fn train_loop(
    steps: usize,
    mut step: impl FnMut() -> Tensor<1>,
    mut check: impl FnMut(&[f32]) -> Result<(), Divergence>,
    every: usize,
    mut validate: impl FnMut(usize) -> Result<Option<f32>, String>,
) -> Result<Curves, String> {
    let progress = bar(steps, "{bar:40} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}");
    let started = Instant::now();
    let mut curves = Curves { train: Vec::with_capacity(steps), validation: Vec::new(), diverged: None };
    let mut pending = Vec::new();
    for done in 1..=steps {
        pending.push(step());
        if pending.len() == 10 || done == steps {
            let group = to_vec(Tensor::cat(std::mem::take(&mut pending), 0))?;
            if let Err(divergence) = check(&group) {
                progress.abandon();
                curves.train.truncate(divergence.restored);
                curves.validation.retain(|&(s, _)| s <= divergence.restored);
                curves.diverged = Some(divergence);
                return Ok(curves);
            }
            curves.train.extend(group);
            let recent = &curves.train[curves.train.len().saturating_sub(50)..];
            let mean = recent.iter().sum::<f32>() / recent.len() as f32;
            let rate = done as f64 / started.elapsed().as_secs_f64();
            progress.set_message(format!("loss {mean:.4}  {rate:.2} steps/s"));
            progress.set_position(done as u64);
        }
        if (done % every == 0 || done == steps)
            && let Some(loss) = validate(done)?
        {
            curves.validation.push((done, loss));
        }
    }
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("trained {steps} steps in {seconds:.1} s ({:.2} steps/s)", steps as f64 / seconds);
    Ok(curves)
}
