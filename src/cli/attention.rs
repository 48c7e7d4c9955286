//! `spnewton attention …`: the attention losses of docs/reference.md §5 on a data directory.

use std::path::PathBuf;

use anyhow::{Context, bail};
use attention::{
    AttentionData, AttentionLoss, AttentionMeta, AttentionObjective, FitMethod, GdParams, PlantSpec, Want, frobenius,
    gradient_descent, gradient_lipschitz, newton_fit, plant, read_matrix, unvec_row_major, write_matrix,
};
use clap::{Args, Subcommand};
use faer::{Mat, MatRef};
use newton::Status;
use newton::dense::DenseParams;
use serde::Serialize;

use super::names::named;
use super::output::{create_dir, write_json};

#[derive(Subcommand)]
pub enum AttentionCommand {
    /// Write a planted data directory (tokens, Y.mtx, X_true.mtx, targets B = Att(X*, Y)).
    Plant(PlantArgs),
    /// Loss and gradients (X or Q, K; and Y), optionally the dense Hessian in vec(X).
    Eval(EvalArgs),
    /// Fit X with Y fixed: W-GD or Newton with the exact Hessian; writes the trajectory.
    Fit(FitArgs),
    /// Empirical gradient-Lipschitz ratios, softmax against linear attention, same pairs.
    Lipschitz(LipschitzArgs),
    /// Att-SVM: the max-margin X^mm (hard margin, or soft with --soft C).
    Svm(super::attention_svm::SvmArgs),
    /// Gradient descent on the single-layer model with a fixed head: the token-selection experiment.
    Train(super::attention_svm::TrainArgs),
    /// Generate token-selection data (Assumption 3.10) for `svm` and `train`.
    Gen(super::attention_svm::GenArgs),
    /// Softmax regression of every query row of a real head (A = K, b = attention row), cold and
    /// warm, with the SPEC §6 shift between consecutive rows.
    Rows(super::attention_rows::RowsArgs),
}

pub fn run(cmd: AttentionCommand) -> anyhow::Result<i32> {
    match cmd {
        AttentionCommand::Plant(a) => run_plant(a),
        AttentionCommand::Eval(a) => run_eval(a),
        AttentionCommand::Fit(a) => run_fit(a),
        AttentionCommand::Lipschitz(a) => run_lipschitz(a),
        AttentionCommand::Svm(a) => super::attention_svm::run_svm(a),
        AttentionCommand::Train(a) => super::attention_svm::run_train(a),
        AttentionCommand::Gen(a) => super::attention_svm::run_gen(a),
        AttentionCommand::Rows(a) => super::attention_rows::run(a),
    }
}

#[derive(Args)]
pub struct PlantArgs {
    /// Sequences m.
    #[arg(long, default_value_t = 8)]
    m: usize,
    /// Tokens per sequence n.
    #[arg(long, default_value_t = 16)]
    n: usize,
    /// Token dimension d.
    #[arg(long, default_value_t = 4)]
    d: usize,
    /// Seed of all randomness.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// ‖X*‖_F (with Gaussian tokens, about the logits' standard deviation).
    #[arg(long, default_value_t = 1.0)]
    x_scale: f64,
    /// Tokens and X* in [0, 1): positive normalisers for linear attention.
    #[arg(long)]
    nonneg: bool,
    /// Targets sign(Att): labels ±1 for the logistic loss.
    #[arg(long)]
    labels: bool,
    /// The attention the targets come from: l2 (softmax) or linear.
    #[arg(long, default_value = "l2", value_parser = named::<AttentionLoss>(AttentionLoss::NAMES))]
    loss: AttentionLoss,
    /// Output directory (created).
    #[arg(long)]
    out: PathBuf,
}

/// The data set, `Y` (`--y`, else `DIR/Y.mtx`) and the loss.
#[derive(Args)]
pub struct DataArgs {
    /// The data directory (meta.json, A1.mtx, A2.mtx, A3.mtx, B.mtx).
    #[arg(long)]
    data: PathBuf,
    /// The value matrix Y (d×d); default DIR/Y.mtx.
    #[arg(long)]
    y: Option<PathBuf>,
    /// The loss: l2 or logistic on softmax attention; linear (linear attention, ℓ2 loss) or
    /// linear-logistic.
    #[arg(long, default_value = "l2", value_parser = named::<AttentionLoss>(AttentionLoss::NAMES))]
    loss: AttentionLoss,
}

impl DataArgs {
    fn load(&self) -> anyhow::Result<(AttentionData, Mat<f64>, AttentionLoss)> {
        let loss = self.loss;
        let data = AttentionData::load(&self.data)?;
        let d = data.meta().d;
        let y_path = self.y.clone().unwrap_or_else(|| self.data.join("Y.mtx"));
        if !y_path.exists() {
            bail!("no value matrix: give --y Y.mtx (or put Y.mtx in {})", self.data.display());
        }
        let y = read_matrix(&y_path, Some((d, d)))?;
        Ok((data, y, loss))
    }
}

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    data: DataArgs,
    /// X (d×d, Matrix Market).
    #[arg(long, conflicts_with_all = ["q", "k"])]
    x: Option<PathBuf>,
    /// Q (d×k) of X = QKᵀ; needs --k.
    #[arg(long, requires = "k")]
    q: Option<PathBuf>,
    /// K (d×k) of X = QKᵀ; needs --q.
    #[arg(long, requires = "q")]
    k: Option<PathBuf>,
    /// Also write the dense d²×d² Hessian in vec(X) (row-major).
    #[arg(long)]
    hessian: bool,
    /// Write the loss, gradients (and Hessian) as JSON here.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct FitArgs {
    #[command(flatten)]
    data: DataArgs,
    /// gd (W-GD) or newton (exact dense Hessian, damped when indefinite).
    #[arg(long, default_value = "newton", value_parser = named::<FitMethod>(FitMethod::NAMES))]
    method: FitMethod,
    /// Start (d×d); default 0.
    #[arg(long)]
    x0: Option<PathBuf>,
    /// W-GD step size; default 1/λ̂ with λ̂ the largest |Hessian eigenvalue| at X(0), halved
    /// whenever a step would increase the loss.
    #[arg(long)]
    eta: Option<f64>,
    /// W-GD: keep η fixed even where the loss increases (the paper's iteration).
    #[arg(long)]
    fixed_eta: bool,
    /// W-GD steps.
    #[arg(long, default_value_t = 1000)]
    steps: usize,
    /// Newton iterations.
    #[arg(long, default_value_t = 100)]
    max_iter: usize,
    /// Relative gradient tolerance ‖∇L‖ ≤ tol·‖∇L(X(0))‖.
    #[arg(long, default_value_t = 1e-10)]
    tol: f64,
    /// Absolute gradient tolerance (Newton).
    #[arg(long, default_value_t = 0.0)]
    atol: f64,
    /// Output directory: trajectory.csv, X.mtx, report.json.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct LipschitzArgs {
    /// The data directory; Y from --y or DIR/Y.mtx.
    #[arg(long)]
    data: PathBuf,
    /// The value matrix Y (d×d); default DIR/Y.mtx.
    #[arg(long)]
    y: Option<PathBuf>,
    /// The losses to compare, on the same pairs.
    #[arg(long, value_delimiter = ',', default_value = "l2,linear", value_parser = named::<AttentionLoss>(AttentionLoss::NAMES))]
    losses: Vec<AttentionLoss>,
    /// Centre of the balls (d×d); default DIR/X_true.mtx, else 0.
    #[arg(long)]
    center: Option<PathBuf>,
    /// Distances ‖X − X'‖_F at which to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0.1,1,10")]
    radii: Vec<f64>,
    /// Random pairs (X, X') per distance.
    #[arg(long, default_value_t = 200)]
    pairs: usize,
    /// Seed of all randomness.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the ratios as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A matrix as row-major nested lists.
pub fn json_matrix(m: MatRef<'_, f64>) -> serde_json::Value {
    serde_json::json!((0..m.nrows()).map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect::<Vec<_>>()).collect::<Vec<_>>())
}

fn run_plant(a: PlantArgs) -> anyhow::Result<i32> {
    let spec = PlantSpec {
        meta: AttentionMeta { m: a.m, n: a.n, d: a.d },
        seed: a.seed,
        x_scale: a.x_scale,
        nonnegative: a.nonneg,
        labels: a.labels,
        loss: a.loss,
    };
    let p = plant(&spec)?;
    p.data.save(&a.out)?;
    write_matrix(&a.out.join("Y.mtx"), p.y.as_ref())?;
    write_matrix(&a.out.join("X_true.mtx"), p.x_true.as_ref())?;
    outln!("wrote {} ({} sequences of {} tokens, d = {})", a.out.display(), a.m, a.n, a.d)?;
    Ok(0)
}

/// Refuse a dense `d²×d²` Hessian over `--max-memory` (or whose size overflows) before any of
/// it is allocated; the Newton fit factorises it too (a few more copies).
fn check_dense_hessian(d: usize, copies: u64) -> anyhow::Result<()> {
    let bytes = attention::AttentionHessian::dense_bytes(d)
        .zip((d as u64).checked_pow(4).and_then(|d4| d4.checked_mul(8 * copies)))
        .and_then(|(a, b)| a.checked_add(b));
    super::memory::check(&format!("the dense d²×d² attention Hessian (d = {d})"), bytes)
}

fn run_eval(a: EvalArgs) -> anyhow::Result<i32> {
    let (data, y, loss) = a.data.load()?;
    let d = data.meta().d;
    if a.hessian {
        check_dense_hessian(d, 0)?;
    }
    let f = AttentionObjective::new(&data, y, loss)?;
    let mut out = serde_json::json!({});
    match (&a.x, &a.q, &a.k) {
        (_, Some(q), Some(k)) => {
            let q = read_matrix(q, None)?;
            let k = read_matrix(k, None)?;
            let e = f.evaluate_factors(q.as_ref(), k.as_ref()).context("cannot evaluate the loss at X = QKᵀ")?;
            out["loss"] = e.value.into();
            out["grad_q"] = json_matrix(e.grad_q.as_ref());
            out["grad_k"] = json_matrix(e.grad_k.as_ref());
            out["grad_y"] = json_matrix(e.grad_y.as_ref());
            if a.hessian {
                let x = &q * k.transpose();
                let h = f.evaluate(x.as_ref(), Want::Hessian)?.hessian.expect("requested").try_dense()?;
                out["hessian_x"] = json_matrix(h.as_ref());
            }
        }
        (x, _, _) => {
            let x = match x {
                Some(p) => read_matrix(p, Some((d, d)))?,
                None => Mat::zeros(d, d),
            };
            let want = if a.hessian { Want::Hessian } else { Want::Gradient };
            let e = f.evaluate(x.as_ref(), want).context("cannot evaluate the loss at X")?;
            out["loss"] = e.value.into();
            out["grad_x"] = json_matrix(e.grad_x.as_ref());
            out["grad_y"] = json_matrix(e.grad_y.as_ref());
            if let Some(h) = &e.hessian {
                out["hessian_x"] = json_matrix(h.try_dense()?.as_ref());
            }
        }
    }
    write_json(&a.out, &out)?;
    Ok(0)
}

fn run_fit(a: FitArgs) -> anyhow::Result<i32> {
    let (data, y, loss) = a.data.load()?;
    let d = data.meta().d;
    let x_true_path = a.data.data.join("X_true.mtx");
    let x_true = if x_true_path.exists() { Some(read_matrix(&x_true_path, Some((d, d)))?) } else { None };
    let x0 = match &a.x0 {
        Some(p) => read_matrix(p, Some((d, d)))?,
        None => Mat::zeros(d, d),
    };
    let f = AttentionObjective::new(&data, y, loss)?;
    create_dir(&a.out)?;
    let rel = |x: MatRef<'_, f64>| x_true.as_ref().map(|t| frobenius((x - t).as_ref()) / frobenius(t.as_ref()));
    let (x, status, message, detail, csv) = match a.method {
        FitMethod::Gd => {
            let params = GdParams {
                eta: a.eta,
                steps: a.steps,
                tol: a.tol,
                record_every: (a.steps / 1000).max(1),
                halve_on_increase: !a.fixed_eta,
            };
            let r = gradient_descent(&f, x0.as_ref(), &params, x_true.as_ref().map(|t| t.as_ref()), &mut |_| {})?;
            let mut csv = String::from("step,loss,grad_norm,x_norm,eta,rel_error\n");
            for t in &r.trajectory {
                let re = t.rel_error.map(|v| v.to_string()).unwrap_or_default();
                csv += &format!("{},{},{},{},{},{re}\n", t.step, t.loss, t.grad_norm, t.x_norm, t.eta);
            }
            let detail = FitDetail::Gd { eta: r.eta, steps: r.report.iterations };
            (r.x, r.report.status, r.report.message, detail, csv)
        }
        FitMethod::Newton => {
            check_dense_hessian(d, 5)?;
            let params = DenseParams { tol: a.tol, atol: a.atol, max_iter: a.max_iter, ..Default::default() };
            let r = newton_fit(&f, x0.as_ref(), &params, &mut |_, _| std::ops::ControlFlow::Continue(()))?;
            let x = unvec_row_major(&r.x, d, d);
            // Each row: the iteration's starting point (loss, ‖∇L‖) and the step it took.
            let mut csv = String::from("iteration,loss,grad_norm,step_norm,step_length,damping,time_s\n");
            for h in &r.history {
                let damp = h
                    .fallbacks
                    .iter()
                    .find_map(|f| if let newton::Fallback::Damped { mu } = f { Some(mu.to_string()) } else { None })
                    .unwrap_or_default();
                csv += &format!(
                    "{},{},{},{},{},{damp},{}\n",
                    h.iteration,
                    h.loss,
                    h.grad_norm,
                    h.step_norm,
                    h.step_length,
                    h.timing.solver_s()
                );
            }
            let detail = FitDetail::Newton { iterations: r.iterations, grad_norm0: r.grad_norm0 };
            (x, r.status, r.message, detail, csv)
        }
    };
    let final_eval = f.evaluate(x.as_ref(), Want::Gradient)?;
    let report = FitOutput {
        status,
        method: a.method,
        loss: final_eval.value,
        grad_norm: frobenius(final_eval.grad_x.as_ref()),
        rel_error: rel(x.as_ref()),
        message,
        detail,
    };
    super::output::write_text(a.out.join("trajectory.csv"), &csv)?;
    write_matrix(&a.out.join("X.mtx"), x.as_ref())?;
    write_json(a.out.join("report.json"), &report)?;
    outln!(
        "{}: status {status}, loss {:.6e}, ‖∇L‖ {:.3e}{}",
        a.method,
        report.loss,
        report.grad_norm,
        report.rel_error.map(|r| format!(", ‖X − X*‖/‖X*‖ {r:.3e}")).unwrap_or_default()
    )?;
    if status == Status::Converged {
        return Ok(0);
    }
    eprintln!(
        "spnewton: the {} fit stopped without converging: status {status}{}",
        a.method,
        report.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
    );
    Ok(3)
}

/// `report.json` of `attention fit`: the common fields and the method's own.
#[derive(Serialize)]
struct FitOutput {
    status: Status,
    method: FitMethod,
    loss: f64,
    grad_norm: f64,
    rel_error: Option<f64>,
    message: Option<String>,
    #[serde(flatten)]
    detail: FitDetail,
}

#[derive(Serialize)]
#[serde(untagged)]
enum FitDetail {
    Gd { eta: f64, steps: usize },
    Newton { iterations: usize, grad_norm0: f64 },
}

fn run_lipschitz(a: LipschitzArgs) -> anyhow::Result<i32> {
    let data = AttentionData::load(&a.data)?;
    let d = data.meta().d;
    let y_path = a.y.clone().unwrap_or_else(|| a.data.join("Y.mtx"));
    let y = read_matrix(&y_path, Some((d, d)))?;
    let center = match &a.center {
        Some(p) => read_matrix(p, Some((d, d)))?,
        None if a.data.join("X_true.mtx").exists() => read_matrix(&a.data.join("X_true.mtx"), Some((d, d)))?,
        None => Mat::zeros(d, d),
    };
    // Every loss checked against the data before anything is printed.
    let objectives = a
        .losses
        .iter()
        .map(|&loss| Ok(AttentionObjective::new(&data, y.clone(), loss)?))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut rows = Vec::new();
    outln!("{:<10} {:>8} {:>6} {:>9} {:>12} {:>12}", "loss", "radius", "pairs", "undefined", "median", "max")?;
    for f in &objectives {
        for r in gradient_lipschitz(f, center.as_ref(), &a.radii, a.pairs, a.seed)? {
            let fmt = |v: Option<f64>| v.map(|v| format!("{v:.4e}")).unwrap_or_else(|| "-".into());
            outln!(
                "{:<10} {:>8} {:>6} {:>9} {:>12} {:>12}",
                r.loss,
                r.radius,
                r.pairs,
                r.undefined,
                fmt(r.median),
                fmt(r.max)
            )?;
            rows.push(r);
        }
    }
    if let Some(out) = &a.out {
        write_json(out, &rows)?;
    }
    Ok(0)
}
