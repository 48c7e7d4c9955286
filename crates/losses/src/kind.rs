//! Which loss and which function `u`.

use serde::{Deserialize, Serialize};

/// The regression losses of SPEC §1–2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// `½‖u(Ax) − ⟨u(Ax),1⟩·b‖²` (seed 000, Definition 1.4).
    Rescaled,
    /// `½‖u(Ax) − b‖²` (LSZ23a).
    Hyperbolic,
    /// `½‖⟨exp(Ax),1⟩⁻¹ exp(Ax) − b‖²` (DLS23; always `u = exp`).
    Softmax,
    /// `½‖Ax − b‖²`.
    Linear,
}

/// The entrywise function `u` of the hyperbolic losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    #[default]
    /// `u(z) = exp(z)` (the default).
    Exp,
    /// `u(z) = cosh(z)`.
    Cosh,
    /// `u(z) = sinh(z)`.
    Sinh,
}

impl Activation {
    /// `u(z)`.
    #[inline]
    pub fn u(self, z: f64) -> f64 {
        match self {
            Activation::Exp => z.exp(),
            Activation::Cosh => z.cosh(),
            Activation::Sinh => z.sinh(),
        }
    }
    /// `u'(z)`: exp → exp, cosh → sinh, sinh → cosh.
    #[inline]
    pub fn du(self, z: f64) -> f64 {
        match self {
            Activation::Exp => z.exp(),
            Activation::Cosh => z.sinh(),
            Activation::Sinh => z.cosh(),
        }
    }
}

runtime::named_enum!(LossKind { Rescaled => "rescaled", Hyperbolic => "hyperbolic", Softmax => "softmax", Linear => "linear" });
runtime::named_enum!(Activation { Exp => "exp", Cosh => "cosh", Sinh => "sinh" });

/// The regulariser `½‖diag(w)Ax‖²`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Regulariser {
    /// No regulariser (`w = 0`).
    #[default]
    None,
    /// The same `w` for every row.
    Const(f64),
    /// One `w_i` per row.
    PerRow(Vec<f64>),
}

impl Regulariser {
    /// `w_i²`.
    #[inline]
    pub fn w2(&self, i: usize) -> f64 {
        match self {
            Regulariser::None => 0.0,
            Regulariser::Const(w) => w * w,
            Regulariser::PerRow(w) => w[i] * w[i],
        }
    }
    /// Whether every `w_i` is zero.
    pub fn is_zero(&self) -> bool {
        match self {
            Regulariser::None => true,
            Regulariser::Const(w) => *w == 0.0,
            Regulariser::PerRow(w) => w.iter().all(|&x| x == 0.0),
        }
    }
}
