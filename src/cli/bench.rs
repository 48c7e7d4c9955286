//! `spnewton bench`: measurements users can repeat on their own machine.

use std::hint::black_box;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use rayon::prelude::*;
use sparse_ops::CsrMatrix;
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

use super::timing::{Case, interleaved_medians};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// A·x and Aᵀ·y against a byte-streaming pass, sprs, a plain loop, and 1 vs 2 threads.
    Kernels(KernelArgs),
    /// One value+gradient evaluation and one Hessian-vector product per loss, in units of
    /// one A·x plus one Aᵀ·y measured in the same run.
    Losses(KernelArgs),
    /// Sparsifier accuracy: ε over seeds, rows kept, leverage-estimator quality.
    Sketch(super::bench_sketch::SketchAccuracyArgs),
    /// Sparsifier cost: time to produce D̃ in A·x units, QR share, sampled vs exact Gram.
    SketchCost(SketchCostArgs),
    /// Per-iteration time and time to solution of the Newton strategies on planted problems.
    Solve(SolveBenchArgs),
    /// Per-iteration cost against nnz, d and nonzeros per row, with slopes and SVG plots.
    Scaling(super::bench_scaling::ScalingArgs),
    /// Attention: forward+gradient GFLOP/s against faer's matmul; Hessian-vector product
    /// against forming the dense Hessian.
    Attention(super::bench_attention::AttentionBenchArgs),
    /// Att-SVM: rank-one dual coordinate descent against formed d² features (time, peak memory).
    AttSvm(super::attention_svm::AttSvmBenchArgs),
    /// Reading a Matrix Market file: MB/s and nonzeros/s on 1 and 2 threads against a
    /// byte-streaming pass (and optionally another build's `info`).
    Io(super::bench_io::IoBenchArgs),
}

#[derive(Args)]
pub struct SolveBenchArgs {
    /// Rows n of the planted problems (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "100000,1000000,4000000")]
    n: Vec<usize>,
    /// Columns d (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "50,200")]
    d: Vec<usize>,
    /// Nonzeros per row (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "10,50")]
    row_nnz: Vec<usize>,
    /// Strategies to compare (comma-separated): exact, gauss-newton, leverage, leverage-pcg, newton-sketch.
    #[arg(long, value_delimiter = ',', default_value = "exact,gauss-newton,leverage,leverage-pcg")]
    strategies: Vec<String>,
    /// Leverage-score refresh intervals to compare for the sketched strategies.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    refresh_every: Vec<usize>,
    /// Sparsifier accuracies ε₀ to compare for the sketched strategies.
    #[arg(long, value_delimiter = ',', default_value = "0.5")]
    eps0: Vec<f64>,
    /// Also write the figures as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct SketchCostArgs {
    /// Rows n of the random matrices.
    #[arg(long, default_value_t = 1_000_000)]
    n: usize,
    /// Columns d (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "50,200")]
    d: Vec<usize>,
    /// Nonzeros per row (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "10,20")]
    row_nnz: Vec<usize>,
    /// Repetitions per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Also write the figures as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct KernelArgs {
    /// Rows n of the random matrix.
    #[arg(long, default_value_t = 1_000_000)]
    n: usize,
    /// Columns d.
    #[arg(long, default_value_t = 100)]
    d: usize,
    /// Nonzeros per row.
    #[arg(long, default_value_t = 10)]
    row_nnz: usize,
    /// Repetitions per kernel (the median is reported).
    #[arg(long, default_value_t = 21)]
    reps: usize,
    /// Seed of the random matrix.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the figures as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

impl KernelArgs {
    /// The benchmark's matrix: `random_sparse(n, d, row_nnz per row, seed)`.
    fn matrix(&self) -> anyhow::Result<CsrMatrix> {
        let spec = GenSpec {
            nrows: self.n,
            ncols: self.d,
            sparsity: Sparsity::RowNnz(self.row_nnz),
            variant: Variant::Plain,
            seed: self.seed,
        };
        Ok(random_sparse(&spec)?)
    }
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<i32> {
    match cmd {
        BenchCommand::Kernels(a) => kernels(a),
        BenchCommand::Losses(a) => losses_bench(a),
        BenchCommand::Sketch(a) => super::bench_sketch::run(a),
        BenchCommand::SketchCost(a) => sketch_cost(a),
        BenchCommand::Solve(a) => solve_bench(a),
        BenchCommand::Scaling(a) => super::bench_scaling::run(a),
        BenchCommand::Attention(a) => super::bench_attention::run(a),
        BenchCommand::AttSvm(a) => super::attention_svm::bench(a),
        BenchCommand::Io(a) => super::bench_io::run(a),
    }
}

/// Reads every byte of the CSR arrays once (sum of values, indices and row pointers): the
/// floor any kernel that touches all of `A` must pay.
fn stream(a: &CsrMatrix) -> f64 {
    const C: usize = 1 << 15;
    // Eight independent accumulators: the pass is bound by memory bandwidth, not by the
    // latency of one chain of additions.
    let sum8 = |c: &[f64]| {
        let mut acc = [0.0f64; 8];
        for ch in c.chunks_exact(8) {
            for l in 0..8 {
                acc[l] += ch[l];
            }
        }
        acc.iter().sum::<f64>() + c.chunks_exact(8).remainder().iter().sum::<f64>()
    };
    let v: f64 = a.data().par_chunks(C).map(sum8).sum();
    let i: u64 = a.indices().par_chunks(C).map(|c| c.iter().map(|&j| j as u64).sum::<u64>()).sum();
    let p: usize = a.indptr().par_chunks(C).map(|c| c.iter().sum::<usize>()).sum();
    v + i as f64 + p as f64
}

/// The textbook sequential CSR loop.
fn plain_mul_vec(a: &CsrMatrix, x: &[f64], y: &mut [f64]) {
    let (p, idx, val) = (a.indptr(), a.indices(), a.data());
    for i in 0..a.nrows() {
        let mut s = 0.0;
        for k in p[i]..p[i + 1] {
            s += val[k] * x[idx[k] as usize];
        }
        y[i] = s;
    }
}

fn kernels(args: KernelArgs) -> anyhow::Result<i32> {
    let a = args.matrix()?;
    let at = a.clone();
    at.cache_transpose()?;
    let (n, d) = a.shape();
    let x: Vec<f64> = (0..d).map(|j| (j as f64).sin()).collect();
    let yv: Vec<f64> = (0..n).map(|i| (i as f64).cos()).collect();
    let pool1 = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let pool2 = rayon::ThreadPoolBuilder::new().num_threads(2).build()?;
    let mut y1 = vec![0.0; n];
    let mut y2 = vec![0.0; n];
    let mut y3 = vec![0.0; n];
    let mut y4 = vec![0.0; n];
    let mut x1 = vec![0.0; d];
    let mut x2 = vec![0.0; d];
    let mut x3 = vec![0.0; d];
    let mut x4 = vec![0.0; d];
    let mut x5 = vec![0.0; d];
    let sprs_t = a.as_sprs().transpose_view();
    let mut cases: Vec<Case<'_>> = vec![
        (
            "stream bytes, 1 thread",
            Box::new(|| {
                black_box(pool1.install(|| stream(&a)));
            }),
        ),
        (
            "stream bytes, 2 threads",
            Box::new(|| {
                black_box(pool2.install(|| stream(&a)));
            }),
        ),
        ("A·x, 1 thread", Box::new(|| pool1.install(|| a.mul_vec(&x, &mut y1)))),
        ("A·x, 2 threads", Box::new(|| pool2.install(|| a.mul_vec(&x, &mut y2)))),
        (
            "A·x, sprs (sequential)",
            Box::new(|| {
                y3.fill(0.0);
                sprs::prod::mul_acc_mat_vec_csr(a.as_sprs().view(), &x[..], &mut y3[..]);
            }),
        ),
        ("A·x, plain loop (sequential)", Box::new(|| plain_mul_vec(&a, &x, &mut y4))),
        ("Aᵀ·y scatter, 1 thread", Box::new(|| pool1.install(|| a.tr_mul_vec(&yv, &mut x1)))),
        ("Aᵀ·y scatter, 2 threads", Box::new(|| pool2.install(|| a.tr_mul_vec(&yv, &mut x2)))),
        ("Aᵀ·y cached transpose, 1 thread", Box::new(|| pool1.install(|| at.tr_mul_vec(&yv, &mut x3)))),
        ("Aᵀ·y cached transpose, 2 threads", Box::new(|| pool2.install(|| at.tr_mul_vec(&yv, &mut x4)))),
        (
            "Aᵀ·y, sprs (sequential)",
            Box::new(|| {
                x5.fill(0.0);
                sprs::prod::mul_acc_mat_vec_csc(sprs_t.view(), &yv[..], &mut x5[..]);
            }),
        ),
    ];
    let names: Vec<String> = cases.iter().map(|c| c.0.to_string()).collect();
    let t = interleaved_medians(&mut cases, 3, args.reps);
    drop(cases);
    anyhow::ensure!(y1 == y2, "A·x differs between 1 and 2 threads");
    anyhow::ensure!(x1 == x2 && x3 == x4, "Aᵀ·y differs between 1 and 2 threads");
    let bytes = a.csr_bytes() as f64 + 8.0 * (n + d) as f64;
    outln!(
        "A: {n} x {d}, {} nonzeros ({} per row), CSR arrays {:.1} MB; medians of {} interleaved runs",
        a.nnz(),
        args.row_nnz,
        a.csr_bytes() as f64 / 1e6,
        args.reps
    )?;
    outln!("{:<36} {:>10} {:>10}", "kernel", "median ms", "GB/s")?;
    for (name, s) in names.iter().zip(&t) {
        outln!("{:<36} {:>10.3} {:>10.2}", name, s * 1e3, bytes / s / 1e9)?;
    }
    let r = |a: usize, b: usize| t[a] / t[b];
    let ratios = serde_json::json!({
        "ax_speedup_2_over_1_threads": r(2, 3),
        "aty_scatter_speedup_2_over_1_threads": r(6, 7),
        "aty_transpose_speedup_2_over_1_threads": r(8, 9),
        "ax_over_stream_1_thread": r(2, 0),
        "ax_over_stream_2_threads": r(3, 1),
        "aty_scatter_over_stream_1_thread": r(6, 0),
        "aty_scatter_over_stream_2_threads": r(7, 1),
        "aty_transpose_over_stream_2_threads": r(9, 1),
        "sprs_ax_over_ax_1_thread": r(4, 2),
        "plain_ax_over_ax_1_thread": r(5, 2),
        "sprs_aty_over_aty_scatter_1_thread": r(10, 6),
        "aty_scatter_over_transpose_2_threads": r(7, 9),
    });
    outln!("ratios (same run):")?;
    for (k, v) in ratios.as_object().unwrap() {
        outln!("  {k:<40} {:.2}", v.as_f64().unwrap())?;
    }
    if let Some(path) = args.out {
        let obj = serde_json::json!({
            "n": n, "d": d, "nnz": a.nnz(), "reps": args.reps,
            "median_s": names.iter().zip(&t).map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
            "ratios": ratios,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&obj)? + "\n")?;
    }
    Ok(0)
}

fn losses_bench(args: KernelArgs) -> anyhow::Result<i32> {
    use losses::{Activation, LossKind, Objective, Part, PlantSpec, Regulariser, What, plant};
    let a = args.matrix()?;
    let (n, d) = a.shape();
    let configs = [
        (LossKind::Rescaled, Activation::Exp),
        (LossKind::Rescaled, Activation::Cosh),
        (LossKind::Hyperbolic, Activation::Sinh),
        (LossKind::Softmax, Activation::Exp),
        (LossKind::Linear, Activation::Exp),
    ];
    let mut problems = Vec::new();
    for (loss, func) in configs {
        let (x, b) = plant(&a, &PlantSpec { loss, func, scale: 0.5, noise: 0.1, seed: args.seed })?;
        // Evaluate away from the planted point, where nothing cancels.
        let x: Vec<f64> = x.iter().map(|v| 0.7 * v).collect();
        problems.push((loss, func, x, b));
    }
    let objectives: Vec<Objective> = problems
        .iter()
        .map(|(loss, func, _, b)| Objective::new(&a, b, Regulariser::Const(0.1), *loss, *func))
        .collect::<Result<_, _>>()?;
    let hessians: Vec<_> = objectives
        .iter()
        .zip(&problems)
        .map(|(f, p)| f.evaluate(&p.2, What::Hessian).map(|e| e.hessian.expect("requested")))
        .collect::<Result<_, _>>()?;
    let x: Vec<f64> = (0..d).map(|j| (j as f64).sin()).collect();
    let y: Vec<f64> = (0..n).map(|i| (i as f64).cos()).collect();
    let zs: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
    let (mut e1, mut e2) = (vec![0.0; n], vec![0.0; n]);
    let (mut out_n, mut out_d) = (vec![0.0; n], vec![0.0; d]);
    let mut cases: Vec<Case<'_>> =
        vec![("A·x", Box::new(|| a.mul_vec(&x, &mut out_n))), ("Aᵀ·y", Box::new(|| a.tr_mul_vec(&y, &mut out_d)))];
    let labels: Vec<String> = problems.iter().map(|(l, f, _, _)| format!("{l} {f}")).collect();
    let k_losses = labels.len();
    for (f, p) in objectives.iter().zip(&problems) {
        cases.push((
            "value+gradient",
            Box::new(move || {
                black_box(f.evaluate(&p.2, What::Gradient).expect("finite"));
            }),
        ));
    }
    for h in &hessians {
        let (xr, mut hv) = (&x, vec![0.0; d]);
        cases.push(("Hessian-vector product", Box::new(move || h.apply(Part::Exact, xr, &mut hv))));
    }
    for (f, p) in objectives.iter().zip(&problems) {
        cases.push((
            "value+gradient+Hessian",
            Box::new(move || {
                // Buffers handed back as the solver does (Objective::recycle).
                f.recycle(black_box(f.evaluate(&p.2, What::Hessian).expect("finite")));
            }),
        ));
    }
    // The hand-written pieces against what they replace, in the same run: the vectorised exp
    // against libm's over n entries, and an evaluation from recycled buffers (as the solver
    // makes them) against one from fresh memory.
    let par = |z: &[f64], e: &mut [f64], f: &(dyn Fn(&[f64], &mut [f64]) + Sync)| {
        e.par_chunks_mut(1 << 14).zip(z.par_chunks(1 << 14)).for_each(|(o, i)| f(i, o));
    };
    cases.push((
        "exp over n, libm",
        Box::new(|| {
            par(&zs, &mut e1, &|i, o| {
                sparse_ops::simd_state::clear_upper_state();
                o.iter_mut().zip(i).for_each(|(o, v)| *o = v.exp());
            })
        }),
    ));
    cases.push(("exp over n, vmath", Box::new(|| par(&zs, &mut e2, &|i, o| sparse_ops::vmath::exp_into(i, o)))));
    let (a0, p0) = (&a, &problems[0]);
    cases.push((
        "rescaled exp +Hessian, fresh buffers",
        Box::new(move || {
            // A new objective has an empty buffer pool: every n-vector is new memory (its
            // constructor's one O(n) sum over b is included).
            let fresh = Objective::new(a0, &p0.3, Regulariser::Const(0.1), p0.0, p0.1).expect("valid");
            black_box(fresh.evaluate(&p0.2, What::Hessian).expect("finite"));
        }),
    ));
    let t = interleaved_medians(&mut cases, 3, args.reps);
    drop(cases);
    let unit = t[0] + t[1];
    let m = 2 + 3 * k_losses;
    outln!(
        "exp over {n} entries: libm {:.3} ms, vmath {:.3} ms ({:.2}x); rescaled exp +Hessian from fresh buffers {:.3} ms = {:.2} units, recycled {:.2} units",
        t[m] * 1e3,
        t[m + 1] * 1e3,
        t[m] / t[m + 1],
        t[m + 2] * 1e3,
        t[m + 2] / unit,
        t[2 + 2 * k_losses] / unit
    )?;
    outln!(
        "A: {n} x {d}, {} nonzeros; {} threads; medians of {} interleaved runs",
        a.nnz(),
        rayon::current_num_threads(),
        args.reps
    )?;
    outln!("A·x {:.3} ms, Aᵀ·y {:.3} ms, unit (A·x + Aᵀ·y) {:.3} ms", t[0] * 1e3, t[1] * 1e3, unit * 1e3)?;
    outln!(
        "{:<22} {:>16} {:>10} {:>16} {:>10} {:>16} {:>10}",
        "loss",
        "value+grad ms",
        "/ unit",
        "Hess-vec ms",
        "/ unit",
        "+Hessian ms",
        "/ unit"
    )?;
    let k = labels.len();
    let mut rows = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let (e, h, eh) = (t[2 + i], t[2 + k + i], t[2 + 2 * k + i]);
        outln!(
            "{:<22} {:>16.3} {:>10.2} {:>16.3} {:>10.2} {:>16.3} {:>10.2}",
            label,
            e * 1e3,
            e / unit,
            h * 1e3,
            h / unit,
            eh * 1e3,
            eh / unit
        )?;
        rows.push(serde_json::json!({"loss": label, "eval_s": e, "eval_over_unit": e / unit, "hvp_s": h,
            "hvp_over_unit": h / unit, "eval_hessian_s": eh, "eval_hessian_over_unit": eh / unit}));
    }
    if let Some(path) = args.out {
        let obj = serde_json::json!({"n": n, "d": d, "nnz": a.nnz(), "reps": args.reps, "ax_s": t[0], "aty_s": t[1], "losses": rows,
            "exp_libm_s": t[m], "exp_vmath_s": t[m + 1], "rescaled_exp_hessian_fresh_s": t[m + 2]});
        std::fs::write(&path, serde_json::to_string_pretty(&obj)? + "\n")?;
    }
    Ok(0)
}

fn sketch_cost(args: SketchCostArgs) -> anyhow::Result<i32> {
    use sketch::{LeverageParams, SparsifyParams, approximate_leverage, leverage_sample, sample_size};
    let mut rows = Vec::new();
    outln!("n = {}; medians of {} interleaved runs; unit = one A·x in the same run", args.n, args.reps)?;
    outln!(
        "{:>5} {:>7} {:>10} {:>9} {:>12} {:>10} {:>10} {:>8} {:>10} {:>14} {:>14} {:>8}",
        "d",
        "nnz/row",
        "A·x ms",
        "kept",
        "produce D̃",
        "(embed)",
        "(A·Ω)",
        "(QR)",
        "(sample)",
        "AᵀD̃A ms",
        "AᵀDA ms",
        "ratio"
    )?;
    for &d in &args.d {
        for &r in &args.row_nnz {
            let a = random_sparse(&GenSpec {
                nrows: args.n,
                ncols: d,
                sparsity: Sparsity::RowNnz(r),
                variant: Variant::Plain,
                seed: 1,
            })?;
            let w: Vec<f64> = (0..args.n).map(|i| 0.5 + (i % 5) as f64 * 0.25).collect();
            let p = SparsifyParams::default();
            let s = sample_size(d, p.eps0, p.delta, p.oversampling)?;
            let lp = LeverageParams::default();
            let x: Vec<f64> = (0..d).map(|j| (j as f64).sin()).collect();
            let mut y = vec![0.0; args.n];
            let sample = sketch::sample_by_leverage(&a, &w, &lp, s, 0)?;
            let kept = sample.len();
            let k = 4 * d;
            let op = sketch::SketchOperator::new(lp.embedding, k, args.n, 0)?;
            let omega: Vec<f64> = (0..d * 16).map(|q| (q as f64).cos()).collect();
            let mut scores = vec![0.0; args.n];
            let b_fixed = op.apply(&a, Some(&w))?;
            let scores_fixed = approximate_leverage(&a, &w, &lp, 0)?;
            let mut cases: Vec<Case<'_>> = vec![
                ("A·x", Box::new(|| a.mul_vec(&x, &mut y))),
                (
                    "produce",
                    Box::new(|| {
                        black_box(sketch::sample_by_leverage(&a, &w, &lp, s, 0).expect("sample"));
                    }),
                ),
                (
                    "embed",
                    Box::new(|| {
                        black_box(op.apply(&a, Some(&w)).expect("embed"));
                    }),
                ),
                (
                    "A·Ω",
                    Box::new(|| a.mul_dense_row_map(&omega, 16, |_, v| v.iter().map(|t| t * t).sum(), &mut scores)),
                ),
                (
                    "QR",
                    Box::new(|| {
                        black_box(sketch::leverage::triangular_factor(b_fixed.clone()).expect("R"));
                    }),
                ),
                (
                    "sample",
                    Box::new(|| {
                        black_box(leverage_sample(&w, &scores_fixed, s, 0).expect("sample"));
                    }),
                ),
                (
                    "sampled Gram",
                    Box::new(|| {
                        black_box(sample.gram(&a));
                    }),
                ),
                (
                    "exact Gram",
                    Box::new(|| {
                        black_box(a.weighted_gram(&w));
                    }),
                ),
            ];
            let t = interleaved_medians(&mut cases, 1, args.reps);
            drop(cases);
            let u = t[0];
            outln!(
                "{d:>5} {r:>7} {:>10.2} {kept:>9} {:>10.1}×u {:>8.1}×u {:>8.1}×u {:>6.1}×u {:>8.1}×u {:>14.2} {:>14.2} {:>7.1}×",
                u * 1e3,
                t[1] / u,
                t[2] / u,
                t[3] / u,
                t[4] / u,
                t[5] / u,
                t[6] * 1e3,
                t[7] * 1e3,
                t[7] / t[6]
            )?;
            rows.push(serde_json::json!({"n": args.n, "d": d, "row_nnz": r, "ax_s": u, "rows_kept": kept,
                "produce_s": t[1], "embed_s": t[2], "a_omega_s": t[3], "qr_s": t[4], "sample_s": t[5],
                "sampled_gram_s": t[6], "exact_gram_s": t[7]}));
        }
    }
    if let Some(path) = args.out {
        std::fs::write(&path, serde_json::to_string_pretty(&rows)? + "\n")?;
    }
    Ok(0)
}

fn solve_bench(args: SolveBenchArgs) -> anyhow::Result<i32> {
    use losses::{Activation, LossKind, Objective, PlantSpec, Regulariser, plant};
    use newton::{SolverParams, Strategy};
    let strategies: Vec<Strategy> = args
        .strategies
        .iter()
        .map(|s| match s.as_str() {
            "exact" => Ok(Strategy::Exact),
            "gauss-newton" => Ok(Strategy::GaussNewton),
            "leverage" => Ok(Strategy::Leverage),
            "leverage-pcg" => Ok(Strategy::LeveragePcg),
            "newton-cg" => Ok(Strategy::NewtonCg),
            "newton-sketch" => Ok(Strategy::NewtonSketch),
            other => Err(anyhow::anyhow!("unknown strategy {other:?}")),
        })
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    outln!(
        "rescaled exp, planted (‖Ax*‖∞ = 0.5, 1% noise), w = 0.01, x0 = 0, tol 1e-8; unit = A·x + Aᵀ·y in the same run"
    )?;
    outln!(
        "{:>8} {:>4} {:>4} {:>13} {:>7} {:>5} {:>6} {:>10} {:>9} {:>9} {:>11} {:>8} {:>8}",
        "n",
        "d",
        "r",
        "strategy",
        "refresh",
        "ε₀",
        "iters",
        "status",
        "mean s/it",
        "/ unit",
        "solution s",
        "sketch",
        "hessian"
    )?;
    for &n in &args.n {
        for &d in &args.d {
            for &r in &args.row_nnz {
                let a = random_sparse(&GenSpec {
                    nrows: n,
                    ncols: d,
                    sparsity: Sparsity::RowNnz(r),
                    variant: Variant::Plain,
                    seed: 1,
                })?;
                let (_, b) = plant(
                    &a,
                    &PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.01, seed: 2 },
                )?;
                let f = Objective::new(&a, &b, Regulariser::Const(0.01), LossKind::Rescaled, Activation::Exp)?;
                let x: Vec<f64> = (0..d).map(|j| (j as f64).sin()).collect();
                let yv: Vec<f64> = (0..n).map(|i| (i as f64).cos()).collect();
                let (mut o1, mut o2) = (vec![0.0; n], vec![0.0; d]);
                let mut cases: Vec<Case<'_>> = vec![
                    ("A·x", Box::new(|| a.mul_vec(&x, &mut o1))),
                    ("Aᵀ·y", Box::new(|| a.tr_mul_vec(&yv, &mut o2))),
                ];
                let t = interleaved_medians(&mut cases, 1, 5);
                drop(cases);
                let unit = t[0] + t[1];
                let runs: Vec<(Strategy, usize, f64)> = strategies
                    .iter()
                    .flat_map(|&s| {
                        let (ks, es) = if s.is_sketched() {
                            (args.refresh_every.clone(), args.eps0.clone())
                        } else {
                            (vec![1], vec![f64::NAN])
                        };
                        ks.into_iter().flat_map(move |k| es.clone().into_iter().map(move |e| (s, k, e)))
                    })
                    .collect();
                for &(s, refresh, eps0) in &runs {
                    let defaults = SolverParams::default();
                    let params = SolverParams {
                        strategy: s,
                        checks: false,
                        max_iter: 50,
                        refresh_every: refresh,
                        eps0: if eps0.is_nan() { defaults.eps0 } else { eps0 },
                        ..defaults
                    };
                    let rep = newton::solve(&f, &vec![0.0; d], &params, None, &mut |_, _| {
                        std::ops::ControlFlow::Continue(())
                    })?;
                    let its = rep.history.len().max(1);
                    let per_it: Vec<f64> = rep.history.iter().map(|h| h.timing.solver_s()).collect();
                    // The mean includes the iterations that refresh the sample; the median of a
                    // refresh-4 run would be a cheap reuse iteration.
                    let mean = per_it.iter().sum::<f64>() / its as f64;
                    let med = super::timing::median(per_it);
                    let sk: f64 = rep.history.iter().map(|h| h.timing.sketch_s).sum::<f64>() / its as f64;
                    let hs: f64 = rep.history.iter().map(|h| h.timing.hessian_s).sum::<f64>() / its as f64;
                    outln!(
                        "{n:>8} {d:>4} {r:>4} {:>13} {:>7} {:>5} {:>6} {:>10} {:>9.4} {:>9.2} {:>11.3} {:>8.4} {:>8.4}",
                        s.name(),
                        refresh,
                        if s.is_sketched() { format!("{:.2}", params.eps0) } else { "-".into() },
                        rep.iterations,
                        rep.status.name(),
                        mean,
                        mean / unit,
                        rep.timing.solver_s(),
                        sk,
                        hs
                    )?;
                    rows.push(serde_json::json!({"n": n, "d": d, "row_nnz": r, "strategy": s.name(), "refresh_every": refresh, "eps0": s.is_sketched().then_some(params.eps0), "iterations": rep.iterations,
                        "status": rep.status.name(), "per_iteration_median_s": med, "per_iteration_mean_s": mean,
                        "per_iteration_over_unit": mean / unit,
                        "solution_s": rep.timing.solver_s(), "unit_s": unit, "sketch_s_per_it": sk, "hessian_s_per_it": hs}));
                }
            }
        }
    }
    if let Some(path) = args.out {
        std::fs::write(&path, serde_json::to_string_pretty(&rows)? + "\n")?;
    }
    Ok(0)
}
