//! Per-test environment shared by the kernel-test crates: a private network namespace with
//! `lo` up, a tracefs the test thread can see, and a syscall to trigger programs with. Every
//! change stays in namespaces of the calling thread (each kernel test is its own process).

use std::path::Path;

/// Moves the calling thread into a new network namespace and brings its `lo` (ifindex 1) up.
pub fn enter_new_netns() {
    // SAFETY: plain syscall; CLONE_NEWNET moves only the calling thread.
    let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        r,
        0,
        "unshare(CLONE_NEWNET): {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a datagram socket of the new namespace for the interface ioctls, closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // struct ifreq: 16 bytes of name, then the flags (short); 40 bytes in all.
    let mut ifr = [0u8; 40];
    ifr[..2].copy_from_slice(b"lo");
    // SAFETY: SIOCGIFFLAGS / SIOCSIFFLAGS read and write the 40-byte ifreq we own; fd is ours.
    let (get, set) = unsafe {
        let get = libc::ioctl(fd, libc::SIOCGIFFLAGS, ifr.as_mut_ptr());
        let flags = i16::from_ne_bytes([ifr[16], ifr[17]]) | libc::IFF_UP as i16;
        ifr[16..18].copy_from_slice(&flags.to_ne_bytes());
        let set = libc::ioctl(fd, libc::SIOCSIFFLAGS, ifr.as_mut_ptr());
        libc::close(fd);
        (get, set)
    };
    assert_eq!((get, set), (0, 0), "bring lo up in the new namespace");
    let state = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap_or_default();
    assert!(state.contains("lo:"), "no lo in the new namespace: {state}");
}

/// Makes tracefs visible at /sys/kernel/tracing for this thread: when it is not mounted (the
/// host), mounts it in a new private mount namespace of the calling thread, so nothing changes
/// outside the test. The VM guests mount it at boot.
pub fn ensure_tracefs() {
    if crate::tracefs_mounted() {
        return;
    }
    // SAFETY: plain system calls with valid C strings; CLONE_NEWNS affects only this thread
    // (its fs_struct is copied), MS_PRIVATE keeps the new mount out of the host's namespace.
    unsafe {
        assert_eq!(
            libc::unshare(libc::CLONE_NEWNS),
            0,
            "unshare(CLONE_NEWNS): {}",
            std::io::Error::last_os_error()
        );
        let r = libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        );
        assert_eq!(r, 0, "make / private: {}", std::io::Error::last_os_error());
        let r = libc::mount(
            c"tracefs".as_ptr(),
            c"/sys/kernel/tracing".as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        );
        assert_eq!(r, 0, "mount tracefs: {}", std::io::Error::last_os_error());
    }
    assert!(Path::new("/sys/kernel/tracing/events").exists());
}

/// Calls getppid(2) `n` times (glibc does not cache it).
pub fn getppid_n(n: usize) {
    for _ in 0..n {
        // SAFETY: a system call without arguments.
        std::hint::black_box(unsafe { libc::getppid() });
    }
}
