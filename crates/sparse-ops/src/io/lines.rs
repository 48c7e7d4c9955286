//! Line-by-line reading with line numbers, transparent gzip, number parsing and atomic writes.
//!
//! Every line is read with a length limit ([`MAX_LINE_BYTES`]); `\n`, `\r\n` and a lone `\r`
//! all end a line; a UTF-8 byte-order mark at the start of the text is skipped.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::limits::MAX_LINE_BYTES;
use crate::error::{ReadError, ReadErrorKind, WriteError};

/// A boxed byte source that may be handed to a reader thread.
pub(crate) type Source<'a> = Box<dyn BufRead + Send + 'a>;

/// Map an I/O error of the (possibly decompressing) source to a read error kind.
pub(crate) fn io_kind(e: std::io::Error) -> ReadErrorKind {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ReadErrorKind::Truncated,
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
            ReadErrorKind::Invalid(format!("corrupt compressed data: {e}"))
        }
        _ => ReadErrorKind::Io(e),
    }
}

/// Lines of a (possibly gzip-compressed) text with 1-based line numbers; the buffer is
/// reused, so reading allocates nothing per line.
pub(crate) struct Lines<'a> {
    reader: Source<'a>,
    buf: Vec<u8>,
    line: usize,
    path: PathBuf,
    /// The last line ended in `\r`: a `\n` right after it belongs to that line ending.
    pending_cr: bool,
    /// An upper bound on the bytes of text (file length, or what a gzip stream of that length
    /// could expand to), to cap reservations made from header claims.
    pub text_bound: Option<u64>,
}

impl<'a> Lines<'a> {
    /// Open a file; gzip is detected from its first bytes.
    pub fn open(path: &Path) -> Result<Lines<'static>, ReadError> {
        let file = File::open(path).map_err(|e| ReadError::at(path, None, ReadErrorKind::Io(e)))?;
        // Character devices and pipes report length 0: no bound then.
        let len = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        Lines::from_reader(file, path, len)
    }

    /// Lines of any byte source; `name` is what errors call it. `len` is its length in bytes
    /// when known (used only to bound reservations).
    pub fn from_reader<R: Read + Send + 'a>(reader: R, name: &Path, len: Option<u64>) -> Result<Self, ReadError> {
        let mut reader = BufReader::with_capacity(1 << 16, reader);
        let head = fill(&mut reader).map_err(|e| ReadError::at(name, None, ReadErrorKind::Io(e)))?;
        let gz = head.starts_with(&[0x1f, 0x8b]);
        let (reader, text_bound): (Source<'a>, _) = if gz {
            let dec = flate2::bufread::MultiGzDecoder::new(reader);
            // Deflate expands at most 1032:1.
            (Box::new(BufReader::with_capacity(1 << 16, dec)), len.map(|l| l.saturating_mul(1032)))
        } else {
            (Box::new(reader), len)
        };
        let mut lines = Lines {
            reader,
            buf: Vec::with_capacity(256),
            line: 0,
            path: name.to_path_buf(),
            pending_cr: false,
            text_bound,
        };
        lines.skip_bom()?;
        Ok(lines)
    }

    /// Lines of an in-memory block of text whose first line is line `first_line` of `name`.
    pub fn over_block(block: &'a [u8], name: &Path, first_line: usize) -> Self {
        Lines {
            reader: Box::new(block),
            buf: Vec::with_capacity(256),
            line: first_line - 1,
            path: name.to_path_buf(),
            pending_cr: false,
            text_bound: Some(block.len() as u64),
        }
    }

    fn skip_bom(&mut self) -> Result<(), ReadError> {
        let bom = match fill(&mut self.reader) {
            Ok(head) => head.starts_with(b"\xEF\xBB\xBF"),
            Err(e) => return Err(ReadError::at(&self.path, Some(1), io_kind(e))),
        };
        if bom {
            self.reader.consume(3);
        }
        Ok(())
    }

    fn err_next(&self, kind: ReadErrorKind) -> ReadError {
        ReadError::at(&self.path, Some(self.line + 1), kind)
    }

    /// The next line without its line ending, or `None` at the end of the text.
    pub fn next_line(&mut self) -> Result<Option<&str>, ReadError> {
        if !self.next_raw()? {
            return Ok(None);
        }
        std::str::from_utf8(&self.buf)
            .map(Some)
            .map_err(|_| ReadError::at(&self.path, Some(self.line), ReadErrorKind::InvalidUtf8))
    }

    /// Read the next line's bytes into `buf`; `false` at the end of the text.
    fn next_raw(&mut self) -> Result<bool, ReadError> {
        self.buf.clear();
        let mut consumed_any = false;
        loop {
            let avail = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.err_next(io_kind(e))),
            };
            if avail.is_empty() {
                break;
            }
            if self.pending_cr {
                self.pending_cr = false;
                if avail[0] == b'\n' {
                    self.reader.consume(1);
                    continue;
                }
            }
            match avail.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(p) => {
                    if self.buf.len() + p > MAX_LINE_BYTES {
                        return Err(self.err_next(ReadErrorKind::LineTooLong { max: MAX_LINE_BYTES }));
                    }
                    self.buf.extend_from_slice(&avail[..p]);
                    let mut used = p + 1;
                    if avail[p] == b'\r' {
                        match avail.get(p + 1) {
                            Some(b'\n') => used += 1,
                            Some(_) => {}
                            None => self.pending_cr = true,
                        }
                    }
                    self.reader.consume(used);
                    self.line += 1;
                    return Ok(true);
                }
                None => {
                    let n = avail.len();
                    if self.buf.len() + n > MAX_LINE_BYTES {
                        return Err(self.err_next(ReadErrorKind::LineTooLong { max: MAX_LINE_BYTES }));
                    }
                    self.buf.extend_from_slice(avail);
                    self.reader.consume(n);
                    consumed_any = true;
                }
            }
        }
        if consumed_any {
            self.line += 1;
        }
        Ok(consumed_any)
    }

    /// The line last returned by [`Lines::next_line`] (already checked to be UTF-8).
    pub fn current(&self) -> &str {
        std::str::from_utf8(&self.buf).unwrap_or_default()
    }

    /// The number of the line last returned.
    pub fn line(&self) -> usize {
        self.line
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An error tied to the current line.
    pub fn err(&self, kind: ReadErrorKind) -> ReadError {
        ReadError::at(&self.path, Some(self.line), kind)
    }

    /// The rest of the text after the last line returned, and whether a `\n` at its start
    /// still belongs to the previous line's `\r`.
    pub fn into_rest(self) -> (Source<'a>, bool) {
        (self.reader, self.pending_cr)
    }
}

/// `fill_buf`, retried on `Interrupted`.
fn fill<R: BufRead + ?Sized>(r: &mut R) -> std::io::Result<&[u8]> {
    loop {
        match r.fill_buf() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // Re-borrow to satisfy the borrow checker across the loop.
            Ok(_) => break,
            Err(e) => return Err(e),
        }
    }
    r.fill_buf()
}

/// A finite floating-point value; integers are accepted. NaN, Inf and overflow are rejected.
pub(crate) fn parse_value(token: &str) -> Result<f64, ReadErrorKind> {
    match token.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(ReadErrorKind::NonFinite { token: token.to_string() }),
        Err(_) => Err(ReadErrorKind::NonNumeric { token: token.to_string() }),
    }
}

/// A 1-based index in `1..=size`, returned 0-based.
pub(crate) fn parse_index(token: &str, size: usize, what: &'static str) -> Result<usize, ReadErrorKind> {
    let i: u64 = token.parse().map_err(|_| ReadErrorKind::NonNumeric { token: token.to_string() })?;
    if i == 0 {
        return Err(ReadErrorKind::IndexZero { what });
    }
    if i > size as u64 {
        return Err(ReadErrorKind::IndexOutOfRange { what, index: i, size });
    }
    Ok(i as usize - 1)
}

/// Write through `f` into a temporary file beside `path`, gzip-compressed when `path` ends in
/// `.gz`, then rename it over `path`. On error the temporary file is removed.
pub(crate) fn atomic_write(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    let werr = |source| WriteError { path: path.to_path_buf(), source };
    let file_name = path.file_name().ok_or_else(|| werr(std::io::Error::other("not a file path")))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let file = File::create(&tmp)?;
        let buf = std::io::BufWriter::with_capacity(1 << 16, file);
        if path.extension().is_some_and(|e| e == "gz") {
            let mut enc = flate2::write::GzEncoder::new(buf, flate2::Compression::default());
            f(&mut enc)?;
            enc.finish()?.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        } else {
            let mut buf = buf;
            f(&mut buf)?;
            buf.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(werr)
}
