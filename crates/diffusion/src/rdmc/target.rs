//! Unnormalised targets p_* ∝ exp(−f_*) in 2-D, with f_* built from tensor ops so that ∇f_* is exact
//! (autodiff) and batched: one call evaluates every particle.

use burn::prelude::*;

use crate::error::{Error, Result};
use crate::metric::kde_nll::Kde;
use crate::rng::Rng;
use crate::sde::Sde;
use crate::sde::mixture::Mixture;
use crate::sde::score::{EpsScore, ScoreModel};

/// What rdMC and the Langevin baselines need of p_* ∝ exp(−f_*): ∇f_* always, and f_* itself
/// when it is known (importance resampling and MALA's accept test use it).
pub trait Potential {
    fn grad_f(&self, x: Tensor<2>) -> Tensor<2>;
    /// f_*(x) per row, or `None` for a potential known only through its gradient.
    fn f(&self, x: Tensor<2>) -> Option<Tensor<1>>;
}

impl Potential for Target {
    fn grad_f(&self, x: Tensor<2>) -> Tensor<2> {
        self.grad(x)
    }

    fn f(&self, x: Tensor<2>) -> Option<Tensor<1>> {
        Some(self.energy(x))
    }
}

/// A trained score model's density at its smallest time, as the report used it:
/// ∇f_* ≈ −s_θ(x, t_min); f_* is unknown, so no importance resampling and no MALA.
pub struct LearnedPotential<S: ScoreModel> {
    pub score: S,
    pub t_min: f64,
}

impl<'a> LearnedPotential<EpsScore<'a>> {
    /// A STATES denoiser's density.
    pub fn of(score: EpsScore<'a>) -> Self {
        let t_min = score.sde.t_min();
        Self { score, t_min }
    }
}

impl<S: ScoreModel> Potential for LearnedPotential<S> {
    fn grad_f(&self, x: Tensor<2>) -> Tensor<2> {
        self.score.score(x, self.t_min).neg()
    }

    fn f(&self, _: Tensor<2>) -> Option<Tensor<1>> {
        None
    }
}

#[derive(Clone, Debug)]
pub enum Target {
    /// A Gaussian mixture with known modes (for per-mode mass): log p_* in closed form.
    Mixture(Mixture),
    /// A ring of radius r and width σ: f = (‖x‖ − r)²/(2σ²).
    Ring { radius: f64, width: f64 },
    /// Neal's funnel in 2-D: x₁ ~ N(0, 3²), x₂ | x₁ ~ N(0, e^{x₁}):
    /// f = x₁²/18 + x₂² e^{−x₁}/2 + x₁/2 (e^{−x₁} capped at e^{40}, where the density is 0 anyway).
    Funnel,
    /// The Müller–Brown potential V(x) = Σ_i A_i exp(a_i (x−x_i)² + b_i (x−x_i)(y−y_i) + c_i (y−y_i)²)
    /// at inverse temperature β: f = β V (each e^e continued linearly past e = 80, where the density
    /// is 0 anyway, so f stays finite far out).
    MullerBrown { beta: f64 },
    /// The STATES density as the course grader sees it: f = −log KDE(x) (Scott bandwidth, the 5000
    /// points), evaluated against every data point.
    StatesKde(StatesKde),
}

/// The grader's KDE as tensors: the data [m, 2] and its fitted bandwidth.
#[derive(Clone, Debug)]
pub struct StatesKde {
    data: Vec<f32>,
    kde: Kde,
}

const MB_A: [f64; 4] = [-200.0, -100.0, -170.0, 15.0];
const MB_LA: [f64; 4] = [-1.0, -1.0, -6.5, 0.7];
const MB_LB: [f64; 4] = [0.0, 0.0, 11.0, 0.6];
const MB_LC: [f64; 4] = [-10.0, -10.0, -6.5, 0.7];
const MB_X: [f64; 4] = [1.0, 0.0, -0.5, -1.0];
const MB_Y: [f64; 4] = [0.0, 0.5, 1.5, 1.0];

impl Target {
    /// By the CLI's and the page's names.
    pub fn named(name: &str) -> Result<Self> {
        Ok(match name {
            "gmm4" => Target::Mixture(gmm4()),
            "gmm8" => Target::Mixture(Mixture::circle(8, 10.0, 0.7)),
            "ring" => Target::Ring { radius: 5.0, width: 0.5 },
            "funnel" => Target::Funnel,
            "muller-brown" => Target::MullerBrown { beta: 0.1 },
            "states-kde" => {
                let data = crate::data::states::states();
                Target::StatesKde(StatesKde { data: data.flat(), kde: Kde::fit(&data.xy)? })
            }
            other => {
                return Err(Error::Config(format!(
                    "unknown target `{other}`: gmm4, gmm8, ring, funnel, muller-brown or states-kde"
                )));
            }
        })
    }

    /// The mixture's modes, when the target has them.
    pub fn mixture(&self) -> Option<&Mixture> {
        match self {
            Target::Mixture(m) => Some(m),
            _ => None,
        }
    }

    /// A rough bound L on ‖∇²f_*‖ where the mass is (sets rdMC's inner and the baselines' steps).
    pub fn smoothness(&self) -> f64 {
        match self {
            Target::Mixture(m) => m.covariances.iter().map(|c| 1.0 / c[0].min(c[3])).fold(0.0, f64::max),
            Target::Ring { width, .. } => 1.0 / (width * width),
            Target::Funnel => 20.0,
            Target::MullerBrown { beta } => 1000.0 * beta,
            Target::StatesKde(_) => 50.0,
        }
    }

    /// rdMC's horizon T: 5, but 2 for Müller–Brown, whose mass sits in a box of side ~3 that the
    /// inner loop cannot find from e^{T} ≈ 150 away (at T = 2 the OU marginal is within ~0.15 of
    /// N(0, I)).
    pub fn horizon(&self) -> f64 {
        match self {
            Target::MullerBrown { .. } => 2.0,
            _ => 5.0,
        }
    }

    /// A box that holds nearly all of the mass (for heat maps and plots): (x range, y range).
    pub fn extent(&self) -> ([f64; 2], [f64; 2]) {
        match self {
            Target::Mixture(m) => {
                let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
                for (mean, c) in m.means.iter().zip(&m.covariances) {
                    for d in 0..2 {
                        let r = 4.0 * c[3 * d].sqrt();
                        lo[d] = lo[d].min(mean[d] - r);
                        hi[d] = hi[d].max(mean[d] + r);
                    }
                }
                ([lo[0], hi[0]], [lo[1], hi[1]])
            }
            Target::Ring { radius, width } => {
                let r = radius + 4.0 * width;
                ([-r, r], [-r, r])
            }
            Target::Funnel => ([-9.0, 9.0], [-15.0, 15.0]),
            Target::MullerBrown { .. } => ([-1.6, 1.2], [-0.5, 2.1]),
            Target::StatesKde(_) => ([-2.5, 2.5], [-2.5, 2.5]),
        }
    }

    /// Samples of p_*, the reference for MMD² and sliced W₂: exact draws, but for Müller–Brown
    /// draws from exp(−f_*) tabulated on a 1024² grid over its extent (a cell picked by its mass,
    /// then a uniform point in it; exact up to the 0.003-wide cells and the mass outside the box).
    /// Native only (the Müller–Brown table is read back synchronously).
    pub fn reference(&self, n: usize, rng: &mut Rng) -> Option<Vec<[f32; 2]>> {
        match self {
            Target::Mixture(m) => Some(m.sample(n, rng).0),
            // Radius from ∝ r exp(−(r − R)²/(2σ²)) by rejection from N(R, σ²), angle uniform.
            Target::Ring { radius, width } => Some(
                (0..n)
                    .map(|_| {
                        loop {
                            let r = radius + width * rng.normal();
                            if r > 0.0 && rng.uniform() * (radius + 6.0 * width) < r {
                                let a = std::f64::consts::TAU * rng.uniform();
                                break [(r * a.cos()) as f32, (r * a.sin()) as f32];
                            }
                        }
                    })
                    .collect(),
            ),
            Target::Funnel => Some(
                (0..n)
                    .map(|_| {
                        let x1 = 3.0 * rng.normal();
                        [x1 as f32, ((0.5 * x1).exp() * rng.normal()) as f32]
                    })
                    .collect(),
            ),
            Target::MullerBrown { .. } => Some(self.gridded_reference(n, 1024, rng)),
            Target::StatesKde(kde) => Some(kde.kde.sample(n, rng)),
        }
    }

    /// n draws from exp(−f_*) tabulated on a `size`² grid over the extent.
    fn gridded_reference(&self, n: usize, size: usize, rng: &mut Rng) -> Vec<[f32; 2]> {
        let ([x0, x1], [y0, y1]) = self.extent();
        let (dx, dy) = ((x1 - x0) / size as f64, (y1 - y0) / size as f64);
        let centres: Vec<f32> = (0..size * size)
            .flat_map(|i| [(x0 + ((i % size) as f64 + 0.5) * dx) as f32, (y0 + ((i / size) as f64 + 0.5) * dy) as f32])
            .collect();
        let device = Device::flex();
        let f: Vec<f32> = self
            .energy(Tensor::from_data(TensorData::new(centres, [size * size, 2]), &device))
            .into_data()
            .try_into_vec()
            .expect("a flex tensor reads back");
        let lowest = f.iter().copied().fold(f32::INFINITY, f32::min) as f64;
        let mut cumulative = Vec::with_capacity(f.len());
        let mut total = 0.0;
        for &v in &f {
            total += (lowest - v as f64).exp();
            cumulative.push(total);
        }
        (0..n)
            .map(|_| {
                let u = rng.uniform() * total;
                let cell = cumulative.partition_point(|&c| c < u).min(size * size - 1);
                let (col, row) = ((cell % size) as f64, (cell / size) as f64);
                [(x0 + (col + rng.uniform()) * dx) as f32, (y0 + (row + rng.uniform()) * dy) as f32]
            })
            .collect()
    }

    /// f_*(x) for each row: [n].
    pub fn energy(&self, x: Tensor<2>) -> Tensor<1> {
        let column = |x: &Tensor<2>, d: usize| x.clone().narrow(1, d, 1).reshape([-1]);
        match self {
            Target::Mixture(m) => m.log_prob(&Sde::vp(), x, 0.0).neg(),
            Target::Ring { radius, width } => {
                let r = x.square().sum_dim(1).reshape([-1]).add_scalar(1e-12).sqrt();
                r.sub_scalar(*radius).square().div_scalar(2.0 * width * width)
            }
            Target::Funnel => {
                let (x1, x2) = (column(&x, 0), column(&x, 1));
                // e^{−x₁} capped at e^{40} (x₁ < −40 is 13 standard deviations out): f32 would
                // overflow to ∞ there, and ∞ · 0 is NaN.
                x1.clone().square().div_scalar(18.0)
                    + x2.square() * x1.clone().neg().clamp_max(40.0).exp().mul_scalar(0.5)
                    + x1.mul_scalar(0.5)
            }
            Target::MullerBrown { beta } => {
                let (px, py) = (column(&x, 0), column(&x, 1));
                (0..4)
                    .map(|i| {
                        let dx = px.clone().sub_scalar(MB_X[i]);
                        let dy = py.clone().sub_scalar(MB_Y[i]);
                        let exponent = dx.clone().square().mul_scalar(MB_LA[i])
                            + (dx * dy.clone()).mul_scalar(MB_LB[i])
                            + dy.square().mul_scalar(MB_LC[i]);
                        // e^e continued linearly past e = 80 (f32 overflows at 88), so f stays finite
                        // and still pushes inwards far out: e^{min(e, 80)} (1 + e − min(e, 80)).
                        let capped = exponent.clone().clamp_max(80.0);
                        let beyond = (exponent - capped.clone()).add_scalar(1.0);
                        (capped.exp() * beyond).mul_scalar(MB_A[i])
                    })
                    .reduce(|a, b| a + b)
                    .expect("four terms")
                    .mul_scalar(*beta)
            }
            Target::StatesKde(kde) => kde.energy(x),
        }
    }

    /// ∇f_*(x): [n, 2], exact (the mixture's closed form, else autodiff through `energy`).
    pub fn grad(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Target::Mixture(m) => m.score(&Sde::vp(), x, 0.0).neg(),
            _ => {
                let x = x.detach().autodiff().require_grad();
                let grads = self.energy(x.clone()).sum().backward();
                x.grad(&grads).expect("x is tracked")
            }
        }
    }
}

/// The mixture of the rdMC paper's experiments: weights .1/.2/.3/.4 at (0,0), (0,11), (9,9), (11,0),
/// unit covariance.
pub fn gmm4() -> Mixture {
    Mixture::new(
        vec![0.1, 0.2, 0.3, 0.4],
        vec![[0.0, 0.0], [0.0, 11.0], [9.0, 9.0], [11.0, 0.0]],
        vec![[1.0, 0.0, 0.0, 1.0]; 4],
    )
    .expect("valid")
}

impl StatesKde {
    /// −log (1/m) Σ_j N(x; d_j, H) with H the Scott bandwidth: a log-sum-exp over the data.
    fn energy(&self, x: Tensor<2>) -> Tensor<1> {
        let device = x.device();
        let m = self.data.len() / 2;
        let whiten = self.kde.whitening_rows();
        let w = Tensor::<2>::from_data(TensorData::new(whiten.map(|v| v as f32).to_vec(), [2, 2]), &device);
        let data = Tensor::<2>::from_data(TensorData::new(self.data.clone(), [m, 2]), &device).matmul(w.clone());
        let z = x.matmul(w);
        // ‖z − d‖² = ‖z‖² − 2 z·d + ‖d‖², [n, m].
        let cross = z.clone().matmul(data.clone().transpose()).mul_scalar(-2.0);
        let squared = cross + z.square().sum_dim(1) + data.square().sum_dim(1).transpose();
        let logs = squared.mul_scalar(-0.5);
        let max = logs.clone().max_dim(1);
        let log_sum = (logs - max.clone()).exp().sum_dim(1).log().add(max).reshape([-1]);
        log_sum.add_scalar(self.kde.log_norm()).neg()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gridded reference (what Müller–Brown uses) reproduces a target we can sample exactly:
    /// gmm4's mode masses within 0.02 of .1/.2/.3/.4 over 8000 draws. And Müller–Brown's draws stay
    /// in its box, most of them in the deepest well, around (−0.56, 1.44).
    #[test]
    fn gridded_reference_matches_exact_draws() {
        let target = Target::named("gmm4").unwrap();
        let draws = target.gridded_reference(8000, 512, &mut Rng::new(4));
        let modes = [[0.0, 0.0], [0.0, 11.0], [9.0, 9.0], [11.0, 0.0]];
        let mut counts = [0usize; 4];
        for p in &draws {
            let d: Vec<f64> =
                modes.iter().map(|m| (p[0] as f64 - m[0]).powi(2) + (p[1] as f64 - m[1]).powi(2)).collect();
            counts[(0..4).min_by(|&a, &b| d[a].total_cmp(&d[b])).unwrap()] += 1;
        }
        for (k, w) in [0.1, 0.2, 0.3, 0.4].iter().enumerate() {
            let share = counts[k] as f64 / 8000.0;
            assert!((share - w).abs() < 0.02, "mode {k}: {share} vs {w}");
        }
        let mb = Target::named("muller-brown").unwrap();
        let ([x0, x1], [y0, y1]) = mb.extent();
        let draws = mb.reference(4000, &mut Rng::new(5)).unwrap();
        assert!(draws.iter().all(|p| (x0..=x1).contains(&(p[0] as f64)) && (y0..=y1).contains(&(p[1] as f64))));
        let deep = draws.iter().filter(|p| (p[0] + 0.56).hypot(p[1] - 1.44) < 0.4).count();
        assert!(deep > 2000, "{deep} of 4000 draws in the deepest well");
    }

    /// ∇f_* against central differences of f_*, for every target; the KDE energy is the grader's
    /// −log p̂.
    #[test]
    fn gradients_match_finite_differences() {
        let device = Device::flex();
        for name in ["gmm4", "gmm8", "ring", "funnel", "muller-brown", "states-kde"] {
            let target = Target::named(name).unwrap();
            let ([x0, x1], [y0, y1]) = target.extent();
            let points: Vec<[f64; 2]> =
                (1..4).map(|i| [x0 + (x1 - x0) * i as f64 / 4.3, y0 + (y1 - y0) * i as f64 / 3.7]).collect();
            let tensor = |p: &[[f64; 2]]| {
                Tensor::<2>::from_data(
                    TensorData::new(p.iter().flatten().map(|v| *v as f32).collect::<Vec<_>>(), [p.len(), 2]),
                    &device,
                )
            };
            let grad: Vec<f32> = target.grad(tensor(&points)).into_data().try_into_vec().unwrap();
            let scale = (x1 - x0).max(y1 - y0);
            let h = 1e-3 * scale;
            for (i, p) in points.iter().enumerate() {
                for d in 0..2 {
                    let (mut a, mut b) = (*p, *p);
                    a[d] += h;
                    b[d] -= h;
                    let f: Vec<f32> = target.energy(tensor(&[a, b])).into_data().try_into_vec().unwrap();
                    let numeric = (f[0] as f64 - f[1] as f64) / (2.0 * h);
                    let exact = grad[2 * i + d] as f64;
                    assert!(
                        (numeric - exact).abs() < 2e-2 * (1.0 + exact.abs()),
                        "{name} at {p:?}, d {d}: {exact} vs {numeric}"
                    );
                }
            }
        }
        let Target::StatesKde(kde) = Target::named("states-kde").unwrap() else { unreachable!() };
        let p = [0.3f32, -0.4];
        let f: f32 = kde.energy(Tensor::<2>::from_floats([p], &device)).into_scalar();
        assert!((f as f64 + kde.kde.log_pdf(&p)).abs() < 1e-3, "{f} vs {}", -kde.kde.log_pdf(&p));
        assert!(Target::named("banana").is_err());
    }

    /// Far out, where rdMC's early candidates land (e^T ≈ 150 from the origin), every target's
    /// energy and gradient stay numbers: the funnel's e^{−x₁} would overflow f32 at x₁ = −150,
    /// and ∞ · 0 (x₂ = 0) is NaN.
    #[test]
    fn energies_and_gradients_stay_finite_far_out() {
        let device = Device::flex();
        let far = Tensor::<2>::from_floats([[-150.0, 0.0], [-150.0, 1.0], [150.0, -150.0], [0.0, 1e4]], &device);
        for name in ["gmm4", "gmm8", "ring", "funnel", "muller-brown", "states-kde"] {
            let target = Target::named(name).unwrap();
            let f: Vec<f32> = target.energy(far.clone()).into_data().try_into_vec().unwrap();
            let g: Vec<f32> = target.grad(far.clone()).into_data().try_into_vec().unwrap();
            assert!(f.iter().chain(&g).all(|v| !v.is_nan()), "{name}: f {f:?}, ∇f {g:?}");
        }
    }
}
