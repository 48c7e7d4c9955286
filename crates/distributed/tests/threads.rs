//! Rank-count independence without MPI: `P` threads exchanging through shared memory (a
//! [`Comm`] over barriers) run the same collectives as MPI ranks. `x` must be bitwise the same
//! for `P = 1…4`, for [`LocalComm`] and for the single-machine chunked solver
//! (`distributed::solve_in_memory`, `spnewton solve --chunks C`), for every strategy. (The same check under a real
//! `mpirun` is `scripts/test-mpi.sh`.)

use std::collections::{HashMap, VecDeque};
use std::ops::ControlFlow;
use std::sync::{Arc, Barrier, Condvar, Mutex};

use distributed::read::Source;
use distributed::strategy::Mode;
use distributed::{Chunking, Comm, DistProblem, LocalComm, Net};
use losses::{Activation, LossKind, PlantSpec, Problem, Regulariser};
use newton::SolverParams;
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

/// Queued point-to-point messages by (source, destination).
type Mailboxes = HashMap<(usize, usize), VecDeque<Vec<f64>>>;

struct Shared {
    barrier: Barrier,
    slots: Mutex<Vec<Vec<f64>>>,
    words: Mutex<Vec<u64>>,
    bcast: Mutex<Vec<f64>>,
    bytes: Mutex<Vec<u8>>,
    /// Point-to-point messages by (source, destination), in order.
    mail: Mutex<Mailboxes>,
    posted: Condvar,
}

struct ThreadComm {
    rank: usize,
    size: usize,
    sh: Arc<Shared>,
}

impl Comm for ThreadComm {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn gather_to_root(&self, send: &[f64]) -> Option<Vec<f64>> {
        self.sh.slots.lock().unwrap()[self.rank] = send.to_vec();
        self.sh.barrier.wait();
        let out = (self.rank == 0).then(|| self.sh.slots.lock().unwrap().concat());
        self.sh.barrier.wait();
        out
    }
    fn broadcast_from(&self, root: usize, buf: &mut [f64]) {
        if self.rank == root {
            *self.sh.bcast.lock().unwrap() = buf.to_vec();
        }
        self.sh.barrier.wait();
        if self.rank != root {
            buf.copy_from_slice(&self.sh.bcast.lock().unwrap());
        }
        self.sh.barrier.wait();
    }
    fn send(&self, dest: usize, buf: &[f64]) {
        self.sh.mail.lock().unwrap().entry((self.rank, dest)).or_default().push_back(buf.to_vec());
        self.sh.posted.notify_all();
    }
    fn recv(&self, src: usize, buf: &mut [f64]) {
        let mut mail = self.sh.mail.lock().unwrap();
        loop {
            if let Some(m) = mail.get_mut(&(src, self.rank)).and_then(|q| q.pop_front()) {
                buf.copy_from_slice(&m);
                return;
            }
            mail = self.sh.posted.wait(mail).unwrap();
        }
    }
    fn all_gather_u64(&self, x: u64) -> Vec<u64> {
        self.sh.words.lock().unwrap()[self.rank] = x;
        self.sh.barrier.wait();
        let out = self.sh.words.lock().unwrap().clone();
        self.sh.barrier.wait();
        out
    }
    fn broadcast_bytes(&self, root: usize, buf: &mut [u8]) {
        if self.rank == root {
            *self.sh.bytes.lock().unwrap() = buf.to_vec();
        }
        self.sh.barrier.wait();
        if self.rank != root {
            buf.copy_from_slice(&self.sh.bytes.lock().unwrap());
        }
        self.sh.barrier.wait();
    }
}

fn run<C: Comm>(net: &Net<C>, src: &Source, chunks: usize, mode: Mode) -> Result<Vec<u64>, String> {
    let ch = Chunking::new(src.n, chunks);
    let rows = net.agree(src.read_rows(ch.owned_rows(net.rank(), net.size())).map_err(|e| e.to_string()))?;
    let f = DistProblem::new(net, rows, src.n, ch, src.loss, src.func, src.w_const).map_err(|e| e.to_string())?;
    let params = SolverParams { tol: 1e-10, refresh_every: 3, max_iter: 40, checks: false, ..Default::default() };
    let r = distributed::solve(&f, mode, &vec![0.0; src.d], &params, &mut |_, _| ControlFlow::Continue(()))
        .map_err(|e| e.to_string())?;
    assert_eq!(r.status, newton::Status::Converged, "{mode:?}");
    Ok(r.x.iter().map(|v| v.to_bits()).collect())
}

fn threads(src: &Source, p: usize, chunks: usize, mode: Mode) -> Vec<Result<Vec<u64>, String>> {
    let sh = Arc::new(Shared {
        barrier: Barrier::new(p),
        slots: Mutex::new(vec![Vec::new(); p]),
        words: Mutex::new(vec![0; p]),
        bcast: Mutex::new(Vec::new()),
        bytes: Mutex::new(Vec::new()),
        mail: Mutex::new(HashMap::new()),
        posted: Condvar::new(),
    });
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..p)
            .map(|rank| {
                let sh = sh.clone();
                s.spawn(move || run(&Net::new(ThreadComm { rank, size: p, sh }), src, chunks, mode))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn x_is_bitwise_the_same_for_one_to_four_ranks_and_every_strategy() {
    let a = random_sparse(&GenSpec {
        nrows: 6000,
        ncols: 10,
        sparsity: Sparsity::RowNnz(4),
        variant: Variant::Plain,
        seed: 9,
    })
    .unwrap();
    let spec = PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 10 };
    let (x_true, b) = losses::plant(&a, &spec).unwrap();
    let p = Problem {
        a,
        b,
        w: Regulariser::Const(0.01),
        loss: LossKind::Rescaled,
        func: Activation::Exp,
        x0: None,
        x_true: Some(x_true),
    };
    let dir = tempfile::tempdir().unwrap();
    distributed::split::split_problem(&p, dir.path(), 3).unwrap();
    let src = Source::open(dir.path()).unwrap();
    let params = SolverParams { tol: 1e-10, refresh_every: 3, max_iter: 40, checks: false, ..Default::default() };
    for mode in [Mode::Exact, Mode::Leverage, Mode::LeveragePcg, Mode::NewtonCg] {
        // The single-machine chunked solver (`spnewton solve --chunks 12`): the problem in
        // memory, not read back from the shards.
        let single =
            distributed::solve_in_memory(&p, 12, mode, &[0.0; 10], &params, &mut |_, _| ControlFlow::Continue(()))
                .unwrap();
        assert_eq!(single.status, newton::Status::Converged, "{mode:?}");
        let reference = run(&Net::new(LocalComm), &src, 12, mode).unwrap();
        assert_eq!(reference, single.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), "{mode:?}: in memory");
        for p in 1..=4 {
            for (rank, x) in threads(&src, p, 12, mode).into_iter().enumerate() {
                assert_eq!(x.as_ref(), Ok(&reference), "{mode:?}: rank {rank} of {p} differs from the single process");
            }
        }
    }
}

#[test]
fn one_failing_rank_fails_every_rank_with_its_message() {
    let a = random_sparse(&GenSpec {
        nrows: 900,
        ncols: 4,
        sparsity: Sparsity::RowNnz(2),
        variant: Variant::Plain,
        seed: 1,
    })
    .unwrap();
    let b = vec![0.1; 900];
    let p =
        Problem { a, b, w: Regulariser::None, loss: LossKind::Linear, func: Activation::Exp, x0: None, x_true: None };
    let dir = tempfile::tempdir().unwrap();
    distributed::split::split_problem(&p, dir.path(), 3).unwrap();
    // Break the last shard's b: only the ranks reading rows 600.. see it.
    std::fs::write(dir.path().join("part-00002.b.txt"), "0.1\nnot-a-number\n").unwrap();
    let src = Source::open(dir.path()).unwrap();
    let out = threads(&src, 3, 6, Mode::Exact);
    for (rank, r) in out.iter().enumerate() {
        let e = r.as_ref().expect_err("every rank fails");
        assert!(e.starts_with("rank 2: ") && e.contains("part-00002.b.txt"), "rank {rank}: {e}");
    }
}

/// Per rank: the bytes of every iteration whose full step was accepted, measured and modelled,
/// the bytes the rank stores, its share of `A`, `b`, `w`, and the most values its reductions
/// held at once (counted by `Net`).
type Counted = (Vec<((u64, u64), (u64, u64))>, usize, usize, u64);

fn count_bytes<C: Comm>(net: &Net<C>, src: &Source, chunks: usize, mode: Mode) -> Result<Counted, String> {
    let ch = Chunking::new(src.n, chunks);
    let rows = net.agree(src.read_rows(ch.owned_rows(net.rank(), net.size())).map_err(|e| e.to_string()))?;
    let f = DistProblem::new(net, rows, src.n, ch, src.loss, src.func, src.w_const).map_err(|e| e.to_string())?;
    let params = SolverParams { tol: 1e-10, refresh_every: 3, max_iter: 8, checks: false, ..Default::default() };
    let mut marks = vec![net.stats()];
    let r = distributed::solve(&f, mode, &vec![0.0; src.d], &params, &mut |_, _| {
        marks.push(net.stats());
        ControlFlow::Continue(())
    })
    .map_err(|e| e.to_string())?;
    let shape = distributed::cost::Shape { d: src.d, k: 2, chunks: ch.chunks, ranks: net.size() };
    let mut out = Vec::new();
    for (t, h) in r.history.iter().enumerate().filter(|(_, h)| h.step_length == 1.0) {
        let meas =
            (marks[t + 1].bytes_sent - marks[t].bytes_sent, marks[t + 1].bytes_received - marks[t].bytes_received);
        let refresh = t.is_multiple_of(params.refresh_every);
        let (a, b) =
            distributed::cost::iteration_bytes(&shape, net.rank(), mode, refresh, h.cg_iterations.unwrap_or(0));
        let (c, e) = distributed::cost::evaluation_bytes(&shape, net.rank());
        out.push((meas, if t == 0 { (a + c, b + e) } else { (a, b) }));
    }
    Ok((out, f.stored_bytes(mode), f.rows().matrix_bytes() + f.rows().vector_bytes(), net.stats().peak_values))
}

#[test]
fn bytes_per_iteration_equal_the_model_and_no_rank_stores_every_chunk() {
    let a = random_sparse(&GenSpec {
        nrows: 3000,
        ncols: 8,
        sparsity: Sparsity::RowNnz(3),
        variant: Variant::Plain,
        seed: 5,
    })
    .unwrap();
    let spec = PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 6 };
    let (_, b) = losses::plant(&a, &spec).unwrap();
    let p =
        Problem { a, b, w: Regulariser::None, loss: LossKind::Rescaled, func: Activation::Exp, x0: None, x_true: None };
    let dir = tempfile::tempdir().unwrap();
    p.write_dir(dir.path(), false).unwrap();
    let src = Source::open(dir.path()).unwrap();
    let d = src.d;
    for mode in [Mode::Exact, Mode::Leverage, Mode::LeveragePcg, Mode::NewtonCg] {
        for ranks in [2, 3, 4] {
            let sh = Arc::new(Shared {
                barrier: Barrier::new(ranks),
                slots: Mutex::new(vec![Vec::new(); ranks]),
                words: Mutex::new(vec![0; ranks]),
                bcast: Mutex::new(Vec::new()),
                bytes: Mutex::new(Vec::new()),
                mail: Mutex::new(HashMap::new()),
                posted: Condvar::new(),
            });
            // 48 chunks: the tree has 7 levels, so a rank holds at most 7 partials of a
            // reduction, fewer than its own 48/P ≥ 12 chunks' (what the chain held before) and
            // far fewer than the 48 a gather at rank 0 held.
            let chunks = 48;
            let out: Vec<_> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..ranks)
                    .map(|rank| {
                        let (sh, src) = (sh.clone(), &src);
                        s.spawn(move || count_bytes(&Net::new(ThreadComm { rank, size: ranks, sh }), src, chunks, mode))
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
            });
            for (rank, (iters, stored, share, peak)) in out.iter().enumerate() {
                assert!(!iters.is_empty(), "{mode:?}: no full step to check");
                for (t, (meas, model)) in iters.iter().enumerate() {
                    assert_eq!(meas, model, "{mode:?}, rank {rank} of {ranks}, iteration {t}");
                    assert!(meas.0 > 0 && meas.1 > 0 || ranks == 1);
                }
                // The largest partial per chunk: the leverage sketch's m·d + 1 (m = 4d), else the
                // Gram's d² + 1.
                let partial =
                    if matches!(mode, Mode::Leverage | Mode::LeveragePcg) { 4 * d * d + 1 } else { d * d + 1 };
                let levels = 7; // ⌈log₂48⌉ + 1
                assert!(*peak as usize <= levels * partial, "{mode:?}: rank {rank} held {peak} values");
                assert!(*peak as usize >= 3 * d, "{mode:?}: rank {rank}: the count missed a partial");
                // Its share of A, b, w, 12 n-vectors, the tree's buffers and O(d² + m·d).
                let rows = 3000 / ranks + 1;
                let bound = share + 8 * 12 * rows + 8 * levels * partial + 8 * (3 * d * d + 20 * d + 4 * d * d + 1);
                assert!(*stored <= bound, "{mode:?}: rank {rank} stores {stored} > {bound}");
                // Less than its own chunks' partials alone.
                assert!(
                    *stored < share + 8 * 12 * rows + 8 * (chunks / ranks) * partial,
                    "{mode:?}: rank {rank} stores as much as one partial per chunk"
                );
            }
        }
    }
}
