//! The problem directory: the unit users pass around.
//!
//! ```text
//! DIR/A.mtx        (or A.mtx.gz, or A.npz: SciPy's save_npz)  the n×d matrix, Matrix Market
//! DIR/data.svm     instead of A.mtx and b.txt: svmlight/LIBSVM, the labels are b
//! DIR/b.txt        n values (or b.npy, NumPy)
//! DIR/w.txt        optional: n regulariser weights
//! DIR/x0.txt       optional: d values, the starting point
//! DIR/x_true.txt   optional: d values, the planted point
//! DIR/meta.json    {"loss": "rescaled"|"hyperbolic"|"softmax"|"linear",
//!                   "fn": "exp"|"cosh"|"sinh", "w_const": number (optional)}
//! ```
//! `w` is `w.txt` when present, else `w_const`, else no regulariser; both present is an error.
//! `w_const` must be finite and nonnegative (the rule of the CLI's `--w-const`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sparse_ops::io::{
    SvmlightOptions, read_matrix_file, read_svmlight, read_vector_of_len, write_matrix_market, write_vector,
};
use sparse_ops::{CsrMatrix, ReadError, ReadOptions, WriteError};

use crate::kind::{Activation, LossKind, Regulariser};

/// `meta.json`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// The loss.
    pub loss: LossKind,
    #[serde(rename = "fn", default)]
    /// The entrywise function `u` (key `fn`; default `exp`).
    pub func: Activation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// A constant regulariser weight `w_i = w_const` when there is no `w` file.
    pub w_const: Option<f64>,
}

/// A regression problem read from (or to be written to) a problem directory.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The `n × d` data matrix `A`.
    pub a: CsrMatrix,
    /// The target `b` (length `n`).
    pub b: Vec<f64>,
    /// The regulariser weights `w` (constant or per row).
    pub w: Regulariser,
    /// The loss.
    pub loss: LossKind,
    /// The entrywise function `u`.
    pub func: Activation,
    /// Starting point (length `d`), if the directory has one.
    pub x0: Option<Vec<f64>>,
    /// The planted solution (length `d`), if known.
    pub x_true: Option<Vec<f64>>,
}

/// Why a problem directory could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemError {
    #[error(transparent)]
    /// A file of the directory could not be read.
    Read(#[from] ReadError),
    #[error(transparent)]
    /// A file of the directory could not be written.
    Write(#[from] WriteError),
    #[error("{}: {reason}", path.display())]
    /// A file's content is invalid.
    Invalid {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

fn invalid(path: &Path, reason: impl Into<String>) -> ProblemError {
    ProblemError::Invalid { path: path.to_path_buf(), reason: reason.into() }
}

/// The one rule for a constant regulariser weight, wherever it comes from (`meta.json`'s
/// `w_const`, the CLI's `--w-const`): finite and nonnegative.
pub fn check_w_const(c: f64) -> Result<f64, String> {
    if c.is_finite() && c >= 0.0 { Ok(c) } else { Err(format!("w_const must be finite and nonnegative, got {c}")) }
}

/// The matrix files a problem directory may hold, in the order they are looked for.
pub const MATRIX_FILES: [&str; 4] = ["A.mtx", "A.mtx.gz", "A.npz", "data.svm"];

/// `meta.json` is a few lines; anything past this is not one.
const META_MAX_BYTES: u64 = 1 << 20;

fn read_meta(path: &Path) -> Result<Meta, ProblemError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| invalid(path, format!("cannot read: {e}")))?;
    let mut text = String::new();
    file.take(META_MAX_BYTES + 1).read_to_string(&mut text).map_err(|e| invalid(path, format!("cannot read: {e}")))?;
    if text.len() as u64 > META_MAX_BYTES {
        return Err(invalid(path, format!("longer than {META_MAX_BYTES} bytes: not a meta.json")));
    }
    Meta::parse(&text).map_err(|reason| invalid(path, reason))
}

impl Meta {
    /// Parse the text of a `meta.json` (a leading byte-order mark is skipped) and check it:
    /// `w_const` must satisfy [`check_w_const`].
    pub fn parse(text: &str) -> Result<Meta, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let meta: Meta = serde_json::from_str(text).map_err(|e| format!("invalid meta.json: {e}"))?;
        if let Some(c) = meta.w_const {
            check_w_const(c)?;
        }
        Ok(meta)
    }
}

impl Problem {
    /// Read a problem directory; every file is checked against `A`'s size.
    pub fn read_dir(dir: &Path) -> Result<Self, ProblemError> {
        if !dir.is_dir() {
            return Err(invalid(dir, "not a directory (a problem directory holds A.mtx, b.txt and meta.json)"));
        }
        let meta_path = dir.join("meta.json");
        let meta = read_meta(&meta_path)?;
        let present: Vec<&str> = MATRIX_FILES.iter().copied().filter(|f| dir.join(f).exists()).collect();
        let (a, b) = match present.as_slice() {
            [] => {
                return Err(invalid(
                    dir,
                    format!("no {} in the directory", MATRIX_FILES.join(", ").replacen(", data", " or data", 1)),
                ));
            }
            [one] if *one == "data.svm" => {
                if dir.join("b.txt").exists() {
                    return Err(invalid(dir, "both data.svm (whose labels are b) and b.txt are present; keep one"));
                }
                let (a, b) = read_svmlight(&dir.join(one), SvmlightOptions::default())?;
                (a, Some(b))
            }
            [one] => (read_matrix_file(&dir.join(one), ReadOptions::default(), &|_| {})?.0, None),
            many => return Err(invalid(dir, format!("{} are all present; keep one", many.join(" and ")))),
        };
        let (n, d) = a.shape();
        let b = match b {
            Some(b) => b,
            None => {
                let b = ["b.txt", "b.npy"].iter().map(|f| dir.join(f)).find(|p| p.exists());
                read_vector_of_len(&b.unwrap_or_else(|| dir.join("b.txt")), n, "b (one entry per row of A)")?
            }
        };
        let opt = |name: &str, len: usize, what: &str| -> Result<Option<Vec<f64>>, ProblemError> {
            let p = dir.join(name);
            Ok(if p.exists() { Some(read_vector_of_len(&p, len, what)?) } else { None })
        };
        let w_vec = opt("w.txt", n, "w (one entry per row of A)")?;
        let w = match (w_vec, meta.w_const) {
            (Some(_), Some(_)) => {
                return Err(invalid(dir, "both w.txt and meta.json's w_const are given; keep one"));
            }
            (Some(w), None) => Regulariser::PerRow(w),
            (None, Some(c)) => Regulariser::Const(check_w_const(c).map_err(|reason| invalid(&meta_path, reason))?),
            (None, None) => Regulariser::None,
        };
        Ok(Problem {
            x0: opt("x0.txt", d, "x0 (one entry per column of A)")?,
            x_true: opt("x_true.txt", d, "x_true (one entry per column of A)")?,
            a,
            b,
            w,
            loss: meta.loss,
            func: meta.func,
        })
    }

    /// Write the problem into `dir` (created if missing). `A` goes to `A.mtx.gz` when
    /// `compress`, else `A.mtx`.
    pub fn write_dir(&self, dir: &Path, compress: bool) -> Result<(), ProblemError> {
        std::fs::create_dir_all(dir).map_err(|e| invalid(dir, format!("cannot create: {e}")))?;
        let (a_name, other) = if compress { ("A.mtx.gz", "A.mtx") } else { ("A.mtx", "A.mtx.gz") };
        if dir.join(other).exists() {
            return Err(invalid(
                &dir.join(other),
                "already present; writing the other form would make the directory ambiguous",
            ));
        }
        write_matrix_market(&dir.join(a_name), &self.a)?;
        write_vector(&dir.join("b.txt"), &self.b)?;
        let w_const = match &self.w {
            Regulariser::None => None,
            Regulariser::Const(c) => Some(*c),
            Regulariser::PerRow(w) => {
                write_vector(&dir.join("w.txt"), w)?;
                None
            }
        };
        for (name, v) in [("x0.txt", &self.x0), ("x_true.txt", &self.x_true)] {
            if let Some(v) = v {
                write_vector(&dir.join(name), v)?;
            }
        }
        let meta = Meta { loss: self.loss, func: self.func, w_const };
        let p = dir.join("meta.json");
        std::fs::write(&p, serde_json::to_string_pretty(&meta).expect("meta serialises") + "\n")
            .map_err(|source| WriteError { path: p, source })?;
        Ok(())
    }
}
