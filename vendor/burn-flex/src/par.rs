//! Element-wise passes split across rayon's threads.
//!
//! (Patched in by the diffusion playground: upstream burn-flex 0.22.1 runs its generic unary,
//! scalar and binary element-wise loops on one thread, and its SIMD in-place kernels only go
//! parallel above 4 Mi elements, so a 10 000 × 256 activation — 2.5 Mi elements — is walked by
//! one core while the other waits. These helpers keep each chunk's loop exactly the serial one,
//! so results are bit-identical to the serial path; they only decide who runs which chunk.)

use alloc::vec::Vec;
use core::mem::MaybeUninit;

/// Below this many elements a pass stays on the calling thread: the work (tens of µs) would not
/// pay for waking another.
#[cfg(feature = "rayon")]
pub(crate) const PAR_MIN_ELEMS: usize = 64 * 1024;

/// Elements per rayon task once a pass is split.
#[cfg(feature = "rayon")]
pub(crate) const PAR_CHUNK: usize = 16 * 1024;

/// True when a pass over `n` elements is split across threads.
#[cfg(feature = "rayon")]
#[inline]
fn worth_splitting(n: usize) -> bool {
    n >= PAR_MIN_ELEMS && rayon::current_num_threads() > 1
}

/// `x ← op(x)` for every element.
pub(crate) fn map_inplace<E, Op>(xs: &mut [E], op: Op)
where
    E: Copy + Send + Sync,
    Op: Fn(E) -> E + Sync + Send,
{
    #[cfg(feature = "rayon")]
    if worth_splitting(xs.len()) {
        use rayon::prelude::*;
        xs.par_chunks_mut(PAR_CHUNK).for_each(|chunk| {
            for x in chunk.iter_mut() {
                *x = op(*x);
            }
        });
        return;
    }
    for x in xs.iter_mut() {
        *x = op(*x);
    }
}

/// `d ← op(d, s)` pairwise.
pub(crate) fn zip_inplace<D, S, Op>(dst: &mut [D], src: &[S], op: Op)
where
    D: Copy + Send + Sync,
    S: Copy + Send + Sync,
    Op: Fn(D, S) -> D + Sync + Send,
{
    debug_assert_eq!(dst.len(), src.len());
    #[cfg(feature = "rayon")]
    if worth_splitting(dst.len()) {
        use rayon::prelude::*;
        dst.par_chunks_mut(PAR_CHUNK).zip(src.par_chunks(PAR_CHUNK)).for_each(|(d, s)| {
            for (d, &s) in d.iter_mut().zip(s) {
                *d = op(*d, s);
            }
        });
        return;
    }
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = op(*d, s);
    }
}

/// A fresh vector of `op(x)` for every element.
pub(crate) fn map_collect<E, R, Op>(xs: &[E], op: Op) -> Vec<R>
where
    E: Copy + Send + Sync,
    R: Send,
    Op: Fn(E) -> R + Sync + Send,
{
    fill_uninit(xs.len(), |start, out| {
        let end = start + out.len();
        for (o, &x) in out.iter_mut().zip(&xs[start..end]) {
            o.write(op(x));
        }
    })
}

/// A fresh vector of `op(a, b)` pairwise.
pub(crate) fn zip_collect<L, R, Out, Op>(lhs: &[L], rhs: &[R], op: Op) -> Vec<Out>
where
    L: Copy + Send + Sync,
    R: Copy + Send + Sync,
    Out: Send,
    Op: Fn(L, R) -> Out + Sync + Send,
{
    debug_assert_eq!(lhs.len(), rhs.len());
    fill_uninit(lhs.len(), |start, out| {
        let end = start + out.len();
        for ((o, &a), &b) in out.iter_mut().zip(&lhs[start..end]).zip(&rhs[start..end]) {
            o.write(op(a, b));
        }
    })
}

/// A vector of `n` elements, every one written by `fill(start, chunk)`, which must write each
/// element of `chunk` (the output's elements `start..start + chunk.len()`).
pub(crate) fn fill_uninit<T, F>(n: usize, fill: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize, &mut [MaybeUninit<T>]) + Sync + Send,
{
    let mut out: Vec<T> = Vec::with_capacity(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    #[cfg(feature = "rayon")]
    if worth_splitting(n) {
        use rayon::prelude::*;
        spare.par_chunks_mut(PAR_CHUNK).enumerate().for_each(|(i, chunk)| fill(i * PAR_CHUNK, chunk));
        // SAFETY: every chunk of the first n elements was written by `fill`.
        unsafe { out.set_len(n) };
        return out;
    }
    fill(0, spare);
    // SAFETY: `fill` wrote all n elements.
    unsafe { out.set_len(n) };
    out
}

/// Calls `f(start, chunk)` over `dst` cut into chunks (`start`: the chunk's first index), split
/// across threads when the whole is large enough.
pub(crate) fn for_each_chunk<D, F>(dst: &mut [D], f: F)
where
    D: Send,
    F: Fn(usize, &mut [D]) + Sync + Send,
{
    #[cfg(feature = "rayon")]
    if worth_splitting(dst.len()) {
        use rayon::prelude::*;
        dst.par_chunks_mut(PAR_CHUNK).enumerate().for_each(|(i, chunk)| f(i * PAR_CHUNK, chunk));
        return;
    }
    f(0, dst);
}
