//! Sample precision on a thin support: the fraction of samples that lie as close to the data as the
//! data's own points lie to each other. The KDE grader has a wide (Scott) kernel, so haze between
//! the outlines barely moves it; this number does.
//!
//! r = the 95th percentile of the data's leave-one-out nearest-neighbour distances;
//! precision = #{samples x : min_i ‖x − xᵢ‖ ≤ r} / #samples (≈ 0.95 for a fresh draw of the data).

fn nearest_distance(p: &[f32; 2], data: &[[f32; 2]], skip: Option<usize>) -> f32 {
    let d2 = data
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(|(_, q)| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2))
        .fold(f32::INFINITY, f32::min);
    d2.sqrt()
}

/// The radius r: 95th percentile of the data's nearest-neighbour distances (leave one out).
pub fn support_radius(data: &[[f32; 2]]) -> f32 {
    let mut d: Vec<f32> = data.iter().enumerate().map(|(i, p)| nearest_distance(p, data, Some(i))).collect();
    d.sort_by(f32::total_cmp);
    d[((d.len() as f64 * 0.95) as usize).min(d.len() - 1)]
}

/// Fraction of `samples` within `radius` of some data point.
pub fn precision(samples: &[[f32; 2]], data: &[[f32; 2]], radius: f32) -> f64 {
    let near = samples.iter().filter(|p| nearest_distance(p, data, None) <= radius).count();
    near as f64 / samples.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::states::states;

    #[test]
    fn data_scores_its_percentile_and_haze_scores_low() {
        let data = states().xy;
        let r = support_radius(&data);
        assert!(r > 0.0 && r < 0.2, "{r}");
        // Leave-one-out distances ≤ r for 95% of the data; with itself in the set, all of it.
        assert_eq!(precision(&data, &data, r), 1.0);
        // A uniform haze over the bounding box mostly misses the thin outlines.
        let haze: Vec<[f32; 2]> =
            (0..400).map(|i| [-2.0 + 0.2 * (i % 20) as f32, -1.8 + 0.17 * (i / 20) as f32]).collect();
        assert!(precision(&haze, &data, r) < 0.5);
    }
}
