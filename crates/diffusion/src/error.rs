//! The one error type of the core crate: every message says what was wrong and where.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A malformed data file; `line` is 1-based.
    Data { line: usize, message: String },
    /// A weights file that is truncated, not safetensors, or does not fit the model.
    Weights(String),
    /// A hyper-parameter or configuration that cannot work.
    Config(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Data { line, message } => write!(f, "line {line}: {message}"),
            Error::Weights(message) => write!(f, "weights: {message}"),
            Error::Config(message) => write!(f, "config: {message}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// The adapters report errors as text: `?` turns a core error into its message.
impl From<Error> for String {
    fn from(error: Error) -> Self {
        error.to_string()
    }
}
