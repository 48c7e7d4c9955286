//! Reading a matrix for a command: Matrix Market or svmlight (by extension), with a progress
//! bar on stderr for large files when stderr is a terminal.

use std::io::IsTerminal;
use std::path::Path;

use sparse_ops::io::read_matrix_file;
use sparse_ops::{CsrMatrix, ReadOptions};

/// Files below this size read in well under a second: no bar.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

/// Read `path` (Matrix Market, `.gz` or not, or svmlight); the labels of an svmlight file too.
pub fn read_matrix(path: &Path) -> anyhow::Result<(CsrMatrix, Option<Vec<f64>>)> {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let gz = path.extension().is_some_and(|e| e == "gz");
    if len < PROGRESS_MIN_BYTES || !std::io::stderr().is_terminal() {
        return Ok(read_matrix_file(path, ReadOptions::default(), &|_| {})?);
    }
    // The callback counts text bytes; a compressed file's text length is unknown: spinner.
    let bar = if gz { indicatif::ProgressBar::new_spinner() } else { indicatif::ProgressBar::new(len) };
    let template = if gz {
        "{spinner} reading {msg}: {bytes} of text [{elapsed_precise}]"
    } else {
        "{spinner} reading {msg}: {bytes}/{total_bytes} [{elapsed_precise}, {eta} left]"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(path.display().to_string());
    let result = read_matrix_file(path, ReadOptions::default(), &|bytes| bar.set_position(bytes));
    bar.finish_and_clear();
    Ok(result?)
}
