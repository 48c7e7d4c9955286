//! SIMD capabilities, detected once and passed as tokens, and the x86 AVX→SSE transition.
//!
//! **Tokens.** [`Avx2::detect`] asks the CPU once per process and returns a zero-sized token
//! only when AVX2 is present; a kernel's AVX2 path takes the token, so holding one is the proof
//! its `#[target_feature]` code may run.
//!
//! **The transition penalty.** faer's dense kernels (matmul, Cholesky) use 512- and 256-bit
//! vector registers and may return with their upper halves dirty. glibc's `exp` (and so
//! `f64::exp`, `cosh`, `sinh`) runs legacy-SSE instructions; on many Intel cores each one
//! executed while the upper state is dirty pays a transition penalty or a false dependency.
//! Measured here: an attention evaluation spent 60% of its time in `exp` and ran 3.8× faster
//! once the state was cleared (`spnewton bench attention`, docs/benchmarks.md). The wrappers
//! that can leave the state dirty or start scalar work — [`crate::dense`] after faer,
//! [`crate::par`] at the start of every parallel chunk, the chunked kernels of `sparse-ops` —
//! call [`clear_upper_state`] themselves, so library code never does at a call site.

use std::sync::OnceLock;

/// Proof that the CPU runs AVX2 (x86-64 only): obtained from [`Avx2::detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Avx2(());

impl Avx2 {
    /// The token when this CPU has AVX2 (detected on the first call, cached after).
    #[inline]
    pub fn detect() -> Option<Avx2> {
        static FOUND: OnceLock<bool> = OnceLock::new();
        (*FOUND.get_or_init(has_avx2)).then_some(Avx2(()))
    }
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Clear the upper halves of the vector registers (`vzeroupper`) on x86-64 CPUs with AVX; a
/// no-op elsewhere. Values in registers are not live across this call, so it never changes a
/// result. One instruction.
#[inline]
pub fn clear_upper_state() {
    #[cfg(target_arch = "x86_64")]
    {
        static AVX: OnceLock<bool> = OnceLock::new();
        if *AVX.get_or_init(|| std::arch::is_x86_feature_detected!("avx")) {
            // SAFETY: AVX is present (checked above); vzeroupper only clears register halves
            // that no Rust value occupies across a call.
            unsafe { zeroupper() }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn zeroupper() {
    std::arch::x86_64::_mm256_zeroupper();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_agrees_with_the_cpu() {
        #[cfg(target_arch = "x86_64")]
        assert_eq!(Avx2::detect().is_some(), std::arch::is_x86_feature_detected!("avx2"));
        #[cfg(not(target_arch = "x86_64"))]
        assert!(Avx2::detect().is_none());
        assert_eq!(Avx2::detect(), Avx2::detect());
    }
}
