//! The reading pipeline of the parallel readers: a reader thread pulls text from the
//! (possibly decompressing) source and cuts it into blocks that end at a line ending, while
//! the calling thread parses the previous block on the rayon pool.
//!
//! Memory: at most three blocks of [`BLOCK_BYTES`] are alive at once (one being filled, one
//! queued, one being parsed); buffers are recycled, so the text of a file is never held whole.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::limits::MAX_LINE_BYTES;
use super::lines::{Source, io_kind};
use crate::error::ReadErrorKind;

/// Target size of a block of text (4 MiB: large enough to spread over the pool, small enough
/// that a few in flight cost nothing next to the matrix).
pub(crate) const BLOCK_BYTES: usize = 4 << 20;

/// What the reader thread sends: a block of whole lines, or why it stopped.
enum Msg {
    Block(Vec<u8>),
    /// No line ending within [`MAX_LINE_BYTES`] after the last block.
    LineTooLong,
    Failed(ReadErrorKind),
}

/// Progress of a read: bytes of text handed to the parser so far.
pub type Progress<'p> = &'p (dyn Fn(u64) + Sync);

/// Run `parse` on consecutive blocks of whole lines of `source` (the last block may end
/// without a line ending). `skip_lf`: a `\n` at the very start belongs to a `\r` already
/// consumed. `parse` gets the block; its error stops the reading. A line longer than
/// [`MAX_LINE_BYTES`] ends in `Err(LineTooLong)` from `on_error`, which is told how to build
/// the error at the right line.
pub(crate) fn for_each_block<E>(
    source: Source<'_>,
    skip_lf: bool,
    mut parse: impl FnMut(&[u8]) -> Result<(), E>,
    on_error: impl Fn(ReadErrorKind) -> E,
) -> Result<(), E> {
    let (tx, rx) = sync_channel::<Msg>(1);
    let (back_tx, back_rx) = sync_channel::<Vec<u8>>(3);
    std::thread::scope(|s| {
        s.spawn(move || produce(source, skip_lf, tx, back_rx));
        let result = consume(&rx, &back_tx, &mut parse, &on_error);
        // Dropping the receiver stops the reader thread at its next send.
        drop(rx);
        drop(back_tx);
        result
    })
}

fn consume<E>(
    rx: &Receiver<Msg>,
    back: &SyncSender<Vec<u8>>,
    parse: &mut impl FnMut(&[u8]) -> Result<(), E>,
    on_error: &impl Fn(ReadErrorKind) -> E,
) -> Result<(), E> {
    for msg in rx.iter() {
        match msg {
            Msg::Block(b) => {
                parse(&b)?;
                let _ = back.try_send(b);
            }
            Msg::LineTooLong => return Err(on_error(ReadErrorKind::LineTooLong { max: MAX_LINE_BYTES })),
            Msg::Failed(k) => return Err(on_error(k)),
        }
    }
    Ok(())
}

/// The reader thread: fill a buffer, cut it after its last line ending, send the whole
/// lines and carry the rest over to the next buffer.
fn produce(mut source: Source<'_>, mut skip_lf: bool, tx: SyncSender<Msg>, back: Receiver<Vec<u8>>) {
    // A block plus the carried tail of the previous one fit without reallocating.
    let mut carry: Vec<u8> = Vec::with_capacity(2 * BLOCK_BYTES);
    loop {
        // Read until the buffer holds BLOCK_BYTES more bytes or the source ends (read_to_end
        // fills the spare capacity without zeroing it first).
        let start = carry.len();
        let eof = match (&mut source).take(BLOCK_BYTES as u64).read_to_end(&mut carry) {
            Ok(n) => n < BLOCK_BYTES,
            Err(e) => {
                let _ = tx.send(Msg::Failed(io_kind(e)));
                return;
            }
        };
        if skip_lf && carry.len() > start {
            if carry[start] == b'\n' {
                carry.remove(start);
            }
            skip_lf = false;
        }
        if eof {
            if !carry.is_empty() {
                let _ = tx.send(Msg::Block(carry));
            }
            return;
        }
        // Cut after the last '\n' (or, in a file of lone '\r' endings, the last '\r').
        let cut = carry[start..]
            .iter()
            .rposition(|&b| b == b'\n')
            .or_else(|| carry[start..].iter().rposition(|&b| b == b'\r'))
            .map(|p| start + p + 1);
        match cut {
            Some(c) => {
                skip_lf = carry[c - 1] == b'\r';
                let mut next = back.try_recv().unwrap_or_else(|_| Vec::with_capacity(2 * BLOCK_BYTES));
                next.clear();
                next.extend_from_slice(&carry[c..]);
                carry.truncate(c);
                if tx.send(Msg::Block(std::mem::replace(&mut carry, next))).is_err() {
                    return;
                }
            }
            None if carry.len() > MAX_LINE_BYTES => {
                let _ = tx.send(Msg::LineTooLong);
                return;
            }
            None => {}
        }
    }
}

/// Split a block into about `parts` pieces, each ending just after a `\n` (the last piece
/// ends where the block does).
pub(crate) fn split_lines(block: &[u8], parts: usize) -> Vec<&[u8]> {
    let parts = parts.max(1);
    let step = block.len().div_ceil(parts).max(1);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    while start < block.len() {
        let guess = (start + step).min(block.len());
        let end = match block[guess..].iter().position(|&b| b == b'\n') {
            Some(p) => guess + p + 1,
            None => block.len(),
        };
        out.push(&block[start..end]);
        start = end;
    }
    out
}
