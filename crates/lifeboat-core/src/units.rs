//! Quantities for people: byte counts in binary units, counted words. A
//! leaf module, so jobs and notifications format the same way without
//! importing each other.

const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// `bytes` in binary units with `decimals` places: "3.0 MiB". The unit is
/// chosen after rounding, so 1,048,575 bytes read "1.0 MiB", never "1024.0 KiB".
pub fn human_bytes(bytes: u64, decimals: usize) -> String {
    let scale = 10f64.powi(decimals as i32);
    let rounded = |value: f64| (value * scale).round() / scale;
    let mut value = bytes as f64;
    let mut unit = 0;
    while rounded(value) >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.decimals$} {}", UNITS[unit])
    }
}

/// "1 pack", "3 packs" (for words whose plural takes an s).
pub fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::{human_bytes, plural};

    #[test]
    fn counts_read_in_the_singular_for_one() {
        assert_eq!(plural(0, "pack"), "0 packs");
        assert_eq!(plural(1, "snapshot"), "1 snapshot");
        assert_eq!(plural(2, "problem"), "2 problems");
    }

    #[test]
    fn bytes_read_in_the_unit_that_fits_after_rounding() {
        assert_eq!(human_bytes(0, 1), "0 B");
        assert_eq!(human_bytes(1023, 1), "1023 B");
        assert_eq!(human_bytes(1024, 1), "1.0 KiB");
        assert_eq!(human_bytes(1536, 2), "1.50 KiB");
        assert_eq!(human_bytes(1_048_575, 1), "1.0 MiB");
        assert_eq!(human_bytes(1_048_575, 2), "1.00 MiB");
        assert_eq!(human_bytes(1_048_000, 1), "1023.4 KiB");
        assert_eq!(human_bytes(3 << 30, 1), "3.0 GiB");
        assert_eq!(human_bytes(u64::MAX, 1), "16777216.0 TiB");
    }
}
