//! Reading and writing matrices and vectors: Matrix Market (coordinate and array, plain or
//! gzip-compressed), svmlight/LIBSVM, and plain vectors (one number a line).
//!
//! Every reader either returns the whole object or a [`ReadError`](crate::ReadError) naming the file, the line
//! and what is wrong; nothing panics on any input and no partial matrix is returned. Writers
//! write to a temporary file beside the target and rename it, so a failed write never leaves a
//! half-written file under the target's name.

mod lines;
mod mtx;
mod svmlight;
mod vector;

pub use mtx::{
    DenseMatrix, MatrixMarket, read_csr, read_dense, read_matrix_market, write_dense_matrix_market, write_matrix_market,
};
pub use svmlight::{SvmlightOptions, read_svmlight};
pub use vector::{read_vector, read_vector_of_len, write_vector};

use crate::csr::Duplicates;

/// Options of the Matrix Market reader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Repeated coordinates: summed (default) or rejected.
    pub duplicates: Duplicates,
}

pub(crate) use lines::{Lines, atomic_write, parse_index, parse_value};
