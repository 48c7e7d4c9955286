//! The α–β cost model of an iteration, and the byte count it predicts (which `bench
//! distributed` checks against the counters of [`crate::Net`]).
//!
//! Communication (what [`crate::Net`] does): a reduction of `L` values per chunk gathers
//! `8·L` bytes per chunk at rank 0 and broadcasts the `8·L`-byte total. With `C` chunks and
//! `P` ranks, rank 0 receives `8·L·(C − C₀)` bytes (`C₀` its own chunks); modelled time
//! `2·α·⌈log₂P⌉ + β·8·L·(C − C/P) + β·8·L·⌈log₂P⌉` (the gather's bytes all cross rank 0's link;
//! the broadcast is a tree).
//!
//! Compute: `t_row·nnz/P` for the passes over the rank's rows (evaluation, line search, the
//! Gram's `Σ nnz(a_i)²`), measured at `P = 1`, plus the redundant `d×d` factorisation
//! `t_factor` (the same on every rank), also measured.

use serde::Serialize;

use crate::strategy::Mode;

/// Which collectives one exact iteration with a full step makes: the step's Gram, then the
/// evaluation of the new point (value: stage 1 of 4 values per chunk, gathered whole; for the
/// rescaled loss stage 2 of 3 values; gradient and `AᵀU`: `d(1+k)`; the Hessian's finiteness
/// flag: 1).
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Columns of `A`: the dimension of `x`.
    pub d: usize,
    /// Width of the low-rank part: 2 for the rescaled loss, else 0.
    pub k: usize,
    /// The number of row chunks `C`.
    pub chunks: usize,
    /// The number of ranks `P` (`P ≤ C`).
    pub ranks: usize,
}

/// `(sent, received)` bytes of rank `r` for one `sum_chunks(len)`.
fn sum_chunks(s: &Shape, r: usize, len: usize) -> (u64, u64) {
    let own = owned(s, r) as u64;
    let (len, c, p) = (len as u64, s.chunks as u64, s.ranks as u64);
    if s.ranks == 1 {
        return (0, 0);
    }
    if r == 0 { (8 * own * len + 8 * len * (p - 1), 8 * len * (c - own)) } else { (8 * own * len, 8 * len) }
}

/// `(sent, received)` of rank `r` for one `all_chunks(len)`.
fn all_chunks(s: &Shape, r: usize, len: usize) -> (u64, u64) {
    let own = owned(s, r) as u64;
    let (len, c, p) = (len as u64, s.chunks as u64, s.ranks as u64);
    if s.ranks == 1 {
        return (0, 0);
    }
    if r == 0 { (8 * own * len + 8 * c * len * (p - 1), 8 * len * (c - own)) } else { (8 * own * len, 8 * c * len) }
}

fn owned(s: &Shape, r: usize) -> usize {
    (r + 1) * s.chunks / s.ranks - r * s.chunks / s.ranks
}

/// Bytes `(sent, received)` by rank `r` in one exact iteration whose full step is accepted.
pub fn exact_full_step_bytes(s: &Shape, r: usize) -> (u64, u64) {
    let (g, e) = (sum_chunks(s, r, s.d * s.d + 1), evaluation_bytes(s, r));
    (g.0 + e.0, g.1 + e.1)
}

/// `(sent, received)` of rank `r` for one `reduce_to_root(len)`.
fn reduce_to_root(s: &Shape, r: usize, len: usize) -> (u64, u64) {
    let own = owned(s, r) as u64;
    let (len, c) = (len as u64, s.chunks as u64);
    if s.ranks == 1 {
        return (0, 0);
    }
    // Rank 0's own partials count as sent (MPI_Gatherv copies them), as in `Net`.
    if r == 0 { (8 * own * len, 8 * len * (c - own)) } else { (8 * own * len, 0) }
}

/// `(sent, received)` of rank `r` for one `broadcast(len)`.
fn broadcast(s: &Shape, r: usize, len: usize) -> (u64, u64) {
    let (len, p) = (len as u64, s.ranks as u64);
    if s.ranks == 1 {
        return (0, 0);
    }
    if r == 0 { (8 * len * (p - 1), 0) } else { (0, 8 * len) }
}

/// Bytes `(sent, received)` by rank `r` in one iteration of `mode` whose full step is accepted:
/// the direction (`refresh`: a new leverage sample is drawn; `cg` Hessian-vector products) and
/// the evaluation of the new point.
pub fn iteration_bytes(s: &Shape, r: usize, mode: Mode, refresh: bool, cg: usize) -> (u64, u64) {
    let d = s.d;
    let mut ops = vec![evaluation_bytes(s, r)];
    if mode != Mode::NewtonCg {
        ops.push(sum_chunks(s, r, d * d + 1));
    }
    if refresh && matches!(mode, Mode::Leverage | Mode::LeveragePcg) {
        ops.push(reduce_to_root(s, r, 4 * d * d + 1));
        ops.push(broadcast(s, r, d * d + 1));
        ops.push(sum_chunks(s, r, 1));
    }
    if matches!(mode, Mode::LeveragePcg | Mode::NewtonCg) {
        let hv = sum_chunks(s, r, d);
        ops.push((hv.0 * cg as u64, hv.1 * cg as u64));
    }
    ops.iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// Bytes `(sent, received)` by rank `r` in one evaluation with the Hessian's parts.
pub fn evaluation_bytes(s: &Shape, r: usize) -> (u64, u64) {
    let d = s.d;
    let mut ops = vec![all_chunks(s, r, 4)];
    if s.k > 0 {
        ops.push(sum_chunks(s, r, 3));
    }
    ops.push(sum_chunks(s, r, d * (1 + s.k)));
    ops.push(sum_chunks(s, r, 1));
    ops.iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// Values per chunk reduced in one iteration of `mode` (full step; `cg` Hessian-vector
/// products; `refresh`: a leverage sample is drawn).
pub fn values_per_chunk(mode: Mode, d: usize, k: usize, cg: usize, refresh: bool) -> (usize, usize) {
    // (values per chunk summed or gathered at rank 0, number of reductions)
    let eval = 4 + 3 + d * (1 + k) + 1;
    match mode {
        Mode::Exact => (eval + d * d + 1, 5),
        Mode::Leverage | Mode::LeveragePcg => {
            let m = 4 * d;
            let sample = if refresh { m * d + 1 + 1 } else { 0 };
            let pcg = if mode == Mode::LeveragePcg { cg * d } else { 0 };
            (eval + d * d + 1 + sample + pcg, 5 + if refresh { 3 } else { 0 } + cg)
        }
        Mode::NewtonCg => (eval + cg * d, 4 + cg),
    }
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

/// Modelled seconds per iteration: `(compute, communication)`.
pub fn iteration_time(m: &Machine, nnz: f64, p: usize, chunks: usize, values: usize, reductions: usize) -> (f64, f64) {
    let lg = (p as f64).log2().ceil();
    let compute = m.t_nnz * nnz / p as f64 + m.t_factor;
    let c = chunks as f64;
    let bytes = 8.0 * values as f64;
    let comm = if p == 1 {
        0.0
    } else {
        2.0 * m.alpha * lg * reductions as f64 + m.beta * bytes * (c - c / p as f64) + m.beta * bytes * lg
    };
    (compute, comm)
}

/// Modelled rows `(P, compute s, communication s, speed-up)` for one `nnz`.
pub type Curve = (f64, Vec<(usize, f64, f64, f64)>);

/// The predicted speed-up curves as an SVG: `T(1)/T(P)` for `P = 1 … 1024`, one line per `nnz`.
pub fn plot_speedup(path: &std::path::Path, m: &Machine, d: usize, nnzs: &[f64]) -> Result<Vec<Curve>, String> {
    use plotters::prelude::*;
    let ps: Vec<usize> = (0..=10).map(|e| 1usize << e).collect();
    let (values, reductions) = values_per_chunk(Mode::Exact, d, 2, 0, false);
    let mut table = Vec::new();
    for &nnz in nnzs {
        let mut rows = Vec::new();
        let (c1, _) = iteration_time(m, nnz, 1, 64, values, reductions);
        for &p in &ps {
            let chunks = p.max(64);
            let (c, k) = iteration_time(m, nnz, p, chunks, values, reductions);
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
