//! NumPy .npy files through `npyz`: `sample mnist` writes its images and labels as them, `eval
//! mnist` reads them back (checking dtype and shape, and never allocating more than the file holds).

use std::path::Path;

use npyz::WriterBuilder;

/// A C-order .npy file of `shape` holding `data` (the dtype is `T`'s: u8 → '|u1', i64 → '<i8').
pub fn encode<T: npyz::AutoSerialize + Copy>(shape: &[usize], data: &[T]) -> Result<Vec<u8>, String> {
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut bytes = Vec::new();
    let fail = |e: std::io::Error| format!("cannot encode an .npy array: {e}");
    let mut writer =
        npyz::WriteOptions::new().default_dtype().shape(&shape).writer(&mut bytes).begin_nd().map_err(fail)?;
    writer.extend(data.iter().copied()).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(bytes)
}

/// The values of an .npy file of `T` whose shape, after its first axis, is `item` (`[]` for a
/// vector, `[28, 28]` for images): the first axis's length and the values.
pub fn read<T: npyz::Deserialize>(path: &Path, item: &[u64]) -> Result<(usize, Vec<T>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bad = |what: String| format!("{}: {what}", path.display());
    let file = npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not an .npy file ({e})")))?;
    let shape = file.shape().to_vec();
    if shape.len() != 1 + item.len() || shape[1..] != *item {
        return Err(bad(format!("shape {shape:?}, expected (n, {item:?})")));
    }
    // The header's claim is checked against the file's size before anything is allocated.
    let values = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
    if values.is_none_or(|n| n.saturating_mul(file.dtype().num_bytes().unwrap_or(1) as u64) > bytes.len() as u64) {
        return Err(bad(format!("shape {shape:?} is more than the file's {} bytes hold", bytes.len())));
    }
    let data = file.into_vec::<T>().map_err(|e| bad(format!("{e}")))?;
    Ok((shape[0] as usize, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_round_trip_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let bytes = encode(&[2, 3], &[1u8, 2, 3, 4, 5, 6]).unwrap();
        assert!(bytes.starts_with(b"\x93NUMPY\x01\x00"));
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0, "the data starts 64-byte aligned");
        assert!(String::from_utf8_lossy(&bytes[10..10 + header_len]).contains("'descr': '|u1'"));
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read::<u8>(&path, &[3]).unwrap(), (2, vec![1, 2, 3, 4, 5, 6]));
        assert!(read::<u8>(&path, &[]).unwrap_err().contains("shape"));
        assert!(read::<i64>(&path, &[3]).is_err(), "a dtype mismatch is refused");
        std::fs::write(&path, encode(&[2], &[-1i64, 7]).unwrap()).unwrap();
        assert_eq!(read::<i64>(&path, &[]).unwrap(), (2, vec![-1, 7]));
        // A header that claims 10¹² values in a file of a few bytes.
        let huge = String::from_utf8_lossy(&bytes).replace("(2, 3)", "(1000000000000, 3)");
        std::fs::write(&path, huge.as_bytes()).unwrap();
        let err = read::<u8>(&path, &[3]).unwrap_err();
        assert!(err.contains("more than the file") || err.contains("not an .npy"), "{err}");
        std::fs::write(&path, b"\x93NUMPY").unwrap();
        assert!(read::<u8>(&path, &[3]).unwrap_err().contains("not an .npy file"));
    }
}
