//! # harness
//!
//! How spnewton measures itself: the one implementation behind every `spnewton bench`
//! command and `spnewton sketch`'s cost figure.
//!
//! - [`Cases`] → [`Timings`]: named closures run round-robin (`warmup + reps` rounds), so a
//!   slow phase of a shared machine hits every candidate alike; medians looked up by name.
//! - [`Unit`]: the work unit every cost is expressed in — one `A·x` and one `Aᵀ·y` on the
//!   matrix at hand, sampled interleaved with the runs it normalises.
//! - [`loglog_slope`]: the exponent of a scaling sweep; [`peak_rss_mib`]: peak memory.
//!
//! ## Cost model
//!
//! Timing adds one `Instant::now()` pair per run (tens of nanoseconds); [`Unit::sample`] costs
//! one `A·x` and one `Aᵀ·y` (`O(nnz)`); [`median`] sorts its samples.
//!
//! ## Example
//!
//! ```
//! use harness::Cases;
//! let (mut a, mut b) = (0u64, 0u64);
//! let mut cases = Cases::new();
//! cases.add("count to 1000", || a = (0..1000).sum());
//! cases.add("count to 10", || b = (0..10).sum());
//! let t = cases.run(1, 5);
//! assert!(t["count to 1000"] >= 0.0 && t["count to 10"] >= 0.0);
//! assert_eq!(t.names().count(), 2);
//! # Ok::<(), std::convert::Infallible>(())
//! ```

#![forbid(unsafe_code)]

mod fit;
mod memory;
mod timing;
mod unit;

pub use fit::loglog_slope;
pub use memory::peak_rss_mib;
pub use sparse_ops;
pub use timing::{Cases, Timings, median};
pub use unit::Unit;
