//! Peak memory.

/// Peak resident memory of this process (Linux `VmHWM`), in MiB; `None` where `/proc` does
/// not say.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn grows_with_touched_memory() {
        let before = super::peak_rss_mib().unwrap();
        let v = vec![1u8; 64 << 20];
        std::hint::black_box(&v);
        assert!(super::peak_rss_mib().unwrap() >= before.max(64.0));
    }
}
