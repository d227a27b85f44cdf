//! Build-time configuration reaches the kernel: the values given to `include_signed_skel!`
//! (src/config.rs) are what the BPF program reads, what `rodata()` shows, and what the kernel
//! reports for the configured map.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use bpfsign_functional_tests::config::{expected, ConfigGlobals};

/// `max_entries` of the map behind `fd`, from `BPF_OBJ_GET_INFO_BY_FD`.
fn map_max_entries(fd: BorrowedFd<'_>) -> u32 {
    const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
    // struct bpf_map_info: type, id, key_size, value_size, max_entries, map_flags, … (the
    // kernel fills at most the length given).
    let mut info = [0u32; 24];
    // union bpf_attr, info member: bpf_fd (u32), info_len (u32), info (u64 pointer).
    let mut attr = [0u64; 2];
    attr[0] = u64::from(fd.as_raw_fd() as u32) | (u64::from(size_of_val(&info) as u32) << 32);
    attr[1] = info.as_mut_ptr() as u64;
    // SAFETY: a BPF_OBJ_GET_INFO_BY_FD call with a 16-byte attr and an info buffer of the
    // length it names, both local and live for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_GET_INFO_BY_FD,
            attr.as_mut_ptr(),
            size_of_val(&attr) as u32,
        )
    };
    assert_eq!(
        r,
        0,
        "BPF_OBJ_GET_INFO_BY_FD: {}",
        std::io::Error::last_os_error()
    );
    info[4]
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_config_values_reach_the_program() {
    let skel = bpfsign_kernel_tests::load!(ConfigGlobals).expect("load config_globals");

    // The frozen .rodata by safe reference, and its per-variable handles.
    let ro = skel.rodata().expect("rodata");
    assert_eq!(ro.target_pid, expected::TARGET_PID);
    assert_eq!(ro.threshold, expected::THRESHOLD);
    assert_eq!(ro.offset, expected::OFFSET);
    assert_eq!(ro.tag.map(|c| c as u8), expected::TAG);
    let ro_vars = skel.rodata_vars().expect("rodata_vars");
    assert_eq!(ro_vars.threshold.get(), expected::THRESHOLD);
    assert_eq!(
        skel.read_rodata().expect("read_rodata").target_pid,
        expected::TARGET_PID
    );
    assert_eq!(
        skel.read_data().expect("read_data").data_knob,
        expected::DATA_KNOB
    );

    // max_entries as the kernel created the map.
    let inner = skel.inner();
    let idx = inner.map_index("cfg_map").expect("cfg_map");
    let fd = inner.map_fd(idx).expect("cfg_map fd");
    assert_eq!(map_max_entries(fd), expected::MAX_ENTRIES);

    // Only this process triggers the program; the filter is set through the per-variable
    // handle (an atomic store the program sees at once).
    let pid = std::process::id();
    let bss = skel.bss_vars().expect("bss_vars");
    assert!(bss.filter_pid.is_atomic());
    bss.filter_pid.store(pid);
    let links = skel.attach().expect("attach");
    let deadline = Instant::now() + Duration::from_secs(10);
    while bss.hits.load() == 0 {
        assert!(
            Instant::now() < deadline,
            "the program never ran for this process's syscalls"
        );
        // SAFETY: getppid has no preconditions.
        unsafe { libc::getppid() };
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(links);

    let seen = skel.read_bss().expect("read_bss");
    assert_eq!(seen.seen_target_pid, expected::TARGET_PID);
    assert_eq!(seen.seen_threshold, expected::THRESHOLD);
    assert_eq!(seen.seen_offset, expected::OFFSET);
    assert_eq!(seen.seen_tag.map(|c| c as u8), expected::TAG);
    assert_eq!(seen.seen_knob, expected::DATA_KNOB);
    assert_eq!(seen.seen_hz, expected::HZ);
    assert_eq!(seen.seen_version, expected::KERNEL_VERSION);
    assert_eq!(bss.seen_threshold.load(), expected::THRESHOLD);
}
