//! STATES: 5000 points on the outlines of five US states (the CSE 849 course project's data).
//!
//! CSV with header `x,y,label`; labels 0 Michigan, 1 Idaho, 2 Ohio, 3 Oklahoma, 4 Wisconsin.
//! The same reader takes sample files (`x,y` or `x,y,label`).

use crate::error::{Error, Result};
use crate::rng::Rng;

/// The course data set, embedded so the CLI and the wasm work without any file.
pub const STATES_CSV: &str = include_str!("../../../../data/states.csv");

/// State names by label.
pub const STATE_NAMES: [&str; 5] = ["Michigan", "Idaho", "Ohio", "Oklahoma", "Wisconsin"];

/// Two-letter codes by label (for compact tables).
pub const STATE_CODES: [&str; 5] = ["MI", "ID", "OH", "OK", "WI"];

/// 2-D points with optional class labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Points {
    pub xy: Vec<[f32; 2]>,
    /// One label per point when the file has a `label` column.
    pub labels: Option<Vec<u8>>,
}

/// `n` of `xy` spread evenly through it (row i·len/n for i < n), row-major.
pub fn spread(xy: &[[f32; 2]], n: usize) -> Vec<f32> {
    (0..n).flat_map(|i| xy[i * xy.len() / n]).collect()
}

impl Points {
    pub fn len(&self) -> usize {
        self.xy.len()
    }

    /// `n` of the points spread evenly through the list, row-major (the file is grouped by state,
    /// so the first n would be one state only).
    pub fn spread(&self, n: usize) -> Vec<f32> {
        spread(&self.xy, n)
    }

    pub fn is_empty(&self) -> bool {
        self.xy.is_empty()
    }

    /// Row-major `[n * 2]` coordinates.
    pub fn flat(&self) -> Vec<f32> {
        self.xy.iter().flatten().copied().collect()
    }

    /// The points whose label is `label` (all points if the file had no labels).
    pub fn with_label(&self, label: u8) -> Points {
        match &self.labels {
            None => self.clone(),
            Some(labels) => {
                let xy = self.xy.iter().zip(labels).filter(|(_, l)| **l == label).map(|(p, _)| *p);
                let xy: Vec<_> = xy.collect();
                Points { labels: Some(vec![label; xy.len()]), xy }
            }
        }
    }
}

impl Points {
    /// A seeded random split into (training, validation) with `round(n · val_fraction)` held out,
    /// stratified by label so every state keeps its share in both parts.
    pub fn split(&self, val_fraction: f64, seed: u64) -> Result<(Points, Points)> {
        crate::limits::VAL_FRACTION.check(val_fraction)?;
        let mut rng = Rng::new(seed);
        let (mut train, mut val) = (Points::empty_like(self), Points::empty_like(self));
        let groups: Vec<Points> = match &self.labels {
            Some(_) => (0..STATE_NAMES.len() as u8).map(|l| self.with_label(l)).collect(),
            None => vec![self.clone()],
        };
        for group in groups {
            let mut order: Vec<usize> = (0..group.len()).collect();
            // Fisher–Yates.
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
            let held_out = (group.len() as f64 * val_fraction).round() as usize;
            for (rank, &i) in order.iter().enumerate() {
                let part = if rank < held_out { &mut val } else { &mut train };
                part.xy.push(group.xy[i]);
                if let (Some(out), Some(labels)) = (&mut part.labels, &group.labels) {
                    out.push(labels[i]);
                }
            }
        }
        Ok((train, val))
    }

    fn empty_like(other: &Points) -> Points {
        Points { xy: Vec::new(), labels: other.labels.as_ref().map(|_| Vec::new()) }
    }
}

/// The embedded STATES data set.
pub fn states() -> Points {
    parse_points_csv(STATES_CSV).expect("the embedded STATES csv is valid")
}

/// Points a user drew (flat x, y pairs in the data's units), unlabelled, as training data: at least
/// 10 and at most 100 000 of them, every coordinate finite and within ±10 (the page's view spans
/// about ±3).
pub fn drawn_points(flat: &[f32]) -> Result<Points> {
    let n = flat.len() / 2;
    if !flat.len().is_multiple_of(2) || !(10..=100_000).contains(&n) {
        return Err(Error::Config(format!(
            "draw between 10 and 100000 points to train on (got {} numbers)",
            flat.len()
        )));
    }
    if let Some(bad) = flat.iter().position(|v| !v.is_finite() || v.abs() > 10.0) {
        return Err(Error::Config(format!(
            "drawn point {} is {} (coordinates must be finite, within ±10)",
            bad / 2,
            flat[bad]
        )));
    }
    Ok(Points { xy: flat.chunks_exact(2).map(|p| [p[0], p[1]]).collect(), labels: None })
}

/// Parses `x,y[,label]` CSV text. Errors name the 1-based line and what is wrong with it.
/// The requested state of each of `n` guided samples: all `label`, or (`None`, "all") the five
/// states in equal contiguous blocks (`label_blocks`).
pub fn requested_labels(label: Option<u8>, n: usize) -> Vec<u8> {
    match label {
        Some(l) => vec![l; n],
        None => super::label_blocks(STATE_NAMES.len(), n).into_iter().map(|l| l as u8).collect(),
    }
}

pub fn parse_points_csv(text: &str) -> Result<Points> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let (_, header) = lines.next().ok_or(Error::Data { line: 1, message: "empty file".into() })?;
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let has_label = match columns.as_slice() {
        ["x", "y"] => false,
        ["x", "y", "label"] => true,
        _ => {
            let message = format!("header must be `x,y` or `x,y,label`, found `{header}`");
            return Err(Error::Data { line: 1, message });
        }
    };
    let mut points = Points { xy: Vec::new(), labels: has_label.then(Vec::new) };
    for (line, row) in lines {
        if row.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = row.split(',').map(str::trim).collect();
        if fields.len() != columns.len() {
            let message = format!("expected {} fields, found {} in `{row}`", columns.len(), fields.len());
            return Err(Error::Data { line, message });
        }
        let coordinate = |i: usize| -> Result<f32> {
            let v: f32 = fields[i].parse().map_err(|_| Error::Data {
                line,
                message: format!("`{}` is not a number ({} column)", fields[i], columns[i]),
            })?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(Error::Data { line, message: format!("{} is not finite", columns[i]) })
            }
        };
        points.xy.push([coordinate(0)?, coordinate(1)?]);
        if let Some(labels) = &mut points.labels {
            let label = fields[2].parse::<u8>().ok().filter(|&l| (l as usize) < STATE_NAMES.len());
            let label = label.ok_or_else(|| Error::Data {
                line,
                message: format!("label `{}` is not one of 0..{}", fields[2], STATE_NAMES.len()),
            })?;
            labels.push(label);
        }
    }
    if points.is_empty() {
        return Err(Error::Data { line: 2, message: "no data rows".into() });
    }
    Ok(points)
}

/// Writes points as CSV (`x,y` or `x,y,label`), the format `parse_points_csv` reads.
pub fn to_csv(points: &Points) -> String {
    let mut out = String::from(if points.labels.is_some() { "x,y,label\n" } else { "x,y\n" });
    for (i, [x, y]) in points.xy.iter().enumerate() {
        match &points.labels {
            Some(labels) => out.push_str(&format!("{x},{y},{}\n", labels[i])),
            None => out.push_str(&format!("{x},{y}\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_points_are_checked() {
        let ring: Vec<f32> = (0..40).flat_map(|i| [(i as f32 * 0.157).cos(), (i as f32 * 0.157).sin()]).collect();
        let points = drawn_points(&ring).unwrap();
        assert_eq!((points.len(), points.labels.is_none()), (40, true));
        assert!(drawn_points(&ring[..18]).unwrap_err().to_string().contains("between 10 and 100000"));
        assert!(drawn_points(&ring[..21]).is_err());
        let mut bad = ring.clone();
        bad[7] = f32::NAN;
        assert!(drawn_points(&bad).unwrap_err().to_string().contains("drawn point 3"));
        bad[7] = 11.0;
        assert!(drawn_points(&bad).is_err());
    }

    #[test]
    fn embedded_data_has_5000_labelled_points() {
        let data = states();
        assert_eq!(data.len(), 5000);
        let labels = data.labels.as_ref().unwrap();
        for label in 0..5u8 {
            assert!(labels.iter().filter(|&&l| l == label).count() > 500);
        }
    }

    #[test]
    fn malformed_rows_name_their_line() {
        let bad = "x,y,label\n1,2,0\n1,oops,0\n";
        let err = parse_points_csv(bad).unwrap_err();
        assert_eq!(err, Error::Data { line: 3, message: "`oops` is not a number (y column)".into() });
        let err = parse_points_csv("x,y,label\n1,2,7\n").unwrap_err();
        assert!(matches!(err, Error::Data { line: 2, .. }), "{err}");
        let err = parse_points_csv("x,y\n1,2\n3\n").unwrap_err();
        assert!(matches!(err, Error::Data { line: 3, .. }), "{err}");
        let err = parse_points_csv("a,b\n").unwrap_err();
        assert!(matches!(err, Error::Data { line: 1, .. }), "{err}");
        let err = parse_points_csv("x,y\n1,NaN\n").unwrap_err();
        assert!(err.to_string().contains("not finite"), "{err}");
        assert!(parse_points_csv("").is_err());
        assert!(parse_points_csv("x,y\n").is_err());
    }

    #[test]
    fn split_is_stratified_seeded_and_disjoint() {
        let data = states();
        let (train, val) = data.split(0.1, 3).unwrap();
        assert_eq!((train.len(), val.len()), (4500, 500));
        for label in 0..5u8 {
            assert_eq!(val.with_label(label).len(), 100);
        }
        assert_eq!(data.split(0.1, 3).unwrap().1, val);
        assert_ne!(data.split(0.1, 4).unwrap().1, val);
        let mut all: Vec<[u32; 2]> = train.xy.iter().chain(&val.xy).map(|p| [p[0].to_bits(), p[1].to_bits()]).collect();
        all.sort();
        let mut want: Vec<[u32; 2]> = data.xy.iter().map(|p| [p[0].to_bits(), p[1].to_bits()]).collect();
        want.sort();
        assert_eq!(all, want);
        assert_eq!(data.split(0.0, 0).unwrap().0.len(), 5000);
        assert!(data.split(1.0, 0).is_err() && data.split(f64::NAN, 0).is_err());
    }

    #[test]
    fn csv_round_trip() {
        let points = Points { xy: vec![[0.5, -1.25], [3.0, 4.0]], labels: Some(vec![1, 4]) };
        assert_eq!(parse_points_csv(&to_csv(&points)).unwrap(), points);
    }
}
