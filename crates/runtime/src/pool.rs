//! Spare `f64` buffers, reused instead of allocated.
//!
//! Freshly allocated memory above glibc's mmap threshold is a page fault per 4 KiB page on
//! first touch (and a TLB shootdown when it is unmapped), which on this project's 2-core VM
//! can cost more than the arithmetic of a kernel: the CountSketch of `sketch` at `d = 200`
//! (15–31 partial sums of `4d × d`) went from 7.1–8.0 to 4.1–4.8 `A·x` when its partials came
//! from a pool instead of fresh memory (docs/benchmarks.md, issue 4). A pool keeps buffers
//! handed back with [`BufferPool::give`] for the next [`BufferPool::take`], within a count and
//! a byte budget.
//!
//! ```
//! use runtime::pool::BufferPool;
//! let pool = BufferPool::new(4, 1 << 20);
//! let v = pool.take_zeroed(1000);
//! let p = v.as_ptr();
//! pool.give(v);
//! // The same memory comes back, zeroed again.
//! let w = pool.take_zeroed(500);
//! assert_eq!((w.as_ptr(), w.len(), w[0]), (p, 500, 0.0));
//! ```

use std::sync::Mutex;

/// A thread-safe set of spare buffers: at most `max_buffers` of them and `max_bytes` in all
/// (the largest are kept when a limit is hit).
pub struct BufferPool {
    spare: Mutex<Vec<Vec<f64>>>,
    max_buffers: usize,
    max_bytes: usize,
}

impl Default for BufferPool {
    /// Twelve buffers of any size.
    fn default() -> Self {
        Self::new(12, usize::MAX)
    }
}

impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.spare.lock().map(|s| s.len()).unwrap_or(0);
        write!(f, "BufferPool({held} spare)")
    }
}

impl BufferPool {
    pub fn new(max_buffers: usize, max_bytes: usize) -> Self {
        Self { spare: Mutex::new(Vec::new()), max_buffers, max_bytes }
    }

    /// A buffer of `len` entries whose contents are unspecified (stale values from an earlier
    /// use, or zeros): for callers that overwrite every entry.
    pub fn take(&self, len: usize) -> Vec<f64> {
        if len == 0 {
            return Vec::new();
        }
        let found = self.spare.lock().ok().and_then(|mut s| {
            // The smallest spare with room: its memory is mapped already, so a shorter buffer
            // handed back earlier (truncated by a smaller request) grows again without a page
            // fault, and kernels of different sizes on one pool do not push each other out.
            let best = (0..s.len()).filter(|&i| s[i].capacity() >= len).min_by_key(|&i| s[i].capacity())?;
            Some(s.swap_remove(best))
        });
        match found {
            Some(mut v) => {
                v.resize(len, 0.0);
                v
            }
            None => vec![0.0; len],
        }
    }

    /// A buffer of `len` zeros.
    pub fn take_zeroed(&self, len: usize) -> Vec<f64> {
        let mut v = self.take(len);
        v.fill(0.0);
        v
    }

    /// Keep `v` for a later [`Self::take`] (or drop it if the limits say so).
    pub fn give(&self, v: Vec<f64>) {
        if v.capacity() == 0 || v.capacity().saturating_mul(8) > self.max_bytes {
            return;
        }
        if let Ok(mut s) = self.spare.lock() {
            s.push(v);
            let bytes = |s: &[Vec<f64>]| s.iter().map(|v| v.capacity() * 8).sum::<usize>();
            while s.len() > self.max_buffers || bytes(&s) > self.max_bytes {
                let smallest = (0..s.len()).min_by_key(|&i| s[i].capacity()).expect("non-empty");
                s.swap_remove(smallest);
            }
        }
    }

    /// Drop every spare buffer.
    pub fn clear(&self) {
        if let Ok(mut s) = self.spare.lock() {
            s.clear();
        }
    }

    /// Number and total bytes (capacity) of the spare buffers.
    pub fn held(&self) -> (usize, usize) {
        self.spare.lock().map(|s| (s.len(), s.iter().map(|v| v.capacity() * 8).sum())).unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_the_smallest_long_enough_buffer_without_reallocating() {
        let p = BufferPool::default();
        let (a, b) = (vec![1.0; 100], vec![2.0; 50]);
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        p.give(a);
        p.give(b);
        let t = p.take(40);
        assert_eq!((t.len(), t.as_ptr()), (40, pb));
        let t2 = p.take(80);
        assert_eq!((t2.len(), t2.as_ptr()), (80, pa));
        // Nothing left that is long enough: a fresh zeroed buffer.
        assert_eq!(p.take(10), vec![0.0; 10]);
    }

    #[test]
    fn a_truncated_buffer_grows_back_in_place() {
        let p = BufferPool::default();
        let v = vec![3.0; 1000];
        let ptr = v.as_ptr();
        p.give(v);
        let short = p.take(10);
        assert_eq!((short.len(), short.as_ptr()), (10, ptr));
        p.give(short);
        let long = p.take_zeroed(1000);
        assert_eq!((long.len(), long.as_ptr()), (1000, ptr));
        assert!(long.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn take_zeroed_clears_stale_values() {
        let p = BufferPool::default();
        p.give(vec![7.0; 64]);
        assert_eq!(p.take_zeroed(64), vec![0.0; 64]);
    }

    #[test]
    fn keeps_a_bounded_number_of_the_largest_buffers() {
        let p = BufferPool::new(12, usize::MAX);
        for len in 1..=17 {
            p.give(vec![0.0; len]);
        }
        let s = p.spare.lock().unwrap();
        assert_eq!(s.len(), 12);
        assert_eq!(s.iter().map(Vec::len).min(), Some(6));
    }

    #[test]
    fn keeps_within_the_byte_budget() {
        let p = BufferPool::new(100, 8 * 250);
        for len in [100, 100, 100] {
            p.give(vec![0.0; len]);
        }
        assert_eq!(p.held(), (2, 1600));
        // A buffer over the whole budget is never kept.
        p.give(vec![0.0; 300]);
        assert_eq!(p.held(), (2, 1600));
    }
}
