//! A SciPy CSR matrix as a [`CsrMatrix`] without copying its values or indices.

use std::sync::Arc;

use numpy::PyReadonlyArray1;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use sparse_ops::{CsrBuffer, CsrMatrix};

use crate::common::value_error;

/// A validated CSR matrix over a SciPy matrix's arrays (`float64` data and `int32` indices
/// borrowed, not copied).
#[pyclass(frozen, module = "spnewton._spnewton")]
pub struct Csr {
    pub(crate) a: Arc<CsrMatrix>,
}

/// Borrow a contiguous, aligned 1-D array (kept alive by a reference to it), or `None` if its
/// layout does not allow it.
fn borrow<T: numpy::Element + Copy, U>(arr: &PyReadonlyArray1<'_, T>) -> Option<CsrBuffer<U>> {
    const { assert!(std::mem::size_of::<T>() == std::mem::size_of::<U>()) };
    const { assert!(std::mem::align_of::<T>() == std::mem::align_of::<U>()) };
    let slice = arr.as_slice().ok()?;
    if slice.is_empty() || !(slice.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return None;
    }
    let owner: Arc<dyn std::any::Any + Send + Sync> = Arc::new(arr.as_any().clone().unbind());
    // SAFETY: the pointer is non-null, aligned and valid for `len` elements of `T` (same size
    // and alignment as `U`, both plain integers or floats) while the array lives, which
    // `owner` guarantees; not writing it during a call is the documented contract of the
    // Python API.
    Some(unsafe { CsrBuffer::borrowed(slice.as_ptr().cast::<U>(), slice.len(), owner) })
}

fn to_usize(what: &str, v: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let conv = |i: i64| usize::try_from(i).map_err(|_| value_error(format!("{what} holds the negative value {i}")));
    if let Ok(a) = v.extract::<PyReadonlyArray1<'_, i32>>() {
        a.as_array().iter().map(|&i| conv(i64::from(i))).collect()
    } else if let Ok(a) = v.extract::<PyReadonlyArray1<'_, i64>>() {
        a.as_array().iter().map(|&i| conv(i)).collect()
    } else {
        Err(PyTypeError::new_err(format!("{what} must be a 1-D int32 or int64 NumPy array")))
    }
}

#[pymethods]
impl Csr {
    /// Validate a CSR matrix given by its arrays (SciPy's `indptr`, `indices`, `data`).
    #[new]
    fn new(
        py: Python<'_>,
        nrows: usize,
        ncols: usize,
        indptr: &Bound<'_, PyAny>,
        indices: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let indptr = to_usize("indptr", indptr)?;
        let indices: CsrBuffer<u32> = if let Ok(a) = indices.extract::<PyReadonlyArray1<'_, i32>>() {
            match borrow::<i32, u32>(&a) {
                Some(b) => b,
                // Negative indices become huge and fail the range check, as they should.
                None => a.as_array().iter().map(|&i| i as u32).collect::<Vec<_>>().into(),
            }
        } else if let Ok(a) = indices.extract::<PyReadonlyArray1<'_, i64>>() {
            a.as_array()
                .iter()
                .map(|&i| {
                    u32::try_from(i)
                        .map_err(|_| value_error(format!("column index {i} is out of range (ncols = {ncols})")))
                })
                .collect::<PyResult<Vec<_>>>()?
                .into()
        } else {
            return Err(PyTypeError::new_err("indices must be a 1-D int32 or int64 NumPy array"));
        };
        let data = data
            .extract::<PyReadonlyArray1<'_, f64>>()
            .map_err(|_| PyTypeError::new_err("data must be a 1-D float64 NumPy array"))?;
        let data: CsrBuffer<f64> = borrow::<f64, f64>(&data).unwrap_or_else(|| data.as_array().to_vec().into());
        let a = py.detach(|| CsrMatrix::try_from_buffers(nrows, ncols, indptr, indices, data)).map_err(value_error)?;
        Ok(Self { a: Arc::new(a) })
    }

    /// `(n, d)`.
    #[getter]
    fn shape(&self) -> (usize, usize) {
        self.a.shape()
    }

    #[getter]
    fn nnz(&self) -> usize {
        self.a.nnz()
    }

    /// Whether the values or indices are the caller's arrays (no copy was made).
    #[getter]
    fn borrowed(&self) -> bool {
        self.a.is_borrowed()
    }

    /// Addresses of the values and column indices the matrix reads (for checking zero-copy).
    fn buffer_addresses(&self) -> (usize, usize) {
        (self.a.data().as_ptr() as usize, self.a.indices().as_ptr() as usize)
    }
}
