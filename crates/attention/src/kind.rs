//! Which attention loss: the row normalisation of the logits and the loss on each entry of the
//! attention output.

use serde::Serialize;

/// How a row `z` of the logits `A_{l,1} X A_{l,2}ᵀ` becomes attention weights `s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalisation {
    /// `s = exp(z − max z) / ⟨exp(z − max z), 1⟩` (seed 004, Definitions 3.1–3.3).
    Softmax,
    /// `s = z / ⟨z, 1⟩` (seed 004, Appendix I); a normaliser near zero is an error.
    Linear,
}

/// The loss `φ(γ, b)` on one entry `γ = Att_l[j₀, i₀]` of the attention output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryLoss {
    /// `½(γ − b)²`.
    L2,
    /// `log(1 + exp(−b·γ))` for labels `b = ±1` (SPEC errata E3: not the sigmoid itself).
    Logistic,
}

/// A loss `L(X, Y) = Σ_l Σ_{j₀, i₀} φ(Att_l[j₀, i₀], B_l[j₀, i₀])`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AttentionLoss {
    /// How logits are normalised into `S` (softmax or linear).
    pub normalisation: Normalisation,
    /// The loss `φ` applied to each entry of `Att`.
    pub entry: EntryLoss,
}

impl AttentionLoss {
    /// Softmax attention, `ℓ2` loss.
    pub const L2: Self = Self { normalisation: Normalisation::Softmax, entry: EntryLoss::L2 };
    /// Softmax attention, logistic loss.
    pub const LOGISTIC: Self = Self { normalisation: Normalisation::Softmax, entry: EntryLoss::Logistic };
    /// Linear attention, `ℓ2` loss (seed 004, Appendix I).
    pub const LINEAR: Self = Self { normalisation: Normalisation::Linear, entry: EntryLoss::L2 };

    /// The names [`Self::parse`] accepts (and `FromStr`), as [`Self::name`] writes them.
    pub const NAMES: &'static [&'static str] = &["l2", "logistic", "linear", "linear-logistic"];

    /// `l2`, `logistic` or `linear` (the CLI's names); `linear-logistic` is linear attention
    /// with the logistic loss.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "l2" => Self::L2,
            "logistic" => Self::LOGISTIC,
            "linear" => Self::LINEAR,
            "linear-logistic" => Self { normalisation: Normalisation::Linear, entry: EntryLoss::Logistic },
            _ => return None,
        })
    }

    /// The name [`Self::parse`] accepts for this loss.
    pub fn name(self) -> &'static str {
        match (self.normalisation, self.entry) {
            (Normalisation::Softmax, EntryLoss::L2) => "l2",
            (Normalisation::Softmax, EntryLoss::Logistic) => "logistic",
            (Normalisation::Linear, EntryLoss::L2) => "linear",
            (Normalisation::Linear, EntryLoss::Logistic) => "linear-logistic",
        }
    }
}

impl std::str::FromStr for AttentionLoss {
    type Err = runtime::names::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| runtime::names::UnknownName {
            kind: "AttentionLoss",
            given: s.into(),
            expected: Self::NAMES,
        })
    }
}

impl std::fmt::Display for AttentionLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl EntryLoss {
    /// `(φ, ∂φ/∂γ, ∂²φ/∂γ²)` at `(γ, b)`, overflow-free for every finite `γ`.
    #[inline]
    pub fn derivatives(self, gamma: f64, b: f64) -> (f64, f64, f64) {
        match self {
            EntryLoss::L2 => {
                let r = gamma - b;
                (0.5 * r * r, r, 1.0)
            }
            EntryLoss::Logistic => {
                let t = -b * gamma;
                let value = t.max(0.0) + (-t.abs()).exp().ln_1p();
                // σ(t) and σ(−t) each from the side where exp does not overflow.
                let (sp, sm) = (sigmoid(t), sigmoid(-t));
                (value, -b * sp, b * b * sp * sm)
            }
        }
    }
}

/// `1 / (1 + e^{−t})` without overflow.
#[inline]
pub fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_is_finite_and_accurate_far_out() {
        let (v, g, h) = EntryLoss::Logistic.derivatives(-800.0, 1.0);
        assert_eq!(v, 800.0);
        assert_eq!(g, -1.0);
        assert!((0.0..1e-300).contains(&h));
        let (v, g, _) = EntryLoss::Logistic.derivatives(40.0, 1.0);
        // log(1 + e^{-40}) = e^{-40} to double precision: a naive log(1 + x) would give 0.
        assert!((v - (-40f64).exp()).abs() <= 1e-16 * (-40f64).exp());
        assert!((g + (-40f64).exp()).abs() <= 1e-15 * (-40f64).exp());
    }

    #[test]
    fn names_round_trip() {
        for l in [AttentionLoss::L2, AttentionLoss::LOGISTIC, AttentionLoss::LINEAR] {
            assert_eq!(AttentionLoss::parse(l.name()), Some(l));
        }
        assert_eq!(AttentionLoss::parse("softmax"), None);
        for name in AttentionLoss::NAMES {
            assert_eq!(name.parse::<AttentionLoss>().unwrap().name(), *name);
        }
    }
}
