//! Uprobes: single probes through the `uprobe` PMU (`perf_event_open` + `BPF_PERF_EVENT` link)
//! and multi-function probes with `BPF_LINK_CREATE(BPF_TRACE_UPROBE_MULTI)`.
//!
//! The kernel takes a file offset; a function name is resolved to one from the ELF file's
//! symbol tables (`.symtab`, then `.dynsym`), for executables (PIE or not) and shared
//! libraries alike: `offset = section file offset + (st_value - section address)`. A bare
//! file name (`libc.so.6`, `bash`) is searched for like libbpf does: libraries in
//! `LD_LIBRARY_PATH` and the usual library directories, programs in `PATH`.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

use crate::error::{Error, Stage};
use crate::program::Program;
use crate::sys::{owned_fd, Attr, RealKernel, Sys, BPF_LINK_CREATE};

use super::kprobe::glob_match;
use super::perf::{probe_pid_cpu, Pmu};
use super::Link;

/// `BPF_TRACE_UPROBE_MULTI`.
pub(crate) const BPF_TRACE_UPROBE_MULTI: u32 = bpfsign_abi::attach_type::TRACE_UPROBE_MULTI;
/// `BPF_F_UPROBE_MULTI_RETURN`.
pub(crate) const BPF_F_UPROBE_MULTI_RETURN: u32 = 1;
/// `offsetofend(union bpf_attr, link_create.uprobe_multi.pid)`.
pub(crate) const LINK_CREATE_UPROBE_MULTI_ATTR_SZ: usize = 60;

/// Where in a binary an uprobe goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UprobeTarget<'s> {
    /// The entry of function (ELF symbol) `.0`.
    Symbol(&'s str),
    /// `.1` bytes past the entry of function `.0` (`uprobe/PATH:FUNC+OFF`).
    SymbolOffset(&'s str, u64),
    /// A raw file offset in the binary.
    FileOffset(u64),
}

impl std::fmt::Display for UprobeTarget<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UprobeTarget::Symbol(s) => write!(f, "{s}"),
            UprobeTarget::SymbolOffset(s, o) => write!(f, "{s}+{o:#x}"),
            UprobeTarget::FileOffset(o) => write!(f, "file offset {o:#x}"),
        }
    }
}

/// `BPF_LINK_CREATE(prog, BPF_TRACE_UPROBE_MULTI)` on `offsets` of `path`; attr size 60
/// (`uprobe_multi.path` at 16, `offsets` at 24, `cnt` at 48, `flags` at 52, `pid` at 56; no
/// reference counters, no cookies).
pub(crate) fn link_create_uprobe_multi(
    sys: &dyn Sys,
    prog: BorrowedFd<'_>,
    path: &std::ffi::CStr,
    offsets: &[u64],
    retprobe: bool,
    pid: u32,
) -> io::Result<OwnedFd> {
    let cnt =
        u32::try_from(offsets.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let mut attr = Attr::new();
    attr.i32(0, prog.as_raw_fd())
        .u32(8, BPF_TRACE_UPROBE_MULTI)
        .ptr(16, path.as_ptr())
        .ptr(24, offsets.as_ptr())
        .u32(48, cnt)
        .u32(
            52,
            if retprobe {
                BPF_F_UPROBE_MULTI_RETURN
            } else {
                0
            },
        )
        .u32(56, pid);
    owned_fd(attr.call(sys, BPF_LINK_CREATE, LINK_CREATE_UPROBE_MULTI_ATTR_SZ)?)
}

/// Directories searched for a bare library name (after `LD_LIBRARY_PATH`).
const LIB_DIRS: &[&str] = &[
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
    #[cfg(target_arch = "x86_64")]
    "/lib/x86_64-linux-gnu",
    #[cfg(target_arch = "x86_64")]
    "/usr/lib/x86_64-linux-gnu",
    #[cfg(target_arch = "aarch64")]
    "/lib/aarch64-linux-gnu",
    #[cfg(target_arch = "aarch64")]
    "/usr/lib/aarch64-linux-gnu",
];

/// The file an uprobe path names: a path with a `/` as is; a bare name searched in
/// `LD_LIBRARY_PATH` and [`LIB_DIRS`] when it looks like a library (`.so`), else in `PATH`.
pub(crate) fn resolve_binary_path(path: &Path) -> Result<PathBuf, String> {
    if path.as_os_str().as_bytes().contains(&b'/') {
        return Ok(path.to_path_buf());
    }
    let name = path.to_string_lossy();
    let dirs: Vec<PathBuf> = if name.contains(".so") {
        std::env::var_os("LD_LIBRARY_PATH")
            .map(|v| std::env::split_paths(&v).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain(LIB_DIRS.iter().map(PathBuf::from))
            .collect()
    } else {
        std::env::var_os("PATH")
            .map(|v| std::env::split_paths(&v).collect())
            .unwrap_or_default()
    };
    dirs.iter()
        .map(|d| d.join(path))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "{name} not found in {}",
                if name.contains(".so") {
                    "LD_LIBRARY_PATH or the library directories"
                } else {
                    "PATH"
                }
            )
        })
}

/// Whether ELF symbol `sym` names `func` (exactly, or as `func@VERSION` / `func@@VERSION`).
fn symbol_is(sym: &str, func: &str) -> bool {
    sym == func
        || sym
            .strip_prefix(func)
            .is_some_and(|rest| rest.starts_with('@'))
}

/// The function symbols of ELF `data` for which `want(name)` holds, as
/// `(name, file offset)`: `.symtab` first, then `.dynsym`; defined code symbols only.
fn function_offsets(
    data: &[u8],
    want: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, u64)>, String> {
    let file = object::File::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
    let mut out = Vec::new();
    for sym in file.symbols().chain(file.dynamic_symbols()) {
        if sym.kind() != SymbolKind::Text || sym.is_undefined() {
            continue;
        }
        let Ok(name) = sym.name() else { continue };
        if !want(name) {
            continue;
        }
        let Some(idx) = sym.section_index() else {
            continue;
        };
        let Ok(section) = file.section_by_index(idx) else {
            continue;
        };
        let Some((file_off, _)) = section.file_range() else {
            continue;
        };
        let Some(delta) = sym.address().checked_sub(section.address()) else {
            continue;
        };
        out.push((name.to_string(), file_off + delta));
    }
    Ok(out)
}

/// The file offset of function `func` in ELF `data`.
pub(crate) fn symbol_file_offset(data: &[u8], func: &str) -> Result<u64, String> {
    let found = function_offsets(data, &|name| symbol_is(name, func))?;
    let offsets: BTreeSet<u64> = found.iter().map(|(_, o)| *o).collect();
    match offsets.len() {
        0 => Err(format!(
            "no function symbol {func:?} in its .symtab or .dynsym"
        )),
        1 => Ok(offsets.into_iter().next().unwrap_or_default()),
        n => Err(format!(
            "function symbol {func:?} is ambiguous ({n} different addresses)"
        )),
    }
}

/// The distinct file offsets of the functions of ELF `data` matching glob `pattern`.
pub(crate) fn pattern_file_offsets(data: &[u8], pattern: &str) -> Result<Vec<u64>, String> {
    let found = function_offsets(data, &|name| glob_match(name, pattern))?;
    Ok(found
        .into_iter()
        .map(|(_, o)| o)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect())
}

impl<'a> Program<'a> {
    /// Attaches an uprobe (`retprobe`: a uretprobe) to `target` in the binary or shared
    /// library `path` through the `uprobe` PMU and a `BPF_PERF_EVENT` link.
    ///
    /// * `pid`: `Some(pid)` probes that process only, `None` every process that maps the file.
    /// * `path`: a path with a `/` is used as is (`/proc/self/exe` works); a bare name is
    ///   searched for like libbpf: `libc.so.6` in `LD_LIBRARY_PATH` and the library
    ///   directories, `bash` in `PATH`.
    /// * `target`: a function symbol (resolved to a file offset from the ELF symbol tables,
    ///   versioned names like `malloc@@GLIBC_2.2.5` included), a symbol plus offset (not for
    ///   return probes), or a raw file offset.
    pub fn attach_uprobe(
        &self,
        retprobe: bool,
        pid: Option<i32>,
        path: impl AsRef<Path>,
        target: UprobeTarget<'_>,
    ) -> Result<Link, Error> {
        self.attach_uprobe_with(&RealKernel, retprobe, pid, path.as_ref(), target)
    }

    pub(crate) fn attach_uprobe_with(
        &self,
        sys: &dyn Sys,
        retprobe: bool,
        pid: Option<i32>,
        path: &Path,
        target: UprobeTarget<'_>,
    ) -> Result<Link, Error> {
        let shown = format!("{}:{target}", path.display());
        let (func, extra) = match target {
            UprobeTarget::Symbol(f) => (Some(f), 0),
            UprobeTarget::SymbolOffset(f, o) => (Some(f), o),
            UprobeTarget::FileOffset(o) => (None, o),
        };
        if retprobe && func.is_some() && extra != 0 {
            return Err(self.target_error(
                &shown,
                format!(
                    "uretprobe of program {} at {shown}: return probes take no offset",
                    self.name()
                ),
                "attach the uretprobe to the function itself",
            ));
        }
        let (resolved, cpath) = self.uprobe_path(path, &shown)?;
        let offset = match func {
            None => extra,
            Some(f) => {
                let data = self.read_binary(&resolved, &shown)?;
                let base = symbol_file_offset(&data, f).map_err(|msg| {
                    self.target_error(
                        &shown,
                        format!("uprobe of program {}: {}: {msg}", self.name(), resolved.display()),
                        "check the symbol with `nm -D` / `readelf -s`; a stripped binary needs a file offset",
                    )
                })?;
                base.checked_add(extra).ok_or_else(|| {
                    self.target_error(&shown, format!("uprobe offset of {shown} overflows"), "")
                })?
            }
        };
        let pmu = Pmu::read("uprobe").map_err(|msg| {
            self.target_error(&shown, msg, "use a kernel built with CONFIG_UPROBE_EVENTS")
        })?;
        let attr = pmu.probe_attr(&cpath, offset, retprobe);
        let what = format!(
            "{} on {} at file offset {offset:#x} ({shown})",
            if retprobe { "uretprobe" } else { "uprobe" },
            resolved.display()
        );
        self.attach_perf_attr_with(sys, &attr, probe_pid_cpu(pid), &what)
    }

    /// Attaches the program (loaded as `uprobe.multi`/`uretprobe.multi`, attach type
    /// `BPF_TRACE_UPROBE_MULTI`) to every function of `path` whose symbol matches the glob
    /// `pattern` (`*`, `?`), with one `BPF_LINK_CREATE(BPF_TRACE_UPROBE_MULTI)` link.
    /// `pid`: `Some(pid)` that process only, `None` every process. `path` as in
    /// [`Program::attach_uprobe`].
    pub fn attach_uprobe_multi(
        &self,
        retprobe: bool,
        pid: Option<i32>,
        path: impl AsRef<Path>,
        pattern: &str,
    ) -> Result<Link, Error> {
        self.attach_uprobe_multi_with(&RealKernel, retprobe, pid, path.as_ref(), pattern)
    }

    pub(crate) fn attach_uprobe_multi_with(
        &self,
        sys: &dyn Sys,
        retprobe: bool,
        pid: Option<i32>,
        path: &Path,
        pattern: &str,
    ) -> Result<Link, Error> {
        let shown = format!("{}:{pattern}", path.display());
        let (resolved, cpath) = self.uprobe_path(path, &shown)?;
        let data = self.read_binary(&resolved, &shown)?;
        let offsets = pattern_file_offsets(&data, pattern).map_err(|msg| {
            self.target_error(&shown, format!("{}: {msg}", resolved.display()), "")
        })?;
        if offsets.is_empty() {
            return Err(self.target_error(
                &shown,
                format!(
                    "uprobe.multi of program {}: no function of {} matches {pattern:?}",
                    self.name(),
                    resolved.display()
                ),
                "check the pattern (a glob with * and ?) against `nm` / `readelf -s` of the binary",
            ));
        }
        let pid = match pid {
            Some(p) if p > 0 => p as u32,
            _ => 0,
        };
        let link = link_create_uprobe_multi(sys, self.fd(), &cpath, &offsets, retprobe, pid)
            .map_err(|e| {
                Error::sys(
                    Stage::Attach,
                    &e,
                    format!(
                        "BPF_LINK_CREATE(BPF_TRACE_UPROBE_MULTI) of program {} on {} functions of {shown}",
                        self.name(),
                        offsets.len()
                    ),
                    &self.ctx(),
                )
            })?;
        Ok(Link {
            fd: link,
            prog: Some(self.index()),
        })
    }

    /// The resolved path of an uprobe binary and its C string.
    fn uprobe_path(&self, path: &Path, shown: &str) -> Result<(PathBuf, CString), Error> {
        let resolved = resolve_binary_path(path).map_err(|msg| {
            self.target_error(
                shown,
                format!("uprobe of program {}: {msg}", self.name()),
                "give the binary's absolute path",
            )
        })?;
        let cpath = CString::new(resolved.as_os_str().as_bytes()).map_err(|_| {
            self.target_error(
                shown,
                format!("path {} contains a NUL byte", resolved.display()),
                "",
            )
        })?;
        Ok((resolved, cpath))
    }

    fn read_binary(&self, path: &Path, shown: &str) -> Result<Vec<u8>, Error> {
        std::fs::read(path).map_err(|e| {
            Error::sys(
                Stage::Attach,
                &e,
                format!(
                    "reading {} for the uprobe {shown} of program {}",
                    path.display(),
                    self.name()
                ),
                &self.ctx(),
            )
            .with_kind(crate::ErrorKind::AttachTarget {
                program: self.name().to_string(),
                target: shown.to_string(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function of this test binary to find in its own symbol table.
    #[no_mangle]
    #[inline(never)]
    pub extern "C" fn bpfsign_runtime_uprobe_test_target() -> u64 {
        std::hint::black_box(0x5eed)
    }

    #[test]
    fn own_symbol_resolves_to_its_code() {
        assert_eq!(bpfsign_runtime_uprobe_test_target(), 0x5eed);
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let off = symbol_file_offset(&exe, "bpfsign_runtime_uprobe_test_target").unwrap();
        // The bytes at that file offset are the function's code as mapped in memory.
        let code = bpfsign_runtime_uprobe_test_target as *const u8;
        // SAFETY: reading the first 16 bytes of a function of this binary.
        let mem = unsafe { std::slice::from_raw_parts(code, 16) };
        assert_eq!(&exe[off as usize..off as usize + 16], mem);
        assert!(symbol_file_offset(&exe, "bpfsign_no_such_symbol_xyz").is_err());
        let offs = pattern_file_offsets(&exe, "bpfsign_runtime_uprobe_test_targe?").unwrap();
        assert_eq!(offs, [off]);
        assert!(symbol_file_offset(b"not elf", "f").is_err());
    }

    #[test]
    fn versioned_symbols_and_paths() {
        assert!(symbol_is("malloc@@GLIBC_2.2.5", "malloc"));
        assert!(symbol_is("malloc", "malloc"));
        assert!(!symbol_is("malloc_trim", "malloc"));
        assert_eq!(
            resolve_binary_path(Path::new("/x/y")).unwrap(),
            PathBuf::from("/x/y")
        );
        assert!(resolve_binary_path(Path::new("bpfsign-no-such-binary")).is_err());
        assert!(resolve_binary_path(Path::new("libbpfsign-none.so.1")).is_err());
        if Path::new("/bin/sh").exists() {
            assert!(resolve_binary_path(Path::new("sh")).is_ok());
        }
    }
}
