//! The resident-set measurements of the large-artifact tests (Linux: `/proc/self`), and the size
//! they move.

/// The most the resident set may grow while a large artifact is written or read.
pub(crate) const LIMIT: u64 = 100 << 20;

/// The size `ZENML_TEST_LARGE_ARTIFACT` asks for (default 1G; `256M`, bytes, …).
pub(crate) fn requested_size() -> u64 {
    let Ok(text) = std::env::var("ZENML_TEST_LARGE_ARTIFACT") else {
        return 1 << 30;
    };
    let text = text.trim().to_ascii_uppercase();
    let (digits, unit) = match text.char_indices().last() {
        Some((i, 'K')) => (&text[..i], 1 << 10),
        Some((i, 'M')) => (&text[..i], 1 << 20),
        Some((i, 'G')) => (&text[..i], 1 << 30),
        _ => (text.as_str(), 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .unwrap_or_else(|| panic!("ZENML_TEST_LARGE_ARTIFACT=`{text}` is not a size"))
}

fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("a number of kB");
    kib * 1024
}

/// Runs `f` and returns how much the peak resident set grew over the resident set before it.
pub(crate) fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, u64) {
    // Resets the peak to the current resident set; where the kernel refuses, the peak so far of
    // this young process is a stricter baseline anyway.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_bytes("VmRSS:");
    let out = f();
    (out, status_bytes("VmHWM:").saturating_sub(before))
}
