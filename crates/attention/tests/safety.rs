//! Bad input gets a typed error naming where; the data directory round-trips.

use attention::{AttentionData, AttentionError, AttentionLoss, AttentionMeta, AttentionObjective, PlantSpec, plant};
use faer::Mat;

fn small() -> attention::Planted {
    plant(&PlantSpec { meta: AttentionMeta { m: 3, n: 5, d: 2 }, seed: 1, ..Default::default() }).unwrap()
}

#[test]
fn a_vanishing_linear_normaliser_names_its_sequence_and_row() {
    let p = small();
    let f = AttentionObjective::new(&p.data, p.y.clone(), AttentionLoss::LINEAR).unwrap();
    // X = 0: every logit row sums to exactly 0.
    match f.value(Mat::zeros(2, 2).as_ref()) {
        Err(AttentionError::NormaliserNearZero { sequence: 0, row: 0, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn softmax_survives_huge_logits_and_reports_overflow() {
    let p = small();
    let f = AttentionObjective::new(&p.data, p.y.clone(), AttentionLoss::L2).unwrap();
    // Logits of order 1e300 (finite): the max shift keeps the softmax finite.
    let big = Mat::from_fn(2, 2, |i, j| if i == j { 1e150 } else { 0.0 });
    assert!(f.value(big.as_ref()).unwrap().is_finite());
    let huge = Mat::from_fn(2, 2, |_, _| 1e308);
    assert!(matches!(f.value(huge.as_ref()), Err(AttentionError::Overflow { .. })));
    let nan = Mat::from_fn(2, 2, |i, _| if i == 1 { f64::NAN } else { 0.0 });
    assert!(matches!(f.value(nan.as_ref()), Err(AttentionError::NonFinite { what: "X", row: 1, col: 0 })));
}

#[test]
fn logistic_needs_labels_and_shapes_are_checked() {
    let p = small();
    assert!(matches!(
        AttentionObjective::new(&p.data, p.y.clone(), AttentionLoss::LOGISTIC),
        Err(AttentionError::NotALabel { row: 0, col: 0, .. })
    ));
    assert!(matches!(
        AttentionObjective::new(&p.data, Mat::zeros(3, 2), AttentionLoss::L2),
        Err(AttentionError::DimensionMismatch { .. })
    ));
    let f = AttentionObjective::new(&p.data, p.y.clone(), AttentionLoss::L2).unwrap();
    assert!(matches!(f.value(Mat::zeros(3, 3).as_ref()), Err(AttentionError::DimensionMismatch { .. })));
    let meta = AttentionMeta { m: 2, n: 2, d: 2 };
    let e = AttentionData::new(meta, Mat::zeros(4, 2), Mat::zeros(4, 2), Mat::zeros(3, 2), Mat::zeros(4, 2));
    assert!(e.unwrap_err().to_string().contains("A3"));
}

#[test]
fn the_data_directory_round_trips_and_bad_meta_is_an_error() {
    let p = small();
    let dir = tempfile::tempdir().unwrap();
    p.data.save(dir.path()).unwrap();
    assert_eq!(AttentionData::load(dir.path()).unwrap(), p.data);
    std::fs::write(dir.path().join("meta.json"), r#"{"m": 3, "n": 4, "d": 2}"#).unwrap();
    let e = AttentionData::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("A1.mtx") && e.contains("12×2"), "{e}");
    std::fs::write(dir.path().join("meta.json"), "{").unwrap();
    assert!(AttentionData::load(dir.path()).unwrap_err().to_string().contains("meta.json"));
}
