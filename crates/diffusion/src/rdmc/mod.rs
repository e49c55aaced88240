//! Reverse diffusion Monte Carlo (Huang, Dong, Hao, Ma, Zhang, ICLR 2024, arXiv 2307.02037):
//! sampling p_* ∝ exp(−f_*) by running the reverse Ornstein–Uhlenbeck process with scores estimated
//! by an inner Monte-Carlo loop, no training. Derived from the OU process, not the report:
//!   forward  dx = −x dt + √2 dB,  x_t | x_0 ~ N(e^{−t} x_0, (1 − e^{−2t}) I);
//!   reverse  dx = (x + 2∇log p_{T−t}(x)) dt + √2 dB;
//!   step     x_{k+1} = e^{η} x_k + 2(e^{η} − 1) v_k + √(e^{2η} − 1) ξ  (score frozen at v_k);
//!   score    ∇log p_t(x) = E_{x_0 ~ q_t(·|x)} [(e^{−t} x_0 − x)/(1 − e^{−2t})],
//!            q_t(x_0 | x) ∝ exp(−f_*(x_0) − ‖x − e^{−t} x_0‖²/(2(1 − e^{−2t}))).

pub mod heat_map;
pub mod langevin;
pub mod sampler;
pub mod target;
