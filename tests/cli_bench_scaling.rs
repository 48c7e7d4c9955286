//! `spnewton bench scaling --quick`: the output files exist and parse; the plots are SVG with
//! axis labels and a legend entry per strategy.

mod common;
use common::*;

#[test]
fn quick_scaling_writes_parsable_outputs_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scaling");
    let o = spnewton(&["bench", "scaling", "--quick", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.join("scaling.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert!(header.contains(&"per_iteration_s") && header.contains(&"spmv_equivalents"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() >= 5 * 3, "{} rows", rows.len());
    for r in &rows {
        assert_eq!(r.len(), header.len());
        let t: f64 = r[6].parse().unwrap();
        assert!(t > 0.0 && t.is_finite(), "{r:?}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("scaling.json")).unwrap()).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), rows.len());
    for s in ["exact", "gauss-newton", "leverage", "leverage-pcg", "newton-sketch"] {
        assert!(json["slopes_vs_nnz"][s].as_f64().unwrap().is_finite(), "{s}");
    }
    for (name, label) in [
        ("scaling_nnz.svg", "nnz(A)"),
        ("scaling_d.svg", "d (columns)"),
        ("scaling_r.svg", "nonzeros per row"),
        ("phases.svg", "seconds per iteration"),
    ] {
        let svg = std::fs::read_to_string(out.join(name)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains(label), "{name}");
        assert!(svg.contains("leverage-pcg"), "{name}: legend");
    }
}

#[test]
fn solve_plot_writes_a_convergence_svg() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 5000 --d 10 --row-nnz 4 --seed 1");
    let svg = dir.path().join("conv.svg");
    let o = spnewton(&["solve", "--problem", p.to_str().unwrap(), "--quiet", "--plot", svg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("iteration") && text.contains("checks held"), "axis label and legend");
}
