//! The x86 AVX→SSE transition penalty, and the one instruction that avoids it.
//!
//! faer's dense kernels (matmul, Cholesky) use 512- and 256-bit vector registers and may
//! return with their upper halves dirty. glibc's `exp` (and so `f64::exp`, `cosh`, `sinh`)
//! runs legacy-SSE instructions; on many Intel cores each one executed while the upper state is
//! dirty pays a transition penalty or a false dependency. Measured here: an attention
//! evaluation spent 60% of its time in `exp` and ran 3.8× faster once the state was cleared
//! (`spnewton bench attention`, docs/benchmarks.md). Call [`clear_upper_state`] after dense
//! work and at the start of every parallel chunk that calls `exp`: it costs one instruction.

/// Clear the upper halves of the vector registers (`vzeroupper`) on x86-64 CPUs with AVX; a
/// no-op elsewhere. Values in registers are not live across this call, so it never changes a
/// result.
#[inline]
pub fn clear_upper_state() {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
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
