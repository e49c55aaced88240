//! Maximum mean discrepancy MMD² (Gretton et al. 2012, unbiased estimator) with a Gaussian (RBF)
//! kernel k(a, b) = exp(−‖a − b‖²/(2h²)), h by the median heuristic over the pooled samples.

fn d2(a: &[f32; 2], b: &[f32; 2]) -> f64 {
    ((a[0] - b[0]) as f64).powi(2) + ((a[1] - b[1]) as f64).powi(2)
}

/// Up to `k` points spread evenly through `s`.
fn spread(s: &[[f32; 2]], k: usize) -> impl Iterator<Item = &[f32; 2]> {
    let stride = s.len().div_ceil(k.max(1)).max(1);
    s.iter().step_by(stride)
}

/// The median pairwise distance over the pooled points (at most 500 spread through each set, so
/// both sets count however large x is).
pub fn median_bandwidth(x: &[[f32; 2]], y: &[[f32; 2]]) -> f64 {
    let pooled: Vec<&[f32; 2]> = spread(x, 500).chain(spread(y, 500)).collect();
    let mut distances: Vec<f64> = (0..pooled.len())
        .flat_map(|i| (0..i).map(move |j| (i, j)))
        .map(|(i, j)| d2(pooled[i], pooled[j]).sqrt())
        .collect();
    distances.sort_by(f64::total_cmp);
    distances.get(distances.len() / 2).copied().unwrap_or(1.0).max(1e-12)
}

/// Unbiased MMD² between two samples (each with at least 2 points).
pub fn mmd2(x: &[[f32; 2]], y: &[[f32; 2]]) -> f64 {
    let h2 = 2.0 * median_bandwidth(x, y).powi(2);
    let k = |a: &[f32; 2], b: &[f32; 2]| (-d2(a, b) / h2).exp();
    let within = |s: &[[f32; 2]]| {
        let n = s.len() as f64;
        let total: f64 =
            (0..s.len()).map(|i| (0..s.len()).filter(|&j| j != i).map(|j| k(&s[i], &s[j])).sum::<f64>()).sum();
        total / (n * (n - 1.0))
    };
    let across: f64 =
        x.iter().map(|a| y.iter().map(|b| k(a, b)).sum::<f64>()).sum::<f64>() / (x.len() * y.len()) as f64;
    within(x) + within(y) - 2.0 * across
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn same_distribution_is_near_zero_and_a_shift_is_not() {
        let mut rng = Rng::new(0);
        let mut draw = |shift: f32| -> Vec<[f32; 2]> {
            (0..500).map(|_| [rng.normal() as f32 + shift, rng.normal() as f32]).collect()
        };
        let (a, b, c) = (draw(0.0), draw(0.0), draw(0.5));
        assert!(mmd2(&a, &b).abs() < 0.01, "{}", mmd2(&a, &b));
        assert!(mmd2(&a, &c) > 0.03, "{}", mmd2(&a, &c));
    }

    /// The bandwidth pools both sets: 2000 points at a tight cluster and 2000 spread wide give the
    /// same median in either order, one between the two sets' own medians.
    #[test]
    fn the_bandwidth_sees_both_sets() {
        let mut rng = Rng::new(3);
        let tight: Vec<[f32; 2]> =
            (0..2000).map(|_| [0.01 * rng.normal() as f32, 0.01 * rng.normal() as f32]).collect();
        let wide: Vec<[f32; 2]> = (0..2000).map(|_| [10.0 * rng.normal() as f32, 10.0 * rng.normal() as f32]).collect();
        let (a, b) = (median_bandwidth(&tight, &wide), median_bandwidth(&wide, &tight));
        assert!((a - b).abs() < 0.05 * a, "{a} vs {b}");
        assert!(a > median_bandwidth(&tight, &tight) * 10.0 && a < median_bandwidth(&wide, &wide), "{a}");
    }
}
