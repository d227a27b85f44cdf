//! [`RingBuf`]: reading a `BPF_MAP_TYPE_RINGBUF` map from user space.
//!
//! The kernel's protocol (kernel/bpf/ringbuf.c): page 0 of the map holds the consumer
//! position (written by user space), the next page the producer position, then the data area
//! of `max_entries` bytes, mapped twice in a row so that a record that wraps around is still
//! contiguous. Each record starts with an 8-byte header: a 32-bit length whose bit 31 says the
//! producer has not committed it yet (busy) and bit 30 that it was discarded, and a page
//! offset. Records are 8-byte aligned. The consumer loads the producer position and each
//! header with acquire ordering and publishes its new position with a release store.

use std::cell::RefCell;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::{map_type, Map};
use crate::error::Error;

/// Bit 31 of a record's length: reserved, not yet committed.
pub(crate) const BUSY_BIT: u32 = 1 << 31;
/// Bit 30 of a record's length: discarded by the producer.
pub(crate) const DISCARD_BIT: u32 = 1 << 30;
/// Size of a record header.
pub(crate) const HDR_SZ: u64 = 8;

/// The mappings of one ring buffer, made when the skeleton is loaded and kept by the
/// [`crate::LoadedSkeleton`] (unmapped on drop, before the map's fd is closed).
#[derive(Debug)]
pub(crate) struct RingMapping {
    consumer: NonNull<u8>,
    consumer_len: usize,
    producer: NonNull<u8>,
    producer_len: usize,
    page: usize,
    /// `max_entries - 1` (the data size is a power of two).
    mask: u64,
    /// Held by the one consumer of this mapping from reading the consumer position until the
    /// new position is published (and every record handed out meanwhile is done with).
    consuming: Mutex<()>,
}

/// Why [`consume_raw`] (or a consumer of a [`RingMapping`]) stopped without reading records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConsumeError {
    /// The consumer position (in the user-writable page) is not 8-byte aligned: something
    /// other than the ring protocol wrote it.
    MisalignedConsumer(u64),
    /// A callback of a reader of this ring called into a reader of the same ring.
    Reentrant,
}

thread_local! {
    /// The rings whose consumer lock this thread holds (their addresses), to refuse a nested
    /// consume from a callback instead of deadlocking on the lock.
    static CONSUMING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Marks a ring as being consumed by this thread for as long as it lives (also on unwind).
struct Consuming(usize);

impl Consuming {
    fn enter(addr: usize) -> Result<Self, ConsumeError> {
        CONSUMING.with(|c| {
            let mut c = c.borrow_mut();
            if c.contains(&addr) {
                return Err(ConsumeError::Reentrant);
            }
            c.push(addr);
            Ok(Consuming(addr))
        })
    }
}

impl Drop for Consuming {
    fn drop(&mut self) {
        CONSUMING.with(|c| {
            let mut c = c.borrow_mut();
            if let Some(i) = c.iter().position(|a| *a == self.0) {
                c.swap_remove(i);
            }
        });
    }
}

// SAFETY: the mappings are shared memory accessed only through atomics (positions, headers)
// and reads of committed records; nothing in them is tied to a thread.
unsafe impl Send for RingMapping {}
// SAFETY: see above.
unsafe impl Sync for RingMapping {}

impl Drop for RingMapping {
    fn drop(&mut self) {
        // SAFETY: both mappings were made by `RingMapping::new` and are owned by this value.
        unsafe {
            libc::munmap(self.consumer.as_ptr().cast(), self.consumer_len);
            libc::munmap(self.producer.as_ptr().cast(), self.producer_len);
        }
    }
}

fn mmap(fd: BorrowedFd<'_>, len: usize, prot: i32, off: usize) -> std::io::Result<NonNull<u8>> {
    let off = libc::off_t::try_from(off)
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EOVERFLOW))?;
    // SAFETY: a fresh shared mapping of a map fd; the kernel checks size, offset and protection.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            off,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    NonNull::new(p.cast::<u8>()).ok_or_else(|| std::io::Error::from_raw_os_error(libc::EFAULT))
}

impl RingMapping {
    /// Maps the consumer page read-write and the producer page plus the doubled data area
    /// read-only, as libbpf does.
    pub(crate) fn new(fd: BorrowedFd<'_>, max_entries: u32) -> std::io::Result<Self> {
        let size = u64::from(max_entries);
        if size == 0 || !size.is_power_of_two() {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        let page = super::super::load::page_size();
        let producer_len = usize::try_from(size)
            .ok()
            .and_then(|n| n.checked_mul(2))
            .and_then(|n| n.checked_add(page))
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EOVERFLOW))?;
        let consumer = mmap(fd, page, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        let producer = match mmap(fd, producer_len, libc::PROT_READ, page) {
            Ok(p) => p,
            Err(e) => {
                // SAFETY: the consumer page was just mapped by us and is not used elsewhere.
                unsafe { libc::munmap(consumer.as_ptr().cast(), page) };
                return Err(e);
            }
        };
        Ok(RingMapping {
            consumer,
            consumer_len: page,
            producer,
            producer_len,
            page,
            mask: size - 1,
            consuming: Mutex::new(()),
        })
    }

    /// Consumes every committed record (see [`consume_raw`]), as the only consumer of this
    /// mapping: other threads wait until it is done; a nested call from `f` on this thread
    /// fails with [`ConsumeError::Reentrant`].
    pub(crate) fn consume(&self, f: &mut dyn FnMut(&[u8])) -> Result<usize, ConsumeError> {
        let _mark = Consuming::enter(self as *const Self as usize)?;
        // A panic in an earlier callback poisons the lock, but the positions it guards are
        // consistent (published after each record), so the lock is taken over as it is.
        let _lock = self
            .consuming
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // SAFETY: the positions are 8-byte aligned u64s at the start of their (page-aligned)
        // pages, the data area follows the producer page and is mapped twice (`2 * (mask + 1)`
        // bytes), and the mappings live as long as `self`. The lock makes this the only
        // consumer of the ring in this process while records are handed out.
        unsafe {
            consume_raw(
                AtomicU64::from_ptr(self.consumer.as_ptr().cast()),
                AtomicU64::from_ptr(self.producer.as_ptr().cast()),
                self.producer.as_ptr().add(self.page),
                self.mask,
                f,
            )
        }
    }
}

/// The consumer loop of the ring buffer protocol: hands every committed, non-discarded record
/// from the consumer position up to the producer position to `f`, stops at the first busy
/// record, and publishes the new consumer position after each record. Returns the number of
/// records given to `f`, or an error if the consumer position is not 8-byte aligned (it lives
/// in a page user space can write; a misaligned one cannot come from this protocol).
///
/// # Safety
/// `data` must point to `2 * (mask + 1)` readable bytes (the doubled data area), `mask + 1`
/// must be a power of two, `cons`/`prod` must be the ring's positions, and no other consumer
/// may run on the same ring until this returns.
pub(crate) unsafe fn consume_raw(
    cons: &AtomicU64,
    prod: &AtomicU64,
    data: *const u8,
    mask: u64,
    f: &mut dyn FnMut(&[u8]),
) -> Result<usize, ConsumeError> {
    let size = mask + 1;
    let mut count = 0;
    let mut cons_pos = cons.load(Ordering::Acquire);
    if cons_pos & 7 != 0 {
        return Err(ConsumeError::MisalignedConsumer(cons_pos));
    }
    loop {
        let prod_pos = prod.load(Ordering::Acquire);
        let mut progressed = false;
        while cons_pos < prod_pos {
            let off = (cons_pos & mask) as usize;
            // SAFETY: `off < size` and a header is 8-byte aligned inside the data area.
            let hdr = unsafe { AtomicU32::from_ptr(data.add(off).cast::<u32>().cast_mut()) };
            let len = hdr.load(Ordering::Acquire);
            if len & BUSY_BIT != 0 {
                // Not committed yet: what follows is not ready either.
                cons.store(cons_pos, Ordering::Release);
                return Ok(count);
            }
            let payload = u64::from(len & !(BUSY_BIT | DISCARD_BIT));
            let total = (payload + HDR_SZ).next_multiple_of(8);
            if total > size || cons_pos + total > prod_pos {
                // A record longer than the ring or past the producer: not a valid ring
                // (cannot come from the kernel); stop rather than read out of bounds.
                cons.store(cons_pos, Ordering::Release);
                return Ok(count);
            }
            cons_pos += total;
            if len & DISCARD_BIT == 0 {
                // SAFETY: `off + 8 + payload <= size + size`: the record lies inside the
                // doubled data area, and the producer no longer writes a committed record
                // until the consumer position passes it.
                let rec = unsafe {
                    std::slice::from_raw_parts(data.add(off + HDR_SZ as usize), payload as usize)
                };
                f(rec);
                count += 1;
            }
            cons.store(cons_pos, Ordering::Release);
            progressed = true;
        }
        if !progressed {
            return Ok(count);
        }
    }
}

/// A typed handle on a `BPF_MAP_TYPE_RINGBUF` map; [`RingBuf::reader`] reads its records.
///
/// All readers of one ring (from any copy of this handle, in any thread) take turns: one
/// consumes while the others wait, and a reader's callback that calls into a reader of the
/// same ring gets an error instead of a deadlock. A consumer made outside bpfsign (for
/// example an aya `RingBuf` over `Map::to_aya()`, feature `aya`, or another process mapping
/// the same map) cannot take part in this: running it alongside a bpfsign reader lets the two
/// race for the consumer position, so records may be lost, read twice or overwritten while
/// read. Use one or the other.
#[derive(Clone, Copy, Debug)]
pub struct RingBuf<'a> {
    map: Map<'a>,
    ring: &'a RingMapping,
}

impl<'a> RingBuf<'a> {
    /// The handle, after checking the map type. The skeleton mapped every ring buffer when it
    /// was loaded.
    pub fn new(map: Map<'a>) -> Result<Self, Error> {
        map.expect_type("RingBuf", &[map_type::RINGBUF])?;
        let ring = map.ring().ok_or_else(|| {
            map.error(
                format!("ring buffer {} is not mapped", map.name()),
                "the map was not created by a skeleton load of this runtime",
            )
        })?;
        Ok(RingBuf { map, ring })
    }

    /// The handle for code generated by `include_signed_skel!`, whose `load()` made it with
    /// [`RingBuf::new`] already.
    ///
    /// # Panics
    /// If the map is not a mapped ring buffer (the generated code never passes one).
    #[doc(hidden)]
    pub fn __checked(map: Map<'a>) -> Self {
        match Self::new(map) {
            Ok(r) => r,
            Err(e) => panic!("ring buffer checked by the skeleton's load: {e}"),
        }
    }

    /// A reader of the records. Records are consumed once: two readers of one ring share its
    /// records, taking turns (see [`RingBuf`]).
    pub fn reader(&self) -> RingBufReader<'a> {
        RingBufReader {
            map: self.map,
            ring: self.ring,
            epoll: None,
        }
    }
}

super::handle_common!(RingBuf);

/// Reads the records of a [`RingBuf`]: [`RingBufReader::poll`] waits for them,
/// [`RingBufReader::consume`] takes what is there. Its fd (the map's) becomes readable when
/// records arrive, for use in an event loop.
#[derive(Debug)]
pub struct RingBufReader<'a> {
    map: Map<'a>,
    ring: &'a RingMapping,
    /// epoll instance watching the map fd, made on the first `poll`.
    epoll: Option<OwnedFd>,
}

impl<'a> RingBufReader<'a> {
    /// Hands every committed record to `f` without waiting; returns how many there were.
    /// Waits while another thread consumes the same ring.
    ///
    /// # Errors
    /// If `f` (or a caller up the stack on this thread) is itself consuming this ring through
    /// another reader, and if the consumer position in the shared page is corrupt.
    pub fn consume(&mut self, mut f: impl FnMut(&[u8])) -> Result<usize, Error> {
        self.consume_dyn(&mut f)
    }

    fn consume_dyn(&self, f: &mut dyn FnMut(&[u8])) -> Result<usize, Error> {
        self.ring.consume(f).map_err(|e| match e {
            ConsumeError::Reentrant => self.map.error(
                format!(
                    "ring buffer {} is already being consumed on this thread (a record callback \
                     called into another reader of the same ring)",
                    self.map.name()
                ),
                "do not read the same ring buffer from inside a record callback; collect the \
                 records and handle them after consume/poll returns",
            ),
            ConsumeError::MisalignedConsumer(pos) => self.map.error(
                format!(
                    "ring buffer {}: consumer position {pos:#x} is not 8-byte aligned",
                    self.map.name()
                ),
                "something other than a ring buffer reader wrote the consumer page; use one \
                 consumer per ring buffer",
            ),
        })
    }

    /// Waits up to `timeout` for records (returns at once if some are there), hands them to
    /// `f` and returns how many there were (0 on timeout). An interrupted wait (`EINTR`)
    /// returns what is there.
    ///
    /// # Errors
    /// As [`RingBufReader::consume`], and if waiting fails.
    pub fn poll(&mut self, timeout: Duration, mut f: impl FnMut(&[u8])) -> Result<usize, Error> {
        let n = self.consume_dyn(&mut f)?;
        if n > 0 {
            return Ok(n);
        }
        self.wait(timeout)?;
        self.consume_dyn(&mut f)
    }

    /// Waits for the map fd to become readable (records committed with a wakeup).
    fn wait(&mut self, timeout: Duration) -> Result<(), Error> {
        let epfd = match &self.epoll {
            Some(e) => e.as_raw_fd(),
            None => {
                let e = epoll_for(&[(self.map.fd(), 0)])
                    .map_err(|e| self.map.sys_error(&e, "epoll on a ring buffer".into()))?;
                self.epoll.insert(e).as_raw_fd()
            }
        };
        epoll_wait(epfd, timeout)
            .map(drop)
            .map_err(|e| self.map.sys_error(&e, "epoll_wait on a ring buffer".into()))
    }

    /// The map's fd.
    pub fn fd(&self) -> BorrowedFd<'a> {
        self.map.fd()
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn map_handle(&self) -> Map<'a> {
        self.map
    }
}

impl AsFd for RingBufReader<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.map.fd()
    }
}

/// A new epoll instance watching each fd for `EPOLLIN`, with its tag as event data.
pub(crate) fn epoll_for(fds: &[(BorrowedFd<'_>, u64)]) -> std::io::Result<OwnedFd> {
    // SAFETY: plain system call without pointers.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: epoll_create1 returned a fresh fd that we own.
    let ep = unsafe { OwnedFd::from_raw_fd(raw) };
    for (fd, tag) in fds {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: *tag,
        };
        // SAFETY: `ev` is a valid event for the duration of the call.
        if unsafe { libc::epoll_ctl(raw, libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(ep)
}

/// `epoll_wait` for up to `timeout` (milliseconds, rounded up); returns the tags of the ready
/// fds (none on timeout or `EINTR`).
pub(crate) fn epoll_wait(epfd: i32, timeout: Duration) -> std::io::Result<Vec<u64>> {
    let ms = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
    // SAFETY: `events` has room for 64 events.
    let n = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), 64, ms) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINTR) {
            return Ok(Vec::new());
        }
        return Err(e);
    }
    Ok(events[..n as usize].iter().map(|e| e.u64).collect())
}
