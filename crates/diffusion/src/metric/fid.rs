//! The Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017's FID,
//! here on the MNIST classifier's penultimate features):
//!   d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2},
//! computed on the host in f64 with nalgebra's symmetric eigendecomposition.

use nalgebra::{DMatrix, SymmetricEigen};

use crate::error::{Error, Result};

/// Mean and covariance (divisor n − 1) of `n` rows of `dim` features.
pub fn moments(features: &[f32], dim: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = features.len() / dim.max(1);
    if dim == 0 || n < 2 || features.len() != n * dim {
        return Err(Error::Config(format!("need at least 2 rows of {dim} features, got {} values", features.len())));
    }
    let mut mean = vec![0.0; dim];
    for row in features.chunks_exact(dim) {
        mean.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64 / n as f64);
    }
    let mut cov = vec![0.0; dim * dim];
    for row in features.chunks_exact(dim) {
        let centred: Vec<f64> = row.iter().zip(&mean).map(|(&v, m)| v as f64 - m).collect();
        for i in 0..dim {
            for j in i..dim {
                cov[i * dim + j] += centred[i] * centred[j];
            }
        }
    }
    for i in 0..dim {
        for j in i..dim {
            let v = cov[i * dim + j] / (n - 1) as f64;
            cov[i * dim + j] = v;
            cov[j * dim + i] = v;
        }
    }
    Ok((mean, cov))
}

/// Σ^{1/2} = V Λ^{1/2} Vᵀ of a symmetric positive semi-definite matrix (eigenvalues below 0 from
/// rounding are taken as 0).
fn sqrt_psd(a: &DMatrix<f64>) -> DMatrix<f64> {
    let eigen = SymmetricEigen::new(a.clone());
    let root = eigen.eigenvalues.map(|l| l.max(0.0).sqrt());
    &eigen.eigenvectors * DMatrix::from_diagonal(&root) * eigen.eigenvectors.transpose()
}

/// d² between N(μ₁, Σ₁) and N(μ₂, Σ₂) (covariances row-major, `dim × dim`); tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}
/// is the sum of the square roots of that symmetric matrix's eigenvalues.
pub fn frechet_distance((mu1, cov1): (&[f64], &[f64]), (mu2, cov2): (&[f64], &[f64])) -> f64 {
    let dim = mu1.len();
    // Row-major and column-major agree on a symmetric matrix.
    let (c1, c2) = (DMatrix::from_row_slice(dim, dim, cov1), DMatrix::from_row_slice(dim, dim, cov2));
    let root = sqrt_psd(&c1);
    let middle = &root * &c2 * &root;
    let symmetric = (&middle + middle.transpose()) * 0.5;
    let trace_root: f64 = SymmetricEigen::new(symmetric).eigenvalues.iter().map(|l| l.max(0.0).sqrt()).sum();
    let mean_gap: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b).powi(2)).sum();
    mean_gap + c1.trace() + c2.trace() - 2.0 * trace_root
}

/// d² between the Gaussians fitted to two feature sets of width `dim`.
pub fn fid(a: &[f32], b: &[f32], dim: usize) -> Result<f64> {
    let (mu1, cov1) = moments(a, dim)?;
    let (mu2, cov2) = moments(b, dim)?;
    Ok(frechet_distance((&mu1, &cov1), (&mu2, &cov2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_root_squares_back() {
        let a = DMatrix::from_row_slice(3, 3, &[4.0, 1.0, 0.5, 1.0, 3.0, -0.2, 0.5, -0.2, 1.0]);
        let root = sqrt_psd(&a);
        assert!((&root * &root - &a).abs().max() < 1e-12);
        assert!((&root - root.transpose()).abs().max() < 1e-12);
    }

    /// Closed forms: for commuting covariances d² = ‖Δμ‖² + Σ_i (√λ_i − √κ_i)²; the distance of a
    /// Gaussian to itself is 0.
    #[test]
    fn matches_closed_forms() {
        let mu = [0.0, 0.0];
        let (c1, c2) = ([4.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 9.0]);
        let d = frechet_distance((&mu, &c1), (&[3.0, 4.0], &c2));
        assert!((d - (25.0 + 1.0 + 4.0)).abs() < 1e-9, "{d}");
        let c = [2.0, 0.7, 0.7, 1.0];
        assert!(frechet_distance((&mu, &c), (&mu, &c)).abs() < 1e-9);
        // A rotated (non-commuting) pair: 1-D check along each axis is not enough, so compare with
        // the 2×2 formula tr√(AB) = √(λ₁) + √(λ₂) of AB's eigenvalues via trace and determinant.
        let (a, b) = ([2.0, 0.5, 0.5, 1.0], [1.0, -0.3, -0.3, 3.0]);
        let ab = [
            a[0] * b[0] + a[1] * b[2],
            a[0] * b[1] + a[1] * b[3],
            a[2] * b[0] + a[3] * b[2],
            a[2] * b[1] + a[3] * b[3],
        ];
        let (tr, det): (f64, f64) = (ab[0] + ab[3], ab[0] * ab[3] - ab[1] * ab[2]);
        let trace_root = (tr + 2.0 * det.sqrt()).sqrt();
        let want = a[0] + a[3] + b[0] + b[3] - 2.0 * trace_root;
        let d = frechet_distance((&mu, &a), (&mu, &b));
        assert!((d - want).abs() < 1e-9, "{d} vs {want}");
    }

    /// The distance is symmetric in its two Gaussians even when the covariances do not commute,
    /// which the Σ₁^{1/2} Σ₂ Σ₁^{1/2} form does not make obvious; checked at the judge's width.
    #[test]
    fn is_symmetric_at_feature_width() {
        let dim = 128;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f32 / (1u64 << 53) as f32 - 0.5
        };
        let a: Vec<f32> = (0..400 * dim).map(|_| next()).collect();
        let b: Vec<f32> = (0..400 * dim).map(|i| next() * (1.0 + (i % dim) as f32 / 64.0) + 0.1).collect();
        let (ab, ba) = (fid(&a, &b, dim).unwrap(), fid(&b, &a, dim).unwrap());
        assert!(ab > 1.0 && (ab - ba).abs() < 1e-9 * ab, "{ab} vs {ba}");
        assert!(fid(&a, &a, dim).unwrap().abs() < 1e-9);
    }
}
