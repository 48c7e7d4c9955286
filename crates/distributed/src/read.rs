//! Reading a rank's rows, and only those.
//!
//! A data set is a list of *parts*, each a row-sorted Matrix Market coordinate file holding the
//! global rows `row_start..row_end` (as local rows `1..`), with its `b` (and optional per-row
//! `w`) in text files of one value per line:
//! - a problem directory with an uncompressed `A.mtx` sorted by row (as the library writes it)
//!   is one part;
//! - a directory written by `spnewton split --parts P` (`shards.json`) has `P` parts.
//!
//! A rank finds the first line of its first row by binary search on byte offsets (each probe
//! seeks, aligns to the next line start and parses one line: `O(log(file size))` reads), then
//! reads forward only until its last row: no rank reads the whole matrix. `b` and `w` are
//! streamed line by line and only the rank's slice is kept.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use losses::{Activation, LossKind, Meta};
use serde::{Deserialize, Serialize};

use crate::error::DistError;

/// `shards.json` of a split directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Rows of the whole matrix.
    pub n: usize,
    /// Columns of the matrix.
    pub d: usize,
    /// Nonzeros of the whole matrix (the sum of the parts').
    pub nnz: usize,
    /// The parts, in row order, covering rows `0..n` without gaps.
    pub parts: Vec<PartInfo>,
}

/// One part of a split problem (paths relative to the directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartInfo {
    /// The part's row-sorted Matrix Market file (`row_end − row_start` rows, `d` columns).
    pub a: String,
    /// The part's `b`: one value per row.
    pub b: String,
    /// The part's regulariser weights `w`, one per row, if the problem has a `w` file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub w: Option<String>,
    /// The first global row of the part (0-based).
    pub row_start: usize,
    /// One past the last global row of the part.
    pub row_end: usize,
    /// Nonzeros of the part (checked against its file's header when read).
    pub nnz: usize,
}

/// A problem as every rank sees it before reading: its shape, its loss and its parts.
#[derive(Debug, Clone)]
pub struct Source {
    /// The problem directory; the parts' paths are relative to it.
    pub dir: PathBuf,
    /// Rows of `A`.
    pub n: usize,
    /// Columns of `A`: the dimension of `x`.
    pub d: usize,
    /// Nonzeros of `A`.
    pub nnz: usize,
    /// The loss (`meta.json`).
    pub loss: LossKind,
    /// The activation `u` (`meta.json`'s `fn`).
    pub func: Activation,
    /// The constant regulariser weight `w_i = w_const` (`meta.json`), when there is no `w` file.
    pub w_const: Option<f64>,
    /// The parts, in row order: one for a plain directory, `P` for a split one.
    pub parts: Vec<PartInfo>,
}

/// A rank's rows: a local CSR block of global rows `rows`, with `b` and per-row `w`.
#[derive(Debug, Clone)]
pub struct LocalRows {
    /// The global rows held; local row `i` is global row `rows.start + i`.
    pub rows: Range<usize>,
    /// Columns of `A`.
    pub d: usize,
    /// CSR row pointers: local row `i` is `indptr[i]..indptr[i + 1]` of `indices` and `data`
    /// (`n_p + 1` entries, `n_p = rows.len()`).
    pub indptr: Vec<usize>,
    /// Column indices (0-based), ascending within a row if the file's are.
    pub indices: Vec<u32>,
    /// Values, parallel to `indices` (1 for a pattern file).
    pub data: Vec<f64>,
    /// `b` on these rows (`n_p` values).
    pub b: Vec<f64>,
    /// The regulariser weights `w` on these rows (`n_p` values), if the problem has a `w` file.
    pub w: Option<Vec<f64>>,
}

impl LocalRows {
    /// Bytes of the matrix block (`8(n_p + 1) + 12·nnz_p`).
    pub fn matrix_bytes(&self) -> usize {
        8 * self.indptr.len() + 4 * self.indices.len() + 8 * self.data.len()
    }
    /// Bytes of `b` and `w`.
    pub fn vector_bytes(&self) -> usize {
        8 * (self.b.len() + self.w.as_ref().map_or(0, Vec::len))
    }
    /// Nonzeros held (`nnz_p`).
    pub fn nnz(&self) -> usize {
        self.data.len()
    }
    /// Every row of a problem in memory (one process holding every chunk), with `w` per row
    /// when the problem has it per row. The constant weight, if any, is
    /// [`crate::DistProblem::new`]'s `w_const`.
    pub fn from_problem(p: &losses::Problem) -> Self {
        Self {
            rows: 0..p.a.nrows(),
            d: p.a.ncols(),
            indptr: p.a.indptr().to_vec(),
            indices: p.a.indices().to_vec(),
            data: p.a.data().to_vec(),
            b: p.b.clone(),
            w: match &p.w {
                losses::Regulariser::PerRow(w) => Some(w.clone()),
                _ => None,
            },
        }
    }
}

fn err(path: &Path, reason: impl Into<String>) -> DistError {
    DistError::Read { path: path.to_path_buf(), reason: reason.into() }
}

impl Source {
    /// Read `meta.json` and either `shards.json` or `A.mtx`'s header (a few lines).
    pub fn open(dir: &Path) -> Result<Self, DistError> {
        let meta_path = dir.join("meta.json");
        let text = std::fs::read_to_string(&meta_path).map_err(|e| err(&meta_path, format!("cannot read: {e}")))?;
        let meta = Meta::parse(&text).map_err(|r| err(&meta_path, r))?;
        let manifest_path = dir.join("shards.json");
        let (n, d, nnz, parts) = if manifest_path.exists() {
            let text = std::fs::read_to_string(&manifest_path)
                .map_err(|e| err(&manifest_path, format!("cannot read: {e}")))?;
            let m: Manifest =
                serde_json::from_str(&text).map_err(|e| err(&manifest_path, format!("invalid shards.json: {e}")))?;
            let mut next = 0;
            for p in &m.parts {
                if p.row_start != next || p.row_end < p.row_start {
                    return Err(err(&manifest_path, "parts must cover the rows 0..n in order"));
                }
                next = p.row_end;
            }
            if next != m.n || m.parts.iter().map(|p| p.nnz).sum::<usize>() != m.nnz {
                return Err(err(&manifest_path, "the parts' rows or nonzeros do not add up to n, nnz"));
            }
            (m.n, m.d, m.nnz, m.parts)
        } else {
            let a = dir.join("A.mtx");
            if !a.exists() {
                let why = if dir.join("A.mtx.gz").exists() {
                    "A.mtx.gz cannot be read by byte ranges: run `spnewton split --parts P` on it first"
                } else {
                    "neither shards.json nor A.mtx in the directory"
                };
                return Err(err(dir, why));
            }
            let h = Header::read(&a)?;
            let w = dir.join("w.txt").exists().then(|| "w.txt".to_string());
            let part = PartInfo { a: "A.mtx".into(), b: "b.txt".into(), w, row_start: 0, row_end: h.n, nnz: h.nnz };
            (h.n, h.d, h.nnz, vec![part])
        };
        if meta.w_const.is_some() && parts.iter().any(|p| p.w.is_some()) {
            return Err(err(dir, "both w.txt and meta.json's w_const are given; keep one"));
        }
        if d > u32::MAX as usize {
            return Err(err(dir, format!("d = {d} columns exceed the u32 column index")));
        }
        Ok(Source { dir: dir.to_path_buf(), n, d, nnz, loss: meta.loss, func: meta.func, w_const: meta.w_const, parts })
    }

    /// An optional `d`-vector of the directory (`x0.txt`, `x_true.txt`).
    pub fn vector(&self, name: &str) -> Result<Option<Vec<f64>>, DistError> {
        let p = self.dir.join(name);
        if !p.exists() {
            return Ok(None);
        }
        let v = read_lines(&p, 0..self.d, self.d)?;
        Ok(Some(v))
    }

    /// Read global rows `rows` (and their `b`, `w`) from the parts that hold them.
    pub fn read_rows(&self, rows: Range<usize>) -> Result<LocalRows, DistError> {
        let mut out = LocalRows {
            rows: rows.clone(),
            d: self.d,
            indptr: vec![0],
            indices: Vec::new(),
            data: Vec::new(),
            b: Vec::with_capacity(rows.len()),
            w: self.parts.iter().any(|p| p.w.is_some()).then(|| Vec::with_capacity(rows.len())),
        };
        for p in &self.parts {
            let lo = rows.start.max(p.row_start);
            let hi = rows.end.min(p.row_end);
            if lo >= hi {
                continue;
            }
            let local = lo - p.row_start..hi - p.row_start;
            let path = self.dir.join(&p.a);
            let h = Header::read(&path)?;
            if h.nnz != p.nnz {
                return Err(err(&path, format!("holds {} nonzeros, the manifest says {}", h.nnz, p.nnz)));
            }
            if h.n != p.row_end - p.row_start || h.d != self.d {
                return Err(err(
                    &path,
                    format!("is {}×{}, the manifest says {}×{}", h.n, h.d, p.row_end - p.row_start, self.d),
                ));
            }
            read_block(&path, &h, local.clone(), &mut out)?;
            let plen = p.row_end - p.row_start;
            out.b.extend(read_lines(&self.dir.join(&p.b), local.clone(), plen)?);
            if let Some(w) = &mut out.w {
                let name = p.w.as_ref().ok_or_else(|| err(&self.dir, "w.txt is given for some parts only"))?;
                w.extend(read_lines(&self.dir.join(name), local, plen)?);
            }
        }
        Ok(out)
    }
}

/// The header of a Matrix Market coordinate file.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    /// Rows (the size line's first number).
    pub n: usize,
    /// Columns.
    pub d: usize,
    /// Entries (lines after the size line).
    pub nnz: usize,
    /// A `pattern` file: entries have no value (read as 1).
    pub pattern: bool,
    /// Byte offset of the first entry line.
    pub data_start: u64,
    /// The file's length in bytes.
    pub len: u64,
}

impl Header {
    /// Parse the banner (`coordinate`, `real`/`integer`/`pattern`, `general` only) and the size
    /// line of `path`, reading at most its first MiB.
    pub fn read(path: &Path) -> Result<Header, DistError> {
        let f = File::open(path).map_err(|e| err(path, format!("cannot open: {e}")))?;
        let len = f.metadata().map_err(|e| err(path, format!("cannot stat: {e}")))?.len();
        let mut r = BufReader::new(f.take(1 << 20));
        let mut line = String::new();
        let mut offset = 0u64;
        r.read_line(&mut line).map_err(|e| err(path, format!("cannot read: {e}")))?;
        offset += line.len() as u64;
        let banner: Vec<String> = line.split_whitespace().map(str::to_ascii_lowercase).collect();
        if banner.len() != 5 || banner[0] != "%%matrixmarket" || banner[1] != "matrix" || banner[2] != "coordinate" {
            return Err(err(path, "not a Matrix Market coordinate file (first line)"));
        }
        let pattern = match banner[3].as_str() {
            "real" | "integer" => false,
            "pattern" => true,
            f => return Err(err(path, format!("field `{f}` is not supported (real, integer, pattern)"))),
        };
        if banner[4] != "general" {
            return Err(err(path, format!("symmetry `{}` is not supported by the row reader (general)", banner[4])));
        }
        loop {
            line.clear();
            let k = r.read_line(&mut line).map_err(|e| err(path, format!("cannot read: {e}")))?;
            if k == 0 {
                return Err(err(path, "no size line"));
            }
            offset += k as u64;
            let t = line.trim();
            if t.is_empty() || t.starts_with('%') {
                continue;
            }
            let v: Vec<usize> = t
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| err(path, format!("bad size line `{t}`")))?;
            if v.len() != 3 {
                return Err(err(path, format!("bad size line `{t}`")));
            }
            return Ok(Header { n: v[0], d: v[1], nnz: v[2], pattern, data_start: offset, len });
        }
    }
}

/// One entry line `i j [v]` (1-based), as 0-based `(i, j, v)`.
fn parse_entry(line: &str, h: &Header, path: &Path) -> Result<(usize, u32, f64), DistError> {
    let bad = || err(path, format!("malformed entry line `{}`", line.trim()));
    let mut it = line.split_whitespace();
    let i: usize = it.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let j: usize = it.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let v: f64 = if h.pattern { 1.0 } else { it.next().ok_or_else(bad)?.parse().map_err(|_| bad())? };
    if it.next().is_some() {
        return Err(bad());
    }
    if i == 0 || i > h.n || j == 0 || j > h.d {
        return Err(err(path, format!("entry ({i}, {j}) outside the {}×{} matrix", h.n, h.d)));
    }
    if !v.is_finite() {
        return Err(err(path, format!("entry ({i}, {j}) is not finite: {v}")));
    }
    Ok((i - 1, (j - 1) as u32, v))
}

/// The byte offset of the first entry line whose row is `≥ row` (0-based), by binary search.
pub fn seek_row(f: &mut File, h: &Header, row: usize, path: &Path) -> Result<u64, DistError> {
    let (mut lo, mut hi) = (h.data_start, h.len);
    let mut buf = Vec::with_capacity(256);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        // The first line start at or after mid.
        let start = if mid == h.data_start {
            mid
        } else {
            f.seek(SeekFrom::Start(mid - 1)).map_err(|e| err(path, format!("cannot seek: {e}")))?;
            let mut r = BufReader::new(&mut *f);
            buf.clear();
            let k = r.read_until(b'\n', &mut buf).map_err(|e| err(path, format!("cannot read: {e}")))?;
            mid - 1 + k as u64
        };
        if start >= hi {
            hi = mid;
            continue;
        }
        f.seek(SeekFrom::Start(start)).map_err(|e| err(path, format!("cannot seek: {e}")))?;
        let mut r = BufReader::new(&mut *f);
        buf.clear();
        let k = r.read_until(b'\n', &mut buf).map_err(|e| err(path, format!("cannot read: {e}")))?;
        let line = std::str::from_utf8(&buf).map_err(|_| err(path, "an entry line is not UTF-8"))?;
        let (i, _, _) = parse_entry(line, h, path)?;
        if i < row { lo = start + k as u64 } else { hi = start }
    }
    Ok(lo)
}

/// Append local rows `rows` of a row-sorted file to `out`.
fn read_block(path: &Path, h: &Header, rows: Range<usize>, out: &mut LocalRows) -> Result<(), DistError> {
    let mut f = File::open(path).map_err(|e| err(path, format!("cannot open: {e}")))?;
    let start = seek_row(&mut f, h, rows.start, path)?;
    f.seek(SeekFrom::Start(start)).map_err(|e| err(path, format!("cannot seek: {e}")))?;
    let mut r = BufReader::with_capacity(1 << 16, f);
    let mut line = String::new();
    let mut row = rows.start;
    let base = out.indptr.len() - 1;
    loop {
        line.clear();
        let k = r.read_line(&mut line).map_err(|e| err(path, format!("cannot read: {e}")))?;
        if k == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let (i, j, v) = parse_entry(&line, h, path)?;
        if i < row {
            return Err(err(path, format!("rows are not sorted (row {} after row {})", i + 1, row + 1)));
        }
        if i >= rows.end {
            break;
        }
        while row < i {
            out.indptr.push(out.data.len());
            row += 1;
        }
        out.indices.push(j);
        out.data.push(v);
    }
    while row < rows.end {
        out.indptr.push(out.data.len());
        row += 1;
    }
    debug_assert_eq!(out.indptr.len() - 1 - base, rows.len());
    Ok(())
}

/// Lines `range` (0-based) of a file of `len` values, one per line; checks the count.
fn read_lines(path: &Path, range: Range<usize>, len: usize) -> Result<Vec<f64>, DistError> {
    let f = File::open(path).map_err(|e| err(path, format!("cannot open: {e}")))?;
    let r = BufReader::with_capacity(1 << 16, f);
    let mut out = Vec::with_capacity(range.len());
    let mut count = 0;
    for line in r.lines() {
        let line = line.map_err(|e| err(path, format!("cannot read: {e}")))?;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if range.contains(&count) {
            let v: f64 = t.parse().map_err(|_| err(path, format!("line {}: `{t}` is not a number", count + 1)))?;
            if !v.is_finite() {
                return Err(err(path, format!("line {}: {v} is not finite", count + 1)));
            }
            out.push(v);
        }
        count += 1;
    }
    if count != len {
        return Err(err(path, format!("{count} values, expected {len}")));
    }
    Ok(out)
}
