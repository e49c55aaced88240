use super::*;
use crate::checkpoint::CheckpointConfig;
use crate::data::states::states;
use crate::model::mlp::Mlp;
use crate::objective::PointDenoising;

fn trainer(steps: usize, seed: u64, device: &Device) -> Trainer<Mlp, PointDenoising> {
    let config = TrainConfig { steps, batch: 512, lr: 2e-3, seed, ..Default::default() };
    CheckpointConfig::denoiser().denoiser_trainer(&config, states().xy, device).unwrap()
}

fn run_on(device: &Device, steps: usize, seed: u64) -> Vec<f32> {
    let mut trainer = trainer(steps, seed, device);
    (0..steps).map(|_| trainer.step().into_scalar::<f32>()).collect()
}

fn run(steps: usize, seed: u64) -> Vec<f32> {
    run_on(&Device::flex(), steps, seed)
}

#[test]
fn a_short_run_lowers_the_loss_and_is_reproducible() {
    let losses = run(300, 0);
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
    let (first, last) = (mean(&losses[..3]), mean(&losses[280..]));
    // An untrained ε̂ ≈ 0 scores E‖ε‖²/2 ≈ 1; after 300 steps the loss is well under half that
    // (measured: 0.80 → 0.36).
    assert!(first > 0.7, "first {first}");
    assert!(last < 0.45 && last < 0.6 * first, "loss {first} → {last}");
    // (The cosine learning rate depends on the run length, so compare runs of equal length.)
    assert_eq!(run(20, 0), run(20, 0), "same seed, same losses");
    assert_ne!(run(20, 1), run(20, 0));
}

/// Stopped after 3 steps and restored into a fresh trainer, a run continues bit for bit (the
/// minibatch of step k depends on (seed, k) only; Adam's moments and the EMA travel in the state).
#[test]
fn a_restored_run_continues_exactly() {
    let device = Device::flex();
    let config = TrainConfig { steps: 6, batch: 64, ema_decay: 0.9, ..Default::default() };
    let fresh = || CheckpointConfig::denoiser().denoiser_trainer(&config, states().xy, &device).unwrap();
    let mut straight = fresh();
    let losses: Vec<f32> = (0..6).map(|_| straight.step().into_scalar()).collect();
    let mut first = fresh();
    let mut resumed: Vec<f32> = (0..3).map(|_| first.step().into_scalar()).collect();
    let state = first.state().unwrap();
    let mut second = fresh();
    second.restore(&state).unwrap();
    assert_eq!(second.steps_done(), 3);
    resumed.extend((0..3).map(|_| second.step().into_scalar::<f32>()));
    assert_eq!(losses, resumed);
    assert_eq!(io::host_tensors(&straight.model()).unwrap(), io::host_tensors(&second.model()).unwrap());
    // A damaged optimiser state or a missing EMA is an error and leaves the trainer as it was.
    let broken = TrainState { optim: state.optim[..state.optim.len() / 2].to_vec(), ..state.clone() };
    assert!(second.restore(&broken).is_err());
    assert!(second.restore(&TrainState { ema: None, ..state }).is_err());
    assert_eq!(second.steps_done(), 6);
}

/// A run's sub-seeds are draws of one parent stream: all distinct, also across neighbouring seeds
/// (whose `seed + k` offsets would collide).
#[test]
fn seeds_come_from_one_stream() {
    let (a, b) = (Seeds::of(0), Seeds::of(1));
    let all = [a.init, a.minibatches, a.split, a.validation, b.init, b.minibatches, b.split, b.validation];
    let distinct: std::collections::BTreeSet<u64> = all.into_iter().collect();
    assert_eq!(distinct.len(), 8);
    assert_eq!(Seeds::of(5), Seeds::of(5));
}

/// The native GPU path: the same run on wgpu (Mesa lavapipe in CI, `apt install
/// mesa-vulkan-drivers`) starts from the same weights and batches, so its losses track the CPU's.
#[test]
fn wgpu_training_matches_the_cpu() {
    let wgpu = crate::test_device::wgpu();
    let (cpu, gpu) = (run(40, 7), run_on(&wgpu, 40, 7));
    for (step, (c, g)) in cpu.iter().zip(&gpu).enumerate() {
        // f32 sums in a different order drift apart slowly; the first steps agree to ~1e-6.
        let tolerance = if step < 5 { 1e-4 } else { 2e-2 };
        assert!((c - g).abs() <= tolerance * c.abs(), "step {step}: cpu {c} vs wgpu {g}");
    }
}

#[test]
fn absurd_hyper_parameters_are_rejected() {
    for config in [
        TrainConfig { lr: f64::NAN, ..Default::default() },
        TrainConfig { lr: -1.0, ..Default::default() },
        TrainConfig { batch: 0, ..Default::default() },
        TrainConfig { steps: 0, ..Default::default() },
    ] {
        assert!(CheckpointConfig::denoiser().denoiser_trainer(&config, states().xy, &Device::flex()).is_err());
    }
    assert!(CheckpointConfig::denoiser().denoiser_trainer(&TrainConfig::default(), vec![], &Device::flex()).is_err());
}

/// Learning rate 1 blows the STATES run up within a few steps: the guard stops it, the trainer is
/// back at the weights (and Adam state) of the last accepted check, and continuing from there
/// reproduces a run that was only ever checked up to that step.
#[test]
fn the_guard_stops_a_diverging_run_and_restores_the_last_good_state() {
    let device = Device::flex();
    let config = TrainConfig { steps: 60, batch: 256, lr: 1.0, ..Default::default() };
    let mut trainer = CheckpointConfig::denoiser().denoiser_trainer(&config, states().xy, &device).unwrap();
    let mut divergence = None;
    let mut kept = None;
    for _ in 0..30 {
        let losses: Vec<f32> = (0..2).map(|_| trainer.step().into_scalar::<f32>()).collect();
        match trainer.check(&losses) {
            Ok(()) => kept = Some(io::host_tensors(&trainer.model()).unwrap()),
            Err(d) => {
                divergence = Some(d);
                break;
            }
        }
    }
    // (Measured: loss 0.96 at step 1, 4.6e11 at step 2.)
    let divergence = divergence.expect("lr 1 diverges within 60 steps");
    assert!(divergence.loss.is_nan() || divergence.loss > 100.0 * divergence.median.unwrap(), "{divergence:?}");
    assert_eq!(trainer.steps_done(), divergence.restored);
    assert!(divergence.step > divergence.restored && divergence.step <= divergence.restored + 2, "{divergence:?}");
    let now = io::host_tensors(&trainer.model()).unwrap();
    match kept {
        Some(kept) => assert_eq!(now, kept, "the weights of the last good check"),
        None => assert_eq!(divergence.restored, 0),
    }
    assert!(now.iter().all(|t| t.values.iter().all(|v| v.is_finite())));
    assert!(divergence.to_string().contains("learning rate 1 diverged"), "{divergence}");

    // Later in a run: three accepted steps, then a step whose loss is reported 10⁶× too high. The
    // trainer goes back to step 3 exactly, and step 4 again gives the step-4 weights of a straight run.
    let config = TrainConfig { steps: 6, batch: 64, ..Default::default() };
    let new = || CheckpointConfig::denoiser().denoiser_trainer(&config, states().xy, &device).unwrap();
    let (mut guarded, mut straight) = (new(), new());
    let losses: Vec<f32> = (0..3).map(|_| guarded.step().into_scalar::<f32>()).collect();
    guarded.check(&losses).unwrap();
    let at_3 = io::host_tensors(&guarded.model()).unwrap();
    guarded.step();
    let d = guarded.check(&[1e6 * losses[2]]).unwrap_err();
    assert_eq!((d.step, d.restored, guarded.steps_done()), (4, 3, 3));
    assert_eq!(io::host_tensors(&guarded.model()).unwrap(), at_3);
    guarded.step();
    (0..4).for_each(|_| drop(straight.step()));
    assert_eq!(io::host_tensors(&guarded.model()).unwrap(), io::host_tensors(&straight.model()).unwrap());
}
