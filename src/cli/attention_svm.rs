//! `spnewton attention gen | svm | train`: the Att-SVM and the token-selection experiment.

use std::path::{Path, PathBuf};

use anyhow::bail;
use att_svm::{
    GenSpec, Margin, SvmMeta, SvmParams, SvmSolution, SvmStatus, TOP_K, TokenData, TrainParams, TrainRecord,
    TrainStatus, generate, solve_svm, solve_svm_explicit, train,
};
use attention::write_matrix;
use clap::Args;

use harness::peak_rss_mib;

use super::output::{create_dir, write_json};
use super::plot::{Panel, Series, panels};

#[derive(Args)]
pub struct GenArgs {
    /// Sequences m.
    #[arg(long, default_value_t = GenSpec::default().meta.m)]
    m: usize,
    /// Tokens per sequence n.
    #[arg(long, default_value_t = GenSpec::default().meta.n)]
    n: usize,
    /// Token dimension d.
    #[arg(long, default_value_t = GenSpec::default().meta.d)]
    d: usize,
    /// Queries see only tokens t ≤ i (the optimal token is then at position 0).
    #[arg(long)]
    causal: bool,
    /// Seed of all randomness.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Size κ of the shared query component.
    #[arg(long, default_value_t = 1.0)]
    signal: f64,
    /// Size σ of the random token components.
    #[arg(long, default_value_t = 1.0)]
    noise: f64,
    /// Output directory (created): meta.json, tokens.mtx, labels.txt, head.txt, opt.txt.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct SvmArgs {
    /// The token data directory (meta.json, tokens.mtx, labels.txt, head.txt[, opt.txt]).
    #[arg(long)]
    data: PathBuf,
    /// Soft margin with constant C (docs/reference.md §5; the paper's experiment uses 12.5); default hard.
    #[arg(long)]
    soft: Option<f64>,
    /// Projected-gradient tolerance (every margin ≥ 1 − tol for the hard margin).
    #[arg(long, default_value_t = 1e-9)]
    tol: f64,
    /// Stop after this many passes over the constraints.
    #[arg(long, default_value_t = 100_000)]
    max_epochs: usize,
    /// Seed of the coordinate order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Solve with formed d²-long features instead (the comparison of docs/benchmarks.md).
    #[arg(long)]
    explicit_features: bool,
    /// Output directory: X.mtx, report.json, support.txt.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct TrainArgs {
    /// The token data directory (from `spnewton attention gen`).
    #[arg(long)]
    data: PathBuf,
    /// Gradient-descent steps.
    #[arg(long, default_value_t = TrainParams::default().steps)]
    steps: usize,
    /// Step size η.
    #[arg(long, default_value_t = TrainParams::default().eta)]
    eta: f64,
    /// Normalised steps X ← X − η·g/‖g‖_F.
    #[arg(long)]
    normalized: bool,
    /// Record every this many steps (default: 200 records over the run).
    #[arg(long)]
    record_every: Option<usize>,
    /// Compare with the soft-margin X^mm of constant C instead of the hard margin.
    #[arg(long)]
    soft: Option<f64>,
    /// Output directory: trajectory.csv, X.mtx, X_mm.mtx, training.svg, topk.svg, report.json.
    #[arg(long)]
    out: PathBuf,
}

fn margin(soft: Option<f64>) -> anyhow::Result<Margin> {
    match soft {
        None => Ok(Margin::Hard),
        Some(c) if c > 0.0 && c.is_finite() => Ok(Margin::Soft { c }),
        Some(c) => bail!("--soft C must be positive and finite, got {c}"),
    }
}

pub fn run_gen(a: GenArgs) -> anyhow::Result<i32> {
    let spec = GenSpec {
        meta: SvmMeta { m: a.m, n: a.n, d: a.d, causal: a.causal },
        seed: a.seed,
        signal: a.signal,
        noise: a.noise,
    };
    let data = generate(&spec)?;
    data.save(&a.out)?;
    outln!(
        "wrote {}: {} sequences of {} tokens, d = {}, {} constraints",
        a.out.display(),
        a.m,
        a.n,
        a.d,
        data.constraint_count()
    )?;
    Ok(0)
}

pub fn run_svm(a: SvmArgs) -> anyhow::Result<i32> {
    let data = TokenData::load(&a.data)?;
    let params = SvmParams { margin: margin(a.soft)?, tol: a.tol, max_epochs: a.max_epochs, seed: a.seed };
    create_dir(&a.out)?;
    if a.explicit_features {
        let t = std::time::Instant::now();
        let (x, lambda, epochs) = solve_svm_explicit(&data, &params)?;
        let time_s = t.elapsed().as_secs_f64();
        write_matrix(&a.out.join("X.mtx"), x.as_ref())?;
        let report = serde_json::json!({
            "formulation": "explicit_features", "objective": x.norm_l2(), "iterations": epochs,
            "support_tokens": lambda.iter().filter(|l| **l > 0.0).count(), "constraints": lambda.len(),
            "time_s": time_s, "peak_rss_mib": peak_rss_mib(),
        });
        write_json(a.out.join("report.json"), &report)?;
        outln!("explicit features: {} constraints, {epochs} epochs, {time_s:.3} s", lambda.len())?;
        return Ok(0);
    }
    let s = solve_svm(&data, &params)?;
    write_solution(&a.out, &data, &s)?;
    outln!(
        "{}: objective {:.6e}, min margin {:.9}, gap {:.3e}, {} of {} constraints support, {} epochs, {:.3} s",
        s.status.name(),
        s.objective,
        s.min_margin,
        s.gap,
        s.support().count(),
        s.constraints.len(),
        s.epochs,
        s.time_s
    )?;
    Ok(if s.status == SvmStatus::Converged { 0 } else { 3 })
}

fn write_solution(out: &Path, data: &TokenData, s: &SvmSolution) -> anyhow::Result<()> {
    write_matrix(&out.join("X.mtx"), s.x.as_ref())?;
    let mut support = String::from("# sequence query token lambda margin\n");
    for (k, c) in s.constraints.iter().enumerate() {
        if s.lambda[k] > 0.0 {
            support += &format!("{} {} {} {:e} {}\n", c.sequence, c.query, c.token, s.lambda[k], s.margins[k]);
        }
    }
    super::output::write_text(out.join("support.txt"), &support)?;
    let report = serde_json::json!({
        "status": s.status.name(), "objective": s.objective, "min_margin": s.min_margin,
        "support_tokens": s.support().count(), "constraints": s.constraints.len(), "iterations": s.epochs,
        "time_s": s.time_s, "gap": s.gap, "relative_gap": s.relative_gap, "violation": s.violation,
        "peak_rss_mib": peak_rss_mib(), "m": data.meta().m, "n": data.meta().n, "d": data.meta().d,
        "causal": data.meta().causal,
    });
    write_json(out.join("report.json"), &report)
}

pub fn run_train(a: TrainArgs) -> anyhow::Result<i32> {
    let data = TokenData::load(&a.data)?;
    let svm = solve_svm(&data, &SvmParams { margin: margin(a.soft)?, ..Default::default() })?;
    if svm.status != SvmStatus::Converged {
        bail!("the Att-SVM did not converge ({}): try --soft C", svm.status.name());
    }
    let params = TrainParams {
        steps: a.steps,
        eta: a.eta,
        normalized: a.normalized,
        record_every: a.record_every.unwrap_or((a.steps / 200).max(1)),
    };
    let r = train(&data, Some(svm.x.as_ref()), &params, &mut |_| {})?;
    create_dir(&a.out)?;
    let mut csv = String::from(
        "step,loss,grad_norm,x_norm,cos_mm,gap_min,gap_mean,entropy,top1_mass,top4_mass,top16_mass,\
         top1_error,top4_error,top16_error,negligible_share,accuracy\n",
    );
    for t in &r.trajectory {
        csv += &format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            t.step,
            t.loss,
            t.grad_norm,
            t.x_norm,
            t.cos_mm.unwrap_or(f64::NAN),
            t.gap_min,
            t.gap_mean,
            t.entropy,
            t.top_mass[0],
            t.top_mass[1],
            t.top_mass[2],
            t.topk_error[0],
            t.topk_error[1],
            t.topk_error[2],
            t.negligible,
            t.accuracy
        );
    }
    super::output::write_text(a.out.join("trajectory.csv"), &csv)?;
    write_matrix(&a.out.join("X.mtx"), r.x.as_ref())?;
    write_matrix(&a.out.join("X_mm.mtx"), svm.x.as_ref())?;
    plot_training(&a.out, &r.trajectory, a.normalized)?;
    let last = r.trajectory.last().expect("at least one record");
    let report = serde_json::json!({
        "status": r.status, "steps": r.steps, "normalized": a.normalized, "eta": a.eta,
        "final": last, "x_mm_objective": svm.objective,
    });
    write_json(a.out.join("report.json"), &report)?;
    outln!(
        "{} GD, {} steps: cos(X, X^mm) = {:.6}, ‖X‖ = {:.3}, min logit gap = {:.2}, entropy = {:.3e}",
        if a.normalized { "normalised" } else { "plain" },
        r.steps,
        last.cos_mm.unwrap_or(f64::NAN),
        last.x_norm,
        last.gap_min,
        last.entropy
    )?;
    if r.status == TrainStatus::Overflow {
        eprintln!(
            "spnewton: training stopped at step {}: the loss or gradient overflows f64 (try a smaller --eta); \
             X.mtx is the last finite iterate",
            r.steps
        );
        return Ok(3);
    }
    Ok(0)
}

fn plot_training(out: &Path, t: &[TrainRecord], normalized: bool) -> anyhow::Result<()> {
    let line = |label: &str, f: &dyn Fn(&TrainRecord) -> f64| Series {
        label: label.into(),
        points: t.iter().map(|r| (r.step as f64, f(r))).collect(),
    };
    let one = |title: &str, y: &str, log_y: bool, s: Series| Panel {
        title: title.into(),
        y_label: y.into(),
        log_y,
        series: vec![s],
    };
    let kind = if normalized { "normalised" } else { "plain" };
    panels(
        &out.join("training.svg"),
        &format!("W-GD ({kind}) on single-layer attention: token selection"),
        "step",
        3,
        &[
            one("logit gap, optimal vs non-optimal tokens", "mean gap", false, line("mean", &|r| r.gap_mean)),
            one("attention entropy", "nats (mean over queries)", false, line("entropy", &|r| r.entropy)),
            one("cos(X(k), X^mm)", "cosine", false, line("cosine", &|r| r.cos_mm.unwrap_or(0.0))),
            one(
                "1 − cos(X(k), X^mm), log scale",
                "1 − cosine",
                true,
                line("1 − cos", &|r| 1.0 - r.cos_mm.unwrap_or(0.0)),
            ),
            one("‖X(k)‖_F", "Frobenius norm", false, line("norm", &|r| r.x_norm)),
            one("training loss", "logistic loss (mean)", false, line("loss", &|r| r.loss)),
        ],
    )?;
    let mass: Vec<Series> =
        TOP_K.iter().enumerate().map(|(j, k)| line(&format!("top-{k}"), &|r| r.top_mass[j])).collect();
    let err: Vec<Series> =
        TOP_K.iter().enumerate().map(|(j, k)| line(&format!("top-{k}"), &|r| r.topk_error[j].max(1e-17))).collect();
    panels(
        &out.join("topk.svg"),
        &format!("top-k attention along training ({kind} GD)"),
        "step",
        2,
        &[
            Panel {
                title: "attention mass of the top-k tokens".into(),
                y_label: "mass (mean)".into(),
                log_y: false,
                series: mass,
            },
            Panel {
                title: "top-k sparse attention: output error".into(),
                y_label: "‖o − o_k‖/‖o‖ (mean)".into(),
                log_y: true,
                series: err,
            },
        ],
    )
}

#[derive(Args)]
pub struct AttSvmBenchArgs {
    /// Sequences m.
    #[arg(long, default_value_t = 25)]
    m: usize,
    /// Tokens per sequence n.
    #[arg(long, default_value_t = 64)]
    n: usize,
    /// Token dimension d.
    #[arg(long, default_value_t = 64)]
    d: usize,
    /// Epochs of each formulation (the same count, so time per epoch compares).
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Also run the rank-one solver to convergence (about a minute at the defaults).
    #[arg(long)]
    converge: bool,
    /// Also write the figures as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Rank-one dual coordinate descent against the same method on formed `d²` features: time per
/// epoch and peak memory, in one process (the rank-one run first, since `VmHWM` only grows).
pub fn bench(a: AttSvmBenchArgs) -> anyhow::Result<i32> {
    let data = generate(&GenSpec { meta: SvmMeta { m: a.m, n: a.n, d: a.d, causal: false }, ..Default::default() })?;
    let base = peak_rss_mib().unwrap_or(f64::NAN);
    let params = SvmParams { max_epochs: a.epochs, ..Default::default() };
    let s = solve_svm(&data, &params)?;
    let rank_one_peak = peak_rss_mib().unwrap_or(f64::NAN);
    let converged = if a.converge { Some(solve_svm(&data, &SvmParams::default())?) } else { None };
    let t = std::time::Instant::now();
    let (_, _, epochs) = solve_svm_explicit(&data, &params)?;
    let explicit_s = t.elapsed().as_secs_f64();
    let explicit_peak = peak_rss_mib().unwrap_or(f64::NAN);
    let k = data.constraint_count();
    outln!("Att-SVM, d = {}, {k} constraints (m = {}, n = {}), {} epochs each", a.d, a.m, a.n, a.epochs)?;
    outln!("  process before solving: {base:.1} MiB peak")?;
    outln!(
        "  rank-one features:  {:>9.3} s ({:.2} ms/epoch)   peak {rank_one_peak:>8.1} MiB",
        s.time_s,
        1e3 * s.time_s / s.epochs as f64
    )?;
    outln!(
        "  formed features:    {explicit_s:>9.3} s ({:.2} ms/epoch, forming included)   peak {explicit_peak:>8.1} MiB",
        1e3 * explicit_s / epochs as f64
    )?;
    outln!(
        "  memory ratio {:.0}×, time per epoch ratio {:.0}×",
        explicit_peak / rank_one_peak,
        (explicit_s / epochs as f64) / (s.time_s / s.epochs as f64)
    )?;
    if let Some(c) = &converged {
        outln!(
            "  rank-one to convergence: {} epochs, {:.1} s, min margin {:.9}, gap {:.2e}",
            c.epochs,
            c.time_s,
            c.min_margin,
            c.gap
        )?;
    }
    if let Some(out) = &a.out {
        let v = serde_json::json!({
            "d": a.d, "constraints": k, "epochs": a.epochs, "rank_one_s": s.time_s, "rank_one_peak_mib": rank_one_peak,
            "explicit_s": explicit_s, "explicit_peak_mib": explicit_peak,
            "converged": converged.as_ref().map(|c| serde_json::json!({"epochs": c.epochs, "time_s": c.time_s, "min_margin": c.min_margin})),
        });
        write_json(out, &v)?;
    }
    Ok(0)
}
