//! A fake kernel for unit tests (aya-style fake syscalls): records every bpf(2) call with its attr
//! bytes, hands out real file descriptors (memfds with unique names, so mmap works and leaks can be
//! found in /proc/self/fd) and plays a scripted loader.

use std::collections::VecDeque;
use std::ffi::CString;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::sys::*;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// One recorded bpf(2) call.
#[derive(Clone, Debug, Default)]
pub struct Call {
    pub cmd: u32,
    /// The attr bytes as passed (length = attr size).
    pub attr: Vec<u8>,
    /// MAP_CREATE: the 32 bytes behind `excl_prog_hash`.
    pub excl_hash: Option<[u8; 32]>,
    /// MAP_UPDATE_ELEM: key bytes (4) ; PROG_LOAD: `fd_array[0]`.
    pub key: Option<u32>,
    pub fd_array0: Option<i32>,
    pub license: Option<String>,
    pub signature: Option<Vec<u8>>,
    pub insns: Option<Vec<u8>>,
    /// RAW_TRACEPOINT_OPEN: the name, if non-NULL.
    pub tp_name: Option<String>,
    /// PROG_RUN: the ctx bytes as passed in.
    pub ctx_in: Option<Vec<u8>>,
    /// [`FAKE_PERF_EVENT_OPEN`]: `(pid, cpu)`; [`FAKE_PERF_EVENT_ENABLE`]: `(fd, 0)`.
    pub perf: Option<(i32, i32)>,
    /// C strings behind pointers: `perf_event_attr.config1` (probe name or path), the
    /// kprobe.multi symbols, the uprobe.multi path.
    pub strings: Vec<String>,
    /// uprobe.multi: the offsets array.
    pub offsets: Vec<u64>,
    /// OBJ_PIN / OBJ_GET: the path.
    pub path: Option<String>,
}

/// Pseudo command recorded for a `perf_event_open` (the attr is the `perf_event_attr`).
pub const FAKE_PERF_EVENT_OPEN: u32 = 0x1000;
/// Pseudo command recorded for `PERF_EVENT_IOC_ENABLE`.
pub const FAKE_PERF_EVENT_ENABLE: u32 = 0x1001;

impl Call {
    pub fn u32(&self, off: usize) -> u32 {
        u32::from_ne_bytes(self.attr[off..off + 4].try_into().unwrap())
    }
    pub fn u64(&self, off: usize) -> u64 {
        u64::from_ne_bytes(self.attr[off..off + 8].try_into().unwrap())
    }
    /// Asserts that every attr byte outside the listed `(offset, len)` fields is zero.
    pub fn assert_zero_except(&self, fields: &[(usize, usize)]) {
        for (i, b) in self.attr.iter().enumerate() {
            if fields.iter().any(|&(o, l)| i >= o && i < o + l) {
                continue;
            }
            assert_eq!(*b, 0, "cmd {} attr byte {i} is {b:#x}", self.cmd);
        }
    }
}

/// What the fake loader program does when run.
#[derive(Clone, Debug, Default)]
pub struct Loader {
    /// Its return value.
    pub retval: i32,
    /// How many map slots of the ctx it fills with fresh fds.
    pub maps: usize,
    /// How many prog slots of the ctx it fills with fresh fds.
    pub progs: usize,
    /// Number of prog descs in the ctx layout (= programs of the spec).
    pub ctx_progs: usize,
    /// Moves the first map fd it creates to fd 0 (as when stdin is closed). Replaces the
    /// process's stdin: only for tests running in a child process.
    pub map_fd0: bool,
    /// After filling the ctx, PROG_RUN fails with this errno (a fake that writes the ctx back on error).
    pub run_errno: Option<i32>,
}

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    /// (cmd, nth call of that cmd (0-based), errno)
    fail: Vec<(u32, usize, i32)>,
    loader: Loader,
    /// Scripted PROG_LOAD results: `Some((errno, log))` fails, `None` succeeds.
    prog_loads: VecDeque<Option<(i32, String)>>,
    /// PROG_LOAD fails with ENOSPC while the log buffer is smaller than this.
    log_min: u32,
    ctx_run_log: Option<String>,
    /// `bpf_link_info.type` reported for links.
    link_type: u32,
}

pub struct FakeKernel {
    tag: String,
    state: Mutex<State>,
}

impl FakeKernel {
    pub fn new() -> Self {
        FakeKernel {
            tag: format!(
                "bpfsign-fake-{}-{}-",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
            state: Mutex::new(State::default()),
        }
    }

    /// Makes the `nth` call of `cmd` fail with `errno`.
    pub fn fail(self, cmd: u32, nth: usize, errno: i32) -> Self {
        self.state.lock().unwrap().fail.push((cmd, nth, errno));
        self
    }

    pub fn loader(self, l: Loader) -> Self {
        self.state.lock().unwrap().loader = l;
        self
    }

    pub fn prog_load_script(self, script: Vec<Option<(i32, &str)>>) -> Self {
        self.state.lock().unwrap().prog_loads = script
            .into_iter()
            .map(|o| o.map(|(e, l)| (e, l.to_string())))
            .collect();
        self
    }

    pub fn log_min(self, min: u32, msg: &str) -> Self {
        let mut s = self.state.lock().unwrap();
        s.log_min = min;
        s.ctx_run_log = Some(msg.to_string());
        drop(s);
        self
    }

    /// The `BPF_LINK_TYPE_*` that link info requests report.
    pub fn link_type(self, t: u32) -> Self {
        self.state.lock().unwrap().link_type = t;
        self
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn cmds(&self) -> Vec<u32> {
        self.calls().iter().map(|c| c.cmd).collect()
    }

    /// Names of this fake kernel's objects that still have an open fd in the process.
    pub fn open_objects(&self) -> Vec<String> {
        let mut open = Vec::new();
        for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
            if let Ok(target) = std::fs::read_link(e.path()) {
                let t = target.to_string_lossy().into_owned();
                if t.contains(&self.tag) {
                    open.push(t);
                }
            }
        }
        open
    }

    fn object(&self, kind: &str) -> io::Result<i64> {
        let name = CString::new(format!("{}{kind}", self.tag)).unwrap();
        // SAFETY: valid C string.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is ours.
        if unsafe { libc::ftruncate(fd, 1 << 20) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(fd as i64)
    }
}

fn rd_u32(a: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(a[off..off + 4].try_into().unwrap())
}
fn rd_u64(a: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(a[off..off + 8].try_into().unwrap())
}

/// # Safety
/// `p` must point to `len` readable bytes.
unsafe fn bytes_at(p: u64, len: usize) -> Vec<u8> {
    // SAFETY: the caller guarantees `len` readable bytes at `p`.
    unsafe { std::slice::from_raw_parts(p as usize as *const u8, len).to_vec() }
}

impl Sys for FakeKernel {
    fn bpf(&self, cmd: u32, attr: &mut [u8]) -> io::Result<i64> {
        let mut st = self.state.lock().unwrap();
        let nth = st.calls.iter().filter(|c| c.cmd == cmd).count();
        let mut call = Call {
            cmd,
            attr: attr.to_vec(),
            ..Call::default()
        };
        // Capture what the pointers point at (they are only valid during the call).
        // SAFETY: the runtime's wrappers store valid pointers; the lengths are those of the ABI.
        unsafe {
            match cmd {
                BPF_MAP_CREATE if rd_u64(attr, 80) != 0 => {
                    call.excl_hash = Some(bytes_at(rd_u64(attr, 80), 32).try_into().unwrap());
                }
                BPF_MAP_UPDATE_ELEM => {
                    call.key = Some(rd_u32(&bytes_at(rd_u64(attr, 8), 4), 0));
                }
                BPF_PROG_LOAD => {
                    let n = rd_u32(attr, 4) as usize;
                    call.insns = Some(bytes_at(rd_u64(attr, 8), n * 8));
                    let lic =
                        std::ffi::CStr::from_ptr(rd_u64(attr, 16) as usize as *const libc::c_char);
                    call.license = Some(lic.to_string_lossy().into_owned());
                    if rd_u64(attr, 120) != 0 {
                        call.fd_array0 = Some(rd_u32(&bytes_at(rd_u64(attr, 120), 4), 0) as i32);
                    }
                    if rd_u64(attr, 152) != 0 {
                        call.signature =
                            Some(bytes_at(rd_u64(attr, 152), rd_u32(attr, 160) as usize));
                    }
                }
                BPF_RAW_TRACEPOINT_OPEN if rd_u64(attr, 0) != 0 => {
                    let n =
                        std::ffi::CStr::from_ptr(rd_u64(attr, 0) as usize as *const libc::c_char);
                    call.tp_name = Some(n.to_string_lossy().into_owned());
                }
                BPF_OBJ_PIN | BPF_OBJ_GET => {
                    let n =
                        std::ffi::CStr::from_ptr(rd_u64(attr, 0) as usize as *const libc::c_char);
                    call.path = Some(n.to_string_lossy().into_owned());
                }
                BPF_PROG_RUN => {
                    call.ctx_in = Some(bytes_at(rd_u64(attr, 48), rd_u32(attr, 40) as usize));
                }
                BPF_LINK_CREATE if attr.len() >= 48 && rd_u32(attr, 8) == 42 => {
                    // kprobe_multi: cnt at 20, syms at 24.
                    let cnt = rd_u32(attr, 20) as usize;
                    let syms = bytes_at(rd_u64(attr, 24), cnt * 8);
                    for i in 0..cnt {
                        let p = rd_u64(&syms, i * 8) as usize as *const libc::c_char;
                        call.strings
                            .push(std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned());
                    }
                }
                BPF_LINK_CREATE if attr.len() >= 60 && rd_u32(attr, 8) == 48 => {
                    // uprobe_multi: path at 16, offsets at 24, cnt at 48.
                    let p = rd_u64(attr, 16) as usize as *const libc::c_char;
                    call.strings
                        .push(std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned());
                    let cnt = rd_u32(attr, 48) as usize;
                    let offs = bytes_at(rd_u64(attr, 24), cnt * 8);
                    call.offsets = (0..cnt).map(|i| rd_u64(&offs, i * 8)).collect();
                }
                _ => {}
            }
        }
        st.calls.push(call);
        if let Some(&(_, _, errno)) = st.fail.iter().find(|f| f.0 == cmd && f.1 == nth) {
            return Err(io::Error::from_raw_os_error(errno));
        }
        match cmd {
            BPF_MAP_CREATE => self.object("map"),
            BPF_MAP_UPDATE_ELEM | BPF_MAP_FREEZE => Ok(0),
            BPF_OBJ_GET_INFO_BY_FD if rd_u32(attr, 4) as usize == LINK_INFO_HEAD_SZ => {
                // A link: type from the fake's script, id 7, prog_id 9.
                let info = rd_u64(attr, 8) as usize as *mut u8;
                let head = [st.link_type, 7, 9];
                // SAFETY: the runtime passes a LINK_INFO_HEAD_SZ-byte info buffer.
                unsafe {
                    std::ptr::copy_nonoverlapping(head.as_ptr().cast::<u8>(), info, 12);
                }
                Ok(0)
            }
            BPF_OBJ_GET_INFO_BY_FD if rd_u32(attr, 4) as usize == OBJ_ID_INFO_SZ => {
                // A program or map ID query: id = 1000 + fd, so tests can tell objects apart.
                let info = rd_u64(attr, 8) as usize as *mut u8;
                let head = [0u32, 1000 + rd_u32(attr, 0)];
                // SAFETY: the runtime passes an OBJ_ID_INFO_SZ-byte info buffer.
                unsafe {
                    std::ptr::copy_nonoverlapping(head.as_ptr().cast::<u8>(), info, 8);
                }
                Ok(0)
            }
            BPF_OBJ_GET_INFO_BY_FD => {
                let info = rd_u64(attr, 8) as usize as *mut u8;
                // SAFETY: the runtime passes a 104-byte info with a 32-byte hash buffer.
                unsafe {
                    let hp = rd_u64(std::slice::from_raw_parts(info, MAP_INFO_SZ), 88);
                    std::ptr::write_bytes(hp as usize as *mut u8, 0xab, 32);
                }
                Ok(0)
            }
            BPF_PROG_LOAD => {
                let log_size = rd_u32(attr, 28);
                let log_buf = rd_u64(attr, 32) as usize as *mut u8;
                let write_log = |msg: &str| {
                    if !log_buf.is_null() && log_size > 0 {
                        let n = msg.len().min(log_size as usize - 1);
                        // SAFETY: the runtime passes log_size writable bytes.
                        unsafe {
                            std::ptr::copy_nonoverlapping(msg.as_ptr(), log_buf, n);
                            *log_buf.add(n) = 0;
                        }
                    }
                };
                if let Some(Some((errno, log))) = st.prog_loads.pop_front() {
                    write_log(&log);
                    return Err(io::Error::from_raw_os_error(errno));
                }
                if st.log_min > 0 && !log_buf.is_null() {
                    if log_size < st.log_min {
                        write_log("truncated");
                        return Err(io::Error::from_raw_os_error(libc::ENOSPC));
                    }
                    let msg = st.ctx_run_log.clone().unwrap_or_default();
                    write_log(&msg);
                }
                self.object("prog")
            }
            BPF_PROG_RUN => {
                let ctx = rd_u64(attr, 48) as usize as *mut u8;
                let ctx_sz = rd_u32(attr, 40) as usize;
                // SAFETY: ctx points to ctx_sz bytes owned by the runtime.
                let ctx = unsafe { std::slice::from_raw_parts_mut(ctx, ctx_sz) };
                let loader = st.loader.clone();
                for i in 0..loader.maps {
                    let mut fd = self.object("ctxmap")? as i32;
                    if i == 0 && loader.map_fd0 {
                        // SAFETY: plain fd calls on an fd this fake just created.
                        unsafe {
                            if libc::dup2(fd, 0) < 0 {
                                return Err(io::Error::last_os_error());
                            }
                            libc::close(fd);
                        }
                        fd = 0;
                    }
                    ctx[24 + 16 * i..28 + 16 * i].copy_from_slice(&fd.to_ne_bytes());
                }
                // Prog descs are the last `ctx_progs` u32 slots of the ctx.
                let prog_base = ctx_sz - 4 * loader.ctx_progs;
                for j in 0..loader.progs {
                    let fd = self.object("ctxprog")? as i32;
                    ctx[prog_base + 4 * j..prog_base + 4 * j + 4]
                        .copy_from_slice(&fd.to_ne_bytes());
                }
                if let Some(errno) = loader.run_errno {
                    return Err(io::Error::from_raw_os_error(errno));
                }
                attr[4..8].copy_from_slice(&loader.retval.to_ne_bytes());
                Ok(0)
            }
            BPF_RAW_TRACEPOINT_OPEN | BPF_LINK_CREATE => self.object("link"),
            BPF_OBJ_PIN | BPF_LINK_DETACH => Ok(0),
            BPF_OBJ_GET => self.object("pinned"),
            BPF_ITER_CREATE => self.object("iter"),
            _ => Err(io::Error::from_raw_os_error(libc::EINVAL)),
        }
    }

    fn perf_event_open(&self, attr: &[u8], pid: i32, cpu: i32) -> io::Result<i64> {
        let mut st = self.state.lock().unwrap();
        let cmd = FAKE_PERF_EVENT_OPEN;
        let nth = st.calls.iter().filter(|c| c.cmd == cmd).count();
        let mut call = Call {
            cmd,
            attr: attr.to_vec(),
            perf: Some((pid, cpu)),
            ..Call::default()
        };
        if rd_u64(attr, 56) != 0 {
            // SAFETY: the runtime stores a C string pointer in config1 (probe name or path).
            let s = unsafe {
                std::ffi::CStr::from_ptr(rd_u64(attr, 56) as usize as *const libc::c_char)
            };
            call.strings.push(s.to_string_lossy().into_owned());
        }
        st.calls.push(call);
        if let Some(&(_, _, errno)) = st.fail.iter().find(|f| f.0 == cmd && f.1 == nth) {
            return Err(io::Error::from_raw_os_error(errno));
        }
        self.object("perf")
    }

    fn perf_event_enable(&self, fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let mut st = self.state.lock().unwrap();
        let cmd = FAKE_PERF_EVENT_ENABLE;
        let nth = st.calls.iter().filter(|c| c.cmd == cmd).count();
        st.calls.push(Call {
            cmd,
            perf: Some((fd.as_raw_fd(), 0)),
            ..Call::default()
        });
        if let Some(&(_, _, errno)) = st.fail.iter().find(|f| f.0 == cmd && f.1 == nth) {
            return Err(io::Error::from_raw_os_error(errno));
        }
        Ok(())
    }
}
