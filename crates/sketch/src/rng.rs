//! Counter-based randomness: the value for row `i` depends on `(seed, stream, i)` only, so any
//! row can be drawn by any thread and the results never depend on the thread count.

/// SplitMix64 finaliser.
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key of one `(seed, stream)`, computed once: hashing a row index is then one mixing
/// round (the per-row hash is the hot part of applying a CountSketch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key(u64);

impl Key {
    #[inline]
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        Key(mix(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    }
    /// A 64-bit hash of `(seed, stream, i)`.
    #[inline]
    pub(crate) fn hash(self, i: u64) -> u64 {
        mix(self.0.wrapping_add(i.wrapping_mul(0xD1B5_4A32_D192_ED03)))
    }
    /// A uniform number in `[0, 1)`.
    #[inline]
    pub(crate) fn uniform(self, i: u64) -> f64 {
        (self.hash(i) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// A bucket in `0..n` from the high 32 bits of `h` by multiply-shift (Lemire's range
/// reduction: no division; `n < 2^32`).
#[inline]
pub(crate) fn bucket(h: u64, n: usize) -> usize {
    (((h >> 32) * n as u64) >> 32) as usize
}

/// A 64-bit hash of `(seed, stream, i)`.
#[inline]
pub(crate) fn hash(seed: u64, stream: u64, i: u64) -> u64 {
    Key::new(seed, stream).hash(i)
}

/// Streams, so that different uses of one seed never share draws.
pub(crate) const STREAM_BUCKET: u64 = 1;
pub(crate) const STREAM_GAUSS: u64 = 3;
pub(crate) const STREAM_PROJECTION: u64 = 4;
pub(crate) const STREAM_SAMPLE: u64 = 5;
pub(crate) const STREAM_EMBED_LEVERAGE: u64 = 6;
