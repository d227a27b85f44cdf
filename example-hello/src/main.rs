//! The seed experiment, in Rust: load the signed `hello` light skeleton (fentry on
//! `__do_sys_getpid`), attach it, call `getpid()` and wait for its `bpf_printk` line.
//!
//! ```text
//! example-hello [--register-cert PATH] [--keyring session|builtin|secondary|platform|ID]
//!               [--set-a] [--seconds N]
//!               [--guard | --guard-audit] [--guard-status] [--guard-remove]
//! ```
//!
//! * `--register-cert PATH` registers a certificate (DER or PEM) as an `asymmetric` key in the
//!   session keyring (or in keyring `ID` when `--keyring ID` is given) before loading.
//! * `--keyring` is the keyring the kernel searches for the signer (default: `session`).
//! * `--set-a` sets the global `prog_A` to 1 through the mmapped `.bss` after load, so the
//!   program prints `I loaded prog 'A'` (otherwise `'B'`).
//! * `--seconds N` is how long to wait for the trace line (default 5).
//! * `--guard` installs the bpfsign guard (signed with the same key as `hello`) pinned at
//!   `/sys/fs/bpf/bpfsign-guard` before loading `hello`: from then on the kernel refuses program
//!   loads from user space that carry no verified signature, also after this process exits.
//!   `--guard-audit` installs it in audit mode (record and allow).
//! * `--guard-status` prints the pinned guard's state (policy, counters, recorded loads) and
//!   exits; `--guard-remove` removes it and exits (exit 1 when none is installed).
//!
//! The runtime picks the loader for the running kernel; `BPFSIGN_PROTOCOL=p1|p1b|p2` forces
//! one (the binary embeds no unsigned loader: `unsigned` is refused); `EXAMPLE_HELLO_LOG=1` asks for the verifier log (printed on failure). Output: `protocol = …`, `load = 0`, `attach = 0`, `trace: <line>`.
//! Exit status: 0 success; 3 the kernel rejected the signature (errno name and guidance are
//! printed); 1 any other failure; 2 bad command line.

use std::fs;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bpfsign_guard::{Guard, GuardStatus, KeyringKind, DEFAULT_PIN};
use bpfsign_runtime::{CertTarget, Keyring};

/// The signed skeleton (`Hello`, `hello_skel`, …, re-exported below).
///
/// `allow(deprecated)`: the workspace signs with the TEST-ONLY key A by default (`BPF_KEY` in
/// .cargo/config.toml, so the kernel tests can register its certificate), and bpfsign reports
/// a TEST-ONLY key, or a private key file others can read, as a `deprecated` lint warning at
/// the macro call, which the workspace's `-D warnings` would turn into an error. Allowed here
/// knowingly; a copy of this example built with a real key should drop the wrapper.
#[allow(deprecated)]
mod skel {
    bpfsign_macros::include_signed_skel!("hello.bpf.o", key = env!("BPF_KEY"));
}
use skel::*;

/// The parsed command line.
struct Args {
    register_cert: Option<String>,
    keyring: Keyring,
    set_a: bool,
    seconds: u64,
    guard: Option<GuardMode>,
    guard_status: bool,
    guard_remove: bool,
}

/// What `--guard`/`--guard-audit` install.
#[derive(Clone, Copy, PartialEq, Eq)]
enum GuardMode {
    Enforce,
    Audit,
}

const USAGE: &str = "usage: example-hello [--register-cert PATH] \
[--keyring session|builtin|secondary|platform|ID] [--set-a] [--seconds N] \
[--guard | --guard-audit] [--guard-status] [--guard-remove]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        register_cert: None,
        keyring: Keyring::Session,
        set_a: false,
        seconds: 5,
        guard: None,
        guard_status: false,
        guard_remove: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--register-cert" => args.register_cert = Some(value("--register-cert")?),
            "--keyring" => args.keyring = value("--keyring")?.parse()?,
            "--set-a" => args.set_a = true,
            "--guard" => args.guard = Some(GuardMode::Enforce),
            "--guard-audit" => args.guard = Some(GuardMode::Audit),
            "--guard-status" => args.guard_status = true,
            "--guard-remove" => args.guard_remove = true,
            "--seconds" => {
                let v = value("--seconds")?;
                args.seconds = v
                    .parse()
                    .map_err(|_| format!("--seconds: not a number: {v}"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// Prints a runtime error; returns the exit status (3 for a signature rejection, else 1).
fn report(what: &str, e: &bpfsign_runtime::Error) -> ExitCode {
    let errno = e
        .errno()
        .map(|n| format!("-{n}"))
        .unwrap_or_else(|| "error".into());
    let name = e.errno_name().unwrap_or("");
    println!("{what} = {errno} {name}");
    println!("error: {e}");
    if !e.guidance().is_empty() {
        println!("guidance: {}", e.guidance());
    }
    if let Some(log) = e.verifier_log() {
        println!("verifier log:\n{log}");
    }
    if e.is_signature_rejection() {
        ExitCode::from(3)
    } else {
        ExitCode::from(1)
    }
}

/// The trace file, which is read without consuming it (unlike `trace_pipe`).
fn trace_file() -> Option<&'static str> {
    [
        "/sys/kernel/tracing/trace",
        "/sys/kernel/debug/tracing/trace",
    ]
    .into_iter()
    .find(|p| fs::metadata(p).is_ok())
}

/// The first line from this process that holds "I loaded prog".
fn find_line(trace: &str, pid: u32) -> Option<String> {
    trace.lines().find_map(|l| {
        let task = l.split_whitespace().next()?;
        let (_, p) = task.rsplit_once('-')?;
        (p == pid.to_string() && l.contains("I loaded prog")).then(|| l.trim().to_string())
    })
}

/// Prints the state of a pinned guard.
fn print_guard(s: &GuardStatus) {
    println!(
        "guard: active at {} (link {}, prog {}), mode {}",
        s.path,
        s.link_id,
        s.prog_id,
        if s.audit { "audit" } else { "enforce" }
    );
    println!(
        "guard: keyrings {:?}, user keyring serial {}",
        s.keyrings, s.user_serial
    );
    let c = &s.counters;
    println!(
        "guard: allowed_signed = {}, allowed_kernel = {}, denied = {}, audited = {}, wrong_keyring = {}",
        c.allowed_signed, c.allowed_kernel, c.denied, c.audited, c.wrong_keyring
    );
    for r in &s.records {
        println!(
            "guard: {} pid {} uid {} comm {:?} prog_type {} ({:?}) at {} ns",
            if r.audit { "audited" } else { "denied" },
            r.pid,
            r.uid,
            r.comm,
            r.prog_type,
            r.reason,
            r.ktime_ns
        );
    }
}

/// Handles `--guard-status` / `--guard-remove`: `Some(exit status)` when one was given.
fn guard_management(args: &Args) -> Option<ExitCode> {
    if !args.guard_status && !args.guard_remove {
        return None;
    }
    if args.guard_status {
        match Guard::status(DEFAULT_PIN) {
            Ok(Some(s)) => print_guard(&s),
            Ok(None) => println!("guard: not installed ({DEFAULT_PIN} does not exist)"),
            Err(e) => {
                println!("guard status = error: {e}");
                return Some(ExitCode::from(1));
            }
        }
    }
    if args.guard_remove {
        match Guard::remove(DEFAULT_PIN) {
            Ok(true) => println!("guard: removed {DEFAULT_PIN}"),
            Ok(false) => {
                println!("guard: not installed ({DEFAULT_PIN} does not exist)");
                return Some(ExitCode::from(1));
            }
            Err(e) => {
                println!("guard remove = error: {e}");
                return Some(ExitCode::from(1));
            }
        }
    }
    Some(ExitCode::SUCCESS)
}

/// Installs the guard signed with `BPF_KEY`, pinned at [`DEFAULT_PIN`].
// The workspace's default BPF_KEY is the TEST-ONLY key, which warns (`deprecated`) on every
// build; accepted knowingly for the example.
#[allow(deprecated)]
fn install_guard(mode: GuardMode, keyring: Keyring) -> Result<(), ExitCode> {
    let spec = bpfsign_guard::signed_guard!(key = env!("BPF_KEY"));
    // A development policy: the demo registers its certificate in the session keyring, so the
    // guard must accept user/session keyrings too. Any process can add its own certificate to
    // its own session keyring; production policies keep the default (the system keyrings).
    match Guard::builder(spec)
        .keyrings(&[
            KeyringKind::Builtin,
            KeyringKind::Secondary,
            KeyringKind::Platform,
            KeyringKind::User,
        ])
        .audit(mode == GuardMode::Audit)
        .load_keyring(keyring)
        .install_pinned(DEFAULT_PIN)
    {
        Ok(s) => {
            println!("guard = 0");
            print_guard(&s);
            Ok(())
        }
        Err(bpfsign_guard::GuardError::Load(e)) => Err(report("guard", &e)),
        Err(e) => {
            println!("guard = error: {e}");
            Err(ExitCode::from(1))
        }
    }
}

fn getpid() -> u32 {
    // SAFETY: getpid has no arguments and cannot fail; the raw syscall avoids any libc caching,
    // so the traced kernel function really runs.
    unsafe { libc::syscall(libc::SYS_getpid) as u32 }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("example-hello: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };

    if let Some(code) = guard_management(&args) {
        return code;
    }

    if let Some(path) = &args.register_cert {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                println!("register = error: cannot read {path}: {e}");
                return ExitCode::from(1);
            }
        };
        let target = match args.keyring {
            Keyring::User(id) => CertTarget::Keyring(id),
            _ => CertTarget::Session,
        };
        match bpfsign_runtime::register_cert(&bytes, target) {
            Ok(r) => println!(
                "registered {path} as key {} (skid {})",
                r.key,
                r.skid.as_deref().unwrap_or("none")
            ),
            Err(e) => return report("register", &e),
        }
    }

    if let Some(mode) = args.guard {
        if let Err(code) = install_guard(mode, args.keyring) {
            return code;
        }
    }

    let mut builder = Hello::builder().keyring(args.keyring);
    if std::env::var_os("EXAMPLE_HELLO_LOG").is_some() {
        builder = builder.verifier_log(bpfsign_runtime::VerifierLog::default());
    }
    let skel = match builder.load() {
        Ok(s) => s,
        Err(e) => return report("load", &e),
    };
    println!("protocol = {}", skel.protocol());
    println!("load = 0");

    if args.set_a {
        match skel.bss_vars() {
            Ok(bss) => bss.prog_A.store(1),
            Err(e) => return report("set-a", &e),
        }
    }

    let links = match skel.attach() {
        Ok(l) => l,
        Err(e) => return report("attach", &e),
    };
    println!("attach = 0");

    let Some(trace) = trace_file() else {
        println!("trace: no tracefs (mount -t tracefs nodev /sys/kernel/tracing)");
        return ExitCode::from(1);
    };
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let pid = getpid();
    loop {
        getpid();
        match fs::read_to_string(trace) {
            Ok(text) => {
                if let Some(line) = find_line(&text, pid) {
                    println!("trace: {line}");
                    drop(links);
                    return ExitCode::SUCCESS;
                }
            }
            Err(e) => {
                println!("trace: cannot read {trace}: {e}");
                return ExitCode::from(1);
            }
        }
        if Instant::now() >= deadline {
            println!(
                "trace: no \"I loaded prog\" line from pid {pid} within {} s",
                args.seconds
            );
            return ExitCode::from(1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::find_line;

    #[test]
    fn trace_lines_are_matched_by_pid() {
        let trace = "# tracer: nop\n\
            \x20    other-77 [000] ...21 1.0: bpf_trace_printk: I loaded prog 'B'\n\
            \x20example-hello-123 [001] ...21 2.0: bpf_trace_printk: I loaded prog 'A'\n";
        assert_eq!(
            find_line(trace, 123).as_deref(),
            Some("example-hello-123 [001] ...21 2.0: bpf_trace_printk: I loaded prog 'A'")
        );
        assert_eq!(find_line(trace, 7), None);
        assert!(find_line(trace, 77).unwrap().ends_with("'B'"));
    }
}
