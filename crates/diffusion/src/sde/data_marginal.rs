//! The forward marginal of an empirical data set, p_t(x) = (1/n) Σ_i N(x; m(t) x_i, s(t)² I): the
//! density the reverse process should have at time t, on a grid (the page draws it under its
//! particles as t moves).

use crate::sde::Sde;

/// p_t at the centres of a `size` × `size` grid over [lo, hi]² (row 0 at y = hi, then down; within
/// a row x rises), for the data `points`: [size²]. For display, s is floored at one cell, so that
/// near t = 0 the narrowing bumps still land on the grid (the floor is the only approximation; at
/// s ≥ one cell the grid's sum of a bump is its mass to within 1e-8).
pub fn data_marginal_grid(sde: &Sde, t: f64, points: &[[f32; 2]], (lo, hi): (f64, f64), size: usize) -> Vec<f32> {
    let mut density = vec![0.0f64; size * size];
    if points.is_empty() || size == 0 || hi <= lo || hi.is_nan() || lo.is_nan() {
        return vec![0.0; size * size];
    }
    let cell = (hi - lo) / size as f64;
    let (m, s) = sde.marginal(t);
    let s = s.max(cell);
    let norm = 1.0 / (2.0 * std::f64::consts::PI * s * s * points.len() as f64);
    // Each point's bump reaches 5 s (e^{−12.5} ≈ 4e-6 of its peak) beyond which it is dropped.
    let reach = (5.0 * s / cell).ceil() as i64;
    let centre = |k: i64| lo + (k as f64 + 0.5) * cell;
    for p in points {
        let (mx, my) = (m * p[0] as f64, m * p[1] as f64);
        let (cx, cy) = (((mx - lo) / cell).floor() as i64, ((hi - my) / cell).floor() as i64);
        for row in (cy - reach).max(0)..(cy + reach + 1).min(size as i64) {
            let y = hi - (row as f64 + 0.5) * cell;
            for col in (cx - reach).max(0)..(cx + reach + 1).min(size as i64) {
                let d2 = (centre(col) - mx).powi(2) + (y - my).powi(2);
                density[row as usize * size + col as usize] += (-0.5 * d2 / (s * s)).exp();
            }
        }
    }
    density.into_iter().map(|d| (d * norm) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One point: the grid holds N(·; m x₀, s²) — its peak 1/(2π s²) at the cell of m x₀ and its
    /// mass ∫ p = 1 over a grid that contains it; the mass stays 1 for many points, at any t.
    #[test]
    fn the_grid_is_the_gaussian_mixture() {
        let sde = Sde::vp();
        let (lo, hi, size) = (-5.0, 5.0, 200);
        let cell = (hi - lo) / size as f64;
        let t = 0.3;
        let (m, s) = sde.marginal(t);
        // x₀ chosen so m x₀ falls on a cell centre, (0.525, 0.525), and x₀ itself (m ≈ 0.63) cells away.
        let x0 = [(0.525 / m) as f32, (0.525 / m) as f32];
        let grid = data_marginal_grid(&sde, t, &[x0], (lo, hi), size);
        let mass: f64 = grid.iter().map(|&d| d as f64 * cell * cell).sum();
        assert!((mass - 1.0).abs() < 1e-3, "mass {mass}");
        let peak = grid.iter().cloned().fold(0.0f32, f32::max) as f64;
        let want = 1.0 / (2.0 * std::f64::consts::PI * s * s);
        assert!((peak - want).abs() < 1e-3 * want, "peak {peak} vs {want}");
        let (row, col) = (((hi - 0.525) / cell) as usize, ((0.525 - lo) / cell) as usize);
        assert_eq!(grid[row * size + col] as f64, peak, "the peak is off its cell");
        let points: Vec<[f32; 2]> = (0..50).map(|i| [(i as f32 * 0.37).sin(), (i as f32 * 0.91).cos()]).collect();
        for t in [0.01, 0.5, 0.9] {
            let mass: f64 =
                data_marginal_grid(&sde, t, &points, (-6.0, 6.0), 96).iter().map(|&d| d as f64 * 0.015625).sum();
            assert!((mass - 1.0).abs() < 0.01, "t {t}: mass {mass}");
        }
        assert!(data_marginal_grid(&sde, t, &[], (lo, hi), 4).iter().all(|&d| d == 0.0));
    }
}
