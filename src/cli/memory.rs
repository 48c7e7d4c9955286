//! `--max-memory`: a budget that turns an impossible job into a clear error before anything
//! large is allocated (the dense `d×d` Newton matrix of a huge `d`, the `d²×d²` attention
//! Hessian, …). Default: 75% of the physical memory in `/proc/meminfo` (unlimited where that
//! file is missing).

use std::sync::OnceLock;

static BUDGET: OnceLock<u64> = OnceLock::new();

/// Fraction of physical memory used when `--max-memory` is not given.
const DEFAULT_FRACTION: f64 = 0.75;

/// Parse `8G`, `512M`, `100k`, `1.5GiB` or a plain byte count (powers of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num.trim().parse().map_err(|_| format!("{s:?} is not a size (examples: 8G, 512M, 1000000)"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0f64.powi(4),
        other => return Err(format!("unknown size unit {other:?} (use K, M, G or T)")),
    };
    let bytes = v * mult;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("{s:?} must be a positive size"));
    }
    Ok(bytes as u64)
}

/// `MemTotal` of `/proc/meminfo` in bytes.
fn physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Set the budget (once, from the command line).
pub fn set(max_memory: Option<u64>) {
    let budget =
        max_memory.or_else(|| physical_memory().map(|m| (m as f64 * DEFAULT_FRACTION) as u64)).unwrap_or(u64::MAX);
    let _ = BUDGET.set(budget);
}

/// The budget in bytes.
pub fn budget() -> u64 {
    *BUDGET.get_or_init(|| physical_memory().map_or(u64::MAX, |m| (m as f64 * DEFAULT_FRACTION) as u64))
}

/// `count` values of 8 bytes, or `None` when the product overflows.
pub fn f64s(count: &[usize]) -> Option<u64> {
    count.iter().try_fold(8u64, |acc, &c| acc.checked_mul(c as u64))
}

/// Refuse `what` when `bytes` (`None`: a size product that overflowed) exceeds the budget.
pub fn check(what: &str, bytes: Option<u64>) -> anyhow::Result<()> {
    let budget = budget();
    match bytes {
        Some(b) if b <= budget => Ok(()),
        Some(b) => anyhow::bail!(
            "{what} needs {} but --max-memory is {} (default: 75% of physical memory); raise it or shrink the job",
            human(b),
            human(budget)
        ),
        None => anyhow::bail!("{what}: the size overflows 64 bits"),
    }
}

fn human(b: u64) -> String {
    let g = b as f64 / (1024.0 * 1024.0 * 1024.0);
    if g >= 1.0 { format!("{g:.1} GiB") } else { format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_bad_ones_are_refused() {
        assert_eq!(parse_bytes("8G"), Ok(8 << 30));
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert!(parse_bytes("-1G").is_err());
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("3X").is_err());
        assert_eq!(f64s(&[1000, 1000]), Some(8_000_000));
        assert_eq!(f64s(&[usize::MAX, 2]), None);
    }
}
