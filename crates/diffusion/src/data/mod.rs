//! Data sets: the course's STATES points and MNIST digits.

pub mod mnist;
pub mod states;
