//! Downloads Debian cloud kernels (never installs them) into the kernel cache.
//!
//! apt runs with a private state directory (`<cache>/.apt`: sources, lists, package cache) and a
//! sources file for the newer suites (sid, trixie, trixie-backports) whose mirror is read from the
//! machine's own /etc/apt configuration; nothing under /etc/apt or /var/lib/apt is written.
//! The package is unpacked with `dpkg-deb`, and only `<cache>/<version>/vmlinuz` is kept.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use crate::bail;
use crate::error::{Context, Error, Result};
use crate::kernels::{self, Selection, Version};

/// The suites searched for kernels.
pub const SUITES: &str = "sid trixie trixie-backports";
/// Fallback keyring when the system's sources name none.
const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// Package lists older than this are refreshed before a download.
const LISTS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// The Debian mirror configured on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirror {
    /// The archive URI (as written in /etc/apt).
    pub uri: String,
    /// The keyring named by `Signed-By`, if it is a file path.
    pub signed_by: Option<String>,
}

/// Finds the machine's Debian mirror: the deb822 `debian.sources` first, then `sources.list`.
pub fn system_mirror() -> Result<Mirror> {
    let deb822 = Path::new("/etc/apt/sources.list.d/debian.sources");
    let list = Path::new("/etc/apt/sources.list");
    if let Some(m) = fs::read_to_string(deb822)
        .ok()
        .and_then(|s| mirror_from_deb822(&s))
    {
        return Ok(m);
    }
    if let Some(m) = fs::read_to_string(list)
        .ok()
        .and_then(|s| mirror_from_sources_list(&s))
    {
        return Ok(m);
    }
    Err(Error(format!(
        "no Debian mirror found in {} or {}: configure apt, or point BPFSIGN_KERNEL_DIR at a kernel cache \
         laid out as <dir>/<version>/vmlinuz",
        deb822.display(),
        list.display()
    )))
}

/// The first enabled `deb` stanza of a deb822 sources file that is not only a `-security` suite.
pub fn mirror_from_deb822(text: &str) -> Option<Mirror> {
    for stanza in text.split("\n\n").flat_map(|s| s.split("\r\n\r\n")) {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in stanza.lines() {
            let l = line.trim_end();
            if l.trim_start().starts_with('#') || l.trim().is_empty() {
                continue;
            }
            if l.starts_with([' ', '\t']) {
                if let Some(last) = fields.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(l.trim());
                }
            } else if let Some((k, v)) = l.split_once(':') {
                fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if !get("types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb")) {
            continue;
        }
        if get("enabled").is_some_and(|e| e.eq_ignore_ascii_case("no")) {
            continue;
        }
        if get("suites").is_some_and(only_security) {
            continue;
        }
        let Some(uri) = get("uris").and_then(|u| u.split_whitespace().next()) else {
            continue;
        };
        let signed_by = get("signed-by")
            .filter(|s| s.starts_with('/') && !s.contains(' '))
            .map(str::to_string);
        return Some(Mirror {
            uri: uri.to_string(),
            signed_by,
        });
    }
    None
}

/// The first `deb` line of a one-line-style sources.list that is not a `-security` suite.
pub fn mirror_from_sources_list(text: &str) -> Option<Mirror> {
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line
            .strip_prefix("deb ")
            .or_else(|| line.strip_prefix("deb\t"))
        else {
            continue;
        };
        let rest = rest.trim_start();
        let (opts, rest) = match rest.strip_prefix('[') {
            Some(r) => match r.split_once(']') {
                Some((o, r)) => (o, r),
                None => continue,
            },
            None => ("", rest),
        };
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        if only_security(suite) {
            continue;
        }
        let signed_by = opts
            .split_whitespace()
            .find_map(|o| o.strip_prefix("signed-by="))
            .filter(|p| p.starts_with('/'))
            .map(str::to_string);
        return Some(Mirror {
            uri: uri.to_string(),
            signed_by,
        });
    }
    None
}

fn only_security(suites: &str) -> bool {
    let mut any = false;
    for s in suites.split_whitespace() {
        any = true;
        if !s.ends_with("-security") && !s.ends_with("/updates") {
            return false;
        }
    }
    any
}

/// The deb822 sources text for the newer suites on `mirror`.
pub fn sources_text(mirror: &Mirror) -> String {
    let keyring = mirror.signed_by.clone().or_else(|| {
        Path::new(DEFAULT_KEYRING)
            .exists()
            .then(|| DEFAULT_KEYRING.to_string())
    });
    let mut s = format!(
        "# written by bpfsign-vmtest: private apt state for downloading kernels\n\
         Types: deb\nURIs: {}\nSuites: {SUITES}\nComponents: main\nArchitectures: amd64\n",
        mirror.uri
    );
    if let Some(k) = keyring {
        s.push_str(&format!("Signed-By: {k}\n"));
    }
    s
}

/// apt with a private state directory.
pub struct PrivateApt {
    dir: PathBuf,
}

impl PrivateApt {
    /// Prepares `<dir>/sources`, `<dir>/lists`, `<dir>/cache` for the newer suites on the system mirror.
    pub fn new(dir: &Path) -> Result<Self> {
        let mirror = system_mirror()?;
        for sub in ["sources", "lists/partial", "cache/archives/partial"] {
            fs::create_dir_all(dir.join(sub))
                .ctx(|| format!("creating {}", dir.join(sub).display()))?;
        }
        let src = dir.join("sources/newer.sources");
        let text = sources_text(&mirror);
        if fs::read_to_string(&src).ok().as_deref() != Some(text.as_str()) {
            fs::write(&src, text).ctx(|| format!("writing {}", src.display()))?;
            // New mirror or suites: the old lists no longer match.
            let _ = fs::remove_file(dir.join("lists/.updated"));
        }
        Ok(PrivateApt {
            dir: dir.to_path_buf(),
        })
    }

    fn options(&self) -> Vec<String> {
        let d = self.dir.display();
        let mut o = vec![
            "-o".into(),
            "Dir::Etc::sourcelist=/dev/null".into(),
            "-o".into(),
            format!("Dir::Etc::sourceparts={d}/sources"),
            "-o".into(),
            format!("Dir::State::Lists={d}/lists"),
            "-o".into(),
            format!("Dir::Cache={d}/cache"),
            "-o".into(),
            "Acquire::Languages=none".into(),
        ];
        // As root apt drops to `_apt` for downloads, which cannot write a private 0700 tree.
        // SAFETY: geteuid takes no arguments and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            o.extend(["-o".into(), "APT::Sandbox::User=root".into()]);
        }
        o
    }

    fn stamp(&self) -> PathBuf {
        self.dir.join("lists/.updated")
    }

    /// Whether the package lists are missing or older than a day.
    pub fn lists_stale(&self) -> bool {
        let age = fs::metadata(self.stamp())
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok());
        age.is_none_or(|a| a > LISTS_MAX_AGE)
    }

    /// `apt-get update` on the private lists.
    pub fn update(&self) -> Result<()> {
        eprintln!(
            "vmtest: apt-get update ({SUITES}, private state in {})",
            self.dir.display()
        );
        let st = Command::new("apt-get")
            .args(self.options())
            .args(["update", "-qq"])
            .stdin(Stdio::null())
            // apt's progress goes to our stderr: stdout is reserved for results (paths).
            .stdout(std::io::stderr())
            .status()
            .ctx(|| "running apt-get (apt-get update): is this a Debian system?".into())?;
        if !st.success() {
            bail!(
                "apt-get update with private state in {} failed ({st}); see the apt messages above",
                self.dir.display()
            );
        }
        fs::write(self.stamp(), b"").ctx(|| format!("writing {}", self.stamp().display()))?;
        Ok(())
    }

    /// Names of real packages starting with `prefix` (`apt-cache pkgnames`).
    pub fn pkgnames(&self, prefix: &str) -> Result<Vec<String>> {
        let out = Command::new("apt-cache")
            .args(self.options())
            .args(["pkgnames", prefix])
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .ctx(|| "running apt-cache pkgnames".into())?;
        // pkgnames exits 1 when nothing matches.
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .collect())
    }

    /// Downloads `package` (a name, or `name/suite`) into `dir` (`apt-get download`) and
    /// returns the .deb path.
    pub fn download(&self, package: &str, dir: &Path) -> Result<PathBuf> {
        let st = Command::new("apt-get")
            .args(self.options())
            .args(["download", "-q", package])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(std::io::stderr())
            .status()
            .ctx(|| "running apt-get download".into())?;
        if !st.success() {
            bail!("apt-get download {package} failed ({st}); see the apt messages above");
        }
        let name = package.split('/').next().unwrap_or(package);
        let prefix = format!("{name}_");
        for e in fs::read_dir(dir)
            .ctx(|| format!("reading {}", dir.display()))?
            .flatten()
        {
            let n = e.file_name().to_string_lossy().to_string();
            if n.starts_with(&prefix) && n.ends_with(".deb") {
                return Ok(e.path());
            }
        }
        bail!(
            "apt-get download {package} succeeded but left no {prefix}*.deb in {}",
            dir.display()
        )
    }
}

/// Result of [`fetch`].
#[derive(Debug)]
pub struct Fetched {
    /// The version actually stored (differs from the wanted one after a fallback).
    pub version: Version,
    /// `<dir>/<version>/vmlinuz`.
    pub image: PathBuf,
    /// The package it came from.
    pub package: String,
    /// True when the wanted version was not offered.
    pub fallback: bool,
}

/// Downloads the cloud kernel `wanted` (or the newest of its major.minor) into `<dir>/<version>/vmlinuz`.
pub fn fetch(dir: &Path, wanted: &Version, force_update: bool) -> Result<Fetched> {
    fs::create_dir_all(dir).ctx(|| format!("creating kernel cache {}", dir.display()))?;
    let apt = PrivateApt::new(&dir.join(".apt"))?;
    if force_update || apt.lists_stale() {
        apt.update()?;
    }
    let mut sel = select(&apt, wanted)?;
    if sel.is_none() && !force_update {
        apt.update()?;
        sel = select(&apt, wanted)?;
    }
    let Some(sel) = sel else {
        bail!(
            "no Debian cloud kernel {}.{}.y (linux-binary-/linux-image-{}.{}.*-cloud-amd64) is offered in {SUITES}",
            wanted.major,
            wanted.minor,
            wanted.major,
            wanted.minor
        );
    };
    let version = sel.package.version;
    if sel.fallback {
        eprintln!(
            "vmtest: kernel {wanted} is no longer offered; using the newest {}.{}.y instead: {} ({})",
            wanted.major, wanted.minor, version, sel.package.name
        );
    }
    let work = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(dir)
        .ctx(|| format!("creating a download directory in {}", dir.display()))?;
    let mut tried = Vec::new();
    for pkg in std::iter::once(&sel.package).chain(&sel.alternatives) {
        eprintln!("vmtest: downloading {} (kernel {})", pkg.name, pkg.release);
        let deb = apt.download(&pkg.name, work.path())?;
        let unpack = work.path().join(format!("unpack-{}", pkg.kind));
        match extract_vmlinuz(&deb, &unpack)? {
            Some(img) => {
                let data = fs::read(&img).ctx(|| format!("reading {}", img.display()))?;
                if !kernels::looks_like_bzimage(&data) {
                    bail!("{} in {} is not a bzImage", img.display(), deb.display());
                }
                let dest_dir = dir.join(version.to_string());
                fs::create_dir_all(&dest_dir).ctx(|| format!("creating {}", dest_dir.display()))?;
                let dest = dest_dir.join("vmlinuz");
                // Same file system: the rename makes the image appear atomically.
                fs::rename(&img, &dest)
                    .ctx(|| format!("moving the image to {}", dest.display()))?;
                return Ok(Fetched {
                    version,
                    image: dest,
                    package: pkg.name.clone(),
                    fallback: sel.fallback,
                });
            }
            None => tried.push(pkg.name.clone()),
        }
    }
    bail!(
        "none of the packages {} holds a kernel image ({})",
        tried.join(", "),
        IMAGE_PATTERNS.join(", ")
    )
}

fn select(apt: &PrivateApt, wanted: &Version) -> Result<Option<Selection>> {
    let mut names = Vec::new();
    for kind in ["binary", "image"] {
        names.extend(apt.pkgnames(&format!("linux-{kind}-{}.{}.", wanted.major, wanted.minor))?);
    }
    Ok(kernels::select_package(wanted, &names))
}

/// Where packages keep the image: `/boot/vmlinuz-<release>` (6.x `linux-image-*`) or
/// `/usr/lib/modules/<release>/vmlinuz` (7.x `linux-binary-*`).
const IMAGE_PATTERNS: [&str; 3] = [
    "boot/vmlinuz-*",
    "usr/lib/modules/*/vmlinuz",
    "lib/modules/*/vmlinuz",
];

/// Unpacks only the kernel image of `deb` into `out` (`dpkg-deb --fsys-tarfile | tar`; the
/// modules are skipped). `None` when the package holds no image (a meta package).
fn extract_vmlinuz(deb: &Path, out: &Path) -> Result<Option<PathBuf>> {
    fs::create_dir_all(out).ctx(|| format!("creating {}", out.display()))?;
    let mut dpkg = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .ctx(|| "running dpkg-deb (install dpkg)".into())?;
    let tar_out = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(out)
        .args(["--wildcards", "--no-anchored"])
        .args(IMAGE_PATTERNS)
        .stdin(dpkg.stdout.take().expect("piped"))
        .stderr(Stdio::piped())
        .output()
        .ctx(|| "running tar".into())?;
    let dst = dpkg.wait().ctx(|| "waiting for dpkg-deb".into())?;
    if !dst.success() {
        bail!("dpkg-deb --fsys-tarfile {} failed ({dst})", deb.display());
    }
    let found = find_image(out);
    if found.is_none() && !tar_out.status.success() {
        let msg = String::from_utf8_lossy(&tar_out.stderr);
        if msg
            .lines()
            .any(|l| !l.contains("Not found in archive") && !l.contains("Exiting with failure"))
        {
            bail!("unpacking {} failed: {}", deb.display(), msg.trim());
        }
    }
    Ok(found)
}

/// The unpacked image under `root`, in the order of [`IMAGE_PATTERNS`].
fn find_image(root: &Path) -> Option<PathBuf> {
    let files = |dir: PathBuf| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let boot = files(root.join("boot")).into_iter().find(|p| {
        p.is_file()
            && p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
    });
    boot.or_else(|| {
        ["usr/lib/modules", "lib/modules"]
            .iter()
            .flat_map(|m| files(root.join(m)))
            .map(|d| d.join("vmlinuz"))
            .find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_first_main_stanza() {
        let text = "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n\
                    Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n\
                    Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n";
        let m = mirror_from_deb822(text).unwrap();
        assert_eq!(m.uri, "http://mirror.example/debian");
        assert_eq!(
            m.signed_by.as_deref(),
            Some("/usr/share/keyrings/debian-archive-keyring.gpg")
        );
    }

    #[test]
    fn deb822_skips_security_disabled_and_deb_src() {
        let text = "Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\n\n\
                    Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n\
                    Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\n\n\
                    Types: deb deb-src\nURIs: http://a.example/debian\n  http://b.example/debian\nSuites: bookworm\n\
                    Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n";
        let m = mirror_from_deb822(text).unwrap();
        assert_eq!(m.uri, "http://a.example/debian");
        assert_eq!(m.signed_by, None, "inline keys are not a path");
        assert_eq!(mirror_from_deb822("Types: deb\nSuites: x\n"), None);
    }

    #[test]
    fn sources_list_lines() {
        let text = "# deb http://old.example/debian buster main\n\
                    deb http://sec.example/debian-security bookworm-security main\n\
                    deb [arch=amd64 signed-by=/etc/k.gpg] http://m.example/debian bookworm main contrib\n";
        let m = mirror_from_sources_list(text).unwrap();
        assert_eq!(m.uri, "http://m.example/debian");
        assert_eq!(m.signed_by.as_deref(), Some("/etc/k.gpg"));
        let m = mirror_from_sources_list("deb http://m.example/debian bookworm main\n").unwrap();
        assert_eq!(m.signed_by, None);
        assert_eq!(
            mirror_from_sources_list("deb-src http://m.example/debian bookworm main\n"),
            None
        );
    }

    #[test]
    fn sources_file_names_the_newer_suites() {
        let m = Mirror {
            uri: "http://m.example/debian".into(),
            signed_by: Some("/k.gpg".into()),
        };
        let t = sources_text(&m);
        assert!(t.contains("URIs: http://m.example/debian\n"));
        assert!(t.contains("Suites: sid trixie trixie-backports\n"));
        assert!(t.contains("Signed-By: /k.gpg\n"));
    }

    #[test]
    fn finds_images_in_both_package_layouts() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(find_image(d.path()), None);
        let m = d.path().join("usr/lib/modules/7.3.4+deb13-cloud-amd64");
        fs::create_dir_all(&m).unwrap();
        fs::write(m.join("vmlinuz"), b"x").unwrap();
        assert_eq!(find_image(d.path()), Some(m.join("vmlinuz")));
        fs::create_dir_all(d.path().join("boot")).unwrap();
        fs::write(d.path().join("boot/config-6.18.15"), b"x").unwrap();
        fs::write(
            d.path().join("boot/vmlinuz-6.18.15+deb13-cloud-amd64"),
            b"x",
        )
        .unwrap();
        assert_eq!(
            find_image(d.path()),
            Some(d.path().join("boot/vmlinuz-6.18.15+deb13-cloud-amd64"))
        );
    }
}
