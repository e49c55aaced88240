//! The CPU device's element-wise passes, split across threads by the workspace's patched
//! burn-flex (vendor/burn-flex/PATCHED.md), give exactly the values of one thread: each case
//! here is large enough (≥ 64 Ki elements) to be split, and is checked element by element
//! against the same f32 arithmetic done on the host. The shapes are the ones a training step
//! makes: a bias row broadcast over a batch, a per-row column, a transposed operand, a scalar
//! broadcast over one long run.

use burn::prelude::*;

const ROWS: usize = 1000;
const COLS: usize = 257; // not a multiple of the chunk size, so chunks cut rows

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / 16_777_216.0) - 0.5)
        .collect()
}

fn tensor(v: &[f32], shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), device)
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

fn assert_same(what: &str, ours: &[f32], want: &[f32]) {
    assert_eq!(ours.len(), want.len(), "{what}: length");
    for (i, (a, b)) in ours.iter().zip(want).enumerate() {
        assert!(a.to_bits() == b.to_bits(), "{what}: element {i} is {a}, the serial value is {b}");
    }
}

#[test]
fn split_passes_equal_the_serial_values() {
    let device = Device::flex();
    let n = ROWS * COLS;
    let x = values(n, 1);
    let y = values(n, 2);
    let bias = values(COLS, 3);
    let column = values(ROWS, 4);

    // Unary, in place (a unique tensor) and allocating (a shared one: `xt` is still held).
    let xt = tensor(&x, [ROWS, COLS], &device);
    let want: Vec<f32> = x.iter().map(|v| v.exp()).collect();
    assert_same("exp, allocating", &host(xt.clone().exp()), &want);
    assert_same("exp, in place", &host(tensor(&x, [ROWS, COLS], &device).exp()), &want);
    let want: Vec<f32> = x.iter().map(|v| if *v > 0.0 { *v } else { 0.0 }).collect();
    assert_same("relu", &host(burn::tensor::activation::relu(tensor(&x, [ROWS, COLS], &device))), &want);

    // Scalar ops.
    let want: Vec<f32> = x.iter().map(|v| v * 0.37).collect();
    assert_same("mul_scalar", &host(tensor(&x, [ROWS, COLS], &device) * 0.37), &want);
    let want: Vec<f32> = x.iter().map(|v| v + 1.5).collect();
    assert_same("add_scalar, allocating", &host(xt.clone() + 1.5), &want);

    // Binary, same shape: SIMD in place, and the allocating path (both operands shared).
    let want: Vec<f32> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
    assert_same("mul, in place", &host(tensor(&x, [ROWS, COLS], &device) * tensor(&y, [ROWS, COLS], &device)), &want);
    let (a, b) = (tensor(&x, [ROWS, COLS], &device), tensor(&y, [ROWS, COLS], &device));
    let want: Vec<f32> = x.iter().zip(&y).map(|(a, b)| a - b).collect();
    assert_same("sub, allocating", &host(a.clone() - b.clone()), &want);
    let want: Vec<f32> = x.iter().zip(&y).map(|(a, b)| a.max(*b)).collect();
    assert_same("max_pair", &host(a.clone().max_pair(b.clone())), &want);

    // A bias row over the batch (in place, and into a fresh output when the batch is shared).
    let row = tensor(&bias, [1, COLS], &device);
    let want: Vec<f32> = x.iter().enumerate().map(|(i, v)| v + bias[i % COLS]).collect();
    assert_same("bias add, in place", &host(tensor(&x, [ROWS, COLS], &device) + row.clone()), &want);
    assert_same("bias add, allocating", &host(a.clone() + row.clone()), &want);
    let want: Vec<f32> = x.iter().enumerate().map(|(i, v)| bias[i % COLS] / v).collect();
    assert_same("bias over batch (reversed operands)", &host(row.clone() / a.clone()), &want);

    // A per-row column.
    let col = tensor(&column, [ROWS, 1], &device);
    let want: Vec<f32> = x.iter().enumerate().map(|(i, v)| v * column[i / COLS]).collect();
    assert_same("column mul", &host(a.clone() * col), &want);

    // A transposed operand: strided runs.
    let t = tensor(&y, [COLS, ROWS], &device).transpose();
    let want: Vec<f32> = (0..n).map(|i| x[i] + y[(i % COLS) * ROWS + i / COLS]).collect();
    assert_same("add transposed", &host(a.clone() + t.clone()), &want);
    let want: Vec<f32> = (0..n).map(|i| y[(i % COLS) * ROWS + i / COLS].abs()).collect();
    assert_same("abs of transposed", &host(t.abs()), &want);

    // One long run against a broadcast scalar (a run cut across chunks), into a fresh output
    // (`_shared` keeps the run from being written in place).
    let flat: Tensor<1> = Tensor::from_data(TensorData::new(x.clone(), [n]), &device);
    let one: Tensor<1> = Tensor::from_data(TensorData::new(vec![0.25f32], [1]), &device);
    let want: Vec<f32> = x.iter().map(|v| v - 0.25).collect();
    let _shared = flat.clone();
    assert_same("long run minus scalar tensor", &flat.sub(one).into_data().try_into_vec::<f32>().unwrap(), &want);
}
