//! The fuzzers' corpus and every crash they found, replayed on the stable toolchain through the
//! same calls as the targets in `fuzz/fuzz_targets/`: each input must give an answer (for the
//! recorded crashes, an error), never a panic. `write_fuzz_seeds` (ignored) wrote the small valid
//! files the corpus started from.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use diffusion::checkpoint::{CheckpointConfig, Role};
use diffusion::data::mnist::{Mnist, read_idx};
use diffusion::data::states::parse_points_csv;
use diffusion::model::cnn::{CnnConfig, CnnFile};
use diffusion::model::mlp::MlpConfig;
use diffusion::model::unet::UNetConfig;
use diffusion::model_file;
use diffusion::schedule::ScheduleConfig;
use diffusion::sde::Sde;
use diffusion::sde::dsm::ScoreConfig;
use diffusion::sde::mixture::Mixture;
use diffusion::surrogate::{Surrogate, SurrogateFile};
use diffusion::unet_checkpoint::UNetFileConfig;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The model_file target: every role's loader.
fn model_file(bytes: &[u8]) -> bool {
    let device = Device::flex();
    let _ = model_file::role(bytes);
    let results = [
        model_file::mlp(bytes, Role::Denoiser, &device).is_ok(),
        model_file::mlp(bytes, Role::Classifier, &device).is_ok(),
        model_file::unet(bytes, &device).is_ok(),
        model_file::cnn(bytes, &device).is_ok(),
        model_file::surrogate(bytes, Role::StatesSurrogate, &device).is_ok(),
        model_file::surrogate(bytes, Role::MnistSurrogate, &device).is_ok(),
    ];
    results.iter().any(|&ok| ok)
}

/// The idx target.
fn idx(bytes: &[u8]) -> bool {
    let images = read_idx(bytes, 3, "images").is_ok();
    let labels = read_idx(bytes, 1, "labels").is_ok();
    let split = bytes.first().map_or(0, |&b| b as usize).min(bytes.len());
    let pair = Mnist::from_idx(&bytes[..split], &bytes[split..]).is_ok();
    images || labels || pair
}

/// The csv target.
fn csv(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| parse_points_csv(text).is_ok())
}

/// A fuzz target's call: whether any of its parses accepted the input.
type Target = fn(&[u8]) -> bool;

fn inputs(folder: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()
}

#[test]
fn the_fuzz_corpus_and_its_crashes_replay_without_a_panic() {
    let targets: [(&str, Target); 3] = [("model_file", model_file), ("idx", idx), ("csv", csv)];
    for (name, target) in targets {
        let corpus = inputs(&fuzz_dir().join("corpus").join(name));
        assert!(!corpus.is_empty(), "no corpus for {name}");
        for (_, bytes) in &corpus {
            target(bytes);
        }
        for (path, bytes) in inputs(&fuzz_dir().join("regressions").join(name)) {
            assert!(!target(&bytes), "{} should be refused", path.display());
        }
    }
}

/// Writes the seed inputs: one small valid file of each role, a tiny IDX pair, a CSV.
#[test]
#[ignore = "run once to (re)make the seed corpus"]
fn write_fuzz_seeds() {
    let device = Device::flex();
    let dir = fuzz_dir().join("corpus");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        std::fs::create_dir_all(dir.join(target)).unwrap();
        std::fs::write(dir.join(target).join(name), bytes).unwrap();
    };
    let mlp = CheckpointConfig {
        model: MlpConfig { d_input: 3, hidden: vec![4, 4], d_output: 2 },
        schedule: ScheduleConfig { steps: 10, ..Default::default() },
        ..CheckpointConfig::denoiser()
    };
    let tensors = diffusion::io::host_tensors(&mlp.model.init(&device, 0).unwrap()).unwrap();
    write("model_file", "seed-mlp", &model_file::encode(&tensors, &mlp).unwrap());
    let unet = UNetFileConfig::new(
        UNetConfig {
            channels: vec![4],
            res_blocks: 1,
            emb: 8,
            time_features: 32,
            classes: 10,
            groups: 2,
            ..UNetConfig::default()
        },
        ScoreConfig::new(Sde::vp()),
    );
    let tensors = diffusion::io::host_tensors(&unet.unet.init(&device, 0).unwrap()).unwrap();
    write("model_file", "seed-unet", &model_file::encode(&tensors, &unet).unwrap());
    let cnn =
        CnnFile { role: Role::MnistClassifier, cnn: CnnConfig { channels: [2, 2], features: 4 }, test_accuracy: None };
    let tensors = diffusion::io::host_tensors(&cnn.cnn.init(&device, 0).unwrap()).unwrap();
    write("model_file", "seed-cnn", &model_file::encode(&tensors, &cnn).unwrap());
    let surrogate = Surrogate::Gmm(Mixture::anisotropic());
    let file = SurrogateFile { role: Role::StatesSurrogate, model: surrogate.kind(), fit: None };
    write("model_file", "seed-surrogate", &model_file::encode(&surrogate.tensors().unwrap(), &file).unwrap());

    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend((0..2 * 784).map(|i| (i % 251) as u8));
    let labels = [0, 0, 8, 1, 0, 0, 0, 2, 3, 7];
    write("idx", "seed-images", &images);
    write("idx", "seed-labels", &labels);
    let mut pair = vec![images.len().min(255) as u8];
    pair.extend(&images[..images.len().min(255) - 1]);
    write("idx", "seed-pair-truncated", &pair);
    write("csv", "seed-labelled", b"x,y,label\n-0.5,1.25,0\n3,4,4\n\n7e-3,-2,2\n");
    write("csv", "seed-plain", b"x,y\r\n1,2\r\n3,4\r\n");
}
