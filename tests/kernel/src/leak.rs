//! Leak accounting for kernel tests, with raw syscalls only (independent of bpfsign-runtime):
//! the BPF programs, maps and links that exist system-wide (`BPF_{PROG,MAP,LINK}_GET_NEXT_ID`),
//! and this process's open fds and BPF mappings (`/proc/self/fd`, `/proc/self/maps`).
//!
//! In the VMs nothing but the test runs, so every object created during a checked section and
//! still alive afterwards is a leak. On the host other processes load BPF at any time: there the
//! system-wide walk is reported but only this process's own fds and mappings are asserted.

use std::time::{Duration, Instant};

use crate::Kernel;

const BPF_PROG_GET_NEXT_ID: libc::c_long = 11;
const BPF_MAP_GET_NEXT_ID: libc::c_long = 12;
const BPF_LINK_GET_NEXT_ID: libc::c_long = 31;

/// The IDs `cmd` (`BPF_*_GET_NEXT_ID`) walks, in ascending order.
fn walk_ids(cmd: libc::c_long) -> Vec<u32> {
    let mut all = Vec::new();
    let mut id = 0u32;
    loop {
        // union bpf_attr { __u32 start_id; __u32 next_id; __u32 open_flags; }
        let mut attr = [0u32; 3];
        attr[0] = id;
        // SAFETY: a 12-byte attr on a local buffer that outlives the call.
        let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), 12usize) };
        if r < 0 {
            // ENOENT ends the walk; anything else (EPERM without root) ends it too and shows
            // as an empty walk, which the callers compare before and after.
            return all;
        }
        id = attr[1];
        all.push(id);
    }
}

/// The BPF objects that exist system-wide.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Objects {
    /// Program IDs.
    pub progs: Vec<u32>,
    /// Map IDs.
    pub maps: Vec<u32>,
    /// Link IDs.
    pub links: Vec<u32>,
}

impl Objects {
    /// Walks the three ID spaces now.
    pub fn now() -> Objects {
        Objects {
            progs: walk_ids(BPF_PROG_GET_NEXT_ID),
            maps: walk_ids(BPF_MAP_GET_NEXT_ID),
            links: walk_ids(BPF_LINK_GET_NEXT_ID),
        }
    }

    /// The objects of `self` that `earlier` did not have (IDs are allocated cyclically and
    /// never reused soon, so these were created in between).
    pub fn since(&self, earlier: &Objects) -> Objects {
        let new = |now: &[u32], then: &[u32]| -> Vec<u32> {
            now.iter()
                .copied()
                .filter(|id| !then.contains(id))
                .collect()
        };
        Objects {
            progs: new(&self.progs, &earlier.progs),
            maps: new(&self.maps, &earlier.maps),
            links: new(&self.links, &earlier.links),
        }
    }

    /// Whether there are no objects at all.
    pub fn is_empty(&self) -> bool {
        self.progs.is_empty() && self.maps.is_empty() && self.links.is_empty()
    }
}

/// What this process holds: the number of open fds, its BPF fds and its BPF mappings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// Entries of `/proc/self/fd` (not counting the directory's own fd).
    pub fds: usize,
    /// `fd -> anon_inode:bpf-*` of every BPF fd.
    pub bpf_fds: Vec<String>,
    /// Lines of `/proc/self/maps` that map a BPF object.
    pub bpf_mappings: usize,
}

impl Held {
    /// Reads `/proc/self` now.
    pub fn now() -> Held {
        let mut fds = 0;
        let mut bpf_fds = Vec::new();
        let dir = std::fs::read_dir("/proc/self/fd").expect("reading /proc/self/fd");
        for e in dir.flatten() {
            let Ok(target) = std::fs::read_link(e.path()) else {
                // The directory's own fd is gone by the time it is read.
                continue;
            };
            fds += 1;
            let target = target.to_string_lossy().into_owned();
            if target.contains("bpf") {
                bpf_fds.push(format!("{} -> {target}", e.file_name().to_string_lossy()));
            }
        }
        let maps = std::fs::read_to_string("/proc/self/maps").expect("reading /proc/self/maps");
        Held {
            fds,
            bpf_fds,
            bpf_mappings: maps.lines().filter(|l| l.contains("bpf")).count(),
        }
    }
}

/// A snapshot to compare with later: system-wide objects and what this process holds.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// System-wide BPF objects.
    pub objects: Objects,
    /// This process's fds and mappings.
    pub held: Held,
}

impl Snapshot {
    /// Takes the snapshot now.
    pub fn take() -> Snapshot {
        Snapshot {
            objects: Objects::now(),
            held: Held::now(),
        }
    }

    /// Asserts that this process holds exactly what it held at the snapshot and (in the VMs)
    /// that no BPF object created since is still alive. Objects are freed asynchronously (RCU,
    /// work queues), so new ones get up to 5 s to go away.
    pub fn assert_nothing_new(&self, what: &str) {
        let held = Held::now();
        assert_eq!(
            held, self.held,
            "{what}: this process's fds or BPF mappings changed"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut new = Objects::now().since(&self.objects);
        while !new.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            new = Objects::now().since(&self.objects);
        }
        if Kernel::get() == Kernel::Host {
            // Other processes on the host load BPF too: report, do not judge.
            if !new.is_empty() {
                eprintln!("{what}: host: BPF objects created meanwhile system-wide (not necessarily ours): {new:?}");
            }
            return;
        }
        assert!(
            new.is_empty(),
            "{what}: BPF objects created during the check are still alive: {new:?}"
        );
    }
}

/// Runs `f` and asserts that it leaves nothing behind (see [`Snapshot::assert_nothing_new`]).
pub fn assert_no_leak<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let before = Snapshot::take();
    let r = f();
    before.assert_nothing_new(what);
    r
}
