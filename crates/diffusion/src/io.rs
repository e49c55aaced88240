//! Weights as safetensors files: every float parameter under its module path ("layers.0.weight"),
//! f32, with the model's JSON config in the header metadata so one file rebuilds its model.
//! Loading checks names, shapes and dtypes before touching the model and names any culprit.

use std::collections::HashMap;

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use safetensors::{Dtype, SafeTensors, View};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A parameter on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// The metadata key that holds the model config (JSON).
pub const CONFIG_KEY: &str = "config";

/// What a file's network is for: the `role` tag of its config (`model_file`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// ε̂(x_t, t) of a STATES MLP (files without a role are denoisers).
    #[default]
    Denoiser,
    /// Logits of f_φ(y | x_t, t), the STATES noisy classifier used for guidance.
    Classifier,
    /// The MNIST UNet's ε̂(x_t, t, y).
    MnistDenoiser,
    /// The CNN that judges MNIST samples.
    MnistClassifier,
    /// A cheap model of the STATES points whose samples start a sampler part-way (`surrogate`).
    StatesSurrogate,
    /// The same for MNIST's digits (`surrogate`, a conv VAE).
    MnistSurrogate,
}

impl Role {
    /// The name files and messages use.
    pub fn name(self) -> &'static str {
        match self {
            Role::Denoiser => "denoiser",
            Role::Classifier => "classifier",
            Role::MnistDenoiser => "mnist-denoiser",
            Role::MnistClassifier => "mnist-classifier",
            Role::StatesSurrogate => "states-surrogate",
            Role::MnistSurrogate => "mnist-surrogate",
        }
    }
}

/// Every float parameter of `module` as (path, shape, flattened tensor), in visiting order.
/// Reading the tensors back is the caller's: synchronously natively, asynchronously in a browser.
pub fn parameters<M: Module>(module: &M) -> Vec<(String, Vec<usize>, Tensor<1>)> {
    struct Collect {
        path: Vec<String>,
        out: Vec<(String, Vec<usize>, Tensor<1>)>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let tensor = param.val();
            let shape = tensor.dims().to_vec();
            self.out.push((self.path.join("."), shape, tensor.reshape([-1])));
        }
    }
    let mut collect = Collect { path: Vec::new(), out: Vec::new() };
    module.visit(&mut collect);
    collect.out
}

/// Every float parameter of `module` read back to the host as f32, ready for [`encode`]. Native
/// only (the read is synchronous; the browser reads [`parameters`] asynchronously).
pub fn host_tensors<M: Module>(module: &M) -> Result<Vec<NamedTensor>> {
    parameters(module)
        .into_iter()
        .map(|(name, shape, t)| {
            let values = t
                .into_data()
                .convert::<f32>()
                .try_into_vec()
                .map_err(|e| Error::Weights(format!("cannot read tensor `{name}` back: {e:?}")))?;
            Ok(NamedTensor { name, shape, values })
        })
        .collect()
}

/// Parameter names and shapes, what a file must hold to fit `module`.
pub fn expected<M: Module>(module: &M) -> Vec<(String, Vec<usize>)> {
    parameters(module).into_iter().map(|(name, shape, _)| (name, shape)).collect()
}

struct F32View<'a>(&'a NamedTensor);

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        self.0.values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>().into()
    }
    fn data_len(&self) -> usize {
        self.0.values.len() * 4
    }
}

/// Serialises tensors (and the config as metadata, unless empty) to safetensors bytes.
pub fn encode(tensors: &[NamedTensor], config_json: &str) -> Result<Vec<u8>> {
    let views = tensors.iter().map(|t| (t.name.clone(), F32View(t)));
    let metadata =
        (!config_json.is_empty()).then(|| HashMap::from([(CONFIG_KEY.to_string(), config_json.to_string())]));
    safetensors::serialize(views, metadata).map_err(|e| Error::Weights(e.to_string()))
}

/// A decoded weights file.
#[derive(Clone, Debug)]
pub struct WeightsFile {
    pub tensors: Vec<NamedTensor>,
    pub config_json: Option<String>,
}

/// Parses safetensors bytes; a truncated or foreign file is an error that says so.
pub fn decode(bytes: &[u8]) -> Result<WeightsFile> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::Weights(format!("not a valid safetensors file ({} bytes): {e}", bytes.len())))?;
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| Error::Weights(e.to_string()))?;
    let config_json = metadata.metadata().as_ref().and_then(|m| m.get(CONFIG_KEY).cloned());
    let mut tensors = Vec::new();
    for (name, view) in file.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(Error::Weights(format!("tensor `{name}` is {:?}, expected F32", view.dtype())));
        }
        let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        tensors.push(NamedTensor { name, shape: view.shape().to_vec(), values });
    }
    Ok(WeightsFile { tensors, config_json })
}

/// Checks that `tensors` hold exactly the parameters of `module` (names, shapes, finite values).
pub fn check<M: Module>(module: &M, tensors: &[NamedTensor]) -> Result<()> {
    let by_name: HashMap<&str, &NamedTensor> = tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    let expected = expected(module);
    for (name, shape) in &expected {
        let tensor = by_name
            .get(name.as_str())
            .ok_or_else(|| Error::Weights(format!("tensor `{name}` (shape {shape:?}) is missing from the file")))?;
        if &tensor.shape != shape {
            return Err(Error::Weights(format!(
                "tensor `{name}` has shape {:?}, the model needs {shape:?}",
                tensor.shape
            )));
        }
        if tensor.values.iter().any(|v| !v.is_finite()) {
            return Err(Error::Weights(format!("tensor `{name}` contains NaN or infinite values")));
        }
    }
    if let Some(extra) = tensors.iter().find(|t| !expected.iter().any(|(name, _)| *name == t.name)) {
        return Err(Error::Weights(format!("tensor `{}` is not a parameter of this model", extra.name)));
    }
    Ok(())
}

/// Replaces the parameters of `module` by `tensors` after `check`; the module is untouched on error.
pub fn load<M: Module>(module: M, tensors: &[NamedTensor]) -> Result<M> {
    check(&module, tensors)?;
    struct Assign<'a> {
        path: Vec<String>,
        by_name: HashMap<&'a str, &'a NamedTensor>,
    }
    impl ModuleMapper for Assign<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let source = self.by_name[self.path.join(".").as_str()];
            param.map(|old| {
                let data = TensorData::new(source.values.clone(), source.shape.clone());
                // A trained parameter stays trainable (resuming a run on an autodiff device).
                Tensor::from_data(data, &old.device()).set_require_grad(old.is_require_grad())
            })
        }
    }
    let by_name = tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    Ok(module.map(&mut Assign { path: Vec::new(), by_name }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mlp::MlpConfig;

    fn small() -> MlpConfig {
        MlpConfig { d_input: 3, hidden: vec![8, 8], d_output: 2 }
    }

    #[test]
    fn names_follow_the_module_paths() {
        let mlp = small().init(&Device::flex(), 0).unwrap();
        let names: Vec<String> = expected(&mlp).into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"layers.0.weight".to_string()), "{names:?}");
        assert!(names.contains(&"layers.2.bias".to_string()), "{names:?}");
        assert!(names.contains(&"activations.1.alpha".to_string()), "{names:?}");
    }

    #[test]
    fn weights_round_trip_bit_exactly() {
        let device = Device::flex();
        let original = small().init(&device, 1).unwrap();
        let bytes = encode(&host_tensors(&original).unwrap(), "{\"x\":1}").unwrap();
        let file = decode(&bytes).unwrap();
        assert_eq!(file.config_json.as_deref(), Some("{\"x\":1}"));
        let loaded = load(small().init(&device, 2).unwrap(), &file.tensors).unwrap();
        assert_eq!(host_tensors(&loaded).unwrap(), host_tensors(&original).unwrap());
        let x = Tensor::<2>::ones([4, 3], &device);
        assert_eq!(loaded.forward(x.clone()).into_data(), original.forward(x).into_data());
    }

    #[test]
    fn bad_files_are_errors_naming_the_problem() {
        let device = Device::flex();
        let model = small().init(&device, 1).unwrap();
        let tensors = host_tensors(&model).unwrap();
        let bytes = encode(&tensors, "{}").unwrap();

        let truncated = decode(&bytes[..bytes.len() - 10]).unwrap_err();
        assert!(truncated.to_string().contains("not a valid safetensors file"), "{truncated}");
        assert!(decode(b"hello").is_err());
        assert!(decode(&[]).is_err());

        let other = MlpConfig { d_input: 3, hidden: vec![16, 8], d_output: 2 }.init(&device, 0).unwrap();
        let wrong = load(other, &tensors).unwrap_err().to_string();
        assert!(wrong.contains("layers.0.weight") && wrong.contains("[3, 8]") && wrong.contains("[3, 16]"), "{wrong}");

        let missing = load(small().init(&device, 0).unwrap(), &tensors[1..]).unwrap_err().to_string();
        assert!(missing.contains(&tensors[0].name) && missing.contains("missing"), "{missing}");

        let mut extra = tensors.clone();
        extra.push(NamedTensor { name: "head.weight".into(), shape: vec![1], values: vec![0.0] });
        let extra = load(small().init(&device, 0).unwrap(), &extra).unwrap_err().to_string();
        assert!(extra.contains("head.weight"), "{extra}");

        let mut nan = tensors.clone();
        nan[0].values[0] = f32::NAN;
        assert!(load(small().init(&device, 0).unwrap(), &nan).unwrap_err().to_string().contains("NaN"));
    }
}
