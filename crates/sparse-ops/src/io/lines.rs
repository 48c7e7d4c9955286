//! Line-by-line reading with line numbers, transparent gzip, number parsing and atomic writes.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::error::{ReadError, ReadErrorKind, WriteError};

/// Lines of a (possibly gzip-compressed) text file with 1-based line numbers; the buffer is
/// reused, so reading allocates nothing per line.
pub(crate) struct Lines {
    reader: Box<dyn BufRead>,
    buf: Vec<u8>,
    line: usize,
    path: PathBuf,
    /// Size of the file on disk when it is not compressed (to bound reservations).
    pub plain_len: Option<u64>,
}

impl Lines {
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        let file = File::open(path).map_err(|e| ReadError::at(path, None, ReadErrorKind::Io(e)))?;
        let len = file.metadata().ok().map(|m| m.len());
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let head = reader.fill_buf().map_err(|e| ReadError::at(path, None, ReadErrorKind::Io(e)))?;
        let gz = head.starts_with(&[0x1f, 0x8b]);
        let (reader, plain_len): (Box<dyn BufRead>, _) = if gz {
            let dec = flate2::bufread::MultiGzDecoder::new(reader);
            (Box::new(BufReader::with_capacity(1 << 16, dec)), None)
        } else {
            (Box::new(reader), len)
        };
        Ok(Self { reader, buf: Vec::with_capacity(256), line: 0, path: path.to_path_buf(), plain_len })
    }

    /// The next line without its line ending, or `None` at the end of the file.
    pub fn next_line(&mut self) -> Result<Option<&str>, ReadError> {
        self.buf.clear();
        let n = self.reader.read_until(b'\n', &mut self.buf).map_err(|e| {
            let kind = match e.kind() {
                std::io::ErrorKind::UnexpectedEof => ReadErrorKind::Truncated,
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
                    ReadErrorKind::Invalid(format!("corrupt compressed data: {e}"))
                }
                _ => ReadErrorKind::Io(e),
            };
            ReadError::at(&self.path, Some(self.line + 1), kind)
        })?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        std::str::from_utf8(&self.buf)
            .map(Some)
            .map_err(|_| ReadError::at(&self.path, Some(self.line), ReadErrorKind::InvalidUtf8))
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
