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
    ColumnOutOfRange {
        /// Row (0-based) holding the entry.
        row: usize,
        /// The offending column index.
        index: usize,
        /// Number of columns of the matrix.
        ncols: usize,
    },
    /// A value is NaN or infinite.
    #[error("non-finite value {value} at row {row}, column {col}")]
    NonFinite {
        /// Row (0-based) of the value.
        row: usize,
        /// Column (0-based) of the value.
        col: usize,
        /// The non-finite value.
        value: f64,
    },
    /// A dimension does not fit the index type (`u32` column indices).
    #[error("dimension {dim} exceeds the supported maximum {max}")]
    TooLarge {
        /// The requested dimension.
        dim: usize,
        /// Largest supported dimension.
        max: usize,
    },
    /// Two vectors or matrices that must agree in size do not.
    #[error("{what}: expected length {expected}, found {found}")]
    DimensionMismatch {
        /// Which argument or object is mismatched.
        what: String,
        /// Required length.
        expected: usize,
        /// Length actually given.
        found: usize,
    },
    /// An argument outside its documented range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The requested matrix needs more memory than is available (checked before allocating).
    #[error("{what} needs about {bytes} bytes, more than the {available} bytes of memory available")]
    TooLargeForMemory {
        /// What was to be allocated.
        what: String,
        /// Estimated bytes needed.
        bytes: u64,
        /// Bytes of memory available.
        available: u64,
    },
}

/// What went wrong while reading a file (the file and line are in [`ReadError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadErrorKind {
    #[error("cannot read: {0}")]
    /// An I/O error from the underlying reader.
    Io(#[source] std::io::Error),
    #[error("the file is empty")]
    /// The file has no content.
    Empty,
    #[error("the file ends before it is complete (truncated)")]
    /// The file ends before the promised content.
    Truncated,
    #[error("the line is not valid UTF-8 text")]
    /// A line is not valid UTF-8.
    InvalidUtf8,
    #[error(
        "bad Matrix Market banner {found:?}: expected '%%MatrixMarket matrix coordinate|array real|integer|pattern general|symmetric|skew-symmetric'"
    )]
    /// The first line is not a supported Matrix Market banner.
    BadBanner {
        /// The banner line as read.
        found: String,
    },
    #[error("unsupported Matrix Market {what} {found:?}")]
    /// A Matrix Market object, format, field or symmetry this reader does not support.
    Unsupported {
        /// Which banner word (object, format, field or symmetry).
        what: &'static str,
        /// The unsupported value.
        found: String,
    },
    #[error("bad size line {found:?}: expected {expected}")]
    /// The size line does not have the expected shape.
    BadSizeLine {
        /// The size line as read.
        found: String,
        /// The expected shape.
        expected: &'static str,
    },
    #[error("the size line promises {expected} entries but the file has only {found}")]
    /// Fewer entries than the size line promises.
    TooFewEntries {
        /// Entries promised by the size line.
        expected: usize,
        /// Entries actually read.
        found: usize,
    },
    #[error("more entries than the {expected} the size line promises")]
    /// More entries than the size line promises.
    TooManyEntries {
        /// Entries promised by the size line.
        expected: usize,
    },
    #[error("expected {expected} fields on this line, found {found}")]
    /// A data line has the wrong number of fields.
    WrongFieldCount {
        /// The expected field count (may name alternatives).
        expected: String,
        /// Fields actually found.
        found: usize,
    },
    #[error("index 0 for the {what}: indices are 1-based")]
    /// A 1-based index is 0.
    IndexZero {
        /// Which index (row or column).
        what: &'static str,
    },
    #[error("{what} index {index} is beyond the size {size}")]
    /// A 1-based index exceeds the declared size.
    IndexOutOfRange {
        /// Which index (row or column).
        what: &'static str,
        /// The index as read (1-based).
        index: u64,
        /// The declared size.
        size: usize,
    },
    #[error("not a number: {token:?}")]
    /// A token that does not parse as a number.
    NonNumeric {
        /// The token as read.
        token: String,
    },
    #[error("non-finite value {token:?} (NaN and Inf are not accepted)")]
    /// A number that parses to NaN or infinity.
    NonFinite {
        /// The token as read.
        token: String,
    },
    #[error("duplicate entry at row {row}, column {col} (1-based; first seen on line {first_line})")]
    /// The same (row, column) appears twice.
    DuplicateEntry {
        /// Row (1-based).
        row: usize,
        /// Column (1-based).
        col: usize,
        /// Line where the entry first appeared.
        first_line: usize,
    },
    #[error(
        "entry ({row}, {col}) lies above the diagonal of a {symmetry} matrix (only the lower triangle may be stored)"
    )]
    /// An entry above the diagonal in a symmetric or skew-symmetric file.
    UpperTriangle {
        /// Row (1-based).
        row: usize,
        /// Column (1-based).
        col: usize,
        /// The declared symmetry.
        symmetry: &'static str,
    },
    #[error("a {symmetry} matrix must be square, found {nrows} x {ncols}")]
    /// A symmetric or skew-symmetric file whose size is not square.
    NotSquare {
        /// The declared symmetry.
        symmetry: &'static str,
        /// Declared rows.
        nrows: usize,
        /// Declared columns.
        ncols: usize,
    },
    #[error("{what}: expected length {expected}, found {found}")]
    /// A vector or array length differs from the one required.
    LengthMismatch {
        /// Which object is mismatched.
        what: String,
        /// Required length.
        expected: usize,
        /// Length actually found.
        found: usize,
    },
    #[error("{0}")]
    /// Any other invalid content (message says what).
    Invalid(String),
    #[error(transparent)]
    /// The entries read form an invalid matrix structure.
    Structure(#[from] StructureError),
    /// A line longer than the reader's limit (no line ending within `max` bytes): a binary or
    /// corrupt file, never a real Matrix Market, svmlight or vector line.
    #[error("a line longer than {max} bytes (no line ending found): not a text file of this format")]
    LineTooLong {
        /// The line-length limit in bytes.
        max: usize,
    },
    /// A size product overflows (`rows × columns`, bytes of an array).
    #[error("{what}: {a} x {b} overflows")]
    SizeOverflow {
        /// Which size is being computed.
        what: &'static str,
        /// First factor.
        a: u64,
        /// Second factor.
        b: u64,
    },
    /// The object the file describes needs more memory than is available.
    #[error("{what} needs {bytes} bytes, more than the {available} bytes of memory available")]
    TooLargeForMemory {
        /// What was to be allocated.
        what: String,
        /// Bytes needed.
        bytes: u64,
        /// Bytes of memory available.
        available: u64,
    },
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
    /// The file that was being written.
    pub path: PathBuf,
    /// The I/O error that stopped the write.
    #[source]
    pub source: std::io::Error,
}
