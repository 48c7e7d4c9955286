//! Memory limits: sizes claimed by a file or a caller are checked before anything is allocated.
//!
//! A header may claim any size; the readers never allocate from a claim alone. What they must
//! allocate (a row pointer for the claimed number of rows, a dense array) is first compared with
//! the memory the system reports available, then reserved with `try_reserve_exact`, so an
//! impossible size is a typed error, never an abort (also under `ulimit -v`).

use crate::error::ReadErrorKind;

/// Longest line any reader accepts (16 MiB). A line of a Matrix Market or vector file is a few
/// dozen bytes and an svmlight example rarely reaches a megabyte; a file without line endings
/// (binary data, `/dev/zero`, a gzip bomb of zeros) stops here instead of filling memory.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Bytes of memory currently available (Linux: `MemAvailable` of `/proc/meminfo`, and no
/// more than the process's address-space limit, `ulimit -v`); `None` where the system does
/// not say, and then only `try_reserve` guards the allocation.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_ascii_whitespace().nth(1)?.parse().ok()?;
    let mut avail = kib.saturating_mul(1024);
    // "Max address space   8589934592   8589934592   bytes" (or "unlimited").
    if let Ok(limits) = std::fs::read_to_string("/proc/self/limits")
        && let Some(l) = limits.lines().find(|l| l.starts_with("Max address space"))
        && let Some(Ok(soft)) = l["Max address space".len()..].split_ascii_whitespace().next().map(str::parse::<u64>)
    {
        avail = avail.min(soft);
    }
    Some(avail)
}

/// `a × b` or a [`ReadErrorKind::SizeOverflow`] naming the sizes.
pub(crate) fn checked_product(what: &'static str, a: usize, b: usize) -> Result<usize, ReadErrorKind> {
    a.checked_mul(b).ok_or(ReadErrorKind::SizeOverflow { what, a: a as u64, b: b as u64 })
}

/// Check that `bytes` more bytes fit in the memory the system reports available.
pub(crate) fn check_memory(what: impl FnOnce() -> String, bytes: u64) -> Result<(), ReadErrorKind> {
    match available_memory() {
        Some(available) if bytes > available => {
            Err(ReadErrorKind::TooLargeForMemory { what: what(), bytes, available })
        }
        _ => Ok(()),
    }
}

/// Reserve room for `additional` more elements, or a typed error (checked against available
/// memory first, then `try_reserve`, so the allocator never aborts the process).
pub(crate) fn try_reserve<T>(
    v: &mut Vec<T>,
    additional: usize,
    what: impl Fn() -> String,
) -> Result<(), ReadErrorKind> {
    if v.capacity() - v.len() >= additional {
        return Ok(());
    }
    let bytes = (additional as u64).saturating_mul(std::mem::size_of::<T>() as u64);
    // Small requests are not worth a look at /proc (the vectors grow by doubling).
    if bytes > (64 << 20) {
        check_memory(&what, bytes)?;
    }
    v.try_reserve_exact(additional).map_err(|_| ReadErrorKind::TooLargeForMemory {
        what: what(),
        bytes,
        available: available_memory().unwrap_or(0),
    })
}

/// Grow `v` to `len` elements filled with `value`, with the checks of [`try_reserve`].
pub(crate) fn try_resize<T: Clone>(
    v: &mut Vec<T>,
    len: usize,
    value: T,
    what: impl Fn() -> String,
) -> Result<(), ReadErrorKind> {
    if len > v.len() {
        try_reserve(v, len - v.len(), &what)?;
    }
    v.resize(len, value);
    Ok(())
}
