//! Communication: the few collectives the solver needs, over MPI (`crate::mpi_comm`, feature
//! `mpi`) or within one process ([`LocalComm`]), with every byte counted.
//!
//! Every reduction is over per-chunk partial results (see [`crate::Chunking`]): each rank sends
//! its chunks' partials to rank 0 (`MPI_Gatherv`, rank order = chunk order), rank 0 adds them in
//! chunk order (compensated) and broadcasts the total (`MPI_Bcast`). The order of the additions
//! is fixed by the chunks, not by the number of ranks or by MPI's reduction tree, so the result
//! is bitwise the same with 1, 2, 3 or 4 ranks (and with [`LocalComm`]).
//!
//! Cost (α–β model, `P` ranks, a reduction of `C` chunks of `L` values): rank 0 receives
//! `8·C·L` bytes and every rank receives the `8·L`-byte total; latency `≈ 2·log₂P·α` for the
//! tree-structured gather and broadcast.

use std::cell::Cell;
use std::time::Instant;

use runtime::reduce::Neumaier;

/// The raw collectives a transport provides. Rank 0 is the root of every gather/broadcast.
pub trait Comm {
    /// This process's rank, in `0..size()`.
    fn rank(&self) -> usize;
    /// The number of ranks `P`.
    fn size(&self) -> usize;
    /// Concatenate every rank's `send` in rank order at rank 0 (`None` on other ranks).
    fn gather_to_root(&self, send: &[f64]) -> Option<Vec<f64>>;
    /// Overwrite `buf` on every rank with rank 0's `buf` (same length everywhere).
    fn broadcast(&self, buf: &mut [f64]);
    /// Every rank's `x`, in rank order, on every rank.
    fn all_gather_u64(&self, x: u64) -> Vec<u64>;
    /// Overwrite `buf` with rank `root`'s bytes (same length everywhere).
    fn broadcast_bytes(&self, root: usize, buf: &mut [u8]);
}

/// One process holding every chunk: the single-machine solver with the distributed chunking.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalComm;

impl Comm for LocalComm {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn gather_to_root(&self, send: &[f64]) -> Option<Vec<f64>> {
        Some(send.to_vec())
    }
    fn broadcast(&self, _buf: &mut [f64]) {}
    fn all_gather_u64(&self, x: u64) -> Vec<u64> {
        vec![x]
    }
    fn broadcast_bytes(&self, _root: usize, _buf: &mut [u8]) {}
}

/// Bytes and seconds spent communicating, on this rank.
#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CommStats {
    /// Payload bytes this rank sent (counted as the α–β model of the module doc counts them; 0
    /// with one rank).
    pub bytes_sent: u64,
    /// Payload bytes this rank received (0 with one rank).
    pub bytes_received: u64,
    /// Collective operations this rank took part in.
    pub messages: u64,
    /// Wall-clock seconds spent in those collectives (including waiting for other ranks).
    pub seconds: f64,
}

/// The solver's collectives over a [`Comm`], counting what each moves.
pub struct Net<C: Comm> {
    comm: C,
    stats: Cell<CommStats>,
}

impl<C: Comm> Net<C> {
    /// Wrap `comm`, with every counter at zero.
    pub fn new(comm: C) -> Self {
        Self { comm, stats: Cell::new(CommStats::default()) }
    }
    /// This process's rank ([`Comm::rank`]).
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }
    /// The number of ranks ([`Comm::size`]).
    pub fn size(&self) -> usize {
        self.comm.size()
    }
    /// The underlying transport (its use is not counted).
    pub fn comm(&self) -> &C {
        &self.comm
    }
    /// What this rank has sent and received so far.
    pub fn stats(&self) -> CommStats {
        self.stats.get()
    }

    fn count(&self, sent: usize, received: usize, t: Instant) {
        let mut s = self.stats.get();
        s.bytes_sent += sent as u64;
        s.bytes_received += received as u64;
        s.messages += 1;
        s.seconds += t.elapsed().as_secs_f64();
        self.stats.set(s);
    }

    /// Every chunk's `len` partial values, in chunk order, on every rank: `local` holds this
    /// rank's chunks (`local.len() = len·local_chunks`), `total_chunks` is `C`.
    pub fn all_chunks(&self, local: &[f64], len: usize, total_chunks: usize) -> Vec<f64> {
        let t = Instant::now();
        let gathered = self.comm.gather_to_root(local);
        let mut all = gathered.unwrap_or_else(|| vec![0.0; len * total_chunks]);
        assert_eq!(all.len(), len * total_chunks, "chunk partials of the wrong length");
        self.comm.broadcast(&mut all);
        let (p, me) = (self.size(), self.rank());
        let sent = 8 * local.len() + if me == 0 { 8 * all.len() * (p - 1) } else { 0 };
        let received = if me == 0 { 8 * (all.len() - local.len()) } else { 8 * all.len() };
        self.count(if p > 1 { sent } else { 0 }, if p > 1 { received } else { 0 }, t);
        all
    }

    /// `Σ_c partial_c` over all `C` chunks, added in chunk order (compensated), on every rank.
    pub fn sum_chunks(&self, local: &[f64], len: usize, total_chunks: usize) -> Vec<f64> {
        let t = Instant::now();
        let gathered = self.comm.gather_to_root(local);
        let mut out = vec![0.0; len];
        if let Some(all) = gathered {
            assert_eq!(all.len(), len * total_chunks, "chunk partials of the wrong length");
            out = combine(&all, len);
        }
        self.comm.broadcast(&mut out);
        let (p, me) = (self.size(), self.rank());
        let sent = 8 * local.len() + if me == 0 { 8 * len * (p - 1) } else { 0 };
        let received = if me == 0 { 8 * len * total_chunks - 8 * local.len() } else { 8 * len };
        self.count(if p > 1 { sent } else { 0 }, if p > 1 { received } else { 0 }, t);
        out
    }

    /// `Σ_c partial_c` in chunk order at rank 0 only (`None` elsewhere): for a result rank 0
    /// processes further and broadcasts (the leverage sketch's factor).
    pub fn reduce_to_root(&self, local: &[f64], len: usize, total_chunks: usize) -> Option<Vec<f64>> {
        let t = Instant::now();
        let gathered = self.comm.gather_to_root(local);
        let out = gathered.map(|all| {
            assert_eq!(all.len(), len * total_chunks, "chunk partials of the wrong length");
            combine(&all, len)
        });
        let (p, me) = (self.size(), self.rank());
        let received = if me == 0 { 8 * len * total_chunks - 8 * local.len() } else { 0 };
        self.count(if p > 1 { 8 * local.len() } else { 0 }, if p > 1 { received } else { 0 }, t);
        out
    }

    /// Rank 0's values on every rank.
    pub fn broadcast(&self, buf: &mut [f64]) {
        let t = Instant::now();
        self.comm.broadcast(buf);
        let (p, me) = (self.size(), self.rank());
        let bytes = 8 * buf.len();
        self.count(if me == 0 { bytes * (p - 1) } else { 0 }, if me == 0 || p == 1 { 0 } else { bytes }, t);
    }

    /// Agree on success: `Ok` on every rank only when it is `Ok` on every rank; otherwise every
    /// rank gets the error of the lowest failing rank, prefixed with that rank. Never hangs
    /// when one rank fails (every rank takes part in the same two collectives either way).
    pub fn agree<T>(&self, local: Result<T, String>) -> Result<T, String> {
        let t = Instant::now();
        let msg = local.as_ref().err().map(|e| e.as_bytes().to_vec());
        let lens = self.comm.all_gather_u64(msg.as_ref().map_or(0, |m| m.len() as u64 + 1));
        let first = lens.iter().position(|&l| l > 0);
        let result = match first {
            None => local.map_err(|_| unreachable!()),
            Some(root) => {
                let mut buf = vec![0u8; lens[root] as usize - 1];
                if root == self.rank() {
                    buf.copy_from_slice(msg.as_ref().expect("this rank failed"));
                }
                self.comm.broadcast_bytes(root, &mut buf);
                let text = String::from_utf8_lossy(&buf).into_owned();
                Err(if self.size() > 1 { format!("rank {root}: {text}") } else { text })
            }
        };
        let p = self.size();
        self.count(if p > 1 { 8 } else { 0 }, if p > 1 { 8 * p } else { 0 }, t);
        result
    }
}

/// Add `all.len()/len` partials of `len` values each, in order, compensated.
pub fn combine(all: &[f64], len: usize) -> Vec<f64> {
    let mut acc = vec![Neumaier::default(); len];
    if len > 0 {
        for part in all.chunks_exact(len) {
            for (a, &x) in acc.iter_mut().zip(part) {
                a.add(x);
            }
        }
    }
    acc.iter().map(|a| a.value()).collect()
}
