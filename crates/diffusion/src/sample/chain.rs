//! The discrete reverse chain x_T → x_0 as a state machine: `step` advances to the next time of
//! the grid (all of T..0, or a respaced DDIM grid) with the chosen update rule, so a caller can
//! draw, stop or keep the trajectory.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sample::EpsModel;
use crate::sample::ancestral::ancestral_step;
use crate::sample::ddim::ddim_step;
use crate::schedule::Schedule;

/// How x_{t−1} is drawn from x_t and ε̂.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rule {
    /// Ho et al. Algorithm 2 (stochastic).
    #[default]
    Ancestral,
    /// DDIM with η = 0 (deterministic given x_T): the course handout's guided update.
    Ddim,
}

impl std::str::FromStr for Rule {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "ancestral" => Ok(Rule::Ancestral),
            "ddim" => Ok(Rule::Ddim),
            other => Err(Error::Config(format!("unknown sampler `{other}` (ancestral or ddim)"))),
        }
    }
}

pub struct Chain {
    rule: Rule,
    x: Tensor<2>,
    /// Times from T down to 0; `i` indexes the current one.
    grid: Vec<usize>,
    i: usize,
    eta: f64,
    rng: Rng,
}

impl Chain {
    /// x_T ~ N(0, I) for `n` points, all noise drawn from `seed` (the same x_T for either rule).
    pub fn new(rule: Rule, n: usize, schedule: &Schedule, seed: u64, device: &Device) -> Self {
        let mut rng = Rng::new(seed);
        let x = Tensor::from_data(TensorData::new(rng.normals(n * 2), [n, 2]), device);
        Self { rule, x, grid: (0..=schedule.steps).rev().collect(), i: 0, eta: 0.0, rng }
    }

    /// DDIM on `steps` evenly spaced times T = τ_K > … > τ_0 = 0 with stochasticity η.
    pub fn respaced(mut self, steps: usize, eta: f64, schedule: &Schedule) -> Result<Self> {
        if self.rule != Rule::Ddim {
            return Err(Error::Config("respacing needs the DDIM rule (η = 1 is respaced ancestral sampling)".into()));
        }
        if !(1..=schedule.steps).contains(&steps) || !(0.0..=1.0).contains(&eta) {
            return Err(Error::Config(format!(
                "need 1 ≤ steps ≤ {} and 0 ≤ η ≤ 1, got {steps}, {eta}",
                schedule.steps
            )));
        }
        let t_max = schedule.steps;
        self.grid = (0..=steps).rev().map(|k| (k * t_max + steps / 2) / steps).collect();
        self.grid.dedup();
        self.eta = eta;
        Ok(self)
    }

    /// The current time step (T at the start, 0 when done).
    pub fn t(&self) -> usize {
        self.grid[self.i]
    }

    /// Network evaluations so far (one per step).
    pub fn nfe(&self) -> usize {
        self.i
    }

    pub fn x(&self) -> Tensor<2> {
        self.x.clone()
    }

    fn noise(&mut self) -> Tensor<2> {
        let [n, _] = self.x.dims();
        Tensor::from_data(TensorData::new(self.rng.normals(n * 2), [n, 2]), &self.x.device())
    }

    /// x_t → x_{t'} (the next time of the grid); does nothing once t = 0.
    pub fn step(&mut self, model: &impl EpsModel, schedule: &Schedule) {
        if self.t() == 0 {
            return;
        }
        let (t, t_prev) = (self.grid[self.i], self.grid[self.i + 1]);
        let x_t = self.x.clone();
        self.x = match self.rule {
            Rule::Ancestral => {
                let z = self.noise();
                ancestral_step(model, schedule, x_t, t, z)
            }
            Rule::Ddim => {
                let z = (self.eta > 0.0).then(|| self.noise());
                ddim_step(model, schedule, x_t, (t, t_prev), self.eta, z)
            }
        };
        self.i += 1;
    }

    /// Runs to t = 0 and returns x_0.
    pub fn run(mut self, model: &impl EpsModel, schedule: &Schedule) -> Tensor<2> {
        while self.t() > 0 {
            self.step(model, schedule);
        }
        self.x
    }
}
