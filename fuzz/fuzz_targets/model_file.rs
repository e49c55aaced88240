//! Any bytes through the model-file loader of every role: the safetensors header, the config JSON,
//! the role check, the tensor checks. It must answer with an error, never panic, hang or allocate
//! what the bytes merely claim.
#![no_main]

use burn::prelude::Device;
use diffusion::checkpoint::Role;
use diffusion::model_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let device = Device::flex();
    let _ = model_file::role(bytes);
    let _ = model_file::mlp(bytes, Role::Denoiser, &device);
    let _ = model_file::mlp(bytes, Role::Classifier, &device);
    let _ = model_file::unet(bytes, &device);
    let _ = model_file::cnn(bytes, &device);
    let _ = model_file::surrogate(bytes, Role::StatesSurrogate, &device);
    let _ = model_file::surrogate(bytes, Role::MnistSurrogate, &device);
});
