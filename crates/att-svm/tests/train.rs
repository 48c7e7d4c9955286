//! The token-selection experiment: the gradient, determinism, and Theorem 3.14's prediction on
//! the default data.

use att_svm::{GenSpec, SvmMeta, SvmParams, TrainParams, TrainStatus, generate, loss_and_gradient, solve_svm, train};
use faer::Mat;

#[test]
fn the_gradient_matches_finite_differences() {
    for (seed, causal) in [(1, false), (2, true)] {
        let data =
            generate(&GenSpec { meta: SvmMeta { m: 3, n: 5, d: 4, causal }, seed, ..Default::default() }).unwrap();
        let x = Mat::from_fn(4, 4, |i, j| ((3 * i + j) as f64).sin());
        let (_, g) = loss_and_gradient(&data, x.as_ref());
        let h = 1e-4;
        let fd = Mat::from_fn(4, 4, |i, j| {
            let at = |t: f64| {
                let mut y = x.clone();
                y[(i, j)] += t;
                loss_and_gradient(&data, y.as_ref()).0
            };
            // Richardson-extrapolated central difference: error O(h⁴) ≈ 1e-16 here.
            let d = |h: f64| (at(h) - at(-h)) / (2.0 * h);
            (4.0 * d(h / 2.0) - d(h)) / 3.0
        });
        // Rounding error of the differences ≈ ε·L/h ≈ 1e-12 against entries of order 1e-2.
        let err = (&g - &fd).norm_l2() / fd.norm_l2();
        assert!(err <= 1e-6, "seed {seed}: relative error {err:e}");
    }
}

#[test]
fn normalised_gd_converges_in_direction_to_x_mm_and_grows_without_bound() {
    // The default data and the default run of `spnewton attention train --normalized`.
    let data = generate(&GenSpec::default()).unwrap();
    let svm = solve_svm(&data, &SvmParams::default()).unwrap();
    let params = TrainParams::default();
    let r = train(&data, Some(svm.x.as_ref()), &params, &mut |_| {}).unwrap();
    assert_eq!(r.status, TrainStatus::Completed);
    let t = &r.trajectory;
    let last = t.last().unwrap();
    assert_eq!(last.step, params.steps);
    assert!(last.cos_mm.unwrap() >= 0.995, "cos {}", last.cos_mm.unwrap());
    // ‖X‖ keeps growing and the cosine does not fall back in the second half of the run.
    assert!(t.windows(2).all(|w| w[1].x_norm > w[0].x_norm));
    let half = &t[t.len() / 2..];
    assert!(half.windows(2).all(|w| w[1].cos_mm.unwrap() >= w[0].cos_mm.unwrap() - 1e-9));
    // The cosine still rises after the logit gaps pass 36, where computing non-optimal weights
    // as 1 − s_opt would have lost them.
    let past: Vec<_> = t.iter().filter(|r| r.gap_min > 40.0).collect();
    assert!(past.len() > 10 && past.last().unwrap().cos_mm.unwrap() > past[0].cos_mm.unwrap() + 1e-4);
    // Attention became a hard selection: all mass on one token, entropy near 0, top-1 exact.
    assert!(last.top_mass[0] > 1.0 - 1e-12 && last.entropy < 1e-12 && last.topk_error[0] < 1e-12);
    assert!(last.negligible > 0.99 && t[0].negligible < 0.5);
    assert_eq!(last.accuracy, 1.0);
}

#[test]
fn plain_gd_moves_towards_x_mm_more_slowly() {
    let data = generate(&GenSpec::default()).unwrap();
    let svm = solve_svm(&data, &SvmParams::default()).unwrap();
    let params = TrainParams { steps: 2000, eta: 1.0, normalized: false, record_every: 500 };
    let r = train(&data, Some(svm.x.as_ref()), &params, &mut |_| {}).unwrap();
    let c: Vec<f64> = r.trajectory.iter().map(|t| t.cos_mm.unwrap()).collect();
    assert!(c.windows(2).all(|w| w[1] > w[0]), "{c:?}");
    assert!(*c.last().unwrap() > 0.9 && *c.last().unwrap() < 0.995, "{c:?}");
}

#[test]
fn a_vanishing_gradient_stops_the_run_and_nothing_is_nan() {
    let data = generate(&GenSpec::default()).unwrap();
    let params = TrainParams { steps: 100_000, eta: 5.0, normalized: true, record_every: 1000 };
    let r = train(&data, None, &params, &mut |_| {}).unwrap();
    assert_eq!(r.status, TrainStatus::GradientUnderflow);
    assert!(r.steps < 100_000);
    for t in &r.trajectory {
        assert!(t.loss.is_finite() && t.x_norm.is_finite() && t.gap_min.is_finite() && t.entropy.is_finite());
    }
    assert!((0..8).all(|i| (0..8).all(|j| r.x[(i, j)].is_finite())));
}

#[test]
fn training_is_bitwise_identical_with_one_or_two_threads() {
    let data = generate(&GenSpec { meta: SvmMeta { m: 13, n: 7, d: 5, causal: true }, seed: 4, ..Default::default() })
        .unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let p = TrainParams { steps: 50, eta: 0.3, normalized: true, record_every: 10 };
            let r = train(&data, None, &p, &mut |_| {}).unwrap();
            let bits: Vec<u64> =
                (0..5).flat_map(|i| (0..5).map(move |j| (i, j))).map(|(i, j)| r.x[(i, j)].to_bits()).collect();
            (bits, r.trajectory.iter().map(|t| t.loss.to_bits()).collect::<Vec<_>>())
        })
    };
    assert_eq!(run(1), run(2));
}
