//! # runtime
//!
//! The runtime layer under spnewton's kernels: what makes them fast and deterministic, and is
//! not sparse algebra. The other crates use it; users of the library rarely need it.
//!
//! - [`partition`]: the fixed chunking of rows and of reductions ([`partition::ChunkPolicy`]):
//!   chunk boundaries depend on the data's size only, never on the number of threads.
//! - [`reduce`]: deterministic chunked sums (Neumaier-compensated, combined in chunk order):
//!   bitwise the same with 1 thread or many.
//! - [`pool`]: the one buffer-reuse mechanism: spare `f64` buffers within a count and byte
//!   budget, so repeated kernels do not page-fault on fresh memory.
//! - [`vmath`]: vectorised `exp`, `cosh`, `sinh` over slices (≤ 2 / 4 ulp, CPU-independent bits).
//! - [`names`]: [`named_enum!`] gives the library's enums their text names (`FromStr`, `Display`).
//! - [`simd`]: SIMD detection once, as a token ([`simd::Avx2`]) the AVX2 kernels take, and the
//!   AVX→SSE transition handling; [`dense`] and [`par`] are the wrappers that handle it, so no
//!   caller clears vector state itself.
//!
//! ## Cost model
//!
//! | what | cost |
//! |---|---|
//! | [`reduce::sum`] over `n` terms | `O(n)`, `⌈n/8192⌉` chunk partials |
//! | [`pool::BufferPool::take_zeroed`] | `O(len)` (the zeroing); no allocation when a spare fits |
//! | [`vmath::exp_into`] | `O(n)`, 4 lanes with AVX2, 2 with SSE2 |
//! | [`simd::Avx2::detect`], [`simd::clear_upper_state`] | one cached load; one instruction |
//! | [`dense::mul`] `m×k·k×n` | faer's `O(mkn)` + one instruction |
//!
//! ## Example
//!
//! ```
//! use runtime::reduce;
//! // A sum whose chunking does not depend on the thread count.
//! let v: Vec<f64> = (0..100_000).map(|i| 1.0 / (1.0 + i as f64)).collect();
//! let pool = |t| runtime::rayon::ThreadPoolBuilder::new().num_threads(t).build();
//! let one = pool(1)?.install(|| reduce::sum(v.len(), |i| v[i]));
//! let two = pool(2)?.install(|| reduce::sum(v.len(), |i| v[i]));
//! assert_eq!(one.to_bits(), two.to_bits());
//! # Ok::<(), runtime::rayon::ThreadPoolBuildError>(())
//! ```

pub mod dense;
pub mod names;
pub mod par;
pub mod partition;
pub mod pool;
pub mod reduce;
pub mod simd;
pub mod vmath;

// The crates whose types this API takes and returns.
pub use faer;
pub use rayon;
