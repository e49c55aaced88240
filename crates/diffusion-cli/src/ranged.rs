//! Numeric flags parse here and are range-checked by the core's table ([`diffusion::limits`]):
//! `#[arg(long, value_parser = ranged::<usize>(limits::TRAIN_STEPS))]`. Clap applies the parser to
//! each item of a comma-separated list, and refuses before the command runs.

use std::str::FromStr;

use diffusion::Error;
use diffusion::limits::Limit;

/// A number a flag can hold, as the table's f64.
pub trait Number: FromStr + Copy + Send + Sync + 'static {
    fn as_f64(self) -> f64;
}

impl Number for usize {
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Number for u64 {
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Number for f64 {
    fn as_f64(self) -> f64 {
        self
    }
}

/// A clap value parser: the text as a `T`, refused with the range unless it lies in `limit`.
pub fn ranged<T: Number>(limit: Limit) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |text: &str| {
        let kind = if limit.integer { "a whole number" } else { "a number" };
        let value: T = text.trim().parse().map_err(|_| format!("`{text}` is not {kind} ({})", limit.range_text()))?;
        match limit.check(value.as_f64()) {
            Ok(()) => Ok(value),
            Err(Error::Config(message)) => Err(message),
            Err(other) => Err(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use diffusion::limits;

    use super::*;

    #[test]
    fn parses_in_range_and_names_the_range_otherwise() {
        let steps = ranged::<usize>(limits::TRAIN_STEPS);
        assert_eq!(steps("300"), Ok(300));
        assert!(steps("0").unwrap_err().contains("[1, 10000000]"));
        assert!(steps("-3").unwrap_err().contains("not a whole number"));
        let lr = ranged::<f64>(limits::LR);
        assert_eq!(lr("1e-3"), Ok(1e-3));
        assert!(lr("NaN").is_err() && lr("inf").is_err() && lr("0").is_err());
        assert_eq!(ranged::<u64>(limits::SEED)("18446744073709551615"), Ok(u64::MAX));
    }
}
