//! The kernels every Newton iteration is made of. Each states its cost; all are parallel over
//! fixed row blocks (see [`runtime::partition`]) and give bitwise-identical results for any
//! thread count.

mod dense;
mod fused;
mod gram;
mod matvec;
mod rows;

pub use matvec::dot_row;
pub use rows::{MatrixStats, Summary};
