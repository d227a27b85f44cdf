//! `cargo vmtest`: runs bpfsign's kernel tests on real signing kernels in throw-away qemu VMs
//! (and natively on the host). See tests/README.md.

mod cpio;
mod error;
mod fetch;
mod gcc;
mod initramfs;
mod kernels;
mod libtest;
mod process;
mod runner;
mod vm;
mod workspace;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use error::{Context, Error, Result};
use kernels::{Target, Version, PINNED};
use runner::Runner;
use vm::{Outcome, VmConfig};
use workspace::{Plan, Workspace};

const USAGE: &str = "\
cargo vmtest [OPTIONS] [-- FILTER...]   run the kernel tests (#[ignore]d tests named kernel_*)
cargo vmtest fetch [--kernel K]... [--dir DIR] [--update] [--boot-check]
                                        download kernels into the cache (or DIR)
cargo vmtest exec [--kernel K]... [--no-build] -- CMD [ARG...]
                                        run a command in each VM (workspace binaries on PATH)
cargo vmtest selftest [--kernel K]     check the runner: exit status, timeout, crash detection
cargo vmtest fetch-gcc-bpf [--dir DIR] [--update]
                                        unpack Debian trixie's GCC 14 for BPF (no install) into DIR
                                        (default tests/vmtest/cache/gcc-bpf); prints the path of
                                        DIR/bin/bpf-unknown-none-gcc (for BPFSIGN_GCC_BPF)

OPTIONS
  -k, --kernel K      6.18.15 | 7.2.13 | 7.3.4 | host | all | X.Y.Z; repeat or comma-separate (default: all)
  -p, --package P     build and run only the tests of package P (repeatable; default: the workspace)
      --extra H[:G]   add host file/dir H to the guest at G (default: same path); repeatable
      --timeout S     host-side limit per VM in seconds (default 300; env BPFSIGN_VM_TIMEOUT)
      --list          only list the selected kernel tests
      --keep          keep the initramfs files under <target>/vmtest
  -h, --help

ENV  BPFSIGN_KERNEL_DIR (kernel cache, <dir>/<version>/vmlinuz), BPFSIGN_VM_ACCEL (auto|kvm|tcg),
     BPFSIGN_VM_MEM, BPFSIGN_VM_SMP, BPFSIGN_VM_CPU, BPFSIGN_VM_VERBOSE, BPFSIGN_VM_APPEND,
     BPFSIGN_VM_EXTRA_FILES (\"H[:G] ...\"), BPFSIGN_VM_BUSYBOX, BPFSIGN_VM_QEMU.
     Tests get BPFSIGN_TEST_KERNEL=<kernel> and every other BPFSIGN_* variable of the caller.";

#[derive(Debug, Default)]
struct Args {
    cmd: String,
    kernels: Vec<Target>,
    packages: Vec<String>,
    extra: Vec<(PathBuf, String)>,
    timeout: Option<u64>,
    list: bool,
    keep: bool,
    dir: Option<PathBuf>,
    update: bool,
    boot_check: bool,
    no_build: bool,
    rest: Vec<String>,
}

fn parse_extra(spec: &str) -> Result<(PathBuf, String)> {
    let (h, g) = spec.split_once(':').unwrap_or((spec, spec));
    let host = std::fs::canonicalize(h).ctx(|| format!("extra file {h}"))?;
    let guest = if g.starts_with('/') {
        g.to_string()
    } else {
        format!("/{g}")
    };
    Ok((host, guest))
}

fn parse_args() -> Result<Args> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_env();
    let mut a = Args {
        cmd: "test".into(),
        ..Args::default()
    };
    let mut first = true;
    let e = |e: lexopt::Error| Error(format!("{e}\n\n{USAGE}"));
    while let Some(arg) = p.next().map_err(e)? {
        match arg {
            Short('k') | Long("kernel") => {
                let v = p.value().map_err(e)?.string().map_err(e)?;
                a.kernels.extend(Target::parse_list(&v).map_err(Error)?);
            }
            Short('p') | Long("package") => {
                a.packages.push(p.value().map_err(e)?.string().map_err(e)?)
            }
            Long("extra") => a
                .extra
                .push(parse_extra(&p.value().map_err(e)?.string().map_err(e)?)?),
            Long("timeout") => a.timeout = Some(p.value().map_err(e)?.parse().map_err(e)?),
            Long("list") => a.list = true,
            Long("keep") => a.keep = true,
            Long("dir") => a.dir = Some(p.value().map_err(e)?.into()),
            Long("update") => a.update = true,
            Long("boot-check") => a.boot_check = true,
            Long("no-build") => a.no_build = true,
            Short('h') | Long("help") => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            Value(v) => {
                let v = v.string().map_err(e)?;
                if first
                    && ["test", "fetch", "exec", "selftest", "fetch-gcc-bpf"].contains(&v.as_str())
                {
                    a.cmd = v;
                } else {
                    a.rest.push(v);
                }
            }
            _ => return Err(e(arg.unexpected())),
        }
        first = false;
    }
    if let Ok(spec) = std::env::var("BPFSIGN_VM_EXTRA_FILES") {
        for s in spec.split_whitespace() {
            a.extra.push(parse_extra(s)?);
        }
    }
    Ok(a)
}

fn main() {
    let t0 = Instant::now();
    let r = parse_args().and_then(|a| match a.cmd.as_str() {
        "fetch" => cmd_fetch(&a),
        "exec" => cmd_exec(&a),
        "selftest" => cmd_selftest(&a),
        "fetch-gcc-bpf" => cmd_fetch_gcc(&a),
        _ => cmd_test(&a),
    });
    if let Err(e) = r {
        eprintln!("vmtest: error: {e}");
        eprintln!("vmtest: failed after {:.1} s", t0.elapsed().as_secs_f64());
        std::process::exit(1);
    }
    eprintln!("vmtest: done in {:.1} s", t0.elapsed().as_secs_f64());
}

fn vm_config(a: &Args) -> Result<VmConfig> {
    let mut cfg = VmConfig::from_env()?;
    if let Some(t) = a.timeout {
        cfg.timeout = Duration::from_secs(t);
    }
    Ok(cfg)
}

fn runner(ws: &Workspace, a: &Args) -> Result<Runner> {
    Ok(Runner {
        vm: vm_config(a)?,
        kernel_dir: a
            .dir
            .clone()
            .unwrap_or_else(|| runner::kernel_dir(&ws.root)),
        work_root: ws.target_dir.join("vmtest"),
        extra: a.extra.clone(),
        keep: a.keep || std::env::var_os("BPFSIGN_VM_KEEP").is_some_and(|v| v != "0"),
    })
}

fn targets(a: &Args) -> Vec<Target> {
    if a.kernels.is_empty() {
        Target::parse_list("all").expect("`all` parses")
    } else {
        a.kernels.clone()
    }
}

fn cmd_test(a: &Args) -> Result<()> {
    let ws = Workspace::locate()?;
    let (binaries, bins) = ws.build_all(&a.packages)?;
    let plan = workspace::select(binaries, bins, &a.rest)?;
    eprintln!(
        "vmtest: {} kernel tests in {} test binaries{}; {} workspace binaries on the guest PATH",
        plan.cases.len(),
        plan.binaries.len(),
        if a.rest.is_empty() {
            String::new()
        } else {
            format!(" (filter: {})", a.rest.join(" | "))
        },
        plan.bins.len()
    );
    if a.list {
        for c in &plan.cases {
            println!("{} ({})", c.name, plan.binaries[c.bin].label());
        }
        return Ok(());
    }
    if plan.cases.is_empty() {
        crate::bail!(
            "no kernel tests matched: a kernel test is an #[ignore = \"kernel test: ...\"] #[test] whose name starts \
             with kernel_{}",
            if a.rest.is_empty() { String::new() } else { format!(" and contains one of: {}", a.rest.join(", ")) }
        );
    }
    let r = runner(&ws, a)?;
    let reports = r.run_tests(&plan, &targets(a))?;
    runner::report(&reports)
}

fn cmd_fetch(a: &Args) -> Result<()> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => runner::kernel_dir(&Workspace::locate()?.root),
    };
    let wanted: Vec<Version> = if a.kernels.is_empty() {
        PINNED
            .iter()
            .map(|v| v.parse().expect("pinned versions parse"))
            .collect()
    } else {
        a.kernels
            .iter()
            .filter_map(|t| {
                if let Target::Vm(v) = t {
                    Some(*v)
                } else {
                    None
                }
            })
            .collect()
    };
    for v in wanted {
        let t = Instant::now();
        let (real, image) = match kernels::find_cached(&dir, &v) {
            Some(found) if !a.update => {
                eprintln!(
                    "vmtest: kernel {v}: already cached at {}",
                    found.1.display()
                );
                found
            }
            _ => {
                let f = fetch::fetch(&dir, &v, a.update)?;
                let size = std::fs::metadata(&f.image).map(|m| m.len()).unwrap_or(0);
                println!(
                    "kernel {v}: fetched {} from {} -> {} ({} bytes, {:.1} s){}",
                    f.version,
                    f.package,
                    f.image.display(),
                    size,
                    t.elapsed().as_secs_f64(),
                    if f.fallback {
                        format!(" [fallback: {v} is not offered]")
                    } else {
                        String::new()
                    }
                );
                (f.version, f.image)
            }
        };
        if a.boot_check {
            let cfg = vm_config(a)?;
            let boot = boot_script(&cfg, &image, "uname -r; cat /proc/version", &a.extra)?;
            let ok = matches!(boot.outcome, Outcome::Exited(0))
                && boot.release.as_deref().is_some_and(|r| {
                    r.starts_with(&format!("{real}+")) || r.starts_with(&format!("{real}-"))
                });
            if !ok {
                crate::bail!(
                    "boot check of {}: {}; guest uname -r = {:?}",
                    image.display(),
                    boot.outcome.describe(),
                    boot.release
                );
            }
            println!(
                "kernel {v}: boot check ok: guest uname -r = {} ({:.1} s)",
                boot.release.unwrap_or_default(),
                boot.wall.as_secs_f64()
            );
        }
    }
    Ok(())
}

fn cmd_fetch_gcc(a: &Args) -> Result<()> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => gcc::default_dir(&Workspace::locate()?.root),
    };
    let t = Instant::now();
    let g = gcc::fetch_gcc(&dir, a.update)?;
    eprintln!(
        "vmtest: {} ({}, {:.1} s); use it with BPFSIGN_GCC_BPF={}",
        g.version,
        if g.fetched {
            "fetched"
        } else {
            "already present"
        },
        t.elapsed().as_secs_f64(),
        g.wrapper.display()
    );
    println!("{}", g.wrapper.display());
    Ok(())
}

/// Boots `image` with busybox, `extra` files and `script` as the payload.
fn boot_script(
    cfg: &VmConfig,
    image: &std::path::Path,
    script: &str,
    extra: &[(PathBuf, String)],
) -> Result<vm::Boot> {
    let tree = runner::guest_tree(&Plan::default(), script, extra)?;
    let dir = tempfile::tempdir().ctx(|| "creating a temporary directory".into())?;
    let initrd = dir.path().join("initrd.cpio");
    tree.write_file(&initrd)?;
    let label = image
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    vm::boot_with_retry(cfg, image, &initrd, &mut |l| println!("[{label}] {l}"))
}

fn cmd_exec(a: &Args) -> Result<()> {
    if a.rest.is_empty() {
        crate::bail!("exec needs a command: cargo vmtest exec [--kernel K] -- CMD [ARG...]");
    }
    let ws = Workspace::locate()?;
    let bins = if a.no_build {
        Vec::new()
    } else {
        ws.build_all(&a.packages)?.1
    };
    let r = runner(&ws, a)?;
    let cmdline: Vec<String> = a.rest.iter().map(|s| runner::sh_quote(s)).collect();
    let plan = Plan {
        bins,
        ..Plan::default()
    };
    let script = format!("{}\n", cmdline.join(" "));
    let tree = r.guest_tree(&plan, &script)?;
    let work = tempfile::tempdir().ctx(|| "creating a temporary directory".into())?;
    let base = work.path().join("base.cpio");
    tree.write_file(&base)?;
    let size = std::fs::metadata(&base).map(|m| m.len()).unwrap_or(0);
    let mut failed = Vec::new();
    for t in targets(a) {
        let mut env = runner::forwarded_env();
        env.push(("BPFSIGN_TEST_KERNEL".into(), t.name()));
        let status = match &t {
            Target::Host => {
                let path = runner::host_path(&plan.bins);
                let prog = which(&a.rest[0], &path);
                let st = std::process::Command::new(prog)
                    .args(&a.rest[1..])
                    .env("PATH", &path)
                    .envs(env)
                    .status()
                    .ctx(|| format!("running {}", a.rest[0]))?;
                format!("exit status {}", st.code().unwrap_or(-1))
            }
            Target::Vm(v) => {
                let (boot, _) = r.boot(v, &t.name(), &base, &env, size)?;
                eprintln!(
                    "vmtest: guest uname -r = {}",
                    boot.release.as_deref().unwrap_or("?")
                );
                match boot.outcome {
                    Outcome::Exited(rc) => format!("exit status {rc}"),
                    o => o.describe(),
                }
            }
        };
        println!("kernel {}: {status}", t.name());
        if status != "exit status 0" {
            failed.push(t.name());
        }
    }
    if !failed.is_empty() {
        crate::bail!("the command failed on: {}", failed.join(", "));
    }
    Ok(())
}

/// `name` resolved on `path` (Command looks programs up on the parent's PATH, not the child's).
fn which(name: &str, path: &std::ffi::OsStr) -> PathBuf {
    if name.contains('/') {
        return name.into();
    }
    std::env::split_paths(path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| name.into())
}

fn cmd_selftest(a: &Args) -> Result<()> {
    let v: Version = match a.kernels.first() {
        Some(Target::Vm(v)) => *v,
        Some(Target::Host) => crate::bail!("selftest needs a VM kernel"),
        None => "7.3.4".parse().expect("version parses"),
    };
    let ws = Workspace::locate()?;
    let dir = a
        .dir
        .clone()
        .unwrap_or_else(|| runner::kernel_dir(&ws.root));
    let (_, image) = runner::resolve_kernel(&dir, &v)?;
    let cfg = vm_config(a)?;
    let mut short = cfg.clone();
    short.timeout = Duration::from_secs(a.timeout.unwrap_or(12));
    type Check = fn(&Outcome) -> bool;
    let checks: [(&str, &str, &VmConfig, Check); 3] = [
        (
            "exit status 3 propagates",
            "echo payload; exit 3",
            &cfg,
            |o| *o == Outcome::Exited(3),
        ),
        (
            "host-side timeout kills a hung guest",
            "sleep 100000",
            &short,
            |o| matches!(o, Outcome::Timeout(_)),
        ),
        (
            "guest kernel panic is reported as a crash",
            "echo 1 > /proc/sys/kernel/sysrq; echo c > /proc/sysrq-trigger; sleep 100000",
            &cfg,
            |o| matches!(o, Outcome::Crashed(w) if w.contains("Kernel panic")),
        ),
    ];
    let mut bad = Vec::new();
    for (what, script, cfg, ok) in checks {
        let t = Instant::now();
        let boot = boot_script(cfg, &image, script, &[])?;
        let pass = ok(&boot.outcome);
        println!(
            "selftest {}: {what}: {} -> {} ({:.1} s)",
            if pass { "ok" } else { "FAILED" },
            script,
            boot.outcome.describe(),
            t.elapsed().as_secs_f64()
        );
        if !pass {
            bad.push(what);
        }
    }
    if !bad.is_empty() {
        crate::bail!("runner selftest failed: {}", bad.join("; "));
    }
    Ok(())
}
