//! Builds the guest's root file system: static busybox, `/init`, the payload and every shared
//! library the payload's dynamic ELF files need (found with `ldd`, plus the ELF interpreter).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use object::read::elf::{ElfFile64, ProgramHeader};
use object::read::ReadCache;
use object::Endianness;

use crate::bail;
use crate::cpio::CpioWriter;
use crate::error::{Context, Error, Result};

/// Marker printed by `/init` once the guest is up: `=== VM-GUEST-START kernel=<uname -r> uptime=<s> ===`.
pub const START_MARKER: &str = "=== VM-GUEST-START ";
/// Marker printed by `/init` after the payload: `=== VM-GUEST-EXIT rc=<status> uptime=<s> ===`.
pub const EXIT_MARKER: &str = "=== VM-GUEST-EXIT ";

/// The guest's `/init`: mounts the pseudo file systems, brings `lo` up, runs `/vmtest/run.sh` as root, prints
/// the start/exit markers and powers off. `/vmtest/env` (exported variables) is sourced first.
pub const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TMPDIR=/tmp
m() { mkdir -p "$3"; mount -t "$1" "$2" "$3" 2>/dev/null || echo "vmtest-init: cannot mount $1 on $3"; }
m proc proc /proc
m sysfs sysfs /sys
m devtmpfs devtmpfs /dev
m tmpfs tmpfs /tmp
m tmpfs tmpfs /run
m tracefs tracefs /sys/kernel/tracing
m debugfs debugfs /sys/kernel/debug
m bpf bpf /sys/fs/bpf
m securityfs securityfs /sys/kernel/security
ulimit -l unlimited 2>/dev/null
# The loopback interface is up, as on any booted system (tests send packets over lo).
ip link set lo up || echo "vmtest-init: cannot bring lo up"
echo "=== VM-GUEST-START kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime) ==="
if [ -f /vmtest/env ]; then . /vmtest/env; else echo "vmtest-init: no /vmtest/env: the initramfs was not fully unpacked (too little guest memory? BPFSIGN_VM_MEM)"; fi
cd /tmp
sh /vmtest/run.sh
rc=$?
echo "=== VM-GUEST-EXIT rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime) ==="
sync
poweroff -f
"#;

/// Where a file's bytes come from.
#[derive(Clone, Debug)]
enum Source {
    Host(PathBuf),
    Bytes(Vec<u8>),
}

#[derive(Clone, Debug)]
enum Node {
    Dir,
    File { src: Source, perm: u32 },
}

/// A guest file tree, written as one cpio archive. Paths are absolute guest paths.
#[derive(Default, Debug)]
pub struct Tree {
    nodes: BTreeMap<String, Node>,
}

fn norm(guest: &str) -> Result<String> {
    let p = guest.trim_matches('/');
    if p.is_empty() || p.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        bail!("invalid guest path `{guest}` (absolute, no `.`/`..`/`//` wanted)");
    }
    Ok(p.to_string())
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree with the base system: static busybox at /bin/busybox, `/init`, /etc/passwd and the mount points.
    pub fn base(busybox: &Path) -> Result<Self> {
        if !is_static_elf(busybox)? {
            bail!("{} is not a static executable: install busybox-static (apt-get install busybox-static) or set BPFSIGN_VM_BUSYBOX", busybox.display());
        }
        let mut t = Tree::new();
        t.add_host_file("/bin/busybox", busybox, Some(0o755))?;
        t.add_bytes("/init", 0o755, INIT.as_bytes())?;
        t.add_bytes("/etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")?;
        t.add_bytes("/etc/group", 0o644, b"root:x:0:\n")?;
        for d in [
            "/dev",
            "/proc",
            "/sys",
            "/tmp",
            "/run",
            "/root",
            "/usr/local/bin",
            "/lib",
            "/lib64",
        ] {
            t.add_dir(d)?;
        }
        Ok(t)
    }

    /// Adds a directory (and its parents).
    pub fn add_dir(&mut self, guest: &str) -> Result<()> {
        let p = norm(guest)?;
        self.parents(&p)?;
        match self.nodes.get(&p) {
            None => {
                self.nodes.insert(p, Node::Dir);
                Ok(())
            }
            Some(Node::Dir) => Ok(()),
            Some(_) => bail!("guest path /{p} is already a file, cannot make it a directory"),
        }
    }

    fn parents(&mut self, p: &str) -> Result<()> {
        let mut acc = String::new();
        let comps: Vec<&str> = p.split('/').collect();
        for c in &comps[..comps.len() - 1] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(c);
            match self.nodes.get(&acc) {
                None => {
                    self.nodes.insert(acc.clone(), Node::Dir);
                }
                Some(Node::Dir) => {}
                Some(_) => bail!("guest path /{acc} is a file but /{p} needs it to be a directory"),
            }
        }
        Ok(())
    }

    /// Adds the host file `host` at `guest` (mode from the host unless `perm` is given).
    pub fn add_host_file(&mut self, guest: &str, host: &Path, perm: Option<u32>) -> Result<()> {
        let meta = fs::metadata(host).ctx(|| format!("adding {} to the guest", host.display()))?;
        if !meta.is_file() {
            bail!("{} is not a regular file", host.display());
        }
        use std::os::unix::fs::PermissionsExt;
        let perm = perm.unwrap_or(meta.permissions().mode() & 0o7777);
        let p = norm(guest)?;
        self.parents(&p)?;
        self.nodes.insert(
            p,
            Node::File {
                src: Source::Host(host.to_path_buf()),
                perm,
            },
        );
        Ok(())
    }

    /// Adds a file with the given contents.
    pub fn add_bytes(&mut self, guest: &str, perm: u32, data: &[u8]) -> Result<()> {
        let p = norm(guest)?;
        self.parents(&p)?;
        self.nodes.insert(
            p,
            Node::File {
                src: Source::Bytes(data.to_vec()),
                perm,
            },
        );
        Ok(())
    }

    /// Adds a host file or directory tree (recursively; symlinks are followed) at `guest`.
    pub fn add_host_path(&mut self, guest: &str, host: &Path) -> Result<()> {
        let meta = fs::metadata(host).ctx(|| format!("adding {} to the guest", host.display()))?;
        if meta.is_dir() {
            self.add_dir(guest)?;
            let mut entries: Vec<_> = fs::read_dir(host)
                .ctx(|| format!("reading {}", host.display()))?
                .flatten()
                .map(|e| e.path())
                .collect();
            entries.sort();
            for e in entries {
                let name = e
                    .file_name()
                    .expect("read_dir entries have names")
                    .to_string_lossy()
                    .to_string();
                self.add_host_path(&format!("{}/{name}", guest.trim_end_matches('/')), &e)?;
            }
            Ok(())
        } else {
            self.add_host_file(guest, host, None)
        }
    }

    /// Adds the shared libraries (and ELF interpreter) every dynamic ELF host file in the tree
    /// needs, at the paths the host's loader resolves them to.
    pub fn add_shared_libs(&mut self) -> Result<usize> {
        let mut libs: BTreeMap<String, PathBuf> = BTreeMap::new();
        let hosts: Vec<PathBuf> = self
            .nodes
            .values()
            .filter_map(|n| match n {
                Node::File {
                    src: Source::Host(h),
                    ..
                } => Some(h.clone()),
                _ => None,
            })
            .collect();
        for h in hosts {
            let Some(info) = elf_dynamic_info(&h)? else {
                continue;
            };
            if let Some(interp) = info.interpreter {
                libs.insert(interp.clone(), PathBuf::from(interp));
            }
            if info.dynamic {
                for lib in ldd(&h)? {
                    libs.insert(lib.clone(), PathBuf::from(lib));
                }
            }
        }
        let n = libs.len();
        for (guest, host) in libs {
            if !self.nodes.contains_key(guest.trim_start_matches('/')) {
                self.add_host_file(&guest, &host, None)?;
            }
        }
        Ok(n)
    }

    /// Writes the tree as a newc archive (parents always before children).
    pub fn write_cpio<W: Write>(&self, out: W) -> Result<W> {
        let mut w = CpioWriter::new(out);
        for (path, node) in &self.nodes {
            let r = match node {
                Node::Dir => w.dir(path, 0o755),
                Node::File {
                    src: Source::Bytes(b),
                    perm,
                } => w.bytes(path, *perm, b),
                Node::File {
                    src: Source::Host(h),
                    perm,
                } => {
                    let mut f = File::open(h).ctx(|| format!("opening {}", h.display()))?;
                    let len = f
                        .metadata()
                        .ctx(|| format!("reading {}", h.display()))?
                        .len();
                    w.file(path, *perm, len, &mut f)
                }
            };
            r.ctx(|| format!("writing /{path} into the initramfs"))?;
        }
        w.finish().ctx(|| "finishing the initramfs".into())
    }

    /// Writes the archive to `path`.
    pub fn write_file(&self, path: &Path) -> Result<()> {
        let f = File::create(path).ctx(|| format!("creating {}", path.display()))?;
        let mut w = self.write_cpio(BufWriter::with_capacity(1 << 20, f))?;
        w.flush().ctx(|| format!("writing {}", path.display()))
    }
}

/// What matters about an ELF file for the initramfs.
#[derive(Debug, Default)]
pub struct ElfInfo {
    /// `PT_INTERP`: the loader path, for dynamic executables.
    pub interpreter: Option<String>,
    /// Has a `PT_DYNAMIC` segment (needs shared libraries, or is one).
    pub dynamic: bool,
}

/// `None` when `path` is not a 64-bit ELF file.
pub fn elf_dynamic_info(path: &Path) -> Result<Option<ElfInfo>> {
    let mut f = File::open(path).ctx(|| format!("opening {}", path.display()))?;
    let mut magic = [0u8; 5];
    if f.read_exact(&mut magic).is_err() || &magic[..4] != b"\x7fELF" {
        return Ok(None);
    }
    if magic[4] != 2 {
        return Ok(None);
    }
    let cache = ReadCache::new(f);
    let elf = ElfFile64::<Endianness, _>::parse(&cache)
        .map_err(|e| Error(format!("{}: not a valid ELF file: {e}", path.display())))?;
    let endian = elf.endian();
    let mut info = ElfInfo::default();
    for ph in elf.elf_program_headers() {
        match ph.p_type(endian) {
            object::elf::PT_INTERP => {
                let raw = ph
                    .interpreter(endian, elf.data())
                    .map_err(|e| Error(format!("{}: bad PT_INTERP: {e}", path.display())))?
                    .unwrap_or_default();
                info.interpreter = Some(String::from_utf8_lossy(raw).to_string());
            }
            object::elf::PT_DYNAMIC => info.dynamic = true,
            _ => {}
        }
    }
    Ok(Some(info))
}

/// Whether `path` is an ELF executable without interpreter and dynamic section.
pub fn is_static_elf(path: &Path) -> Result<bool> {
    Ok(elf_dynamic_info(path)?.is_some_and(|i| i.interpreter.is_none() && !i.dynamic))
}

/// The absolute library paths `ldd` reports for `path`.
pub fn ldd(path: &Path) -> Result<Vec<String>> {
    let out = Command::new("ldd")
        .arg(path)
        .output()
        .ctx(|| "running ldd (part of libc-bin)".into())?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_ldd(&text).map_err(|lib| {
        Error(format!(
            "{}: shared library {lib} not found on this machine (ldd); install it",
            path.display()
        ))
    })
}

/// Parses `ldd` output; `Err(name)` for a `name => not found` line.
pub fn parse_ldd(text: &str) -> std::result::Result<Vec<String>, String> {
    let mut libs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let path = match line.split_once("=>") {
            Some((name, rest)) => {
                let rest = rest.trim();
                if rest.starts_with("not found") {
                    return Err(name.trim().to_string());
                }
                rest.split_whitespace().next().unwrap_or("")
            }
            None => line.split_whitespace().next().unwrap_or(""),
        };
        if path.starts_with('/') {
            libs.push(path.to_string());
        }
    }
    Ok(libs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ldd_output() {
        let text = "\tlinux-vdso.so.1 (0x00007ffc0b1e5000)\n\
                    \tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f2a)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f29)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f2b)\n";
        assert_eq!(
            parse_ldd(text).unwrap(),
            [
                "/lib/x86_64-linux-gnu/libssl.so.3",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
        assert_eq!(
            parse_ldd("\tlibfoo.so.1 => not found\n").unwrap_err(),
            "libfoo.so.1"
        );
        assert!(parse_ldd("\tstatically linked\n").unwrap().is_empty());
    }

    #[test]
    fn tree_creates_parents_before_children() {
        let mut t = Tree::new();
        t.add_bytes("/a/b/c", 0o644, b"x").unwrap();
        t.add_bytes("/a-b", 0o644, b"y").unwrap();
        let order: Vec<&String> = t.nodes.keys().collect();
        let pos = |s: &str| order.iter().position(|k| *k == s).unwrap();
        assert!(pos("a") < pos("a/b") && pos("a/b") < pos("a/b/c"));
        assert!(
            t.add_dir("/a/b/c").is_err(),
            "file cannot become a directory"
        );
        assert!(t.add_bytes("/a/b/c/d", 0o644, b"").is_err());
        assert!(t.add_bytes("/x/../y", 0o644, b"").is_err());
        let a = t.write_cpio(Vec::new()).unwrap();
        assert_eq!(a.len() % 4, 0);
    }

    #[test]
    fn finds_libraries_of_a_dynamic_host_binary() {
        // /bin/sh on Debian (dash) is dynamic: the tree must get libc and the loader.
        let sh = fs::canonicalize("/bin/sh").unwrap();
        let info = elf_dynamic_info(&sh).unwrap().unwrap();
        assert!(info.dynamic);
        let interp = info.interpreter.unwrap();
        let mut t = Tree::new();
        t.add_host_file("/bin/sh", &sh, None).unwrap();
        assert!(t.add_shared_libs().unwrap() >= 2);
        assert!(
            t.nodes.contains_key(interp.trim_start_matches('/')),
            "{interp}"
        );
        assert!(t.nodes.keys().any(|k| k.contains("libc.so")));
    }

    #[test]
    fn non_elf_is_none() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s");
        fs::write(&p, "#!/bin/sh\n").unwrap();
        assert!(elf_dynamic_info(&p).unwrap().is_none());
        assert!(!is_static_elf(&p).unwrap());
    }
}
