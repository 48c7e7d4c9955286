//! Issue #15 on the attention side: overflowing values are errors (never a `null` loss or
//! Hessian), size products are checked before allocating, and a W-GD run whose loss went up
//! before its gradient vanished is not called converged.

use attention::{
    AttentionData, AttentionError, AttentionLoss, AttentionMeta, AttentionObjective, GdParams, PlantSpec, Want,
    gradient_descent, newton_fit, plant,
};
use faer::Mat;
use newton::dense::DenseParams;

fn planted() -> attention::Planted {
    plant(&PlantSpec { meta: AttentionMeta { m: 4, n: 8, d: 3 }, seed: 2, ..Default::default() }).unwrap()
}

#[test]
fn overflowing_values_are_errors_not_nulls() {
    let p = planted();
    // Y of 1e300: the outputs and their squares overflow.
    let y = Mat::from_fn(3, 3, |i, j| if i == j { 1e300 } else { 0.0 });
    let f = AttentionObjective::new(&p.data, y, AttentionLoss::L2).unwrap();
    let x = Mat::zeros(3, 3);
    for e in [f.value(x.as_ref()).map(|_| ()), f.evaluate(x.as_ref(), Want::Hessian).map(|_| ())] {
        let err = e.unwrap_err();
        assert!(matches!(err, AttentionError::NonFiniteResult { .. }), "{err:?}");
        assert!(err.to_string().contains("not finite"), "{err}");
    }
    // The Newton fit cannot start: a typed error, not a saddle.
    let err = newton_fit(&f, x.as_ref(), &DenseParams::default(), &mut |_, _| std::ops::ControlFlow::Continue(()))
        .unwrap_err();
    assert!(matches!(err, AttentionError::Solve(newton::SolveError::AtStartDense(_))), "{err:?}");
}

#[test]
fn the_dense_hessian_is_finite_or_refused() {
    let p = planted();
    let f = AttentionObjective::new(&p.data, p.y.clone(), AttentionLoss::L2).unwrap();
    let e = f.evaluate(p.x_true.as_ref(), Want::Hessian).unwrap();
    let h = e.hessian.as_ref().unwrap();
    let t = h.try_dense().unwrap();
    // The batched assembly gives the same bits as before: compare with Hessian-vector products.
    let dir = Mat::from_fn(3, 3, |i, j| (i as f64 + 1.0) - 0.5 * j as f64);
    let hv = h.hvp(dir.as_ref());
    for r in 0..9 {
        let dense_hv: f64 = (0..9).map(|c| t[(r, c)] * dir[(c / 3, c % 3)]).sum();
        assert!((dense_hv - hv[(r / 3, r % 3)]).abs() <= 1e-10 * (1.0 + hv[(r / 3, r % 3)].abs()));
    }
    assert!(attention::AttentionHessian::dense_bytes(usize::MAX).is_none());
    assert!(attention::AttentionHessian::dense_bytes(10).unwrap() >= 8 * 10_000);
}

#[test]
fn size_products_are_checked_before_allocating() {
    // m·n wrapped in release builds ("expected a 2003764205206896640×4 matrix") and then
    // panicked on "capacity overflow".
    let spec = PlantSpec { meta: AttentionMeta { m: 1 << 40, n: 1 << 40, d: 4 }, ..Default::default() };
    let err = plant(&spec).unwrap_err();
    assert!(matches!(err, AttentionError::TooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("1099511627776"), "{err}");
    let spec = PlantSpec { meta: AttentionMeta { m: 1 << 20, n: 1 << 20, d: 1 << 30 }, ..Default::default() };
    assert!(matches!(plant(&spec), Err(AttentionError::TooLarge { .. })));
    // A consistent small data set still builds.
    let p = planted();
    assert!(
        AttentionData::new(p.data.meta(), Mat::zeros(32, 3), Mat::zeros(32, 3), Mat::zeros(32, 3), Mat::zeros(32, 3))
            .is_ok()
    );
}

#[test]
fn a_loss_raising_step_then_a_vanishing_gradient_is_not_converged() {
    // A fixed step far too long: one step raises the loss and saturates the softmax, whose
    // gradient then vanishes. That used to be reported as converged.
    let p = planted();
    let f = AttentionObjective::new(&p.data, p.y.clone(), AttentionLoss::L2).unwrap();
    let params = GdParams { eta: Some(1e6), steps: 50, tol: 1e-6, record_every: 1, halve_on_increase: false };
    let r = gradient_descent(&f, Mat::zeros(3, 3).as_ref(), &params, None, &mut |_| {}).unwrap();
    let t = &r.trajectory;
    let raised = t.windows(2).any(|w| w[1].loss > w[0].loss);
    assert!(raised, "the test needs a step that raises the loss: {:?}", t.iter().map(|r| r.loss).collect::<Vec<_>>());
    assert_eq!(r.report.status, newton::Status::Stalled, "{:?}", r.report.message);
    assert!(r.report.message.as_deref().unwrap().contains("raised the loss"), "{:?}", r.report.message);
    // With the step halving on (the default), the same start converges or runs out of steps,
    // and never raises the loss.
    let params = GdParams { eta: Some(1e6), steps: 200, ..Default::default() };
    let r = gradient_descent(&f, Mat::zeros(3, 3).as_ref(), &params, None, &mut |_| {}).unwrap();
    assert!(r.trajectory.windows(2).all(|w| w[1].loss <= w[0].loss));
}

#[test]
fn a_missing_matrix_is_named_with_every_file_looked_for() {
    // Regression (#15): a missing A2.mtx was reported as a missing A2.mtx.gz.
    let dir = tempfile::tempdir().unwrap();
    planted().data.save(dir.path()).unwrap();
    std::fs::remove_file(dir.path().join("A2.mtx")).unwrap();
    let err = AttentionData::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("no A2.mtx or A2.mtx.gz"), "{err}");
    // A gzip-compressed one is found.
    let a2 = attention::read_matrix(&dir.path().join("A1.mtx"), None).unwrap();
    attention::write_matrix(&dir.path().join("A2.mtx.gz"), a2.as_ref()).unwrap();
    assert!(AttentionData::load(dir.path()).is_ok());
}
