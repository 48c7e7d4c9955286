//! The α–β cost model of an iteration, and the byte count it predicts (which `bench
//! distributed` checks against the counters of [`crate::Net`]).
//!
//! Communication (what [`crate::Net`] does, see [`crate::comm`]): a reduction of `L` values
//! per chunk combines the chunks' partials by a fixed binary tree over the chunk indices; rank
//! `r` sends `8·L` bytes for each subtree it hands to a lower rank and receives `8·L` for each
//! right child a higher rank hands it (`Tree::messages`, from the tree's shape: `O(log C)` each,
//! `0` sent by rank 0), then rank 0 broadcasts the `8·L`-byte total, counted as `8·L·(P − 1)`
//! sent by the root and `8·L` received by every other rank. This depends on `C` and `P`, never
//! on `n`. Modelled time of one reduction: `(R + ⌈log₂P⌉)·(α + β·8·L)`, `R` the most messages
//! one rank receives (the receives of one rank are sequential; the broadcast is a tree).
//!
//! Compute: `t_row·nnz/P` for the passes over the rank's rows (evaluation, line search, the
//! Gram's `Σ nnz(a_i)²`), measured at `P = 1`, plus the redundant `d×d` factorisation
//! `t_factor` (the same on every rank), also measured.

use serde::Serialize;

use crate::comm::Tree;
use crate::strategy::Mode;

/// The shape of a distributed run, as far as the byte count depends on it.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Columns of `A`: the dimension of `x`.
    pub d: usize,
    /// Width of the low-rank part: 2 for the rescaled loss, else 0.
    pub k: usize,
    /// The number of row chunks `C` (the shape of the reduction tree).
    pub chunks: usize,
    /// The number of ranks `P` (`P ≤ C`).
    pub ranks: usize,
}

type Bytes = (u64, u64);

/// `(sent, received)` bytes of rank `r` for the tree of one reduction of `len` values.
fn tree(s: &Shape, r: usize, len: usize) -> Bytes {
    let (sent, received) = Tree { chunks: s.chunks, ranks: s.ranks }.messages(r);
    (8 * (sent * len) as u64, 8 * (received * len) as u64)
}

/// `(sent, received)` of rank `r` for one broadcast of `len` values from rank 0.
fn broadcast(s: &Shape, r: usize, len: usize) -> Bytes {
    let (len, p) = (len as u64, s.ranks as u64);
    if s.ranks == 1 {
        return (0, 0);
    }
    if r == 0 { (8 * len * (p - 1), 0) } else { (0, 8 * len) }
}

/// `(sent, received)` of rank `r` for one `sum_chunks(len)` (tree, then broadcast).
fn sum_chunks(s: &Shape, r: usize, len: usize) -> Bytes {
    add(tree(s, r, len), broadcast(s, r, len))
}

fn add(a: Bytes, b: Bytes) -> Bytes {
    (a.0 + b.0, a.1 + b.1)
}

/// Bytes `(sent, received)` by rank `r` in one exact iteration whose full step is accepted.
pub fn exact_full_step_bytes(s: &Shape, r: usize) -> Bytes {
    add(sum_chunks(s, r, s.d * s.d + 1), evaluation_bytes(s, r))
}

/// Bytes `(sent, received)` by rank `r` in one iteration of `mode` whose full step is accepted:
/// the direction (`refresh`: a new leverage sample is drawn; `cg` Hessian-vector products) and
/// the evaluation of the new point.
pub fn iteration_bytes(s: &Shape, r: usize, mode: Mode, refresh: bool, cg: usize) -> Bytes {
    let d = s.d;
    let mut ops = vec![evaluation_bytes(s, r)];
    if mode != Mode::NewtonCg {
        ops.push(sum_chunks(s, r, d * d + 1));
    }
    if refresh && matches!(mode, Mode::Leverage | Mode::LeveragePcg) {
        ops.push(tree(s, r, 4 * d * d + 1));
        ops.push(broadcast(s, r, d * d + 2));
        ops.push(sum_chunks(s, r, 1));
    }
    if matches!(mode, Mode::LeveragePcg | Mode::NewtonCg) {
        let hv = sum_chunks(s, r, d);
        ops.push((hv.0 * cg as u64, hv.1 * cg as u64));
    }
    ops.into_iter().fold((0, 0), add)
}

/// Bytes `(sent, received)` by rank `r` in one evaluation with the Hessian's parts.
pub fn evaluation_bytes(s: &Shape, r: usize) -> Bytes {
    reductions_of_evaluation(s.d, s.k).into_iter().map(|l| sum_chunks(s, r, l)).fold((0, 0), add)
}

/// The lengths of the reductions of one evaluation: stage 1 (4 values), stage 2 of the
/// rescaled loss (3), the gradient and `AᵀU` (`d(1+k)`), the Hessian's finiteness flag (1).
fn reductions_of_evaluation(d: usize, k: usize) -> Vec<usize> {
    let mut v = vec![4];
    if k > 0 {
        v.push(3);
    }
    v.extend([d * (1 + k), 1]);
    v
}

/// The lengths `L` of the reductions of one iteration of `mode` (full step; `cg`
/// Hessian-vector products; `refresh`: a leverage sample is drawn). The leverage factor's
/// broadcast (`d² + 2`) is not a reduction and is returned second.
pub fn reductions(mode: Mode, d: usize, k: usize, cg: usize, refresh: bool) -> (Vec<usize>, usize) {
    let mut v = reductions_of_evaluation(d, k);
    let mut bcast = 0;
    if mode != Mode::NewtonCg {
        v.push(d * d + 1);
    }
    if refresh && matches!(mode, Mode::Leverage | Mode::LeveragePcg) {
        v.extend([4 * d * d + 1, 1]);
        bcast = d * d + 2;
    }
    if matches!(mode, Mode::LeveragePcg | Mode::NewtonCg) {
        v.extend(std::iter::repeat_n(d, cg));
    }
    (v, bcast)
}

/// Machine constants of the model.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Machine {
    /// Latency per message hop (s).
    pub alpha: f64,
    /// Seconds per byte.
    pub beta: f64,
    /// Seconds per nonzero per iteration, all passes together, on one rank.
    pub t_nnz: f64,
    /// Seconds of the redundant `d×d` factorisation and solve per iteration.
    pub t_factor: f64,
}

/// Modelled seconds per iteration: `(compute, communication)` on `p` ranks with `chunks`
/// chunks, for reductions of the lengths `lens` and one broadcast of `bcast` values (see the
/// module doc).
pub fn iteration_time(m: &Machine, nnz: f64, p: usize, chunks: usize, lens: &[usize], bcast: usize) -> (f64, f64) {
    let lg = (p as f64).log2().ceil();
    let compute = m.t_nnz * nnz / p as f64 + m.t_factor;
    if p == 1 {
        return (compute, 0.0);
    }
    let t = Tree { chunks: chunks.max(p), ranks: p };
    let hops = (0..p).map(|r| t.messages(r).1).max().unwrap_or(0) as f64;
    let step = |l: usize| m.alpha + m.beta * 8.0 * l as f64;
    let mut comm = if bcast > 0 { lg * step(bcast) } else { 0.0 };
    for &l in lens {
        comm += (hops + lg) * step(l);
    }
    (compute, comm)
}

/// Modelled rows `(P, compute s, communication s, speed-up)` for one `nnz`.
pub type Curve = (f64, Vec<(usize, f64, f64, f64)>);

/// The predicted speed-up curves as an SVG: `T(1)/T(P)` for `P = 1 … 1024`, one line per `nnz`.
pub fn plot_speedup(path: &std::path::Path, m: &Machine, d: usize, nnzs: &[f64]) -> Result<Vec<Curve>, String> {
    use plotters::prelude::*;
    let ps: Vec<usize> = (0..=10).map(|e| 1usize << e).collect();
    let (lens, bcast) = reductions(Mode::Exact, d, 2, 0, false);
    let mut table = Vec::new();
    for &nnz in nnzs {
        let mut rows = Vec::new();
        let (c1, _) = iteration_time(m, nnz, 1, crate::DEFAULT_CHUNKS, &lens, bcast);
        for &p in &ps {
            // The default 64 chunks, or one per rank beyond 64 ranks.
            let (c, k) = iteration_time(m, nnz, p, crate::DEFAULT_CHUNKS.max(p), &lens, bcast);
            rows.push((p, c, k, c1 / (c + k)));
        }
        table.push((nnz, rows));
    }
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("modelled speed-up, exact Newton, d = {d}"), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((1f64..1024f64).log_scale(), (0.1f64..2048f64).log_scale())
        .map_err(|e| e.to_string())?;
    chart.configure_mesh().x_desc("ranks P").y_desc("T(1) / T(P)").draw().map_err(|e| e.to_string())?;
    chart
        .draw_series(LineSeries::new(ps.iter().map(|&p| (p as f64, p as f64)), BLACK.mix(0.3)))
        .map_err(|e| e.to_string())?
        .label("ideal")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.mix(0.3)));
    let colors = [RED, BLUE, GREEN, MAGENTA];
    for (i, (nnz, rows)) in table.iter().enumerate() {
        let col = colors[i % colors.len()];
        chart
            .draw_series(LineSeries::new(rows.iter().map(|r| (r.0 as f64, r.3)), col))
            .map_err(|e| e.to_string())?
            .label(format!("nnz = {nnz:.0e}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], col));
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw().map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(table)
}
