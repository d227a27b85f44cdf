//! Faults and load on real kernels: many loads at once (threads and processes), tiny resource
//! limits, signals during loads, loaders failing half-way, a system without bpffs or without a
//! readable `/sys/kernel/btf/vmlinux`. Every case ends with the leak check of
//! `bpfsign_kernel_tests::leak`: no new BPF program, map or link (VMs), the same open fds.
//!
//! The workload is the `probes` fixture (kprobes, tracepoints, a task iterator: no BPF
//! trampoline, so many copies can be attached at once) loaded with the protocol the probe picks,
//! signed by key A from the session keyring, then attach its iterator program and detach.
//! The host verifies no signatures: there each test first asserts that the signed load is
//! refused with EOPNOTSUPP, then runs the same workload with the unsigned loader.
//!
//! Child processes re-run this test binary with `fault_child` as the only test and
//! `BPFSIGN_FAULT_CHILD=<mode>` (ignored, not a `kernel_*` test: `cargo vmtest` never runs it
//! on its own).

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use bpfsign_kernel_tests::leak::{assert_no_leak, Held, Snapshot};
use bpfsign_kernel_tests::*;
use bpfsign_runtime::{
    load, probe_uncached, AttachKind, Error, Keyring, LoadOptions, Protocol, SkeletonSpec, Stage,
};

/// Selects the child mode of [`fault_child`].
const CHILD_ENV: &str = "BPFSIGN_FAULT_CHILD";
/// How many loads run at once (threads, processes).
const CONCURRENT: usize = 100;

/// The workload's skeleton and load options on kernel `k` (see the module docs).
fn workload(k: Kernel) -> (SkeletonSpec<'static>, LoadOptions) {
    let spec = fixture("probes").spec;
    let opts = if k.signs() {
        LoadOptions::new().keyring(Keyring::Session)
    } else {
        LoadOptions::new().protocol(Protocol::Unsigned)
    };
    (spec, opts)
}

/// Registers cert A in a fresh session keyring (inherited by threads and child processes) and
/// on the host asserts that the signed workload is refused with EOPNOTSUPP.
fn setup() -> Kernel {
    let k = Kernel::get();
    session_with_cert_a();
    if !k.signs() {
        let spec = fixture("probes").spec;
        let e = assert_no_leak("host: signed load", || {
            load(&spec, &LoadOptions::new().keyring(Keyring::Session))
                .expect_err("the host verifies no signatures")
        });
        assert_eq!(
            (e.stage(), e.errno()),
            (Stage::ProgLoad, Some(libc::EOPNOTSUPP)),
            "{e}"
        );
    }
    k
}

/// The workload's programs to attach: those attached by a link of their own (iterators, raw and
/// BTF tracepoints). Perf-event attachments (kprobes, tracepoints) are left out: at most 64
/// programs share one kprobe or tracepoint (`BPF_TRACE_MAX_PROGS`, E2BIG past it), fewer than
/// the concurrent loads here, and the host has no kprobe PMU.
fn workload_progs(spec: &SkeletonSpec<'_>) -> Vec<usize> {
    auto_attachable(spec)
        .into_iter()
        .filter(|&i| {
            matches!(
                spec.progs[i].attach,
                AttachKind::Iter | AttachKind::RawTracepoint { .. }
            )
        })
        .collect()
}

/// Load, attach the [`workload_progs`], detach, unload.
fn load_attach_detach(spec: &SkeletonSpec<'_>, opts: &LoadOptions) -> Result<Protocol, Error> {
    let skel = load(spec, opts)?;
    let links = workload_progs(spec)
        .into_iter()
        .map(|i| skel.attach_prog(i))
        .collect::<Result<Vec<_>, Error>>()?;
    assert!(!links.is_empty(), "the workload attaches something");
    let p = skel.protocol();
    drop(links);
    drop(skel);
    Ok(p)
}

/// Asserts that `e` is a typed bpfsign failure with errno and guidance; returns "stage/ERRNO".
fn clean_failure(what: &str, e: &Error) -> String {
    let errno = e
        .errno()
        .unwrap_or_else(|| panic!("{what}: failure without errno: {e}"));
    assert!(!e.guidance().is_empty(), "{what}: no guidance: {e}");
    format!(
        "{:?}/{}{}",
        e.stage(),
        bpfsign_runtime::errno_name(errno),
        if e.from_loader() { "(loader)" } else { "" }
    )
}

/// Runs this test binary's [`fault_child`] in `mode` with `args` (in its environment) and
/// waits for it.
fn spawn_child(mode: &str, args: &[(&str, String)]) -> std::process::Child {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--ignored",
        "--exact",
        "--test-threads=1",
        "--nocapture",
        "fault_child",
    ])
    .env(CHILD_ENV, mode)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in args {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawning the test binary as a child")
}

/// Asserts that the child succeeded; returns its stderr (where the child reports).
fn child_ok(what: &str, out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test fault_child ... ok"),
        "{what}: child failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stderr
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_faults_concurrent_threads() {
    let k = setup();
    let (spec, opts) = workload(k);
    let start = Instant::now();
    let results = assert_no_leak("concurrent threads", || {
        let barrier = Arc::new(Barrier::new(CONCURRENT));
        let threads: Vec<_> = (0..CONCURRENT)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    load_attach_detach(&spec, &opts)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("load thread panicked"))
            .collect::<Vec<_>>()
    });
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(p) if k.signs() => assert_eq!(*p, k.family(), "thread {i}"),
            Ok(p) => assert_eq!(*p, Protocol::Unsigned, "thread {i}"),
            Err(e) => panic!("thread {i}: {e}"),
        }
    }
    eprintln!(
        "{CONCURRENT} concurrent load+attach+detach in threads: all ok in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// Forks a child that runs `f` and exits with 0 when it returns true, 1 when false, 101 when
/// it panics; returns its pid.
fn fork_child(f: impl FnOnce() -> bool) -> libc::pid_t {
    // SAFETY: fork has no memory-safety preconditions; the child only runs `f` and `_exit`s
    // (glibc keeps malloc usable after fork; libtest's other thread holds no lock while it
    // waits for this test).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(_) => 101,
        };
        // SAFETY: ends the child without running the parent's exit handlers twice.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// Waits for `pid` and returns its exit status (or 128 + signal).
fn wait_child(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: waits for our own child with a valid out pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid, "waitpid: {}", std::io::Error::last_os_error());
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_faults_concurrent_processes() {
    let k = setup();
    let (spec, opts) = workload(k);
    let want = if k.signs() {
        k.family()
    } else {
        Protocol::Unsigned
    };
    // Probe in the parent: the forked children inherit the cached result.
    bpfsign_runtime::selected_protocol(None).unwrap_or_else(|e| panic!("probe: {e}"));
    let start = Instant::now();
    assert_no_leak("concurrent processes", || {
        // A pipe as a start barrier: every child blocks reading it until the parent closes
        // the write end, so all 100 load at once.
        let mut fds = [0; 2];
        // SAFETY: a valid 2-element out array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let pids: Vec<libc::pid_t> = (0..CONCURRENT)
            .map(|_| {
                fork_child(|| {
                    // SAFETY: closing our copy of the write end, then reading the read end.
                    unsafe {
                        libc::close(fds[1]);
                        let mut b = 0u8;
                        libc::read(fds[0], (&mut b as *mut u8).cast(), 1);
                        libc::close(fds[0]);
                    }
                    let held = Held::now();
                    match load_attach_detach(&spec, &opts) {
                        Ok(p) if p == want => Held::now() == held,
                        Ok(p) => {
                            eprintln!("child: loaded with {p}, expected {want}");
                            false
                        }
                        Err(e) => {
                            eprintln!("child: {e}");
                            false
                        }
                    }
                })
            })
            .collect();
        // SAFETY: closing the parent's pipe fds starts the children.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        let failed: Vec<(usize, i32)> = pids
            .into_iter()
            .map(wait_child)
            .enumerate()
            .filter(|&(_, status)| status != 0)
            .collect();
        assert!(
            failed.is_empty(),
            "children failed (index, exit status; 1 = load error or fds left, see stderr): {failed:?}"
        );
    });
    eprintln!(
        "{CONCURRENT} concurrent forked processes (load+attach+detach, {want}): all ok in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_faults_rlimit_memlock() {
    setup();
    let out = assert_no_leak("RLIMIT_MEMLOCK child", || {
        spawn_child("memlock", &[])
            .wait_with_output()
            .expect("waiting for the child")
    });
    let report = child_ok("RLIMIT_MEMLOCK = 0", out);
    eprintln!("{report}");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_faults_rlimit_nofile() {
    let k = setup();
    let out = assert_no_leak("RLIMIT_NOFILE child", || {
        spawn_child("nofile", &[])
            .wait_with_output()
            .expect("waiting for the child")
    });
    let report = child_ok("RLIMIT_NOFILE sweep", out);
    eprintln!("{report}");
    // The sweep must have hit every stage that creates an fd: the metadata map, the loader
    // program, and the loader's own BTF, maps and programs (its return value -EMFILE). The
    // attach never runs short: the runtime closes the loader's two fds before it.
    for w in [
        "MapCreate/EMFILE",
        "ProgLoad/EMFILE",
        "LoaderRun/EMFILE(loader)",
    ] {
        assert!(
            report.contains(w),
            "{k:?}: RLIMIT_NOFILE sweep never failed with {w}:\n{report}"
        );
    }
}

/// Set by the SIGALRM handler.
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_sigalrm(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_faults_signal_during_load() {
    let k = setup();
    let (spec, opts) = workload(k);
    // A no-op SIGALRM handler without SA_RESTART: a blocking syscall it interrupts returns EINTR.
    // SAFETY: a zeroed sigaction with a plain handler function and an empty mask.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigalrm as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = 0;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut()), 0);
    }
    // SIGALRM is process-directed with setitimer and could land on libtest's main thread; a
    // helper thread sends it to this thread (tgkill) instead: one signal per load, at a delay
    // that differs from load to load (spread over one load's duration), so loads are hit early,
    // late (in the loader, at attach) or not at all.
    // SAFETY: getpid/gettid have no preconditions.
    let (pid, tid) = unsafe {
        (
            libc::getpid(),
            libc::syscall(libc::SYS_gettid) as libc::pid_t,
        )
    };
    // At least MIN_LOADS loads; more (up to MAX_LOADS) until both an interrupted and a
    // successful load were seen: how often a signal lands inside a syscall depends on the
    // machine's speed and load, so a fixed count makes the test flaky.
    const MIN_LOADS: usize = 40;
    const MAX_LOADS: usize = 400;
    // How long one load + attach + detach takes here (no signals yet): the signals are spread
    // over that time, so they land inside loads on fast and slow machines alike.
    let calibration = Instant::now();
    load_attach_detach(&spec, &opts).expect("a load without signals");
    let load_nanos = Arc::new(AtomicU64::new(
        u64::try_from(calibration.elapsed().as_nanos()).unwrap_or(u64::MAX),
    ));
    let current = Arc::new(AtomicUsize::new(usize::MAX));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (current, stop, load_nanos) = (
            Arc::clone(&current),
            Arc::clone(&stop),
            Arc::clone(&load_nanos),
        );
        std::thread::spawn(move || {
            let mut last = usize::MAX;
            while !stop.load(Ordering::Relaxed) {
                let i = current.load(Ordering::Relaxed);
                if i == last || i == usize::MAX {
                    std::thread::sleep(Duration::from_micros(50));
                    continue;
                }
                last = i;
                // A point inside the load: a fraction (0 to 39/40) of the calibrated duration.
                let step = ((i * 7919) % 40) as u64;
                let whole = load_nanos.load(Ordering::Relaxed);
                std::thread::sleep(Duration::from_nanos(whole * step / 40));
                if current.load(Ordering::Relaxed) == i {
                    // SAFETY: tgkill to a thread of this process with a handled signal.
                    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGALRM) };
                }
            }
        })
    };
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let start = Instant::now();
    let before = Snapshot::take();
    let mut loads = 0;
    for i in 0..MAX_LOADS {
        let exercised = outcomes.len() > 1 && outcomes.contains_key("ok");
        if i >= MIN_LOADS && (exercised || start.elapsed() > Duration::from_secs(60)) {
            break;
        }
        loads += 1;
        let held = Held::now();
        current.store(i, Ordering::Relaxed);
        let r = load_attach_detach(&spec, &opts);
        current.store(usize::MAX, Ordering::Relaxed);
        let key = match &r {
            Ok(_) => "ok".to_string(),
            Err(e) => {
                let f = clean_failure(&format!("load {i}"), e);
                // Interrupted, not broken: EINTR from a syscall, EAGAIN from the verifier
                // (signal_pending), also inside the loader.
                assert!(
                    matches!(e.errno(), Some(libc::EINTR) | Some(libc::EAGAIN)),
                    "load {i} under signals failed otherwise: {e}"
                );
                f
            }
        };
        *outcomes.entry(key).or_default() += 1;
        assert_eq!(Held::now(), held, "load {i}: fds or mappings left behind");
    }
    stop.store(true, Ordering::Relaxed);
    sender.join().expect("signal thread");
    before.assert_nothing_new("loads under SIGALRM");
    let signals = SIGNALS.load(Ordering::Relaxed);
    eprintln!(
        "{loads} loads under {signals} SIGALRMs in {:.1} s: {outcomes:?}",
        start.elapsed().as_secs_f64()
    );
    assert!(signals > 0, "no signal was delivered");
    assert!(
        outcomes.len() > 1,
        "the signals interrupted no load (or every one): nothing was exercised: {outcomes:?}"
    );
    assert!(
        outcomes.get("ok").is_some_and(|&n| n > 0),
        "no load succeeded under signals: {outcomes:?}"
    );
}

/// Offset in `data` of the only occurrence of `needle`.
fn find_once(data: &[u8], needle: &[u8], what: &str) -> usize {
    let hits: Vec<usize> = data
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "{what}: occurrences in the blob");
    hits[0]
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_faults_loader_fails_midway() {
    let k = setup();
    // Unsigned loaders (a changed blob fails every signed one up front, see tests/tamper.rs).
    let opts = LoadOptions::new().protocol(Protocol::Unsigned);

    // 1. The last map of `maps` cannot be created: its BPF_MAP_CREATE attr in the blob
    //    (map_type, key_size, value_size, max_entries at offset 0) gets max_entries = 0, so
    //    the loader fails after creating the maps before it.
    let f = fixture("maps");
    let last = f.spec.maps.last().expect("maps has maps");
    assert!(f.spec.maps.len() >= 2, "maps has several maps");
    let mut attr = Vec::new();
    for v in [
        last.map_type,
        last.key_size,
        last.value_size,
        last.max_entries,
    ] {
        attr.extend_from_slice(&v.to_ne_bytes());
    }
    let at = find_once(f.spec.data, &attr, "last map's attr");
    let mut data = f.spec.data.to_vec();
    data[at + 12..at + 16].copy_from_slice(&0u32.to_ne_bytes());
    let spec = f.with_data(Box::leak(data.into_boxed_slice()));
    let e = assert_no_leak("map N cannot be created", || {
        load(&spec, &opts).expect_err("a map with max_entries 0")
    });
    let got = clean_failure("map N", &e);
    eprintln!("{k:?}: map {} with max_entries 0: {got}: {e}", last.name);
    assert_eq!(
        (e.stage(), e.errno(), e.from_loader()),
        (Stage::LoaderRun, Some(libc::EINVAL), true),
        "{e}"
    );

    // 2. The last program of `probes` cannot be loaded: the prog_type of its BPF_PROG_LOAD attr
    //    (offset 0; the name at offset 48) becomes one no kernel has, after the maps and the
    //    earlier programs were loaded.
    let f = fixture("probes");
    let p = f.spec.progs.last().expect("probes has programs");
    let mut name = [0u8; 16];
    let n = p.name.len().min(15);
    name[..n].copy_from_slice(&p.name.as_bytes()[..n]);
    let name_at = find_once(f.spec.data, &name, "last program's name");
    assert!(name_at >= 48, "name inside a prog attr");
    let attr_at = name_at - 48;
    assert_eq!(
        &f.spec.data[attr_at..attr_at + 4],
        &p.prog_type.to_ne_bytes()[..],
        "prog_type at the start of the attr"
    );
    let mut data = f.spec.data.to_vec();
    data[attr_at..attr_at + 4].copy_from_slice(&0x7fffu32.to_ne_bytes());
    let spec = f.with_data(Box::leak(data.into_boxed_slice()));
    let e = assert_no_leak("program N cannot be loaded", || {
        load(&spec, &opts).expect_err("a program of an unknown type")
    });
    let got = clean_failure("program N", &e);
    eprintln!("{k:?}: program {} of type 0x7fff: {got}: {e}", p.name);
    assert_eq!(
        (e.stage(), e.errno(), e.from_loader()),
        (Stage::LoaderRun, Some(libc::EINVAL), true),
        "{e}"
    );
}

/// Moves this thread into a private mount namespace (nothing it mounts or unmounts is seen
/// outside the test).
fn private_mounts() {
    // SAFETY: unshare/mount with valid C strings; affects only this thread's mount namespace.
    unsafe {
        assert_eq!(
            libc::unshare(libc::CLONE_NEWNS),
            0,
            "unshare(CLONE_NEWNS): {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(
            libc::mount(
                c"none".as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null()
            ),
            0,
            "making / private: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Mount points of filesystem type `fstype` (from /proc/self/mountinfo).
fn mounts_of(fstype: &str) -> Vec<String> {
    // This thread's namespace: /proc/self is the main thread, which kept the old one.
    let info = std::fs::read_to_string("/proc/thread-self/mountinfo").expect("mountinfo");
    info.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let ty = right.split(' ').next()?;
            (ty == fstype).then(|| left.split(' ').nth(4).unwrap_or("").to_string())
        })
        .collect()
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_faults_without_bpffs() {
    let k = setup();
    let (spec, opts) = workload(k);
    private_mounts();
    // bpffs may be mounted more than once on the same point: unmount until none is left.
    for _ in 0..16 {
        for m in mounts_of("bpf") {
            let c = std::ffi::CString::new(m.clone()).expect("mount point");
            // SAFETY: a valid C string.
            let r = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            let err = std::io::Error::last_os_error();
            assert!(
                r == 0 || err.raw_os_error() == Some(libc::EINVAL),
                "umount {m}: {err}"
            );
        }
    }
    assert_eq!(
        mounts_of("bpf"),
        Vec::<String>::new(),
        "bpffs still mounted"
    );
    let p = assert_no_leak("without bpffs", || load_attach_detach(&spec, &opts))
        .unwrap_or_else(|e| panic!("without bpffs: {e}"));
    eprintln!("{k:?}: no bpffs mounted: load+attach+detach ok ({p})");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_faults_without_vmlinux_btf_file() {
    let k = setup();
    let (spec, opts) = workload(k);
    let with_btf = probe_uncached();
    private_mounts();
    // An empty tmpfs over /sys/kernel/btf hides vmlinux BTF from user space (the kernel keeps
    // its BTF: the loaders' own checks still work).
    // SAFETY: valid C strings.
    let r = unsafe {
        libc::mount(
            c"none".as_ptr(),
            c"/sys/kernel/btf".as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "mount tmpfs: {}", std::io::Error::last_os_error());
    assert!(!std::path::Path::new("/sys/kernel/btf/vmlinux").exists());
    let without = probe_uncached();
    eprintln!("{k:?}: probe with BTF: {with_btf}\nprobe without BTF: {without}");
    assert_eq!(
        without.protocol(),
        with_btf.protocol(),
        "protocol without BTF"
    );
    if k.signs() {
        assert_eq!(without.family(), with_btf.family(), "family without BTF");
    } else {
        // Signing unsupported: the probe skips its behavioural fallback, so without BTF the
        // family is a guess; only "no signed protocol" matters for loading.
        assert_eq!(without.protocol(), None, "host: no signed protocol");
    }
    let p = assert_no_leak("without vmlinux BTF file", || {
        load_attach_detach(&spec, &opts)
    })
    .unwrap_or_else(|e| panic!("without /sys/kernel/btf/vmlinux: {e}"));
    if k.signs() {
        assert_eq!(p, k.family());
    }
}

/// Sets the soft and hard limit of an `RLIMIT_*` resource.
fn set_rlimit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) {
    let r = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: a valid rlimit struct.
    let rc = unsafe { libc::setrlimit(resource, &r) };
    assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

/// The soft and hard limit of an `RLIMIT_*` resource.
fn get_rlimit(resource: libc::__rlimit_resource_t) -> (u64, u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid out pointer.
    assert_eq!(unsafe { libc::getrlimit(resource, &mut r) }, 0);
    (r.rlim_cur, r.rlim_max)
}

/// The lowest fd number this process has free: with `RLIMIT_NOFILE` at that number no fd can
/// be created (fds are allocated lowest-first below the limit).
fn lowest_free_fd() -> u64 {
    let open: std::collections::BTreeSet<u64> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .collect();
    // The directory's own fd is closed again by now.
    (0..).find(|n| !open.contains(n)).unwrap_or(0)
}

/// The child side of the process tests; does nothing useful (and fails) outside them.
#[test]
#[ignore = "helper of the kernel_faults_* tests: runs only as their child process"]
fn fault_child() {
    let mode = std::env::var(CHILD_ENV).unwrap_or_else(|_| {
        panic!("{CHILD_ENV} is not set: this runs only as a child of kernel_faults_*")
    });
    let k = Kernel::get();
    let (spec, opts) = workload(k);
    match mode.as_str() {
        "load" => {
            let held = Held::now();
            let p = load_attach_detach(&spec, &opts).unwrap_or_else(|e| panic!("child load: {e}"));
            let want = if k.signs() {
                k.family()
            } else {
                Protocol::Unsigned
            };
            assert_eq!(p, want, "child: protocol");
            assert_eq!(Held::now(), held, "child: fds left behind");
        }
        "memlock" => {
            set_rlimit(libc::RLIMIT_MEMLOCK, 0, 0);
            let held = Held::now();
            let r = assert_no_leak("RLIMIT_MEMLOCK = 0", || load_attach_detach(&spec, &opts));
            assert_eq!(Held::now(), held);
            // Since 5.11 BPF memory is charged to the memory cgroup, not to RLIMIT_MEMLOCK:
            // the limit must not matter (and the runtime must not trip over it, e.g. in mmap).
            match r {
                Ok(p) => {
                    eprintln!("RLIMIT_MEMLOCK = 0: load+attach+detach ok ({p}): memcg accounting")
                }
                Err(e) => panic!("RLIMIT_MEMLOCK = 0: {e}"),
            }
        }
        "nofile" => {
            // Warm up: the probe runs (and is cached) before the limits bite.
            load_attach_detach(&spec, &opts).unwrap_or_else(|e| panic!("warm-up load: {e}"));
            let (soft, hard) = get_rlimit(libc::RLIMIT_NOFILE);
            // Listing /proc/self/fd held the lowest free fd itself: one below is free again.
            let first = lowest_free_fd().saturating_sub(1);
            let mut seen = Vec::new();
            for limit in first..first + 256 {
                let before = Snapshot::take();
                set_rlimit(libc::RLIMIT_NOFILE, limit, hard);
                let r = load_attach_detach(&spec, &opts);
                set_rlimit(libc::RLIMIT_NOFILE, soft, hard);
                before.assert_nothing_new(&format!("RLIMIT_NOFILE = {limit}"));
                match r {
                    Ok(p) => {
                        eprintln!("RLIMIT_NOFILE = {limit}: ok ({p})");
                        eprintln!("sweep: {}", seen.join(" "));
                        return;
                    }
                    Err(e) => {
                        let f = clean_failure(&format!("RLIMIT_NOFILE = {limit}"), &e);
                        assert_eq!(
                            e.errno(),
                            Some(libc::EMFILE),
                            "RLIMIT_NOFILE = {limit}: {e}"
                        );
                        eprintln!("RLIMIT_NOFILE = {limit}: {f}: {e}");
                        seen.push(f);
                    }
                }
            }
            panic!(
                "no load succeeded with up to 256 more fds: {}",
                seen.join(" ")
            );
        }
        other => panic!("unknown {CHILD_ENV}={other}"),
    }
}
