//! Scaling exponents.

/// Least-squares slope of `log y` against `log x` over the points with `x, y > 0`; `NaN` with
/// fewer than two such points.
pub fn loglog_slope(points: &[(f64, f64)]) -> f64 {
    let pts: Vec<(f64, f64)> = points.iter().filter(|p| p.0 > 0.0 && p.1 > 0.0).map(|p| (p.0.ln(), p.1.ln())).collect();
    let n = pts.len() as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n);
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx
}

#[cfg(test)]
mod tests {
    #[test]
    fn recovers_a_power_law() {
        let pts: Vec<(f64, f64)> = [1.0, 10.0, 100.0, 1e3].iter().map(|&x: &f64| (x, 3.0 * x.powf(1.5))).collect();
        assert!((super::loglog_slope(&pts) - 1.5).abs() < 1e-12);
        assert!(super::loglog_slope(&pts[..1]).is_nan());
    }
}
