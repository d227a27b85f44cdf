//! Unit tests of the map handles against a fake kernel that records the attr bytes and keeps
//! the elements of one map, and of the ring and perf buffer parsers over plain memory.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::ringbuf::{consume_raw, ConsumeError, BUSY_BIT, DISCARD_BIT};
use super::sys::*;
use super::*;
use crate::sys::{Sys, BPF_OBJ_GET_INFO_BY_FD};

/// One recorded call: command and attr bytes.
type Rec = (u32, Vec<u8>);

/// A fake kernel holding the elements of one map (key/value sizes fixed at creation).
struct FakeMap {
    ks: usize,
    vs: usize,
    elems: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    calls: Mutex<Vec<Rec>>,
    pins: Mutex<Vec<(String, i32)>>,
}

fn rd_u32(a: &[u8], o: usize) -> u32 {
    u32::from_ne_bytes(a[o..o + 4].try_into().unwrap())
}
fn rd_u64(a: &[u8], o: usize) -> u64 {
    u64::from_ne_bytes(a[o..o + 8].try_into().unwrap())
}
/// # Safety
/// `p` must point to `n` readable bytes.
unsafe fn read(p: u64, n: usize) -> Vec<u8> {
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts(p as usize as *const u8, n).to_vec() }
}
/// # Safety
/// `p` must point to `b.len()` writable bytes.
unsafe fn write(p: u64, b: &[u8]) {
    // SAFETY: guaranteed by the caller.
    unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), p as usize as *mut u8, b.len()) }
}

impl FakeMap {
    fn new(ks: usize, vs: usize) -> Self {
        FakeMap {
            ks,
            vs,
            elems: Mutex::new(BTreeMap::new()),
            calls: Mutex::new(Vec::new()),
            pins: Mutex::new(Vec::new()),
        }
    }
    fn calls(&self) -> Vec<Rec> {
        self.calls.lock().unwrap().clone()
    }
}

impl Sys for FakeMap {
    fn bpf(&self, cmd: u32, attr: &mut [u8]) -> io::Result<i64> {
        self.calls.lock().unwrap().push((cmd, attr.to_vec()));
        let enoent = || Err(io::Error::from_raw_os_error(libc::ENOENT));
        let mut e = self.elems.lock().unwrap();
        // SAFETY: the wrappers pass pointers to buffers of the map's key/value sizes.
        unsafe {
            match cmd {
                BPF_MAP_LOOKUP_ELEM => {
                    let k = read(rd_u64(attr, 8), self.ks);
                    let Some(v) = e.get(&k) else { return enoent() };
                    write(rd_u64(attr, 16), v);
                }
                BPF_MAP_UPDATE_ELEM => {
                    let k = read(rd_u64(attr, 8), self.ks);
                    let v = read(rd_u64(attr, 16), self.vs);
                    let flags = rd_u64(attr, 24);
                    if flags == 1 && e.contains_key(&k) {
                        return Err(io::Error::from_raw_os_error(libc::EEXIST));
                    }
                    if flags == 2 && !e.contains_key(&k) {
                        return enoent();
                    }
                    e.insert(k, v);
                }
                BPF_MAP_DELETE_ELEM => {
                    let k = read(rd_u64(attr, 8), self.ks);
                    if e.remove(&k).is_none() {
                        return enoent();
                    }
                }
                BPF_MAP_GET_NEXT_KEY => {
                    let next = match rd_u64(attr, 8) {
                        0 => e.keys().next().cloned(),
                        p => {
                            let k = read(p, self.ks);
                            e.range(k.clone()..)
                                .find(|(kk, _)| **kk != k)
                                .map(|(kk, _)| kk.clone())
                        }
                    };
                    let Some(n) = next else { return enoent() };
                    write(rd_u64(attr, 16), &n);
                }
                BPF_MAP_LOOKUP_BATCH => {
                    // Token: index of the next element (u32).
                    let start = match rd_u64(attr, 0) {
                        0 => 0,
                        p => rd_u32(&read(p, 4), 0) as usize,
                    };
                    let count = rd_u32(attr, 32) as usize;
                    let items: Vec<_> = e.iter().skip(start).take(count).collect();
                    for (i, (k, v)) in items.iter().enumerate() {
                        write(rd_u64(attr, 16) + (i * self.ks) as u64, k);
                        write(rd_u64(attr, 24) + (i * self.vs) as u64, v);
                    }
                    let n = items.len();
                    attr[32..36].copy_from_slice(&(n as u32).to_ne_bytes());
                    write(rd_u64(attr, 8), &((start + n) as u32).to_ne_bytes());
                    if start + n >= e.len() {
                        return enoent();
                    }
                }
                BPF_MAP_UPDATE_BATCH | BPF_MAP_DELETE_BATCH => {
                    let count = rd_u32(attr, 32) as usize;
                    for i in 0..count {
                        let k = read(rd_u64(attr, 16) + (i * self.ks) as u64, self.ks);
                        if cmd == BPF_MAP_UPDATE_BATCH {
                            let v = read(rd_u64(attr, 24) + (i * self.vs) as u64, self.vs);
                            e.insert(k, v);
                        } else if e.remove(&k).is_none() {
                            attr[32..36].copy_from_slice(&(i as u32).to_ne_bytes());
                            return enoent();
                        }
                    }
                }
                BPF_OBJ_PIN => {
                    let p =
                        std::ffi::CStr::from_ptr(rd_u64(attr, 0) as usize as *const libc::c_char);
                    self.pins
                        .lock()
                        .unwrap()
                        .push((p.to_string_lossy().into_owned(), rd_u32(attr, 8) as i32));
                }
                BPF_OBJ_GET_INFO_BY_FD if rd_u32(attr, 4) == 8 => {
                    // u32 type, u32 id: id 77.
                    write(rd_u64(attr, 8), &[0, 0, 0, 0, 77, 0, 0, 0]);
                }
                _ => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
            }
        }
        Ok(0)
    }
}

fn memfd() -> OwnedFd {
    // SAFETY: valid C string; the fd is ours.
    unsafe {
        OwnedFd::from_raw_fd(libc::memfd_create(
            c"bpfsign-maps-test".as_ptr(),
            libc::MFD_CLOEXEC,
        ))
    }
}

fn info(map_type: u32, ks: u32, vs: u32, max: u32) -> MapInfo {
    MapInfo {
        map_type,
        key_size: ks,
        value_size: vs,
        max_entries: max,
    }
}

/// Asserts that every attr byte outside `fields` is zero.
fn zero_except(a: &[u8], fields: &[(usize, usize)]) {
    for (i, b) in a.iter().enumerate() {
        if !fields.iter().any(|&(o, l)| i >= o && i < o + l) {
            assert_eq!(*b, 0, "attr byte {i}");
        }
    }
}

#[test]
fn element_attrs_have_the_kernel_layout() {
    let fake = FakeMap::new(4, 8);
    let fd = memfd();
    let map = Map::from_parts(
        fd.as_fd(),
        "counts",
        info(map_type::HASH, 4, 8, 16),
        None,
        &fake,
    );
    let h = HashMap::<u32, u64>::new(map).unwrap();
    h.update(&7, &70, MapFlags::NOEXIST).unwrap();
    assert_eq!(h.lookup(&7).unwrap(), Some(70));
    assert_eq!(h.lookup(&8).unwrap(), None);
    assert!(h.delete(&7).unwrap());
    assert!(!h.delete(&7).unwrap());
    let calls = fake.calls();
    let cmds: Vec<u32> = calls.iter().map(|c| c.0).collect();
    assert_eq!(
        cmds,
        [
            BPF_MAP_UPDATE_ELEM,
            BPF_MAP_LOOKUP_ELEM,
            BPF_MAP_LOOKUP_ELEM,
            BPF_MAP_DELETE_ELEM,
            BPF_MAP_DELETE_ELEM
        ]
    );
    for (cmd, a) in &calls {
        assert_eq!(a.len(), ELEM_ATTR_SZ);
        assert_eq!(rd_u32(a, 0) as i32, fd.as_raw_fd());
        assert_ne!(rd_u64(a, 8), 0, "key pointer");
        match *cmd {
            BPF_MAP_UPDATE_ELEM => {
                assert_eq!(rd_u64(a, 24), 1, "BPF_NOEXIST");
                zero_except(a, &[(0, 4), (8, 24)]);
            }
            BPF_MAP_LOOKUP_ELEM => zero_except(a, &[(0, 4), (8, 16)]),
            _ => zero_except(a, &[(0, 4), (8, 8)]),
        }
    }
}

#[test]
fn update_flags_reach_the_kernel() {
    let fake = FakeMap::new(4, 4);
    let fd = memfd();
    let map = Map::from_parts(fd.as_fd(), "m", info(map_type::HASH, 4, 4, 4), None, &fake);
    let h = HashMap::<u32, u32>::new(map).unwrap();
    let e = h.update(&1, &1, MapFlags::EXIST).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT));
    h.update(&1, &1, MapFlags::default()).unwrap();
    let e = h.update(&1, &2, MapFlags::NOEXIST).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EEXIST));
    h.update(&1, &3, MapFlags::EXIST | MapFlags::LOCK).unwrap();
    let last = fake.calls().pop().unwrap();
    assert_eq!(rd_u64(&last.1, 24), 2 | 4);
}

#[test]
fn keys_and_iter_walk_next_key() {
    let fake = FakeMap::new(4, 4);
    let fd = memfd();
    let map = Map::from_parts(fd.as_fd(), "m", info(map_type::HASH, 4, 4, 8), None, &fake);
    let h = HashMap::<u32, u32>::new(map).unwrap();
    for k in [3u32, 1, 2] {
        h.update(&k, &(k * 10), MapFlags::ANY).unwrap();
    }
    let mut keys: Vec<u32> = h.keys().collect::<Result<_, _>>().unwrap();
    keys.sort();
    assert_eq!(keys, [1, 2, 3]);
    let mut all: Vec<(u32, u32)> = h.iter().collect::<Result<_, _>>().unwrap();
    all.sort();
    assert_eq!(all, [(1, 10), (2, 20), (3, 30)]);
    // The first GET_NEXT_KEY passes a NULL key, later ones the previous key.
    let nk: Vec<Rec> = fake
        .calls()
        .into_iter()
        .filter(|c| c.0 == BPF_MAP_GET_NEXT_KEY)
        .collect();
    assert_eq!(rd_u64(&nk[0].1, 8), 0);
    assert_ne!(rd_u64(&nk[1].1, 8), 0);
    assert_ne!(rd_u64(&nk[0].1, 16), 0);
    zero_except(&nk[0].1, &[(0, 4), (16, 8)]);
}

#[test]
fn batches_use_the_batch_attr() {
    let fake = FakeMap::new(4, 8);
    let fd = memfd();
    let map = Map::from_parts(
        fd.as_fd(),
        "m",
        info(map_type::HASH, 4, 8, 1000),
        None,
        &fake,
    );
    let h = HashMap::<u32, u64>::new(map).unwrap();
    let keys: Vec<u32> = (0..600).collect();
    let values: Vec<u64> = keys.iter().map(|k| u64::from(*k) << 32).collect();
    h.update_batch(&keys, &values, MapFlags::ANY).unwrap();
    let up = fake.calls().pop().unwrap();
    assert_eq!(up.0, BPF_MAP_UPDATE_BATCH);
    assert_eq!(up.1.len(), BATCH_ATTR_SZ);
    assert_eq!(rd_u32(&up.1, 32), 600);
    assert_eq!(rd_u32(&up.1, 36) as i32, fd.as_raw_fd());
    assert_eq!(rd_u64(&up.1, 0), 0, "no in_batch");
    zero_except(&up.1, &[(16, 8), (24, 8), (32, 4), (36, 4)]);

    let mut got = h.lookup_batch().unwrap();
    got.sort();
    assert_eq!(got.len(), 600);
    assert!(got.iter().all(|(k, v)| *v == u64::from(*k) << 32));
    let lookups: Vec<Rec> = fake
        .calls()
        .into_iter()
        .filter(|c| c.0 == BPF_MAP_LOOKUP_BATCH)
        .collect();
    // 600 elements in chunks of 256: three calls, the first without an in_batch token.
    assert_eq!(lookups.len(), 3);
    assert_eq!(rd_u64(&lookups[0].1, 0), 0);
    assert_ne!(rd_u64(&lookups[1].1, 0), 0);
    assert_ne!(rd_u64(&lookups[0].1, 8), 0, "out_batch");

    assert_eq!(h.delete_batch(&keys[..10]).unwrap(), 10);
    let e = h.delete_batch(&keys[..12]).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT));
    assert!(e.detail().contains("0 of 12"), "{e}");
    assert_eq!(h.lookup_batch().unwrap().len(), 590);
    // Mismatched slices are refused before any call.
    let n = fake.calls().len();
    assert!(h
        .update_batch(&keys[..2], &values[..1], MapFlags::ANY)
        .is_err());
    assert_eq!(fake.calls().len(), n);
}

#[test]
fn unchecked_handles_check_sizes_in_every_call() {
    // A handle made without the constructor's check, on a map whose key and value are larger
    // than its types: every call fails before the kernel sees a too-small buffer.
    let fake = FakeMap::new(4, 8);
    let fd = memfd();
    let map = Map::from_parts(fd.as_fd(), "m", info(map_type::HASH, 4, 8, 64), None, &fake);
    let h = HashMap::<u16, u32>::__checked(map);
    let is_mismatch =
        |e: Error| matches!(e.kind(), crate::ErrorKind::MapMismatch { map, .. } if map == "m");
    assert!(is_mismatch(h.lookup_batch().unwrap_err()));
    assert!(is_mismatch(
        h.update_batch(&[1, 2], &[3, 4], MapFlags::ANY).unwrap_err()
    ));
    assert!(is_mismatch(h.delete_batch(&[1, 2]).unwrap_err()));
    assert!(is_mismatch(h.lookup(&1).unwrap_err()));
    assert!(is_mismatch(h.update(&1, &2, MapFlags::ANY).unwrap_err()));
    assert!(is_mismatch(h.delete(&1).unwrap_err()));
    // Right key, wrong value: the value-reading batch fails, the key-only one works.
    let h = HashMap::<u32, u32>::__checked(map);
    assert!(is_mismatch(h.lookup_batch().unwrap_err()));
    assert!(is_mismatch(
        h.update_batch(&[1], &[3], MapFlags::ANY).unwrap_err()
    ));
    assert!(fake.calls().is_empty(), "no system call for a mismatch");

    let pc = map_type::PERCPU_HASH;
    let map = Map::from_parts(fd.as_fd(), "m", info(pc, 4, 8, 64), None, &fake);
    let p = PerCpuMap::<u32, u32>::__checked(map);
    assert!(is_mismatch(p.lookup(&1).unwrap_err()));
    assert!(is_mismatch(p.update(&1, &[], MapFlags::ANY).unwrap_err()));
    let p = PerCpuMap::<u16, u64>::__checked(map);
    assert!(is_mismatch(p.delete(&1).unwrap_err()));
    let mm = map_type::HASH_OF_MAPS;
    let map = Map::from_parts(fd.as_fd(), "m", info(mm, 4, 4, 64), None, &fake);
    let o = MapOfMaps::<u64>::__checked(map);
    assert!(is_mismatch(o.set(&1, &fd).unwrap_err()));
    assert!(is_mismatch(o.clear(&1).unwrap_err()));
    assert!(is_mismatch(o.inner_id(&1).unwrap_err()));
    assert!(fake.calls().is_empty(), "no system call for a mismatch");
}

#[test]
fn pin_passes_path_and_fd() {
    let fake = FakeMap::new(4, 4);
    let fd = memfd();
    let map = Map::from_parts(fd.as_fd(), "m", info(map_type::ARRAY, 4, 4, 1), None, &fake);
    map.pin("/sys/fs/bpf/x").unwrap();
    let (cmd, a) = fake.calls().pop().unwrap();
    assert_eq!(cmd, BPF_OBJ_PIN);
    assert_eq!(a.len(), OBJ_PIN_ATTR_SZ);
    zero_except(&a, &[(0, 8), (8, 4)]);
    assert_eq!(
        fake.pins.lock().unwrap().as_slice(),
        [("/sys/fs/bpf/x".to_string(), fd.as_raw_fd())]
    );
    let e = map.pin("/sys/fs/bpf/a\0b").unwrap_err();
    assert_eq!(e.errno(), None);
}

#[test]
fn id_reads_an_eight_byte_info_head() {
    let fake = FakeMap::new(4, 8);
    let fd = memfd();
    let map = Map::from_parts(fd.as_fd(), "m", info(map_type::HASH, 4, 8, 1), None, &fake);
    assert_eq!(map.id().unwrap(), 77);
    assert_eq!(HashMap::<u32, u64>::new(map).unwrap().id().unwrap(), 77);
    let perf = Map::from_parts(
        fd.as_fd(),
        "p",
        info(map_type::PERF_EVENT_ARRAY, 4, 4, 2),
        None,
        &fake,
    );
    assert_eq!(PerfEventArray::new(perf).unwrap().id().unwrap(), 77);
    let (cmd, a) = fake.calls().pop().unwrap();
    assert_eq!(cmd, BPF_OBJ_GET_INFO_BY_FD);
    assert_eq!(a.len(), 16);
    assert_eq!((rd_u32(&a, 0), rd_u32(&a, 4)), (fd.as_raw_fd() as u32, 8));
    assert_ne!(rd_u64(&a, 8), 0, "info pointer");
}

#[test]
fn typed_handles_check_type_and_sizes() {
    let fake = FakeMap::new(4, 8);
    let fd = memfd();
    let map = Map::from_parts(fd.as_fd(), "m", info(map_type::HASH, 4, 8, 1), None, &fake);
    let e = HashMap::<u64, u64>::new(map).unwrap_err();
    assert_eq!(
        e.kind(),
        &crate::ErrorKind::MapMismatch {
            map: "m".into(),
            what: "key size",
            expected: 4,
            found: 8
        }
    );
    let e = HashMap::<u32, u32>::new(map).unwrap_err();
    assert!(matches!(
        e.kind(),
        crate::ErrorKind::MapMismatch {
            what: "value size",
            ..
        }
    ));
    let e = PerCpuMap::<u32, u64>::new(map).unwrap_err();
    assert!(matches!(
        e.kind(),
        crate::ErrorKind::MapMismatch {
            what: "map type",
            expected: 1,
            found: 5,
            ..
        }
    ));
    assert!(RingBuf::new(map).is_err());
    assert!(ProgArray::new(map).is_err());
    assert!(MapOfMaps::<u32>::new(map).is_err());
    assert!(PerfEventArray::new(map).is_err());
    // Raw access checks the buffer sizes too.
    assert!(map.lookup(&[0; 3]).is_err());
    assert!(map.update(&[0; 4], &[0; 4], MapFlags::ANY).is_err());
    assert!(fake.calls().is_empty(), "no system call for a mismatch");
}

#[test]
fn percpu_values_are_8_byte_slots_per_possible_cpu() {
    let n = cpus::possible().unwrap();
    // A 4-byte value takes an 8-byte slot per CPU.
    let fake = FakeMap::new(4, 8 * n);
    let fd = memfd();
    let map = Map::from_parts(
        fd.as_fd(),
        "pc",
        info(map_type::PERCPU_ARRAY, 4, 4, 1),
        None,
        &fake,
    );
    let h = PerCpuMap::<u32, u32>::new(map).unwrap();
    let vals: Vec<u32> = (0..n as u32).map(|c| c + 100).collect();
    h.update(&0, &vals, MapFlags::ANY).unwrap();
    let raw = fake.elems.lock().unwrap()[&0u32.to_ne_bytes().to_vec()].clone();
    assert_eq!(raw.len(), 8 * n);
    assert_eq!(rd_u32(&raw, 8 * (n - 1)), 100 + n as u32 - 1);
    assert_eq!(h.lookup(&0).unwrap(), Some(vals));
    assert!(h.update(&0, &[1], MapFlags::ANY).is_err() || n == 1);
}

#[test]
fn cpu_lists_parse() {
    assert_eq!(cpus::parse_list("0-3,5\n").unwrap(), [0, 1, 2, 3, 5]);
    assert_eq!(cpus::parse_list("0").unwrap(), [0]);
    assert!(cpus::parse_list("").is_err());
    assert!(cpus::parse_list("3-1").is_err());
    assert!(cpus::parse_list("x").is_err());
}

#[test]
fn per_cpu_slots_are_the_count_of_possible_cpus_not_the_highest_plus_one() {
    // The kernel packs one value per possible CPU: holes in the list take no slot.
    assert_eq!(cpus::count(&cpus::parse_list("0,2-3\n").unwrap()), 3);
    assert_eq!(cpus::count(&cpus::parse_list("0-3\n").unwrap()), 4);
    assert_eq!(cpus::count(&cpus::parse_list("4\n").unwrap()), 1);
    // A list naming a CPU twice counts it once.
    assert_eq!(cpus::count(&cpus::parse_list("0-2,1\n").unwrap()), 3);
}

/// A fake ring: positions and a doubled data area of `size` bytes, records written by
/// [`Ring::push`] at the producer position (mirrored into the second copy as the kernel's
/// double mapping does).
struct Ring {
    cons: AtomicU64,
    prod: AtomicU64,
    data: Vec<u64>,
    size: usize,
}

impl Ring {
    fn new(size: usize) -> Self {
        Ring {
            cons: AtomicU64::new(0),
            prod: AtomicU64::new(0),
            data: vec![0; 2 * size / 8],
            size,
        }
    }
    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: a u64 vector viewed as bytes.
        unsafe { std::slice::from_raw_parts_mut(self.data.as_mut_ptr().cast(), self.size * 2) }
    }
    fn put(&mut self, pos: u64, b: &[u8]) {
        let size = self.size;
        for (i, x) in b.iter().enumerate() {
            let o = (pos as usize + i) % size;
            self.bytes()[o] = *x;
            self.bytes()[o + size] = *x;
        }
    }
    fn push(&mut self, payload: &[u8], bits: u32) {
        let pos = self.prod.load(Ordering::Relaxed);
        let mut hdr = (payload.len() as u32 | bits).to_ne_bytes().to_vec();
        hdr.extend_from_slice(&0u32.to_ne_bytes());
        self.put(pos, &hdr);
        self.put(pos + 8, payload);
        let total = (payload.len() as u64 + 8).next_multiple_of(8);
        self.prod.store(pos + total, Ordering::Release);
    }
    fn consume(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        // SAFETY: `data` holds the doubled area of `size` (a power of two) bytes.
        unsafe {
            consume_raw(
                &self.cons,
                &self.prod,
                self.data.as_ptr().cast(),
                self.size as u64 - 1,
                &mut |b| out.push(b.to_vec()),
            )
            .unwrap();
        }
        out
    }
}

#[test]
fn ring_refuses_a_misaligned_consumer_position() {
    let mut r = Ring::new(64);
    r.push(b"abc", 0);
    r.cons.store(3, Ordering::Relaxed);
    // SAFETY: `data` holds the doubled area of 64 bytes.
    let res = unsafe {
        consume_raw(&r.cons, &r.prod, r.data.as_ptr().cast(), 63, &mut |_| {
            panic!("no record may be read")
        })
    };
    assert_eq!(res, Err(ConsumeError::MisalignedConsumer(3)));
    assert_eq!(r.cons.load(Ordering::Relaxed), 3);
}

#[test]
fn ring_records_are_read_in_order_and_positions_advance() {
    let mut r = Ring::new(64);
    r.push(b"abc", 0);
    r.push(b"0123456789", 0);
    assert_eq!(r.consume(), [b"abc".to_vec(), b"0123456789".to_vec()]);
    // 8 + 3 -> 16, 8 + 10 -> 24.
    assert_eq!(r.cons.load(Ordering::Relaxed), 40);
    assert!(r.consume().is_empty());
}

#[test]
fn ring_record_wrapping_around_is_contiguous() {
    let mut r = Ring::new(64);
    r.push(&[1; 40], 0); // 48 bytes
    assert_eq!(r.consume().len(), 1);
    let rec: Vec<u8> = (0..30).collect(); // 38 -> 40 bytes, from 48 through 88 (wraps at 64)
    r.push(&rec, 0);
    assert_eq!(r.consume(), [rec]);
    assert_eq!(r.cons.load(Ordering::Relaxed), 88);
}

#[test]
fn ring_skips_discarded_and_stops_at_busy() {
    let mut r = Ring::new(128);
    r.push(b"one", 0);
    r.push(b"gone", DISCARD_BIT);
    r.push(b"two", 0);
    r.push(b"wip", BUSY_BIT);
    r.push(b"after", 0);
    assert_eq!(r.consume(), [b"one".to_vec(), b"two".to_vec()]);
    // Stopped before the busy record: 16 + 16 + 16.
    assert_eq!(r.cons.load(Ordering::Relaxed), 48);
    // The producer commits it: the rest follows.
    let mut hdr = 3u32.to_ne_bytes().to_vec();
    hdr.extend_from_slice(&0u32.to_ne_bytes());
    r.put(48, &hdr);
    assert_eq!(r.consume(), [b"wip".to_vec(), b"after".to_vec()]);
}

#[test]
fn ring_refuses_a_record_longer_than_the_ring() {
    let mut r = Ring::new(64);
    r.push(&[0; 8], 0);
    // Corrupt the header: a length beyond the ring.
    r.put(0, &1000u32.to_ne_bytes());
    assert!(r.consume().is_empty());
    assert_eq!(r.cons.load(Ordering::Relaxed), 0);
}

/// A perf record: header (type, misc, size) and body.
fn perf_rec(rtype: u32, body: &[u8]) -> Vec<u8> {
    let mut v = rtype.to_ne_bytes().to_vec();
    v.extend_from_slice(&0u16.to_ne_bytes());
    v.extend_from_slice(&((8 + body.len()) as u16).to_ne_bytes());
    v.extend_from_slice(body);
    v
}

#[test]
fn perf_records_samples_lost_and_wrap() {
    let mut data = [0u8; 64];
    let mut sample = 5u32.to_ne_bytes().to_vec();
    sample.extend_from_slice(b"hello\0\0\0");
    let rec1 = perf_rec(9, &sample); // 20 bytes
    let mut lost_body = 0u64.to_ne_bytes().to_vec();
    lost_body.extend_from_slice(&3u64.to_ne_bytes());
    let rec2 = perf_rec(2, &lost_body); // 24 bytes
    let rec3 = perf_rec(9, &sample); // 20 bytes, written from 44: wraps at 64
    let mut pos = 0usize;
    for r in [&rec1, &rec2, &rec3] {
        for (i, b) in r.iter().enumerate() {
            data[(pos + i) % 64] = *b;
        }
        pos += r.len();
    }
    let head = AtomicU64::new(pos as u64);
    let tail = AtomicU64::new(0);
    let (mut scratch, mut lost, mut got) = (Vec::new(), 0, Vec::new());
    // SAFETY: `data` is a 64-byte ring.
    let n = unsafe {
        perf::drain_records(
            &head,
            &tail,
            data.as_ptr(),
            data.len(),
            &mut scratch,
            &mut lost,
            &mut |b| got.push(b.to_vec()),
        )
    };
    assert_eq!(n, 2);
    assert_eq!(got, [b"hello".to_vec(), b"hello".to_vec()]);
    assert_eq!(lost, 3);
    assert_eq!(tail.load(Ordering::Relaxed), pos as u64);
}

/// A memfd laid out like a ring buffer map of 4096 data bytes (consumer page, producer page,
/// data twice) holding one committed 5-byte record `event`, and its mapping.
fn memfd_ring() -> (OwnedFd, RingMapping, std::fs::File) {
    let page = crate::load::page_size();
    let size = 4096usize;
    let fd = memfd();
    // SAFETY: ftruncate of an fd we own.
    let r = unsafe { libc::ftruncate(fd.as_raw_fd(), (2 * page + 2 * size) as i64) };
    assert_eq!(r, 0);
    let ring = RingMapping::new(fd.as_fd(), size as u32).unwrap();
    let mut file = std::fs::File::from(fd.try_clone().unwrap());
    use std::io::{Seek, SeekFrom, Write};
    let mut rec = 5u32.to_ne_bytes().to_vec();
    rec.extend_from_slice(&[0; 4]);
    rec.extend_from_slice(b"event\0\0\0");
    for base in [2 * page, 2 * page + size] {
        file.seek(SeekFrom::Start(base as u64)).unwrap();
        file.write_all(&rec).unwrap();
    }
    file.seek(SeekFrom::Start(page as u64)).unwrap();
    file.write_all(&16u64.to_ne_bytes()).unwrap();
    (fd, ring, file)
}

#[test]
fn ring_nested_consume_of_the_same_ring_is_an_error() {
    let (fd, ring, _file) = memfd_ring();
    let fake = FakeMap::new(0, 0);
    let map = Map::from_parts(
        fd.as_fd(),
        "rb",
        info(map_type::RINGBUF, 0, 0, 4096),
        Some(&ring),
        &fake,
    );
    let rb = RingBuf::new(map).unwrap();
    let (mut r1, mut r2) = (rb.reader(), rb.reader());
    let mut inner = None;
    let n = r1
        .consume(|_| inner = Some(r2.consume(|_| panic!("record read twice"))))
        .unwrap();
    assert_eq!(n, 1);
    let err = inner.unwrap().unwrap_err();
    assert_eq!(err.stage(), crate::Stage::Access);
    // The lock and the mark are released: the ring is readable again (and now empty).
    assert_eq!(r2.consume(|_| panic!("no more records")).unwrap(), 0);
}

#[test]
fn ring_readers_in_two_threads_take_turns() {
    let (fd, ring, _file) = memfd_ring();
    let fake = FakeMap::new(0, 0);
    let map = Map::from_parts(
        fd.as_fd(),
        "rb",
        info(map_type::RINGBUF, 0, 0, 4096),
        Some(&ring),
        &fake,
    );
    let rb = RingBuf::new(map).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let got = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let mut r1 = rb.reader();
        let got = &got;
        s.spawn(move || {
            r1.consume(|_| {
                // Let the other thread try while this one holds the record.
                tx.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(100));
                got.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        });
        rx.recv().unwrap();
        let mut r2 = rb.reader();
        // Waits for the first reader: by then the record is consumed and nothing is left.
        let n = r2.consume(|_| panic!("record read twice")).unwrap();
        assert_eq!(n, 0);
        assert_eq!(got.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn perf_event_array_has_one_reader_at_a_time() {
    let fake = FakeMap::new(4, 4);
    let fd = memfd();
    let pe = map_type::PERF_EVENT_ARRAY;
    let map = Map::from_parts(fd.as_fd(), "events", info(pe, 4, 4, 4), None, &fake);
    let a = PerfEventArray::new(map).unwrap();
    let first = a.claim().unwrap();
    // A second handle on the same map cannot make a reader whose slots would replace the
    // first's (and whose drop would then empty them).
    let e = PerfEventArray::new(map).unwrap().claim().unwrap_err();
    assert_eq!(e.stage(), crate::Stage::Access);
    // Another map is independent.
    let fd2 = memfd();
    let other = Map::from_parts(fd2.as_fd(), "other", info(pe, 4, 4, 4), None, &fake);
    let _second = PerfEventArray::new(other).unwrap().claim().unwrap();
    drop(first);
    // Released with the reader.
    let _again = a.claim().unwrap();
}

#[test]
fn ring_mapping_over_a_file_reads_records() {
    // The real reader over a memfd laid out like a ring buffer map.
    let (fd, ring, mut file) = memfd_ring();
    let size = 4096usize;
    use std::io::{Seek, SeekFrom};
    let fake = FakeMap::new(0, 0);
    let map = Map::from_parts(
        fd.as_fd(),
        "rb",
        info(map_type::RINGBUF, 0, 0, size as u32),
        Some(&ring),
        &fake,
    );
    let rb = RingBuf::new(map).unwrap();
    let mut r = rb.reader();
    let mut got = Vec::new();
    assert_eq!(r.consume(|b| got.push(b.to_vec())).unwrap(), 1);
    assert_eq!(got, [b"event".to_vec()]);
    // The consumer position was published in the file.
    let mut cons = [0u8; 8];
    use std::io::Read;
    file.seek(SeekFrom::Start(0)).unwrap();
    file.read_exact(&mut cons).unwrap();
    assert_eq!(u64::from_ne_bytes(cons), 16);
    assert_eq!(r.consume(|_| panic!("no more records")).unwrap(), 0);
}
