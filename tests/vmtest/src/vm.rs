//! Boots a kernel + initramfs in qemu and reports how the guest ended.
//!
//! The guest always terminates: `panic=-1` + `-no-reboot` turn a panic into a qemu exit,
//! `oops=panic` turns an oops into a panic, the host kills qemu at the deadline, and at once
//! when it reports `KVM internal error` (it would pause forever).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bail;
use crate::error::Result;
use crate::initramfs::{EXIT_MARKER, START_MARKER};
use crate::process::{self, Control, Ended};

/// The qemu accelerator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualization (`-enable-kvm -cpu host`).
    Kvm,
    /// Multi-threaded software emulation (`-accel tcg,thread=multi -cpu max`).
    Tcg,
}

/// VM settings (from `BPFSIGN_VM_*` variables, see tests/README.md).
#[derive(Clone, Debug)]
pub struct VmConfig {
    /// Accelerator.
    pub accel: Accel,
    /// Why that accelerator was chosen (printed in the log).
    pub accel_reason: String,
    /// `-cpu` model; default `host` for KVM, `max` for TCG.
    pub cpu: Option<String>,
    /// Guest memory in MiB.
    pub mem_mib: u64,
    /// Virtual CPUs.
    pub smp: u32,
    /// Host-side limit for one boot, from qemu start to exit.
    pub timeout: Duration,
    /// Without `quiet` (full kernel log).
    pub verbose: bool,
    /// Extra kernel command line.
    pub append: String,
    /// The qemu binary.
    pub qemu: PathBuf,
}

impl VmConfig {
    /// Settings from the environment: `BPFSIGN_VM_ACCEL` (auto|kvm|tcg), `BPFSIGN_VM_CPU`,
    /// `BPFSIGN_VM_MEM` (MiB), `BPFSIGN_VM_SMP`, `BPFSIGN_VM_TIMEOUT` (s), `BPFSIGN_VM_VERBOSE`,
    /// `BPFSIGN_VM_APPEND`, `BPFSIGN_VM_QEMU`.
    pub fn from_env() -> Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let num = |k: &str, d: u64| -> Result<u64> {
            match var(k) {
                None => Ok(d),
                Some(v) => v
                    .parse()
                    .map_err(|_| crate::error::Error(format!("{k}={v}: not a number"))),
            }
        };
        let (accel, accel_reason) = match var("BPFSIGN_VM_ACCEL").as_deref().unwrap_or("auto") {
            "auto" => detect_accel(),
            "kvm" => (Accel::Kvm, "BPFSIGN_VM_ACCEL=kvm".into()),
            "tcg" => (Accel::Tcg, "BPFSIGN_VM_ACCEL=tcg".into()),
            other => bail!("BPFSIGN_VM_ACCEL={other}: use auto, kvm or tcg"),
        };
        Ok(VmConfig {
            accel,
            accel_reason,
            cpu: var("BPFSIGN_VM_CPU"),
            mem_mib: num("BPFSIGN_VM_MEM", 1024)?,
            // One vCPU under TCG: with two, multi-threaded TCG occasionally lets a vCPU run a stale
            // `int3` of a kernel text patch (seen once in ~70 boots: "Oops: int3" in
            // __timekeeping_advance), and tests attach programs, which patches kernel text.
            smp: num("BPFSIGN_VM_SMP", if accel == Accel::Kvm { 2 } else { 1 })? as u32,
            timeout: Duration::from_secs(num("BPFSIGN_VM_TIMEOUT", 300)?),
            verbose: var("BPFSIGN_VM_VERBOSE").is_some_and(|v| v != "0"),
            append: var("BPFSIGN_VM_APPEND").unwrap_or_default(),
            qemu: var("BPFSIGN_VM_QEMU")
                .unwrap_or_else(|| "qemu-system-x86_64".into())
                .into(),
        })
    }

    /// The qemu command line for `kernel` + `initrd`.
    pub fn command(&self, kernel: &Path, initrd: &Path) -> Command {
        let mut c = Command::new(&self.qemu);
        match self.accel {
            Accel::Kvm => c.args(["-enable-kvm", "-cpu", self.cpu.as_deref().unwrap_or("host")]),
            Accel::Tcg => c.args([
                "-accel",
                "tcg,thread=multi",
                "-cpu",
                self.cpu.as_deref().unwrap_or("max"),
            ]),
        };
        let mut append = String::from("console=ttyS0 panic=-1 oops=panic");
        if !self.verbose {
            append.push_str(" quiet");
        }
        if !self.append.is_empty() {
            append.push(' ');
            append.push_str(&self.append);
        }
        c.arg("-m").arg(format!("{}M", self.mem_mib));
        c.arg("-smp").arg(self.smp.to_string());
        c.args([
            "-nodefaults",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-no-reboot",
        ]);
        c.arg("-kernel")
            .arg(kernel)
            .arg("-initrd")
            .arg(initrd)
            .arg("-append")
            .arg(append);
        c
    }
}

/// KVM when `/dev/kvm` is usable real KVM; TCG when it is missing, not accessible, or the
/// nested "PVM" flavour (`/sys/module/kvm_pvm`), which cannot run stock kernels at useful speed.
pub fn detect_accel() -> (Accel, String) {
    if Path::new("/sys/module/kvm_pvm").exists() {
        return (
            Accel::Tcg,
            "/dev/kvm is kvm_pvm (nested PVM): using TCG".into(),
        );
    }
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        Ok(_) => (Accel::Kvm, "/dev/kvm usable".into()),
        Err(e) => (Accel::Tcg, format!("/dev/kvm not usable ({e}): using TCG")),
    }
}

/// How a boot ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `/init` printed its exit marker with this status.
    Exited(i32),
    /// Killed at the host-side deadline.
    Timeout(Duration),
    /// qemu exited without the exit marker: kernel panic / oops / init died.
    Crashed(String),
    /// qemu reported `KVM internal error` and was killed.
    KvmError(String),
    /// qemu itself failed (bad option, missing file, ...).
    QemuFailed(String),
}

impl Outcome {
    /// A few words for a test that was cut off by this outcome.
    pub fn short(&self) -> String {
        match self {
            Outcome::Exited(rc) => format!("the guest script ended (rc={rc})"),
            Outcome::Timeout(d) => format!("TIMEOUT after {} s", d.as_secs()),
            Outcome::Crashed(_) => "GUEST CRASHED".into(),
            Outcome::KvmError(_) => "KVM internal error".into(),
            Outcome::QemuFailed(_) => "qemu failed".into(),
        }
    }

    /// A one-line description for messages.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Exited(rc) => format!("guest finished (rc={rc})"),
            Outcome::Timeout(d) => format!(
                "TIMEOUT: guest still running after {} s (killed; raise BPFSIGN_VM_TIMEOUT?)",
                d.as_secs()
            ),
            Outcome::Crashed(why) => format!("GUEST CRASHED: {why}"),
            Outcome::KvmError(l) => {
                format!("KVM internal error (qemu killed): {l}; try BPFSIGN_VM_ACCEL=tcg")
            }
            Outcome::QemuFailed(why) => format!("QEMU FAILED: {why}"),
        }
    }
}

/// The result of one boot.
#[derive(Debug)]
pub struct Boot {
    /// How it ended.
    pub outcome: Outcome,
    /// `uname -r` of the guest, from the start marker.
    pub release: Option<String>,
    /// Guest uptime when `/init` started (boot time of the kernel), seconds.
    pub boot_uptime: Option<f64>,
    /// Host wall time from qemu start to exit.
    pub wall: Duration,
    /// The whole console (and qemu's own messages), `\r` removed.
    pub console: Vec<String>,
}

/// Boots `kernel` with `initrd`; every console line goes to `on_line` as it arrives.
pub fn boot(
    cfg: &VmConfig,
    kernel: &Path,
    initrd: &Path,
    on_line: &mut dyn FnMut(&str),
) -> Result<Boot> {
    if !kernel.is_file() {
        bail!("kernel image {} does not exist", kernel.display());
    }
    let mut cmd = cfg.command(kernel, initrd);
    let t0 = Instant::now();
    let mut console = Vec::new();
    let mut kvm_error = None;
    let ended = process::run_streaming(&mut cmd, t0 + cfg.timeout, &mut |line| {
        on_line(line);
        console.push(line.to_string());
        if line.contains("KVM internal error") {
            kvm_error = Some(line.to_string());
            return Control::Kill;
        }
        Control::Continue
    })
    .map_err(|e| {
        crate::error::Error(format!(
            "{e} (install qemu-system-x86 or set BPFSIGN_VM_QEMU)"
        ))
    })?;
    let wall = t0.elapsed();
    let (release, boot_uptime) = parse_start(&console);
    let exit = parse_exit(&console);
    let outcome = match (ended, exit, kvm_error) {
        (Ended::KilledOnRequest, _, Some(l)) => Outcome::KvmError(l),
        (Ended::TimedOut, _, _) => Outcome::Timeout(cfg.timeout),
        (_, Some(rc), _) => Outcome::Exited(rc),
        (Ended::Code(c), None, _) if release.is_none() && c != 0 => {
            let msg: Vec<&String> = console
                .iter()
                .filter(|l| l.contains("qemu"))
                .take(3)
                .collect();
            Outcome::QemuFailed(format!(
                "exit status {c}: {}",
                if msg.is_empty() {
                    "no output".to_string()
                } else {
                    msg.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" / ")
                }
            ))
        }
        (_, None, _) => Outcome::Crashed(crash_reason(&console)),
    };
    Ok(Boot {
        outcome,
        release,
        boot_uptime,
        wall,
        console,
    })
}

/// [`boot`], booting once more when the guest crashed before `/init` started (no test ran yet):
/// a rare emulation flake must not fail the run, a kernel that cannot boot fails both times.
pub fn boot_with_retry(
    cfg: &VmConfig,
    kernel: &Path,
    initrd: &Path,
    on_line: &mut dyn FnMut(&str),
) -> Result<Boot> {
    let first = boot(cfg, kernel, initrd, on_line)?;
    if !(matches!(first.outcome, Outcome::Crashed(_)) && first.release.is_none()) {
        return Ok(first);
    }
    eprintln!(
        "vmtest: WARNING: {} ({}) crashed before /init started: {}; booting it once more",
        kernel.display(),
        if cfg.accel == Accel::Tcg {
            "TCG"
        } else {
            "KVM"
        },
        first.outcome.describe()
    );
    let mut second = boot(cfg, kernel, initrd, on_line)?;
    let mut console = first.console;
    console.push("=== vmtest: first boot crashed before /init; second boot follows ===".into());
    console.append(&mut second.console);
    second.console = console;
    second.wall += first.wall;
    Ok(second)
}

fn marker_fields<'a>(console: &'a [String], marker: &str) -> Option<&'a str> {
    console
        .iter()
        .rev()
        .find_map(|l| l.find(marker).map(|i| &l[i + marker.len()..]))
}

fn field<'a>(fields: &'a str, key: &str) -> Option<&'a str> {
    fields
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// `uname -r` and uptime from the start marker.
pub fn parse_start(console: &[String]) -> (Option<String>, Option<f64>) {
    match marker_fields(console, START_MARKER) {
        Some(f) => (
            field(f, "kernel").map(str::to_string),
            field(f, "uptime").and_then(|u| u.parse().ok()),
        ),
        None => (None, None),
    }
}

/// The payload status from the exit marker.
pub fn parse_exit(console: &[String]) -> Option<i32> {
    marker_fields(console, EXIT_MARKER)
        .and_then(|f| field(f, "rc"))
        .and_then(|r| r.parse().ok())
}

/// The most telling console line of a crash.
pub fn crash_reason(console: &[String]) -> String {
    const SIGNS: [&str; 7] = [
        "Kernel panic",
        "BUG:",
        "Oops",
        "general protection fault",
        "Attempted to kill init",
        "watchdog:",
        "Call Trace",
    ];
    for sign in SIGNS {
        if let Some(l) = console.iter().find(|l| l.contains(sign)) {
            return format!("no exit marker; console says: {}", l.trim());
        }
    }
    if parse_start(console).0.is_none() {
        "qemu exited before /init started (kernel did not boot?)".into()
    } else {
        "qemu exited without the guest's exit marker".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn markers() {
        let c = lines(
            "[    0.0] junk\n=== VM-GUEST-START kernel=7.3.4+deb13-cloud-amd64 uptime=1.52 ===\nx\n\
             [  2.1] noise === VM-GUEST-EXIT rc=3 uptime=2.00 ===\n",
        );
        assert_eq!(
            parse_start(&c),
            (Some("7.3.4+deb13-cloud-amd64".into()), Some(1.52))
        );
        assert_eq!(parse_exit(&c), Some(3));
        assert_eq!(
            parse_exit(&lines("=== VM-GUEST-START kernel=x uptime=1 ===")),
            None
        );
    }

    #[test]
    fn crash_reasons() {
        let c = lines("=== VM-GUEST-START kernel=x uptime=1 ===\n[ 3.0] sysrq: Trigger a crash\n[ 3.0] Kernel panic - not syncing: sysrq triggered crash");
        assert!(crash_reason(&c).contains("Kernel panic - not syncing"));
        assert!(crash_reason(&[]).contains("before /init"));
    }

    #[test]
    fn command_line() {
        let cfg = VmConfig {
            accel: Accel::Tcg,
            accel_reason: String::new(),
            cpu: None,
            mem_mib: 512,
            smp: 2,
            timeout: Duration::from_secs(1),
            verbose: false,
            append: "foo=1".into(),
            qemu: "qemu-system-x86_64".into(),
        };
        let c = cfg.command(Path::new("/k"), Path::new("/i"));
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().to_string())
            .collect();
        let s = args.join(" ");
        assert!(s.contains("-accel tcg,thread=multi -cpu max"), "{s}");
        assert!(s.contains("-no-reboot"));
        assert!(
            s.contains("-append console=ttyS0 panic=-1 oops=panic quiet foo=1"),
            "{s}"
        );
    }
}
