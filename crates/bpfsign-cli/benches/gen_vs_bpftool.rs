//! Benchmark: `bpfsign gen` against `bpftool-p2 gen skeleton -L -S`, on the same objects and key,
//! in one run, reported as a ratio (goal ≤ 1.0×). Not a timed test: it only measures.
//!
//! ```text
//! cargo bench -p bpfsign-build --bench gen_vs_bpftool
//! ```
//!
//! env: `BPFSIGN_REFERENCE_BIN` (dir with `bpftool-p2`; default `../shared/reference/bin` relative
//! to the repo root), `BPFSIGN_BENCH_RUNS` (runs per tool and object, default 30),
//! `BPFSIGN_BENCH_OBJECTS` (comma-separated fixture stems, default hello,maps,kfunc,largest; an
//! entry with a `/` is an object path relative to the repository root, e.g.
//! `tests/bench/fixtures/many.bpf.o`).
//!
//! Peak memory: after the timed runs, each tool runs `BPFSIGN_BENCH_MEM_RUNS` more times (default
//! 5, alternating) under GNU time (`/usr/bin/time -f %M`, maximum resident set size); the
//! median is reported. Without `/usr/bin/time` the memory columns show `-`.
//!
//! Both tools run as processes with the same TEST-ONLY RSA-2048 key, alternating, output to a
//! temporary directory. bpfsign generates four loaders (unsigned, P1, P1b, P2) and signs three;
//! bpftool-p2 generates one loader and signs it once. The in-process library time
//! (`parse_object` + `generate` + `Artifact::from_generated` + `to_bytes`) is shown as well.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bpfsign_gen::artifact::Artifact;
use bpfsign_gen::sign::Signer;
use bpfsign_gen::{generate, parse_object, GenOptions};

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn run(cmd: &mut Command, what: &str) -> Duration {
    let start = Instant::now();
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output();
    let took = start.elapsed();
    match out {
        Ok(o) if o.status.success() => took,
        Ok(o) => {
            eprintln!("{what} failed: {}", String::from_utf8_lossy(&o.stderr));
            std::process::exit(1)
        }
        Err(e) => {
            eprintln!("{what}: cannot run: {e}");
            std::process::exit(1)
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; no other arguments are used.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fixtures = root.join("tests/fixtures");
    let reference = std::env::var_os("BPFSIGN_REFERENCE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/reference/bin"));
    let bpftool = reference.join("bpftool-p2");
    if !bpftool.is_file() {
        eprintln!(
            "{}: not found; set BPFSIGN_REFERENCE_BIN to the dir holding bpftool-p2",
            bpftool.display()
        );
        std::process::exit(1);
    }
    let runs: usize = std::env::var("BPFSIGN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .max(1);
    let stems = std::env::var("BPFSIGN_BENCH_OBJECTS")
        .unwrap_or_else(|_| "hello,maps,kfunc,largest".to_string());
    let bpfsign = Path::new(env!("CARGO_BIN_EXE_bpfsign"));
    let key = fixtures.join("keys/TEST-ONLY-key-a.pem");
    let cert = fixtures.join("keys/TEST-ONLY-key-a.der");
    let tmp = std::env::temp_dir().join(format!("bpfsign-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let signer = Signer::from_pem_file(&key).expect("TEST-ONLY key");

    println!("runs per tool and object: {runs} (alternating); times are medians in ms");
    println!();
    let mem_runs: usize = std::env::var("BPFSIGN_BENCH_MEM_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let gnu_time = Path::new("/usr/bin/time");
    println!("| object | size (B) | bpfsign gen | bpftool-p2 gen skeleton -L -S | ratio bpfsign/bpftool | bpfsign library (in-process) | peak RSS bpfsign (KiB) | peak RSS bpftool (KiB) | RSS ratio |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for entry in stems.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (obj, stem) = if entry.contains('/') {
            let stem = Path::new(entry)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(entry)
                .trim_end_matches(".bpf.o")
                .to_string();
            (root.join(entry), stem)
        } else {
            (
                fixtures.join("obj").join(format!("{entry}.bpf.o")),
                entry.to_string(),
            )
        };
        let stem = stem.as_str();
        let name = stem.trim_end_matches(".gcc");
        let size = std::fs::metadata(&obj)
            .map(|m| m.len())
            .unwrap_or_else(|e| {
                eprintln!("{}: {e}", obj.display());
                std::process::exit(1)
            });
        let out = tmp.join(format!("{stem}.skel"));
        let (mut ours, mut theirs, mut lib) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..runs + 1 {
            // Remove the artifact so every run really writes it (write_if_changed would skip).
            let _ = std::fs::remove_file(&out);
            let a = run(
                Command::new(bpfsign)
                    .arg("gen")
                    .arg(&obj)
                    .arg("--key")
                    .arg(&key)
                    .args(["--name", name, "-o"])
                    .arg(&out),
                "bpfsign gen",
            );
            let b = run(
                Command::new(&bpftool)
                    .args(["gen", "skeleton", "-L", "-S", "-k"])
                    .arg(&key)
                    .arg("-i")
                    .arg(&cert)
                    .arg(&obj)
                    .args(["name", name]),
                "bpftool-p2 gen skeleton",
            );
            let start = Instant::now();
            let elf = std::fs::read(&obj).expect("object");
            let parsed = parse_object(&format!("{stem}.bpf.o"), &elf).expect("parse");
            let opts = GenOptions {
                name: Some(name.to_string()),
                ..Default::default()
            };
            let generated = generate(&parsed, &opts).expect("generate");
            let bytes = Artifact::from_generated(generated, Some(&signer))
                .expect("artifact")
                .to_bytes();
            std::hint::black_box(bytes);
            let c = start.elapsed();
            if i > 0 {
                // run 0 warms caches
                ours.push(a);
                theirs.push(b);
                lib.push(c);
            }
        }
        let (a, b, c) = (median(&mut ours), median(&mut theirs), median(&mut lib));
        // Peak memory, alternating, under GNU time (not part of the timed runs above).
        let (mut rss_ours, mut rss_theirs) = (Vec::new(), Vec::new());
        if gnu_time.is_file() {
            let rss_file = tmp.join("rss");
            let measure = |args: Vec<std::ffi::OsString>, what: &str| -> Option<u64> {
                let mut cmd = Command::new(gnu_time);
                cmd.arg("-f").arg("%M").arg("-o").arg(&rss_file).args(args);
                run(&mut cmd, what);
                std::fs::read_to_string(&rss_file).ok()?.trim().parse().ok()
            };
            for _ in 0..mem_runs {
                let _ = std::fs::remove_file(&out);
                let ours_args: Vec<std::ffi::OsString> = vec![
                    bpfsign.into(),
                    "gen".into(),
                    obj.clone().into(),
                    "--key".into(),
                    key.clone().into(),
                    "--name".into(),
                    name.into(),
                    "-o".into(),
                    out.clone().into(),
                ];
                rss_ours.extend(measure(ours_args, "bpfsign gen (memory)"));
                let theirs_args: Vec<std::ffi::OsString> = vec![
                    bpftool.clone().into(),
                    "gen".into(),
                    "skeleton".into(),
                    "-L".into(),
                    "-S".into(),
                    "-k".into(),
                    key.clone().into(),
                    "-i".into(),
                    cert.clone().into(),
                    obj.clone().into(),
                    "name".into(),
                    name.into(),
                ];
                rss_theirs.extend(measure(theirs_args, "bpftool-p2 (memory)"));
            }
        }
        let med = |v: &mut Vec<u64>| {
            v.sort_unstable();
            v.get(v.len() / 2).copied()
        };
        let (ro, rt) = (med(&mut rss_ours), med(&mut rss_theirs));
        let show = |v: Option<u64>| v.map_or("-".to_string(), |k| k.to_string());
        let rss_ratio = match (ro, rt) {
            (Some(o), Some(t)) if t > 0 => format!("{:.2}×", o as f64 / t as f64),
            _ => "-".to_string(),
        };
        println!(
            "| {stem} | {size} | {:.2} | {:.2} | {:.2}× | {:.2} | {} | {} | {rss_ratio} |",
            ms(a),
            ms(b),
            a.as_secs_f64() / b.as_secs_f64(),
            ms(c),
            show(ro),
            show(rt)
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
