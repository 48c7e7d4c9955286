//! Error types of `sparse-ops`.
//!
//! Policy (as in `sprs`): a programmer's contract violation (a slice of the wrong length passed
//! to a kernel) panics with `#[track_caller]`; anything that comes from user data (files,
//! generated sizes, structure handed in by a caller at run time) is a `Result`.

use std::path::PathBuf;

/// Invalid matrix structure or dimensions handed to a constructor.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StructureError {
    /// `indptr` must have `nrows + 1` entries, start at 0, be nondecreasing and end at `nnz`.
    #[error("invalid row pointer: {0}")]
    BadIndptr(String),
    /// A column index is not below the number of columns.
    #[error("column index {index} in row {row} is out of range (ncols = {ncols})")]
    ColumnOutOfRange { row: usize, index: usize, ncols: usize },
    /// A value is NaN or infinite.
    #[error("non-finite value {value} at row {row}, column {col}")]
    NonFinite { row: usize, col: usize, value: f64 },
    /// A dimension does not fit the index type (`u32` column indices).
    #[error("dimension {dim} exceeds the supported maximum {max}")]
    TooLarge { dim: usize, max: usize },
    /// Two vectors or matrices that must agree in size do not.
    #[error("{what}: expected length {expected}, found {found}")]
    DimensionMismatch { what: String, expected: usize, found: usize },
    /// An argument outside its documented range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The requested matrix needs more memory than is available (checked before allocating).
    #[error("{what} needs about {bytes} bytes, more than the {available} bytes of memory available")]
    TooLargeForMemory { what: String, bytes: u64, available: u64 },
}

/// What went wrong while reading a file (the file and line are in [`ReadError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadErrorKind {
    #[error("cannot read: {0}")]
    Io(#[source] std::io::Error),
    #[error("the file is empty")]
    Empty,
    #[error("the file ends before it is complete (truncated)")]
    Truncated,
    #[error("the line is not valid UTF-8 text")]
    InvalidUtf8,
    #[error(
        "bad Matrix Market banner {found:?}: expected '%%MatrixMarket matrix coordinate|array real|integer|pattern general|symmetric|skew-symmetric'"
    )]
    BadBanner { found: String },
    #[error("unsupported Matrix Market {what} {found:?}")]
    Unsupported { what: &'static str, found: String },
    #[error("bad size line {found:?}: expected {expected}")]
    BadSizeLine { found: String, expected: &'static str },
    #[error("the size line promises {expected} entries but the file has only {found}")]
    TooFewEntries { expected: usize, found: usize },
    #[error("more entries than the {expected} the size line promises")]
    TooManyEntries { expected: usize },
    #[error("expected {expected} fields on this line, found {found}")]
    WrongFieldCount { expected: String, found: usize },
    #[error("index 0 for the {what}: indices are 1-based")]
    IndexZero { what: &'static str },
    #[error("{what} index {index} is beyond the size {size}")]
    IndexOutOfRange { what: &'static str, index: u64, size: usize },
    #[error("not a number: {token:?}")]
    NonNumeric { token: String },
    #[error("non-finite value {token:?} (NaN and Inf are not accepted)")]
    NonFinite { token: String },
    #[error("duplicate entry at row {row}, column {col} (1-based; first seen on line {first_line})")]
    DuplicateEntry { row: usize, col: usize, first_line: usize },
    #[error(
        "entry ({row}, {col}) lies above the diagonal of a {symmetry} matrix (only the lower triangle may be stored)"
    )]
    UpperTriangle { row: usize, col: usize, symmetry: &'static str },
    #[error("a {symmetry} matrix must be square, found {nrows} x {ncols}")]
    NotSquare { symmetry: &'static str, nrows: usize, ncols: usize },
    #[error("{what}: expected length {expected}, found {found}")]
    LengthMismatch { what: String, expected: usize, found: usize },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Structure(#[from] StructureError),
    /// A line longer than the reader's limit (no line ending within `max` bytes): a binary or
    /// corrupt file, never a real Matrix Market, svmlight or vector line.
    #[error("a line longer than {max} bytes (no line ending found): not a text file of this format")]
    LineTooLong { max: usize },
    /// A size product overflows (`rows × columns`, bytes of an array).
    #[error("{what}: {a} x {b} overflows")]
    SizeOverflow { what: &'static str, a: u64, b: u64 },
    /// The object the file describes needs more memory than is available.
    #[error("{what} needs {bytes} bytes, more than the {available} bytes of memory available")]
    TooLargeForMemory { what: String, bytes: u64, available: u64 },
}

/// A file could not be read: which file, where, and why. No partial result accompanies it.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {kind}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ReadError {
    /// The file that was being read.
    pub path: PathBuf,
    /// 1-based line number, when the problem is tied to a line.
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: ReadErrorKind,
}

impl ReadError {
    pub(crate) fn at(path: &std::path::Path, line: Option<usize>, kind: ReadErrorKind) -> Self {
        Self { path: path.to_path_buf(), line, kind }
    }
}

/// An error writing a file.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot write: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}
