//! Solver parameters.

use serde::{Deserialize, Serialize};

/// How the Newton system's matrix is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The exact Hessian `Aᵀ(D + UCUᵀ)A`, assembled densely (`O(Σnnz(a_i)² + d³)`).
    Exact,
    /// The Gauss–Newton matrix `Aᵀ(D_GN + U C_GN Uᵀ)A ⪰ 0`.
    GaussNewton,
    /// `AᵀD̃A + (AᵀU)C(AᵀU)ᵀ` with `D̃` a leverage-score sample of `D₊` (SPEC §3–4, errata E2).
    Leverage,
    /// The exact Newton step by conjugate gradients on Hessian-vector products, preconditioned
    /// by the Cholesky factor of the `Leverage` matrix.
    LeveragePcg,
    /// `(S D₊^{1/2}A)ᵀ(S D₊^{1/2}A) + (AᵀU)C(AᵀU)ᵀ` with a sparse-sign embedding `S`.
    NewtonSketch,
    /// Matrix-free truncated Newton–CG on Hessian-vector products (one pass over `A` each),
    /// Eisenstat–Walker forcing, preconditioned by [`SolverParams::precond`]; no `d×d` matrix
    /// (memory `O(nnz + r·d)`).
    NewtonCg,
}

/// The preconditioner of [`Strategy::NewtonCg`] (cost models in `newton::precond`'s docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precond {
    /// Plain CG.
    None,
    /// `diag(H)`, rebuilt each Newton step (one pass over `A`).
    Jacobi,
    /// Rank-`r` randomized Nyström of the Jacobi-scaled `AᵀD₊A` (two passes), rebuilt when the
    /// CG count rises.
    Nystrom,
}

runtime::named_enum!(Precond { None => "none", Jacobi => "jacobi", Nystrom => "nystrom" });

/// How the SPEC §4 checks estimate `l = λ_min(H(x_t))` and the Hessian-Lipschitz `M`
/// (issue 16; cost models in `newton::checks`' docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksKind {
    /// From what the iteration already computed, where the strategy provides it (`newton-cg`):
    /// `l` is the Rayleigh–Ritz value of CG's own directions (an upper bound on `λ_min`), `M`
    /// the Taylor remainder of successive gradients, `2‖g_{t+1} − g_t − H_t s_t‖/‖s_t‖²` with
    /// `H_t s_t` from CG's residual. No pass over `A` (one when the remainder is below
    /// rounding). With `exact` at small `d`: `l` from the dense `H(x_t)` the step formed, `M` the
    /// same Taylor remainder. The other strategies run the exact checks.
    Derived,
    /// Separate eigenvalue computations: adaptive warm Lanczos for `l` and power iteration on
    /// `H(x_{t+1}) − H(x_t)` for `M` (dense eigenvalues at small `d`).
    Exact,
}

runtime::named_enum!(ChecksKind { Derived => "derived", Exact => "exact" });

// The names are serde's (kebab-case), the CLI's `--hessian` and Python's `strategy=`.
runtime::named_enum!(Strategy {
    Exact => "exact",
    GaussNewton => "gauss-newton",
    Leverage => "leverage",
    LeveragePcg => "leverage-pcg",
    NewtonSketch => "newton-sketch",
    NewtonCg => "newton-cg",
});

impl Strategy {
    /// Whether the strategy samples or embeds (`Leverage`, `LeveragePcg`, `NewtonSketch`).
    pub fn is_sketched(self) -> bool {
        matches!(self, Strategy::Leverage | Strategy::LeveragePcg | Strategy::NewtonSketch)
    }
    /// A default from the shape, as measured: the cost of one exact Newton matrix, the
    /// weighted Gram (`≈ n·r²/2` multiply-adds) plus its Cholesky (`d³/3`), is set against
    /// Newton–CG's step, about 10 CG iterations of one fused pass (`2·nnz` flops) each,
    /// `20·nnz`: `newton-cg` (Jacobi) when the dense matrix costs more (wide problems, `d` in
    /// the thousands: the `d³` and `d²` terms dwarf `nnz`; rows of ~50 nonzeros, where the Gram's
    /// `r²` dominates; the bundled KJV problem, where it solves 4× faster than `exact`), else
    /// `exact`, which wins with few columns and few nonzeros a row (docs/benchmarks.md,
    /// "Against SciPy"). `leverage-pcg` is never the default: where it had been (`r ≥ 32`,
    /// `n ≥ 40·d·ln d`, measured before `newton-cg` existed) `newton-cg` solved 2.0–2.7× faster
    /// (docs/benchmarks.md, "`auto` and rows of 50").
    pub fn default_for(n: usize, d: usize, nnz: usize) -> Strategy {
        let (exact, newton_cg) = Strategy::step_costs(n, d, nnz);
        if exact > newton_cg { Strategy::NewtonCg } else { Strategy::Exact }
    }

    /// The flop estimates [`Strategy::default_for`] compares: one exact Newton matrix
    /// (`n·r²/2 + d³/3`) and one Newton–CG step (`20·nnz`).
    pub fn step_costs(n: usize, d: usize, nnz: usize) -> (f64, f64) {
        let r = nnz as f64 / n.max(1) as f64;
        (n as f64 * r * r / 2.0 + (d as f64).powi(3) / 3.0, 20.0 * nnz as f64)
    }

    /// The leverage-refresh interval that measured best for this strategy (docs/benchmarks.md,
    /// "Reusing the leverage sample"): 4 for `leverage-pcg` (CG corrects the stale
    /// preconditioner, so reuse costs no iterations) and for `leverage` (reuse costs iterations,
    /// 11 → 14 at `n = 4·10⁶, d = 200, r = 50`, but each is 2.4× cheaper: 26% less time to
    /// solution); 1 for the others, whose matrices are not leverage samples.
    pub fn default_refresh(self) -> usize {
        if matches!(self, Strategy::LeveragePcg | Strategy::Leverage) { 4 } else { 1 }
    }
}

/// Parameters of [`crate::solve`]. `Default` gives a solver that works on the bundled data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverParams {
    /// How the Newton system's matrix is formed.
    pub strategy: Strategy,
    /// Sketch accuracy `ε₀` and failure probability `δ` (sketched strategies).
    pub eps0: f64,
    /// Failure probability `δ` of the sketch.
    pub delta: f64,
    /// Seed of every random choice (same seed, same result).
    pub seed: u64,
    /// Stop when `‖g‖ ≤ max(tol·‖g(x₀)‖, atol)` (relative: errata E8).
    pub tol: f64,
    /// Absolute gradient floor.
    pub atol: f64,
    /// Iteration limit.
    pub max_iter: usize,
    /// Wall-clock budget in seconds.
    pub max_time: f64,
    /// Recompute the leverage scores every `k` iterations (1 = every iteration); in between the
    /// sampled rows are kept and reweighted by the current `D₊`.
    pub refresh_every: usize,
    /// Armijo constant.
    pub armijo: f64,
    /// Compute the SPEC §4 checks (λ_min and Hessian-Lipschitz estimates) each iteration; they
    /// cost extra passes over `A` that are timed separately.
    pub checks: bool,
    /// Maximum CG iterations per step (`leverage-pcg`, `newton-cg`).
    pub max_cg: usize,
    /// Tasks of the dense `d×d` Cholesky (faer's `Par::rayon(dense_tasks)`; 0 or 1:
    /// sequential). A fixed count, not the thread count: the result depends on it, never on
    /// the pool size.
    pub dense_tasks: usize,
    /// The preconditioner of `newton-cg`.
    pub precond: Precond,
    /// The rank of the Nyström preconditioner (0: `min(50, d/4)`).
    pub nystrom_rank: usize,
    /// How the checks estimate `l` and `M` ([`ChecksKind`]). `Derived` (the default) costs
    /// nothing with `newton-cg` but is coarser: on the bundled KJV problem at `x₀` the CG
    /// Rayleigh–Ritz `l` was 697 where `λ_min = 26.4` (60 Lanczos steps: 32.3);
    /// docs/benchmarks.md "Checks" has the measured factors.
    pub checks_kind: ChecksKind,
}

impl Default for SolverParams {
    fn default() -> Self {
        Self {
            strategy: Strategy::Exact,
            eps0: 0.5,
            delta: 0.1,
            seed: 0,
            tol: 1e-8,
            atol: 0.0,
            max_iter: 100,
            max_time: f64::INFINITY,
            refresh_every: 1,
            armijo: 1e-4,
            checks: true,
            max_cg: 200,
            dense_tasks: 2,
            precond: Precond::Jacobi,
            nystrom_rank: 0,
            checks_kind: ChecksKind::Derived,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Strategy;

    #[test]
    fn default_strategy_follows_the_measured_crossover() {
        // The bundled KJV matrix: d = 1000 is too large for a sample to pay, and the dense
        // 1000² matrix costs more than Newton–CG's passes.
        assert_eq!(Strategy::default_for(31_064, 1000, 533_683), Strategy::NewtonCg);
        // Wide: d = 20,000 (a 3.2 GB dense matrix) and d = 2,000.
        assert_eq!(Strategy::default_for(200_000, 20_000, 2_000_000), Strategy::NewtonCg);
        assert_eq!(Strategy::default_for(100_000, 2_000, 1_000_000), Strategy::NewtonCg);
        // Few columns, 10 a row: the dense matrix is cheap.
        assert_eq!(Strategy::default_for(30_000, 30, 300_000), Strategy::Exact);
        assert_eq!(Strategy::default_for(1_000_000, 50, 10_000_000), Strategy::Exact);
        // 10 nonzeros a row: exact won everywhere in docs/benchmarks.md.
        assert_eq!(Strategy::default_for(4_000_000, 200, 40_000_000), Strategy::Exact);
        // 50 a row, n far above the sample: newton-cg, 2.0–2.7× faster than leverage-pcg
        // (the default there until 2026-12-06) at n = 10⁶.
        assert_eq!(Strategy::default_for(4_000_000, 200, 200_000_000), Strategy::NewtonCg);
        assert_eq!(Strategy::default_for(1_000_000, 200, 50_000_000), Strategy::NewtonCg);
        assert_eq!(Strategy::default_for(100_000, 200, 5_000_000), Strategy::NewtonCg);
        assert_eq!(Strategy::LeveragePcg.default_refresh(), 4);
        assert_eq!(Strategy::Leverage.default_refresh(), 4);
        assert_eq!(Strategy::NewtonSketch.default_refresh(), 1);
    }
}
