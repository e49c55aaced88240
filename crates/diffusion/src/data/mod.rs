//! Data sets: the course's STATES points and MNIST digits.

pub mod bilinear;
pub mod mnist;
pub mod states;

/// Labels for `n` samples over `classes` classes in equal contiguous blocks: row i gets ⌊i K/n⌋
/// (the CLI's and the page's `all`).
pub fn label_blocks(classes: usize, n: usize) -> Vec<usize> {
    (0..n).map(|i| i * classes / n.max(1)).collect()
}

/// Labels cycling through the classes: row i gets i mod K (a grid with one class per column).
pub fn label_cycle(classes: usize, n: usize) -> Vec<usize> {
    (0..n).map(|i| i % classes.max(1)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_layouts() {
        assert_eq!(super::label_blocks(5, 10), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
        assert_eq!(super::label_blocks(5, 3), [0, 1, 3]);
        assert_eq!(super::label_cycle(3, 7), [0, 1, 2, 0, 1, 2, 0]);
    }
}
