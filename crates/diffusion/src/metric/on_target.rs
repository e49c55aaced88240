//! Did guided samples land on the requested state? Two judges: the label of the nearest data
//! point, and the clean classifier's argmax at t = 0 (`classifier::classify`).

/// The label of each sample's nearest data point (Euclidean, brute force; ties to the first).
pub fn nearest_labels(data: &[[f32; 2]], data_labels: &[u8], samples: &[[f32; 2]]) -> Vec<u8> {
    samples
        .iter()
        .map(|s| {
            let distance = |p: &[f32; 2]| (p[0] - s[0]).powi(2) + (p[1] - s[1]).powi(2);
            let nearest = (0..data.len()).min_by(|&a, &b| distance(&data[a]).total_cmp(&distance(&data[b])));
            data_labels[nearest.expect("data is not empty")]
        })
        .collect()
}

/// The fraction of samples whose label equals the one requested for it.
pub fn agreement(labels: &[u8], requested: &[u8]) -> f64 {
    let hits = labels.iter().zip(requested).filter(|(l, r)| l == r).count();
    hits as f64 / labels.len().min(requested.len()).max(1) as f64
}

/// The fraction of `labels` equal to `target`.
pub fn fraction_on<T: PartialEq + Copy>(labels: &[T], target: T) -> f64 {
    labels.iter().filter(|&&l| l == target).count() as f64 / labels.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::states::states;

    #[test]
    fn the_data_is_its_own_nearest_point() {
        let data = states();
        let labels = data.labels.clone().unwrap();
        assert_eq!(nearest_labels(&data.xy, &labels, &data.xy), labels);
        // Points nudged off a state stay on it.
        let nudged: Vec<[f32; 2]> = data.with_label(3).xy.iter().map(|p| [p[0] + 0.01, p[1]]).collect();
        assert!(fraction_on(&nearest_labels(&data.xy, &labels, &nudged), 3u8) > 0.99);
        assert_eq!(fraction_on(&[1u8, 2, 2, 2], 2), 0.75);
    }
}
