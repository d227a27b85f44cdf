//! CPU lists of `/sys/devices/system/cpu/{possible,online}` (`0-3,5`).

use std::io;
use std::sync::OnceLock;

/// Parses a kernel CPU list (`0-3,5,7-8\n`) into CPU numbers.
pub(crate) fn parse_list(s: &str) -> io::Result<Vec<u32>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad CPU list {s:?}"));
    let mut cpus = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: u32 = a.trim().parse().map_err(|_| bad())?;
        let b: u32 = b.trim().parse().map_err(|_| bad())?;
        if a > b || b - a > 65_536 {
            return Err(bad());
        }
        cpus.extend(a..=b);
    }
    if cpus.is_empty() {
        return Err(bad());
    }
    Ok(cpus)
}

/// Number of possible CPUs: one more than the highest CPU in
/// `/sys/devices/system/cpu/possible` (the kernel's `num_possible_cpus()` slot count of
/// per-CPU map values). Read once.
pub(crate) fn possible() -> io::Result<usize> {
    static POSSIBLE: OnceLock<Result<usize, (io::ErrorKind, String)>> = OnceLock::new();
    POSSIBLE
        .get_or_init(|| {
            std::fs::read_to_string("/sys/devices/system/cpu/possible")
                .and_then(|s| parse_list(&s))
                .map(|l| l.iter().max().map_or(1, |m| *m as usize + 1))
                .map_err(|e| (e.kind(), e.to_string()))
        })
        .clone()
        .map_err(|(k, m)| io::Error::new(k, m))
}

/// The online CPUs (`/sys/devices/system/cpu/online`), read on every call.
pub(crate) fn online() -> io::Result<Vec<u32>> {
    parse_list(&std::fs::read_to_string("/sys/devices/system/cpu/online")?)
}
