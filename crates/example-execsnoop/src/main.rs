//! An exec snooper on signed BPF: prints one line per successful exec on the system (pid,
//! parent pid, uid, command, file name), read from a ring buffer filled by a tracepoint
//! program on `sched/sched_process_exec`; counts `execve()` calls per calling command in a
//! hash map (a kprobe on the execve syscall) and prints that summary on Ctrl-C.
//!
//! ```text
//! example-execsnoop [--register-cert PATH] [--keyring session|builtin|secondary|platform|ID]
//!                   [--seconds N] [--count N]
//! ```
//!
//! * `--register-cert PATH` registers a certificate (DER or PEM) as an `asymmetric` key in the
//!   session keyring (or in keyring `ID` when `--keyring ID` is given) before loading.
//! * `--keyring` is the keyring the kernel searches for the signer (default: `session`).
//! * `--seconds N` stops after N seconds, `--count N` after at least N exec events (default:
//!   run until Ctrl-C or SIGTERM; a second Ctrl-C ends the process at once).
//!
//! Output: `protocol = …`, `load = 0`, `attach = 0`, a header line, then one line per exec:
//! `PID PPID UID COMM FILENAME`; at the end `lost = N` (events the full ring buffer dropped)
//! and `execve() calls by command:` followed by `COUNT COMM` lines, most calls first.
//! Exit status: 0 success; 3 the kernel rejected the signature (errno name and guidance are
//! printed); 1 any other failure; 2 bad command line. A closed standard output (`| head`)
//! ends the process quietly, as for other command-line tools.

use std::cell::Cell;
use std::fs;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bpfsign_runtime::{CertTarget, Keyring};

/// The signed skeleton (`Execsnoop`, `LoadedExecsnoop`, …).
///
/// `allow(deprecated)`: the workspace signs with the TEST-ONLY key A by default (`BPF_KEY` in
/// .cargo/config.toml, so the kernel tests can register its certificate), which bpfsign
/// reports as a `deprecated` warning at the macro call. A build with a real key (`BPF_KEY`
/// set in the environment) can drop the wrapper.
#[allow(deprecated)]
mod skel {
    bpfsign_macros::include_signed_skel!("execsnoop.bpf.o", key = env!("BPF_KEY"));
}
use skel::*;

/// Length of `comm` in the kernel (`TASK_COMM_LEN`).
const COMM_LEN: usize = 16;
/// Length of the file name buffer of an event (`FILENAME_LEN` in execsnoop.h).
const FILENAME_LEN: usize = 256;
/// Size of `struct exec_event` (execsnoop.h): four `u32`, comm, filename.
const EVENT_LEN: usize = 16 + COMM_LEN + FILENAME_LEN;

/// One exec, decoded from a ring buffer record (`struct exec_event`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecEvent {
    /// Process (thread group) id after the exec.
    pub pid: u32,
    /// Parent's process id.
    pub ppid: u32,
    /// Real user id.
    pub uid: u32,
    /// Command name after the exec (at most 15 bytes).
    pub comm: String,
    /// The file that was executed, as passed to the kernel (truncated to 255 bytes).
    pub filename: String,
}

/// A C string from a fixed-size buffer: bytes up to the first NUL, lossily decoded.
fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl ExecEvent {
    /// Decodes a record; `None` when it is shorter than `struct exec_event`.
    pub fn parse(record: &[u8]) -> Option<ExecEvent> {
        if record.len() < EVENT_LEN {
            return None;
        }
        let u32_at = |i: usize| u32::from_ne_bytes(record[i..i + 4].try_into().expect("4 bytes"));
        let filename_len = (u32_at(12) as usize).min(FILENAME_LEN);
        let filename = &record[16 + COMM_LEN..16 + COMM_LEN + FILENAME_LEN];
        Some(ExecEvent {
            pid: u32_at(0),
            ppid: u32_at(4),
            uid: u32_at(8),
            comm: c_str(&record[16..16 + COMM_LEN]),
            filename: c_str(&filename[..filename_len]),
        })
    }

    /// The event as an output line (columns of [`HEADER`]).
    pub fn line(&self) -> String {
        format!(
            "{:<7} {:<7} {:<5} {:<16} {}",
            self.pid, self.ppid, self.uid, self.comm, self.filename
        )
    }
}

/// Column header of the event lines.
pub const HEADER: &str = "PID     PPID    UID   COMM             FILENAME";

/// Why the command line gave no [`Args`].
enum ArgsError {
    /// `-h` / `--help`: print the usage, exit 0.
    Help,
    /// A bad command line: the message, then the usage, exit 2.
    Bad(String),
}

/// The parsed command line.
struct Args {
    register_cert: Option<String>,
    keyring: Keyring,
    seconds: Option<u64>,
    count: Option<u64>,
}

const USAGE: &str = "usage: example-execsnoop [--register-cert PATH] \
[--keyring session|builtin|secondary|platform|ID] [--seconds N] [--count N]";

fn parse_args() -> Result<Args, ArgsError> {
    let mut args = Args {
        register_cert: None,
        keyring: Keyring::Session,
        seconds: None,
        count: None,
    };
    let argv = std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string()
                .map_err(|a| format!("argument {a:?} is not UTF-8"))
        })
        .collect::<Result<Vec<String>, String>>()
        .map_err(ArgsError::Bad)?;
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        let number = |name: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: not a number: {v}"))
        };
        let parsed: Result<(), String> = (|| {
            match a.as_str() {
                "--register-cert" => args.register_cert = Some(value("--register-cert")?),
                "--keyring" => args.keyring = value("--keyring")?.parse()?,
                "--seconds" => args.seconds = Some(number("--seconds", value("--seconds")?)?),
                "--count" => args.count = Some(number("--count", value("--count")?)?),
                other => return Err(format!("unknown argument {other}")),
            }
            Ok(())
        })();
        match (a.as_str(), parsed) {
            ("-h" | "--help", _) => return Err(ArgsError::Help),
            (_, Err(e)) => return Err(ArgsError::Bad(e)),
            (_, Ok(())) => {}
        }
    }
    if args.register_cert.is_some() && !matches!(args.keyring, Keyring::Session | Keyring::User(_))
    {
        return Err(ArgsError::Bad(
            "--register-cert adds the certificate to the session keyring or to --keyring ID; \
             the system keyrings (builtin, secondary, platform) are filled by the kernel"
                .into(),
        ));
    }
    Ok(args)
}

/// Prints a runtime error; returns the exit status (3 for a signature rejection, else 1).
fn report(what: &str, e: &bpfsign_runtime::Error) -> ExitCode {
    let errno = e
        .errno()
        .map(|n| format!("-{n}"))
        .unwrap_or_else(|| "error".into());
    println!("{what} = {errno} {}", e.errno_name().unwrap_or(""));
    println!("error: {e}");
    if !e.guidance().is_empty() {
        println!("guidance: {}", e.guidance());
    }
    if e.is_signature_rejection() {
        ExitCode::from(3)
    } else {
        ExitCode::from(1)
    }
}

/// Set by the SIGINT/SIGTERM handler; the main loop stops when it is true.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(true, Ordering::SeqCst);
}

/// Installs [`on_signal`] for SIGINT and SIGTERM (without SA_RESTART, so a blocking wait
/// returns early with EINTR; with SA_RESETHAND, so a second signal ends the process), and
/// restores SIGPIPE's default action (Rust ignores it; a closed stdout then ends the process
/// instead of making `println!` panic).
fn install_signal_handlers() -> std::io::Result<()> {
    // SAFETY: setting the default disposition of SIGPIPE has no preconditions.
    if unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) } == libc::SIG_ERR {
        return Err(std::io::Error::last_os_error());
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: an all-zero `sigaction` is a valid value to fill in; `sa_mask` is then
        // initialised by sigemptyset; `on_signal` has the handler signature and only stores
        // to an atomic; `sigaction` reads the struct only during the call.
        let r = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESETHAND;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn register(path: &str, keyring: Keyring) -> Result<(), ExitCode> {
    let bytes = fs::read(path).map_err(|e| {
        println!("register = error: cannot read {path}: {e}");
        ExitCode::from(1)
    })?;
    let target = match keyring {
        Keyring::User(id) => CertTarget::Keyring(id),
        _ => CertTarget::Session,
    };
    match bpfsign_runtime::register_cert(&bytes, target) {
        Ok(r) => {
            println!(
                "registered {path} as key {} (skid {})",
                r.key,
                r.skid.as_deref().unwrap_or("none")
            );
            Ok(())
        }
        Err(e) => Err(report("register", &e)),
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(ArgsError::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(ArgsError::Bad(e)) => {
            eprintln!("example-execsnoop: {e}");
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = install_signal_handlers() {
        println!("signals = error: {e}");
        return ExitCode::from(1);
    }
    if let Some(path) = &args.register_cert {
        if let Err(code) = register(path, args.keyring) {
            return code;
        }
    }

    let skel = match Execsnoop::builder().keyring(args.keyring).load() {
        Ok(s) => s,
        Err(e) => return report("load", &e),
    };
    println!("protocol = {}", skel.protocol());
    println!("load = 0");
    let links = match skel.attach() {
        Ok(l) => l,
        Err(e) => return report("attach", &e),
    };
    println!("attach = 0");
    println!("{HEADER}");

    let maps = skel.maps();
    let mut reader = maps.events.reader();
    // A deadline past what `Instant` can hold is no deadline.
    let deadline = args
        .seconds
        .and_then(|s| Instant::now().checked_add(Duration::from_secs(s)));
    let seen = Cell::new(0u64);
    let bad = Cell::new(0u64);
    let print = |record: &[u8]| {
        match ExecEvent::parse(record) {
            Some(ev) => println!("{}", ev.line()),
            None => bad.set(bad.get() + 1),
        }
        seen.set(seen.get() + 1);
    };
    while !STOP.load(Ordering::SeqCst)
        && deadline.is_none_or(|d| Instant::now() < d)
        && args.count.is_none_or(|c| seen.get() < c)
    {
        if let Err(e) = reader.poll(Duration::from_millis(200), print) {
            return report("poll", &e);
        }
    }
    drop(links);
    // Execs between the last poll and the detach are still in the ring: print them too.
    if let Err(e) = reader.consume(print) {
        return report("poll", &e);
    }

    match skel.read_bss() {
        Ok(bss) => println!("lost = {}", bss.lost_events),
        Err(e) => return report("lost", &e),
    }
    if bad.get() > 0 {
        println!("malformed = {}", bad.get());
    }
    let mut calls = Vec::new();
    for entry in maps.execve_calls.iter() {
        match entry {
            Ok((key, count)) => {
                // `char comm[16]` is `[i8; 16]` in the generated key type.
                let bytes: Vec<u8> = key.comm.iter().map(|&c| c as u8).collect();
                calls.push((count, c_str(&bytes)));
            }
            Err(e) => return report("summary", &e),
        }
    }
    calls.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    println!("execve() calls by command:");
    for (count, comm) in calls {
        println!("{count:>8}  {comm}");
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pid: u32, comm: &[u8], filename: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; EVENT_LEN];
        r[0..4].copy_from_slice(&pid.to_ne_bytes());
        r[4..8].copy_from_slice(&1u32.to_ne_bytes());
        r[8..12].copy_from_slice(&1000u32.to_ne_bytes());
        r[12..16].copy_from_slice(&(filename.len() as u32).to_ne_bytes());
        r[16..16 + comm.len()].copy_from_slice(comm);
        r[32..32 + filename.len()].copy_from_slice(filename);
        r
    }

    #[test]
    fn records_decode_into_lines() {
        let ev = ExecEvent::parse(&record(4242, b"true", b"/usr/bin/true")).unwrap();
        assert_eq!(
            ev,
            ExecEvent {
                pid: 4242,
                ppid: 1,
                uid: 1000,
                comm: "true".into(),
                filename: "/usr/bin/true".into()
            }
        );
        let line = ev.line();
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols, ["4242", "1", "1000", "true", "/usr/bin/true"]);
        assert_eq!(
            HEADER.split_whitespace().count(),
            cols.len(),
            "header and line have the same columns"
        );
    }

    #[test]
    fn short_records_and_unterminated_strings_are_handled() {
        assert_eq!(ExecEvent::parse(&[0u8; EVENT_LEN - 1]), None);
        let mut r = record(1, &[b'x'; COMM_LEN], b"");
        // A bogus length larger than the buffer is clamped.
        r[12..16].copy_from_slice(&9999u32.to_ne_bytes());
        let ev = ExecEvent::parse(&r).unwrap();
        assert_eq!(ev.comm, "x".repeat(COMM_LEN));
        assert_eq!(ev.filename, "");
    }
}
