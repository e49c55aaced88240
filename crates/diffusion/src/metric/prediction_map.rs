//! The classifier's prediction map: argmax_y f_φ(y | x, t) over a regular grid at a given t, the
//! course's qualitative check of the classifier (and the page's background under the particles).

use burn::prelude::*;

use crate::classifier::classify;
use crate::model::mlp::Mlp;
use crate::schedule::Schedule;

/// A `width` × `height` grid of cell centres over [x_min, x_max] × [y_min, y_max], rows from the top.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pub x: (f32, f32),
    pub y: (f32, f32),
    pub width: usize,
    pub height: usize,
}

impl Grid {
    /// The square the page and the plots draw STATES in.
    pub fn states(width: usize, height: usize) -> Self {
        Self { x: (-2.5, 2.5), y: (-2.5, 2.5), width, height }
    }

    /// Cell centres, row-major from the top-left: [width · height · 2].
    pub fn points(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.width * self.height * 2);
        for row in 0..self.height {
            let y = self.y.1 - (row as f32 + 0.5) / self.height as f32 * (self.y.1 - self.y.0);
            for col in 0..self.width {
                out.push(self.x.0 + (col as f32 + 0.5) / self.width as f32 * (self.x.1 - self.x.0));
                out.push(y);
            }
        }
        out
    }
}

/// The predicted label of every cell at time t: [width · height], row-major from the top.
pub fn prediction_map(classifier: &Mlp, schedule: &Schedule, grid: &Grid, t: usize, device: &Device) -> Tensor<1, Int> {
    let x = Tensor::from_data(TensorData::new(grid.points(), [grid.width * grid.height, 2]), device);
    classify(classifier, schedule, x, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_cells_run_left_to_right_then_down() {
        let grid = Grid { x: (0.0, 2.0), y: (0.0, 1.0), width: 2, height: 2 };
        assert_eq!(grid.points(), vec![0.5, 0.75, 1.5, 0.75, 0.5, 0.25, 1.5, 0.25]);
    }
}
