//! The fast path of the parallel readers: a piece of text whose lines are all ordinary
//! (`\n` or `\r\n` endings, fields separated by spaces or tabs, plain decimal numbers) is
//! parsed without building strings; anything else makes it give up (`None`), and the caller
//! parses that text again line by line with the reference parser, which reports the error or
//! accepts the unusual form. So the fast path never changes what is accepted or how it is read:
//! it only has to be exact on what it does accept (floats by `fast-float2`, correctly rounded
//! like `str::parse`; the equivalence is tested).

use super::mtx::{Field, Header, Symmetry};

/// Entries parsed from a piece of a coordinate file, 0-based.
pub(super) struct Entries {
    pub rows: Vec<u32>,
    pub cols: Vec<u32>,
    pub vals: Vec<f64>,
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
fn skip_blanks(line: &[u8], mut p: usize) -> usize {
    while p < line.len() && is_blank(line[p]) {
        p += 1;
    }
    p
}

/// A run of decimal digits (at most 19, so no overflow) at `p`: value and end.
#[inline]
fn parse_u64(line: &[u8], p: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    let mut q = p;
    while q < line.len() && line[q].is_ascii_digit() {
        v = v * 10 + u64::from(line[q] - b'0');
        q += 1;
        if q - p > 19 {
            return None;
        }
    }
    (q > p).then_some((v, q))
}

/// A finite float token `line[p..end]` where `end` is the next blank or the line's end.
#[inline]
pub(super) fn parse_float(line: &[u8], p: usize) -> Option<(f64, usize)> {
    let mut end = p;
    while end < line.len() && !is_blank(line[end]) {
        end += 1;
    }
    let tok = &line[p..end];
    // Only the plain decimal grammar; words (inf, nan, infinity) go to the reference parser.
    if tok.is_empty() || !tok.iter().all(|&b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E')) {
        return None;
    }
    let v: f64 = fast_float2::parse(tok).ok()?;
    v.is_finite().then_some((v, end))
}

/// The lines of `text` (split at `\n`, a trailing `\r` dropped); `None` if a line holds a lone
/// `\r` (that is a line ending to the reference reader, and would change the line count).
#[inline]
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// A comment line must still be valid UTF-8 without lone `\r` (the reference reader checks both).
fn comment_ok(line: &[u8]) -> bool {
    !line.contains(&b'\r') && (line.is_ascii() || std::str::from_utf8(line).is_ok())
}

/// Parse a piece of a coordinate file; `None` if any line is not ordinary or not valid.
pub(super) fn coordinate(text: &[u8], h: &Header) -> Option<Entries> {
    let cap = text.len() / 12;
    let mut out =
        Entries { rows: Vec::with_capacity(cap), cols: Vec::with_capacity(cap), vals: Vec::with_capacity(cap) };
    let (nrows, ncols) = (h.nrows as u64, h.ncols as u64);
    for line in lines(text) {
        let p = skip_blanks(line, 0);
        if p == line.len() {
            continue;
        }
        if line[p] == b'%' {
            if !comment_ok(line) {
                return None;
            }
            continue;
        }
        let (i, q) = parse_u64(line, p)?;
        let p = skip_blanks(line, q);
        if p == q {
            return None;
        }
        let (j, q) = parse_u64(line, p)?;
        let (v, q) = if h.field == Field::Pattern {
            (1.0, q)
        } else {
            let p = skip_blanks(line, q);
            if p == q {
                return None;
            }
            let (v, q) = parse_float(line, p)?;
            if h.field == Field::Integer && v.fract() != 0.0 {
                return None;
            }
            (v, q)
        };
        if skip_blanks(line, q) != line.len() {
            return None;
        }
        if i == 0 || j == 0 || i > nrows || j > ncols {
            return None;
        }
        if h.symmetry != Symmetry::General && (j > i || (h.symmetry == Symmetry::Skew && i == j)) {
            return None;
        }
        out.rows.push((i - 1) as u32);
        out.cols.push((j - 1) as u32);
        out.vals.push(v);
    }
    Some(out)
}

/// Parse a piece of a vector file (one number a line; blank, `#` and `%` lines skipped).
pub(super) fn vector(text: &[u8]) -> Option<Vec<f64>> {
    let mut out = Vec::with_capacity(text.len() / 8);
    for line in lines(text) {
        let p = skip_blanks(line, 0);
        if p == line.len() {
            continue;
        }
        if line[p] == b'%' || line[p] == b'#' {
            if !comment_ok(line) {
                return None;
            }
            continue;
        }
        let (v, q) = parse_float(line, p)?;
        if skip_blanks(line, q) != line.len() {
            return None;
        }
        out.push(v);
    }
    Some(out)
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
        fn fast_floats_agree_with_str_parse(tok in "[-+0-9.eE]{1,30}") {
            if let Some((v, end)) = parse_float(tok.as_bytes(), 0) {
                prop_assert_eq!(end, tok.len());
                let r: f64 = tok.parse().expect("str::parse accepts what the fast path accepts");
                prop_assert_eq!(v.to_bits(), r.to_bits(), "{}", tok);
            }
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
