//! Tests of `train_unet`: resume, label dropout, dequantisation, fine-tuning, DDPM-14's side.
use super::*;
use crate::data::mnist::{PIXELS, SIDE};
use crate::model::unet::UNetConfig;
use crate::sde::Sde;

fn tiny_data() -> Mnist {
    let mut rng = Rng::new(0);
    let images = (0..16 * PIXELS).map(|_| (rng.below(4) * 85) as u8).collect();
    Mnist { images, labels: (0..16).map(|i| (i % 10) as u8).collect(), side: SIDE }
}

fn file() -> UNetFileConfig {
    let unet = UNetConfig::tiny();
    UNetFileConfig::new(unet, ScoreConfig::new(Sde::vp()))
}

fn config(steps: usize) -> UNetTrainConfig {
    UNetTrainConfig { steps, batch: 4, lr: 1e-3, warmup: 2, ..Default::default() }
}

#[test]
fn resume_continues_exactly() {
    let device = Device::flex();
    let mut straight = UNetRun::new(file(), config(4), tiny_data(), &device).unwrap();
    let losses: Vec<f32> = (0..4).map(|_| straight.step().into_scalar()).collect();
    assert!(losses.iter().all(|l| l.is_finite()));

    let mut first = UNetRun::new(file(), config(4), tiny_data(), &device).unwrap();
    let mut resumed_losses: Vec<f32> = (0..2).map(|_| first.step().into_scalar()).collect();
    let snapshot = first.snapshot().unwrap();
    drop(first);
    let mut second = UNetRun::resume(&snapshot, 4, tiny_data(), &device).unwrap();
    assert_eq!(second.steps_done(), 2);
    resumed_losses.extend((0..2).map(|_| second.step().into_scalar::<f32>()));
    assert_eq!(losses, resumed_losses);
    assert_eq!(straight.ema_bytes().unwrap(), second.ema_bytes().unwrap());
    // A damaged snapshot is an error, not a panic.
    let broken = Snapshot { optim: snapshot.optim[..snapshot.optim.len() / 2].to_vec(), ..snapshot.clone() };
    assert!(UNetRun::resume(&broken, 4, tiny_data(), &device).is_err());
    assert!(UNetRun::resume(&Snapshot { state: "{".into(), ..snapshot }, 4, tiny_data(), &device).is_err());
}

/// DDPM-14: a run of a side-14 file trains on the digits halved (14² inputs), writes a file
/// that says so (and loads as such), and a file of a side past 28 is refused.
#[test]
fn a_smaller_side_trains_on_resized_digits() {
    let device = Device::flex();
    let small = UNetFileConfig { side: 14, ..file() };
    let mut run = UNetRun::new(small.clone(), config(2), tiny_data(), &device).unwrap();
    assert!(run.step().into_scalar::<f32>().is_finite());
    let (_, loaded) = model_file::unet(&run.ema_bytes().unwrap(), &device).unwrap();
    assert_eq!((loaded.side, loaded.pixels()), (14, 196));
    let score = ScoreConfig::new(Sde::vp());
    let fourier = score.fourier.init().unwrap();
    let data = tiny_data().resized(14).unwrap();
    let batch = ImageBatch::draw(&data, &score, &fourier, &config(2), 10, &mut Rng::new(3));
    assert_eq!((batch.side, batch.input.len(), batch.eps.len()), (14, 4 * 196, 4 * 196));
    let json = serde_json::to_string(&file()).unwrap().replace(",\"side\":28", "");
    assert_eq!(serde_json::from_str::<UNetFileConfig>(&json).unwrap().side, 28, "an older file models 28²");
    assert!(UNetRun::new(UNetFileConfig { side: 29, ..file() }, config(2), tiny_data(), &device).is_err());
}

#[test]
fn labels_drop_to_the_null_class_at_the_given_rate() {
    let score = ScoreConfig::new(Sde::vp());
    let fourier = score.fourier.init().unwrap();
    let config = UNetTrainConfig { batch: 4000, label_dropout: 0.1, ..Default::default() };
    let batch = ImageBatch::draw(&tiny_data(), &score, &fourier, &config, 10, &mut Rng::new(1));
    let dropped = batch.labels.iter().filter(|&&l| l == 10).count() as f64 / 4000.0;
    assert!((dropped - 0.1).abs() < 0.02, "{dropped}");
    assert!(batch.input.iter().all(|v| v.is_finite()) && batch.weight.iter().all(|&w| w == 1.0));
    assert_eq!(ScoreConfig { weighting: Weighting::Sigma2, ..score }.weight(0.5), 1.0);
}

/// With t_min = 10⁻⁵ and log-SNR draws most inputs are nearly clean, and dequantised ones
/// spread over the whole bin of their byte rather than sitting on its edge.
#[test]
fn dequantised_small_t_inputs_fill_their_bins() {
    let score = ScoreConfig::new(Sde::vp());
    let fourier = score.fourier.init().unwrap();
    let data = Mnist { images: vec![0; 64 * PIXELS], labels: vec![0; 64], side: SIDE };
    let config = UNetTrainConfig {
        batch: 64,
        t_min: Some(1e-5),
        t_sampling: TimeSampling::LogSnr,
        dequantise: true,
        ..Default::default()
    };
    let batch = ImageBatch::draw(&data, &score, &fourier, &config, 10, &mut Rng::new(2));
    let bin = 1.0 / 127.5;
    let inside = batch.input.iter().filter(|&&x| (-1.0..-1.0 + bin).contains(&x)).count();
    let lower_half = batch.input.iter().filter(|&&x| (-1.0..-1.0 + 0.5 * bin).contains(&x)).count();
    // Uniform in λ from λ(1) ≈ −5 to λ(10⁻⁵) ≈ 7: the draws near t_min have s(t) below a bin.
    assert!(inside > batch.input.len() / 10, "{inside}");
    assert!((lower_half as f64 / inside as f64 - 0.5).abs() < 0.1, "{lower_half} of {inside}");
    let plain = ImageBatch::draw(
        &data,
        &score,
        &fourier,
        &UNetTrainConfig { dequantise: false, ..config },
        10,
        &mut Rng::new(2),
    );
    let above_edge = plain.input.iter().filter(|&&x| (-1.0 + 0.5 * bin..-1.0 + bin).contains(&x)).count();
    assert!(above_edge < inside / 4, "{above_edge} vs {inside}");
}

/// A fine-tuning run starts from the file's weights, as both its network and its EMA.
#[test]
fn fine_tuning_starts_from_the_file() {
    let device = Device::flex();
    let mut run = UNetRun::new(file(), config(2), tiny_data(), &device).unwrap();
    run.step();
    let bytes = run.ema_bytes().unwrap();
    let tuned = UNetRun::fine_tune(&bytes, config(2), tiny_data(), &device).unwrap();
    let values = |b: &[u8]| {
        let mut tensors = io::decode(b).unwrap().tensors;
        tensors.sort_by(|x, y| x.name.cmp(&y.name));
        tensors
    };
    let (a, b) = (values(&bytes), values(&tuned.ema_bytes().unwrap()));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((&x.name, &x.values), (&y.name, &y.values));
    }
    assert!(UNetRun::fine_tune(&bytes[..bytes.len() / 2], config(2), tiny_data(), &device).is_err());
}

/// Log-SNR (or mixed) t-sampling with the likelihood weighting would count g²/s² twice: refused;
/// each alone is accepted.
#[test]
fn log_snr_sampling_with_the_likelihood_weighting_is_refused() {
    let device = Device::flex();
    let likelihood =
        |f: UNetFileConfig| UNetFileConfig { score: ScoreConfig { weighting: Weighting::Likelihood, ..f.score }, ..f };
    for t_sampling in [TimeSampling::LogSnr, TimeSampling::Mixed] {
        let config = UNetTrainConfig { t_sampling, ..config(2) };
        let err = UNetRun::new(likelihood(file()), config.clone(), tiny_data(), &device).err().unwrap();
        assert!(err.to_string().contains("likelihood weighting"), "{err}");
        assert!(UNetRun::new(file(), config, tiny_data(), &device).is_ok());
    }
    assert!(UNetRun::new(likelihood(file()), config(2), tiny_data(), &device).is_ok());
}

#[test]
fn absurd_hyper_parameters_are_rejected() {
    for bad in [
        UNetTrainConfig { lr: f64::NAN, ..config(4) },
        UNetTrainConfig { batch: 0, ..config(4) },
        UNetTrainConfig { label_dropout: 1.5, ..config(4) },
        UNetTrainConfig { clip: 0.0, ..config(4) },
        UNetTrainConfig { t_min: Some(0.0), ..config(4) },
    ] {
        assert!(UNetRun::new(file(), bad, tiny_data(), &Device::flex()).is_err());
    }
}
