//! Runs the selected kernel tests on each requested kernel and summarises.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bail;
use crate::error::{Context, Result};
use crate::fetch;
use crate::initramfs::Tree;
use crate::kernels::{self, Target, Version};
use crate::libtest::{self, Verdict};
use crate::process::{self, Control};
use crate::vm::{self, Outcome, VmConfig};
use crate::workspace::{Plan, TestBinary};

/// Marker before one test's output in the guest: `=== VMTEST-CASE-BEGIN <idx> <name> ===`.
pub const CASE_BEGIN: &str = "=== VMTEST-CASE-BEGIN ";
/// Marker after it: `=== VMTEST-CASE-END <idx> rc=<status> ===`.
pub const CASE_END: &str = "=== VMTEST-CASE-END ";
/// Guest directory of the test executables.
pub const GUEST_TESTS: &str = "/vmtest/tests";
/// Guest directory of the workspace binaries (first on PATH).
pub const GUEST_BINS: &str = "/usr/local/bin";

/// Where kernel images are cached: `$BPFSIGN_KERNEL_DIR`, else `<workspace>/tests/vmtest/cache/kernels`.
pub fn kernel_dir(workspace_root: &Path) -> PathBuf {
    match std::env::var_os("BPFSIGN_KERNEL_DIR").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => workspace_root.join("tests/vmtest/cache/kernels"),
    }
}

/// The image for `wanted`: from the cache, else downloaded into it.
pub fn resolve_kernel(dir: &Path, wanted: &Version) -> Result<(Version, PathBuf)> {
    if let Some(found) = kernels::find_cached(dir, wanted) {
        if found.0 != *wanted {
            eprintln!(
                "vmtest: kernel {wanted} not cached in {}; using {} (same series)",
                dir.display(),
                found.0
            );
        }
        return Ok(found);
    }
    eprintln!(
        "vmtest: kernel {wanted} not in {}: downloading it",
        dir.display()
    );
    let f = fetch::fetch(dir, wanted, false).map_err(|e| {
        crate::error::Error(format!(
            "kernel {wanted}: {e}\n(set BPFSIGN_KERNEL_DIR to a writable cache or to one holding <version>/vmlinuz)"
        ))
    })?;
    Ok((f.version, f.image))
}

/// Environment variables forwarded into the guest (and to host runs): every `BPFSIGN_*` except
/// the runner's own settings, plus `RUST_BACKTRACE`, `RUST_LOG`, `RUST_LIB_BACKTRACE`.
pub fn forwarded_env() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .filter(|(k, _)| {
            (k.starts_with("BPFSIGN_")
                && !k.starts_with("BPFSIGN_VM_")
                && k != "BPFSIGN_KERNEL_DIR"
                && k != "BPFSIGN_TEST_KERNEL")
                || ["RUST_BACKTRACE", "RUST_LOG", "RUST_LIB_BACKTRACE"].contains(&k.as_str())
        })
        .collect();
    out.sort();
    out
}

/// Quotes `s` for the guest's `sh`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The env file sourced by `/init` (`export K='V'` lines).
pub fn env_script(vars: &[(String, String)]) -> String {
    vars.iter()
        .map(|(k, v)| format!("export {k}={}\n", sh_quote(v)))
        .collect()
}

/// Guest path of a test executable.
fn guest_test_path(b: &TestBinary) -> String {
    format!(
        "{GUEST_TESTS}/{}",
        b.path
            .file_name()
            .expect("executables have file names")
            .to_string_lossy()
    )
}

/// A copy of the executable `exe` without DWARF debug information (`objcopy --strip-debug`:
/// symbols stay, so uprobes on the test binaries still resolve), in `vmtest-stripped/` beside
/// the directory of `exe` and reused while newer than `exe`. Debug information is most of a
/// dev-profile test binary, and the guest unpacks every byte of the initramfs into its memory.
/// Falls back to `exe` itself when objcopy is missing or fails.
fn without_debug_info(exe: &Path) -> PathBuf {
    let (Some(dir), Some(name)) = (exe.parent().and_then(Path::parent), exe.file_name()) else {
        return exe.to_path_buf();
    };
    let out = dir.join("vmtest-stripped").join(name);
    let mtime = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    if matches!((mtime(&out), mtime(exe)), (Some(o), Some(e)) if o >= e) {
        return out;
    }
    let stripped = fs::create_dir_all(out.parent().expect("has a parent")).is_ok()
        && std::process::Command::new("objcopy")
            .arg("--strip-debug")
            .arg(exe)
            .arg(&out)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if stripped {
        out
    } else {
        exe.to_path_buf()
    }
}

/// The guest file tree: base system (static busybox from `BPFSIGN_VM_BUSYBOX` or /bin/busybox,
/// `/init`), the plan's test executables and workspace binaries, `extra` files, `script` as
/// `/vmtest/run.sh`, and the shared libraries all of them need.
pub fn guest_tree(plan: &Plan, script: &str, extra: &[(PathBuf, String)]) -> Result<Tree> {
    let busybox = std::env::var_os("BPFSIGN_VM_BUSYBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/bin/busybox".into());
    let mut t = Tree::base(&busybox)?;
    for b in &plan.binaries {
        t.add_host_file(
            &guest_test_path(b),
            &without_debug_info(&b.path),
            Some(0o755),
        )?;
    }
    for b in &plan.bins {
        let name = b
            .file_name()
            .expect("binaries have names")
            .to_string_lossy()
            .to_string();
        t.add_host_file(
            &format!("{GUEST_BINS}/{name}"),
            &without_debug_info(b),
            Some(0o755),
        )?;
    }
    for (host, guest) in extra {
        t.add_host_path(guest, host)?;
    }
    t.add_bytes("/vmtest/run.sh", 0o755, script.as_bytes())?;
    t.add_shared_libs()?;
    Ok(t)
}

/// `/vmtest/run.sh`: runs each test as its own process between markers.
pub fn guest_script(plan: &Plan) -> String {
    let mut s = String::from("# generated by bpfsign-vmtest: one process per kernel test\n");
    let _ = writeln!(
        s,
        "echo \"vmtest: {} kernel tests, BPFSIGN_TEST_KERNEL=$BPFSIGN_TEST_KERNEL\"",
        plan.cases.len()
    );
    for (i, c) in plan.cases.iter().enumerate() {
        let bin = guest_test_path(&plan.binaries[c.bin]);
        let _ = writeln!(s, "echo \"{CASE_BEGIN}{i} {} ===\"", c.name);
        let _ = writeln!(
            s,
            "{bin} --ignored --exact --test-threads=1 {} 2>&1",
            sh_quote(&c.name)
        );
        let _ = writeln!(s, "echo \"{CASE_END}{i} rc=$? ===\"");
    }
    s
}

/// Per-test exit status (`None`: began but never ended) and output lines, by case index.
pub type CaseResults = BTreeMap<usize, (Option<i32>, Vec<String>)>;

/// Splits the console into per-test output and exit status (`None`: began but never ended).
pub fn split_cases(console: &[String]) -> CaseResults {
    let mut out = CaseResults::new();
    let mut cur: Option<usize> = None;
    for line in console {
        if let Some(i) = line.find(CASE_BEGIN) {
            let idx = line[i + CASE_BEGIN.len()..]
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok());
            if let Some(idx) = idx {
                out.insert(idx, (None, Vec::new()));
                cur = Some(idx);
            }
            continue;
        }
        if let Some(i) = line.find(CASE_END) {
            // Output without a final newline ends up in front of the marker.
            if let Some(e) = cur.and_then(|c| out.get_mut(&c)).filter(|_| i > 0) {
                e.1.push(line[..i].to_string());
            }
            let mut w = line[i + CASE_END.len()..].split_whitespace();
            let idx: Option<usize> = w.next().and_then(|n| n.parse().ok());
            let rc: Option<i32> = w
                .next()
                .and_then(|r| r.strip_prefix("rc="))
                .and_then(|r| r.parse().ok());
            if let (Some(idx), Some(rc)) = (idx, rc) {
                if let Some(e) = out.get_mut(&idx) {
                    e.0 = Some(rc);
                }
            }
            cur = None;
            continue;
        }
        if let Some(e) = cur.and_then(|c| out.get_mut(&c)) {
            e.1.push(line.clone());
        }
    }
    out
}

/// The outcome on one kernel.
#[derive(Debug)]
pub struct KernelReport {
    /// `7.3.4` or `host`.
    pub name: String,
    /// Tests passed.
    pub passed: usize,
    /// Failed tests: (name, binary label, reason).
    pub failed: Vec<(String, String, String)>,
    /// A problem of the VM itself (crash, timeout, ...), if any.
    pub problem: Option<String>,
    /// How the VM stopped when it did not finish normally (`GUEST CRASHED`, `TIMEOUT after 300 s`).
    pub stopped: Option<String>,
    /// `uname -r` seen.
    pub release: Option<String>,
    /// Wall time.
    pub wall: Duration,
}

impl KernelReport {
    /// The summary line: `kernel 7.3.4: N passed, N failed`.
    pub fn summary(&self) -> String {
        format!(
            "kernel {}: {} passed, {} failed",
            self.name,
            self.passed,
            self.failed.len()
        )
    }

    fn judge(&mut self, plan: &Plan, results: &CaseResults) {
        for (i, c) in plan.cases.iter().enumerate() {
            let (rc, out) = results
                .get(&i)
                .map(|(r, o)| (*r, o.as_slice()))
                .unwrap_or((None, &[]));
            let verdict = if results.contains_key(&i) {
                match (rc, &self.stopped) {
                    (None, Some(how)) => {
                        Verdict::Failed(format!("did not finish: {how} while it ran"))
                    }
                    _ => libtest::judge(&c.name, rc, out),
                }
            } else {
                Verdict::Failed(match &self.problem {
                    Some(_) => format!("not run (kernel {}: see the problem above)", self.name),
                    None => "not run (no output for it)".into(),
                })
            };
            match verdict {
                Verdict::Passed => self.passed += 1,
                Verdict::Failed(why) => {
                    self.failed
                        .push((c.name.clone(), plan.binaries[c.bin].label(), why))
                }
            }
        }
    }
}

/// Everything a test run needs.
pub struct Runner {
    /// VM settings.
    pub vm: VmConfig,
    /// Kernel cache.
    pub kernel_dir: PathBuf,
    /// Scratch space (`<target>/vmtest`).
    pub work_root: PathBuf,
    /// Extra files for the guest: (host path, guest path).
    pub extra: Vec<(PathBuf, String)>,
    /// Keep the initramfs files.
    pub keep: bool,
}

impl Runner {
    /// Builds the guest tree shared by all kernels (see [`guest_tree`]).
    pub fn guest_tree(&self, plan: &Plan, script: &str) -> Result<Tree> {
        guest_tree(plan, script, &self.extra)
    }

    /// Boots `target` with the shared archive `base` plus a per-kernel env archive; returns the boot.
    pub fn boot(
        &self,
        version: &Version,
        label: &str,
        base: &Path,
        env: &[(String, String)],
        payload_bytes: u64,
    ) -> Result<(vm::Boot, Version)> {
        let (real, image) = resolve_kernel(&self.kernel_dir, version)?;
        let initrd = base.with_file_name(format!("initrd-{label}.cpio"));
        fs::copy(base, &initrd)
            .ctx(|| format!("copying {} to {}", base.display(), initrd.display()))?;
        let mut envtree = Tree::new();
        envtree.add_bytes("/vmtest/env", 0o644, env_script(env).as_bytes())?;
        let f = fs::OpenOptions::new()
            .append(true)
            .open(&initrd)
            .ctx(|| format!("opening {}", initrd.display()))?;
        envtree.write_cpio(f)?;
        let mut cfg = self.vm.clone();
        // The archive is held twice while the kernel unpacks it, and the tests need room.
        cfg.mem_mib = cfg.mem_mib.max(payload_bytes * 3 / (1 << 20) + 512);
        eprintln!(
            "vmtest: booting {} ({}; {} MiB, {} vCPUs, timeout {} s, initramfs {} MiB)",
            image.display(),
            cfg.accel_reason,
            cfg.mem_mib,
            cfg.smp,
            cfg.timeout.as_secs(),
            payload_bytes >> 20
        );
        let mut out = std::io::stdout();
        let boot = vm::boot_with_retry(&cfg, &image, &initrd, &mut |l| {
            let _ = writeln!(out, "[{label}] {l}");
        });
        if !self.keep {
            let _ = fs::remove_file(&initrd);
        }
        let boot = boot?;
        let log_dir = self.work_root.join("logs");
        let _ = fs::create_dir_all(&log_dir);
        let _ = fs::write(
            log_dir.join(format!("{label}.log")),
            boot.console.join("\n") + "\n",
        );
        Ok((boot, real))
    }

    /// Runs `plan` on every target; returns one report per target.
    pub fn run_tests(&self, plan: &Plan, targets: &[Target]) -> Result<Vec<KernelReport>> {
        fs::create_dir_all(&self.work_root)
            .ctx(|| format!("creating {}", self.work_root.display()))?;
        let work = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(&self.work_root)
            .ctx(|| format!("creating a work directory in {}", self.work_root.display()))?;
        let mut base: Option<(PathBuf, u64)> = None;
        let mut reports = Vec::new();
        for target in targets {
            let t0 = Instant::now();
            let name = target.name();
            let mut rep = KernelReport {
                name: name.clone(),
                passed: 0,
                failed: Vec::new(),
                problem: None,
                stopped: None,
                release: None,
                wall: Duration::ZERO,
            };
            let mut env = forwarded_env();
            env.push(("BPFSIGN_TEST_KERNEL".into(), name.clone()));
            match target {
                Target::Host => {
                    let (results, timed_out) = self.run_host(plan, &env)?;
                    if let Some(test) = timed_out {
                        let secs = self.vm.timeout.as_secs();
                        rep.problem = Some(format!(
                            "TIMEOUT: host run still busy after {secs} s while running {test}"
                        ));
                        rep.stopped = Some(format!("TIMEOUT after {secs} s"));
                    }
                    rep.release = Some(host_release());
                    eprintln!(
                        "vmtest: host kernel (uname -r): {}",
                        rep.release.as_deref().unwrap_or("?")
                    );
                    rep.judge(plan, &results);
                }
                Target::Vm(version) => {
                    if base.is_none() {
                        let tree = self.guest_tree(plan, &guest_script(plan))?;
                        let p = work.path().join("base.cpio");
                        tree.write_file(&p)?;
                        let size = fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                        base = Some((p, size));
                    }
                    let (p, size) = base.as_ref().expect("just built");
                    match self.boot(version, &name, p, &env, *size) {
                        Err(e) => {
                            rep.problem = Some(e.to_string());
                            rep.judge(plan, &BTreeMap::new());
                        }
                        Ok((boot, real)) => {
                            rep.release = boot.release.clone();
                            eprintln!(
                                "vmtest: kernel {name}: guest uname -r = {} (image {real}), /init at {} s guest uptime, {}",
                                boot.release.as_deref().unwrap_or("?"),
                                boot.boot_uptime.map(|u| format!("{u:.2}")).unwrap_or_else(|| "?".into()),
                                boot.outcome.describe()
                            );
                            if !matches!(boot.outcome, Outcome::Exited(_)) {
                                let running = split_cases(&boot.console)
                                    .into_iter()
                                    .find(|(_, (rc, _))| rc.is_none())
                                    .map(|(i, _)| format!(" while running {}", plan.cases[i].name))
                                    .unwrap_or_default();
                                rep.problem = Some(format!("{}{running}", boot.outcome.describe()));
                                rep.stopped = Some(boot.outcome.short());
                            }
                            rep.judge(plan, &split_cases(&boot.console));
                        }
                    }
                }
            }
            rep.wall = t0.elapsed();
            if let Some(p) = &rep.problem {
                eprintln!("vmtest: kernel {name}: {p}");
            }
            eprintln!(
                "vmtest: {} ({:.1} s)",
                rep.summary(),
                rep.wall.as_secs_f64()
            );
            reports.push(rep);
        }
        if self.keep {
            eprintln!("vmtest: kept {}", work.keep().display());
        }
        Ok(reports)
    }

    /// Runs each test natively, one process per test, in a scratch directory.
    /// Also returns the test that hit the deadline, if one did.
    fn run_host(
        &self,
        plan: &Plan,
        env: &[(String, String)],
    ) -> Result<(CaseResults, Option<String>)> {
        // SAFETY: geteuid takes no arguments and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("vmtest: WARNING: not root: host kernel tests will likely fail (they need root and BPF)");
        }
        let scratch = tempfile::tempdir().ctx(|| "creating a scratch directory".into())?;
        let path = host_path(&plan.bins);
        let deadline = Instant::now() + self.vm.timeout;
        let mut results = BTreeMap::new();
        for (i, c) in plan.cases.iter().enumerate() {
            let b = &plan.binaries[c.bin];
            let mut cmd = Command::new(&b.path);
            cmd.args(["--ignored", "--exact", "--test-threads=1", &c.name])
                .current_dir(scratch.path())
                .env("PATH", &path)
                .envs(env.iter().map(|(k, v)| (k, v)));
            let mut out = Vec::new();
            let mut stdout = std::io::stdout();
            let _ = writeln!(stdout, "[host] {CASE_BEGIN}{i} {} ===", c.name);
            let ended = process::run_streaming(&mut cmd, deadline, &mut |l| {
                let _ = writeln!(stdout, "[host] {l}");
                out.push(l.to_string());
                Control::Continue
            })?;
            let rc = match ended {
                process::Ended::Code(c) => Some(c),
                process::Ended::Signal(s) => Some(128 + s),
                process::Ended::TimedOut | process::Ended::KilledOnRequest => None,
            };
            results.insert(i, (rc, out));
            if rc.is_none() {
                return Ok((results, Some(c.name.clone())));
            }
        }
        Ok((results, None))
    }
}

/// `PATH` for host runs: the directories of the workspace binaries first.
pub fn host_path(bins: &[PathBuf]) -> std::ffi::OsString {
    let mut dirs: Vec<PathBuf> = bins
        .iter()
        .filter_map(|b| b.parent().map(Path::to_path_buf))
        .collect();
    dirs.dedup();
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap_or_default()
}

/// `uname -r` of this machine.
pub fn host_release() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Prints the summary; `Err` when anything failed.
pub fn report(reports: &[KernelReport]) -> Result<()> {
    println!();
    println!("vmtest summary:");
    for r in reports {
        println!("{}", r.summary());
    }
    let mut bad = false;
    for r in reports {
        if let Some(p) = &r.problem {
            println!("  kernel {}: {p}", r.name);
            bad = true;
        }
        for (name, bin, why) in &r.failed {
            println!("  FAILED on kernel {}: {name} ({bin}): {why}", r.name);
            bad = true;
        }
    }
    let times: Vec<String> = reports
        .iter()
        .map(|r| format!("{} {:.1} s", r.name, r.wall.as_secs_f64()))
        .collect();
    println!("  wall time: {}", times.join(", "));
    if bad {
        bail!("kernel tests failed (see the FAILED lines above)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::TestCase;

    fn plan() -> Plan {
        Plan {
            binaries: vec![TestBinary {
                package: "p".into(),
                target: "t".into(),
                path: "/x/t-abc".into(),
            }],
            cases: vec![
                TestCase {
                    bin: 0,
                    name: "kernel_a".into(),
                },
                TestCase {
                    bin: 0,
                    name: "m::kernel_b".into(),
                },
            ],
            bins: vec![],
        }
    }

    #[test]
    fn script_runs_each_case_between_markers() {
        let s = guest_script(&plan());
        assert!(s.contains("echo \"=== VMTEST-CASE-BEGIN 1 m::kernel_b ===\"\n"));
        assert!(s.contains(
            "/vmtest/tests/t-abc --ignored --exact --test-threads=1 'm::kernel_b' 2>&1\n"
        ));
        assert!(s.contains("echo \"=== VMTEST-CASE-END 1 rc=$? ===\"\n"));
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("a'b c"), r"'a'\''b c'");
        assert_eq!(
            env_script(&[("K".into(), "v 1".into())]),
            "export K='v 1'\n"
        );
    }

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn judges_console() {
        let console = lines(
            "=== VM-GUEST-START kernel=7.3.4 uptime=1 ===\n\
             === VMTEST-CASE-BEGIN 0 kernel_a ===\nrunning 1 test\ntest kernel_a ... ok\n\
             test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out\n\
             === VMTEST-CASE-END 0 rc=0 ===\n\
             === VMTEST-CASE-BEGIN 1 m::kernel_b ===\nrunning 1 test\ntest m::kernel_b ... ",
        );
        let mut glued = console.clone();
        glued.truncate(3);
        glued.push("test kernel_a ... ok=== VMTEST-CASE-END 0 rc=0 ===".into());
        let cases = split_cases(&glued);
        assert_eq!(cases[&0].0, Some(0));
        assert_eq!(
            libtest::judge("kernel_a", Some(0), &cases[&0].1),
            Verdict::Passed
        );
        let p = plan();
        let mut r = KernelReport {
            name: "7.3.4".into(),
            passed: 0,
            failed: vec![],
            problem: None,
            stopped: None,
            release: None,
            wall: Duration::ZERO,
        };
        r.judge(&p, &split_cases(&console));
        assert_eq!(r.passed, 1);
        assert_eq!(r.failed.len(), 1);
        assert_eq!(r.failed[0].0, "m::kernel_b");
        assert!(r.failed[0].2.contains("did not finish"));
        assert_eq!(r.summary(), "kernel 7.3.4: 1 passed, 1 failed");
    }

    #[test]
    fn cases_not_reached_count_as_failed() {
        let p = plan();
        let mut r = KernelReport {
            name: "6.18.15".into(),
            passed: 0,
            failed: vec![],
            problem: Some("GUEST CRASHED: x".into()),
            stopped: Some("GUEST CRASHED".into()),
            release: None,
            wall: Duration::ZERO,
        };
        r.judge(&p, &BTreeMap::new());
        assert_eq!(r.summary(), "kernel 6.18.15: 0 passed, 2 failed");
        assert!(r.failed[0]
            .2
            .contains("not run (kernel 6.18.15: see the problem above)"));
    }
}
