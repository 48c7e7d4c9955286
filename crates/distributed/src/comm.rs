//! Communication: the few collectives the solver needs, over MPI (`crate::mpi_comm`, feature
//! `mpi`) or within one process ([`LocalComm`]), with every byte counted.
//!
//! Every reduction is over per-chunk partial results (see [`crate::Chunking`]) and is one left
//! fold over the chunks in chunk order, the same for any number of ranks: a **pipelined
//! chain**. Rank 0 folds its chunks' partials into a compensated (Neumaier) accumulator per
//! value and sends the accumulator state (sum and compensation, `2·L` values) to rank 1; rank
//! `r` receives the state of chunks `0..c_r` from rank `r − 1`, folds its own chunks' partials
//! in order, and sends it on; the last rank `P − 1` holds the fold over all `C` chunks and
//! broadcasts the `L` totals (`MPI_Bcast`). The state travels in segments of [`SEGMENT`]
//! values, so the chain is pipelined (rank `r` folds segment `s` while rank `r + 1` folds
//! segment `s − 1`). The order of the additions is fixed by the chunks, not by the number of
//! ranks or by MPI's reduction tree, so the result is bitwise the same with 1, 2, 3 or 4 ranks
//! (and with [`LocalComm`]).
//!
//! Storage: a rank holds its own chunks' partials (`C_p·L`, `C_p = C/P` its chunks) and one
//! segment of the state; no rank holds the `C·L` partials of every chunk.
//!
//! Cost (α–β model, `P` ranks, a reduction of `L` values in `S = ⌈L/SEGMENT⌉` segments): every
//! rank but the last sends `16·L` bytes and every rank but the first receives `16·L`; then the
//! last rank's broadcast of `8·L` (counted as `8·L·(P − 1)` sent by the root, `8·L` received by
//! every other rank). Time `(P − 2 + S)·(α + β·16·L/S) + ⌈log₂P⌉·(α + β·8·L)`.

use std::cell::Cell;
use std::time::Instant;

/// Values of the chain's state per message: the chain's pipelining granularity.
pub const SEGMENT: usize = 4096;

/// The raw collectives a transport provides.
pub trait Comm {
    /// This process's rank, in `0..size()`.
    fn rank(&self) -> usize;
    /// The number of ranks `P`.
    fn size(&self) -> usize;
    /// Concatenate every rank's `send` in rank order at rank 0 (`None` on other ranks). Used
    /// only to collect per-rank measurements, never by a reduction of the solver.
    fn gather_to_root(&self, send: &[f64]) -> Option<Vec<f64>>;
    /// Overwrite `buf` on every rank with rank `root`'s `buf` (same length everywhere).
    fn broadcast_from(&self, root: usize, buf: &mut [f64]);
    /// Send `buf` to rank `dest` (blocking; matched by one [`Comm::recv`] on `dest`).
    fn send(&self, dest: usize, buf: &[f64]);
    /// Receive `buf.len()` values sent by rank `src` (blocking).
    fn recv(&self, src: usize, buf: &mut [f64]);
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
    fn broadcast_from(&self, _root: usize, _buf: &mut [f64]) {}
    fn send(&self, dest: usize, _buf: &[f64]) {
        panic!("LocalComm has one rank: no rank {dest} to send to");
    }
    fn recv(&self, src: usize, _buf: &mut [f64]) {
        panic!("LocalComm has one rank: no rank {src} to receive from");
    }
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

/// How a reduction folds one value over the chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// A compensated (Neumaier) sum, in chunk order.
    Sum,
    /// The maximum (the partials must not be NaN).
    Max,
}

/// Fold `x` into the state `(sum, comp)`: Neumaier's step, the same arithmetic as
/// `runtime::reduce::Neumaier::add` (checked bitwise in this module's tests).
#[inline]
fn neumaier(s: &mut [f64], x: f64) {
    let t = s[0] + x;
    if s[0].abs() >= x.abs() {
        s[1] += (s[0] - t) + x;
    } else {
        s[1] += (x - t) + s[0];
    }
    s[0] = t;
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
    /// The rank that ends every chain and holds its result: `P − 1`.
    pub fn last(&self) -> usize {
        self.size() - 1
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
        if self.size() > 1 {
            s.bytes_sent += sent as u64;
            s.bytes_received += received as u64;
        }
        s.messages += 1;
        s.seconds += t.elapsed().as_secs_f64();
        self.stats.set(s);
    }

    /// The chain: fold every chunk's `len` partials (`local`: this rank's chunks, in order) in
    /// chunk order; the totals on the last rank (`None` elsewhere).
    fn chain(&self, local: &[f64], len: usize, fold: impl Fn(usize) -> Fold) -> Option<Vec<f64>> {
        let t = Instant::now();
        let (p, me) = (self.size(), self.rank());
        let own = local.len().checked_div(len).unwrap_or(0);
        assert_eq!(own * len, local.len(), "chunk partials of the wrong length");
        let mut out = (me == p - 1).then(|| vec![0.0; len]);
        let mut state = vec![0.0; 2 * SEGMENT.min(len)];
        let mut start = 0;
        while start < len {
            let sl = SEGMENT.min(len - start);
            let st = &mut state[..2 * sl];
            if me > 0 {
                self.comm.recv(me - 1, st);
            } else {
                st.fill(0.0);
            }
            for q in 0..own {
                let part = &local[q * len + start..q * len + start + sl];
                for (j, (s, &x)) in st.chunks_exact_mut(2).zip(part).enumerate() {
                    match fold(start + j) {
                        Fold::Sum => neumaier(s, x),
                        Fold::Max => s[0] = s[0].max(x),
                    }
                }
            }
            match out.as_mut() {
                Some(o) => {
                    for (o, s) in o[start..start + sl].iter_mut().zip(st.chunks_exact(2)) {
                        *o = s[0] + s[1];
                    }
                }
                None => self.comm.send(me + 1, st),
            }
            start += sl;
        }
        let sent = if me + 1 < p { 16 * len } else { 0 };
        let received = if me > 0 { 16 * len } else { 0 };
        self.count(sent, received, t);
        out
    }

    /// `Σ_c partial_c` over all `C` chunks, folded in chunk order (compensated), on every rank:
    /// `local` holds this rank's chunks' partials, `len` values each.
    pub fn sum_chunks(&self, local: &[f64], len: usize) -> Vec<f64> {
        self.fold_chunks(local, len, |_| Fold::Sum)
    }

    /// As [`Net::sum_chunks`], value `j` folded by `fold(j)`.
    pub fn fold_chunks(&self, local: &[f64], len: usize, fold: impl Fn(usize) -> Fold) -> Vec<f64> {
        let mut out = self.chain(local, len, fold).unwrap_or_else(|| vec![0.0; len]);
        self.broadcast_from(self.last(), &mut out);
        out
    }

    /// `Σ_c partial_c` in chunk order on the last rank only (`None` elsewhere): for a result
    /// the last rank processes further and broadcasts (the leverage sketch's factor).
    pub fn reduce_to_last(&self, local: &[f64], len: usize) -> Option<Vec<f64>> {
        self.chain(local, len, |_| Fold::Sum)
    }

    /// Rank `root`'s values on every rank.
    pub fn broadcast_from(&self, root: usize, buf: &mut [f64]) {
        let t = Instant::now();
        if self.size() > 1 && !buf.is_empty() {
            self.comm.broadcast_from(root, buf);
        }
        let (p, me) = (self.size(), self.rank());
        let bytes = 8 * buf.len();
        self.count(if me == root { bytes * (p - 1) } else { 0 }, if me == root { 0 } else { bytes }, t);
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
        self.count(8, 8 * p, t);
        result
    }
}

/// Add `all.len()/len` partials of `len` values each, in order, compensated: what every
/// reduction of [`Net`] computes, in one process.
pub fn combine(all: &[f64], len: usize) -> Vec<f64> {
    let mut acc = vec![[0.0; 2]; len];
    if len > 0 {
        for part in all.chunks_exact(len) {
            for (a, &x) in acc.iter_mut().zip(part) {
                neumaier(a, x);
            }
        }
    }
    acc.iter().map(|a| a[0] + a[1]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::reduce::Neumaier;

    #[test]
    fn the_chain_fold_is_runtime_neumaier_bitwise() {
        // Terms of mixed magnitude and sign, so that the compensation matters.
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let m = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            m * 10f64.powi((s % 33) as i32 - 16)
        };
        let all: Vec<f64> = (0..3 * 1000).map(|_| next()).collect();
        let got = combine(&all, 3);
        for (j, g) in got.iter().enumerate() {
            let mut a = Neumaier::default();
            all.iter().skip(j).step_by(3).for_each(|&x| a.add(x));
            assert_eq!(g.to_bits(), a.value().to_bits());
        }
        let net = Net::new(LocalComm);
        assert_eq!(net.sum_chunks(&all, 3), got);
        let maxes = net.fold_chunks(&all, 3, |j| if j == 1 { Fold::Max } else { Fold::Sum });
        assert_eq!(maxes[1], all.iter().skip(1).step_by(3).fold(0.0f64, |m, &x| m.max(x)));
        assert_eq!((maxes[0], maxes[2]), (got[0], got[2]));
    }
}
