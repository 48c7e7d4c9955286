//! The fast path of the parallel readers: a piece of text whose lines are all ordinary
//! (`\n` or `\r\n` endings, fields separated by spaces or tabs, plain decimal numbers) is
//! parsed without building strings; anything else makes it give up (`None`), and the caller
//! parses that text again line by line with the reference parser, which reports the error or
//! accepts the unusual form. So the fast path never changes what is accepted or how it is read:
//! it only has to be exact on what it does accept (floats by `fast-float2`, correctly rounded
//! like `str::parse`; the equivalence is tested).

use std::mem::MaybeUninit;

use super::mtx::{Field, Header, Symmetry};

/// Entries parsed from a piece of a coordinate file, 0-based, and the piece's line count.
/// Reused from block to block (see [`coordinate_into`]), so its memory is allocated once.
#[derive(Default)]
pub(super) struct Entries {
    pub rows: Vec<u32>,
    pub cols: Vec<u32>,
    pub vals: Vec<f64>,
    /// Where the row changes: `(row, k)` for each entry `k` whose row differs from the previous
    /// entry's (so the first entry always), 0-based. With sorted rows these are the only
    /// places the row pointer moves, so appending walks them instead of every entry.
    pub starts: Vec<(u32, u32)>,
    /// Line endings (`\n`) in the piece.
    pub newlines: usize,
    /// Rows nondecreasing (then the entries can be appended straight to CSR arrays).
    pub sorted: bool,
    /// Also columns strictly increasing within each row (then nothing needs sorting or merging).
    pub strict: bool,
}

impl Entries {
    pub fn len(&self) -> usize {
        self.vals.len()
    }
}

#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

#[inline]
fn skip_blanks(text: &[u8], mut p: usize) -> usize {
    while p < text.len() && is_blank(text[p]) {
        p += 1;
    }
    p
}

/// A run of 1 to 19 decimal digits (so no overflow) at `p`: value and end. Longer runs are
/// declined (their value is not used, so wrapping is harmless).
#[inline]
fn parse_u64(text: &[u8], p: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    let mut q = p;
    while q < text.len() && text[q].is_ascii_digit() {
        v = v.wrapping_mul(10).wrapping_add(u64::from(text[q] - b'0'));
        q += 1;
    }
    (q > p && q - p <= 19).then_some((v, q))
}

/// A finite float token at `p`, which must end at a blank, a line ending or the text's end.
#[inline(always)]
pub(super) fn parse_float(text: &[u8], p: usize) -> Option<(f64, usize)> {
    // Only the plain decimal grammar (words like inf or nan go to the reference parser).
    if !text.get(p).is_some_and(|&b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')) {
        return None;
    }
    // (An exact Clinger fast path tried before fast-float2 cost more CPU than it saved on
    // shortest-round-trip values, 43% of which have 17 digits: measured, removed. So did a
    // hand-written parser with a 128-by-64-bit division for 17–19 digits: 0.98 s against
    // fast-float2's 0.67 s for 10^7 values in `parse_floor` below, measured, removed.)
    let (v, n): (f64, usize) = fast_float2::parse_partial(&text[p..]).ok()?;
    let end = p + n;
    if end < text.len() && !matches!(text[end], b' ' | b'\t' | b'\n' | b'\r') {
        return None;
    }
    v.is_finite().then_some((v, end))
}

/// At the end of a line's content (after blanks): consume the line ending. `None` if
/// anything else follows, or a lone `\r` (a line ending to the reference reader).
#[inline]
fn end_of_line(text: &[u8], p: usize, newlines: &mut usize) -> Option<usize> {
    let p = skip_blanks(text, p);
    match text.get(p) {
        None => Some(p),
        Some(b'\n') => {
            *newlines += 1;
            Some(p + 1)
        }
        Some(b'\r') if text.get(p + 1) == Some(&b'\n') => {
            *newlines += 1;
            Some(p + 2)
        }
        _ => None,
    }
}

/// Skip a comment line starting at `p`; it must be valid UTF-8 without a lone `\r` (the
/// reference reader checks both).
fn skip_comment(text: &[u8], p: usize, newlines: &mut usize) -> Option<usize> {
    let end = text[p..].iter().position(|&b| b == b'\n').map_or(text.len(), |k| p + k);
    let body = &text[p..end];
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    if body.contains(&b'\r') || !(body.is_ascii() || std::str::from_utf8(body).is_ok()) {
        return None;
    }
    if end < text.len() {
        *newlines += 1;
        Some(end + 1)
    } else {
        Some(end)
    }
}

/// At a line start: skip blank and comment lines (`comment` starts a comment). Returns the
/// position of the next data line's first field, or `None` when the text holds something the
/// fast path does not handle; `Some(len)` at the end.
#[inline]
fn next_data(text: &[u8], mut p: usize, newlines: &mut usize, comment: impl Fn(u8) -> bool) -> Option<usize> {
    loop {
        p = skip_blanks(text, p);
        match text.get(p) {
            None => return Some(p),
            Some(b'\n') | Some(b'\r') => p = end_of_line(text, p, newlines)?,
            Some(&c) if comment(c) => p = skip_comment(text, p, newlines)?,
            Some(_) => return Some(p),
        }
    }
}

/// Parse a piece of a coordinate file into `out` (cleared first, its capacity kept); `false`
/// if any line is not ordinary or not valid (then `out` holds a prefix, to be discarded).
pub(super) fn coordinate_into(text: &[u8], h: &Header, out: &mut Entries) -> bool {
    out.rows.clear();
    out.cols.clear();
    out.vals.clear();
    out.starts.clear();
    out.newlines = 0;
    out.sorted = true;
    out.strict = true;
    // Every entry line takes at least 4 bytes ("1 1\n") but the last (3, "1 1"), so a piece
    // holds at most len / 4 + 1 entries. Reserved, not written: only the slots the entries
    // fill are ever touched (the buffers are reused from block to block).
    let cap = text.len() / 4 + 2;
    out.rows.reserve(cap);
    out.cols.reserve(cap);
    out.vals.reserve(cap);
    out.starts.reserve(cap);
    let sink = Sink {
        rows: &mut out.rows.spare_capacity_mut()[..cap],
        cols: &mut out.cols.spare_capacity_mut()[..cap],
        vals: &mut out.vals.spare_capacity_mut()[..cap],
        starts: &mut out.starts.spare_capacity_mut()[..cap],
    };
    let Some(fill) = coordinate_fill(text, h, sink) else {
        return false;
    };
    // SAFETY: `coordinate_fill` wrote the first `fill.len` slots of the three entry arrays'
    // spare capacity (every entry is written to all three at index `n < cap` before `n` is
    // incremented) and the first `fill.starts` of `starts` (written at index `m <= n` before
    // `m` is incremented), and the vectors were empty.
    unsafe {
        out.rows.set_len(fill.len);
        out.cols.set_len(fill.len);
        out.vals.set_len(fill.len);
        out.starts.set_len(fill.starts);
    }
    out.newlines = fill.newlines;
    out.sorted = fill.sorted;
    out.strict = fill.strict;
    true
}

/// Where [`coordinate_fill`] writes its entries and row changes: slots of equal length.
struct Sink<'a> {
    rows: &'a mut [MaybeUninit<u32>],
    cols: &'a mut [MaybeUninit<u32>],
    vals: &'a mut [MaybeUninit<f64>],
    starts: &'a mut [MaybeUninit<(u32, u32)>],
}

/// What [`coordinate_fill`] found: entries and row changes written, line endings, order flags.
struct Filled {
    len: usize,
    starts: usize,
    newlines: usize,
    sorted: bool,
    strict: bool,
}

/// The 8 bytes at `p`, little-endian (`None` within 8 bytes of the end).
#[inline(always)]
fn load8(text: &[u8], p: usize) -> Option<u64> {
    Some(u64::from_le_bytes(*text.get(p..)?.first_chunk::<8>()?))
}

/// The leading decimal digits of the 8 bytes in `w` (first byte lowest): how many (0–8) and
/// their value. Branch-free SWAR: a byte is a digit when neither `b - '0'` nor `b + 0x46`
/// sets its top bit; the lowest flagged byte is the first non-digit (digits before it borrow
/// and carry nothing into it).
#[inline(always)]
fn digits8(w: u64) -> (usize, u64) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let a = w.wrapping_sub(0x30 * ONES);
    let flags = (a | w.wrapping_add(0x46 * ONES)) & (0x80 * ONES);
    let n = (flags.trailing_zeros() / 8) as usize;
    // Keep the n digits, moved to the top bytes: the bytes below become leading zeros.
    let d = a.checked_shl(64 - 8 * n as u32).unwrap_or(0);
    // Pairs, then quads, then the eight digits (most significant first in memory).
    let d = d.wrapping_mul(10).wrapping_add(d >> 8);
    let v1 = (d & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let v2 = ((d >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    (n, u64::from((v1.wrapping_add(v2) >> 32) as u32))
}

const POW10: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// A run of 1 to 15 decimal digits at `p` followed by a non-digit, read 8 bytes at a time:
/// value and end. `None` for no digit, 16 or more, or when a load would pass the end of the
/// text (8 bytes from `p`, 16 for a run of 8 digits or more); [`parse_u64`] then reads it.
#[inline(always)]
fn swar_u64(text: &[u8], p: usize) -> Option<(u64, usize)> {
    let (n, hi) = digits8(load8(text, p)?);
    if n < 8 {
        return (n > 0).then_some((hi, p + n));
    }
    let (m, lo) = digits8(load8(text, p + 8)?);
    (m < 8).then(|| (hi * POW10[m] + lo, p + 8 + m))
}

/// A data line: row and column (1-based, unchecked), value, and where the next line starts.
type Line = (u64, u64, f64, usize);

/// The common line, fast: `I J V\n` (pattern: `I J\n`) starting at `p`, one space or tab
/// between the fields, integers as [`swar_u64`] reads them. `None` for anything else, which
/// [`line_general`] then reads (the same values from more forms).
#[inline(always)]
fn line_fast(text: &[u8], p: usize, pattern: bool) -> Option<Line> {
    let (i, q) = swar_u64(text, p)?;
    if !is_blank(*text.get(q)?) {
        return None;
    }
    let (j, mut q) = swar_u64(text, q + 1)?;
    let mut v = 1.0;
    if !pattern {
        if !is_blank(*text.get(q)?) {
            return None;
        }
        (v, q) = parse_float(text, q + 1)?;
    }
    (*text.get(q)? == b'\n').then_some((i, j, v, q + 1))
}

/// Any ordinary line from `p` (blank and comment lines before it skipped): `Ok(None)` at the
/// end of the text, `Err(())` for a line the fast path does not handle.
#[inline(never)]
fn line_general(text: &[u8], p: usize, pattern: bool, newlines: &mut usize) -> Result<Option<Line>, ()> {
    let p = next_data(text, p, newlines, |c| c == b'%').ok_or(())?;
    if p == text.len() {
        return Ok(None);
    }
    let (i, q) = parse_u64(text, p).ok_or(())?;
    let p2 = skip_blanks(text, q);
    if p2 == q {
        return Err(());
    }
    let (j, mut q) = parse_u64(text, p2).ok_or(())?;
    let mut v = 1.0;
    if !pattern {
        let p3 = skip_blanks(text, q);
        if p3 == q {
            return Err(());
        }
        (v, q) = parse_float(text, p3).ok_or(())?;
    }
    let next = end_of_line(text, q, newlines).ok_or(())?;
    Ok(Some((i, j, v, next)))
}

fn coordinate_fill(text: &[u8], h: &Header, sink: Sink<'_>) -> Option<Filled> {
    let (nrows, ncols) = (h.nrows as u64, h.ncols as u64);
    let (pattern, integer) = (h.field == Field::Pattern, h.field == Field::Integer);
    let (general, skew) = (h.symmetry == Symmetry::General, h.symmetry == Symmetry::Skew);
    let Sink { rows, cols, vals, starts } = sink;
    let cap = rows.len().min(cols.len()).min(vals.len()).min(starts.len());
    let (rows, cols, vals, starts) = (&mut rows[..cap], &mut cols[..cap], &mut vals[..cap], &mut starts[..cap]);
    let mut m = 0;
    let mut newlines = 0;
    let (mut sorted, mut strict) = (true, true);
    // The previous entry, 1-based (0: none yet, below every index).
    let (mut pi, mut pj) = (0u64, 0u64);
    let mut n = 0;
    let mut p = 0;
    loop {
        let (i, j, v, next) = match line_fast(text, p, pattern) {
            Some(line) => {
                newlines += 1;
                line
            }
            None => match line_general(text, p, pattern, &mut newlines).ok()? {
                Some(line) => line,
                None => break,
            },
        };
        p = next;
        if integer && v.fract() != 0.0 {
            return None;
        }
        if i == 0 || j == 0 || i > nrows || j > ncols {
            return None;
        }
        if !general && (j > i || (skew && i == j)) {
            return None;
        }
        sorted &= pi <= i;
        strict &= pi < i || (pi == i && pj < j);
        if n >= cap {
            return None;
        }
        rows[n].write((i - 1) as u32);
        cols[n].write((j - 1) as u32);
        vals[n].write(v);
        // Written every time, kept (m advanced) only where the row changes: no branch.
        starts[m].write(((i - 1) as u32, n as u32));
        m += usize::from(i != pi);
        (pi, pj) = (i, j);
        n += 1;
    }
    Some(Filled { len: n, starts: m, newlines, sorted, strict })
}

/// Parse a piece of a vector file (one number a line; blank, `#` and `%` lines skipped):
/// values and line endings.
pub(super) fn vector(text: &[u8]) -> Option<(Vec<f64>, usize)> {
    let mut out = Vec::with_capacity(text.len() / 8);
    let mut newlines = 0;
    let mut p = 0;
    loop {
        p = next_data(text, p, &mut newlines, |c| c == b'%' || c == b'#')?;
        if p == text.len() {
            return Some((out, newlines));
        }
        let (v, q) = parse_float(text, p)?;
        p = end_of_line(text, q, &mut newlines)?;
        out.push(v);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::mtx::test_header;
    use super::{Entries, coordinate_into, parse_float, parse_u64, swar_u64};

    /// What the reference parser reads from a coordinate text of real entries (blank and `%`
    /// lines skipped): 1-based `(i, j, value bits)`, or `None` when a line is not three fields.
    fn reference(text: &str) -> Option<Vec<(u64, u64, u64)>> {
        let mut out = Vec::new();
        for line in text.lines() {
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('%') {
                continue;
            }
            let f: Vec<&str> = t.split_ascii_whitespace().collect();
            if f.len() != 3 {
                return None;
            }
            out.push((f[0].parse().ok()?, f[1].parse().ok()?, f[2].parse::<f64>().ok()?.to_bits()));
        }
        Some(out)
    }

    fn parsed(e: &Entries) -> Vec<(u64, u64, u64)> {
        (0..e.len()).map(|k| (u64::from(e.rows[k]) + 1, u64::from(e.cols[k]) + 1, e.vals[k].to_bits())).collect()
    }

    /// An integer token: 1 to 20 digits, leading zeros sometimes.
    fn int_token() -> impl Strategy<Value = String> {
        prop_oneof![
            (1u64..100).prop_map(|x| x.to_string()),
            (1u64..10_000_000).prop_map(|x| x.to_string()),
            any::<u64>().prop_map(|x| (x | 1).to_string()),
            (0usize..4, 1u64..1000).prop_map(|(z, x)| format!("{}{x}", "0".repeat(z))),
        ]
    }

    #[test]
    fn swar_integers_match_the_digit_loop() {
        let digits = "90817263544536271809";
        for len in 1..=20 {
            for end in ["", " ", "\n", "x", "\t1", ".5", "9"] {
                // Padded so that the 8-byte loads can reach past the token.
                let text = format!("{}{end}{}", &digits[..len], " ".repeat(20));
                let fast = swar_u64(text.as_bytes(), 0);
                let slow = parse_u64(text.as_bytes(), 0);
                if let Some(f) = fast {
                    assert_eq!(Some(f), slow, "{text:?}");
                } else {
                    // Declined: 16 digits or more (or a digit run that continues).
                    assert!(slow.is_none_or(|(_, q)| q >= 16), "{text:?}");
                }
            }
        }
        // Too close to the end for the loads: declined, the digit loop reads it.
        assert_eq!(swar_u64(b"12 3", 0), None);
        assert_eq!(swar_u64(b"12345678 ", 0), None);
        assert_eq!(swar_u64(b" 1234567", 0), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Lines in assorted forms (extra blanks, tabs, CRLF, comments, blank lines, long
        /// integers, printed floats): whatever the fast path accepts is what the reference parser
        /// reads, with the line endings counted; plain `I J V\n` lines are never declined.
        #[test]
        fn coordinate_lines_match_the_reference(
            lines in proptest::collection::vec((int_token(), int_token(), any::<u64>(),
                prop_oneof![Just(" "), Just("\t"), Just("  "), Just(" \t")],
                prop_oneof![Just("\n"), Just("\r\n"), Just(" \n")],
                0u8..8), 0..40),
            last_newline in any::<bool>(),
        ) {
            let mut text = String::new();
            let mut plain = true;
            for (i, j, bits, sep, eol, extra) in &lines {
                let v = f64::from_bits(*bits);
                let v = if v.is_finite() { v } else { 0.5 };
                match extra {
                    0 => text.push_str("% a comment\n"),
                    1 => text.push('\n'),
                    _ => {}
                }
                text.push_str(&format!("{i}{sep}{j}{sep}{v}{eol}"));
                plain &= *sep == " " && *eol == "\n" && i.len() < 16 && j.len() < 16 && *extra > 1;
            }
            if !last_newline && text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            let h = test_header(u32::MAX as usize, u32::MAX as usize);
            let mut e = Entries::default();
            let want = reference(&text);
            if coordinate_into(text.as_bytes(), &h, &mut e) {
                let want = want.expect("the reference reads what the fast path reads");
                prop_assert_eq!(parsed(&e), want.clone());
                prop_assert_eq!(e.newlines, text.matches('\n').count());
                let starts: Vec<(u32, u32)> = (0..e.len())
                    .filter(|&k| k == 0 || e.rows[k] != e.rows[k - 1])
                    .map(|k| (e.rows[k], k as u32))
                    .collect();
                prop_assert_eq!(&e.starts, &starts);
                let sorted = want.windows(2).all(|w| w[0].0 <= w[1].0);
                let strict = want.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1));
                prop_assert_eq!((e.sorted, e.strict), (sorted, strict));
            } else {
                // Only indices beyond u32 (or 20 digits) or unusual forms are declined.
                let big = want.as_ref().is_none_or(|w| w.iter().any(|&(i, j, _)| i > u64::from(u32::MAX) || j > u64::from(u32::MAX)));
                prop_assert!(big || !plain, "declined {:?}", text);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// Whatever the fast float path accepts, `str::parse` accepts with the same bits; it
        /// may decline more (the reference parser then decides).
        #[test]
        fn fast_floats_agree_with_str_parse(tok in "[-+0-9.eEinfatyINFATY]{1,30}") {
            if let Some((v, end)) = parse_float(tok.as_bytes(), 0) {
                prop_assert_eq!(end, tok.len());
                let r: f64 = tok.parse().expect("str::parse accepts what the fast path accepts");
                prop_assert_eq!(v.to_bits(), r.to_bits(), "{}", tok);
            }
        }

        /// Significands around 2^53 and up to 20 digits, decimal points anywhere, exponents
        /// around ±22 (where exact and approximate algorithms part): the same bits as `str::parse`.
        #[test]
        fn decimal_tokens_agree_with_str_parse(
            m in prop_oneof![0u64..1000, (1u64 << 53) - 1000..(1u64 << 53) + 1000, any::<u64>()],
            point in 0usize..22,
            e in prop::option::of(-30i32..30),
            neg in any::<bool>(),
        ) {
            let digits = m.to_string();
            let point = point.min(digits.len());
            let mut tok = format!("{}{}.{}", if neg { "-" } else { "" }, &digits[..point], &digits[point..]);
            if let Some(e) = e {
                tok.push_str(&format!("e{e}"));
            }
            let (v, end) = parse_float(tok.as_bytes(), 0).expect("a plain decimal token");
            prop_assert_eq!(end, tok.len());
            prop_assert_eq!(v.to_bits(), tok.parse::<f64>().unwrap().to_bits(), "{}", tok);
        }

        #[test]
        fn fast_floats_read_every_printed_float(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assume!(x.is_finite());
            for s in [format!("{x}"), format!("{x:e}"), format!("{x:.17e}")] {
                let (v, _) = parse_float(s.as_bytes(), 0).expect("a printed float is ordinary");
                prop_assert_eq!(v.to_bits(), s.parse::<f64>().unwrap().to_bits());
            }
        }
    }
}

/// Parse-loop floors on a real file (timings printed, not asserted):
/// `SPNEWTON_IO_FILE=A.mtx cargo test --release -p spnewton-sparse-ops --lib parse_floor -- --ignored --nocapture`
#[cfg(test)]
mod floor {
    use std::time::Instant;

    #[test]
    #[ignore = "needs SPNEWTON_IO_FILE; prints timings"]
    fn parse_floor() {
        let path = std::env::var("SPNEWTON_IO_FILE").expect("SPNEWTON_IO_FILE");
        let text = std::fs::read(path).unwrap();
        // Value tokens: the third field of each line after the size line.
        let mut toks = Vec::new();
        for line in text.split(|&b| b == b'\n').skip(2) {
            if let Some(t) = line.split(|&b| b == b' ').nth(2) {
                toks.push(t);
            }
        }
        let mb = text.len() as f64 / 1e6;
        for round in 0..3 {
            let t = Instant::now();
            let mut n = 0usize;
            for &b in &text {
                n += usize::from(b == b'\n');
            }
            let scan = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut acc = 0.0;
            for tok in &toks {
                acc += fast_float2::parse_partial::<f64, _>(tok).unwrap().0;
            }
            let ff = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let h = super::super::mtx::test_header(1 << 30, 1 << 30);
            let mut e = super::Entries::default();
            let body = &text[text.iter().position(|&b| b == b'\n').unwrap() + 1..];
            assert!(super::coordinate_into(body, &h, &mut e));
            let coord = t.elapsed().as_secs_f64();
            eprintln!(
                "round {round}: {mb:.0} MB, {n} lines: byte scan {scan:.3} s; {} values: fast-float2 {ff:.3} s (sum {acc:e}); fast::coordinate one thread {coord:.3} s ({})",
                toks.len(),
                e.len(),
            );
        }
    }
}
