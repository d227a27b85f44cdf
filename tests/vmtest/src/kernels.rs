//! Which kernels the test bed knows, and where their images live.
//!
//! A *slot* is what the user asks for (`7.3.4`); the image used for it is
//! `<cache>/<version>/vmlinuz`, where `<version>` is the slot itself or, when that exact kernel
//! is no longer offered by Debian, the newest one of the same major.minor (see [`select_package`]).

use std::fmt;
use std::path::{Path, PathBuf};

/// The pinned kernels: one per signing protocol (P1, P1b, P2).
pub const PINNED: [&str; 3] = ["6.18.15", "7.2.13", "7.3.4"];

/// A kernel the tests can run on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A Debian cloud kernel booted in a VM, named by its upstream version (`7.3.4`).
    Vm(Version),
    /// This machine's own kernel, tests run natively.
    Host,
}

impl Target {
    /// The name used in summaries and in `BPFSIGN_TEST_KERNEL` (`7.3.4`, `host`).
    pub fn name(&self) -> String {
        match self {
            Target::Vm(v) => v.to_string(),
            Target::Host => "host".into(),
        }
    }

    /// Parses a comma-separated `--kernel` value: versions, `host`, `all`.
    pub fn parse_list(s: &str) -> Result<Vec<Target>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "all" => {
                    out.extend(
                        PINNED
                            .iter()
                            .map(|v| Target::Vm(v.parse().expect("pinned versions parse"))),
                    );
                    out.push(Target::Host);
                }
                "host" => out.push(Target::Host),
                v => out.push(Target::Vm(v.parse().map_err(|e| {
                    format!(
                        "--kernel {v}: {e}; expected one of {}, host, all",
                        PINNED.join(", ")
                    )
                })?)),
            }
        }
        if out.is_empty() {
            return Err(format!(
                "--kernel needs a value: one of {}, host, all",
                PINNED.join(", ")
            ));
        }
        let mut seen = Vec::new();
        out.retain(|t| {
            let new = !seen.contains(t);
            seen.push(t.clone());
            new
        });
        Ok(out)
    }
}

/// An upstream kernel version `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major number (7 in 7.3.4).
    pub major: u32,
    /// Minor number (3 in 7.3.4).
    pub minor: u32,
    /// Patch level (4 in 7.3.4).
    pub patch: u32,
}

impl std::str::FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut it = s.split('.');
        let mut num = || -> Result<u32, String> {
            it.next()
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("`{s}` is not a kernel version like 7.3.4"))
        };
        let v = Version {
            major: num()?,
            minor: num()?,
            patch: num()?,
        };
        if it.next().is_some() {
            return Err(format!("`{s}` is not a kernel version like 7.3.4"));
        }
        Ok(v)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Version {
    /// Whether `other` has the same major.minor (the fallback rule).
    pub fn same_series(&self, other: &Version) -> bool {
        self.major == other.major && self.minor == other.minor
    }
}

/// A Debian cloud kernel package name, split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelPackage {
    /// Full package name, e.g. `linux-binary-7.3.4+deb13-cloud-amd64`.
    pub name: String,
    /// `image` or `binary` (since 7.x the vmlinuz is in `linux-binary-*`, `linux-image-*` is a meta package).
    pub kind: String,
    /// Upstream version.
    pub version: Version,
    /// The Debian release suffix number (`13` in `+deb13`), 0 when absent.
    pub deb: u32,
    /// Kernel release (`uname -r`), e.g. `7.3.4+deb13-cloud-amd64`.
    pub release: String,
}

/// Parses `linux-{image,binary}-X.Y.Z[+debN]-cloud-amd64`; anything else (meta, -dbg, -unsigned) is `None`.
pub fn parse_package(name: &str) -> Option<KernelPackage> {
    let (kind, rest) = name
        .strip_prefix("linux-image-")
        .map(|r| ("image", r))
        .or_else(|| name.strip_prefix("linux-binary-").map(|r| ("binary", r)))?;
    let release = rest.to_string();
    let body = rest.strip_suffix("-cloud-amd64")?;
    let (ver, deb) = match body.split_once('+') {
        Some((v, d)) => (v, d.strip_prefix("deb")?.parse().ok()?),
        None => (body, 0),
    };
    let version = ver.parse().ok()?;
    Some(KernelPackage {
        name: name.to_string(),
        kind: kind.to_string(),
        version,
        deb,
        release,
    })
}

/// The package to download for `wanted`, chosen from the offered package names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// The package holding `/boot/vmlinuz-<release>`.
    pub package: KernelPackage,
    /// Other candidates for the same release, tried when `package` holds no vmlinuz.
    pub alternatives: Vec<KernelPackage>,
    /// True when `wanted` itself is not offered and a newer/older patch level was chosen.
    pub fallback: bool,
}

/// Picks the package for `wanted` from `offered` names: the exact version when offered, else the
/// newest version of the same major.minor. Among packages of one release `linux-binary-*` comes
/// first (it holds the image since 7.x), then `linux-image-*`; the highest `+debN` wins.
pub fn select_package<S: AsRef<str>>(wanted: &Version, offered: &[S]) -> Option<Selection> {
    let mut cands: Vec<KernelPackage> = offered
        .iter()
        .filter_map(|n| parse_package(n.as_ref().trim()))
        .filter(|p| p.version.same_series(wanted))
        .collect();
    let exact = cands.iter().any(|p| p.version == *wanted);
    let chosen = if exact {
        *wanted
    } else {
        cands.iter().map(|p| p.version).max()?
    };
    cands.retain(|p| p.version == chosen);
    let best_deb = cands.iter().map(|p| p.deb).max()?;
    cands.retain(|p| p.deb == best_deb);
    cands.sort_by_key(|p| (p.kind != "binary", p.name.clone()));
    cands.dedup_by(|a, b| a.name == b.name);
    let mut it = cands.into_iter();
    let package = it.next()?;
    Some(Selection {
        package,
        alternatives: it.collect(),
        fallback: !exact,
    })
}

/// The image of `wanted` in `dir`: `<dir>/<wanted>/vmlinuz`, else the newest
/// `<dir>/<same major.minor>.*/vmlinuz` (a fallback download stores under its real version).
pub fn find_cached(dir: &Path, wanted: &Version) -> Option<(Version, PathBuf)> {
    let exact = dir.join(wanted.to_string()).join("vmlinuz");
    if exact.is_file() {
        return Some((*wanted, exact));
    }
    let mut best: Option<(Version, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let Some(v) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<Version>().ok())
        else {
            continue;
        };
        let img = entry.path().join("vmlinuz");
        if v.same_series(wanted) && img.is_file() && best.as_ref().is_none_or(|(b, _)| v > *b) {
            best = Some((v, img));
        }
    }
    best
}

/// Checks that `data` starts like an x86 bzImage (`HdrS` at 0x202), the format qemu `-kernel` boots.
pub fn looks_like_bzimage(data: &[u8]) -> bool {
    data.len() > 0x206 && &data[0x202..0x206] == b"HdrS"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    /// Names as `apt-cache pkgnames linux-` prints them for the newer suites (sample).
    const SAMPLE: &[&str] = &[
        "linux-image-6.18.15+deb13-cloud-amd64",
        "linux-image-6.18.15+deb13-cloud-amd64-dbg",
        "linux-image-6.18.15+deb13-cloud-amd64-unsigned",
        "linux-image-6.18.9+deb13-cloud-amd64",
        "linux-image-6.18.15+deb13-amd64",
        "linux-image-7.3.4+deb13-cloud-amd64",
        "linux-binary-7.3.4+deb13-cloud-amd64",
        "linux-base-7.3.4+deb13-cloud-amd64",
        "linux-image-7.2.13+deb14-cloud-amd64",
        "linux-binary-7.2.13+deb14-cloud-amd64",
        "linux-binary-7.2.12+deb13-cloud-amd64",
        "linux-image-cloud-amd64",
        "linux-image-6.12.48+deb13-cloud-amd64",
    ];

    #[test]
    fn parses_package_names() {
        let p = parse_package("linux-binary-7.3.4+deb13-cloud-amd64").unwrap();
        assert_eq!(
            (p.kind.as_str(), p.version, p.deb),
            ("binary", v("7.3.4"), 13)
        );
        assert_eq!(p.release, "7.3.4+deb13-cloud-amd64");
        assert!(parse_package("linux-image-7.3.4+deb13-cloud-amd64-dbg").is_none());
        assert!(parse_package("linux-image-cloud-amd64").is_none());
        assert!(parse_package("linux-headers-7.3.4+deb13-cloud-amd64").is_none());
        assert!(parse_package("linux-image-7.3.4+deb13-amd64").is_none());
        assert_eq!(
            parse_package("linux-image-6.1.5-cloud-amd64").unwrap().deb,
            0
        );
    }

    #[test]
    fn exact_version_prefers_linux_binary() {
        let s = select_package(&v("7.3.4"), SAMPLE).unwrap();
        assert!(!s.fallback);
        assert_eq!(s.package.name, "linux-binary-7.3.4+deb13-cloud-amd64");
        assert_eq!(
            s.alternatives[0].name,
            "linux-image-7.3.4+deb13-cloud-amd64"
        );
    }

    #[test]
    fn exact_6_18_uses_linux_image() {
        let s = select_package(&v("6.18.15"), SAMPLE).unwrap();
        assert!(!s.fallback);
        assert_eq!(s.package.name, "linux-image-6.18.15+deb13-cloud-amd64");
        assert!(s.alternatives.is_empty());
    }

    #[test]
    fn falls_back_to_newest_of_same_series() {
        let s = select_package(&v("6.18.12"), SAMPLE).unwrap();
        assert!(s.fallback);
        assert_eq!(s.package.version, v("6.18.15"));
        let s = select_package(&v("7.2.99"), SAMPLE).unwrap();
        assert!(s.fallback);
        assert_eq!(s.package.name, "linux-binary-7.2.13+deb14-cloud-amd64");
    }

    #[test]
    fn highest_deb_suffix_wins_for_one_version() {
        let offered = [
            "linux-image-7.2.13+deb13-cloud-amd64",
            "linux-image-7.2.13+deb14-cloud-amd64",
        ];
        let s = select_package(&v("7.2.13"), &offered).unwrap();
        assert_eq!(s.package.deb, 14);
    }

    #[test]
    fn nothing_of_that_series() {
        assert!(select_package(&v("7.4.1"), SAMPLE).is_none());
        assert!(select_package::<&str>(&v("7.3.4"), &[]).is_none());
    }

    #[test]
    fn parses_kernel_lists() {
        assert_eq!(Target::parse_list("all").unwrap().len(), 4);
        assert_eq!(
            Target::parse_list("7.3.4,host,7.3.4").unwrap(),
            vec![Target::Vm(v("7.3.4")), Target::Host]
        );
        assert!(Target::parse_list("7.3").unwrap_err().contains("7.3.4"));
        assert!(Target::parse_list("").is_err());
        assert!("1.2.3.4".parse::<Version>().is_err());
        assert!("a.b.c".parse::<Version>().is_err());
    }

    #[test]
    fn finds_cached_images_with_fallback() {
        let d = tempfile::tempdir().unwrap();
        for ver in ["7.3.5", "7.3.6", "7.2.13"] {
            std::fs::create_dir_all(d.path().join(ver)).unwrap();
            std::fs::write(d.path().join(ver).join("vmlinuz"), b"x").unwrap();
        }
        std::fs::create_dir_all(d.path().join("7.3.9")).unwrap(); // no image: ignored
        assert_eq!(find_cached(d.path(), &v("7.2.13")).unwrap().0, v("7.2.13"));
        assert_eq!(find_cached(d.path(), &v("7.3.4")).unwrap().0, v("7.3.6"));
        assert!(find_cached(d.path(), &v("6.18.15")).is_none());
    }

    #[test]
    fn bzimage_magic() {
        let mut img = vec![0u8; 0x300];
        assert!(!looks_like_bzimage(&img));
        img[0x202..0x206].copy_from_slice(b"HdrS");
        assert!(looks_like_bzimage(&img));
    }
}
