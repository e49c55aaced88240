//! A target's density for drawing: exp(−f_*) at the cells of a grid over its extent, relative to
//! the highest cell (the page's energy panel draws it under the particles).

use burn::prelude::*;

use super::target::Target;

/// The cell centres of a `size` × `size` grid over `target`'s extent, row-major from the top row
/// (the way an image is drawn): [size², 2].
pub fn grid(target: &Target, size: usize, device: &Device) -> Tensor<2> {
    let ([x0, x1], [y0, y1]) = target.extent();
    let cells: Vec<f32> = (0..size * size)
        .flat_map(|i| {
            let (col, row) = ((i % size) as f64 + 0.5, (i / size) as f64 + 0.5);
            [(x0 + (x1 - x0) * col / size as f64) as f32, (y1 - (y1 - y0) * row / size as f64) as f32]
        })
        .collect();
    Tensor::from_data(TensorData::new(cells, [size * size, 2]), device)
}

/// exp(f_min − f) per cell: the density relative to its highest cell, 0 where f is not finite.
pub fn relative_density(f: &[f32]) -> Vec<f32> {
    let lowest = f.iter().copied().filter(|v| v.is_finite()).fold(f32::INFINITY, f32::min);
    f.iter().map(|v| if v.is_finite() { (lowest - v).exp() } else { 0.0 }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_densest_cell_is_one_and_the_grid_reads_like_an_image() {
        assert_eq!(relative_density(&[2.0, 1.0, f32::INFINITY]), [(-1f32).exp(), 1.0, 0.0]);
        let target = Target::named("ring").unwrap();
        let ([x0, _], [_, y1]) = target.extent();
        let cells: Vec<f32> = grid(&target, 4, &Device::flex()).into_data().try_into_vec().unwrap();
        assert_eq!(cells.len(), 32);
        // The first cell is the top-left one.
        assert!(cells[0] > x0 as f32 && cells[0] < 0.0 && cells[1] < y1 as f32 && cells[1] > 0.0);
    }
}
