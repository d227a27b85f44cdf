//! Kprobes: single probes through the `kprobe` PMU (`perf_event_open` + `BPF_PERF_EVENT` link),
//! system-call probes (`ksyscall`), and multi-function probes with
//! `BPF_LINK_CREATE(BPF_TRACE_KPROBE_MULTI)` on the functions of
//! `available_filter_functions` that match a glob, as libbpf resolves them.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use crate::error::{Error, Stage};
use crate::program::Program;
use crate::sys::{owned_fd, Attr, RealKernel, Sys, BPF_LINK_CREATE};

use super::perf::Pmu;
use super::tracepoint::tracefs_file;
use super::Link;

/// `BPF_TRACE_KPROBE_MULTI`.
pub(crate) const BPF_TRACE_KPROBE_MULTI: u32 = bpfsign_abi::attach_type::TRACE_KPROBE_MULTI;
/// `BPF_F_KPROBE_MULTI_RETURN`.
pub(crate) const BPF_F_KPROBE_MULTI_RETURN: u32 = 1;
/// `offsetofend(union bpf_attr, link_create.kprobe_multi.cookies)`.
pub(crate) const LINK_CREATE_KPROBE_MULTI_ATTR_SZ: usize = 48;

/// `BPF_LINK_CREATE(prog, BPF_TRACE_KPROBE_MULTI)` on the symbols `syms`; attr size 48
/// (`kprobe_multi.flags` at 16, `cnt` at 20, `syms` at 24; no addrs, no cookies).
pub(crate) fn link_create_kprobe_multi(
    sys: &dyn Sys,
    prog: BorrowedFd<'_>,
    syms: &[CString],
    retprobe: bool,
) -> io::Result<OwnedFd> {
    let cnt = u32::try_from(syms.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let ptrs: Vec<*const libc::c_char> = syms.iter().map(|s| s.as_ptr()).collect();
    let mut attr = Attr::new();
    attr.i32(0, prog.as_raw_fd())
        .u32(8, BPF_TRACE_KPROBE_MULTI)
        .u32(
            16,
            if retprobe {
                BPF_F_KPROBE_MULTI_RETURN
            } else {
                0
            },
        )
        .u32(20, cnt)
        .ptr(24, ptrs.as_ptr());
    owned_fd(attr.call(sys, BPF_LINK_CREATE, LINK_CREATE_KPROBE_MULTI_ATTR_SZ)?)
}

/// Whether `name` matches the glob `pattern` (`*` any run, `?` any one character), as libbpf's
/// `glob_match`.
pub(crate) fn glob_match(name: &str, pattern: &str) -> bool {
    let (n, p) = (name.as_bytes(), pattern.as_bytes());
    let (mut i, mut j) = (0, 0);
    // Position after the last `*` in the pattern and the name position it matched up to.
    let mut star: Option<(usize, usize)> = None;
    while i < n.len() {
        if j < p.len() && (p[j] == b'?' || p[j] == n[i]) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == b'*' {
            star = Some((j + 1, i));
            j += 1;
        } else if let Some((sj, si)) = star {
            j = sj;
            i = si + 1;
            star = Some((sj, si + 1));
        } else {
            return false;
        }
    }
    p[j..].iter().all(|&c| c == b'*')
}

/// The distinct function names of an `available_filter_functions` text (`name [module]` per
/// line) that match `pattern`, sorted; ftrace's placeholders for dropped functions are skipped.
pub(crate) fn match_filter_functions(text: &str, pattern: &str) -> Vec<String> {
    let set: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| !name.starts_with("__ftrace_invalid_address__"))
        .filter(|name| glob_match(name, pattern))
        .collect();
    set.into_iter().map(str::to_string).collect()
}

/// The arch's system-call wrapper prefix (`__x64_sys_`), when the kernel has wrappers: libbpf
/// checks for `__<arch>_sys_bpf`.
fn syscall_prefix() -> Option<&'static str> {
    static PREFIX: OnceLock<Option<&'static str>> = OnceLock::new();
    *PREFIX.get_or_init(|| {
        let prefix = if cfg!(target_arch = "x86_64") {
            "__x64_sys_"
        } else if cfg!(target_arch = "x86") {
            "__ia32_sys_"
        } else if cfg!(target_arch = "aarch64") {
            "__arm64_sys_"
        } else if cfg!(target_arch = "s390x") {
            "__s390x_sys_"
        } else if cfg!(target_arch = "riscv64") {
            "__riscv_sys_"
        } else if cfg!(target_arch = "powerpc64") {
            "sys_"
        } else {
            return None;
        };
        let probe = format!("{prefix}bpf");
        let has = |text: &str, field: usize| {
            text.lines()
                .any(|l| l.split_whitespace().nth(field) == Some(probe.as_str()))
        };
        if let Some(t) =
            tracefs_file("available_filter_functions").and_then(|p| std::fs::read_to_string(p).ok())
        {
            if has(&t, 0) {
                return Some(prefix);
            }
        }
        match std::fs::read_to_string("/proc/kallsyms") {
            Ok(t) if has(&t, 2) => Some(prefix),
            _ => None,
        }
    })
}

/// The kernel function a `ksyscall/NAME` probe attaches to: the arch wrapper when the kernel
/// has them (`__x64_sys_NAME`), `__se_sys_NAME` otherwise (libbpf's rule).
pub(crate) fn ksyscall_function(name: &str) -> String {
    match syscall_prefix() {
        Some(p) => format!("{p}{name}"),
        None => format!("__se_sys_{name}"),
    }
}

impl<'a> Program<'a> {
    /// Attaches a kprobe (`retprobe`: a kretprobe) on kernel function `func` through the
    /// `kprobe` PMU and a `BPF_PERF_EVENT` link, in every process and on every CPU.
    pub fn attach_kprobe(&self, func: &str, retprobe: bool) -> Result<Link, Error> {
        self.attach_kprobe_offset(func, 0, retprobe)
    }

    /// [`Program::attach_kprobe`] at `offset` bytes into `func` (`kprobe/FUNC+OFFSET`). Return
    /// probes take no offset (an error unless it is 0).
    pub fn attach_kprobe_offset(
        &self,
        func: &str,
        offset: u64,
        retprobe: bool,
    ) -> Result<Link, Error> {
        self.attach_kprobe_offset_with(&RealKernel, func, offset, retprobe)
    }

    pub(crate) fn attach_kprobe_offset_with(
        &self,
        sys: &dyn Sys,
        func: &str,
        offset: u64,
        retprobe: bool,
    ) -> Result<Link, Error> {
        let target = if offset == 0 {
            func.to_string()
        } else {
            format!("{func}+{offset:#x}")
        };
        if retprobe && offset != 0 {
            return Err(self.target_error(
                &target,
                format!(
                    "kretprobe of program {} at {target}: return probes take no offset",
                    self.name()
                ),
                "attach the kretprobe to the function itself (offset 0)",
            ));
        }
        let cfunc = self.c_string(func, "kernel function")?;
        let pmu = Pmu::read("kprobe").map_err(|msg| {
            self.target_error(&target, msg, "use a kernel built with CONFIG_KPROBE_EVENTS")
        })?;
        let attr = pmu.probe_attr(&cfunc, offset, retprobe);
        let what = format!(
            "{} on kernel function {target}",
            if retprobe { "kretprobe" } else { "kprobe" }
        );
        self.attach_perf_attr_with(sys, &attr, (-1, 0), &what)
            .map_err(|e| self.explain_missing_function(e, func))
    }

    /// Attaches a kprobe (`retprobe`: a kretprobe) on system call `name` (`getpid`): on the
    /// arch-specific entry of the kernel (`__x64_sys_getpid` on x86_64, `__arm64_sys_getpid` on
    /// aarch64, probed once like libbpf).
    pub fn attach_ksyscall(&self, name: &str, retprobe: bool) -> Result<Link, Error> {
        self.attach_kprobe(&ksyscall_function(name), retprobe)
    }

    /// Attaches the program (loaded as `kprobe.multi`/`kretprobe.multi`, attach type
    /// `BPF_TRACE_KPROBE_MULTI`) to every kernel function of `available_filter_functions`
    /// (tracefs) whose name matches the glob `pattern` (`*`, `?`), with one
    /// `BPF_LINK_CREATE(BPF_TRACE_KPROBE_MULTI)` link; `retprobe` probes the returns.
    pub fn attach_kprobe_multi(&self, pattern: &str, retprobe: bool) -> Result<Link, Error> {
        self.attach_kprobe_multi_with(&RealKernel, pattern, retprobe)
    }

    pub(crate) fn attach_kprobe_multi_with(
        &self,
        sys: &dyn Sys,
        pattern: &str,
        retprobe: bool,
    ) -> Result<Link, Error> {
        let file = tracefs_file("available_filter_functions").ok_or_else(|| {
            self.target_error(
                pattern,
                format!(
                    "kprobe.multi of program {}: available_filter_functions not found (tracefs is \
                     not mounted at /sys/kernel/tracing or /sys/kernel/debug/tracing)",
                    self.name()
                ),
                "mount tracefs (mount -t tracefs nodev /sys/kernel/tracing); the kernel needs CONFIG_FUNCTION_TRACER",
            )
        })?;
        let text = std::fs::read_to_string(&file).map_err(|e| {
            Error::sys(
                Stage::Attach,
                &e,
                format!("reading {} for program {}", file.display(), self.name()),
                &self.ctx(),
            )
        })?;
        let names = match_filter_functions(&text, pattern);
        if names.is_empty() {
            return Err(self.target_error(
                pattern,
                format!(
                    "kprobe.multi of program {}: no function in {} matches {pattern:?}",
                    self.name(),
                    file.display()
                ),
                "check the pattern (a glob with * and ?) against available_filter_functions; \
                 functions that ftrace cannot trace are not listed there",
            ));
        }
        let syms = names
            .iter()
            .map(|n| self.c_string(n, "kernel function"))
            .collect::<Result<Vec<_>, _>>()?;
        let link = link_create_kprobe_multi(sys, self.fd(), &syms, retprobe).map_err(|e| {
            Error::sys(
                Stage::Attach,
                &e,
                format!(
                    "BPF_LINK_CREATE(BPF_TRACE_KPROBE_MULTI) of program {} on {} functions matching {pattern:?}",
                    self.name(),
                    syms.len()
                ),
                &self.ctx(),
            )
        })?;
        Ok(Link {
            fd: link,
            prog: Some(self.index()),
        })
    }

    /// `s` as a C string, or an error naming `what` contains a NUL byte.
    pub(crate) fn c_string(&self, s: &str, what: &str) -> Result<CString, Error> {
        CString::new(s).map_err(|_| {
            self.target_error(
                s,
                format!(
                    "{what} {s:?} of program {} contains a NUL byte",
                    self.name()
                ),
                "",
            )
        })
    }

    /// Explains a kprobe error caused by an unknown (or unprobeable) function.
    fn explain_missing_function(&self, e: Error, func: &str) -> Error {
        if matches!(e.errno(), Some(libc::ENOENT) | Some(libc::EINVAL)) {
            return e.with_guidance(format!(
                "kernel function {func:?} does not exist or cannot be probed: check the name in \
                 /proc/kallsyms (static functions may carry a suffix like .isra.0) and that it is \
                 not in /sys/kernel/debug/kprobes/blacklist"
            ));
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("__x64_sys_getpid", "__*_sys_getpid"));
        assert!(glob_match("abc", "a?c"));
        assert!(glob_match("abc", "*"));
        assert!(glob_match("", "*"));
        assert!(glob_match("abc", "abc"));
        assert!(glob_match("aXbXc", "a*b*c"));
        assert!(glob_match("abcbc", "a*bc"));
        assert!(!glob_match("abcd", "abc"));
        assert!(!glob_match("ab", "a?c"));
        assert!(!glob_match("abc", "a*d"));
        assert!(!glob_match("", "?"));
    }

    #[test]
    fn filter_functions_are_deduplicated_and_sorted() {
        let text =
            "vfs_write\nvfs_read\nfoo [mod]\nvfs_read\n__ftrace_invalid_address___123\nvfs_readv\n";
        assert_eq!(
            match_filter_functions(text, "vfs_read*"),
            ["vfs_read", "vfs_readv"]
        );
        assert_eq!(match_filter_functions(text, "fo?"), ["foo"]);
        assert!(match_filter_functions(text, "__ftrace*").is_empty());
        assert!(match_filter_functions(text, "nope").is_empty());
    }
}
