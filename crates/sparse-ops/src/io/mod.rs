//! Reading and writing matrices and vectors: Matrix Market (coordinate and array, plain or
//! gzip-compressed), SciPy sparse `.npz`, svmlight/LIBSVM, and vectors (one number a line, or
//! NumPy `.npy`).
//!
//! Every reader takes a path or any `Read` (`*_from_reader`), and either returns the whole object or a [`ReadError`](crate::ReadError) naming the file, the line
//! and what is wrong; nothing panics on any input and no partial matrix is returned. Writers
//! write to a temporary file beside the target and rename it, so a failed write never leaves a
//! half-written file under the target's name.

mod blocks;
mod fast;
pub mod limits;
mod lines;
mod mtx;
mod npz;
mod svmlight;
mod vector;

pub use blocks::Progress;
pub use limits::MAX_LINE_BYTES;
pub use mtx::{
    DenseMatrix, MatrixMarket, read_csr, read_csr_from_reader, read_csr_with_progress, read_dense,
    read_dense_from_reader, read_matrix_market, read_matrix_market_from_reader, read_matrix_market_with_progress,
    write_dense_matrix_market, write_matrix_market,
};
pub use npz::{NpzOptions, is_npy, is_npz, read_npy_vector, read_npz, write_npy_vector, write_npz};
pub use svmlight::{SvmlightOptions, read_svmlight, read_svmlight_from_reader, write_svmlight};
pub use vector::{read_vector, read_vector_from_reader, read_vector_of_len, write_vector};

use crate::csr::Duplicates;

/// Options of the Matrix Market reader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Repeated coordinates: summed (default) or rejected.
    pub duplicates: Duplicates,
}

pub(crate) use lines::{Lines, atomic_write, parse_index, parse_value};

/// Whether `path` names an svmlight/LIBSVM file (`.svm`, `.svmlight`, `.libsvm`, optionally
/// followed by `.gz`); every other matrix file is read as Matrix Market.
pub fn is_svmlight(path: &std::path::Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".svm", ".svmlight", ".libsvm"].iter().any(|e| name.ends_with(e))
}

/// Read a matrix from a Matrix Market, SciPy `.npz` or svmlight file (chosen by [`is_npz`] and
/// [`is_svmlight`]); an
/// svmlight file's labels come back too. `progress` is called with the bytes of text parsed
/// so far (Matrix Market coordinate files).
pub fn read_matrix_file(
    path: &std::path::Path,
    opts: ReadOptions,
    progress: Progress<'_>,
) -> Result<(crate::CsrMatrix, Option<Vec<f64>>), crate::ReadError> {
    if is_npz(path) {
        Ok((read_npz(path, opts)?, None))
    } else if is_svmlight(path) {
        let (a, b) = read_svmlight(path, SvmlightOptions { duplicates: opts.duplicates, ..Default::default() })?;
        Ok((a, Some(b)))
    } else {
        Ok((read_csr_with_progress(path, opts, progress)?, None))
    }
}
