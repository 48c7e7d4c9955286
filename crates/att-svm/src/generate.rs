//! Seeded data satisfying Assumption 3.10: a unique optimal token per query and all
//! non-optimal scores equal.
//!
//! Sequence `l` has a label `y_l = ±1` (shared by its queries) and an optimal token `o_l`
//! (position 0 when causal, so every query sees it; random otherwise). With the head
//! `h = e₀` and a query direction `e₁`, token `t` is
//!
//! ```text
//! a_{l,t} = κ·y_l·e₁ + [t = o_l]·y_l·e₀ + σ·g_{l,t},   g_{l,t} ~ N(0, I) on coordinates 2…d−1
//! ```
//!
//! so the scores `y_l⟨h, a_t⟩` are 1 for the optimal token and 0 for every other, and
//! `X = e₁e₀ᵀ/κ` satisfies every Att-SVM constraint: the hard-margin problem is feasible.

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::data::{SvmMeta, TokenData};
use crate::error::SvmError;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenSpec {
    /// Sizes and causality of the data.
    pub meta: SvmMeta,
    /// Seed of every random draw.
    pub seed: u64,
    /// `κ`: the size of the shared query component.
    pub signal: f64,
    /// `σ`: the size of the random components.
    pub noise: f64,
}

impl Default for GenSpec {
    fn default() -> Self {
        Self { meta: SvmMeta { m: 8, n: 6, d: 8, causal: false }, seed: 0, signal: 1.0, noise: 1.0 }
    }
}

/// Generate a data set; the same spec gives the same bits.
///
/// ```
/// use att_svm::{generate, GenSpec};
/// let data = generate(&GenSpec::default())?;
/// assert_eq!(data.constraint_count(), 8 * 6 * 5);
/// # Ok::<(), att_svm::SvmError>(())
/// ```
pub fn generate(spec: &GenSpec) -> Result<TokenData, SvmError> {
    let SvmMeta { m, n, d, causal } = spec.meta;
    if d < 3 || n < 2 || m == 0 {
        return Err(SvmError::InvalidParameter(format!(
            "generate needs d ≥ 3, n ≥ 2, m ≥ 1 (got d={d}, n={n}, m={m})"
        )));
    }
    if !(spec.signal.is_finite() && spec.signal > 0.0 && spec.noise.is_finite() && spec.noise >= 0.0) {
        return Err(SvmError::InvalidParameter("signal must be positive, noise non-negative".into()));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(spec.seed);
    let mut tokens = vec![0.0; m * n * d];
    let mut labels = vec![0.0; m * n];
    let mut opt = vec![0; m * n];
    let mut positions: Vec<usize> = (0..n).collect();
    for l in 0..m {
        let y = if rng.random::<bool>() { 1.0 } else { -1.0 };
        let o = if causal {
            0
        } else {
            positions.shuffle(&mut rng);
            positions[0]
        };
        for t in 0..n {
            let a = &mut tokens[(l * n + t) * d..(l * n + t + 1) * d];
            a[1] = spec.signal * y;
            if t == o {
                a[0] = y;
            }
            for v in &mut a[2..] {
                let g: f64 = StandardNormal.sample(&mut rng);
                *v = spec.noise * g;
            }
            labels[l * n + t] = y;
            opt[l * n + t] = o;
        }
    }
    let mut head = vec![0.0; d];
    head[0] = 1.0;
    // The scores decide the optimal tokens; `opt` must agree (a check of the construction).
    let data = TokenData::new(spec.meta, tokens, labels, head, None)?;
    debug_assert!((0..m * n).all(|q| data.opt(q) == opt[q]));
    Ok(data)
}
