//! Kernel tests of the map handles: `bpf/maps_all.bpf.c` runs on the test thread's
//! getppid(2); the tests read and write its maps through the generated `maps()`.

use std::time::Duration;

use bpfsign_functional_tests::maps::{types, LoadedMapsAll, MapsAll};
use bpfsign_kernel_tests::leak::assert_no_leak;
use bpfsign_kernel_tests::load;
use bpfsign_runtime::MapFlags;

const IGNORE: &str = "kernel test: needs root and BPF; run with `cargo vmtest`";

fn tid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

fn trigger(n: usize) {
    for _ in 0..n {
        // SAFETY: getppid has no preconditions.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
}

/// Loads the skeleton and aims its program at this thread.
fn setup() -> LoadedMapsAll {
    let _ = IGNORE;
    let skel = load!(MapsAll).unwrap_or_else(|e| panic!("load: {e}"));
    skel.bss_vars().expect("bss").target_tid.store(tid());
    skel
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_maps_hash_array_lru() {
    assert_no_leak("hash, array and LRU maps", || {
        let skel = setup();
        let links = skel.attach().expect("attach");
        trigger(3);
        let m = skel.maps();
        // Hash: BPF wrote seq -> seq * 100 + 7.
        assert_eq!(m.counts.lookup(&1).unwrap(), Some(107));
        assert_eq!(m.counts.lookup(&9).unwrap(), None);
        let mut keys: Vec<u32> = m.counts.keys().collect::<Result<_, _>>().unwrap();
        keys.sort();
        assert_eq!(keys, [0, 1, 2]);
        let mut all: Vec<(u32, u64)> = m.counts.iter().collect::<Result<_, _>>().unwrap();
        all.sort();
        assert_eq!(all, [(0, 7), (1, 107), (2, 207)]);
        let mut batch = m.counts.lookup_batch().unwrap();
        batch.sort();
        assert_eq!(batch, all);
        assert!(m.counts.delete(&0).unwrap());
        assert!(!m.counts.delete(&0).unwrap());
        m.counts
            .update_batch(&[40, 41], &[4000, 4100], MapFlags::ANY)
            .unwrap();
        assert_eq!(m.counts.lookup(&41).unwrap(), Some(4100));
        assert_eq!(m.counts.delete_batch(&[40, 41]).unwrap(), 2);
        let e = m.counts.update(&1, &1, MapFlags::NOEXIST).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EEXIST));
        // Array of a struct: the generated value type.
        let p: types::ArrValue = m.arr.lookup(&1).unwrap().expect("array slot");
        assert_eq!((p.seq, p.tid, p.magic), (2, tid(), 0xabc));
        // LRU hash.
        assert_eq!(m.lru.lookup(&2).unwrap(), Some(207));
        drop(links);
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_maps_lpm_trie() {
    assert_no_leak("LPM trie", || {
        let skel = setup();
        let m = skel.maps();
        let key = types::LpmKey {
            prefixlen: 8,
            addr: [10, 0, 0, 0],
        };
        m.lpm.update(&key, &42, MapFlags::ANY).unwrap();
        let links = skel.attach().expect("attach");
        trigger(1);
        assert_eq!(
            skel.read_bss().unwrap().lpm_result,
            42,
            "BPF found 10.1.2.3 in 10/8"
        );
        drop(links);
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_maps_percpu() {
    assert_no_leak("per-CPU maps", || {
        let skel = setup();
        let links = skel.attach().expect("attach");
        trigger(5);
        let m = skel.maps();
        let per_cpu = m.pc_arr.lookup(&0).unwrap().expect("per-CPU array slot");
        assert_eq!(per_cpu.len(), m.pc_arr.cpus().unwrap());
        assert_eq!(per_cpu.iter().sum::<u64>(), 5);
        let h = m.pc_hash.lookup(&5).unwrap().expect("per-CPU hash element");
        assert_eq!(h.iter().sum::<u64>(), 5);
        // Rust writes one value per CPU.
        let vals: Vec<u64> = (0..per_cpu.len() as u64).collect();
        m.pc_hash.update(&6, &vals, MapFlags::ANY).unwrap();
        assert_eq!(m.pc_hash.lookup(&6).unwrap(), Some(vals));
        drop(links);
    });
}

/// The event struct; perf samples carry the kernel's padding after it (raw data is padded so
/// that the record stays 8-byte aligned), ring buffer records exactly its 16 bytes.
fn parse_event(b: &[u8]) -> (u32, u32, String) {
    assert!(b.len() >= 16, "event size {}", b.len());
    let tid = u32::from_ne_bytes(b[0..4].try_into().unwrap());
    let seq = u32::from_ne_bytes(b[4..8].try_into().unwrap());
    let tag = String::from_utf8_lossy(&b[8..])
        .trim_end_matches('\0')
        .to_string();
    (tid, seq, tag)
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_maps_ringbuf() {
    assert_no_leak("ring buffer", || {
        let skel = setup();
        let links = skel.attach().expect("attach");
        let mut reader = skel.maps().rb.reader();
        trigger(2);
        let mut got = Vec::new();
        while got.len() < 2 {
            let n = reader
                .poll(Duration::from_secs(5), |b| {
                    assert_eq!(b.len(), 16, "ring buffer record size");
                    got.push(parse_event(b))
                })
                .unwrap();
            assert!(n > 0, "no ring buffer event within 5 s");
        }
        assert_eq!(got, [(tid(), 0, "ring".into()), (tid(), 1, "ring".into())]);
        trigger(1);
        let mut more = Vec::new();
        assert_eq!(reader.consume(|b| more.push(parse_event(b))).unwrap(), 1);
        assert_eq!(more, [(tid(), 2, "ring".to_string())]);
        assert_eq!(reader.consume(|_| panic!("no more events")).unwrap(), 0);
        drop(links);
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_maps_perf_event_array() {
    assert_no_leak("perf event array", || {
        let skel = setup();
        let links = skel.attach().expect("attach");
        let mut reader = skel.maps().perf.reader(8).expect("perf reader");
        assert!(!reader.cpus().is_empty());
        trigger(3);
        let mut got = Vec::new();
        while got.len() < 3 {
            let n = reader
                .poll(Duration::from_secs(5), |cpu, b| {
                    got.push((cpu, parse_event(b)))
                })
                .unwrap();
            assert!(n > 0, "no perf event within 5 s");
        }
        let mut seqs: Vec<u32> = got.iter().map(|(_, e)| e.1).collect();
        seqs.sort();
        assert_eq!(seqs, [0, 1, 2]);
        assert!(got
            .iter()
            .all(|(cpu, e)| e.0 == tid() && e.2 == "perf" && reader.cpus().contains(cpu)));
        assert_eq!(reader.lost(), 0);
        drop(reader);
        drop(links);
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_maps_prog_array_tail_call() {
    assert_no_leak("prog array", || {
        let skel = setup();
        let links = skel.attach().expect("attach");
        let target = skel
            .inner()
            .program(skel.inner().prog_index("tail_target").unwrap())
            .unwrap();
        let jmp = skel.maps().jmp;
        trigger(1);
        assert_eq!(
            skel.read_bss().unwrap().tail_hits,
            0,
            "empty slot falls through"
        );
        jmp.set(0, &target).unwrap();
        assert!(jmp.prog_id(0).unwrap().is_some());
        trigger(2);
        assert_eq!(
            skel.read_bss().unwrap().tail_hits,
            2,
            "tail calls after set"
        );
        assert!(jmp.clear(0).unwrap());
        trigger(1);
        assert_eq!(
            skel.read_bss().unwrap().tail_hits,
            2,
            "no tail call after clear"
        );
        drop(links);
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_maps_map_of_maps() {
    assert_no_leak("map of maps", || {
        let skel = setup();
        let m = skel.maps();
        m.inner_a
            .update(&0, &111, MapFlags::ANY)
            .unwrap_or_else(|e| panic!("{e}"));
        m.inner_b
            .map()
            .update(&0u32.to_ne_bytes(), &222u32.to_ne_bytes(), MapFlags::ANY)
            .unwrap();
        // The static initialiser put inner_a at 0.
        assert!(m.outer.inner_id(&0).unwrap().is_some());
        let links = skel.attach().expect("attach");
        trigger(1);
        assert_eq!(skel.read_bss().unwrap().inner_val, 111);
        m.outer.set(&0, &m.inner_b).unwrap();
        trigger(1);
        assert_eq!(skel.read_bss().unwrap().inner_val, 222);
        assert!(m.outer.clear(&0).unwrap());
        assert_eq!(m.outer.inner_id(&0).unwrap(), None);
        drop(links);
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_maps_pin() {
    assert_no_leak("pin", || {
        let skel = setup();
        let dir = std::path::Path::new("/sys/fs/bpf");
        let path = dir.join(format!("bpfsign-maps-pin-{}", std::process::id()));
        skel.maps()
            .counts
            .pin(&path)
            .unwrap_or_else(|e| panic!("pin: {e}"));
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // BPF_OBJ_GET: pathname at 0, attr size 16.
        let mut attr = [0u64; 2];
        attr[0] = c.as_ptr() as u64;
        // SAFETY: a valid attr for BPF_OBJ_GET.
        let fd = unsafe { libc::syscall(libc::SYS_bpf, 7, attr.as_mut_ptr(), 16) };
        let removed = std::fs::remove_file(&path);
        assert!(
            fd >= 0,
            "BPF_OBJ_GET of the pin: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: our fd.
        unsafe { libc::close(fd as i32) };
        removed.expect("remove the pin");
        assert!(!path.exists());
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_maps_aya_interop() {
    assert_no_leak("aya interop", || {
        let skel = setup();
        let links = skel.attach().expect("attach");
        trigger(2);
        let counts = skel.maps().counts;
        let map = counts
            .map()
            .to_aya()
            .unwrap_or_else(|e| panic!("to_aya: {e}"));
        let h: aya::maps::HashMap<_, u32, u64> =
            aya::maps::HashMap::try_from(map).expect("an aya hash map");
        assert_eq!(h.get(&1, 0).expect("aya lookup"), 107);
        // The aya map has its own fd: the skeleton's handle still works after it is dropped.
        drop(h);
        assert_eq!(counts.lookup(&0).unwrap(), Some(7));
        drop(links);
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_maps_ringbuf_tokio() {
    assert_no_leak("tokio ring buffer reader", || {
        let skel = setup();
        let links = skel.attach().expect("attach");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .expect("tokio runtime");
        // Outside a runtime the reader is an error, not a panic.
        assert!(skel.maps().rb.async_reader().is_err());
        let got = rt.block_on(async {
            let mut reader = skel.maps().rb.async_reader().expect("async reader");
            trigger(2);
            let mut got = Vec::new();
            for _ in 0..2 {
                let rec = tokio::time::timeout(Duration::from_secs(5), reader.next())
                    .await
                    .expect("a ring buffer record within 5 s")
                    .expect("read");
                got.push(parse_event(&rec));
            }
            // A record that arrives while the reader waits wakes it (the trigger runs on
            // this thread, after the reader went to sleep on the empty ring).
            let mut seen = Vec::new();
            let wait = tokio::time::timeout(
                Duration::from_secs(5),
                reader.poll(|b| seen.push(parse_event(b).1)),
            );
            let later = async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                trigger(1);
            };
            let (n, ()) = tokio::join!(wait, later);
            assert_eq!(n.expect("woken within 5 s").expect("poll"), 1);
            assert_eq!(seen, [2]);
            got
        });
        assert_eq!(got, [(tid(), 0, "ring".into()), (tid(), 1, "ring".into())]);
        drop(rt);
        drop(links);
    });
}
