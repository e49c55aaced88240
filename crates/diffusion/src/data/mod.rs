//! Data sets: the course's STATES points.

pub mod states;
