//! Communication: the few collectives the solver needs, over MPI (`crate::mpi_comm`, feature
//! `mpi`) or within one process ([`LocalComm`]), with every byte counted.
//!
//! Every reduction is over per-chunk partial results (see [`crate::Chunking`]) combined by one
//! **fixed binary tree over the chunk indices**, the same for any number of ranks ([`Tree`]):
//! node `(k, j)` covers chunks `j·2^k .. (j+1)·2^k` (clipped at `C`), a leaf is one chunk's
//! partial, an inner node is `left + right` (or `left` alone when its right half lies past
//! `C`), and the root `(K, 0)`, `K = ⌈log₂C⌉`, is the total. Which additions are made, and in
//! which order, is fixed by `C` alone, so the result is bitwise the same with 1, 2, 3 or 4
//! ranks and with [`LocalComm`] (one process evaluating the whole tree: the single-machine
//! solver with this chunking).
//!
//! Who computes what: a node belongs to the rank that owns its first chunk. Each rank
//! evaluates its nodes depth first, computing a chunk's partial only when the tree reaches it
//! (the caller's closure writes it into a buffer), so it holds at most one buffer per level of
//! the tree, `K + 1` buffers of `L` values, never its `C/P` chunks' partials. When a node's
//! right child belongs to another rank, that rank sends the child's value (one message of `L`
//! values); a rank's subtrees whose parent belongs to a lower rank are its messages out (at most
//! one per level). Rank 0 holds the root and broadcasts it (`MPI_Bcast`). Deadlock-free with
//! blocking sends: a rank waiting to receive node `X` waits for a node inside `X` or wholly
//! left of it; a rank waiting for its send of `X` to be received waits for a node wholly left of
//! `X`; so no wait can close a cycle.
//!
//! Storage: `K + 1` buffers of `L` values per reduction in flight (`O(L·log C)`), counted in
//! [`CommStats::peak_values`].
//!
//! Cost (α–β model, `P` ranks, a reduction of `L` values): rank `r` sends `8·L` bytes per
//! subtree it hands down and receives `8·L` per right child it is handed ([`Tree::messages`]:
//! `O(log C)` each; with `C/P` a power of two, one sent per rank and `⌈log₂P⌉` received by
//! rank 0), then rank 0's
//! broadcast of `8·L` (counted as `8·L·(P − 1)` sent by the root, `8·L` received by every other
//! rank). None of this depends on `n`. Time `(R + ⌈log₂P⌉)·(α + β·8·L)`, `R` the most messages
//! any rank receives.

use std::cell::Cell;
use std::time::Instant;

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
    /// Wall-clock seconds spent in those collectives (including waiting for other ranks; not the
    /// chunk partials a reduction computes as it walks the tree).
    pub seconds: f64,
    /// The most `f64` values the reductions held at once on this rank (chunk partials, subtree
    /// sums and received children; the returned total not included): counted, not modelled.
    #[serde(default)]
    pub peak_values: u64,
}

/// How a reduction combines one value over the chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// The sum, `left + right` at every node of the tree.
    Sum,
    /// The maximum (the partials must not be NaN).
    Max,
}

/// The fixed reduction tree over `chunks` chunks owned by `ranks` ranks as
/// [`crate::Chunking::owned`] assigns them (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tree {
    /// `C ≥ 1`.
    pub chunks: usize,
    /// `P`, `1 ≤ P ≤ C`.
    pub ranks: usize,
}

impl Tree {
    /// `K = ⌈log₂C⌉`: the root is node `(K, 0)`.
    pub fn height(&self) -> u32 {
        self.chunks.max(1).next_power_of_two().trailing_zeros()
    }
    /// The rank owning chunk `c`, the inverse of `Chunking::owned` (which gives rank `p` the
    /// chunks `⌊p·C/P⌋ .. ⌊(p+1)·C/P⌋`, so `c` is `p`'s when `p·C < (c+1)·P ≤ (p+1)·C`):
    /// `p = ⌈(c+1)·P/C⌉ − 1`.
    pub fn owner(&self, c: usize) -> usize {
        (((c as u128 + 1) * self.ranks as u128 - 1) / self.chunks as u128) as usize
    }
    /// The subtrees rank `p` evaluates and hands down, `(k, j, destination)`, in the order it
    /// sends them; for rank 0, the root alone (destination 0: it is kept).
    pub fn roots(&self, p: usize) -> Vec<(u32, usize, usize)> {
        let first = p * self.chunks / self.ranks;
        if p == 0 {
            return vec![(self.height(), 0, 0)];
        }
        let mut out = Vec::new();
        let mut l = first;
        // Chunk `l` starts a right child at level tz(l) whose parent starts before this rank's
        // first chunk; the next such subtree starts where it ends (see the module doc).
        while l < self.chunks && self.owner(l) == p {
            let k = l.trailing_zeros();
            out.push((k, l >> k, self.owner(l - (1 << k))));
            l += 1 << k;
        }
        out
    }
    /// Messages of one reduction (before the broadcast): `(sent, received)` by rank `p`, each
    /// of `L` values. Counted from the tree's shape, independently of [`Net`]'s evaluation.
    pub fn messages(&self, p: usize) -> (usize, usize) {
        let (mut sent, mut received) = (0, 0);
        for k in 1..=self.height() {
            for j in 0..self.chunks.div_ceil(1 << k) {
                let (lo, mid) = (j << k, (2 * j + 1) << (k - 1));
                if mid < self.chunks && self.owner(lo) != self.owner(mid) {
                    sent += usize::from(self.owner(mid) == p);
                    received += usize::from(self.owner(lo) == p);
                }
            }
        }
        (sent, received)
    }
}

/// The reduction buffers live on a rank, counted for [`CommStats::peak_values`].
#[derive(Default)]
struct Held {
    now: usize,
    peak: usize,
}

impl Held {
    fn take(&mut self, len: usize) -> Vec<f64> {
        self.now += len;
        self.peak = self.peak.max(self.now);
        vec![0.0; len]
    }
    fn give(&mut self, buf: Vec<f64>) {
        self.now -= buf.len();
    }
}

/// One reduction's fixed arguments, for the depth-first evaluation of [`Net::tree`].
struct Reduction<'a> {
    tree: Tree,
    len: usize,
    fold: &'a dyn Fn(usize) -> Fold,
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
        self.count_less(sent, received, t, 0.0);
    }

    /// As `count`, less `compute` seconds spent inside the collective on this rank's own work.
    fn count_less(&self, sent: usize, received: usize, t: Instant, compute: f64) {
        let mut s = self.stats.get();
        if self.size() > 1 {
            s.bytes_sent += sent as u64;
            s.bytes_received += received as u64;
        }
        s.messages += 1;
        s.seconds += (t.elapsed().as_secs_f64() - compute).max(0.0);
        self.stats.set(s);
    }

    /// Node `(k, j)` of the tree, on the rank owning its first chunk (depth first).
    fn node(
        &self,
        r: &Reduction<'_>,
        k: u32,
        j: usize,
        partial: &mut dyn FnMut(usize, &mut [f64]),
        held: &mut Held,
        bytes: &mut (usize, usize),
    ) -> Vec<f64> {
        let lo = j << k;
        if k == 0 {
            let mut buf = held.take(r.len);
            partial(lo, &mut buf);
            return buf;
        }
        let mut left = self.node(r, k - 1, 2 * j, partial, held, bytes);
        let mid = (2 * j + 1) << (k - 1);
        if mid >= r.tree.chunks {
            return left;
        }
        let from = r.tree.owner(mid);
        let right = if from == self.rank() {
            self.node(r, k - 1, 2 * j + 1, partial, held, bytes)
        } else {
            let mut buf = held.take(r.len);
            self.comm.recv(from, &mut buf);
            bytes.1 += 8 * r.len;
            buf
        };
        for (q, (a, &b)) in left.iter_mut().zip(&right).enumerate() {
            match (r.fold)(q) {
                Fold::Sum => *a += b,
                Fold::Max => *a = a.max(b),
            }
        }
        held.give(right);
        left
    }

    /// The tree reduction of `len` values per chunk over `chunks` chunks: `partial(c, buf)`
    /// writes chunk `c`'s partial into the zeroed `buf` (called for this rank's chunks, in
    /// order, one at a time); the total on rank 0 (`None` elsewhere).
    fn tree(
        &self,
        chunks: usize,
        len: usize,
        fold: &dyn Fn(usize) -> Fold,
        partial: &mut dyn FnMut(usize, &mut [f64]),
    ) -> Option<Vec<f64>> {
        let t = Instant::now();
        let tree = Tree { chunks, ranks: self.size() };
        assert!(tree.ranks <= chunks, "{} ranks but {chunks} chunks", tree.ranks);
        let r = Reduction { tree, len, fold };
        let (mut held, mut bytes, mut total) = (Held::default(), (0, 0), None);
        // The chunks' partials are computed inside the tree walk: their time is compute, not
        // communication.
        let mut compute = 0.0;
        let mut timed = |c: usize, buf: &mut [f64]| {
            let t = Instant::now();
            partial(c, buf);
            compute += t.elapsed().as_secs_f64();
        };
        for (k, j, dest) in tree.roots(self.rank()) {
            let v = self.node(&r, k, j, &mut timed, &mut held, &mut bytes);
            if self.rank() == 0 {
                total = Some(v);
            } else {
                self.comm.send(dest, &v);
                bytes.0 += 8 * len;
                held.give(v);
            }
        }
        let mut s = self.stats.get();
        s.peak_values = s.peak_values.max(held.peak as u64);
        self.stats.set(s);
        self.count_less(bytes.0, bytes.1, t, compute);
        total
    }

    /// `Σ_c partial_c` over all `chunks` chunks by the fixed tree, on every rank: `partial(c,
    /// buf)` writes the `len` values of chunk `c` (one of this rank's) into the zeroed `buf`.
    pub fn sum_chunks(&self, chunks: usize, len: usize, partial: impl FnMut(usize, &mut [f64])) -> Vec<f64> {
        self.fold_chunks(chunks, len, |_| Fold::Sum, partial)
    }

    /// As [`Net::sum_chunks`], value `q` combined by `fold(q)`.
    pub fn fold_chunks(
        &self,
        chunks: usize,
        len: usize,
        fold: impl Fn(usize) -> Fold,
        mut partial: impl FnMut(usize, &mut [f64]),
    ) -> Vec<f64> {
        let mut out = self.tree(chunks, len, &fold, &mut partial).unwrap_or_else(|| vec![0.0; len]);
        self.broadcast_from(0, &mut out);
        out
    }

    /// The sum of [`Net::sum_chunks`] on rank 0 only (`None` elsewhere): for a result rank 0
    /// processes further and broadcasts (the leverage sketch's factor).
    pub fn reduce_to_root(
        &self,
        chunks: usize,
        len: usize,
        mut partial: impl FnMut(usize, &mut [f64]),
    ) -> Option<Vec<f64>> {
        self.tree(chunks, len, &|_| Fold::Sum, &mut partial)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Chunking;

    /// The tree's sum written as the recursion of the module doc, in one process.
    fn pairwise(parts: &[f64], k: u32, j: usize) -> f64 {
        let lo = j << k;
        if k == 0 {
            return parts[lo];
        }
        let mid = (2 * j + 1) << (k - 1);
        let left = pairwise(parts, k - 1, 2 * j);
        if mid >= parts.len() { left } else { left + pairwise(parts, k - 1, 2 * j + 1) }
    }

    #[test]
    fn owner_inverts_chunking_and_every_chunk_is_in_one_handed_down_subtree() {
        for chunks in 1..=40 {
            for ranks in 1..=chunks.min(9) {
                let t = Tree { chunks, ranks };
                let ch = Chunking { n: 10_000, chunks };
                for p in 0..ranks {
                    let own = ch.owned(p, ranks);
                    assert!(own.clone().all(|c| t.owner(c) == p), "C {chunks} P {ranks} rank {p}");
                    // Consecutive subtrees from the rank's first chunk past its last, each
                    // starting on one of its chunks and handed to a lower rank.
                    let mut next = own.start;
                    for (k, j, dest) in t.roots(p) {
                        assert_eq!(j << k, next);
                        assert!(own.contains(&next) && (p == 0 || dest < p));
                        next = ((j + 1) << k).min(chunks);
                    }
                    assert!(next >= own.end);
                }
                assert_eq!(t.roots(0), vec![(t.height(), 0, 0)]);
                assert!(1 << t.height() >= chunks && (chunks == 1 || 1 << (t.height() - 1) < chunks));
                let (s, r) = (0..ranks).map(|p| t.messages(p)).fold((0, 0), |a, m| (a.0 + m.0, a.1 + m.1));
                assert_eq!(s, r);
                assert_eq!(s, (1..ranks).map(|p| t.roots(p).len()).sum::<usize>());
                assert_eq!(t.messages(0).0, 0);
            }
        }
    }

    #[test]
    fn chunks_aligned_to_the_tree_send_one_message_per_rank() {
        // C/P a power of two (docs/distributed.md): each rank but 0 hands down one subtree,
        // and no rank receives more than ⌈log₂P⌉.
        for m in [1, 2, 4, 8] {
            for ranks in 2..40 {
                let t = Tree { chunks: m * ranks, ranks };
                let lg = ranks.next_power_of_two().trailing_zeros() as usize;
                assert!((1..ranks).all(|p| t.messages(p).0 == 1 && t.roots(p).len() == 1), "{t:?}");
                assert_eq!((0..ranks).map(|p| t.messages(p).1).max(), Some(lg), "{t:?}");
            }
        }
    }

    #[test]
    fn the_tree_is_the_pairwise_recursion_bitwise_and_holds_log_c_buffers() {
        // Terms of mixed magnitude and sign, so that another order would round differently.
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let m = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            m * 10f64.powi((s % 33) as i32 - 16)
        };
        for chunks in [1, 2, 3, 7, 48, 64, 100] {
            let all: Vec<f64> = (0..3 * chunks).map(|_| next()).collect();
            let net = Net::new(LocalComm);
            let mut calls = Vec::new();
            let got = net.fold_chunks(
                chunks,
                3,
                |q| if q == 1 { Fold::Max } else { Fold::Sum },
                |c, buf| {
                    calls.push(c);
                    buf.copy_from_slice(&all[3 * c..3 * c + 3]);
                },
            );
            assert_eq!(calls, (0..chunks).collect::<Vec<_>>(), "each chunk once, in order");
            let k = Tree { chunks, ranks: 1 }.height();
            for q in [0, 2] {
                let col: Vec<f64> = all.iter().skip(q).step_by(3).copied().collect();
                assert_eq!(got[q].to_bits(), pairwise(&col, k, 0).to_bits());
            }
            assert_eq!(got[1], all.iter().skip(1).step_by(3).fold(f64::MIN, |m, &x| m.max(x)));
            // One buffer per level at most, not one per chunk.
            assert!(net.stats().peak_values <= 3 * (u64::from(k) + 1), "C {chunks}: {:?}", net.stats());
        }
    }
}
