//! The documented range of every numeric setting of the CLI and the page, in one table checked in
//! one place. The CLI's flags parse through [`Limit::check`], the configs' `validate` functions
//! check their fields against the same entries, the page sets its inputs' `min`/`max` from
//! [`ALL`] (through the web crate) and the README's table is tested against it.
//!
//! A range is the set of values that can run, not the set that works well: `--lr 1` is allowed
//! (and the divergence guard stops it), `--lr 0` or `--lr 50` is refused before any work.

use serde::Serialize;

use crate::error::{Error, Result};

/// One numeric setting's range: `min ≤ x ≤ max` (either end open where marked), an integer where
/// `integer`, and the page's tighter cap where the browser tab must stay responsive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limit {
    /// Its name in the table and the page (`data-limit`); the CLI flag is `--` + `flag` (none
    /// where empty: a page-only setting).
    pub id: &'static str,
    pub flag: &'static str,
    pub min: f64,
    pub max: f64,
    pub min_open: bool,
    pub max_open: bool,
    pub integer: bool,
    /// The most the page accepts, where that is less than `max`.
    pub page_max: Option<f64>,
    pub meaning: &'static str,
}

const fn int(id: &'static str, flag: &'static str, min: f64, max: f64, meaning: &'static str) -> Limit {
    Limit { id, flag, min, max, min_open: false, max_open: false, integer: true, page_max: None, meaning }
}

const fn real(id: &'static str, flag: &'static str, min: f64, max: f64, meaning: &'static str) -> Limit {
    Limit { id, flag, min, max, min_open: false, max_open: false, integer: false, page_max: None, meaning }
}

impl Limit {
    const fn open_below(self) -> Self {
        Self { min_open: true, ..self }
    }

    const fn open_above(self) -> Self {
        Self { max_open: true, ..self }
    }

    const fn page(self, page_max: f64) -> Self {
        Self { page_max: Some(page_max), ..self }
    }

    /// Whether `value` lies in the range (NaN never does).
    pub fn contains(&self, value: f64) -> bool {
        let above = if self.min_open { value > self.min } else { value >= self.min };
        let below = if self.max_open { value < self.max } else { value <= self.max };
        above && below && (!self.integer || value.fract() == 0.0)
    }

    /// The range as the README writes it: `[1, 10000000]`, `(0, 1]`.
    pub fn range_text(&self) -> String {
        let number = |x: f64| match x {
            x if x == u64::MAX as f64 => "2^64 − 1".to_string(),
            x if x != 0.0 && !(1e-3..1e8).contains(&x) => format!("{x:e}"),
            x => format!("{x}"),
        };
        let (open, close) = (if self.min_open { '(' } else { '[' }, if self.max_open { ')' } else { ']' });
        format!("{open}{}, {}{close}", number(self.min), number(self.max))
    }

    /// Ok when `value` lies in the range, else an error naming the setting, the range and the value.
    pub fn check(&self, value: f64) -> Result<()> {
        if self.contains(value) {
            return Ok(());
        }
        let kind = if self.integer { "an integer in" } else { "in" };
        Err(Error::Config(format!("{} must be {kind} {}, got {value}", self.meaning, self.range_text())))
    }

    /// [`Self::check`] against the page's cap (the range itself where it has none).
    pub fn check_page(&self, value: f64) -> Result<()> {
        self.check(value)?;
        match self.page_max {
            Some(cap) if value > cap => Err(Error::Config(format!(
                "{} {value} is more than the page takes ({cap}; the CLI takes up to {})",
                self.meaning, self.max
            ))),
            _ => Ok(()),
        }
    }
}

// Training.
pub const TRAIN_STEPS: Limit = int("train-steps", "steps", 1.0, 1e7, "training steps").page(100_000.0);
pub const BATCH: Limit = int("batch", "batch", 1.0, 1_048_576.0, "rows per training step").page(65_536.0);
pub const MNIST_BATCH: Limit = int("mnist-batch", "batch", 1.0, 4096.0, "images per UNet or judge training step");
pub const LR: Limit = real("lr", "lr", 0.0, 1.0, "the peak learning rate").open_below();
pub const VAL_FRACTION: Limit =
    real("val-fraction", "val-fraction", 0.0, 1.0, "the fraction of points held out").open_above();
pub const EVAL_EVERY: Limit = int("eval-every", "eval-every", 1.0, 1e7, "steps between held-out evaluations");
pub const EMA: Limit = real("ema", "ema", 0.0, 1.0, "the weights' moving-average decay").open_above();
pub const TIMESTEPS: Limit = int("timesteps", "timesteps", 2.0, 100_000.0, "the chain's length T").page(4000.0);
pub const BETA: Limit =
    real("beta", "beta-range", 0.0, 1.0, "a linear schedule's β_1 or β_T").open_below().open_above();
pub const IW_K: Limit = int("iw-k", "iw-k", 1.0, 64.0, "IWDiff's draws per (x₀, t)");
pub const IS_EXTRA: Limit = int("is-extra", "is-extra", 0.0, 16.0, "importance sampling's extra batches per step");
pub const EPOCHS: Limit = real("epochs", "epochs", 0.0, 10_000.0, "passes over the training set").open_below();
pub const WARMUP: Limit = int("warmup", "warmup", 0.0, 1e7, "linear warm-up steps");
pub const IMAGE_SIDE: Limit = int("side", "side", 4.0, 28.0, "the side of the images a UNet models (14: DDPM-14)");
pub const CHANNELS: Limit = int("channels", "channels", 1.0, 1024.0, "a UNet level's width");
pub const RES_BLOCKS: Limit = int("res-blocks", "res-blocks", 1.0, 8.0, "residual blocks per UNet level");
pub const T_MIN: Limit = real("t-min", "t-min", 1e-7, 0.5, "the smallest continuous time t");
pub const CHECKPOINT_EVERY: Limit = int("checkpoint-every", "checkpoint-every", 1.0, 1e7, "steps between checkpoints");
pub const GRID_EVERY: Limit = int("grid-every", "grid-every", 0.0, 1e7, "steps between sample grids (0: none)");
pub const COMPONENTS: Limit =
    int("components", "components", 1.0, 1000.0, "a Gaussian mixture's components").page(100.0);
pub const EM_ITERATIONS: Limit = int("em-iterations", "iterations", 1.0, 100_000.0, "EM iterations at most");
pub const LATENT: Limit = int("latent", "latent", 1.0, 256.0, "a VAE's latent dimensions");
pub const PREVIEW_EVERY: Limit =
    int("preview-every", "", 0.0, 100_000.0, "the page's steps between previews (0: none)");

// Sampling and evaluation.
pub const SAMPLES: Limit = int("samples", "n", 1.0, 1e7, "samples or points").page(20_000.0);
pub const COMPARE_SAMPLES: Limit = int("compare-samples", "n", 10.0, 100_000.0, "samples per compared sampler");
pub const REPORT_SAMPLES: Limit = int("report-samples", "n", 100.0, 1e6, "samples per report row");
pub const PARTICLES: Limit = int("particles", "n", 10.0, 100_000.0, "energy-sampler particles").page(20_000.0);
pub const IMAGES: Limit = int("images", "n", 1.0, 1e6, "MNIST images").page(256.0);
pub const IMAGE_BATCH: Limit = int("image-batch", "batch", 1.0, 100_000.0, "images per network call");
pub const SAMPLER_STEPS: Limit = int("sampler-steps", "steps", 1.0, 100_000.0, "sampler steps").page(2000.0);
pub const ODE_STEPS: Limit = int("ode-steps", "steps", 0.0, 1000.0, "the likelihood ODE's steps (0: the bound only)");
pub const T_MID: Limit = int("t-mid", "t-mid", 0.0, 100_000.0, "the chain step a surrogate start begins at");
pub const T_START: Limit = real("t-start", "t-start", 0.0, 1.0, "the time a surrogate start begins at");
pub const NFE: Limit = int("nfe", "nfe", 1.0, 100_000.0, "network evaluations");
pub const GUIDANCE: Limit = real("guidance", "scale, --guidance", 0.0, 100.0, "the guidance scale").page(20.0);
pub const SNR: Limit = real("snr", "snr", 0.0, 10.0, "the Langevin corrector's signal-to-noise ratio r").open_below();
pub const ETA: Limit = real("eta", "eta", 0.0, 1.0, "DDIM's η");
pub const PROBES: Limit = int("probes", "probes", 0.0, 1000.0, "Hutchinson probes (0: the exact divergence)");
pub const MNIST_PROBES: Limit = int("mnist-probes", "probes", 1.0, 64.0, "Hutchinson probes per MNIST image");
pub const LIKELIHOOD_BATCH: Limit = int("likelihood-batch", "batch", 1.0, 1000.0, "images per likelihood ODE solve");
pub const DECODER_SIGMA: Limit =
    real("decoder-sigma", "decoder-sigma", 0.001, 1000.0, "the decoder's σ in pixel levels");
pub const RDMC_T0: Limit = real("rdmc-t0", "rdmc-t0", 1e-7, 0.5, "the time rdMC starts an image from");
pub const BUDGET: Limit = int("budget", "budget", 10.0, 1e7, "∇f evaluations per sample").page(1e6);
pub const SEED: Limit = int("seed", "seed", 0.0, u64::MAX as f64, "the seed").page(4_294_967_295.0);

/// Every entry, in the README's order.
pub const ALL: &[Limit] = &[
    TRAIN_STEPS,
    BATCH,
    MNIST_BATCH,
    LR,
    VAL_FRACTION,
    EVAL_EVERY,
    EMA,
    TIMESTEPS,
    BETA,
    IW_K,
    IS_EXTRA,
    EPOCHS,
    WARMUP,
    IMAGE_SIDE,
    CHANNELS,
    RES_BLOCKS,
    T_MIN,
    CHECKPOINT_EVERY,
    GRID_EVERY,
    COMPONENTS,
    EM_ITERATIONS,
    LATENT,
    PREVIEW_EVERY,
    SAMPLES,
    COMPARE_SAMPLES,
    REPORT_SAMPLES,
    PARTICLES,
    IMAGES,
    IMAGE_BATCH,
    SAMPLER_STEPS,
    ODE_STEPS,
    T_MID,
    T_START,
    NFE,
    GUIDANCE,
    SNR,
    ETA,
    PROBES,
    MNIST_PROBES,
    LIKELIHOOD_BATCH,
    DECODER_SIGMA,
    RDMC_T0,
    BUDGET,
    SEED,
];

/// The entry named `id`.
pub fn by_id(id: &str) -> Option<&'static Limit> {
    ALL.iter().find(|limit| limit.id == id)
}

/// The README's table: one row per entry.
pub fn markdown_table() -> String {
    let mut table = String::from("| setting | flag | range | page | meaning |\n|---|---|---|---|---|\n");
    for limit in ALL {
        let page = limit.page_max.map_or("same".to_string(), |cap| format!("≤ {cap}"));
        let kind = if limit.integer { "integer " } else { "" };
        table.push_str(&format!(
            "| `{}` | {} | {kind}{} | {page} | {} |\n",
            limit.id,
            if limit.flag.is_empty() { "(page only)".to_string() } else { format!("`--{}`", limit.flag) },
            limit.range_text(),
            limit.meaning
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_open_and_closed_as_marked() {
        assert!(LR.check(1.0).is_ok() && LR.check(1e-9).is_ok());
        assert!(LR.check(0.0).is_err() && LR.check(1.5).is_err() && LR.check(f64::NAN).is_err());
        assert!(EMA.check(0.0).is_ok() && EMA.check(1.0).is_err());
        assert!(TRAIN_STEPS.check(2.5).is_err() && TRAIN_STEPS.check(0.0).is_err());
        let message = TRAIN_STEPS.check(0.0).unwrap_err().to_string();
        assert!(message.contains("training steps must be an integer in [1, 10000000], got 0"), "{message}");
        assert!(SAMPLES.check(1e7).is_ok() && SAMPLES.check_page(1e7).is_err() && SAMPLES.check_page(2e4).is_ok());
    }

    #[test]
    fn ids_are_unique_and_ranges_not_empty() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(ALL[i + 1..].iter().all(|b| b.id != a.id), "{} twice", a.id);
            assert!(a.min < a.max && a.page_max.is_none_or(|cap| cap > a.min && cap < a.max), "{a:?}");
            assert_eq!(by_id(a.id), Some(a));
        }
    }
}
