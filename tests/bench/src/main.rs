//! `bpfsign-bench`: load+attach latency of the signed `hello` light skeleton (example-hello's
//! program, signed at build time with `key = env!("BPF_KEY")`, protocol picked at run time)
//! against a C loader built from a reference bpftool's light skeleton (`c/lskel_bench.c`).
//!
//! ```text
//! bpfsign-bench object > hello.bpf.o        the embedded BPF object, for bpftool gen skeleton
//! bpfsign-bench loop [-n N] [-w W] [--stages] [--release R]
//!                                           in-process: W + N times load, attach, destroy; prints
//!                                           `sample LOAD_NS ATTACH_NS DESTROY_NS` per measured run
//!                                           (with --stages also the first load's `stage NAME NS`
//!                                           lines and `probe NS`, their `probe:*` sum; with
//!                                           --release the loads take the kernel release to be R)
//! bpfsign-bench compare --c LOADER --cert DER [-n N] [--rounds R] [-w W] [--processes P] [--label L]
//!                       [--refused-release R]
//! bpfsign-bench spawn [-n N] -- 'CMD [ARG...]'...
//!                                           spawn-to-exit time of each command, round-robin
//! ```
//!
//! `compare` registers the certificate once (in a new session keyring that its children
//! inherit), then runs `R` rounds; each round spawns `bpfsign-bench loop -n N/R -w W` and
//! `LOADER N/R W` (the C bench, same output format), alternating which goes first. Every sample
//! is timed inside its process with `CLOCK_MONOTONIC` (Rust `Instant`, C `clock_gettime`).
//! Then it times `P` whole processes of each (one load+attach+destroy, no warm-up; wall time
//! from spawn to exit, alternating; the Rust child reports the stages of its first load, of
//! which the `probe:*` ones are protocol probing),
//! `P` whole processes of each that load nothing, and `P` uncached runs of the runtime's
//! protocol probe. With `--refused-release R` also `P` fresh processes of each whose Rust side
//! takes the release to be `R`, a release of another protocol: its first try is refused and the
//! exact probe decides (checked per process). It prints a markdown table with median, p90, min and max (ms) and the Rust/C
//! ratios.
//!
//! Benchmark tool, not a test: see BENCHMARKS.md and tests/bench/run.sh.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use bpfsign_runtime::{CertTarget, Keyring, Protocol};

/// The signed skeleton, with the TEST-ONLY key A by default (`BPF_KEY` in .cargo/config.toml):
/// bpfsign's build warning for that key (a `deprecated` lint warning) is allowed knowingly.
#[allow(deprecated)]
mod skel {
    bpfsign_macros::include_signed_skel!("hello.bpf.o", key = env!("BPF_KEY"));
}
use skel::*;

/// The BPF object the skeleton above was made from (written by build.rs).
const OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hello.bpf.o"));

const USAGE: &str = "\
usage: bpfsign-bench object > hello.bpf.o
       bpfsign-bench loop [-n N] [-w W] [--stages] [--release R]
       bpfsign-bench compare --c LOADER --cert DER [-n N] [--rounds R] [-w W] [--processes P] [--label L]
                             [--refused-release R]
       bpfsign-bench spawn [-n N] -- 'CMD [ARG...]'...";

/// One measured load+attach+destroy, in nanoseconds per phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sample {
    load: u64,
    attach: u64,
    destroy: u64,
}

impl Sample {
    /// From the instants before the load (`t0`), after it (`t1`), before the attach (`t1b`)
    /// and after it (`t2`), the destroy ending now.
    fn timed(t0: Instant, t1: Instant, t1b: Instant, t2: Instant) -> Sample {
        let end = Instant::now();
        Sample {
            load: (t1 - t0).as_nanos() as u64,
            attach: (t2 - t1b).as_nanos() as u64,
            destroy: (end - t2).as_nanos() as u64,
        }
    }

    fn load_attach(&self) -> u64 {
        self.load + self.attach
    }
    fn total(&self) -> u64 {
        self.load + self.attach + self.destroy
    }
}

/// Parses the `sample L A D` lines of a `loop` (Rust or C) run; other lines are ignored.
fn parse_samples(out: &str) -> Result<Vec<Sample>, String> {
    let mut v = Vec::new();
    for line in out.lines() {
        let Some(rest) = line.strip_prefix("sample ") else {
            continue;
        };
        let n: Vec<u64> = rest
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("bad sample line {line:?}: {e}"))?;
        let [load, attach, destroy] = n[..] else {
            return Err(format!("bad sample line {line:?}: want 3 numbers"));
        };
        v.push(Sample {
            load,
            attach,
            destroy,
        });
    }
    Ok(v)
}

/// Median, 90th percentile (nearest rank), minimum and maximum of a set of durations (ns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stats {
    median: u64,
    p90: u64,
    min: u64,
    max: u64,
}

/// Nearest-rank percentile `p` (0 < p <= 100) of sorted, non-empty `v`.
fn percentile(v: &[u64], p: u64) -> u64 {
    let rank = (v.len() as u64 * p).div_ceil(100).max(1) as usize;
    v[rank - 1]
}

fn stats(values: impl IntoIterator<Item = u64>) -> Option<Stats> {
    let mut v: Vec<u64> = values.into_iter().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    };
    Some(Stats {
        median,
        p90: percentile(&v, 90),
        min: v[0],
        max: v[n - 1],
    })
}

/// `ns` as milliseconds with three decimals.
fn ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("{:.3}", a as f64 / b as f64)
    }
}

/// `loop`: W warm-up + N measured runs of load, attach, destroy in this process. With `stages`,
/// the stages the runtime recorded during the first load (its protocol selection — a first try
/// or the probe — and every `bpf(2)` call) are printed as `stage NAME NS` lines, and their
/// `probe:*` part (probing, not loading) as `probe NS`. With `release`, every load is the
/// runtime's as if `uname(2)` said `release` (which changes only the first try of the process).
fn run_loop(
    n: usize,
    warmup: usize,
    stages_wanted: bool,
    release: Option<&str>,
) -> Result<(), String> {
    // Stages recorded before (none, unless the runtime ran something) are not this run's.
    let _ = bpfsign_runtime::take_stage_timings();
    let mut stages: Vec<(String, u64)> = Vec::new();
    let mut samples = Vec::with_capacity(n);
    let mut protocol = None;
    for i in 0..warmup + n {
        let mut after_load = || {
            if stages_wanted && i == 0 {
                stages.extend(
                    bpfsign_runtime::take_stage_timings()
                        .into_iter()
                        .map(|s| (s.stage.to_string(), s.took.as_nanos() as u64)),
                );
            }
        };
        let (sample, p) = match release {
            None => cycle(&mut after_load)?,
            Some(release) => cycle_with_release(release, &mut after_load)?,
        };
        protocol.get_or_insert(p);
        if i >= warmup {
            samples.push(sample);
        }
    }
    let mut out = std::io::stdout().lock();
    let w = |e: std::io::Error| e.to_string();
    if let Some(p) = protocol {
        writeln!(out, "protocol = {p}").map_err(w)?;
    }
    if stages_wanted {
        let probing: u64 = stages
            .iter()
            .filter(|(name, _)| name.starts_with("probe:"))
            .map(|(_, ns)| ns)
            .sum();
        writeln!(out, "probe {probing}").map_err(w)?;
        for (name, ns) in &stages {
            writeln!(out, "stage {name} {ns}").map_err(w)?;
        }
    }
    for s in &samples {
        writeln!(out, "sample {} {} {}", s.load, s.attach, s.destroy).map_err(w)?;
    }
    Ok(())
}

/// Minor page faults and user+system CPU time (ns) of all waited-for children so far.
fn children_usage() -> (u64, u64) {
    // SAFETY: an all-zero `rusage` is valid; getrusage only writes into it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) } != 0 {
        return (0, 0);
    }
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    (ru.ru_minflt as u64, ns(ru.ru_utime) + ns(ru.ru_stime))
}

/// A load error with the runtime's guidance.
fn failed(what: &str, e: bpfsign_runtime::Error) -> String {
    format!("{what}: {e}\nguidance: {}", e.guidance())
}

/// One load, attach and destroy of the typed skeleton, timed per phase; `after_load` runs
/// between load and attach, outside both.
fn cycle(after_load: &mut dyn FnMut()) -> Result<(Sample, Protocol), String> {
    let t0 = Instant::now();
    let skel = Hello::builder()
        .keyring(Keyring::Session)
        .load()
        .map_err(|e| failed("load", e))?;
    let t1 = Instant::now();
    after_load();
    let t1b = Instant::now();
    let links = skel.attach().map_err(|e| failed("attach", e))?;
    let t2 = Instant::now();
    let protocol = skel.protocol();
    drop(links);
    drop(skel);
    Ok((Sample::timed(t0, t1, t1b, t2), protocol))
}

/// [`cycle`] through the runtime's untyped API, loading as if the kernel release were
/// `release` (`load_with_kernel_release`), with the checks the typed `load()` makes (every
/// program and map handle) and `attach()`'s one link (hello has one program).
fn cycle_with_release(
    release: &str,
    after_load: &mut dyn FnMut(),
) -> Result<(Sample, Protocol), String> {
    let spec = Hello::spec();
    let t0 = Instant::now();
    let builder = Hello::builder().keyring(Keyring::Session);
    let skel = bpfsign_runtime::load_with_kernel_release(spec, builder.options(), release)
        .map_err(|e| failed("load", e))?;
    for i in 0..spec.progs.len() {
        skel.program(i).map_err(|e| failed("load", e))?;
    }
    for i in 0..spec.maps.len() {
        skel.map(i).map_err(|e| failed("load", e))?;
    }
    let t1 = Instant::now();
    after_load();
    let t1b = Instant::now();
    let link = skel.attach_prog(0).map_err(|e| failed("attach", e))?;
    let t2 = Instant::now();
    let protocol = skel.protocol();
    drop(link);
    drop(skel);
    Ok((Sample::timed(t0, t1, t1b, t2), protocol))
}

/// Whether the stages of a `loop --stages` run show a refused first try: a `BPF_PROG_LOAD` (the
/// first try) before the junk-signature probe's own load, which is recorded just before the
/// probe's stage.
fn first_try_was_refused(out: &str) -> bool {
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("stage "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    names
        .iter()
        .position(|&n| n == "probe:junk-signature")
        .is_some_and(|i| names[..i].iter().filter(|&&n| n == "bpf:PROG_LOAD").count() >= 2)
}

/// Sums the `stage NAME NS` lines of a `loop --stages` run per stage name, in first-seen order.
fn parse_stages(out: &str) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = Vec::new();
    for line in out.lines() {
        let Some((name, ns)) = line
            .strip_prefix("stage ")
            .and_then(|r| r.rsplit_once(' '))
            .and_then(|(n, ns)| Some((n, ns.parse::<u64>().ok()?)))
        else {
            continue;
        };
        match v.iter_mut().find(|(n, _)| n == name) {
            Some((_, sum)) => *sum += ns,
            None => v.push((name.to_string(), ns)),
        }
    }
    v
}

/// Runs `cmd`, returns its stdout; fails with its output when it exits non-zero.
fn run_child(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(stdout)
}

/// Options of `compare`.
struct Compare {
    c_loader: PathBuf,
    cert: PathBuf,
    iterations: usize,
    rounds: usize,
    warmup: usize,
    processes: usize,
    label: String,
    /// With `--refused-release R`: also `processes` fresh Rust processes whose first load
    /// believes the kernel release is `R` (one of another protocol, so its first try is
    /// refused and the exact probe decides), against as many C ones.
    refused_release: Option<String>,
}

/// Which implementation a child runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Rust,
    C,
}

impl Side {
    /// The order of the two sides in round `i`: Rust first in even rounds, C first in odd ones.
    fn alternating(i: usize) -> [Side; 2] {
        if i.is_multiple_of(2) {
            [Side::Rust, Side::C]
        } else {
            [Side::C, Side::Rust]
        }
    }
}

impl Compare {
    fn command(
        &self,
        side: Side,
        n: usize,
        warmup: usize,
        stages: bool,
        release: Option<&str>,
    ) -> Result<Command, String> {
        Ok(match side {
            Side::Rust => {
                let exe = std::env::current_exe()
                    .map_err(|e| format!("cannot find this executable: {e}"))?;
                let mut c = Command::new(exe);
                c.args(["loop", "-n", &n.to_string(), "-w", &warmup.to_string()]);
                if stages {
                    c.arg("--stages");
                }
                if let Some(r) = release {
                    c.args(["--release", r]);
                }
                c
            }
            Side::C => {
                let mut c = Command::new(&self.c_loader);
                c.args([n.to_string(), warmup.to_string()]);
                c
            }
        })
    }

    fn run(&self) -> Result<(), String> {
        let cert = std::fs::read(&self.cert)
            .map_err(|e| format!("cannot read {}: {e}", self.cert.display()))?;
        bpfsign_runtime::join_new_session_keyring().map_err(|e| e.to_string())?;
        let reg = bpfsign_runtime::register_cert(&cert, CertTarget::Session)
            .map_err(|e| e.to_string())?;
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        println!("bench: label {}", self.label);
        println!("bench: kernel {}", release.trim());
        println!("bench: probe: {}", bpfsign_runtime::probe());
        println!(
            "bench: registered {} as key {} in a new session keyring (inherited by the children)",
            self.cert.display(),
            reg.key
        );
        println!("bench: C loader {}", self.c_loader.display());

        let per_round = self.iterations.div_ceil(self.rounds.max(1)).max(1);
        let mut rust = Vec::new();
        let mut c = Vec::new();
        let mut rust_protocol = String::new();
        for round in 0..self.rounds {
            for side in Side::alternating(round) {
                let out =
                    run_child(&mut self.command(side, per_round, self.warmup, false, None)?)?;
                let s = parse_samples(&out)?;
                if s.len() != per_round {
                    return Err(format!(
                        "expected {per_round} samples, got {}:\n{out}",
                        s.len()
                    ));
                }
                match side {
                    Side::Rust => {
                        if let Some(p) = out.lines().find_map(|l| l.strip_prefix("protocol = ")) {
                            rust_protocol = p.to_string();
                        }
                        rust.extend(s);
                    }
                    Side::C => c.extend(s),
                }
            }
        }

        // Whole processes: one load+attach+destroy each, no warm-up, wall time from spawn to
        // exit; the Rust child reports the stages of its first load. Then processes that
        // load nothing: the cost of starting the two programs.
        let mut rust_wall = Vec::new();
        let mut c_wall = Vec::new();
        let mut rust_cold = Vec::new();
        let mut c_cold = Vec::new();
        let mut rust_probe = Vec::new();
        let mut rust_empty = Vec::new();
        let mut c_empty = Vec::new();
        // Per cold process: minor faults and CPU time (from RUSAGE_CHILDREN deltas), and the
        // Rust child's stage timings.
        let (mut rust_faults, mut c_faults, mut rust_cpu, mut c_cpu) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut rust_stages: Vec<(String, Vec<u64>)> = Vec::new();
        for (n, stages) in [(1, true), (0, false)] {
            for i in 0..self.processes {
                for side in Side::alternating(i) {
                    let mut cmd = self.command(side, n, 0, stages, None)?;
                    let (f0, cpu0) = children_usage();
                    let t = Instant::now();
                    let out = run_child(&mut cmd)?;
                    let wall = t.elapsed().as_nanos() as u64;
                    let (f1, cpu1) = children_usage();
                    let (faults, cpu) = (f1.saturating_sub(f0), cpu1.saturating_sub(cpu0));
                    let s = parse_samples(&out)?;
                    if s.len() != n {
                        return Err(format!("expected {n} samples, got {}:\n{out}", s.len()));
                    }
                    match (side, n) {
                        (Side::Rust, 0) => rust_empty.push(wall),
                        (Side::C, 0) => c_empty.push(wall),
                        (Side::Rust, _) => {
                            rust_faults.push(faults);
                            rust_cpu.push(cpu);
                            for (name, ns) in parse_stages(&out) {
                                match rust_stages.iter_mut().find(|(n, _)| *n == name) {
                                    Some((_, v)) => v.push(ns),
                                    None => rust_stages.push((name, vec![ns])),
                                }
                            }
                            rust_wall.push(wall);
                            rust_cold.extend(s);
                            rust_probe.extend(
                                out.lines()
                                    .filter_map(|l| l.strip_prefix("probe "))
                                    .filter_map(|v| v.parse::<u64>().ok()),
                            );
                        }
                        (Side::C, _) => {
                            c_faults.push(faults);
                            c_cpu.push(cpu);
                            c_wall.push(wall);
                            c_cold.extend(s);
                        }
                    }
                }
            }
        }
        if rust_probe.len() != rust_cold.len() {
            return Err("the Rust child did not report its probe time".into());
        }
        // A failure here is reported after the tables, which it does not change.
        let refused = self
            .refused_release
            .as_deref()
            .map(|release| self.refused_first_tries(release, &rust_protocol));

        // The runtime's protocol probe, uncached (a fresh process pays it once, on its first load).
        let mut probe = Vec::new();
        for _ in 0..self.processes {
            let t = Instant::now();
            let p = bpfsign_runtime::probe_uncached();
            probe.push(t.elapsed().as_nanos() as u64);
            std::hint::black_box(p);
        }

        println!(
            "bench: rust protocol {rust_protocol}; {} samples each = {} rounds x {per_round} \
             (+{} warm-up per process), alternating order; {} whole processes each",
            rust.len(),
            self.rounds,
            self.warmup,
            self.processes
        );
        println!();
        println!(
            "| {} ({rust_protocol}) | Rust median | Rust p90 | Rust min-max | C median | C p90 | C min-max | ratio median | ratio p90 |",
            self.label
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        type Metric = fn(&Sample) -> u64;
        let rows: [(&str, Metric); 5] = [
            ("**load+attach**", Sample::load_attach),
            ("load", |s| s.load),
            ("attach", |s| s.attach),
            ("destroy", |s| s.destroy),
            ("load+attach+destroy", Sample::total),
        ];
        let row = |name: &str, r: Option<Stats>, c: Option<Stats>| {
            if let (Some(r), Some(c)) = (r, c) {
                println!(
                    "| {name} | {} | {} | {}-{} | {} | {} | {}-{} | {} | {} |",
                    ms(r.median),
                    ms(r.p90),
                    ms(r.min),
                    ms(r.max),
                    ms(c.median),
                    ms(c.p90),
                    ms(c.min),
                    ms(c.max),
                    ratio(r.median, c.median),
                    ratio(r.p90, c.p90)
                );
            }
        };
        for (name, f) in rows {
            row(name, stats(rust.iter().map(f)), stats(c.iter().map(f)));
        }
        let rust_only = |name: &str, r: Option<Stats>| {
            if let Some(r) = r {
                println!(
                    "| {name} | {} | {} | {}-{} | - | - | - | - | - |",
                    ms(r.median),
                    ms(r.p90),
                    ms(r.min),
                    ms(r.max)
                );
            }
        };
        row(
            "first load+attach in a fresh process (Rust: incl. protocol selection)",
            stats(rust_cold.iter().map(Sample::load_attach)),
            stats(c_cold.iter().map(Sample::load_attach)),
        );
        rust_only(
            "… of which protocol probing (Rust: its `probe:*` stages)",
            stats(rust_probe.iter().copied()),
        );
        row(
            "… first load+attach without the probing (bpf(2) calls of a refused first try stay in)",
            stats(
                rust_cold
                    .iter()
                    .zip(&rust_probe)
                    .map(|(s, p)| s.load_attach().saturating_sub(*p)),
            ),
            stats(c_cold.iter().map(Sample::load_attach)),
        );
        if let (Some(release), Some(Ok(r))) = (&self.refused_release, &refused) {
            row(
                &format!(
                    "first load+attach in a fresh process whose first try is refused \
                     (Rust: as if the release were {release}; C: again)"
                ),
                stats(r.rust.iter().map(Sample::load_attach)),
                stats(r.c.iter().map(Sample::load_attach)),
            );
            rust_only(
                "… of which protocol probing (Rust: its `probe:*` stages)",
                stats(r.probe.iter().copied()),
            );
        }
        row(
            "whole process, 1 load+attach+destroy (spawn to exit)",
            stats(rust_wall),
            stats(c_wall),
        );
        row(
            "whole process, no load (spawn to exit)",
            stats(rust_empty),
            stats(c_empty),
        );
        rust_only(
            "protocol probe, uncached, repeated in one process (Rust only)",
            stats(probe),
        );
        row(
            "whole process, 1 load+attach+destroy: user+sys CPU (RUSAGE_CHILDREN)",
            stats(rust_cpu),
            stats(c_cpu),
        );
        println!();
        // Page faults are counts, not times: their own small table.
        if let (Some(r), Some(c)) = (stats(rust_faults), stats(c_faults)) {
            println!("| {} minor page faults per whole process (1 load) | Rust median | Rust min-max | C median | C min-max | ratio |", self.label);
            println!("|---|---|---|---|---|---|");
            println!(
                "| minor faults | {} | {}-{} | {} | {}-{} | {} |",
                r.median,
                r.min,
                r.max,
                c.median,
                c.min,
                c.max,
                ratio(r.median, c.median)
            );
            println!();
        }
        if !rust_stages.is_empty() {
            println!("| {} cold stages, Rust (first load of a fresh process: protocol selection and bpf(2) calls) | median | p90 | min-max | processes |", self.label);
            println!("|---|---|---|---|---|");
            for (name, v) in rust_stages {
                let n = v.len();
                if let Some(s) = stats(v) {
                    println!(
                        "| {name} | {} | {} | {}-{} | {n} |",
                        ms(s.median),
                        ms(s.p90),
                        ms(s.min),
                        ms(s.max)
                    );
                }
            }
            println!();
        }
        println!("bench: times in ms");
        match refused {
            Some(Err(e)) => Err(format!("refused first tries: {e}")),
            _ => Ok(()),
        }
    }
}

/// What [`Compare::refused_first_tries`] measured: first load+attach of fresh processes.
struct RefusedFirstTries {
    /// Rust processes whose first try was refused.
    rust: Vec<Sample>,
    /// Their `probe:*` stages (the exact probe after the refusal), ns.
    probe: Vec<u64>,
    /// C processes, alternating with them.
    c: Vec<Sample>,
}

impl Compare {
    /// `processes` fresh Rust processes whose first load takes the kernel release to be
    /// `release`, alternating with as many C ones. Each Rust child must have run the exact
    /// probe (its first try was refused) and ended with `protocol`, the protocol of the
    /// normal runs.
    fn refused_first_tries(
        &self,
        release: &str,
        protocol: &str,
    ) -> Result<RefusedFirstTries, String> {
        let mut r = RefusedFirstTries {
            rust: Vec::new(),
            probe: Vec::new(),
            c: Vec::new(),
        };
        for i in 0..self.processes {
            for side in Side::alternating(i) {
                let rust = side == Side::Rust;
                let out = run_child(&mut self.command(side, 1, 0, rust, Some(release))?)?;
                let s = parse_samples(&out)?;
                if s.len() != 1 {
                    return Err(format!("expected 1 sample, got {}:\n{out}", s.len()));
                }
                if !rust {
                    r.c.extend(s);
                    continue;
                }
                if !first_try_was_refused(&out) {
                    return Err(format!(
                        "release {release}: no refused first try (a load, then the exact probe); \
                         pick a release of another protocol:\n{out}"
                    ));
                }
                let got = out.lines().find_map(|l| l.strip_prefix("protocol = "));
                if got != Some(protocol) {
                    return Err(format!(
                        "release {release}: loaded with protocol {got:?}, the normal runs with {protocol}"
                    ));
                }
                r.probe.extend(
                    out.lines()
                        .filter_map(|l| l.strip_prefix("probe "))
                        .filter_map(|v| v.parse::<u64>().ok()),
                );
                r.rust.extend(s);
                if r.probe.len() != r.rust.len() {
                    return Err(format!("release {release}: no probe time reported:\n{out}"));
                }
            }
        }
        Ok(r)
    }
}

/// `spawn`: wall time from spawn to exit of each command line (split at whitespace), `n` times
/// each after one warm-up, round-robin; prints a markdown table (ms).
fn run_spawn(n: usize, commands: &[String]) -> Result<(), String> {
    let argvs: Vec<Vec<&str>> = commands
        .iter()
        .map(|c| c.split_whitespace().collect::<Vec<_>>())
        .collect();
    if argvs.is_empty() || argvs.iter().any(Vec::is_empty) {
        return Err("spawn needs non-empty command lines".into());
    }
    let spawn = |argv: &[&str]| -> Result<u64, String> {
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..]);
        let t = Instant::now();
        run_child(&mut cmd)?;
        Ok(t.elapsed().as_nanos() as u64)
    };
    for argv in &argvs {
        spawn(argv)?;
    }
    let mut times = vec![Vec::with_capacity(n); argvs.len()];
    for round in 0..n {
        for j in 0..argvs.len() {
            let i = (round + j) % argvs.len();
            times[i].push(spawn(&argvs[i])?);
        }
    }
    println!("| command (spawn to exit) | median | p90 | min-max | runs |");
    println!("|---|---|---|---|---|");
    for (c, t) in commands.iter().zip(times) {
        if let Some(s) = stats(t) {
            println!(
                "| `{c}` | {} | {} | {}-{} | {n} |",
                ms(s.median),
                ms(s.p90),
                ms(s.min),
                ms(s.max)
            );
        }
    }
    println!("\nbench: times in ms");
    Ok(())
}

/// Parses `-n N`-style options: returns the value following `flag`.
fn value(it: &mut impl Iterator<Item = String>, flag: &str) -> Result<String, String> {
    it.next().ok_or_else(|| format!("{flag} needs a value"))
}

fn number(it: &mut impl Iterator<Item = String>, flag: &str) -> Result<usize, String> {
    let v = value(it, flag)?;
    v.parse().map_err(|_| format!("{flag}: not a number: {v}"))
}

fn main_inner() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("object") => std::io::stdout()
            .write_all(OBJECT)
            .map_err(|e| format!("writing the object: {e}")),
        Some("loop") => {
            let (mut n, mut w, mut stages, mut release) = (50, 1, false, None);
            while let Some(a) = args.next() {
                match a.as_str() {
                    "-n" | "--iterations" => n = number(&mut args, &a)?,
                    "-w" | "--warmup" => w = number(&mut args, &a)?,
                    "--stages" => stages = true,
                    "--release" => release = Some(value(&mut args, &a)?),
                    _ => return Err(format!("unknown argument {a}")),
                }
            }
            run_loop(n, w, stages, release.as_deref())
        }
        Some("spawn") => {
            let mut n = 50;
            let mut commands = Vec::new();
            while let Some(a) = args.next() {
                match a.as_str() {
                    "-n" | "--iterations" => n = number(&mut args, &a)?,
                    "--" => commands.extend(args.by_ref()),
                    _ => commands.push(a),
                }
            }
            run_spawn(n, &commands)
        }
        Some("compare") => {
            let mut c_loader = None;
            let mut cert = None;
            let mut cmp = Compare {
                c_loader: PathBuf::new(),
                cert: PathBuf::new(),
                iterations: 50,
                rounds: 10,
                warmup: 1,
                processes: 10,
                label: "hello".into(),
                refused_release: None,
            };
            while let Some(a) = args.next() {
                match a.as_str() {
                    "--c" => c_loader = Some(PathBuf::from(value(&mut args, &a)?)),
                    "--cert" => cert = Some(PathBuf::from(value(&mut args, &a)?)),
                    "-n" | "--iterations" => cmp.iterations = number(&mut args, &a)?,
                    "--rounds" => cmp.rounds = number(&mut args, &a)?.max(1),
                    "-w" | "--warmup" => cmp.warmup = number(&mut args, &a)?,
                    "--processes" => cmp.processes = number(&mut args, &a)?,
                    "--label" => cmp.label = value(&mut args, &a)?,
                    "--refused-release" => cmp.refused_release = Some(value(&mut args, &a)?),
                    _ => return Err(format!("unknown argument {a}")),
                }
            }
            cmp.c_loader = c_loader.ok_or("compare needs --c LOADER")?;
            cmp.cert = cert.ok_or("compare needs --cert DER")?;
            cmp.run()
        }
        _ => Err(String::new()),
    }
}

fn main() -> ExitCode {
    match main_inner() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.is_empty() {
                eprintln!("{USAGE}");
                ExitCode::from(2)
            } else {
                eprintln!("bpfsign-bench: {e}");
                ExitCode::from(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_parsed_and_bad_lines_rejected() {
        let out = "protocol = p2\nsample 1 2 3\nnoise\nsample 10 20 30\n";
        let s = parse_samples(out).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].load_attach(), 30);
        assert_eq!(s[1].total(), 60);
        assert!(parse_samples("sample 1 2\n").is_err());
        assert!(parse_samples("sample 1 x 3\n").is_err());
    }

    #[test]
    fn stats_use_nearest_rank_p90() {
        let s = stats((1..=10).rev()).unwrap();
        assert_eq!((s.median, s.p90, s.min, s.max), (5, 9, 1, 10));
        let s = stats([7, 1, 3]).unwrap();
        assert_eq!((s.median, s.p90), (3, 7));
        assert_eq!(stats(std::iter::empty()), None);
        assert_eq!(percentile(&[4], 90), 4);
    }

    #[test]
    fn embedded_object_is_the_bpf_elf() {
        assert_eq!(&OBJECT[..4], b"\x7fELF");
        assert_eq!(Hello::NAME, "hello");
    }
}
