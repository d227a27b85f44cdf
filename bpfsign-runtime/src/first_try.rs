//! The signed loader a fresh process tries before probing (docs/protocol.md §7.10).
//!
//! Without a cached result, the first load of a process would pay the protocol probe: a
//! junk-signature `BPF_PROG_LOAD` and, on P1/P1b kernels, a walk of vmlinux BTF. Instead the
//! kernel release names the protocol to try first, and the load of that *signed* loader is the
//! probe, because a kernel accepts a signed loader only when it speaks its protocol:
//!
//! - P2: only a P2 kernel verifies a signature over `insns ‖ data`; P1/P1b kernels verify over
//!   `insns` and refuse it (EKEYREJECTED).
//! - P1b: the loader's 4-byte read of `map->excl` passes the verifier only where `struct
//!   bpf_map` has that field (EACCES on P1 and P2 kernels).
//! - P1: accepted by P1 *and* P1b kernels (refused by P2), so it is tried only when vmlinux BTF
//!   shows no `excl` — the same BTF test as the probe's, without the junk-signature load.
//!
//! The release only orders the attempts; it never decides. A first try that fails at or before
//! `BPF_PROG_LOAD` is discarded (nothing stays loaded) and the exact probe decides, so a
//! mislabelled or backported kernel costs one extra attempt, never a weaker protocol.

use std::io;

use crate::btf_scan::BtfBytes;
use crate::probe::btf_p1_family;
use crate::spec::Protocol;
use crate::timing::timed;

/// The protocol to try first and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FirstTry {
    /// The signed loader to load first.
    pub protocol: Protocol,
    /// The kernel release and, for P1, the BTF finding: recorded as the probe's evidence when the
    /// kernel accepts the loader.
    pub evidence: String,
}

/// The protocol a kernel `release` (as `uname -r` prints it) most likely speaks, by the upstream
/// version ranges of docs/protocol.md §3: `None` before 6.18 or when the release does not start
/// with `MAJOR.MINOR`. A hint only; see the module documentation.
pub(crate) fn release_hint(release: &str) -> Option<Protocol> {
    let (major, rest) = leading_number(release)?;
    let (minor, rest) = leading_number(rest.strip_prefix('.')?)?;
    let patch = rest
        .strip_prefix('.')
        .and_then(leading_number)
        .map_or(0, |(p, _)| p);
    Some(match (major, minor) {
        (m, _) if m > 7 => Protocol::P2,
        (7, n) if n >= 3 => Protocol::P2,
        (7, 2) => Protocol::P1b,
        (7, 1) if patch >= 5 => Protocol::P1b,
        (6, 18) if patch >= 40 => Protocol::P1b,
        (7, _) | (6, 18) | (6, 19) => Protocol::P1,
        _ => return None,
    })
}

/// The decimal number at the start of `s` and the rest of `s`.
fn leading_number(s: &str) -> Option<(u32, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// The first try for a kernel `release`, if the skeleton has that loader (`embedded`): P2 and
/// P1b as the release says; for a P1 release the vmlinux BTF test decides between P1 and P1b
/// (no first try when BTF is unusable: the probe's behavioural fallback then decides). BTF is
/// not read when neither P1 nor P1b is embedded.
pub(crate) fn first_try(
    release: &str,
    embedded: &dyn Fn(Protocol) -> bool,
    read_btf: impl FnOnce() -> io::Result<BtfBytes>,
) -> Option<FirstTry> {
    let hint = release_hint(release)?;
    let mut evidence = format!("kernel release {release}");
    let protocol = if hint == Protocol::P1 {
        if !embedded(Protocol::P1) && !embedded(Protocol::P1b) {
            return None;
        }
        let btf = timed("probe:btf-open", read_btf).map_err(|e| e.to_string());
        let (protocol, note) = btf_p1_family(btf).ok()?;
        evidence = format!("{evidence}; {note}");
        protocol
    } else {
        hint
    };
    embedded(protocol).then_some(FirstTry { protocol, evidence })
}

/// The running kernel's release (`uname(2)`), if it is valid UTF-8.
pub(crate) fn kernel_release() -> Option<String> {
    // SAFETY: an all-zero `utsname` is valid (arrays of c_char); uname only writes into it.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    let bytes: Vec<u8> = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf_scan::testing::btf;

    #[test]
    fn release_hints_follow_the_protocol_ranges() {
        let cases = [
            ("7.3.4+deb14-amd64", Some(Protocol::P2)),
            ("7.3", Some(Protocol::P2)),
            ("7.10.0-rc1", Some(Protocol::P2)),
            ("8.0.0", Some(Protocol::P2)),
            ("7.2.13+deb14-amd64", Some(Protocol::P1b)),
            ("7.2.0", Some(Protocol::P1b)),
            ("7.1.5-custom", Some(Protocol::P1b)),
            ("7.1.4", Some(Protocol::P1)),
            ("7.1", Some(Protocol::P1)),
            ("6.18.44+deb13-amd64", Some(Protocol::P1b)),
            ("6.18.40", Some(Protocol::P1b)),
            ("6.18.39", Some(Protocol::P1)),
            ("6.18.15+deb14-amd64", Some(Protocol::P1)),
            ("6.18", Some(Protocol::P1)),
            ("6.19.2", Some(Protocol::P1)),
            ("7.0.1", Some(Protocol::P1)),
            ("6.17.9", None),
            ("5.10.0-30-amd64", None),
            ("", None),
            ("linux-7.3", None),
            ("7", None),
            ("7.x", None),
        ];
        for (release, want) in cases {
            assert_eq!(release_hint(release), want, "{release:?}");
        }
    }

    #[test]
    fn p1_releases_consult_btf() {
        let all = |_: Protocol| true;
        let no_excl = || Ok(BtfBytes::from(btf("ops", 256, false)));
        let excl = || Ok(BtfBytes::from(btf("excl", 256, false)));
        let t = first_try("6.18.15", &all, no_excl).unwrap();
        assert_eq!(t.protocol, Protocol::P1);
        assert!(
            t.evidence.contains("6.18.15") && t.evidence.contains("no excl"),
            "{t:?}"
        );
        // A backported P1b kernel with an old version number: BTF says P1b.
        assert_eq!(
            first_try("6.18.15", &all, excl).unwrap().protocol,
            Protocol::P1b
        );
        // No usable BTF: no first try, the probe decides.
        let missing = || Err(io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(first_try("6.18.15", &all, missing), None);
        let junk = || Ok(BtfBytes::from(vec![1, 2, 3]));
        assert_eq!(first_try("6.18.15", &all, junk), None);
        // BTF says P1b but the skeleton has no P1b loader: no first try (the probe's P1
        // fallback applies).
        let no_p1b = |p: Protocol| p != Protocol::P1b;
        assert_eq!(first_try("6.18.15", &no_p1b, excl), None);
    }

    #[test]
    fn releases_do_not_read_btf_when_they_need_not() {
        let never = || -> io::Result<BtfBytes> { panic!("BTF must not be read") };
        let all = |_: Protocol| true;
        assert_eq!(
            first_try("7.3.4", &all, never).unwrap().protocol,
            Protocol::P2
        );
        assert_eq!(
            first_try("7.2.13", &all, never).unwrap().protocol,
            Protocol::P1b
        );
        assert_eq!(first_try("6.17.1", &all, never), None);
        // Only what the skeleton embeds is tried; without P1 and P1b, BTF is not read.
        let only_p2 = |p: Protocol| p == Protocol::P2;
        assert_eq!(first_try("7.2.13", &only_p2, never), None);
        assert_eq!(first_try("6.18.15", &only_p2, never), None);
        assert_eq!(
            first_try("7.3.4", &only_p2, never).unwrap().protocol,
            Protocol::P2
        );
    }

    #[test]
    fn this_kernel_has_a_release() {
        let r = kernel_release().expect("uname");
        assert!(!r.is_empty());
    }
}
