//! Seeded planted attention problems: random tokens, a known `X*` and `Y`, and targets
//! `B = Att(X*, Y)` (or their signs, as labels for the logistic loss).

use faer::Mat;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal, StandardUniform};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::data::{AttentionData, AttentionMeta};
use crate::error::AttentionError;
use crate::kind::AttentionLoss;
use crate::objective::AttentionObjective;

/// What to plant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlantSpec {
    /// Shape `(m, n, d)` of the data.
    pub meta: AttentionMeta,
    /// Seed of every random draw (tokens and `X*`).
    pub seed: u64,
    /// `‖X*‖_F`: with standard normal tokens the logits have standard deviation about this.
    pub x_scale: f64,
    /// Tokens and `X*` with entries in `[0, 1)` instead of Gaussian, so that linear attention's
    /// normalisers are positive.
    pub nonnegative: bool,
    /// Targets `sign(Att)` (labels ±1, for the logistic loss) instead of `Att`.
    pub labels: bool,
    /// The attention the targets come from.
    pub loss: AttentionLoss,
}

impl Default for PlantSpec {
    fn default() -> Self {
        Self {
            meta: AttentionMeta { m: 8, n: 16, d: 4 },
            seed: 0,
            x_scale: 1.0,
            nonnegative: false,
            labels: false,
            loss: AttentionLoss::L2,
        }
    }
}

/// A planted problem.
#[derive(Debug, Clone)]
pub struct Planted {
    /// The tokens and targets.
    pub data: AttentionData,
    /// The planted `X*` (`d×d`).
    pub x_true: Mat<f64>,
    /// The value matrix `Y` (`d×d`) the targets were made with.
    pub y: Mat<f64>,
}

/// Plant a problem. The same spec gives the same bits.
///
/// ```
/// use attention::{plant, AttentionLoss, AttentionObjective, PlantSpec};
/// let p = plant(&PlantSpec::default())?;
/// let f = AttentionObjective::new(&p.data, p.y.clone(), AttentionLoss::L2)?;
/// assert!(f.value(p.x_true.as_ref())? < 1e-25); // the targets are the planted outputs
/// # Ok::<(), attention::AttentionError>(())
/// ```
pub fn plant(spec: &PlantSpec) -> Result<Planted, AttentionError> {
    let AttentionMeta { m, n, d } = spec.meta;
    if !(spec.x_scale.is_finite() && spec.x_scale > 0.0) || m == 0 || n == 0 || d == 0 {
        return Err(AttentionError::InvalidParameter(format!(
            "plant needs m, n, d ≥ 1 and a positive finite x_scale (got {m}, {n}, {d}, {})",
            spec.x_scale
        )));
    }
    // m·n·d values per matrix, checked before anything is drawn (a wrapped product used to
    // reach faer as a 2e18-row request and die on "capacity overflow").
    let mn = m.checked_mul(n).filter(|mn| mn.checked_mul(d).is_some_and(|v| v.checked_mul(8).is_some()));
    let Some(mn) = mn else {
        return Err(AttentionError::TooLarge {
            what: "plant: m·n × d token matrices", dims: format!("{m}·{n} × {d}")
        });
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(spec.seed);
    let draw = |rows: usize, cols: usize, rng: &mut Xoshiro256PlusPlus| -> Mat<f64> {
        let vals: Vec<f64> = (0..rows * cols)
            .map(|_| if spec.nonnegative { StandardUniform.sample(rng) } else { StandardNormal.sample(rng) })
            .collect();
        Mat::from_fn(rows, cols, |i, j| vals[i * cols + j])
    };
    let a1 = draw(mn, d, &mut rng);
    let a2 = draw(mn, d, &mut rng);
    let a3 = draw(mn, d, &mut rng);
    let mut x_true = draw(d, d, &mut rng);
    let xs = spec.x_scale / x_true.norm_l2();
    x_true *= faer::Scale(xs);
    let mut y = draw(d, d, &mut rng);
    y *= faer::Scale(1.0 / (d as f64).sqrt());
    let meta = spec.meta;
    let zero = AttentionData::new(meta, a1, a2, a3, Mat::zeros(mn, d))?;
    let att = AttentionObjective::new(&zero, y.clone(), AttentionLoss { entry: crate::EntryLoss::L2, ..spec.loss })?
        .forward(x_true.as_ref())?;
    let b = if spec.labels { Mat::from_fn(mn, d, |i, j| if att[(i, j)] < 0.0 { -1.0 } else { 1.0 }) } else { att };
    Ok(Planted { data: zero.with_targets(b)?, x_true, y })
}
