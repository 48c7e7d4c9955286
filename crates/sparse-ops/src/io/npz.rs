//! SciPy's sparse `.npz` files (`scipy.sparse.save_npz` / `load_npz`) and NumPy `.npy` vectors.
//!
//! An `.npz` file is a ZIP archive of `.npy` arrays. A sparse one holds `format` (`b"csr"`,
//! `b"csc"` or `b"coo"`), `shape` (two integers), `data`, and `indices` + `indptr` (CSR, CSC) or
//! `row` + `col` (COO). Read here: `int32`/`int64` (and unsigned) indices, `float64`/`float32`
//! (and integer) values, either byte order, entries stored or deflate-compressed, ZIP64
//! archives. Extra arrays (SciPy's `_is_array`) are ignored.
//!
//! Cost model. A stored (uncompressed, `save_npz(..., compressed=False)`) entry is read with
//! parallel positioned reads of 1 MiB straight into the final array when its type matches the
//! CSR array's (`float64` values, `int32` column indices): no intermediate buffer, and each
//! piece's CRC-32 and checks (values finite; indices in range and, the row pointer being read
//! first, each row strictly increasing) run while the piece is in cache, so a canonical CSR
//! file needs no further pass over its entries. Other types are converted element by element
//! and checked by [`CsrMatrix::try_from_csr`] (parallel). A compressed entry streams through the deflate decoder
//! (`flate2`) into the final array. CSR with sorted, duplicate-free rows (what SciPy writes
//! after `sum_duplicates`, and what this library writes) is taken as is; otherwise, and for CSC
//! and COO, the entries are bucketed by row in `O(nnz + nrows)` and each row sorted and merged.
//! Peak memory: for CSR input, the CSR arrays (plus, while it is converted, a source array of
//! another type: `int64` indices, `float32` values); for CSC and COO, about twice that (the
//! source arrays and the CSR built from them). Every size the archive or an array header claims is checked against the file's
//! length (stored) or the deflate bound (compressed) and the memory available before anything
//! is allocated.
//!
//! Writing ([`write_npz`]) produces what `save_npz(compressed=...)` produces for a CSR matrix
//! (`int32` indices when they fit, else `int64`; `float64` values), so `scipy.sparse.load_npz`
//! reads it back.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use npyz::{DType, Endianness, NpyHeader, TypeChar};
use rayon::prelude::*;

use super::{atomic_write, limits};
use crate::csr::{CsrArrays, CsrMatrix, Duplicates, all_rows_strictly_increasing, sort_and_merge_rows};
use crate::error::{ReadError, ReadErrorKind, WriteError};
use crate::io::ReadOptions;

/// Longest `.npy` header accepted (NumPy writes under 200 bytes).
const MAX_NPY_HEADER: usize = 1 << 16;
/// Elements (or rows) per task of the parallel checks.
const CHECK_CHUNK: usize = 1 << 16;
/// Longest ZIP central directory accepted (an `.npz` has a handful of entries).
const MAX_CENTRAL_DIR: u64 = 1 << 20;

fn bad(msg: impl Into<String>) -> ReadErrorKind {
    ReadErrorKind::Invalid(msg.into())
}

// ---------------------------------------------------------------------------------------------
// Plain numbers viewed as bytes.

/// Primitive numbers: no padding, every bit pattern valid.
trait Plain: Copy + Default + Send {
    fn swap(self) -> Self;
}
macro_rules! plain {
    ($($t:ty),*) => {$(impl Plain for $t { #[inline] fn swap(self) -> Self { Self::from_bits_swapped(self) } })*};
}
trait SwapBits {
    fn from_bits_swapped(x: Self) -> Self;
}
macro_rules! swap_int {
    ($($t:ty),*) => {$(impl SwapBits for $t { #[inline] fn from_bits_swapped(x: Self) -> Self { x.swap_bytes() } })*};
}
swap_int!(u8, u32, i32, u64, i64);
impl SwapBits for f64 {
    fn from_bits_swapped(x: Self) -> Self {
        f64::from_bits(x.to_bits().swap_bytes())
    }
}
impl SwapBits for f32 {
    fn from_bits_swapped(x: Self) -> Self {
        f32::from_bits(x.to_bits().swap_bytes())
    }
}
plain!(u8, u32, i32, u64, i64, f64, f32);

fn bytes_mut<T: Plain>(v: &mut [T]) -> &mut [u8] {
    // SAFETY: `T` is a primitive number (see `Plain`): no padding, any byte pattern is a valid
    // value, and `u8` has alignment 1; the length covers exactly the slice's memory.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

fn bytes_of<T: Plain>(v: &[T]) -> &[u8] {
    // SAFETY: as in `bytes_mut`, read-only.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

// ---------------------------------------------------------------------------------------------
// The ZIP container.

/// One member of the archive, from the central directory.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    method: u16,
    crc: u32,
    csize: u64,
    usize: u64,
    local_offset: u64,
}

fn u16_at(b: &[u8], p: usize) -> u16 {
    u16::from_le_bytes([b[p], b[p + 1]])
}
fn u32_at(b: &[u8], p: usize) -> u32 {
    u32::from_le_bytes(b[p..p + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], p: usize) -> u64 {
    u64::from_le_bytes(b[p..p + 8].try_into().expect("8 bytes"))
}

fn read_at(f: &mut File, offset: u64, len: usize) -> Result<Vec<u8>, ReadErrorKind> {
    let mut buf = vec![0u8; len];
    f.seek(SeekFrom::Start(offset)).map_err(ReadErrorKind::Io)?;
    f.read_exact(&mut buf).map_err(super::lines::io_kind)?;
    Ok(buf)
}

/// The central directory of a ZIP archive of `file_len` bytes.
fn directory(f: &mut File, file_len: u64) -> Result<Vec<Entry>, ReadErrorKind> {
    if file_len == 0 {
        return Err(ReadErrorKind::Empty);
    }
    // The end-of-central-directory record (22 bytes) sits within the last 64 KiB + 22 bytes.
    let tail_len = file_len.min(22 + 0xFFFF) as usize;
    let tail = read_at(f, file_len - tail_len as u64, tail_len)?;
    let eocd = (0..tail_len.saturating_sub(21))
        .rev()
        .find(|&p| tail[p..p + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or_else(|| bad("not a ZIP archive (no end-of-central-directory record): not an .npz file"))?;
    let eocd_abs = file_len - tail_len as u64 + eocd as u64;
    let mut count = u64::from(u16_at(&tail, eocd + 10));
    let mut cd_size = u64::from(u32_at(&tail, eocd + 12));
    let mut cd_offset = u64::from(u32_at(&tail, eocd + 16));
    if count == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF {
        // ZIP64: a locator (20 bytes) right before the record points at the ZIP64 record.
        if eocd_abs < 20 {
            return Err(bad("ZIP64 archive without its locator"));
        }
        let loc = read_at(f, eocd_abs - 20, 20)?;
        if loc[..4] != [0x50, 0x4b, 0x06, 0x07] {
            return Err(bad("ZIP64 archive without its locator"));
        }
        let rec_off = u64_at(&loc, 8);
        if rec_off.checked_add(56).is_none_or(|e| e > file_len) {
            return Err(bad("ZIP64 end record beyond the end of the file"));
        }
        let rec = read_at(f, rec_off, 56)?;
        if rec[..4] != [0x50, 0x4b, 0x06, 0x06] {
            return Err(bad("bad ZIP64 end record"));
        }
        count = u64_at(&rec, 32);
        cd_size = u64_at(&rec, 40);
        cd_offset = u64_at(&rec, 48);
    }
    if cd_offset.checked_add(cd_size).is_none_or(|e| e > file_len) {
        return Err(bad("the ZIP central directory lies beyond the end of the file (truncated?)"));
    }
    if cd_size > MAX_CENTRAL_DIR || count > cd_size / 46 {
        return Err(bad(format!("a ZIP central directory of {cd_size} bytes and {count} entries is not an .npz")));
    }
    let cd = read_at(f, cd_offset, cd_size as usize)?;
    let mut entries = Vec::with_capacity(count as usize);
    let mut p = 0usize;
    for _ in 0..count {
        if p + 46 > cd.len() || cd[p..p + 4] != [0x50, 0x4b, 0x01, 0x02] {
            return Err(bad("corrupt ZIP central directory"));
        }
        let flags = u16_at(&cd, p + 8);
        let method = u16_at(&cd, p + 10);
        let crc = u32_at(&cd, p + 16);
        let mut csize = u64::from(u32_at(&cd, p + 20));
        let mut usize_ = u64::from(u32_at(&cd, p + 24));
        let (nlen, xlen, clen) =
            (usize::from(u16_at(&cd, p + 28)), usize::from(u16_at(&cd, p + 30)), usize::from(u16_at(&cd, p + 32)));
        let mut local_offset = u64::from(u32_at(&cd, p + 42));
        let end = p + 46 + nlen + xlen + clen;
        if end > cd.len() {
            return Err(bad("corrupt ZIP central directory"));
        }
        let name = String::from_utf8_lossy(&cd[p + 46..p + 46 + nlen]).into_owned();
        if flags & 1 != 0 {
            return Err(bad(format!("{name}: encrypted ZIP entries are not supported")));
        }
        // ZIP64 extra field: the 64-bit values of the fields saturated above, in this order.
        let mut x = p + 46 + nlen;
        let xend = x + xlen;
        while x + 4 <= xend {
            let (id, len) = (u16_at(&cd, x), usize::from(u16_at(&cd, x + 2)));
            if x + 4 + len > xend {
                return Err(bad("corrupt ZIP extra field"));
            }
            if id == 1 {
                let mut q = x + 4;
                for field in [&mut usize_, &mut csize, &mut local_offset] {
                    if *field == 0xFFFF_FFFF {
                        if q + 8 > x + 4 + len {
                            return Err(bad("corrupt ZIP64 extra field"));
                        }
                        *field = u64_at(&cd, q);
                        q += 8;
                    }
                }
            }
            x += 4 + len;
        }
        entries.push(Entry { name, method, crc, csize, usize: usize_, local_offset });
        p = end;
    }
    Ok(entries)
}

/// One entry's uncompressed bytes, with their running CRC-32. A stored entry is read with
/// positioned reads straight from the file (large arrays in parallel pieces on the rayon pool);
/// a compressed one streams through the deflate decoder.
enum Source<'f> {
    Stream(flate2::CrcReader<Box<dyn Read + 'f>>),
    Direct { file: &'f File, pos: u64, end: u64, crc: flate2::Crc },
}

/// Bytes per parallel positioned read of a stored array: small enough that the piece is still
/// in the core's cache for its CRC-32 and its check right after the read.
const PIECE_BYTES: usize = 1 << 20;

impl Source<'_> {
    fn crc(&self) -> &flate2::Crc {
        match self {
            Source::Stream(r) => r.crc(),
            Source::Direct { crc, .. } => crc,
        }
    }

    /// Fill `out` completely (a short entry is `Truncated`) and tell whether `check` holds for
    /// every piece of it. A stored entry is read in parallel pieces of [`PIECE_BYTES`], each
    /// checksummed and checked right after its read, while it is in cache (the pieces split
    /// `out` at fixed offsets, so the work does not depend on the thread count).
    fn fill_checked<T: Plain + Sync>(&mut self, out: &mut [T], check: &Check<'_, T>) -> Result<bool, ReadErrorKind> {
        match self {
            Source::Stream(r) => {
                r.read_exact(bytes_mut(out)).map_err(super::lines::io_kind)?;
                Ok(check(0, out))
            }
            Source::Direct { file, pos, end, crc } => {
                let len = std::mem::size_of_val(out) as u64;
                if len > *end - *pos {
                    return Err(ReadErrorKind::Truncated);
                }
                let at = *pos;
                let file: &File = file;
                let per = PIECE_BYTES / std::mem::size_of::<T>();
                let pieces: Vec<Result<(flate2::Crc, bool), std::io::Error>> = out
                    .par_chunks_mut(per)
                    .enumerate()
                    .map(|(k, piece)| {
                        let bytes = bytes_mut(piece);
                        pread_exact(file, bytes, at + (k * per * std::mem::size_of::<T>()) as u64)?;
                        let mut c = flate2::Crc::new();
                        c.update(bytes);
                        Ok((c, check(k * per, piece)))
                    })
                    .collect();
                let mut ok = true;
                for c in pieces {
                    let (c, piece_ok) = c.map_err(super::lines::io_kind)?;
                    crc.combine(&c);
                    ok &= piece_ok;
                }
                *pos += len;
                Ok(ok)
            }
        }
    }
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Source::Stream(r) => r.read(buf),
            Source::Direct { file, pos, end, crc } => {
                let n = buf.len().min((*end - *pos) as usize);
                pread_exact(file, &mut buf[..n], *pos)?;
                crc.update(&buf[..n]);
                *pos += n as u64;
                Ok(n)
            }
        }
    }
}

#[cfg(unix)]
fn pread_exact(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(not(unix))]
fn pread_exact(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(buf)
}

/// Open one entry (its sizes already checked against what the file can hold).
fn open_entry<'f>(f: &'f mut File, e: &Entry, file_len: u64) -> Result<Source<'f>, ReadErrorKind> {
    let name = &e.name;
    if e.local_offset.checked_add(30).is_none_or(|end| end > file_len) {
        return Err(bad(format!("{name}: entry beyond the end of the file (truncated?)")));
    }
    let lh = read_at(f, e.local_offset, 30)?;
    if lh[..4] != [0x50, 0x4b, 0x03, 0x04] {
        return Err(bad(format!("{name}: corrupt ZIP local header")));
    }
    let start = e.local_offset + 30 + u64::from(u16_at(&lh, 26)) + u64::from(u16_at(&lh, 28));
    if start.checked_add(e.csize).is_none_or(|end| end > file_len) {
        return Err(bad(format!("{name}: entry data beyond the end of the file (truncated?)")));
    }
    match e.method {
        0 if e.csize == e.usize => {
            Ok(Source::Direct { file: f, pos: start, end: start + e.csize, crc: flate2::Crc::new() })
        }
        0 => Err(bad(format!("{name}: stored entry with different compressed and plain sizes"))),
        8 => {
            // Deflate expands at most 1032:1.
            if e.usize > e.csize.saturating_mul(1032) {
                return Err(bad(format!("{name}: claims {} bytes from {} compressed", e.usize, e.csize)));
            }
            f.seek(SeekFrom::Start(start)).map_err(ReadErrorKind::Io)?;
            let raw = Read::take(f, e.csize);
            let dec: Box<dyn Read + 'f> =
                Box::new(flate2::bufread::DeflateDecoder::new(BufReader::with_capacity(1 << 16, raw)));
            Ok(Source::Stream(flate2::CrcReader::new(dec)))
        }
        m => Err(bad(format!("{name}: ZIP compression method {m} is not supported (stored or deflate only)"))),
    }
}

// ---------------------------------------------------------------------------------------------
// .npy arrays.

/// The element type of a supported array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    I4,
    I8,
    U4,
    U8,
    F4,
    F8,
    /// A byte string of this many bytes (`|S3` for `format`).
    Bytes(usize),
}

impl Elem {
    fn size(self) -> usize {
        match self {
            Elem::I4 | Elem::U4 | Elem::F4 => 4,
            Elem::I8 | Elem::U8 | Elem::F8 => 8,
            Elem::Bytes(n) => n,
        }
    }
}

/// A parsed `.npy` header: element type, byte order, element count.
struct Array<R> {
    elem: Elem,
    /// The data's byte order differs from this machine's.
    swap: bool,
    shape: Vec<u64>,
    len: usize,
    data: R,
    /// The array's name in errors.
    what: String,
}

/// Parse the `.npy` header at the start of `r`; `avail` bounds the bytes that may follow (the
/// entry's size), so the array's claimed size is checked before allocation.
fn npy_header<R: Read>(mut r: R, avail: u64, what: &str) -> Result<Array<R>, ReadErrorKind> {
    let mut pre = vec![0u8; 10];
    r.read_exact(&mut pre).map_err(|_| bad(format!("{what}: not a .npy array (too short)")))?;
    if &pre[..6] != b"\x93NUMPY" {
        return Err(bad(format!("{what}: not a .npy array (bad magic)")));
    }
    let (hlen, fixed) = match pre[6] {
        1 => (usize::from(u16::from_le_bytes([pre[8], pre[9]])), 10),
        2 | 3 => {
            let mut more = [0u8; 2];
            r.read_exact(&mut more).map_err(|_| bad(format!("{what}: truncated .npy header")))?;
            pre.extend_from_slice(&more);
            (u32::from_le_bytes([pre[8], pre[9], more[0], more[1]]) as usize, 12)
        }
        v => return Err(bad(format!("{what}: .npy format version {v} is not supported"))),
    };
    if hlen > MAX_NPY_HEADER || (fixed + hlen) as u64 > avail {
        return Err(bad(format!("{what}: .npy header of {hlen} bytes")));
    }
    let mut head = vec![0u8; hlen];
    r.read_exact(&mut head).map_err(|_| bad(format!("{what}: truncated .npy header")))?;
    pre.extend_from_slice(&head);
    let h = NpyHeader::from_reader(&pre[..]).map_err(|e| bad(format!("{what}: bad .npy header: {e}")))?;
    let DType::Plain(ts) = h.dtype() else {
        return Err(bad(format!("{what}: structured .npy dtypes are not supported")));
    };
    let size = ts.size_field() as usize;
    let elem = match (ts.type_char(), size) {
        (TypeChar::Int, 4) => Elem::I4,
        (TypeChar::Int, 8) => Elem::I8,
        (TypeChar::Uint, 4) => Elem::U4,
        (TypeChar::Uint, 8) => Elem::U8,
        (TypeChar::Float, 4) => Elem::F4,
        (TypeChar::Float, 8) => Elem::F8,
        (TypeChar::ByteStr, n) if n <= 64 => Elem::Bytes(n),
        _ => return Err(bad(format!("{what}: dtype {ts} is not supported (int32/int64/float32/float64)"))),
    };
    let swap = ts.endianness() != Endianness::Irrelevant && ts.endianness() != Endianness::of_machine();
    let shape = h.shape().to_vec();
    if shape.len() > 2 {
        return Err(bad(format!("{what}: a {}-dimensional array where a vector was expected", shape.len())));
    }
    let len = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    let bytes = len.and_then(|l| l.checked_mul(elem.size() as u64));
    let body = avail - (fixed + hlen) as u64;
    match bytes {
        Some(b) if b == body => {}
        _ => {
            return Err(bad(format!(
                "{what}: shape {shape:?} of {} needs other than the {body} bytes the entry holds",
                ts
            )));
        }
    }
    let len = usize::try_from(len.unwrap_or(0)).map_err(|_| bad(format!("{what}: too many elements")))?;
    Ok(Array { elem, swap, shape, len, data: r, what: what.to_string() })
}

/// A check of a piece of an array (`true`: it passes), run as the piece arrives: the index of
/// its first element in the array, and its elements.
type Check<'a, T> = dyn Fn(usize, &[T]) -> bool + Sync + 'a;

/// No check.
fn unchecked<T>(_: usize, _: &[T]) -> bool {
    true
}

/// Where array bytes come from.
trait Fill: Read {
    /// Fill `out` completely; `Ok(true)` when `check` holds for all of it.
    fn fill_checked<T: Plain + Sync>(&mut self, out: &mut [T], check: &Check<'_, T>) -> Result<bool, ReadErrorKind>;

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ReadErrorKind> {
        self.fill_checked(buf, &unchecked).map(drop)
    }
}

impl Fill for &mut Source<'_> {
    fn fill_checked<T: Plain + Sync>(&mut self, out: &mut [T], check: &Check<'_, T>) -> Result<bool, ReadErrorKind> {
        Source::fill_checked(self, out, check)
    }
}

impl<R: Read> Fill for BufReader<R> {
    fn fill_checked<T: Plain + Sync>(&mut self, out: &mut [T], check: &Check<'_, T>) -> Result<bool, ReadErrorKind> {
        self.read_exact(bytes_mut(out)).map_err(super::lines::io_kind)?;
        Ok(check(0, out))
    }
}

impl<R: Fill> Array<R> {
    fn read_into<T: Plain + Sync>(&mut self, out: &mut Vec<T>) -> Result<(), ReadErrorKind> {
        self.read_checked(out, &unchecked).map(drop)
    }

    /// Read the elements into `out` (replaced) and tell whether `check` holds for all of them
    /// (for a stored array of this machine's byte order, checked piece by piece as it arrives).
    fn read_checked<T: Plain + Sync>(&mut self, out: &mut Vec<T>, check: &Check<'_, T>) -> Result<bool, ReadErrorKind> {
        let what = self.what.clone();
        let bytes = (self.len as u64).saturating_mul(std::mem::size_of::<T>() as u64);
        if bytes > (64 << 20) {
            limits::check_memory(|| format!("{what}: {} elements", self.len), bytes)?;
        }
        // Zeroed pages from the allocator (no fill pass); the read writes each byte once.
        *out = vec![T::default(); self.len];
        let swap = self.swap;
        let first: &Check<'_, T> = if swap { &unchecked } else { check };
        let ok = self.data.fill_checked(out, first).map_err(|e| match e {
            ReadErrorKind::Truncated => bad(format!("{what}: truncated array data")),
            e => e,
        })?;
        if swap {
            for x in out.iter_mut() {
                *x = x.swap();
            }
            return Ok(check(0, out));
        }
        Ok(ok)
    }

    /// The elements as `i64` (integers, checked to be representable).
    fn integers(mut self) -> Result<Vec<i64>, ReadErrorKind> {
        match self.elem {
            Elem::I8 => {
                let mut v = Vec::new();
                self.read_into::<i64>(&mut v)?;
                Ok(v)
            }
            Elem::U8 => {
                let mut v = Vec::<u64>::new();
                self.read_into(&mut v)?;
                v.iter()
                    .map(|&x| i64::try_from(x).map_err(|_| bad(format!("{}: index {x} too large", self.what))))
                    .collect()
            }
            Elem::I4 => {
                let mut v = Vec::<i32>::new();
                self.read_into(&mut v)?;
                Ok(v.iter().map(|&x| i64::from(x)).collect())
            }
            Elem::U4 => {
                let mut v = Vec::<u32>::new();
                self.read_into(&mut v)?;
                Ok(v.iter().map(|&x| i64::from(x)).collect())
            }
            _ => Err(bad(format!("{}: expected an integer array", self.what))),
        }
    }

    /// Indices in `0..bound` as `u32` (read in place for 32-bit arrays).
    fn indices(self, bound: usize) -> Result<Vec<u32>, ReadErrorKind> {
        Ok(self.indices_of_rows(bound, None)?.0)
    }

    /// [`Array::indices`], and with `rows` (a CSR row pointer from 0 to this array's length,
    /// nondecreasing) whether every row's indices are strictly increasing: checked piece by
    /// piece as a stored 32-bit array arrives (`false` also means "not checked").
    fn indices_of_rows(mut self, bound: usize, rows: Option<&[usize]>) -> Result<(Vec<u32>, bool), ReadErrorKind> {
        let rows = rows.filter(|p| p.last() == Some(&self.len) && p.first() == Some(&0));
        let what = self.what.clone();
        let check = |i: usize, x: i64| {
            if x < 0 || x as u64 >= bound as u64 {
                Err(bad(format!("{what}[{i}] = {x} is outside 0..{bound}")))
            } else {
                Ok(x as u32)
            }
        };
        match self.elem {
            Elem::I4 | Elem::U4 => {
                let signed = self.elem == Elem::I4;
                let mut v = Vec::<u32>::new();
                // The bounds (also catches negative int32, which reads as >= 2^31): a
                // vectorised maximum of each piece as it arrives; when one is over, the first
                // offender is found per fixed chunk.
                let over = |c: &[u32]| c.iter().fold(0u32, |m, &x| m.max(x)) as usize >= bound;
                let piece_ok = |at: usize, c: &[u32]| !over(c) && rows.is_none_or(|p| rows_increase_in(p, at, c));
                if self.read_checked(&mut v, &piece_ok)? {
                    // The pairs that straddle two pieces.
                    let per = PIECE_BYTES / 4;
                    let ordered =
                        rows.is_some_and(|p| (per..v.len()).step_by(per).all(|b| v[b - 1] < v[b] || row_start(p, b)));
                    return Ok((v, ordered));
                }
                if let Some(c) = v.par_chunks(CHECK_CHUNK).position_first(over) {
                    let i =
                        c * CHECK_CHUNK + v[c * CHECK_CHUNK..].iter().position(|&x| x as usize >= bound).unwrap_or(0);
                    let x = if signed { i64::from(v[i] as i32) } else { i64::from(v[i]) };
                    check(i, x)?;
                }
                Ok((v, false))
            }
            _ => {
                let wide = self.integers()?;
                let mut v = Vec::new();
                limits::try_reserve(&mut v, wide.len(), || format!("{what}: {} indices", wide.len()))?;
                for (i, &x) in wide.iter().enumerate() {
                    v.push(check(i, x)?);
                }
                Ok((v, false))
            }
        }
    }

    /// The elements as `f64` (read in place for `float64`), and whether all are known finite
    /// (checked as a stored `float64` array arrives; `false` also means "not checked").
    fn floats(mut self) -> Result<(Vec<f64>, bool), ReadErrorKind> {
        let mut v = Vec::<f64>::new();
        let mut finite = false;
        match self.elem {
            Elem::F8 => {
                finite = self.read_checked(&mut v, &|_, c: &[f64]| c.iter().fold(true, |ok, x| ok & x.is_finite()))?
            }
            Elem::F4 => {
                let mut s = Vec::<f32>::new();
                self.read_into(&mut s)?;
                v.extend(s.iter().map(|&x| f64::from(x)));
            }
            Elem::Bytes(_) => return Err(bad(format!("{}: expected a numeric array", self.what))),
            _ => v = self.integers()?.into_iter().map(|x| x as f64).collect(),
        }
        Ok((v, finite))
    }

    fn bytes(mut self) -> Result<Vec<u8>, ReadErrorKind> {
        let mut v = vec![0u8; self.len * self.elem.size()];
        self.data.fill(&mut v)?;
        Ok(v)
    }
}

/// Check an entry's CRC-32 after its bytes were read through `CrcReader`.
fn check_crc(e: &Entry, crc: &flate2::Crc) -> Result<(), ReadErrorKind> {
    if crc.sum() != e.crc || u64::from(crc.amount()) != e.usize & 0xFFFF_FFFF {
        return Err(bad(format!("{}: CRC-32 mismatch (corrupt archive)", e.name)));
    }
    Ok(())
}

/// An open `.npz` archive.
struct Npz {
    file: File,
    len: u64,
    entries: Vec<Entry>,
}

impl Npz {
    fn open(path: &Path) -> Result<Self, ReadErrorKind> {
        let mut file = File::open(path).map_err(ReadErrorKind::Io)?;
        let len = file.metadata().map_err(ReadErrorKind::Io)?.len();
        let entries = directory(&mut file, len)?;
        Ok(Npz { file, len, entries })
    }

    fn find(&self, key: &str) -> Option<Entry> {
        let want = format!("{key}.npy");
        self.entries.iter().find(|e| e.name == want || e.name == key).cloned()
    }

    /// Read array `key` with `f`, then check the entry's CRC.
    fn with<T>(
        &mut self,
        key: &str,
        f: impl FnOnce(Array<&mut Source<'_>>) -> Result<T, ReadErrorKind>,
    ) -> Result<T, ReadErrorKind> {
        let e = self
            .find(key)
            .ok_or_else(|| bad(format!("the archive has no '{key}' array (not a SciPy sparse .npz?)")))?;
        let mut r = open_entry(&mut self.file, &e, self.len)?;
        let out = f(npy_header(&mut r, e.usize, key)?)?;
        // Anything left over would have failed the size check; the CRC covers every byte.
        check_crc(&e, r.crc())?;
        Ok(out)
    }
}

/// Read a SciPy sparse `.npz` file (`scipy.sparse.save_npz`) as a CSR matrix.
///
/// Duplicated entries (possible in COO, or in CSR/CSC that SciPy has not canonicalised) are
/// summed or rejected as `opts.duplicates` says.
pub fn read_npz(path: &Path, opts: ReadOptions) -> Result<CsrMatrix, ReadError> {
    read_npz_kind(path, opts).map_err(|k| ReadError::at(path, None, k))
}

fn read_npz_kind(path: &Path, opts: ReadOptions) -> Result<CsrMatrix, ReadErrorKind> {
    let mut z = Npz::open(path)?;
    let format = z.with("format", |a| a.bytes())?;
    let format = String::from_utf8_lossy(&format).trim_end_matches('\0').to_string();
    let shape = z.with("shape", |a| {
        if a.len != 2 {
            return Err(bad(format!("shape: expected 2 numbers, found {}", a.len)));
        }
        a.integers()
    })?;
    let (nrows, ncols) = match (usize::try_from(shape[0]), usize::try_from(shape[1])) {
        (Ok(r), Ok(c)) if r <= u32::MAX as usize && c <= u32::MAX as usize => (r, c),
        _ => return Err(bad(format!("shape ({}, {}) is negative or too large", shape[0], shape[1]))),
    };
    let (data, finite) = z.with("data", |a| a.floats())?;
    let nnz = data.len();
    // Whether the arrays are already known to be valid CSR (range, order and finite values
    // checked on the way in): then the structure check is not run again.
    let mut checked = false;
    let arrays = match format.as_str() {
        "csr" | "csc" => {
            let (outer, inner) = if format == "csr" { (nrows, ncols) } else { (ncols, nrows) };
            // The row pointer first, so the rows' order is checked as the indices arrive.
            let indptr = z.with("indptr", |a| {
                if a.len != outer + 1 {
                    return Err(bad(format!(
                        "indptr: length {} but {format} of shape {shape:?} needs {}",
                        a.len,
                        outer + 1
                    )));
                }
                a.integers()
            })?;
            let ok = indptr[0] == 0 && indptr.windows(2).all(|w| w[0] <= w[1]) && indptr[outer] as u64 == nnz as u64;
            let indptr: Vec<usize> = indptr.into_iter().map(|x| x as usize).collect();
            let rows = (ok && format == "csr").then_some(indptr.as_slice());
            let (indices, ordered) = z.with("indices", |a| a.indices_of_rows(inner.max(1), rows))?;
            if indices.len() != nnz {
                return Err(bad(format!("indices has {} elements but data has {nnz}", indices.len())));
            }
            if !ok {
                return Err(bad(format!("indptr does not run from 0 up to {nnz} without decreasing")));
            }
            if inner == 0 && nnz > 0 {
                return Err(bad("entries in a matrix with no columns"));
            }
            if format == "csr" {
                let (arrays, as_given) = canonical_known(indptr, indices, data, opts.duplicates, ordered)?;
                // As given: indices below `inner` (checked by `indices`), rows strictly
                // increasing (`canonical`), values finite (checked by `floats`); merged
                // repeats could sum to infinity, so they are checked again.
                checked = as_given && finite;
                arrays
            } else {
                // Column j's entries: rows indices[indptr[j]..indptr[j+1]].
                let cols = (0..outer).flat_map(|j| std::iter::repeat_n(j as u32, indptr[j + 1] - indptr[j]));
                bucket(nrows, &indices, cols, data, opts.duplicates)?.0
            }
        }
        "coo" => {
            let rows = z.with("row", |a| a.indices(nrows.max(1)))?;
            let cols = z.with("col", |a| a.indices(ncols.max(1)))?;
            if rows.len() != nnz || cols.len() != nnz {
                return Err(bad(format!("row, col and data have {}, {} and {nnz} elements", rows.len(), cols.len())));
            }
            if (nrows == 0 || ncols == 0) && nnz > 0 {
                return Err(bad("entries in an empty matrix"));
            }
            bucket(nrows, &rows, cols.into_iter(), data, opts.duplicates)?.0
        }
        other => return Err(bad(format!("sparse format {other:?} is not supported (csr, csc or coo)"))),
    };
    let (indptr, indices, data) = arrays;
    if checked {
        return Ok(CsrMatrix::try_from_checked_entries(nrows, ncols, indptr, indices, data)?);
    }
    // `canonical` checked or established strictly increasing rows.
    Ok(CsrMatrix::try_from_ordered_rows(nrows, ncols, indptr, indices, data)?)
}

fn dup_error(dup: (usize, usize)) -> ReadErrorKind {
    ReadErrorKind::DuplicateEntry { row: dup.0 + 1, col: dup.1 + 1, first_line: 0 }
}

/// Whether entry `k` (`0 < k < nnz`) starts a nonempty row of the row pointer `p`.
fn row_start(p: &[usize], k: usize) -> bool {
    // The last row starting at or before k.
    let r = p.partition_point(|&x| x <= k) - 1;
    p[r] == k
}

/// Whether the rows of the row pointer `p` are strictly increasing within `piece`, the
/// entries from `at` on (pairs straddling the piece's start are not looked at). As in
/// [`all_rows_strictly_increasing`]: the descents in the piece, counted branch-free, must all
/// be at starts of nonempty rows.
fn rows_increase_in(p: &[usize], at: usize, piece: &[u32]) -> bool {
    let all = piece.windows(2).fold(0usize, |n, w| n + usize::from(w[0] >= w[1]));
    if all == 0 {
        return true;
    }
    let end = at + piece.len();
    let mut at_starts = 0;
    // Rows starting strictly inside the piece.
    for r in p.partition_point(|&x| x <= at)..p.len() - 1 {
        let k = p[r];
        if k >= end {
            break;
        }
        at_starts += usize::from(k < p[r + 1] && piece[k - 1 - at] >= piece[k - at]);
    }
    all == at_starts
}

/// CSR arrays as given when every row is strictly increasing (then `true`), else sorted and
/// merged.
fn canonical(
    indptr: Vec<usize>,
    indices: Vec<u32>,
    data: Vec<f64>,
    dup: Duplicates,
) -> Result<(CsrArrays, bool), ReadErrorKind> {
    canonical_known(indptr, indices, data, dup, false)
}

/// [`canonical`], told whether the rows are already known strictly increasing.
fn canonical_known(
    indptr: Vec<usize>,
    indices: Vec<u32>,
    data: Vec<f64>,
    dup: Duplicates,
    ordered: bool,
) -> Result<(CsrArrays, bool), ReadErrorKind> {
    debug_assert!(!ordered || all_rows_strictly_increasing(&indptr, &indices));
    let strict = ordered || all_rows_strictly_increasing(&indptr, &indices);
    if strict {
        return Ok(((indptr, indices, data), true));
    }
    Ok((sort_and_merge_rows(indptr, indices, data, dup).map_err(dup_error)?, false))
}

/// CSR arrays from entries given by row index (`rows[k]`), column and value, in any order.
fn bucket(
    nrows: usize,
    rows: &[u32],
    cols: impl Iterator<Item = u32>,
    vals: Vec<f64>,
    dup: Duplicates,
) -> Result<(CsrArrays, bool), ReadErrorKind> {
    let mut indptr = Vec::new();
    limits::try_resize(&mut indptr, nrows + 1, 0usize, || format!("the row pointer of {nrows} rows"))?;
    for &r in rows {
        indptr[r as usize + 1] += 1;
    }
    for r in 0..nrows {
        indptr[r + 1] += indptr[r];
    }
    let mut next = indptr[..nrows].to_vec();
    let mut indices = vec![0u32; rows.len()];
    let mut data = vec![0.0; rows.len()];
    for ((&r, c), &v) in rows.iter().zip(cols).zip(&vals) {
        let slot = &mut next[r as usize];
        indices[*slot] = c;
        data[*slot] = v;
        *slot += 1;
    }
    drop(vals);
    canonical(indptr, indices, data, dup)
}

// ---------------------------------------------------------------------------------------------
// .npy vectors.

/// Read a `.npy` vector (`float64`, `float32` or integers; shape `(n,)`, `(n, 1)` or `(1, n)`).
pub fn read_npy_vector(path: &Path) -> Result<Vec<f64>, ReadError> {
    let kind = || -> Result<Vec<f64>, ReadErrorKind> {
        let file = File::open(path).map_err(ReadErrorKind::Io)?;
        let len = file.metadata().map_err(ReadErrorKind::Io)?.len();
        if len == 0 {
            return Err(ReadErrorKind::Empty);
        }
        let a = npy_header(BufReader::with_capacity(1 << 16, file), len, "vector")?;
        if a.shape.len() == 2 && a.shape[0] != 1 && a.shape[1] != 1 {
            return Err(bad(format!("a {} x {} matrix where a vector was expected", a.shape[0], a.shape[1])));
        }
        let (v, _) = a.floats()?;
        if v.is_empty() {
            return Err(ReadErrorKind::Empty);
        }
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(ReadErrorKind::NonFinite { token: format!("{} (element {i})", v[i]) });
        }
        Ok(v)
    };
    kind().map_err(|k| ReadError::at(path, None, k))
}

/// Write a vector as a `.npy` file (`float64`, shape `(n,)`).
pub fn write_npy_vector(path: &Path, v: &[f64]) -> Result<(), WriteError> {
    atomic_write(path, |w| {
        w.write_all(&npy_prefix("<f8", &[v.len() as u64]))?;
        write_le(w, v)
    })
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// The `.npy` (version 1.0) header for a C-ordered array; padded so the data starts at a
/// multiple of 64 bytes, as NumPy does.
fn npy_prefix(descr: &str, shape: &[u64]) -> Vec<u8> {
    let dims = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    let total = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Write numbers little-endian (straight from memory on little-endian machines).
fn write_le<T: Plain>(w: &mut dyn Write, v: &[T]) -> std::io::Result<()> {
    if cfg!(target_endian = "little") {
        return w.write_all(bytes_of(v));
    }
    for chunk in v.chunks(1 << 13) {
        let swapped: Vec<T> = chunk.iter().map(|x| x.swap()).collect();
        w.write_all(bytes_of(&swapped))?;
    }
    Ok(())
}

/// One array to be written: its `.npy` header and body parts.
struct Member<'a> {
    name: &'static str,
    prefix: Vec<u8>,
    body: Body<'a>,
}

enum Body<'a> {
    U32(&'a [u32]),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F64(&'a [f64]),
    Raw(Vec<u8>),
}

impl Body<'_> {
    fn write(&self, w: &mut dyn Write) -> std::io::Result<()> {
        match self {
            Body::U32(v) => write_le(w, v),
            Body::I32(v) => write_le(w, v),
            Body::I64(v) => write_le(w, v),
            Body::F64(v) => write_le(w, v),
            Body::Raw(v) => w.write_all(v),
        }
    }
}

/// A writer that counts bytes and their CRC-32.
struct Counting<W> {
    inner: W,
    n: u64,
    crc: flate2::Crc,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        self.crc.update(&buf[..k]);
        Ok(k)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Options of [`write_npz`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NpzOptions {
    /// Deflate-compress the arrays (`save_npz`'s default); stored is faster to read and write.
    pub compress: bool,
}

/// Write `A` as SciPy's sparse `.npz` (CSR; see the module docs), atomically.
///
/// Archives whose arrays or offsets exceed 4 GiB (ZIP64) are not written: a typed error.
pub fn write_npz(path: &Path, a: &CsrMatrix, opts: NpzOptions) -> Result<(), WriteError> {
    let (nrows, ncols) = a.shape();
    let idx: Body<'_> = if ncols <= i32::MAX as usize {
        Body::U32(a.indices())
    } else {
        Body::I64(a.indices().iter().map(|&j| i64::from(j)).collect())
    };
    let (idx_t, ptr_t) = (
        if ncols <= i32::MAX as usize { "<i4" } else { "<i8" },
        if a.nnz() <= i32::MAX as usize { "<i4" } else { "<i8" },
    );
    let ptr = if a.nnz() <= i32::MAX as usize {
        Body::I32(a.indptr().iter().map(|&p| p as i32).collect())
    } else {
        Body::I64(a.indptr().iter().map(|&p| p as i64).collect())
    };
    let members = [
        Member { name: "indices.npy", prefix: npy_prefix(idx_t, &[a.nnz() as u64]), body: idx },
        Member { name: "indptr.npy", prefix: npy_prefix(ptr_t, &[nrows as u64 + 1]), body: ptr },
        Member { name: "format.npy", prefix: npy_prefix("|S3", &[]), body: Body::Raw(b"csr".to_vec()) },
        Member {
            name: "shape.npy",
            prefix: npy_prefix("<i8", &[2]),
            body: Body::I64(vec![nrows as i64, ncols as i64]),
        },
        Member { name: "data.npy", prefix: npy_prefix("<f8", &[a.nnz() as u64]), body: Body::F64(a.data()) },
    ];
    atomic_write(path, |w| write_zip(w, &members, opts.compress))
}

fn too_big() -> std::io::Error {
    std::io::Error::other("the .npz writer does not write archives over 4 GiB (ZIP64)")
}

fn write_zip(w: &mut dyn Write, members: &[Member<'_>], compress: bool) -> std::io::Result<()> {
    let mut offset = 0u64;
    let mut central = Vec::new();
    for m in members {
        // Sizes and CRC first (a pass over the data), so the local header is final.
        let mut sink = Counting { inner: std::io::sink(), n: 0, crc: flate2::Crc::new() };
        sink.write_all(&m.prefix)?;
        m.body.write(&mut sink)?;
        let (usize_, crc) = (sink.n, sink.crc.sum());
        let compressed = if compress {
            let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&m.prefix)?;
            m.body.write(&mut enc)?;
            Some(enc.finish()?)
        } else {
            None
        };
        let csize = compressed.as_ref().map_or(usize_, |c| c.len() as u64);
        if usize_ >= 0xFFFF_FFFF || csize >= 0xFFFF_FFFF || offset >= 0xFFFF_FFFF {
            return Err(too_big());
        }
        let method: u16 = if compress { 8 } else { 0 };
        let name = m.name.as_bytes();
        let mut common = Vec::with_capacity(26);
        common.extend_from_slice(&20u16.to_le_bytes()); // version needed
        common.extend_from_slice(&0u16.to_le_bytes()); // flags
        common.extend_from_slice(&method.to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // time
        common.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
        common.extend_from_slice(&crc.to_le_bytes());
        common.extend_from_slice(&(csize as u32).to_le_bytes());
        common.extend_from_slice(&(usize_ as u32).to_le_bytes());
        common.extend_from_slice(&(name.len() as u16).to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // extra length
        w.write_all(&[0x50, 0x4b, 0x03, 0x04])?;
        w.write_all(&common)?;
        w.write_all(name)?;
        match &compressed {
            Some(c) => w.write_all(c)?,
            None => {
                w.write_all(&m.prefix)?;
                m.body.write(w)?;
            }
        }
        central.extend_from_slice(&[0x50, 0x4b, 0x01, 0x02]);
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&common);
        // Comment length, disk number, internal and external attributes.
        central.extend_from_slice(&[0; 10]);
        central.extend_from_slice(&(offset as u32).to_le_bytes());
        central.extend_from_slice(name);
        offset += 30 + name.len() as u64 + csize;
    }
    if offset >= 0xFFFF_FFFF {
        return Err(too_big());
    }
    w.write_all(&central)?;
    w.write_all(&[0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0])?;
    let n = members.len() as u16;
    w.write_all(&n.to_le_bytes())?;
    w.write_all(&n.to_le_bytes())?;
    w.write_all(&(central.len() as u32).to_le_bytes())?;
    w.write_all(&(offset as u32).to_le_bytes())?;
    w.write_all(&0u16.to_le_bytes())
}

/// Whether `path` names a `.npz` file.
pub fn is_npz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// Whether `path` names a `.npy` file.
pub fn is_npy(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order check done piece by piece as the indices arrive (each piece, then the pairs
    /// straddling two pieces) gives the verdict of the whole-array check, for pieces of any
    /// size, rows of any length (empty ones too) and descents anywhere.
    #[test]
    fn piecewise_row_order_matches_the_whole_check() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(19);
        for round in 0..3000 {
            let nrows = rng.random_range(1..12);
            let mut indptr = vec![0usize];
            let mut indices = Vec::new();
            for _ in 0..nrows {
                let len = rng.random_range(0..6);
                let mut c = rng.random_range(0..3u32);
                for _ in 0..len {
                    indices.push(c);
                    c += rng.random_range(1..4);
                }
                indptr.push(indices.len());
            }
            // Break the order somewhere in a third of the rounds (a repeat or a descent).
            if round % 3 == 0 && indices.len() > 1 {
                let k = rng.random_range(1..indices.len());
                indices[k] = indices[k - 1].saturating_sub(rng.random_range(0..2));
            }
            let per = rng.random_range(1..8);
            let pieces = indices.chunks(per).enumerate().all(|(k, c)| rows_increase_in(&indptr, k * per, c));
            let seams = (per..indices.len()).step_by(per).all(|b| indices[b - 1] < indices[b] || row_start(&indptr, b));
            assert_eq!(
                pieces && seams,
                all_rows_strictly_increasing(&indptr, &indices),
                "{indptr:?} {indices:?} per {per}"
            );
        }
    }

    /// A hand-built archive of arbitrary arrays (the layouts SciPy and NumPy may write).
    fn archive(members: &[Member<'_>], compress: bool) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        write_zip(&mut f, members, compress).unwrap();
        f
    }

    fn raw(name: &'static str, descr: &str, shape: &[u64], bytes: Vec<u8>) -> Member<'static> {
        Member { name, prefix: npy_prefix(descr, shape), body: Body::Raw(bytes) }
    }

    fn le<T: Plain>(v: &[T]) -> Vec<u8> {
        bytes_of(v).to_vec()
    }

    fn be<T: Plain>(v: &[T]) -> Vec<u8> {
        let s: Vec<T> = v.iter().map(|x| x.swap()).collect();
        bytes_of(&s).to_vec()
    }

    fn head(format: &str, shape: [i64; 2]) -> [Member<'static>; 2] {
        let n = format.len() as u64;
        [
            Member {
                name: "format.npy",
                prefix: npy_prefix(&format!("|S{n}"), &[]),
                body: Body::Raw(format.as_bytes().to_vec()),
            },
            raw("shape.npy", "<i8", &[2], le(&shape)),
        ]
    }

    /// The 3 x 4 matrix [[1, 0, 2, 0], [0, 0, 0, 0], [0, 3, 0, 4]] as dense rows.
    fn expected() -> Vec<f64> {
        vec![1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 4.0]
    }

    fn read(f: &tempfile::NamedTempFile) -> Result<CsrMatrix, ReadError> {
        read_npz(f.path(), ReadOptions::default())
    }

    #[test]
    fn csc_coo_and_other_dtypes_read_as_the_same_matrix() {
        let want = expected();
        for compress in [false, true] {
            // CSC, int64 indices, float32 values.
            let [f, s] = head("csc", [3, 4]);
            let z = archive(
                &[
                    f,
                    s,
                    raw("indices.npy", "<i8", &[4], le(&[0i64, 2, 0, 2])),
                    raw("indptr.npy", "<i8", &[5], le(&[0i64, 1, 2, 3, 4])),
                    raw("data.npy", "<f4", &[4], le(&[1f32, 3.0, 2.0, 4.0])),
                ],
                compress,
            );
            assert_eq!(read(&z).unwrap().to_dense(), want);
            // COO in any order, big-endian.
            let [f, s] = head("coo", [3, 4]);
            let z = archive(
                &[
                    f,
                    s,
                    raw("row.npy", ">i4", &[4], be(&[2i32, 0, 2, 0])),
                    raw("col.npy", ">i4", &[4], be(&[3i32, 2, 1, 0])),
                    raw("data.npy", ">f8", &[4], be(&[4f64, 2.0, 3.0, 1.0])),
                ],
                compress,
            );
            assert_eq!(read(&z).unwrap().to_dense(), want);
            // CSR with unsorted columns and a repeat: summed, or rejected on request.
            let [f, s] = head("csr", [3, 4]);
            let z = archive(
                &[
                    f,
                    s,
                    raw("indices.npy", "<i4", &[5], le(&[2i32, 0, 3, 1, 3])),
                    raw("indptr.npy", "<i4", &[4], le(&[0i32, 2, 2, 5])),
                    raw("data.npy", "<f8", &[5], le(&[2f64, 1.0, 1.5, 3.0, 2.5])),
                ],
                compress,
            );
            assert_eq!(read(&z).unwrap().to_dense(), want);
            let err = read_npz(z.path(), ReadOptions { duplicates: Duplicates::Reject }).unwrap_err();
            assert!(matches!(err.kind, ReadErrorKind::DuplicateEntry { row: 3, col: 4, .. }), "{err}");
        }
    }

    #[test]
    fn inconsistent_arrays_are_typed_errors() {
        let csr = |indices: Vec<u8>, indptr: Vec<u8>, nptr: u64, data: Vec<u8>, nnz: u64| {
            let [f, s] = head("csr", [3, 4]);
            archive(
                &[
                    f,
                    s,
                    raw("indices.npy", "<i4", &[nnz], indices),
                    raw("indptr.npy", "<i4", &[nptr], indptr),
                    raw("data.npy", "<f8", &[nnz], data),
                ],
                false,
            )
        };
        let cases = [
            // Column 4 of a 4-column matrix.
            (csr(le(&[0i32, 4]), le(&[0i32, 2, 2, 2]), 4, le(&[1f64, 2.0]), 2), "outside 0..4"),
            // Negative column.
            (csr(le(&[0i32, -1]), le(&[0i32, 2, 2, 2]), 4, le(&[1f64, 2.0]), 2), "= -1 is outside"),
            // indptr too short for 3 rows.
            (csr(le(&[0i32, 1]), le(&[0i32, 2, 2]), 3, le(&[1f64, 2.0]), 2), "indptr: length 3"),
            // indptr decreasing.
            (csr(le(&[0i32, 1]), le(&[0i32, 2, 1, 2]), 4, le(&[1f64, 2.0]), 2), "without decreasing"),
            // indptr ending short of nnz.
            (csr(le(&[0i32, 1]), le(&[0i32, 1, 1, 1]), 4, le(&[1f64, 2.0]), 2), "without decreasing"),
            // A NaN value.
            (csr(le(&[0i32, 1]), le(&[0i32, 2, 2, 2]), 4, le(&[1f64, f64::NAN]), 2), "finite"),
        ];
        for (z, msg) in cases {
            let err = read(&z).unwrap_err().to_string();
            assert!(err.contains(msg), "{err} should say {msg}");
        }
        // Array header claiming more elements than the entry holds.
        let [f, s] = head("csr", [3, 4]);
        let z = archive(
            &[
                f,
                s,
                raw("indices.npy", "<i4", &[1_000_000_000], le(&[0i32])),
                raw("indptr.npy", "<i4", &[4], le(&[0i32, 1, 1, 1])),
                raw("data.npy", "<f8", &[1], le(&[1f64])),
            ],
            true,
        );
        let err = read(&z).unwrap_err().to_string();
        assert!(err.contains("needs other than the"), "{err}");
        // Unsupported format and dtype; a missing array.
        let [f, s] = head("dia", [3, 4]);
        let z = archive(&[f, s, raw("data.npy", "<f8", &[1], le(&[1f64]))], false);
        assert!(read(&z).unwrap_err().to_string().contains("\"dia\" is not supported"));
        let [f, s] = head("coo", [3, 4]);
        let z = archive(&[f, s, raw("data.npy", "<c16", &[1], vec![0; 16])], false);
        assert!(read(&z).unwrap_err().to_string().contains("is not supported"));
        let [f, s] = head("coo", [3, 4]);
        let z = archive(&[f, s, raw("data.npy", "<f8", &[1], le(&[1f64]))], false);
        assert!(read(&z).unwrap_err().to_string().contains("no 'row' array"));
    }
}
