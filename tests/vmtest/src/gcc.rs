//! `cargo vmtest fetch-gcc-bpf`: the project's own GCC ≥ 14 for BPF, without installing anything.
//!
//! Debian bookworm's gcc-bpf 12 emits BTF the kernel rejects (BTF_LOAD → ENOTSUPP); trixie's
//! gcc-bpf 14 works. This downloads trixie's gcc-bpf, binutils-bpf and the libraries they need
//! with the same private apt state as the kernel download ([`crate::fetch::PrivateApt`]: mirror
//! read from /etc/apt, nothing installed, system apt untouched), unpacks them with `dpkg-deb -x`
//! into `<dir>/root` and writes `<dir>/bin/bpf-unknown-none-gcc`: a wrapper that runs trixie's
//! `bpf-gcc` through trixie's own dynamic loader and C library, with `-B` pointing at wrapped
//! `cc1` and `as` (which need the same treatment). The wrappers find the tree relative to
//! themselves, so the directory can be moved.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bail;
use crate::error::{Context, Result};
use crate::fetch::PrivateApt;

/// The Debian suite the compiler comes from.
pub const SUITE: &str = "trixie";
/// The packages unpacked: the compiler, its assembler, and the libraries they link.
pub const PACKAGES: [&str; 9] = [
    "gcc-bpf",
    "binutils-bpf",
    "libc6",
    "libgmp10",
    "libmpc3",
    "libmpfr6",
    "libzstd1",
    "zlib1g",
    "libjansson4",
];
/// The wrapper, relative to the directory.
pub const WRAPPER: &str = "bin/bpf-unknown-none-gcc";
/// Oldest GCC whose BTF the kernel accepts.
const MIN_MAJOR: u32 = 14;
/// Multiarch library directory and dynamic loader of trixie's amd64 C library.
const LIBDIR: &str = "usr/lib/x86_64-linux-gnu";
const LDSO: &str = "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";

/// The default directory: `tests/vmtest/cache/gcc-bpf` in the workspace (gitignored).
pub fn default_dir(workspace_root: &Path) -> PathBuf {
    workspace_root.join("tests/vmtest/cache/gcc-bpf")
}

/// What [`fetch_gcc`] left in place.
#[derive(Debug)]
pub struct GccBpf {
    /// `<dir>/bin/bpf-unknown-none-gcc`.
    pub wrapper: PathBuf,
    /// Its `--version` first line.
    pub version: String,
    /// Whether it was downloaded now (false: already there and working).
    pub fetched: bool,
}

/// Makes `<dir>/bin/bpf-unknown-none-gcc` a working GCC ≥ 14 for BPF: keeps a working one
/// unless `update`, else downloads and unpacks trixie's packages and writes the wrappers.
pub fn fetch_gcc(dir: &Path, update: bool) -> Result<GccBpf> {
    if std::env::consts::ARCH != "x86_64" {
        bail!(
            "fetch-gcc-bpf unpacks Debian's amd64 packages; on {} install GCC ≥ {MIN_MAJOR} for BPF \
             (bpf-unknown-none-gcc) yourself and point BPFSIGN_GCC_BPF at it",
            std::env::consts::ARCH
        );
    }
    let wrapper = dir.join(WRAPPER);
    if !update && wrapper.is_file() {
        match check(&wrapper) {
            Ok(version) => {
                return Ok(GccBpf {
                    wrapper,
                    version,
                    fetched: false,
                })
            }
            Err(e) => eprintln!(
                "vmtest: {} does not work ({e}); fetching it again",
                wrapper.display()
            ),
        }
    }
    fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .ctx(|| format!("resolving {}", dir.display()))?;
    let apt = PrivateApt::new(&dir.join(".apt"))?;
    if update || apt.lists_stale() {
        apt.update()?;
    }
    let debs = dir.join("debs");
    let root = dir.join("root");
    for d in [&debs, &root] {
        if d.exists() {
            fs::remove_dir_all(d).ctx(|| format!("removing the old {}", d.display()))?;
        }
        fs::create_dir_all(d).ctx(|| format!("creating {}", d.display()))?;
    }
    for pkg in PACKAGES {
        eprintln!("vmtest: downloading {pkg}/{SUITE}");
        let deb = apt.download(&format!("{pkg}/{SUITE}"), &debs)?;
        let st = Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(&root)
            .status()
            .ctx(|| "running dpkg-deb (install dpkg)".into())?;
        if !st.success() {
            bail!(
                "dpkg-deb -x {} {} failed ({st})",
                deb.display(),
                root.display()
            );
        }
    }
    write_wrappers(&dir, &root)?;
    let version = check(&wrapper)?;
    // The unpacked tree is all that is needed.
    fs::remove_dir_all(&debs).ctx(|| format!("removing {}", debs.display()))?;
    Ok(GccBpf {
        wrapper,
        version,
        fetched: true,
    })
}

/// The highest-versioned `usr/lib/gcc/bpf/<version>/cc1` under `root`, relative to it.
fn find_cc1(root: &Path) -> Result<String> {
    let base = root.join("usr/lib/gcc/bpf");
    let mut versions: Vec<(Vec<u32>, String)> = fs::read_dir(&base)
        .ctx(|| format!("reading {} (is gcc-bpf unpacked?)", base.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|v| base.join(v).join("cc1").is_file())
        .map(|v| (v.split('.').map(|n| n.parse().unwrap_or(0)).collect(), v))
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, v)) => Ok(format!("usr/lib/gcc/bpf/{v}/cc1")),
        None => bail!("no usr/lib/gcc/bpf/*/cc1 in {}", root.display()),
    }
}

/// A `/bin/sh` script that runs `target` (relative to `<dir>/root`) with trixie's loader and
/// libraries; `<dir>` is found from the script's own location (`<dir>/<sub>/<name>`).
fn wrapper_script(target: &str, extra: &str) -> String {
    format!(
        "#!/bin/sh\n\
         # Written by `cargo vmtest fetch-gcc-bpf`: runs Debian {SUITE}'s {target} with its own C library.\n\
         D=$(cd \"$(dirname \"$0\")/..\" && pwd)\n\
         exec \"$D/root/{LDSO}\" --library-path \"$D/root/{LIBDIR}\" \"$D/root/{target}\"{extra} \"$@\"\n"
    )
}

fn write_script(path: &Path, text: &str) -> Result<()> {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p).ctx(|| format!("creating {}", p.display()))?;
    }
    fs::write(path, text).ctx(|| format!("writing {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .ctx(|| format!("chmod {}", path.display()))
}

fn write_wrappers(dir: &Path, root: &Path) -> Result<()> {
    for need in [LDSO, "usr/bin/bpf-gcc", "usr/lib/bpf/bin/as"] {
        if !root.join(need).exists() {
            bail!(
                "{} is missing after unpacking {}",
                root.join(need).display(),
                PACKAGES.join(", ")
            );
        }
    }
    let cc1 = find_cc1(root)?;
    write_script(&dir.join("libexec/cc1"), &wrapper_script(&cc1, ""))?;
    write_script(
        &dir.join("libexec/as"),
        &wrapper_script("usr/lib/bpf/bin/as", ""),
    )?;
    // GCC runs the programs it finds through -B first: the wrapped cc1 and as.
    write_script(
        &dir.join(WRAPPER),
        &wrapper_script("usr/bin/bpf-gcc", " -B\"$D/libexec/\""),
    )
}

/// Runs the wrapper: `--version` and `-dumpversion` must show GCC ≥ 14.
/// Runs `cmd`, retrying a few times on ETXTBSY: a script written just before (as the wrappers
/// are) can still be open for writing in a child that another thread forked and has not yet
/// exec'd, which makes exec fail with "Text file busy" for a moment.
fn output_retrying_etxtbsy(cmd: &mut Command) -> std::io::Result<std::process::Output> {
    let mut tries = 0;
    loop {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 20 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            r => return r,
        }
    }
}

fn check(wrapper: &Path) -> Result<String> {
    let run = |arg: &str| -> Result<String> {
        let out = output_retrying_etxtbsy(Command::new(wrapper).arg(arg))
            .ctx(|| format!("running {} {arg}", wrapper.display()))?;
        if !out.status.success() {
            bail!(
                "{} {arg} failed ({}): {}",
                wrapper.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let version = run("--version")?.lines().next().unwrap_or("").to_string();
    let dump = run("-dumpversion")?;
    let major: u32 = dump
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < MIN_MAJOR {
        bail!(
            "{} is GCC {dump} ({version}); GCC ≥ {MIN_MAJOR} is needed",
            wrapper.display()
        );
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_find_their_tree_and_pass_arguments() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        // A fake tree: the "loader" is a script printing what it was asked to run.
        fs::create_dir_all(root.join("usr/lib/gcc/bpf/12")).unwrap();
        fs::create_dir_all(root.join("usr/lib/gcc/bpf/14")).unwrap();
        fs::write(root.join("usr/lib/gcc/bpf/12/cc1"), "").unwrap();
        fs::write(root.join("usr/lib/gcc/bpf/14/cc1"), "").unwrap();
        fs::create_dir_all(root.join("usr/bin")).unwrap();
        fs::write(root.join("usr/bin/bpf-gcc"), "").unwrap();
        fs::create_dir_all(root.join("usr/lib/bpf/bin")).unwrap();
        fs::write(root.join("usr/lib/bpf/bin/as"), "").unwrap();
        write_script(
            &root.join(LDSO),
            "#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done\n",
        )
        .unwrap();
        write_wrappers(d.path(), &root).unwrap();
        assert_eq!(find_cc1(&root).unwrap(), "usr/lib/gcc/bpf/14/cc1");

        // Moved elsewhere, the wrappers still find their tree.
        let moved = d.path().join("moved");
        fs::create_dir_all(&moved).unwrap();
        for sub in ["root", "bin", "libexec"] {
            fs::rename(d.path().join(sub), moved.join(sub)).unwrap();
        }
        let moved = moved.canonicalize().unwrap();
        let out = Command::new(moved.join(WRAPPER))
            .args(["-c", "a b.c"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let m = moved.display();
        assert_eq!(
            text,
            format!(
                "[--library-path]\n[{m}/root/{LIBDIR}]\n[{m}/root/usr/bin/bpf-gcc]\n[-B{m}/libexec/]\n[-c]\n[a b.c]\n"
            )
        );
        let out = Command::new(moved.join("libexec/cc1"))
            .arg("x")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!(
                "[--library-path]\n[{m}/root/{LIBDIR}]\n[{m}/root/usr/lib/gcc/bpf/14/cc1]\n[x]\n"
            )
        );
    }

    #[test]
    fn check_refuses_old_or_broken_compilers() {
        let d = tempfile::tempdir().unwrap();
        let gcc = d.path().join("gcc");
        write_script(
            &gcc,
            "#!/bin/sh\n[ \"$1\" = -dumpversion ] && echo 12 || echo 'bpf-gcc (Debian 12.2.0-14) 12.2.0'\n",
        )
        .unwrap();
        let e = check(&gcc).unwrap_err().to_string();
        assert!(e.contains("GCC 12") && e.contains("GCC ≥ 14"), "{e}");
        write_script(
            &gcc,
            "#!/bin/sh\n[ \"$1\" = -dumpversion ] && echo 14 || echo 'bpf-gcc 14.2.0'\n",
        )
        .unwrap();
        assert_eq!(check(&gcc).unwrap(), "bpf-gcc 14.2.0");
        write_script(&gcc, "#!/bin/sh\necho broken >&2; exit 3\n").unwrap();
        let e = check(&gcc).unwrap_err().to_string();
        assert!(e.contains("broken"), "{e}");
    }
}
