//! The work unit: one `A·x` and one `Aᵀ·y` on the matrix at hand.

use std::time::Instant;

use sparse_ops::CsrMatrix;

/// Samples of the work unit on one matrix. Take samples between the runs being normalised
/// ([`Unit::sample`]), so that the unit and the runs see the same machine.
pub struct Unit<'a> {
    a: &'a CsrMatrix,
    x: Vec<f64>,
    y: Vec<f64>,
    ax: Vec<f64>,
    aty: Vec<f64>,
    ax_s: Vec<f64>,
    aty_s: Vec<f64>,
}

impl<'a> Unit<'a> {
    /// A sampler for `a` (fixed, non-trivial `x` and `y`); one warm-up run.
    pub fn new(a: &'a CsrMatrix) -> Self {
        let (n, d) = a.shape();
        let mut u = Self {
            a,
            x: (0..d).map(|j| (j as f64).sin()).collect(),
            y: (0..n).map(|i| (i as f64).cos()).collect(),
            ax: vec![0.0; n],
            aty: vec![0.0; d],
            ax_s: Vec::new(),
            aty_s: Vec::new(),
        };
        u.run();
        u
    }

    fn run(&mut self) -> (f64, f64) {
        let t = Instant::now();
        self.a.mul_vec(&self.x, &mut self.ax);
        let ax = t.elapsed().as_secs_f64();
        let t = Instant::now();
        self.a.tr_mul_vec(&self.y, &mut self.aty);
        (ax, t.elapsed().as_secs_f64())
    }

    /// Time one `A·x` and one `Aᵀ·y` and keep the samples.
    pub fn sample(&mut self) {
        let (ax, aty) = self.run();
        self.ax_s.push(ax);
        self.aty_s.push(aty);
    }

    /// Median seconds of one `A·x`.
    pub fn ax_s(&self) -> f64 {
        crate::median(self.ax_s.clone())
    }

    /// Median seconds of one `Aᵀ·y`.
    pub fn aty_s(&self) -> f64 {
        crate::median(self.aty_s.clone())
    }

    /// The unit: median `A·x` + median `Aᵀ·y` (one pass each way over `A`).
    pub fn seconds(&self) -> f64 {
        self.ax_s() + self.aty_s()
    }
}

#[cfg(test)]
mod tests {
    use sparse_ops::{CsrMatrix, Duplicates};

    #[test]
    fn samples_are_kept_and_positive() {
        let a = CsrMatrix::from_triplets(3, 2, &[(0, 0, 1.0), (2, 1, 2.0)], Duplicates::Reject).unwrap();
        let mut u = super::Unit::new(&a);
        assert!(u.seconds().is_nan());
        for _ in 0..3 {
            u.sample();
        }
        assert!(u.ax_s() >= 0.0 && u.aty_s() >= 0.0 && u.seconds() >= u.ax_s());
        // The products are the real ones (a unit of no work would time nothing).
        assert_eq!(u.ax, [1.0 * 0.0f64.sin(), 0.0, 2.0 * 1.0f64.sin()]);
    }
}
