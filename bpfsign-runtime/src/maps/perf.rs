//! [`PerfEventArray`]: reading `bpf_perf_event_output` samples through per-CPU perf buffers.
//!
//! Like libbpf's `perf_buffer`: one `PERF_COUNT_SW_BPF_OUTPUT` event per online CPU, its ring
//! mmapped (a metadata page plus a power-of-two number of data pages), its fd stored in the
//! map at the CPU's index. The kernel writes `PERF_RECORD_SAMPLE` records (a `u32` size and the
//! raw bytes) and `PERF_RECORD_LOST` records (how many samples did not fit).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::ringbuf::{epoll_for, epoll_wait};
use super::{cpus, map_type, sys, Map, MapFlags};
use crate::error::Error;

/// `PERF_TYPE_SOFTWARE`.
const PERF_TYPE_SOFTWARE: u32 = 1;
/// `PERF_COUNT_SW_BPF_OUTPUT`.
const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
/// `PERF_SAMPLE_RAW`.
const PERF_SAMPLE_RAW: u64 = 1 << 10;
/// `PERF_FLAG_FD_CLOEXEC`.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `PERF_RECORD_LOST`.
const PERF_RECORD_LOST: u32 = 2;
/// `PERF_RECORD_SAMPLE`.
const PERF_RECORD_SAMPLE: u32 = 9;
/// `sizeof(struct perf_event_attr)` passed (`PERF_ATTR_SIZE_VER8`).
const PERF_ATTR_SZ: usize = 136;
/// Offsets of `data_head`/`data_tail` in `struct perf_event_mmap_page`.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;

/// A typed handle on a `BPF_MAP_TYPE_PERF_EVENT_ARRAY` map.
#[derive(Clone, Copy, Debug)]
pub struct PerfEventArray<'a> {
    map: Map<'a>,
}

impl<'a> PerfEventArray<'a> {
    /// The handle, after checking the map type.
    pub fn new(map: Map<'a>) -> Result<Self, Error> {
        map.expect_type("PerfEventArray", &[map_type::PERF_EVENT_ARRAY])?;
        Ok(PerfEventArray { map })
    }

    /// Opens a perf buffer of `page_count` data pages (a power of two) on every online CPU
    /// the map has a slot for and stores their fds in the map, so that
    /// `bpf_perf_event_output(ctx, &map, BPF_F_CURRENT_CPU, …)` reaches the reader. Dropping
    /// the reader removes the fds from the map again. Nothing stays open on error.
    pub fn reader(&self, page_count: usize) -> Result<PerfReader<'a>, Error> {
        let m = &self.map;
        if page_count == 0 || !page_count.is_power_of_two() {
            return Err(m.error(
                format!("perf buffer of {page_count} pages"),
                "pass a power of two (libbpf's default is 64 pages)",
            ));
        }
        let online = cpus::online()
            .map_err(|e| m.sys_error(&e, "reading /sys/devices/system/cpu/online".into()))?;
        let page = super::super::load::page_size();
        let len = page
            .checked_mul(page_count + 1)
            .ok_or_else(|| m.error("perf buffer size overflows".into(), "use fewer pages"))?;
        let mut reader = PerfReader {
            map: self.map,
            bufs: Vec::new(),
            epoll: None,
            lost: 0,
            scratch: Vec::new(),
        };
        for cpu in online.into_iter().filter(|c| *c < m.max_entries()) {
            let fd = perf_event_open_bpf_output(cpu).map_err(|e| {
                m.sys_error(
                    &e,
                    format!("perf_event_open of a BPF output event on CPU {cpu}"),
                )
            })?;
            // SAFETY: a fresh shared mapping of a perf event fd.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd.as_raw_fd(),
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                let e = std::io::Error::last_os_error();
                return Err(m.sys_error(&e, format!("mmap of the perf buffer of CPU {cpu}")));
            }
            let Some(base) = NonNull::new(p.cast::<u8>()) else {
                return Err(m.error("mmap returned NULL".into(), "retry"));
            };
            let buf = CpuBuf {
                cpu,
                base,
                len,
                page,
                fd,
            };
            let fd_val = buf.fd.as_raw_fd().to_ne_bytes();
            reader.bufs.push(buf);
            sys::update(
                m.sys(),
                m.fd(),
                &cpu.to_ne_bytes(),
                &fd_val,
                MapFlags::ANY.bits(),
            )
            .map_err(|e| {
                m.sys_error(
                    &e,
                    format!(
                        "BPF_MAP_UPDATE_ELEM of CPU {cpu}'s perf event into {}",
                        m.name()
                    ),
                )
            })?;
        }
        let tagged: Vec<(BorrowedFd<'_>, u64)> = reader
            .bufs
            .iter()
            .enumerate()
            .map(|(i, b)| (b.fd.as_fd(), i as u64))
            .collect();
        let ep = epoll_for(&tagged).map_err(|e| m.sys_error(&e, "epoll on perf buffers".into()))?;
        reader.epoll = Some(ep);
        Ok(reader)
    }

    /// The map's fd.
    pub fn fd(&self) -> BorrowedFd<'a> {
        self.map.fd()
    }

    /// The untyped handle.
    pub fn map(&self) -> Map<'a> {
        self.map
    }

    /// Pins the map at `path` in a bpffs mount (see [`Map::pin`]).
    pub fn pin(&self, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
        self.map.pin(path)
    }
}

impl AsFd for PerfEventArray<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.map.fd()
    }
}

/// `perf_event_open` of a `PERF_COUNT_SW_BPF_OUTPUT` event on `cpu` (any process), sampling
/// raw data with a wakeup per sample.
fn perf_event_open_bpf_output(cpu: u32) -> std::io::Result<OwnedFd> {
    #[repr(C, align(8))]
    struct Attr([u8; PERF_ATTR_SZ]);
    let mut a = Attr([0; PERF_ATTR_SZ]);
    a.0[0..4].copy_from_slice(&PERF_TYPE_SOFTWARE.to_ne_bytes());
    a.0[4..8].copy_from_slice(&(PERF_ATTR_SZ as u32).to_ne_bytes());
    a.0[8..16].copy_from_slice(&PERF_COUNT_SW_BPF_OUTPUT.to_ne_bytes());
    a.0[16..24].copy_from_slice(&1u64.to_ne_bytes()); // sample_period
    a.0[24..32].copy_from_slice(&PERF_SAMPLE_RAW.to_ne_bytes());
    a.0[48..52].copy_from_slice(&1u32.to_ne_bytes()); // wakeup_events
                                                      // SAFETY: `a` is a valid perf_event_attr of the size it declares.
    let r = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            a.0.as_ptr(),
            -1 as libc::pid_t,
            cpu as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a fresh fd that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// One CPU's perf ring.
#[derive(Debug)]
struct CpuBuf {
    cpu: u32,
    base: NonNull<u8>,
    len: usize,
    page: usize,
    // Declared after the mapping fields; the mapping is removed in `Drop` first.
    fd: OwnedFd,
}

impl Drop for CpuBuf {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `PerfEventArray::reader` and is owned by this value.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

impl CpuBuf {
    /// Reads every record between the tail and the head; returns the samples seen.
    fn drain(&self, scratch: &mut Vec<u8>, lost: &mut u64, f: &mut dyn FnMut(u32, &[u8])) -> usize {
        // SAFETY: `data_head`/`data_tail` are aligned u64s in the metadata page, the data
        // area is `len - page` bytes after it, and the mapping lives as long as `self`.
        unsafe {
            let head = AtomicU64::from_ptr(self.base.as_ptr().add(DATA_HEAD).cast());
            let tail = AtomicU64::from_ptr(self.base.as_ptr().add(DATA_TAIL).cast());
            let data =
                std::slice::from_raw_parts(self.base.as_ptr().add(self.page), self.len - self.page);
            drain_records(head, tail, data, scratch, lost, &mut |b| f(self.cpu, b))
        }
    }
}

/// The perf ring reader loop: records from `tail` to `head` in `data` (a power-of-two ring),
/// copied out when they wrap; samples go to `f`, lost counts to `lost`. Publishes the new
/// tail with a release store. Returns the number of samples.
pub(crate) fn drain_records(
    head: &AtomicU64,
    tail: &AtomicU64,
    data: &[u8],
    scratch: &mut Vec<u8>,
    lost: &mut u64,
    f: &mut dyn FnMut(&[u8]),
) -> usize {
    let size = data.len() as u64;
    let head_pos = head.load(Ordering::Acquire);
    let mut pos = tail.load(Ordering::Relaxed);
    let mut count = 0;
    while pos < head_pos {
        let off = (pos % size) as usize;
        let hdr = ring_copy(data, off, 8, scratch);
        let rtype = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let rsize = u64::from(u16::from_ne_bytes([hdr[6], hdr[7]]));
        if rsize < 8 || rsize > size || pos + rsize > head_pos {
            // Not a record the kernel writes: drop what is left rather than misread it.
            pos = head_pos;
            break;
        }
        let rec = ring_copy(data, off, rsize as usize, scratch);
        match rtype {
            PERF_RECORD_SAMPLE if rec.len() >= 12 => {
                let n = u32::from_ne_bytes([rec[8], rec[9], rec[10], rec[11]]) as usize;
                let end = (12 + n).min(rec.len());
                f(&rec[12..end]);
                count += 1;
            }
            PERF_RECORD_LOST if rec.len() >= 24 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&rec[16..24]);
                *lost += u64::from_ne_bytes(b);
            }
            _ => {}
        }
        pos += rsize;
    }
    tail.store(pos, Ordering::Release);
    count
}

/// `len` bytes of the ring `data` from `off`, wrapping around (copied into `scratch` then).
fn ring_copy<'d>(data: &'d [u8], off: usize, len: usize, scratch: &'d mut Vec<u8>) -> &'d [u8] {
    if off + len <= data.len() {
        return &data[off..off + len];
    }
    scratch.clear();
    scratch.extend_from_slice(&data[off..]);
    scratch.extend_from_slice(&data[..len - (data.len() - off)]);
    scratch
}

/// Per-CPU perf buffers of a [`PerfEventArray`] ([`PerfEventArray::reader`]).
#[derive(Debug)]
pub struct PerfReader<'a> {
    map: Map<'a>,
    bufs: Vec<CpuBuf>,
    epoll: Option<OwnedFd>,
    lost: u64,
    scratch: Vec<u8>,
}

impl PerfReader<'_> {
    /// Hands every sample already in the buffers to `f(cpu, bytes)` without waiting; returns
    /// how many there were.
    pub fn consume(&mut self, mut f: impl FnMut(u32, &[u8])) -> usize {
        let mut n = 0;
        for b in &self.bufs {
            n += b.drain(&mut self.scratch, &mut self.lost, &mut f);
        }
        n
    }

    /// Waits up to `timeout` for samples on any CPU (returns at once if some are there),
    /// hands them to `f(cpu, bytes)` and returns how many there were (0 on timeout).
    pub fn poll(
        &mut self,
        timeout: Duration,
        mut f: impl FnMut(u32, &[u8]),
    ) -> Result<usize, Error> {
        let n = self.consume(&mut f);
        if n > 0 {
            return Ok(n);
        }
        if let Some(ep) = &self.epoll {
            epoll_wait(ep.as_raw_fd(), timeout)
                .map_err(|e| self.map.sys_error(&e, "epoll_wait on perf buffers".into()))?;
        }
        Ok(self.consume(&mut f))
    }

    /// Samples the kernel dropped because a buffer was full (`PERF_RECORD_LOST`), so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// The CPUs with a buffer.
    pub fn cpus(&self) -> Vec<u32> {
        self.bufs.iter().map(|b| b.cpu).collect()
    }
}

impl Drop for PerfReader<'_> {
    fn drop(&mut self) {
        for b in &self.bufs {
            // Best effort: the map may be gone with its programs' users; the perf fds close
            // below either way, which also empties the slots when the map is released.
            let _ = sys::delete(self.map.sys(), self.map.fd(), &b.cpu.to_ne_bytes());
        }
    }
}
