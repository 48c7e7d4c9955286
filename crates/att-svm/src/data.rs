//! Token-selection data: `m` sequences of `n` tokens in `R^d`, a label per query, a fixed
//! head, and each query's optimal token.
//!
//! ```text
//! DIR/meta.json    {"m": 16, "n": 8, "d": 6, "causal": false}
//! DIR/tokens.mtx   (m·n)×d: token t of sequence l in row l·n + t
//! DIR/labels.txt   m·n values ±1: the label y_{l,i} of query i of sequence l
//! DIR/head.txt     d values: the fixed head (token score γ_t = y·⟨head, a_t⟩)
//! DIR/opt.txt      optional, m·n values: each query's optimal token (0-based, in its sequence)
//! ```
//!
//! Query `i` sees tokens `t ≤ i` when causal, all `n` otherwise. Without `opt.txt` the optimal
//! token is the visible token of highest score (Definition 3.9); a tie is an error
//! (Assumption 3.10).

use std::path::Path;

use faer::MatRef;
use serde::{Deserialize, Serialize};
use sparse_ops::io::{DenseMatrix, ReadOptions, read_dense, read_vector, write_dense_matrix_market, write_vector};

use crate::error::SvmError;

/// `meta.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SvmMeta {
    /// Number of sequences `m`.
    pub m: usize,
    /// Tokens per sequence `n` (each token also a query).
    pub n: usize,
    /// Token dimension `d`.
    pub d: usize,
    /// Query `i` sees only tokens `t ≤ i` (else all `n`).
    pub causal: bool,
}

/// Scores closer than this (relative to the largest |score| of the query, plus 1) tie.
pub const TIE_RTOL: f64 = 1e-12;

/// A validated token-selection data set.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenData {
    meta: SvmMeta,
    /// Row-major `(m·n)×d`.
    tokens: Vec<f64>,
    labels: Vec<f64>,
    head: Vec<f64>,
    opt: Vec<usize>,
}

impl TokenData {
    /// Checks shapes, finiteness and labels; `opt` (per query, 0-based within the sequence) is
    /// checked for visibility, or computed from the scores when `None`.
    pub fn new(
        meta: SvmMeta,
        tokens: Vec<f64>,
        labels: Vec<f64>,
        head: Vec<f64>,
        opt: Option<Vec<usize>>,
    ) -> Result<Self, SvmError> {
        let SvmMeta { m, n, d, .. } = meta;
        if m == 0 || n == 0 || d == 0 {
            return Err(SvmError::InvalidParameter(format!("m, n, d must be positive (m={m}, n={n}, d={d})")));
        }
        let dims = |what: &str, expected: usize, found: usize| {
            if expected == found {
                Ok(())
            } else {
                Err(SvmError::DimensionMismatch { what: what.into(), expected, found })
            }
        };
        dims("tokens (m·n·d values)", m * n * d, tokens.len())?;
        dims("labels (m·n values)", m * n, labels.len())?;
        dims("head (d values)", d, head.len())?;
        for (what, v) in [("tokens", &tokens), ("labels", &labels), ("head", &head)] {
            if let Some(index) = v.iter().position(|x| !x.is_finite()) {
                return Err(SvmError::NonFinite { what, index });
            }
        }
        if let Some(q) = labels.iter().position(|y| y.abs() != 1.0) {
            return Err(SvmError::NotALabel { sequence: q / n, query: q % n, value: labels[q] });
        }
        let mut data = Self { meta, tokens, labels, head, opt: Vec::new() };
        data.opt = match opt {
            Some(o) => {
                dims("opt (m·n values)", m * n, o.len())?;
                for (q, &t) in o.iter().enumerate() {
                    let visible = data.visible(q % n);
                    if t >= visible {
                        return Err(SvmError::OptNotVisible { sequence: q / n, query: q % n, opt: t, visible });
                    }
                }
                o
            }
            None => (0..m * n).map(|q| data.best_token(q)).collect::<Result<_, _>>()?,
        };
        if (0..m * n).all(|q| data.visible(q % n) < 2) {
            return Err(SvmError::NoConstraints);
        }
        Ok(data)
    }

    /// The sizes `m`, `n`, `d` and causality.
    pub fn meta(&self) -> SvmMeta {
        self.meta
    }
    /// Token `t` of sequence `l`.
    #[inline]
    pub fn token(&self, l: usize, t: usize) -> &[f64] {
        let d = self.meta.d;
        let r = l * self.meta.n + t;
        &self.tokens[r * d..(r + 1) * d]
    }
    /// Sequence `l`'s tokens, `n×d`.
    pub fn sequence(&self, l: usize) -> MatRef<'_, f64> {
        let (n, d) = (self.meta.n, self.meta.d);
        MatRef::from_row_major_slice(&self.tokens[l * n * d..(l + 1) * n * d], n, d)
    }
    /// The label of query `q = l·n + i`.
    pub fn label(&self, q: usize) -> f64 {
        self.labels[q]
    }
    /// The fixed head (`d` values): token score `γ_t = y·⟨head, a_t⟩`.
    pub fn head(&self) -> &[f64] {
        &self.head
    }
    /// The optimal token (within its sequence) of query `q = l·n + i`.
    pub fn opt(&self, q: usize) -> usize {
        self.opt[q]
    }
    /// How many tokens query `i` sees.
    #[inline]
    pub fn visible(&self, i: usize) -> usize {
        if self.meta.causal { i + 1 } else { self.meta.n }
    }
    /// The number of Att-SVM constraints `Σ_q (visible − 1)`.
    pub fn constraint_count(&self) -> usize {
        self.meta.m * (0..self.meta.n).map(|i| self.visible(i) - 1).sum::<usize>()
    }
    /// `⟨head, a⟩`.
    pub fn head_score(&self, a: &[f64]) -> f64 {
        a.iter().zip(&self.head).map(|(x, h)| x * h).sum()
    }

    /// The visible token of highest score `y·⟨head, a_t⟩`; a tie is an error.
    fn best_token(&self, q: usize) -> Result<usize, SvmError> {
        let (l, i) = (q / self.meta.n, q % self.meta.n);
        let scores: Vec<f64> =
            (0..self.visible(i)).map(|t| self.labels[q] * self.head_score(self.token(l, t))).collect();
        let best = (0..scores.len()).fold(0, |b, t| if scores[t] > scores[b] { t } else { b });
        let scale = 1.0 + scores.iter().fold(0.0f64, |a, s| a.max(s.abs()));
        if let Some(second) = (0..scores.len()).find(|&t| t != best && scores[best] - scores[t] <= TIE_RTOL * scale) {
            let (first, second) = (best.min(second), best.max(second));
            return Err(SvmError::Tie { sequence: l, query: i, first, second, score: scores[best] });
        }
        Ok(best)
    }

    /// Read a data directory (see the module docs).
    pub fn load(dir: &Path) -> Result<Self, SvmError> {
        let meta_path = dir.join("meta.json");
        let data_err =
            |path: &Path, e: &dyn std::fmt::Display| SvmError::Data { path: path.into(), message: e.to_string() };
        let text = std::fs::read_to_string(&meta_path).map_err(|e| data_err(&meta_path, &e))?;
        let meta: SvmMeta = serde_json::from_str(&text).map_err(|e| data_err(&meta_path, &e))?;
        let tok_path = dir.join("tokens.mtx");
        let tok_path = if tok_path.exists() { tok_path } else { dir.join("tokens.mtx.gz") };
        let tok = read_dense(&tok_path, ReadOptions::default())?;
        if tok.nrows != meta.m * meta.n || tok.ncols != meta.d {
            let msg = format!("expected a {}×{} matrix, found {}×{}", meta.m * meta.n, meta.d, tok.nrows, tok.ncols);
            return Err(data_err(&tok_path, &msg));
        }
        let labels = read_vector(&dir.join("labels.txt"))?;
        let head = read_vector(&dir.join("head.txt"))?;
        let opt_path = dir.join("opt.txt");
        let opt = if opt_path.exists() {
            let v = read_vector(&opt_path)?;
            let o: Option<Vec<usize>> =
                v.iter().map(|x| (x.fract() == 0.0 && *x >= 0.0).then_some(*x as usize)).collect();
            Some(o.ok_or_else(|| data_err(&opt_path, &"token indices must be non-negative integers"))?)
        } else {
            None
        };
        Self::new(meta, tok.data, labels, head, opt)
    }

    /// Write a data directory (with `opt.txt`).
    pub fn save(&self, dir: &Path) -> Result<(), SvmError> {
        let io = |e: std::io::Error| SvmError::Data { path: dir.into(), message: e.to_string() };
        std::fs::create_dir_all(dir).map_err(io)?;
        std::fs::write(dir.join("meta.json"), serde_json::to_string_pretty(&self.meta).expect("serialises") + "\n")
            .map_err(io)?;
        let (m, n, d) = (self.meta.m, self.meta.n, self.meta.d);
        let tok = DenseMatrix::new(m * n, d, self.tokens.clone()).expect("shape checked");
        write_dense_matrix_market(&dir.join("tokens.mtx"), &tok)?;
        write_vector(&dir.join("labels.txt"), &self.labels)?;
        write_vector(&dir.join("head.txt"), &self.head)?;
        write_vector(&dir.join("opt.txt"), &self.opt.iter().map(|&t| t as f64).collect::<Vec<_>>())?;
        Ok(())
    }
}
