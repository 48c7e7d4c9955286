//! Matrix Market: `coordinate` (real, integer, pattern) and `array` (real, integer), each
//! `general`, `symmetric` or `skew-symmetric`.

use std::cell::Cell;
use std::io::Read;
use std::path::Path;

use rayon::prelude::*;

use super::blocks::{Progress, for_each_block, split_lines};
use super::{Lines, ReadOptions, atomic_write, fast, limits, parse_index, parse_value};
use crate::csr::{CsrArrays, CsrMatrix, Duplicates, sort_and_merge_rows};
use crate::error::{ReadError, ReadErrorKind, StructureError, WriteError};

/// A dense matrix, row-major (`data[i * ncols + j]`).
#[derive(Debug, Clone, PartialEq)]
pub struct DenseMatrix {
    /// Number of rows.
    pub nrows: usize,
    /// Number of columns.
    pub ncols: usize,
    /// Row-major values, length `nrows * ncols`.
    pub data: Vec<f64>,
}

impl DenseMatrix {
    /// A matrix from row-major values.
    pub fn new(nrows: usize, ncols: usize, data: Vec<f64>) -> Result<Self, StructureError> {
        if data.len() != nrows * ncols {
            return Err(StructureError::DimensionMismatch {
                what: "dense values".into(),
                expected: nrows * ncols,
                found: data.len(),
            });
        }
        Ok(Self { nrows, ncols, data })
    }
    /// The entry at row `i`, column `j`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.ncols + j]
    }
    /// A faer copy.
    pub fn to_faer(&self) -> faer::Mat<f64> {
        faer::Mat::from_fn(self.nrows, self.ncols, |i, j| self.get(i, j))
    }
}

/// What a Matrix Market file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixMarket {
    /// A coordinate-format file, as a CSR matrix.
    Sparse(CsrMatrix),
    /// An array-format file, as a dense matrix.
    Dense(DenseMatrix),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Coordinate,
    Array,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Real,
    Integer,
    Pattern,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Symmetry {
    General,
    Symmetric,
    Skew,
}

impl Symmetry {
    fn name(self) -> &'static str {
        match self {
            Symmetry::General => "general",
            Symmetry::Symmetric => "symmetric",
            Symmetry::Skew => "skew-symmetric",
        }
    }
}

/// A `coordinate real general` header (for the parse-floor measurement).
#[cfg(test)]
pub(super) fn test_header(nrows: usize, ncols: usize) -> Header {
    Header {
        format: Format::Coordinate,
        field: Field::Real,
        symmetry: Symmetry::General,
        nrows,
        ncols,
        entries: usize::MAX,
    }
}

pub(super) struct Header {
    format: Format,
    pub(super) field: Field,
    pub(super) symmetry: Symmetry,
    pub(super) nrows: usize,
    pub(super) ncols: usize,
    entries: usize,
}

/// Read a Matrix Market file (plain or gzip-compressed, detected from its first bytes).
///
/// Coordinate files are parsed in parallel (see [`read_matrix_market_from_reader`]); the
/// result does not depend on the number of threads.
///
/// ```no_run
/// use sparse_ops::io::{read_matrix_market, MatrixMarket, ReadOptions};
/// match read_matrix_market("A.mtx".as_ref(), ReadOptions::default())? {
///     MatrixMarket::Sparse(a) => println!("{} x {}, {} nonzeros", a.nrows(), a.ncols(), a.nnz()),
///     MatrixMarket::Dense(m) => println!("dense {} x {}", m.nrows, m.ncols),
/// }
/// # Ok::<(), sparse_ops::ReadError>(())
/// ```
pub fn read_matrix_market(path: &Path, opts: ReadOptions) -> Result<MatrixMarket, ReadError> {
    read_matrix_market_with_progress(path, opts, &|_| {})
}

/// [`read_matrix_market`], calling `progress(bytes)` with the bytes of text parsed so far
/// after each block (a few MiB) of a coordinate file.
pub fn read_matrix_market_with_progress(
    path: &Path,
    opts: ReadOptions,
    progress: Progress<'_>,
) -> Result<MatrixMarket, ReadError> {
    let lines = Lines::open(path)?;
    read_mm_lines(lines, opts, progress).map_err(|e| match e {
        MmError::Read(e) => e,
        MmError::Duplicate(r, c) => duplicate_error(path, r, c),
    })
}

/// Read Matrix Market text (plain or gzip-compressed) from any byte source; `name` is what
/// errors call it.
///
/// A reader thread pulls blocks of whole lines (4 MiB) from the source, decompressing if
/// needed, while the rayon pool parses the previous block: each block is split at line starts,
/// the pieces are parsed in parallel (exactly, so the result is the same at any thread count)
/// and appended in order straight into CSR arrays when rows arrive sorted (triplets
/// otherwise). A block with anything unusual in it (a malformed line, more entries than the
/// size line promises, lone `\r` line endings) is parsed again line by line, so every error
/// names the same line it would in a sequential read. Nothing is allocated from the size
/// line's claims beyond what the input's length could hold; lines are limited to
/// [`MAX_LINE_BYTES`](super::MAX_LINE_BYTES).
///
/// A repeated entry rejected with [`Duplicates::Reject`] is reported without line numbers here
/// (the source cannot be read twice); [`read_matrix_market`] adds them.
pub fn read_matrix_market_from_reader<R: Read + Send>(
    reader: R,
    name: &Path,
    opts: ReadOptions,
) -> Result<MatrixMarket, ReadError> {
    let lines = Lines::from_reader(reader, name, None)?;
    read_mm_lines(lines, opts, &|_| {}).map_err(|e| match e {
        MmError::Read(e) => e,
        MmError::Duplicate(r, c) => {
            ReadError::at(name, None, ReadErrorKind::DuplicateEntry { row: r + 1, col: c + 1, first_line: 0 })
        }
    })
}

enum MmError {
    Read(ReadError),
    /// A repeated (row, col), 0-based, with duplicates rejected.
    Duplicate(usize, usize),
}

impl From<ReadError> for MmError {
    fn from(e: ReadError) -> Self {
        MmError::Read(e)
    }
}

fn read_mm_lines(mut lines: Lines<'_>, opts: ReadOptions, progress: Progress<'_>) -> Result<MatrixMarket, MmError> {
    let header = read_header(&mut lines)?;
    match header.format {
        Format::Coordinate => read_coordinate(lines, &header, opts, progress).map(MatrixMarket::Sparse),
        Format::Array => Ok(read_array(&mut lines, &header).map(MatrixMarket::Dense)?),
    }
}

/// Read a Matrix Market file as a sparse matrix (an `array` file keeps its nonzero entries).
pub fn read_csr(path: &Path, opts: ReadOptions) -> Result<CsrMatrix, ReadError> {
    read_csr_with_progress(path, opts, &|_| {})
}

/// [`read_csr`] with a progress callback (see [`read_matrix_market_with_progress`]).
pub fn read_csr_with_progress(path: &Path, opts: ReadOptions, progress: Progress<'_>) -> Result<CsrMatrix, ReadError> {
    into_csr(read_matrix_market_with_progress(path, opts, progress)?, path)
}

/// [`read_csr`] from any byte source (see [`read_matrix_market_from_reader`]).
pub fn read_csr_from_reader<R: Read + Send>(reader: R, name: &Path, opts: ReadOptions) -> Result<CsrMatrix, ReadError> {
    into_csr(read_matrix_market_from_reader(reader, name, opts)?, name)
}

fn into_csr(m: MatrixMarket, path: &Path) -> Result<CsrMatrix, ReadError> {
    match m {
        MatrixMarket::Sparse(a) => Ok(a),
        MatrixMarket::Dense(m) => {
            CsrMatrix::from_dense(m.nrows, m.ncols, &m.data).map_err(|e| ReadError::at(path, None, e.into()))
        }
    }
}

/// Read a Matrix Market file as a dense matrix (a `coordinate` file is expanded).
pub fn read_dense(path: &Path, opts: ReadOptions) -> Result<DenseMatrix, ReadError> {
    into_dense(read_matrix_market(path, opts)?, path)
}

/// [`read_dense`] from any byte source.
pub fn read_dense_from_reader<R: Read + Send>(
    reader: R,
    name: &Path,
    opts: ReadOptions,
) -> Result<DenseMatrix, ReadError> {
    into_dense(read_matrix_market_from_reader(reader, name, opts)?, name)
}

fn into_dense(m: MatrixMarket, path: &Path) -> Result<DenseMatrix, ReadError> {
    match m {
        MatrixMarket::Dense(m) => Ok(m),
        MatrixMarket::Sparse(a) => {
            let (n, d) = a.shape();
            let len = check_dense_size(path, n, d)?;
            let mut data = Vec::new();
            limits::try_reserve(&mut data, len, || format!("a dense {n} x {d} matrix"))
                .map_err(|k| ReadError::at(path, None, k))?;
            data.resize(len, 0.0);
            for i in 0..n {
                let (cols, vals) = a.row(i);
                for (&j, &v) in cols.iter().zip(vals) {
                    data[i * d + j as usize] = v;
                }
            }
            Ok(DenseMatrix { nrows: n, ncols: d, data })
        }
    }
}

fn check_dense_size(path: &Path, nrows: usize, ncols: usize) -> Result<usize, ReadError> {
    let len = limits::checked_product("dense matrix rows x columns", nrows, ncols)
        .map_err(|k| ReadError::at(path, None, k))?;
    if len > (isize::MAX as usize) / 8 {
        return Err(ReadError::at(
            path,
            None,
            ReadErrorKind::Invalid(format!("a dense {nrows} x {ncols} matrix is too large")),
        ));
    }
    Ok(len)
}

fn read_header(lines: &mut Lines<'_>) -> Result<Header, ReadError> {
    let banner = match lines.next_line()? {
        None => return Err(ReadError::at(lines.path(), None, ReadErrorKind::Empty)),
        Some(l) => l.to_string(),
    };
    let bad = |lines: &Lines| lines.err(ReadErrorKind::BadBanner { found: banner.clone() });
    let t: Vec<String> = banner.split_ascii_whitespace().map(str::to_ascii_lowercase).collect();
    if t.len() != 5 || t[0] != "%%matrixmarket" {
        return Err(bad(lines));
    }
    if t[1] != "matrix" {
        return Err(lines.err(ReadErrorKind::Unsupported { what: "object", found: t[1].clone() }));
    }
    let format = match t[2].as_str() {
        "coordinate" => Format::Coordinate,
        "array" => Format::Array,
        _ => return Err(bad(lines)),
    };
    let field = match t[3].as_str() {
        "real" | "double" => Field::Real,
        "integer" => Field::Integer,
        "pattern" if format == Format::Coordinate => Field::Pattern,
        "complex" | "pattern" => {
            return Err(lines.err(ReadErrorKind::Unsupported { what: "field", found: t[3].clone() }));
        }
        _ => return Err(bad(lines)),
    };
    let symmetry = match t[4].as_str() {
        "general" => Symmetry::General,
        "symmetric" => Symmetry::Symmetric,
        "skew-symmetric" => Symmetry::Skew,
        "hermitian" => {
            return Err(lines.err(ReadErrorKind::Unsupported { what: "symmetry", found: t[4].clone() }));
        }
        _ => return Err(bad(lines)),
    };
    // Comments and blank lines, then the size line.
    let expected = if format == Format::Coordinate { "'rows columns entries'" } else { "'rows columns'" };
    let size_line = loop {
        match lines.next_line()? {
            None => return Err(lines.err(ReadErrorKind::Truncated)),
            Some(l) if l.trim().is_empty() || l.starts_with('%') => continue,
            Some(l) => break l.to_string(),
        }
    };
    let nums: Vec<Option<usize>> = size_line.split_ascii_whitespace().map(|s| s.parse().ok()).collect();
    let want = if format == Format::Coordinate { 3 } else { 2 };
    if nums.len() != want || nums.iter().any(Option::is_none) {
        return Err(lines.err(ReadErrorKind::BadSizeLine { found: size_line, expected }));
    }
    let (nrows, ncols) = (nums[0].unwrap(), nums[1].unwrap());
    if symmetry != Symmetry::General && nrows != ncols {
        return Err(lines.err(ReadErrorKind::NotSquare { symmetry: symmetry.name(), nrows, ncols }));
    }
    let entries = if format == Format::Coordinate {
        let nnz = nums[2].unwrap();
        let cap = match symmetry {
            Symmetry::General => (nrows as u128) * (ncols as u128),
            Symmetry::Symmetric => (nrows as u128) * (nrows as u128 + 1) / 2,
            Symmetry::Skew => (nrows as u128) * (nrows as u128).saturating_sub(1) / 2,
        };
        if nnz as u128 > cap {
            return Err(lines.err(ReadErrorKind::BadSizeLine {
                found: size_line,
                expected: "an entry count no larger than the matrix can hold",
            }));
        }
        nnz
    } else {
        match symmetry {
            Symmetry::General => nrows.saturating_mul(ncols),
            Symmetry::Symmetric => nrows.saturating_mul(nrows.saturating_add(1)) / 2,
            Symmetry::Skew => nrows.saturating_mul(nrows.saturating_sub(1)) / 2,
        }
    };
    if ncols > u32::MAX as usize || nrows > u32::MAX as usize {
        return Err(lines.err(StructureError::TooLarge { dim: nrows.max(ncols), max: u32::MAX as usize }.into()));
    }
    Ok(Header { format, field, symmetry, nrows, ncols, entries })
}

/// Collects entries straight into CSR arrays while rows arrive in nondecreasing order (the
/// common case, and no extra memory); falls back to triplets when they do not.
enum Collector {
    /// `strict`: every entry so far came in a bulk append with columns strictly increasing
    /// within each row, so the arrays are already valid CSR.
    Sorted {
        indptr: Vec<usize>,
        indices: Vec<u32>,
        data: Vec<f64>,
        strict: bool,
    },
    Triplets {
        rows: Vec<u32>,
        cols: Vec<u32>,
        vals: Vec<f64>,
    },
}

fn row_ptr_what(nrows: usize) -> impl Fn() -> String {
    move || format!("the row pointer of a matrix with {nrows} rows")
}

impl Collector {
    /// `reserve`: entries to make room for (already capped by what the input can hold).
    fn new(reserve: usize) -> Self {
        let mut indptr = Vec::with_capacity(reserve.min(1 << 20) + 1);
        indptr.push(0);
        Collector::Sorted {
            indptr,
            indices: Vec::with_capacity(reserve),
            data: Vec::with_capacity(reserve),
            strict: true,
        }
    }

    #[inline]
    fn push(&mut self, i: usize, j: usize, v: f64) -> Result<(), ReadErrorKind> {
        match self {
            Collector::Sorted { indptr, indices, data, strict } => {
                *strict = false;
                let cur = indptr.len() - 1;
                if i >= cur {
                    if i + 1 > indptr.len() {
                        limits::try_resize(indptr, i + 1, indices.len(), row_ptr_what(i + 1))?;
                    }
                    indices.push(j as u32);
                    data.push(v);
                } else {
                    let mut rows = Vec::new();
                    limits::try_reserve(&mut rows, indices.capacity(), || "row indices of the entries".into())?;
                    for r in 0..indptr.len() - 1 {
                        rows.extend(std::iter::repeat_n(r as u32, indptr[r + 1] - indptr[r]));
                    }
                    rows.extend(std::iter::repeat_n(cur as u32, indices.len() - indptr[cur]));
                    *self = Collector::Triplets { rows, cols: std::mem::take(indices), vals: std::mem::take(data) };
                    self.push(i, j, v)?;
                }
            }
            Collector::Triplets { rows, cols, vals } => {
                rows.push(i as u32);
                cols.push(j as u32);
                vals.push(v);
            }
        }
        Ok(())
    }

    /// Append a piece's entries in one go when they continue the sorted rows; `false` (and
    /// nothing appended) when they do not.
    #[cfg(test)]
    fn extend_sorted(&mut self, e: &fast::Entries) -> Result<bool, ReadErrorKind> {
        Ok(self.extend_sorted_many(std::slice::from_ref(e))? == 1)
    }

    /// Append the leading pieces of `pieces` that continue the sorted rows, in order: the
    /// row pointer is extended sequentially (cheap), the column indices and values are copied
    /// in parallel, each piece into its own disjoint range of the final arrays (so the page
    /// faults of the fresh output memory are split over the pool too). Returns how many
    /// pieces were appended; the next one (if any) does not continue the sorted rows.
    fn extend_sorted_many(&mut self, pieces: &[fast::Entries]) -> Result<usize, ReadErrorKind> {
        let Collector::Sorted { indptr, indices, data, strict } = self else {
            return Ok(0);
        };
        // Length and last column the arrays will have once the pieces so far are appended.
        let mut len = indices.len();
        let mut last_col = indices.last().copied();
        let mut n = 0;
        for e in pieces {
            let (Some(&first), Some(&last)) = (e.rows.first(), e.rows.last()) else {
                n += 1;
                continue;
            };
            if (first as usize) + 1 < indptr.len() || !e.sorted {
                break;
            }
            if last as usize + 1 > indptr.capacity() {
                limits::try_reserve(indptr, last as usize + 1 - indptr.len(), row_ptr_what(last as usize + 1))?;
            }
            // Strict order must also hold across the seam with the previous piece.
            let seam = first as usize + 1 == indptr.len()
                && indptr.last().is_some_and(|&s| s < len)
                && last_col.is_some_and(|c| c >= e.cols[0]);
            *strict = *strict && e.strict && !seam;
            // Rows only move where the row changes (the rows are sorted): row r starts at
            // the first entry of a row >= r.
            for &(r, k) in &e.starts {
                while indptr.len() <= r as usize {
                    indptr.push(len + k as usize);
                }
            }
            len += e.len();
            last_col = e.cols.last().copied().or(last_col);
            n += 1;
        }
        let pieces = &pieces[..n];
        par_append(indices, pieces, |e| &e.cols, "column indices of the entries")?;
        par_append(data, pieces, |e| &e.vals, "values of the entries")?;
        Ok(n)
    }

    /// CSR arrays with rows sorted and repeats merged, or the first repeated `(row, col)`;
    /// with `true` when every entry came from the fast path in strict order (then columns are
    /// in range, rows strictly increasing and values finite: all checked while parsing).
    fn finish(self, nrows: usize, dup: Duplicates) -> Result<Finished, ReadErrorKind> {
        match self {
            Collector::Sorted { mut indptr, indices, data, strict } => {
                let end = indices.len();
                limits::try_resize(&mut indptr, nrows + 1, end, row_ptr_what(nrows))?;
                if strict {
                    return Ok(Ok(((indptr, indices, data), true)));
                }
                Ok(sort_and_merge_rows(indptr, indices, data, dup).map(|a| (a, false)))
            }
            Collector::Triplets { rows, cols, vals } => {
                let mut indptr = Vec::new();
                limits::try_resize(&mut indptr, nrows + 1, 0usize, row_ptr_what(nrows))?;
                for &r in &rows {
                    indptr[r as usize + 1] += 1;
                }
                for r in 0..nrows {
                    indptr[r + 1] += indptr[r];
                }
                let mut next = indptr.clone();
                let mut indices = vec![0u32; cols.len()];
                let mut data = vec![0.0; cols.len()];
                for ((&r, &c), &v) in rows.iter().zip(&cols).zip(&vals) {
                    let slot = &mut next[r as usize];
                    indices[*slot] = c;
                    data[*slot] = v;
                    *slot += 1;
                }
                drop((rows, cols, vals));
                Ok(sort_and_merge_rows(indptr, indices, data, dup).map(|a| (a, false)))
            }
        }
    }
}

/// What [`Collector::finish`] gives: the CSR arrays and whether their entries were all checked
/// while parsing, or the first repeated `(row, col)`.
type Finished = Result<(CsrArrays, bool), (usize, usize)>;

/// Append `part(p)` of every piece to `dst`, in order, copying the pieces in parallel into
/// disjoint ranges of `dst`'s spare capacity. Grows `dst` geometrically (typed error when the
/// memory is not there).
fn par_append<T: Copy + Send + Sync>(
    dst: &mut Vec<T>,
    pieces: &[fast::Entries],
    part: impl Fn(&fast::Entries) -> &[T] + Sync,
    what: &'static str,
) -> Result<(), ReadErrorKind> {
    let add: usize = pieces.iter().map(|e| part(e).len()).sum();
    if add == 0 {
        return Ok(());
    }
    if dst.capacity() - dst.len() < add {
        limits::try_reserve(dst, add.max(dst.len()), || what.to_string())?;
    }
    let mut rest = &mut dst.spare_capacity_mut()[..add];
    let mut slots = Vec::with_capacity(pieces.len());
    for e in pieces {
        let (head, tail) = rest.split_at_mut(part(e).len());
        slots.push(head);
        rest = tail;
    }
    slots.into_par_iter().zip(pieces.par_iter()).for_each(|(slot, e)| {
        for (d, &s) in slot.iter_mut().zip(part(e)) {
            d.write(s);
        }
    });
    // SAFETY: the `add` spare slots after the current length were all initialised above (the
    // slots partition them and each is written element by element from a source of its length).
    unsafe { dst.set_len(dst.len() + add) };
    Ok(())
}

/// Advance to the next data line (skipping blank lines and `%` comments); `false` at the end.
fn next_data_line(lines: &mut Lines<'_>) -> Result<bool, ReadError> {
    while let Some(l) = lines.next_line()? {
        let t = l.trim_start();
        if !(t.is_empty() || t.starts_with('%')) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The state of a coordinate read: entries so far and where they go.
struct Coord<'h> {
    h: &'h Header,
    seen: usize,
    acc: Collector,
    /// One parse buffer per piece of a block, reused from block to block: no allocation (and
    /// no page faults on freshly mapped memory) per block.
    scratch: Vec<fast::Entries>,
}

impl Coord<'_> {
    /// One data line, checked as the format requires (the reference the fast path must match).
    fn line(&mut self, text: &str) -> Result<(), ReadErrorKind> {
        let h = self.h;
        let want = if h.field == Field::Pattern { 2 } else { 3 };
        let toks: [&str; 4] = collect_fields(text.split_ascii_whitespace());
        let count = toks.iter().take_while(|t| !t.is_empty()).count();
        if self.seen == h.entries {
            return Err(ReadErrorKind::TooManyEntries { expected: h.entries });
        }
        if count != want {
            let expected = if want == 2 { "2 (row column)" } else { "3 (row column value)" };
            return Err(ReadErrorKind::WrongFieldCount { expected: expected.into(), found: count });
        }
        let i = parse_index(toks[0], h.nrows, "row")?;
        let j = parse_index(toks[1], h.ncols, "column")?;
        let v = if h.field == Field::Pattern { 1.0 } else { parse_value(toks[2])? };
        if h.field == Field::Integer && v.fract() != 0.0 {
            return Err(ReadErrorKind::NonNumeric { token: toks[2].to_string() });
        }
        if h.symmetry != Symmetry::General && (j > i || (h.symmetry == Symmetry::Skew && i == j)) {
            return Err(ReadErrorKind::UpperTriangle { row: i + 1, col: j + 1, symmetry: h.symmetry.name() });
        }
        self.entry(i, j, v)?;
        self.seen += 1;
        Ok(())
    }

    /// Store an entry (and its mirror image in a symmetric matrix), 0-based and checked.
    #[inline]
    fn entry(&mut self, i: usize, j: usize, v: f64) -> Result<(), ReadErrorKind> {
        self.acc.push(i, j, v)?;
        if self.h.symmetry != Symmetry::General && i != j {
            self.acc.push(j, i, if self.h.symmetry == Symmetry::Skew { -v } else { v })?;
        }
        Ok(())
    }

    /// Store the entries of a block's pieces (all parsed by the fast path), in order: runs of
    /// pieces that continue sorted rows go straight into the CSR arrays, others entry by entry.
    /// Returns the line endings of the pieces.
    fn bulk(&mut self, chunks: &[fast::Entries], name: &Path) -> Result<usize, ReadError> {
        let newlines = chunks.iter().map(|c| c.newlines).sum();
        let mut k = 0;
        while k < chunks.len() {
            if self.h.symmetry == Symmetry::General {
                k += self.acc.extend_sorted_many(&chunks[k..]).map_err(|kind| ReadError::at(name, None, kind))?;
            }
            if let Some(c) = chunks.get(k) {
                for i in 0..c.len() {
                    self.entry(c.rows[i] as usize, c.cols[i] as usize, c.vals[i])
                        .map_err(|kind| ReadError::at(name, None, kind))?;
                }
                k += 1;
            }
        }
        Ok(newlines)
    }

    /// A block of whole lines starting at line `first_line`: parsed in parallel when every
    /// line is ordinary, else line by line. Returns the number of lines in the block.
    fn block(&mut self, block: &[u8], name: &Path, first_line: usize) -> Result<usize, ReadError> {
        let parts = split_lines(block, block.len().div_ceil(PART_BYTES));
        let h = self.h;
        let mut scratch = std::mem::take(&mut self.scratch);
        if scratch.len() < parts.len() {
            scratch.resize_with(parts.len(), fast::Entries::default);
        }
        let chunks = &mut scratch[..parts.len()];
        let ok = parts.par_iter().zip(chunks.par_iter_mut()).all(|(p, e)| fast::coordinate_into(p, h, e));
        let total: usize = chunks.iter().map(fast::Entries::len).sum();
        let fast_lines = if ok && self.seen + total <= h.entries { Some(self.bulk(chunks, name)?) } else { None };
        self.scratch = scratch;
        if let Some(newlines) = fast_lines {
            self.seen += total;
            return Ok(newlines + usize::from(block.last().is_some_and(|&b| b != b'\n')));
        }
        let mut lines = Lines::over_block(block, name, first_line);
        while next_data_line(&mut lines)? {
            self.line(lines.current()).map_err(|k| lines.err(k))?;
        }
        Ok(lines.line() + 1 - first_line)
    }
}

/// Bytes of text per parallel task.
const PART_BYTES: usize = 64 << 10;

fn read_coordinate(
    lines: Lines<'_>,
    h: &Header,
    opts: ReadOptions,
    progress: Progress<'_>,
) -> Result<CsrMatrix, MmError> {
    // Reserve for the claimed entries, but never more than the text could hold ("1 1\n" is
    // the shortest entry line); without a length, start small and grow.
    let cap = lines.text_bound.map_or(1 << 20, |b| (b / 4).min(usize::MAX as u64) as usize);
    let mirror = if h.symmetry == Symmetry::General { 1 } else { 2 };
    let reserve = h.entries.min(cap).saturating_mul(mirror);
    let mut coord = Coord { h, seen: 0, acc: Collector::new(reserve), scratch: Vec::new() };
    let name = lines.path().to_path_buf();
    let line = Cell::new(lines.line());
    let bytes = Cell::new(0u64);
    let (source, skip_lf) = lines.into_rest();
    for_each_block(
        source,
        skip_lf,
        |block| {
            let n = coord.block(block, &name, line.get() + 1)?;
            line.set(line.get() + n);
            bytes.set(bytes.get() + block.len() as u64);
            progress(bytes.get());
            Ok(())
        },
        |kind| ReadError::at(&name, Some(line.get() + 1), kind),
    )?;
    let last = line.get();
    if coord.seen < h.entries {
        let found = coord.seen;
        return Err(
            ReadError::at(&name, Some(last), ReadErrorKind::TooFewEntries { expected: h.entries, found }).into()
        );
    }
    let ((indptr, indices, data), checked) = match coord.acc.finish(h.nrows, opts.duplicates) {
        Err(kind) => return Err(ReadError::at(&name, None, kind).into()),
        Ok(Err((r, c))) => return Err(MmError::Duplicate(r, c)),
        Ok(Ok(arrays)) => arrays,
    };
    // `finish` returns rows with strictly increasing columns (found so while parsing, or
    // sorted and merged); entries that all came from the fast path are checked already.
    let built = if checked {
        CsrMatrix::try_from_checked_entries(h.nrows, h.ncols, indptr, indices, data)
    } else {
        CsrMatrix::try_from_ordered_rows(h.nrows, h.ncols, indptr, indices, data)
    };
    built.map_err(|e| ReadError::at(&name, None, e.into()).into())
}

fn collect_fields<'a>(mut it: impl Iterator<Item = &'a str>) -> [&'a str; 4] {
    let mut out = [""; 4];
    for slot in out.iter_mut() {
        match it.next() {
            Some(t) => *slot = t,
            None => return out,
        }
    }
    if it.next().is_some() {
        out[3] = "(more)";
    }
    out
}

/// Find the lines of the first two occurrences of a repeated entry (cold path: rescans).
fn duplicate_error(path: &Path, row: usize, col: usize) -> ReadError {
    let mut found = Vec::new();
    if let Ok(mut lines) = Lines::open(path) {
        let _ = lines.next_line();
        let mut past_size = false;
        while let Ok(Some(l)) = lines.next_line() {
            let t = l.trim_start();
            if t.is_empty() || t.starts_with('%') {
                continue;
            }
            if !past_size {
                past_size = true;
                continue;
            }
            let mut it = t.split_ascii_whitespace();
            let (Some(a), Some(b)) = (it.next(), it.next()) else {
                continue;
            };
            let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) else {
                continue;
            };
            if (a == row + 1 && b == col + 1) || (a == col + 1 && b == row + 1) {
                found.push(lines.line());
                if found.len() == 2 {
                    break;
                }
            }
        }
    }
    let line = found.get(1).copied();
    ReadError::at(
        path,
        line,
        ReadErrorKind::DuplicateEntry { row: row + 1, col: col + 1, first_line: found.first().copied().unwrap_or(0) },
    )
}

fn read_array(lines: &mut Lines<'_>, h: &Header) -> Result<DenseMatrix, ReadError> {
    let path = lines.path().to_path_buf();
    let len = check_dense_size(&path, h.nrows, h.ncols)?;
    // Values in file order, grown as they arrive (a header may claim any size); the dense
    // array is allocated only once the file has delivered every value.
    let cap = lines.text_bound.map_or(1 << 20, |b| (b / 2).min(usize::MAX as u64) as usize);
    let mut values: Vec<f64> = Vec::with_capacity(h.entries.min(cap));
    while next_data_line(lines)? {
        let mut fields = lines.current().split_ascii_whitespace();
        let tok = fields.next().unwrap_or("");
        let extra = fields.count();
        if values.len() == h.entries {
            return Err(lines.err(ReadErrorKind::TooManyEntries { expected: h.entries }));
        }
        if extra != 0 {
            return Err(lines.err(ReadErrorKind::WrongFieldCount { expected: "1 (value)".into(), found: extra + 1 }));
        }
        let v = parse_value(tok).map_err(|k| lines.err(k))?;
        if h.field == Field::Integer && v.fract() != 0.0 {
            return Err(lines.err(ReadErrorKind::NonNumeric { token: tok.to_string() }));
        }
        values.push(v);
    }
    if values.len() < h.entries {
        return Err(lines.err(ReadErrorKind::TooFewEntries { expected: h.entries, found: values.len() }));
    }
    let mut data = Vec::new();
    limits::try_reserve(&mut data, len, || format!("a dense {} x {} matrix", h.nrows, h.ncols))
        .map_err(|k| ReadError::at(&path, None, k))?;
    data.resize(len, 0.0);
    // Column-major order; symmetric files hold the lower triangle (skew: strictly lower).
    let first_row = |j: usize| match h.symmetry {
        Symmetry::General => 0,
        Symmetry::Symmetric => j,
        Symmetry::Skew => j + 1,
    };
    let pos = (0..h.ncols).flat_map(|j| (first_row(j)..h.nrows).map(move |i| (i, j)));
    for ((i, j), v) in pos.zip(values) {
        data[i * h.ncols + j] = v;
        match h.symmetry {
            Symmetry::General => {}
            Symmetry::Symmetric => data[j * h.ncols + i] = v,
            Symmetry::Skew => data[j * h.ncols + i] = -v,
        }
    }
    Ok(DenseMatrix { nrows: h.nrows, ncols: h.ncols, data })
}

/// Write `A` as `coordinate real general` (1-based, by row then column), gzip-compressed
/// when the path ends in `.gz`. Values are written in Rust's shortest round-trip form, so
/// reading the file back gives the same bits.
pub fn write_matrix_market(path: &Path, a: &CsrMatrix) -> Result<(), WriteError> {
    atomic_write(path, |w| {
        writeln!(w, "%%MatrixMarket matrix coordinate real general")?;
        writeln!(w, "{} {} {}", a.nrows(), a.ncols(), a.nnz())?;
        for i in 0..a.nrows() {
            let (cols, vals) = a.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                writeln!(w, "{} {} {}", i + 1, j + 1, v)?;
            }
        }
        Ok(())
    })
}

/// Write a dense matrix as `array real general` (column-major, as the format requires).
pub fn write_dense_matrix_market(path: &Path, m: &DenseMatrix) -> Result<(), WriteError> {
    atomic_write(path, |w| {
        writeln!(w, "%%MatrixMarket matrix array real general")?;
        writeln!(w, "{} {}", m.nrows, m.ncols)?;
        for j in 0..m.ncols {
            for i in 0..m.nrows {
                writeln!(w, "{}", m.get(i, j))?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(rows: &[u32], cols: &[u32]) -> fast::Entries {
        let strict =
            (1..rows.len()).all(|k| rows[k] > rows[k - 1] || (rows[k] == rows[k - 1] && cols[k] > cols[k - 1]));
        let sorted = rows.windows(2).all(|w| w[0] <= w[1]);
        let starts =
            (0..rows.len()).filter(|&k| k == 0 || rows[k] != rows[k - 1]).map(|k| (rows[k], k as u32)).collect();
        fast::Entries {
            rows: rows.to_vec(),
            cols: cols.to_vec(),
            vals: vec![1.0; rows.len()],
            starts,
            newlines: rows.len(),
            sorted,
            strict,
        }
    }

    /// A repeat that straddles two pieces (each strictly ordered on its own) is still found.
    #[test]
    fn strict_order_is_checked_across_the_seam() {
        for (second, dup) in [(piece(&[0, 1], &[3, 0]), true), (piece(&[0, 1], &[4, 0]), false)] {
            let mut c = Collector::new(8);
            assert!(c.extend_sorted(&piece(&[0, 0], &[1, 3])).unwrap());
            assert!(c.extend_sorted(&second).unwrap());
            let out = c.finish(2, Duplicates::Reject).unwrap();
            assert_eq!(out.is_err(), dup);
            if let Ok(((indptr, indices, _), _)) = out {
                assert_eq!((indptr, indices), (vec![0, 3, 4], vec![1, 3, 4, 0]));
            }
        }
        // A piece starting on an earlier row than the last one is not appended in bulk.
        let mut c = Collector::new(8);
        assert!(c.extend_sorted(&piece(&[2], &[0])).unwrap());
        assert!(!c.extend_sorted(&piece(&[1], &[0])).unwrap());
    }

    /// Several pieces appended at once (in parallel) stop at the first piece that does not
    /// continue the sorted rows, and give the same arrays as appending them one by one.
    #[test]
    fn many_pieces_stop_at_the_first_unsorted_one() {
        let pieces = [piece(&[0, 0, 2], &[1, 4, 0]), piece(&[], &[]), piece(&[2, 5], &[3, 1]), piece(&[1], &[0])];
        let mut c = Collector::new(2);
        assert_eq!(c.extend_sorted_many(&pieces).unwrap(), 3);
        let mut one = Collector::new(2);
        for p in &pieces[..3] {
            assert!(one.extend_sorted(p).unwrap());
        }
        let (a, b) = (
            c.finish(6, Duplicates::Reject).unwrap().unwrap().0,
            one.finish(6, Duplicates::Reject).unwrap().unwrap().0,
        );
        assert_eq!(a, b);
        assert_eq!(a.0, vec![0, 2, 2, 4, 4, 4, 5]);
        assert_eq!(a.1, vec![1, 4, 0, 3, 1]);
        // The fourth piece goes back to row 1: nothing of it was appended.
        let mut c = Collector::new(2);
        assert_eq!(c.extend_sorted_many(&pieces[2..]).unwrap(), 1);
    }
}
