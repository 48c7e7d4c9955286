//! The Att-SVM solution: feasibility, KKT, agreement with an independent dense method, and
//! typed errors for data that break Assumption 3.10.

use att_svm::{
    GenSpec, Margin, SvmError, SvmMeta, SvmParams, SvmStatus, TokenData, generate, solve_svm, solve_svm_explicit,
};
use faer::Mat;

fn spec(m: usize, n: usize, d: usize, causal: bool, seed: u64) -> GenSpec {
    GenSpec { meta: SvmMeta { m, n, d, causal }, seed, ..Default::default() }
}

/// `vec(a_i (a_opt − a_t)ᵀ)` of every constraint, in the solver's order.
fn features(data: &TokenData) -> Vec<Vec<f64>> {
    let meta = data.meta();
    let d = meta.d;
    let mut out = Vec::new();
    for l in 0..meta.m {
        for i in 0..meta.n {
            let q = l * meta.n + i;
            for t in (0..data.visible(i)).filter(|&t| t != data.opt(q)) {
                let (ai, ao, at) = (data.token(l, i), data.token(l, data.opt(q)), data.token(l, t));
                out.push((0..d * d).map(|ab| ai[ab / d] * (ao[ab % d] - at[ab % d])).collect());
            }
        }
    }
    out
}

fn vec_of(x: &Mat<f64>) -> Vec<f64> {
    (0..x.nrows()).flat_map(|i| (0..x.ncols()).map(move |j| x[(i, j)])).collect()
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    diff / b.iter().map(|y| y * y).sum::<f64>().sqrt()
}

#[test]
fn every_constraint_holds_and_kkt_holds() {
    for (k, causal) in [(0, false), (1, false), (2, true), (3, true)] {
        let data = generate(&spec(6, 5, 5, causal, k)).unwrap();
        let s = solve_svm(&data, &SvmParams::default()).unwrap();
        assert_eq!(s.status, SvmStatus::Converged);
        assert!(s.min_margin >= 1.0 - 1e-6, "min margin {}", s.min_margin);
        // Stationarity: X = Σ λ_k F_k, with the features formed explicitly here.
        let f = features(&data);
        assert_eq!(f.len(), s.lambda.len());
        let mut x = vec![0.0; 25];
        for (fk, l) in f.iter().zip(&s.lambda) {
            x.iter_mut().zip(fk).for_each(|(xv, fv)| *xv += l * fv);
        }
        assert!(rel(&x, &vec_of(&s.x)) <= 1e-12);
        // Dual feasibility and complementary slackness; margins recomputed from the features.
        for (k, (fk, l)) in f.iter().zip(&s.lambda).enumerate() {
            let margin: f64 = fk.iter().zip(&x).map(|(a, b)| a * b).sum();
            assert!(*l >= 0.0);
            assert!((margin - s.margins[k]).abs() <= 1e-9 * margin.abs().max(1.0));
            assert!(margin >= 1.0 - 1e-6);
            assert!(l * (margin - 1.0) <= 1e-6, "λ = {l}, margin = {margin}");
        }
        assert!(s.gap.abs() <= 1e-6 * s.objective * s.objective, "gap {}", s.gap);
        assert!(s.support().count() > 0 && s.support().all(|(_, l)| l > 0.0));
    }
}

/// Maximise Σλ − ½λᵀKλ over λ ≥ 0 (and λ ≤ U) by accelerated projected gradient on the formed
/// Gram matrix K: an independent method for small cases.
fn projected_gradient(f: &[Vec<f64>], upper: f64, iters: usize) -> Vec<f64> {
    let k = f.len();
    let gram: Vec<Vec<f64>> =
        f.iter().map(|a| f.iter().map(|b| a.iter().zip(b).map(|(p, q)| p * q).sum()).collect()).collect();
    // Step 1/L with L = λ_max(K) ≤ trace-free bound: the largest row sum of |K|.
    let lip = gram.iter().map(|r| r.iter().map(|v| v.abs()).sum::<f64>()).fold(0.0, f64::max);
    let (mut lam, mut prev) = (vec![0.0; k], vec![0.0; k]);
    for it in 0..iters {
        let beta = it as f64 / (it as f64 + 3.0);
        let yv: Vec<f64> = lam.iter().zip(&prev).map(|(l, p)| l + beta * (l - p)).collect();
        prev = lam.clone();
        for j in 0..k {
            let grad = 1.0 - gram[j].iter().zip(&yv).map(|(g, y)| g * y).sum::<f64>();
            lam[j] = (yv[j] + grad / lip).clamp(0.0, upper);
        }
    }
    lam
}

#[test]
fn agrees_with_projected_gradient_on_the_formed_dual() {
    let data = generate(&spec(2, 4, 3, false, 7)).unwrap();
    let f = features(&data);
    assert_eq!(f.len(), 24);
    let s = solve_svm(&data, &SvmParams { tol: 1e-12, ..Default::default() }).unwrap();
    let lam = projected_gradient(&f, f64::INFINITY, 200_000);
    let mut x = vec![0.0; 9];
    for (fk, l) in f.iter().zip(&lam) {
        x.iter_mut().zip(fk).for_each(|(xv, fv)| *xv += l * fv);
    }
    assert!(rel(&vec_of(&s.x), &x) <= 1e-6, "X differs by {:e}", rel(&vec_of(&s.x), &x));
    // Soft margin: the box-constrained dual.
    let c = 0.05;
    let soft = solve_svm(&data, &SvmParams { margin: Margin::Soft { c }, tol: 1e-12, ..Default::default() }).unwrap();
    let upper = 1.0 / (2.0 * c * 8.0 * 4.0);
    let lam = projected_gradient(&f, upper, 200_000);
    let mut x = vec![0.0; 9];
    for (fk, l) in f.iter().zip(&lam) {
        x.iter_mut().zip(fk).for_each(|(xv, fv)| *xv += l * fv);
    }
    assert!(rel(&vec_of(&soft.x), &x) <= 1e-6, "soft X differs by {:e}", rel(&vec_of(&soft.x), &x));
    assert!(soft.relative_gap <= 1e-8, "relative gap {}", soft.relative_gap);
    assert!(soft.lambda.iter().any(|l| (l - upper).abs() < 1e-15), "some constraint is at the bound C");
}

#[test]
fn the_explicit_feature_formulation_gives_the_same_solution() {
    let data = generate(&spec(5, 6, 4, true, 3)).unwrap();
    for margin in [Margin::Hard, Margin::Soft { c: 0.1 }] {
        let p = SvmParams { margin, tol: 1e-11, ..Default::default() };
        let s = solve_svm(&data, &p).unwrap();
        let (x, lam, _) = solve_svm_explicit(&data, &p).unwrap();
        assert!(rel(&vec_of(&s.x), &vec_of(&x)) <= 1e-7, "{margin:?}");
        assert_eq!(lam.len(), s.lambda.len());
    }
}

#[test]
fn soft_margin_objective_is_what_the_spec_writes() {
    let data = generate(&spec(3, 5, 4, true, 11)).unwrap();
    let c = 12.5;
    let s = solve_svm(&data, &SvmParams { margin: Margin::Soft { c }, ..Default::default() }).unwrap();
    // (1/(mn)) Σ_l Σ_i Σ_{t≤i, t≠opt} (1/(i+1)) hinge + C‖X‖², computed directly.
    let mut hinge = 0.0;
    for (k, con) in s.constraints.iter().enumerate() {
        hinge += (1.0 - s.margins[k]).max(0.0) / (con.query + 1) as f64;
    }
    let direct = hinge / 15.0 + c * s.x.squared_norm_l2();
    assert!((s.objective - direct).abs() <= 1e-12 * direct, "{} vs {direct}", s.objective);
}

#[test]
fn broken_assumptions_are_typed_errors() {
    let meta = SvmMeta { m: 1, n: 3, d: 2, causal: false };
    let tokens = vec![1.0, 0.0, 1.0, 0.5, 0.0, 1.0];
    // Tokens 0 and 1 both score ⟨head, a⟩ = 1.
    match TokenData::new(meta, tokens.clone(), vec![1.0; 3], vec![1.0, 0.0], None) {
        Err(SvmError::Tie { sequence: 0, query: 0, first: 0, second: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    let e = TokenData::new(meta, tokens.clone(), vec![1.0, 0.5, 1.0], vec![0.0, 1.0], None).unwrap_err();
    assert!(e.to_string().contains("labels must be ±1"), "{e}");
    let causal = SvmMeta { causal: true, ..meta };
    let e = TokenData::new(causal, tokens.clone(), vec![1.0; 3], vec![0.0, 1.0], Some(vec![2, 2, 2])).unwrap_err();
    assert!(matches!(e, SvmError::OptNotVisible { query: 0, opt: 2, .. }), "{e}");
    let one = SvmMeta { m: 1, n: 1, d: 2, causal: false };
    assert!(matches!(
        TokenData::new(one, vec![1.0, 0.0], vec![1.0], vec![1.0, 0.0], None),
        Err(SvmError::NoConstraints)
    ));
    assert!(matches!(
        TokenData::new(meta, tokens, vec![1.0; 3], vec![1.0], None),
        Err(SvmError::DimensionMismatch { .. })
    ));
}

#[test]
fn infeasible_hard_margin_is_reported() {
    // Query 0 must prefer token 2 over 1 and query 1 (the same vector) the reverse.
    let meta = SvmMeta { m: 2, n: 3, d: 2, causal: false };
    let tokens = vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0, /* sequence 1, the same */ 1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
    let data = TokenData::new(meta, tokens, vec![1.0; 6], vec![1.0, 0.0], Some(vec![2, 2, 2, 1, 1, 1])).unwrap();
    let s = solve_svm(&data, &SvmParams { max_epochs: 1_000_000, ..Default::default() }).unwrap();
    assert_eq!(s.status, SvmStatus::Infeasible);
    let soft = solve_svm(&data, &SvmParams { margin: Margin::Soft { c: 1.0 }, ..Default::default() }).unwrap();
    assert_eq!(soft.status, SvmStatus::Converged);
}

#[test]
fn the_data_directory_round_trips() {
    let data = generate(&spec(3, 4, 4, true, 5)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    data.save(dir.path()).unwrap();
    assert_eq!(TokenData::load(dir.path()).unwrap(), data);
    std::fs::remove_file(dir.path().join("opt.txt")).unwrap();
    assert_eq!(TokenData::load(dir.path()).unwrap(), data, "opt from the scores");
    std::fs::write(dir.path().join("labels.txt"), "1\n").unwrap();
    assert!(TokenData::load(dir.path()).unwrap_err().to_string().contains("labels"));
}
