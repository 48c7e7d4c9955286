//! The fast path of the parallel readers: a piece of text whose lines are all ordinary
//! (`\n` or `\r\n` endings, fields separated by spaces or tabs, plain decimal numbers) is
//! parsed without building strings; anything else makes it give up (`None`), and the caller
//! parses that text again line by line with the reference parser, which reports the error or
//! accepts the unusual form. So the fast path never changes what is accepted or how it is read:
//! it only has to be exact on what it does accept (floats by `fast-float2`, correctly rounded
//! like `str::parse`; the equivalence is tested).

use super::mtx::{Field, Header, Symmetry};

/// Entries parsed from a piece of a coordinate file, 0-based, and the piece's line count.
/// Reused from block to block (see [`coordinate_into`]), so its memory is allocated once.
#[derive(Default)]
pub(super) struct Entries {
    pub rows: Vec<u32>,
    pub cols: Vec<u32>,
    pub vals: Vec<f64>,
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

/// A run of decimal digits (at most 19, so no overflow) at `p`: value and end.
#[inline]
fn parse_u64(text: &[u8], p: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    let mut q = p;
    while q < text.len() && text[q].is_ascii_digit() {
        v = v * 10 + u64::from(text[q] - b'0');
        q += 1;
    }
    (q > p && q - p <= 19).then_some((v, q))
}

/// A finite float token at `p`, which must end at a blank, a line ending or the text's end.
#[inline]
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
    out.newlines = 0;
    out.sorted = true;
    out.strict = true;
    let cap = text.len() / 16;
    out.rows.reserve(cap);
    out.cols.reserve(cap);
    out.vals.reserve(cap);
    coordinate_fill(text, h, out).is_some()
}

fn coordinate_fill(text: &[u8], h: &Header, out: &mut Entries) -> Option<()> {
    let (nrows, ncols) = (h.nrows as u64, h.ncols as u64);
    let (pattern, integer) = (h.field == Field::Pattern, h.field == Field::Integer);
    let mut p = 0;
    loop {
        p = next_data(text, p, &mut out.newlines, |c| c == b'%')?;
        if p == text.len() {
            return Some(());
        }
        let (i, q) = parse_u64(text, p)?;
        let p2 = skip_blanks(text, q);
        if p2 == q {
            return None;
        }
        let (j, mut q) = parse_u64(text, p2)?;
        let mut v = 1.0;
        if !pattern {
            let p3 = skip_blanks(text, q);
            if p3 == q {
                return None;
            }
            (v, q) = parse_float(text, p3)?;
            if integer && v.fract() != 0.0 {
                return None;
            }
        }
        p = end_of_line(text, q, &mut out.newlines)?;
        if i == 0 || j == 0 || i > nrows || j > ncols {
            return None;
        }
        if h.symmetry != Symmetry::General && (j > i || (h.symmetry == Symmetry::Skew && i == j)) {
            return None;
        }
        if let (Some(&r), Some(&c)) = (out.rows.last(), out.cols.last()) {
            let (r, c) = (u64::from(r), u64::from(c));
            if r > i - 1 {
                out.sorted = false;
                out.strict = false;
            } else if r == i - 1 && c >= j - 1 {
                out.strict = false;
            }
        }
        out.rows.push((i - 1) as u32);
        out.cols.push((j - 1) as u32);
        out.vals.push(v);
    }
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

    use super::parse_float;

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
            let mut e = super::Entries {
                rows: Vec::new(),
                cols: Vec::new(),
                vals: Vec::new(),
                newlines: 0,
                sorted: true,
                strict: true,
            };
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
