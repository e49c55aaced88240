//! The discrete reverse chain x_T → x_0 as a state machine: `step` advances t by one with the
//! chosen update rule, so a caller can draw, stop or keep the trajectory.

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
    t: usize,
    rng: Rng,
}

impl Chain {
    /// x_T ~ N(0, I) for `n` points, all noise drawn from `seed` (the same x_T for either rule).
    pub fn new(rule: Rule, n: usize, schedule: &Schedule, seed: u64, device: &Device) -> Self {
        let mut rng = Rng::new(seed);
        let x = Tensor::from_data(TensorData::new(rng.normals(n * 2), [n, 2]), device);
        Self { rule, x, t: schedule.steps, rng }
    }

    /// The current time step (T at the start, 0 when done).
    pub fn t(&self) -> usize {
        self.t
    }

    pub fn x(&self) -> Tensor<2> {
        self.x.clone()
    }

    /// x_t → x_{t−1}; does nothing once t = 0.
    pub fn step(&mut self, model: &impl EpsModel, schedule: &Schedule) {
        if self.t == 0 {
            return;
        }
        let x_t = self.x.clone();
        self.x = match self.rule {
            Rule::Ancestral => {
                let [n, _] = x_t.dims();
                let z = Tensor::from_data(TensorData::new(self.rng.normals(n * 2), [n, 2]), &x_t.device());
                ancestral_step(model, schedule, x_t, self.t, z)
            }
            Rule::Ddim => ddim_step(model, schedule, x_t, self.t, self.t - 1),
        };
        self.t -= 1;
    }

    /// Runs to t = 0 and returns x_0.
    pub fn run(mut self, model: &impl EpsModel, schedule: &Schedule) -> Tensor<2> {
        while self.t > 0 {
            self.step(model, schedule);
        }
        self.x
    }
}
