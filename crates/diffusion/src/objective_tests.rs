//! The point-denoising objective: the forward process, minibatches, IWDiff and importance-sampled t.

use super::*;
use crate::schedule::ScheduleConfig;

/// The forward marginals: for fixed x_0 and t, x_t has mean √ᾱ_t x_0 and variance 1 − ᾱ_t.
#[test]
fn forward_process_has_the_right_marginals() {
    let schedule = ScheduleConfig::default().init().unwrap();
    let mut rng = Rng::new(11);
    let x_0 = [1.5f32, -0.5];
    let n = 100_000;
    for t in [1, 50, 250, 500] {
        let xs: Vec<[f32; 2]> =
            (0..n).map(|_| schedule.q_sample(x_0, t, [rng.normal() as f32, rng.normal() as f32])).collect();
        for d in 0..2 {
            let mean = xs.iter().map(|p| p[d] as f64).sum::<f64>() / n as f64;
            let var = xs.iter().map(|p| (p[d] as f64 - mean).powi(2)).sum::<f64>() / n as f64;
            let (want_mean, want_var) = (schedule.alpha_bar[t].sqrt() * x_0[d] as f64, 1.0 - schedule.alpha_bar[t]);
            // 5 standard errors: √(var/n) for the mean, var·√(2/n) for the variance.
            assert!((mean - want_mean).abs() < 5.0 * (want_var / n as f64).sqrt(), "t {t}: mean {mean} vs {want_mean}");
            assert!(
                (var - want_var).abs() < 5.0 * want_var * (2.0 / n as f64).sqrt(),
                "t {t}: var {var} vs {want_var}"
            );
        }
    }
}

#[test]
fn batches_are_reproducible_and_well_formed() {
    let schedule = ScheduleConfig::default().init().unwrap();
    let data = [[0.0f32, 1.0], [2.0, 3.0]];
    let a = DenoiserBatch::draw(&data, &schedule, 64, &mut Rng::new(3));
    let b = DenoiserBatch::draw(&data, &schedule, 64, &mut Rng::new(3));
    assert_eq!((a.input.len(), a.target.len()), (192, 128));
    assert_eq!(a.input, b.input);
    assert!(a.input.chunks(3).all(|row| row[2] > -1.0 && row[2] <= 1.0));
    // k draws per (x₀, t): the rows of a group share x₀'s t and differ in ε.
    let grouped = ChainBatch::draw(&data, &schedule, 8, 4, None, &mut Rng::new(3));
    assert_eq!(grouped.steps.len(), 32);
    for group in grouped.steps.chunks(4) {
        assert!(group.iter().all(|&t| t == group[0]));
    }
    assert_eq!(grouped.group_steps().count(), 8);
    assert_ne!(grouped.eps[0..2], grouped.eps[2..4]);
}

fn iw_run(loss: EpsLoss, device: &Device) -> Vec<f32> {
    use crate::checkpoint::CheckpointConfig;
    use crate::data::states::states;
    use crate::train::TrainConfig;
    let train = TrainConfig { steps: 5, batch: 256, loss, ..Default::default() };
    let mut trainer = CheckpointConfig::denoiser().denoiser_trainer(&train, states().xy, device).unwrap();
    (0..5).map(|_| trainer.step().into_scalar::<f32>()).collect()
}

/// IWDiff with one draw per (x₀, t) is L_simple, bit for bit, through a whole (short) run: the
/// same minibatches, w̃ = 1, the same reduction.
#[test]
fn iwdiff_with_one_draw_is_l_simple() {
    let device = Device::flex();
    let simple = iw_run(EpsLoss::Simple, &device);
    assert_eq!(iw_run(EpsLoss::Iwdiff { k: 1, worst_first: true }, &device), simple);
    assert_eq!(iw_run(EpsLoss::Iwdiff { k: 1, worst_first: false }, &device), simple);
    assert_ne!(iw_run(EpsLoss::Iwdiff { k: 2, worst_first: true }, &device), simple);
}

/// Importance-sampled t in a real run: p is uniform until every t has 10 losses (here after a
/// few steps, the refresh batches helping), then follows the losses; the run stays finite,
/// and the same seed gives the same run.
#[test]
fn importance_sampled_runs_fill_the_history_and_repeat() {
    use crate::checkpoint::CheckpointConfig;
    use crate::data::states::states;
    use crate::importance::StepSampling;
    use crate::train::TrainConfig;
    let device = Device::flex();
    let mut config = CheckpointConfig::denoiser();
    config.schedule = ScheduleConfig::named("linear", 50, Some((4e-4, 0.18))).unwrap();
    let train =
        TrainConfig { steps: 6, batch: 128, t_sampling: StepSampling::Importance { extra: 2 }, ..Default::default() };
    let run = || {
        let mut trainer = config.denoiser_trainer(&train, states().xy, &device).unwrap();
        let first = trainer.objective().t_probabilities().unwrap();
        let losses: Vec<f32> = (0..6).map(|_| trainer.step().into_scalar::<f32>()).collect();
        (first, trainer.objective().t_probabilities().unwrap(), losses)
    };
    let (first, last, losses) = run();
    assert!(first.iter().all(|&p| p == 1.0 / 50.0));
    assert!((last.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    let (lo, hi) = last.iter().fold((1.0f64, 0.0f64), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    assert!(hi > 1.5 * lo, "p did not leave uniform: {lo} … {hi}");
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert_eq!(run().2, losses);
}

/// Deferred recording (the page's: the step leaves its losses, they are read afterwards and then
/// recorded) is the same run as recording inside the step, loss for loss; and the drawn-t counts
/// add up to the training minibatches' groups.
#[test]
fn deferred_importance_recording_is_the_same_run() {
    use crate::checkpoint::CheckpointConfig;
    use crate::data::states::states;
    use crate::importance::StepSampling;
    use crate::train::TrainConfig;
    let device = Device::flex();
    let mut config = CheckpointConfig::denoiser();
    config.schedule = ScheduleConfig::named("linear", 50, Some((4e-4, 0.18))).unwrap();
    let train =
        TrainConfig { steps: 8, batch: 128, t_sampling: StepSampling::Importance { extra: 2 }, ..Default::default() };
    let mut inline = config.denoiser_trainer(&train, states().xy, &device).unwrap();
    let want: Vec<f32> = (0..8).map(|_| inline.step().into_scalar::<f32>()).collect();
    let mut deferred = config.denoiser_trainer(&train, states().xy, &device).unwrap();
    deferred.objective_mut().defer_recording();
    let mut got = Vec::new();
    for _ in 0..8 {
        got.push(deferred.step().into_scalar::<f32>());
        let pending = deferred.objective().take_pending();
        assert_eq!(pending.len(), 3, "the step's batch and its two refresh batches");
        for (steps, losses) in pending {
            let losses: Vec<f32> = losses.into_data().convert::<f32>().try_into_vec().unwrap();
            deferred.objective().record_losses(&steps, &losses);
        }
    }
    assert_eq!(got, want);
    assert_eq!(deferred.objective().t_probabilities(), inline.objective().t_probabilities());
    let counts = deferred.objective().t_counts();
    assert_eq!((counts.len(), counts.iter().sum::<u64>()), (50, 8 * 128));
}

/// IWDiff's accumulated gradients (one draw at a time) are the full minibatch's, and so is
/// the loss: k = 3, both signs, on the same minibatch.
#[test]
fn iwdiff_accumulated_gradients_equal_the_full_batch() {
    use crate::data::states::states;
    use crate::importance::StepSampling;
    use crate::model::mlp::MlpConfig;
    let device = Device::flex().autodiff();
    let schedule = ScheduleConfig::default().init().unwrap();
    let model = MlpConfig::denoiser().init(&device, 3).unwrap();
    for worst_first in [true, false] {
        let objective = |accumulate: bool| {
            let loss = EpsLoss::Iwdiff { k: 3, worst_first };
            let o = PointDenoising::new(
                Denoising::Ddpm(schedule.clone()),
                states().xy,
                (64, loss, StepSampling::Uniform),
                &MlpConfig::denoiser(),
            )
            .unwrap();
            if accumulate { o } else { o.without_accumulation() }
        };
        let (loss_a, grads_a) = objective(true).loss_and_grads(&model, &mut Rng::new(8), &device);
        let (loss_b, grads_b) = objective(false).loss_and_grads(&model, &mut Rng::new(8), &device);
        let (a, b) = (loss_a.into_scalar::<f32>(), loss_b.into_scalar::<f32>());
        assert!((a - b).abs() < 1e-5 * b.abs(), "{worst_first}: loss {a} vs {b}");
        for layer in &model.layers {
            let pairs = [
                (grads_a.get::<2>(layer.weight.id).unwrap(), grads_b.get::<2>(layer.weight.id).unwrap()),
                (
                    grads_a.get::<1>(layer.bias.as_ref().unwrap().id).unwrap().unsqueeze(),
                    grads_b.get::<1>(layer.bias.as_ref().unwrap().id).unwrap().unsqueeze(),
                ),
            ];
            for (ga, gb) in pairs {
                let gap: f32 = (ga - gb.clone()).abs().max().into_scalar();
                let size: f32 = gb.abs().max().into_scalar();
                assert!(gap <= 1e-4 * size && size > 0.0, "{worst_first}: gradient gap {gap} of {size}");
            }
        }
    }
}

/// Two draws with l = (1, 3): the seed's weights softmax(l) = (1, e²)/(1 + e²), IWAE's the
/// reverse; the gradient is w̃_i ∂l_i, with no term through the weights.
#[test]
fn iwdiff_weights_and_gradient() {
    let device = Device::flex();
    // One coordinate pair per row: l_1 = (1² + 1²)/2 = 1, l_2 = (√3² + √3²)/2 = 3.
    let r = 3f32.sqrt();
    let eps = Tensor::<2>::zeros([2, 2], &device);
    let (e2, w_worst) = ((2f64).exp(), (2f64).exp() / (1.0 + (2f64).exp()));
    for (worst_first, w2) in [(true, w_worst), (false, 1.0 - w_worst)] {
        let eps_hat = Tensor::<2>::from_floats([[1.0, 1.0], [r, r]], &device.clone().autodiff()).require_grad();
        let loss = iw_eps_loss(eps_hat.clone(), eps.clone().autodiff(), 2, worst_first);
        let want = (1.0 - w2) * 1.0 + w2 * 3.0;
        let got = loss.clone().into_scalar::<f32>() as f64;
        assert!((got - want).abs() < 1e-5, "{worst_first}: {got} vs {want} (e² = {e2})");
        let grads = loss.backward();
        let g: Vec<f32> = eps_hat.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
        // ∂l_i/∂ε̂ = (ε̂ − ε) per coordinate (mean over 2 coordinates of the square).
        let want = [(1.0 - w2), (1.0 - w2), w2 * r as f64, w2 * r as f64];
        for (g, w) in g.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-5, "{worst_first}: {g:?} vs {want:?}");
        }
    }
}
