//! Kernel-facing integration tests of bpfsign, and helpers for them (see tests/README.md).
//!
//! A kernel test is a `#[test]` whose function name starts with `kernel_` and which carries
//! `#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]`. `cargo vmtest` runs
//! them as root in VMs booting 6.18.15, 7.2.13 and 7.3.4 and natively on the host.
//!
//! The build script (`build.rs`) runs the bpfsign generator and signer on every fixture object
//! and on `example-hello`'s `hello.bpf.c` compiled with clang and with GCC, and this crate embeds
//! the results ([`FIXTURES`], [`HELLO_CLANG`], [`HELLO_GCC`]) as runtime [`SkeletonSpec`]s, so
//! the test binaries carry everything into the VMs.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use bpfsign_runtime::{
    join_new_session_keyring, register_cert, AttachKind, CertTarget, Error, Keyring, Link,
    LoadedSkeleton, LoaderVariant, MapSpec, ProgSpec, Protocol, SkeletonSpec,
};

pub mod leak;
pub mod raw;
pub mod setup;
pub mod user;

mod generated {
    use super::{Built, Compiled, Fixture, ProgInfo, Reference};
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}
pub use generated::{CERT_A_DER, FIXTURES, HELLO_CLANG, HELLO_GCC, HELLO_KEY_B};

/// The kernel `cargo vmtest` runs this test on, from `BPFSIGN_TEST_KERNEL`: `6.18.15`, `7.2.13`,
/// `7.3.4` or `host`. Panics (failing the test) when unset, i.e. when not run by `cargo vmtest`.
pub fn test_kernel() -> String {
    std::env::var("BPFSIGN_TEST_KERNEL")
        .ok()
        .filter(|k| !k.is_empty())
        .expect("BPFSIGN_TEST_KERNEL is not set: run kernel tests with `cargo vmtest` (see tests/README.md)")
}

/// `uname -r` of the running kernel.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .expect("reading /proc/sys/kernel/osrelease (is /proc mounted?)")
}

/// Whether `release` (`uname -r`) belongs to the series of `version` (`7.3.4` → `7.3.*`).
pub fn same_series(release: &str, version: &str) -> bool {
    let mut v = version.split('.');
    match (v.next(), v.next()) {
        (Some(maj), Some(min)) => {
            let mut r = release.split(['.', '-', '+']);
            r.next() == Some(maj) && r.next() == Some(min)
        }
        _ => false,
    }
}

/// The kernels the tests know what to expect from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// 6.18.15: signing protocol P1 (no `map->excl`).
    K6_18_15,
    /// 7.2.13: P1b (`map->excl`, in-loader checks).
    K7_2_13,
    /// 7.3.4: P2 (the kernel verifies instructions ‖ metadata).
    K7_3_4,
    /// The machine running `cargo vmtest` (6.18.44 here: P1b family, no signature verification,
    /// every fentry/fexit/lsm load refused with EPERM).
    Host,
}

impl Kernel {
    /// The kernel named by `BPFSIGN_TEST_KERNEL`; panics for kernels without expectations.
    pub fn get() -> Kernel {
        match test_kernel().as_str() {
            "6.18.15" => Kernel::K6_18_15,
            "7.2.13" => Kernel::K7_2_13,
            "7.3.4" => Kernel::K7_3_4,
            "host" => Kernel::Host,
            other => panic!(
                "no expectations for kernel {other}: these tests know 6.18.15, 7.2.13, 7.3.4 and host"
            ),
        }
    }

    /// The signing protocol family of the kernel.
    pub fn family(self) -> Protocol {
        match self {
            Kernel::K6_18_15 => Protocol::P1,
            Kernel::K7_2_13 | Kernel::Host => Protocol::P1b,
            Kernel::K7_3_4 => Protocol::P2,
        }
    }

    /// Whether the kernel verifies signatures (the host returns EOPNOTSUPP).
    pub fn signs(self) -> bool {
        self != Kernel::Host
    }

    /// Whether the verifier refuses protocol `p`'s loader itself (also unsigned) on this
    /// kernel, and with which errno. The P1b loader reads `map->excl` (`struct bpf_map` offset
    /// 32): 6.18.15 has no such field (offset 32 is `ops`) and 7.3.4 rearranged the struct, so
    /// the read is refused (docs/protocol.md §3.4, §7.3).
    pub fn refuses_loader(self, p: Protocol) -> Option<i32> {
        match (self, p) {
            (Kernel::K6_18_15 | Kernel::K7_3_4, Protocol::P1b) => Some(libc::EACCES),
            _ => None,
        }
    }
}

/// One skeleton built at build time: the runtime spec plus what the tests need to know about it.
#[derive(Clone, Copy, Debug)]
pub struct Fixture {
    /// Golden directory name (`hello`, `hello.gcc`, ...) or `hello-clang` / `hello-gcc`.
    pub stem: &'static str,
    /// The object's file name.
    pub object: &'static str,
    /// Where the object came from (committed fixture, or which compiler built it).
    pub origin: &'static str,
    /// The skeleton, from the artifact bpfsign generated and signed with key A.
    pub spec: SkeletonSpec<'static>,
    /// Per program (same order as `spec.progs`): section and attach target.
    pub progs: &'static [ProgInfo],
    /// The reference: bpftool's unsigned light skeleton of the same object.
    pub reference: Option<Reference>,
}

/// Section details of one program.
#[derive(Clone, Copy, Debug)]
pub struct ProgInfo {
    /// ELF section (`fentry/__do_sys_getpid`).
    pub section: &'static str,
    /// BTF attach target, if the section names one.
    pub attach_target: Option<&'static str>,
    /// Sleepable section (`.s`).
    pub sleepable: bool,
}

/// bpftool-p2's unsigned light skeleton of a fixture (`tests/fixtures/golden/<stem>`).
#[derive(Clone, Copy, Debug)]
pub struct Reference {
    /// `opts_insn` of `bpftool gen skeleton -L`.
    pub unsigned_insns: &'static [u8],
    /// `opts_data`.
    pub data: &'static [u8],
}

/// hello.bpf.c compiled at build time by one compiler.
#[derive(Clone, Copy, Debug)]
pub struct Compiled {
    /// What the compiler's `--version` printed first.
    pub compiler_version: &'static str,
    /// The object's `.comment` (compiler identification written into the ELF).
    pub elf_comment: &'static str,
    /// The signed skeleton.
    pub fixture: Fixture,
}

/// The outcome of a build-time compile: the skeleton, or why there is none and what to do.
#[derive(Clone, Copy, Debug)]
pub enum Built {
    /// Compiled, generated and signed.
    Ok(&'static Compiled),
    /// The compiler was missing or failed at build time; the message says how to fix it.
    Missing(&'static str),
}

impl Built {
    /// The compiled skeleton; panics with the build-time reason when there is none.
    pub fn get(&self, label: &str) -> &Compiled {
        match self {
            Built::Ok(c) => c,
            Built::Missing(why) => panic!("hello.bpf.c was not built with {label}:\n{why}"),
        }
    }
}

/// The fixture with golden directory name `stem`.
pub fn fixture(stem: &str) -> &'static Fixture {
    FIXTURES
        .iter()
        .find(|f| f.stem == stem)
        .unwrap_or_else(|| panic!("no fixture {stem:?} (see tests/fixtures/golden/index.tsv)"))
}

/// `BPF_PROG_TYPE_TRACING`.
pub const PROG_TYPE_TRACING: u32 = 26;
/// `BPF_PROG_TYPE_LSM`.
pub const PROG_TYPE_LSM: u32 = 29;
/// `BPF_TRACE_FENTRY`, `BPF_TRACE_FEXIT`, `BPF_MODIFY_RETURN`: attach types needing a trampoline.
pub const TRAMPOLINE_ATTACH_TYPES: [u32; 3] = [24, 25, 26];

impl Fixture {
    /// Whether a program is attached through a BPF trampoline (fentry/fexit/fmod_ret/lsm):
    /// those are what the host refuses.
    pub fn is_trampoline(p: &ProgSpec<'_>) -> bool {
        p.prog_type == PROG_TYPE_LSM
            || (p.prog_type == PROG_TYPE_TRACING
                && TRAMPOLINE_ATTACH_TYPES.contains(&p.expected_attach_type))
    }

    /// Whether any program the loader loads needs a trampoline.
    pub fn loads_trampoline_prog(&self) -> bool {
        self.spec
            .progs
            .iter()
            .any(|p| p.autoload && Self::is_trampoline(p))
    }

    /// The skeleton with bpftool's unsigned loader and blob as its only variant.
    pub fn reference_spec(&self) -> Option<SkeletonSpec<'static>> {
        let r = self.reference?;
        let variants: &'static [LoaderVariant<'static>] = Box::leak(Box::new([LoaderVariant {
            protocol: Protocol::Unsigned,
            insns: r.unsigned_insns,
            excl_prog_hash: [0; 32],
            signature: None,
        }]));
        Some(SkeletonSpec {
            data: r.data,
            variants,
            ..self.spec
        })
    }

    /// The spec with `data` as its blob (for tampering tests).
    pub fn with_data(&self, data: &'static [u8]) -> SkeletonSpec<'static> {
        SkeletonSpec { data, ..self.spec }
    }

    /// One line per program: name, section, autoload.
    pub fn describe(&self) -> String {
        self.spec
            .progs
            .iter()
            .zip(self.progs)
            .map(|(p, i)| {
                format!(
                    "{} [{}]{}",
                    p.name,
                    i.section,
                    if p.autoload { "" } else { " (autoload off)" }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A copy of `data` with the ASCII case of the first letter of the first occurrence of
/// `needle` flipped: a one-byte change of a string the loader copies but does not interpret
/// (a `.rodata` format string, a BTF source path), so an unchecked loader still loads it.
pub fn tamper(data: &[u8], needle: &[u8]) -> &'static [u8] {
    assert!(
        needle.first().is_some_and(u8::is_ascii_alphabetic),
        "needle must start with a letter"
    );
    let pos = data
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} is not in the blob", String::from_utf8_lossy(needle)));
    let mut v = data.to_vec();
    v[pos] ^= 0x20;
    Box::leak(v.into_boxed_slice())
}

/// hello's `.rodata` format string (with a real newline: not the line-info source text).
pub const HELLO_FORMAT: &[u8] = b"I loaded prog '%c'\n";

/// Joins a fresh session keyring holding certificate A (the tests' signer).
pub fn session_with_cert_a() {
    join_new_session_keyring().expect("joining a new session keyring");
    let r = register_cert(CERT_A_DER, CertTarget::Session).expect("registering cert A");
    assert_eq!(r.keyring, Keyring::Session);
}

/// Calls `BPF_OBJ_GET_INFO_BY_FD` with a zeroed `N`-byte info buffer.
fn obj_info<const N: usize>(fd: BorrowedFd<'_>) -> std::io::Result<[u8; N]> {
    let mut info = [0u8; N];
    let mut attr = [0u8; 16];
    attr[0..4].copy_from_slice(&(fd.as_raw_fd() as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&(N as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(info.as_mut_ptr() as u64).to_ne_bytes());
    // SAFETY: a 16-byte attr pointing at a local buffer of N bytes that outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            15 as libc::c_long,
            attr.as_mut_ptr(),
            16usize,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(info)
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn name_at(b: &[u8], off: usize) -> String {
    let n = &b[off..off + 16];
    let end = n.iter().position(|&c| c == 0).unwrap_or(16);
    String::from_utf8_lossy(&n[..end]).into_owned()
}

/// Asserts, from the kernel's own view (`BPF_OBJ_GET_INFO_BY_FD`), that `skel` holds every map
/// and every autoload program of `spec` with the type, sizes and name the metadata promises,
/// and no fd for programs that are not autoloaded.
pub fn assert_loaded_as_specified(spec: &SkeletonSpec<'_>, skel: &LoadedSkeleton) {
    let what = spec.name;
    assert_eq!(skel.map_count(), spec.maps.len(), "{what}: map count");
    assert_eq!(skel.prog_count(), spec.progs.len(), "{what}: program count");
    for (i, m) in spec.maps.iter().enumerate() {
        let fd = skel
            .map_fd(i)
            .unwrap_or_else(|| panic!("{what}: no fd for map {}", m.name));
        let info: [u8; 40] =
            obj_info(fd).unwrap_or_else(|e| panic!("{what}: map {} info: {e}", m.name));
        let got = (
            u32_at(&info, 0),
            u32_at(&info, 8),
            u32_at(&info, 12),
            u32_at(&info, 16),
        );
        assert_eq!(
            got,
            (m.map_type, m.key_size, m.value_size, m.max_entries),
            "{what}: map {} (type, key, value, max_entries) as the kernel has it",
            m.name
        );
    }
    for (i, p) in spec.progs.iter().enumerate() {
        match (p.autoload, skel.prog_fd(i)) {
            (true, Some(fd)) => {
                let info: [u8; 80] =
                    obj_info(fd).unwrap_or_else(|e| panic!("{what}: prog {} info: {e}", p.name));
                assert_eq!(
                    u32_at(&info, 0),
                    p.prog_type,
                    "{what}: prog {} type",
                    p.name
                );
                let name = name_at(&info, 64);
                assert!(
                    !name.is_empty() && p.name.starts_with(&name),
                    "{what}: the kernel calls program {} {name:?}",
                    p.name
                );
            }
            (true, None) => panic!("{what}: autoload program {} got no fd", p.name),
            (false, Some(_)) => panic!(
                "{what}: program {} is autoload=false but was loaded",
                p.name
            ),
            (false, None) => {}
        }
    }
}

/// Indices of the programs `attach_all` attaches: loaded and not [`AttachKind::Manual`].
pub fn auto_attachable(spec: &SkeletonSpec<'_>) -> Vec<usize> {
    spec.progs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.autoload && p.attach != AttachKind::Manual)
        .map(|(i, _)| i)
        .collect()
}

/// Whether the running kernel has the kprobe PMU (the host is built without kprobes; the VM
/// kernels have them).
pub fn kprobes_available() -> bool {
    std::path::Path::new("/sys/bus/event_source/devices/kprobe/type").exists()
}

/// Whether tracefs is mounted (the VM guests mount it; the host test machine does not).
pub fn tracefs_mounted() -> bool {
    [
        "/sys/kernel/tracing/events",
        "/sys/kernel/debug/tracing/events",
    ]
    .iter()
    .any(|p| std::path::Path::new(p).is_dir())
}

/// The [`auto_attachable`] programs the running system can attach: all of them, without the
/// kprobe-based ones (`kprobe/`, `kprobe.multi/`, `ksyscall/`) on a kernel without kprobes and
/// without the tracepoints (`tracepoint/`, `tp/`) when tracefs is not mounted.
pub fn attachable_here(spec: &SkeletonSpec<'_>) -> Vec<usize> {
    let kprobes = kprobes_available();
    let tracefs = tracefs_mounted();
    auto_attachable(spec)
        .into_iter()
        .filter(|&i| match spec.progs[i].attach {
            AttachKind::Kprobe { .. }
            | AttachKind::KprobeMulti { .. }
            | AttachKind::Ksyscall { .. } => kprobes,
            AttachKind::Tracepoint { .. } => tracefs,
            _ => true,
        })
        .collect()
}

/// Attaches every [`attachable_here`] program of `skel` (made from `spec`) by its section.
pub fn attach_here(skel: &LoadedSkeleton, spec: &SkeletonSpec<'_>) -> Result<Vec<Link>, Error> {
    attachable_here(spec)
        .into_iter()
        .map(|i| skel.attach_prog(i))
        .collect()
}

/// Whether two load errors are "the same failure": same stage, errno and origin.
pub fn same_failure(a: &Error, b: &Error) -> bool {
    a.stage() == b.stage() && a.errno() == b.errno() && a.from_loader() == b.from_loader()
}

/// The ID the next BPF map gets, as far as it can be observed: creates and closes a tiny array
/// map and returns its ID. IDs are allocated cyclically, so the difference of two calls bounds
/// the number of maps created in between (by this process and, on the host, by others).
pub fn map_id_mark() -> u32 {
    let fd = raw::map_create(2, 4, 4, 1, "bpfsign_mark", None).expect("creating a marker map");
    let info: [u8; 40] = obj_info(fd.as_fd()).expect("marker map info");
    u32_at(&info, 4)
}

/// Where the kernel's trace buffer is, if tracefs is mounted.
pub fn trace_file() -> Option<&'static str> {
    [
        "/sys/kernel/tracing/trace",
        "/sys/kernel/debug/tracing/trace",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
}

fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

/// The first 32 MiB of the trace buffer.
fn read_trace(path: &str) -> String {
    use std::io::Read;
    let mut text = String::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(32 << 20).read_to_string(&mut text);
    }
    text
}

/// Runs `trigger`, which must make a BPF program print `needle` from this thread, and waits
/// (up to 5 s) for a new such line in the trace; returns it. Panics if tracefs is missing.
pub fn expect_trace_after(needle: &str, trigger: impl FnOnce()) -> String {
    let trace = trace_file().expect("tracefs is not mounted: cannot check bpf_printk output");
    let tid = format!("-{} ", gettid());
    let lines = || -> Vec<String> {
        read_trace(trace)
            .lines()
            .filter(|l| l.contains(needle) && l.contains(&tid))
            .map(str::to_string)
            .collect()
    };
    let before = lines().len();
    trigger();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = lines();
        if now.len() > before {
            return now[before].clone();
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} from thread {tid}in {trace} within 5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Calls `getpid()` (hello's fentry target) with a raw syscall (no libc pid caching).
pub fn getpid_syscall() {
    // SAFETY: getpid has no preconditions.
    unsafe {
        libc::syscall(libc::SYS_getpid);
    }
}

/// The maps' names, comma-separated, for messages.
pub fn describe_maps(maps: &[MapSpec<'_>]) -> String {
    maps.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_matching() {
        assert!(same_series("7.3.4+deb13-cloud-amd64", "7.3.4"));
        assert!(same_series("7.3.9+deb13-cloud-amd64", "7.3.4"));
        assert!(!same_series("7.2.13+deb14-cloud-amd64", "7.3.4"));
        assert!(!same_series("6.18.15+deb13-cloud-amd64", "6.1.5"));
        assert!(!same_series("7.3.4", "host"));
    }

    #[test]
    fn every_golden_fixture_is_embedded_and_signed() {
        let index = include_str!("../../fixtures/golden/index.tsv");
        let stems: Vec<&str> = index
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split('\t').next().unwrap())
            .collect();
        assert_eq!(FIXTURES.iter().map(|f| f.stem).collect::<Vec<_>>(), stems);
        for f in FIXTURES {
            let protos: Vec<Protocol> = f.spec.variants.iter().map(|v| v.protocol).collect();
            assert_eq!(protos, Protocol::ALL, "{}", f.stem);
            for v in f.spec.variants {
                assert_eq!(
                    v.signature.is_some(),
                    v.protocol.is_signed(),
                    "{} {}",
                    f.stem,
                    v.protocol
                );
            }
            assert_eq!(f.progs.len(), f.spec.progs.len());
            let r = f.reference.expect("golden reference");
            // The generator's blob is bpftool's blob (the byte-exactness claim the reference
            // checks rely on).
            assert_eq!(
                r.data, f.spec.data,
                "{}: data blob differs from bpftool's",
                f.stem
            );
            assert_eq!(
                f.spec.variant(Protocol::Unsigned).unwrap().insns,
                r.unsigned_insns,
                "{}: unsigned loader differs from bpftool's",
                f.stem
            );
        }
    }

    #[test]
    fn tamper_changes_exactly_one_byte() {
        for (stem, needle) in [("hello", HELLO_FORMAT), ("net", &b"src/net.bpf.c"[..])] {
            let data = fixture(stem).spec.data;
            let t = tamper(data, needle);
            let diff: Vec<usize> = (0..data.len()).filter(|&i| t[i] != data[i]).collect();
            assert_eq!(diff.len(), 1, "{stem}");
            assert_eq!(t[diff[0]] ^ data[diff[0]], 0x20, "{stem}");
        }
        // The format string occurs once with a real newline (the line info has a backslash-n).
        let hello = fixture("hello").spec.data;
        let n = hello
            .windows(HELLO_FORMAT.len())
            .filter(|w| *w == HELLO_FORMAT)
            .count();
        assert_eq!(n, 1);
    }
}
