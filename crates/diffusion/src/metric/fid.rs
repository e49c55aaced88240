//! The Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017's FID,
//! here on the MNIST classifier's penultimate features):
//!   d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2},
//! computed on the host in f64 with symmetric eigendecompositions (cyclic Jacobi).

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

/// Eigenvalues and eigenvectors (columns of V, row-major) of a symmetric matrix: A = V Λ Vᵀ.
pub fn symmetric_eigen(a: &[f64], dim: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; dim * dim];
    (0..dim).for_each(|i| v[i * dim + i] = 1.0);
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..dim)
            .flat_map(|i| (0..dim).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * dim + j].powi(2))
            .sum();
        if off.sqrt() <= 1e-14 * scale {
            break;
        }
        for p in 0..dim {
            for q in p + 1..dim {
                let apq = a[p * dim + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                // The rotation that zeroes a_pq: tan 2θ = 2a_pq/(a_qq − a_pp).
                let theta = (a[q * dim + q] - a[p * dim + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..dim {
                    let (akp, akq) = (a[k * dim + p], a[k * dim + q]);
                    a[k * dim + p] = c * akp - s * akq;
                    a[k * dim + q] = s * akp + c * akq;
                }
                for k in 0..dim {
                    let (apk, aqk) = (a[p * dim + k], a[q * dim + k]);
                    a[p * dim + k] = c * apk - s * aqk;
                    a[q * dim + k] = s * apk + c * aqk;
                }
                for k in 0..dim {
                    let (vkp, vkq) = (v[k * dim + p], v[k * dim + q]);
                    v[k * dim + p] = c * vkp - s * vkq;
                    v[k * dim + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..dim).map(|i| a[i * dim + i]).collect(), v)
}

fn matmul(a: &[f64], b: &[f64], dim: usize) -> Vec<f64> {
    let mut out = vec![0.0; dim * dim];
    for i in 0..dim {
        for k in 0..dim {
            let aik = a[i * dim + k];
            for j in 0..dim {
                out[i * dim + j] += aik * b[k * dim + j];
            }
        }
    }
    out
}

/// d² between N(μ₁, Σ₁) and N(μ₂, Σ₂).
pub fn frechet_distance((mu1, cov1): (&[f64], &[f64]), (mu2, cov2): (&[f64], &[f64])) -> f64 {
    let dim = mu1.len();
    let (values, vectors) = symmetric_eigen(cov1, dim);
    // Σ₁^{1/2} = V Λ^{1/2} Vᵀ.
    let mut root = vec![0.0; dim * dim];
    for i in 0..dim {
        for j in 0..dim {
            root[i * dim + j] =
                (0..dim).map(|k| vectors[i * dim + k] * values[k].max(0.0).sqrt() * vectors[j * dim + k]).sum();
        }
    }
    let middle = matmul(&matmul(&root, cov2, dim), &root, dim);
    let symmetric: Vec<f64> =
        (0..dim * dim).map(|ij| 0.5 * (middle[ij] + middle[(ij % dim) * dim + ij / dim])).collect();
    let trace_root: f64 = symmetric_eigen(&symmetric, dim).0.iter().map(|l| l.max(0.0).sqrt()).sum();
    let trace = |c: &[f64]| (0..dim).map(|i| c[i * dim + i]).sum::<f64>();
    let mean_gap: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b).powi(2)).sum();
    mean_gap + trace(cov1) + trace(cov2) - 2.0 * trace_root
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
    fn eigen_reconstructs_a_symmetric_matrix() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, -0.2, 0.5, -0.2, 1.0];
        let (l, v) = symmetric_eigen(&a, 3);
        for i in 0..3 {
            for j in 0..3 {
                let r: f64 = (0..3).map(|k| v[i * 3 + k] * l[k] * v[j * 3 + k]).sum();
                assert!((r - a[i * 3 + j]).abs() < 1e-10);
            }
        }
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
}
