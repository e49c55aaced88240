use super::*;
use crate::model::cnn::CnnConfig;
use crate::model::mlp::{Mlp, MlpConfig};
use crate::model::unet::UNetConfig;
use crate::schedule::ScheduleConfig;
use crate::sde::Sde;
use crate::sde::dsm::ScoreConfig;
use crate::train::TrainConfig;

fn host(mlp: &Mlp) -> Vec<NamedTensor> {
    io::host_tensors(mlp).unwrap()
}

#[test]
fn a_file_rebuilds_its_mlp() {
    let device = Device::flex();
    let config = CheckpointConfig {
        role: Role::Denoiser,
        model: MlpConfig { d_input: 3, hidden: vec![4], d_output: 2 },
        schedule: ScheduleConfig { steps: 10, ..Default::default() },
        score: None,
        train: Some(TrainConfig::default()),
    };
    let mlp = config.model.init(&device, 3).unwrap();
    let bytes = encode(&host(&mlp), &config).unwrap();
    assert_eq!(role(&bytes).unwrap(), Some(Role::Denoiser));
    let loaded = super::mlp(&bytes, Role::Denoiser, &device).unwrap();
    assert_eq!(loaded.config, config);
    assert_eq!(loaded.schedule.steps, 10);
    let x = Tensor::<2>::ones([2, 3], &device);
    assert_eq!(loaded.mlp.forward(x.clone()).into_data(), mlp.forward(x).into_data());
    // Without metadata the file must fit the course's default network, and this one does not.
    let bare = io::encode(&host(&mlp), "").unwrap();
    assert_eq!(role(&bare).unwrap(), None);
    assert!(super::mlp(&bare, Role::Denoiser, &device).is_err());
    // A config from before the role tag reads as a denoiser.
    let untagged = config.to_json().replace("\"role\": \"denoiser\",", "");
    assert!(!untagged.contains("role"));
    assert!(super::mlp(&io::encode(&host(&mlp), &untagged).unwrap(), Role::Denoiser, &device).is_ok());
}

#[test]
fn a_continuous_model_keeps_its_sde_and_embedding() {
    let device = Device::flex();
    let config = CheckpointConfig::score_model(Sde::sub_vp());
    assert_eq!(config.model.d_input, 34);
    let bytes = encode(&host(&config.model.init(&device, 0).unwrap()), &config).unwrap();
    let loaded = super::mlp(&bytes, Role::Denoiser, &device).unwrap();
    assert_eq!(loaded.config, config);
    assert_eq!(loaded.config.sde(), Sde::sub_vp());
    assert!(matches!(loaded.config.denoising().unwrap(), crate::objective::Denoising::Dsm(..)));
    // A DDPM file (no `score`) still reads, as its chain.
    assert_eq!(CheckpointConfig::denoiser().sde(), Sde::ddpm(&ScheduleConfig::default()));
}

#[test]
fn a_file_of_another_role_is_refused_by_name() {
    let device = Device::flex();
    let config = CheckpointConfig::classifier();
    let bytes = encode(&host(&config.model.init(&device, 0).unwrap()), &config).unwrap();
    assert!(super::mlp(&bytes, Role::Classifier, &device).is_ok());
    let err = super::mlp(&bytes, Role::Denoiser, &device).err().unwrap();
    assert!(err.to_string().contains("holds a classifier, not a denoiser"), "{err}");
    let err = unet(&bytes, &device).err().unwrap();
    assert!(err.to_string().contains("holds a classifier, not a mnist-denoiser"), "{err}");
    assert!(cnn(&bytes, &device).err().unwrap().to_string().contains("not a mnist-classifier"));
    // Without metadata, the classifier's shapes do not fit a denoiser, and the error names a tensor.
    let bare = io::encode(&host(&config.model.init(&device, 0).unwrap()), "").unwrap();
    let err = super::mlp(&bare, Role::Denoiser, &device).err().unwrap();
    assert!(err.to_string().contains("layers."), "{err}");
    assert!(super::mlp(&bare, Role::Classifier, &device).is_ok());
    // An unknown role is named.
    let foreign = io::encode(&host(&config.model.init(&device, 0).unwrap()), "{\"role\": \"vae\"}").unwrap();
    let err = super::mlp(&foreign, Role::Denoiser, &device).err().unwrap();
    assert!(err.to_string().contains("unknown role \"vae\""), "{err}");
}

#[test]
fn a_file_rebuilds_its_unet_and_bad_files_are_named() {
    let device = Device::flex();
    let unet_config = UNetConfig::tiny();
    let config = UNetFileConfig::new(unet_config, ScoreConfig::new(Sde::vp()));
    let network = config.unet.init(&device, 1).unwrap();
    let tensors = io::host_tensors(&network).unwrap();
    let bytes = encode(&tensors, &config).unwrap();
    assert!(config.to_json().contains("\"role\": \"mnist-denoiser\""));
    let (loaded, loaded_config) = unet(&bytes, &device).unwrap();
    assert_eq!(loaded_config, config);
    let x = Tensor::<4>::ones([2, 1, 28, 28], &device);
    let time = Tensor::<2>::ones([2, 32], &device);
    let labels = Tensor::<1, Int>::from_data(TensorData::from([3i64, 10]), &device);
    assert_eq!(
        loaded.forward(x.clone(), time.clone(), labels.clone()).into_data(),
        network.forward(x, time, labels).into_data()
    );
    // A truncated file, a tensor of the wrong shape, another architecture, no metadata: each says what is wrong.
    assert!(unet(&bytes[..bytes.len() / 2], &device).unwrap_err().to_string().contains("not a valid"));
    let mut reshaped = tensors.clone();
    reshaped[0].shape = vec![reshaped[0].values.len()];
    let err = unet(&encode(&reshaped, &config).unwrap(), &device).unwrap_err().to_string();
    assert!(err.contains(&format!("`{}`", reshaped[0].name)), "{err}");
    let other = UNetFileConfig { unet: UNetConfig { channels: vec![8, 24], ..config.unet.clone() }, ..config.clone() };
    let err = unet(&encode(&tensors, &other).unwrap(), &device).unwrap_err().to_string();
    assert!(err.contains("shape"), "{err}");
    assert!(unet(&io::encode(&tensors, "").unwrap(), &device).is_err());
    let err = super::mlp(&bytes, Role::Denoiser, &device).err().unwrap().to_string();
    assert!(err.contains("holds a mnist-denoiser, not a denoiser"), "{err}");
}

#[test]
fn a_file_rebuilds_its_judge() {
    let device = Device::flex();
    let config = CnnFile { role: Role::MnistClassifier, cnn: CnnConfig::default(), test_accuracy: Some(0.99) };
    let network = config.cnn.init(&device, 2).unwrap();
    let bytes = encode(&io::host_tensors(&network).unwrap(), &config).unwrap();
    let (loaded, loaded_config) = cnn(&bytes, &device).unwrap();
    assert_eq!(loaded_config, config);
    let x = Tensor::<2>::ones([1, 784], &device);
    assert_eq!(loaded.forward(x.clone()).into_data(), network.forward(x).into_data());
    assert!(cnn(&io::encode(&io::host_tensors(&network).unwrap(), "").unwrap(), &device).is_err());
}

/// The shipped files (written before the one loader) load through it unchanged.
#[test]
fn the_shipped_models_load() {
    let device = Device::flex();
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/models");
    let read = |name: &str| std::fs::read(models.join(name)).unwrap();
    assert!(super::mlp(&read("states-denoiser.safetensors"), Role::Denoiser, &device).is_ok());
    assert_eq!(super::mlp(&read("states-vp.safetensors"), Role::Denoiser, &device).unwrap().config.sde(), Sde::vp());
    assert!(super::mlp(&read("states-classifier.safetensors"), Role::Classifier, &device).is_ok());
    assert!(unet(&read("mnist-vp.safetensors"), &device).is_ok());
    assert!(cnn(&read("mnist-classifier.safetensors"), &device).is_ok());
}

/// A small file whose config describes a network of billions of parameters is refused from the
/// config alone, before anything of that size is allocated (the MLP: 64 layers of 16 384 units,
/// 17 · 10⁹ weights; the UNet: four levels of 1024 channels, 8 blocks each, ≥ 3 · 10⁹).
#[test]
fn a_config_far_larger_than_its_file_is_refused_before_building_it() {
    let device = Device::flex();
    let tiny = vec![NamedTensor { name: "w".into(), shape: vec![1], values: vec![0.0] }];
    let mlp = CheckpointConfig {
        model: MlpConfig { d_input: 3, hidden: vec![16_384; 64], d_output: 2 },
        ..CheckpointConfig::denoiser()
    };
    let err = super::mlp(&encode(&tiny, &mlp).unwrap(), Role::Denoiser, &device).err().unwrap().to_string();
    assert!(err.contains("holds 1 values") && err.contains("describes an MLP"), "{err}");
    let unet = UNetFileConfig::new(
        UNetConfig { channels: vec![1024; 4], res_blocks: 8, groups: 8, ..UNetConfig::default() },
        ScoreConfig::new(Sde::vp()),
    );
    let err = unet_file(&encode(&tiny, &unet).unwrap(), &device).err().unwrap().to_string();
    assert!(err.contains("holds 1 values") && err.contains("describes a UNet"), "{err}");
    // The bound is a lower bound: the real networks pass it.
    let real = UNetConfig::default();
    assert!(real.min_params() <= real.init(&device, 0).unwrap().num_params());
    assert_eq!(MlpConfig::denoiser().num_params(), MlpConfig::denoiser().init(&device, 0).unwrap().num_params());
    assert_eq!(MlpConfig::classifier().num_params(), MlpConfig::classifier().init(&device, 0).unwrap().num_params());
}

fn unet_file(bytes: &[u8], device: &Device) -> Result<(crate::model::unet::UNet, UNetFileConfig)> {
    unet(bytes, device)
}

/// A fitted mixture survives the file exactly (values stored as f32); a file with a wrong
/// shape, a non-positive-definite covariance, a missing tensor or another role is refused by name.
#[test]
fn a_file_rebuilds_its_surrogate() {
    use crate::sde::mixture::Mixture;
    use crate::surrogate::{FitRecord, Surrogate, SurrogateFile};
    let mixture = Mixture::new(
        vec![0.25, 0.75],
        vec![[-1.0, 0.5], [2.0, -0.25]],
        vec![[0.5, 0.125, 0.125, 0.25], [1.0, 0.0, 0.0, 2.0]],
    )
    .unwrap();
    let surrogate = Surrogate::Gmm(mixture);
    let file = SurrogateFile {
        role: Role::StatesSurrogate,
        model: surrogate.kind(),
        fit: Some(FitRecord { points: 100, seed: 0, iterations: 3, log_likelihood: -1.5 }),
    };
    let bytes = encode(&surrogate.tensors().unwrap(), &file).unwrap();
    assert_eq!(role(&bytes).unwrap(), Some(Role::StatesSurrogate));
    let device = Device::flex();
    let (loaded, config) = super::surrogate(&bytes, Role::StatesSurrogate, &device).unwrap();
    assert_eq!(config, file);
    match (&loaded, &surrogate) {
        (Surrogate::Gmm(a), Surrogate::Gmm(b)) => assert_eq!(a, b),
        _ => panic!("a mixture came back as {loaded:?}"),
    }
    let refused = |tensors: Vec<NamedTensor>, file: &SurrogateFile, want: &str| {
        let message =
            super::surrogate(&encode(&tensors, file).unwrap(), Role::StatesSurrogate, &device).unwrap_err().to_string();
        assert!(message.contains(want), "{message}");
    };
    let mut tensors = surrogate.tensors().unwrap();
    tensors[1].shape = vec![1, 4];
    refused(tensors, &file, "tensor `means` has shape [1, 4]");
    let mut tensors = surrogate.tensors().unwrap();
    tensors[2].values[3] = -1.0;
    refused(tensors, &file, "positive-definite");
    refused(surrogate.tensors().unwrap()[..2].to_vec(), &file, "tensor `covariances` (shape [2, 2, 2]) is missing");
    let three = SurrogateFile { model: crate::surrogate::SurrogateKind::Gmm { components: 3 }, ..file.clone() };
    refused(surrogate.tensors().unwrap(), &three, "a 3-component mixture needs [3]");
    let message = super::mlp(&bytes, Role::Denoiser, &device).err().unwrap().to_string();
    assert!(message.contains("holds a states-surrogate"), "{message}");
    let denoiser = CheckpointConfig::denoiser();
    let mlp_bytes = encode(&host(&denoiser.model.init(&device, 0).unwrap()), &denoiser).unwrap();
    assert!(
        super::surrogate(&mlp_bytes, Role::StatesSurrogate, &device)
            .unwrap_err()
            .to_string()
            .contains("holds a denoiser, not a states-surrogate")
    );
    // A VAE's two networks: they survive the file (the same samples from the same stream), and a
    // config far larger than the file is refused before anything is built.
    use crate::model::vae::VaeConfig;
    let config = VaeConfig { hidden: vec![8], ..VaeConfig::default() };
    let vae = Surrogate::Vae(config.init(&device, 3).unwrap(), config.clone());
    let file = SurrogateFile { role: Role::StatesSurrogate, model: vae.kind(), fit: None };
    let bytes = encode(&vae.tensors().unwrap(), &file).unwrap();
    let (loaded, _) = super::surrogate(&bytes, Role::StatesSurrogate, &device).unwrap();
    let draw = |s: &Surrogate| s.draw(20, &mut crate::rng::Rng::new(4), &device).unwrap().into_data();
    assert_eq!(draw(&loaded), draw(&vae));
    let huge = SurrogateFile {
        model: crate::surrogate::SurrogateKind::Vae(VaeConfig { hidden: vec![16_000; 60], ..config }),
        ..file
    };
    refused(vae.tensors().unwrap(), &huge, "describes a VAE of");
}

/// MNIST's conv VAE survives its file (the same digits from the same stream), under its own role:
/// a STATES loader refuses it by name, and a config far larger than the file is refused first.
#[test]
fn conv_vae_surrogate_round_trip() {
    use crate::model::conv_vae::ConvVaeConfig;
    use crate::surrogate::SurrogateKind;
    let device = Device::flex();
    let config = ConvVaeConfig { latent: 3, channels: [4, 8] };
    let vae = Surrogate::ConvVae(Box::new(config.init(&device, 5).unwrap()), config.clone());
    assert_eq!(vae.role(), Role::MnistSurrogate);
    let file = SurrogateFile { role: vae.role(), model: vae.kind(), fit: None };
    let bytes = encode(&vae.tensors().unwrap(), &file).unwrap();
    let (loaded, read) = super::surrogate(&bytes, Role::MnistSurrogate, &device).unwrap();
    assert_eq!(read, file);
    let draw = |s: &Surrogate| s.draw_digits(&[0, 3, 9], &mut crate::rng::Rng::new(6), &device).unwrap().into_data();
    assert_eq!(draw(&loaded), draw(&vae));
    assert!(vae.draw_digits(&[10], &mut crate::rng::Rng::new(6), &device).is_err());
    let message = super::surrogate(&bytes, Role::StatesSurrogate, &device).unwrap_err().to_string();
    assert!(message.contains("holds a mnist-surrogate, not a states-surrogate"), "{message}");
    let mislabelled = SurrogateFile { role: Role::MnistSurrogate, ..file.clone() };
    let gmm = Surrogate::Gmm(crate::sde::mixture::Mixture::anisotropic());
    let gmm_file = SurrogateFile { model: gmm.kind(), ..mislabelled };
    let message = super::surrogate(&encode(&gmm.tensors().unwrap(), &gmm_file).unwrap(), Role::MnistSurrogate, &device)
        .unwrap_err()
        .to_string();
    assert!(message.contains("not a states-surrogate"), "{message}");
    let huge =
        SurrogateFile { model: SurrogateKind::ConvVae(ConvVaeConfig { latent: 256, channels: [512, 512] }), ..file };
    let message = super::surrogate(&bytes_of(&vae, &huge), Role::MnistSurrogate, &device).unwrap_err().to_string();
    assert!(message.contains("describes a conv VAE of"), "{message}");
}

/// DDPM-14 survives its file as a surrogate (the same digits from the same stream, with the rule
/// its draws use); a config naming no rule, or a UNet far larger than the file, is refused.
#[test]
fn low_resolution_surrogate_round_trip() {
    use crate::surrogate::SurrogateKind;
    use crate::surrogate::low_res::{LowRes, LowResConfig};
    let device = Device::flex();
    let model = UNetFileConfig { side: 14, ..UNetFileConfig::new(UNetConfig::tiny(), ScoreConfig::new(Sde::vp())) };
    let config = LowResConfig { model, sampler: "ddim".into(), steps: 3, guidance: 0.0 };
    let low = Surrogate::Diffusion(Box::new(LowRes { unet: config.model.unet.init(&device, 4).unwrap(), config }));
    assert_eq!((low.role(), low.nfe()), (Role::MnistSurrogate, 3));
    let file = SurrogateFile { role: low.role(), model: low.kind(), fit: None };
    let bytes = bytes_of(&low, &file);
    let (loaded, read) = super::surrogate(&bytes, Role::MnistSurrogate, &device).unwrap();
    assert_eq!(read, file);
    let draw = |s: &Surrogate| s.draw_digits(&[2, 8], &mut crate::rng::Rng::new(1), &device).unwrap().into_data();
    assert_eq!(draw(&loaded), draw(&low));
    let SurrogateKind::Diffusion(config) = &file.model else { unreachable!() };
    let unnamed = SurrogateFile {
        model: SurrogateKind::Diffusion(Box::new(LowResConfig { sampler: "fast".into(), ..config.as_ref().clone() })),
        ..file.clone()
    };
    let message = super::surrogate(&bytes_of(&low, &unnamed), Role::MnistSurrogate, &device).unwrap_err().to_string();
    assert!(message.contains("not `fast`"), "{message}");
    let mut wide = config.clone();
    wide.model.unet.channels = vec![1024; 4];
    wide.model.unet.res_blocks = 8;
    let huge = SurrogateFile { model: SurrogateKind::Diffusion(wide), ..file };
    let message = super::surrogate(&bytes_of(&low, &huge), Role::MnistSurrogate, &device).unwrap_err().to_string();
    assert!(message.contains("describes a UNet of at least"), "{message}");
}

fn bytes_of(surrogate: &Surrogate, file: &SurrogateFile) -> Vec<u8> {
    encode(&surrogate.tensors().unwrap(), file).unwrap()
}
