//! Benchmark: how long `include_signed_skel!`'s expansion takes, in process, per object.
//! Not a test: it only measures. See BENCHMARKS.md ("Macro expansion").
//!
//! ```text
//! cargo bench -p bpfsign-macros-core --bench expand
//! ```
//!
//! env: `BPFSIGN_BENCH_RUNS` (runs per object, default 30), `BPFSIGN_BENCH_EXPAND` (comma-separated
//! object paths relative to the repository root; default: the hello and largest fixtures and the
//! bench objects `tests/bench/fixtures/{many,corebtf}.bpf.o`).
//!
//! Per object, alternating between the objects in every round, it times [`expand_with`] of
//! `include_signed_skel!("<object>", key = env!("BPF_KEY"))` with TEST-ONLY key A (parse,
//! generate four loaders, sign three, verify every signature, emit the Rust code) and
//! `to_string()` of the resulting tokens (what handing them to rustc costs at least), and the
//! expansion's main steps on their own with the generator library: parse + generate (four
//! loaders), signing (three RSA-2048 signatures) and verification of the signed artifact. It
//! prints medians, p90 and min-max in ms. Run it with `--profile dev` to see what the
//! proc-macro costs inside `cargo check`/`cargo build`, which build proc-macros unoptimised.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

use bpfsign_gen::artifact::Artifact;
use bpfsign_gen::sign::{Certificate, Signer};
use bpfsign_gen::{generate, parse_object, GenOptions};
use bpfsign_macros_core::{expand_with, EnvLookup};
use proc_macro2::TokenStream;

struct Env(HashMap<String, String>);

impl EnvLookup for Env {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn stats(v: &mut [f64]) -> (f64, f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let p90 = v[(n * 9).div_ceil(10).max(1) - 1];
    (median, p90, v[0], v[n - 1])
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let runs: usize = std::env::var("BPFSIGN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .max(1);
    let objects = std::env::var("BPFSIGN_BENCH_EXPAND").unwrap_or_else(|_| {
        "tests/fixtures/obj/hello.bpf.o,tests/fixtures/obj/largest.bpf.o,\
         tests/bench/fixtures/many.bpf.o,tests/bench/fixtures/corebtf.bpf.o"
            .to_string()
    });
    let key = root.join("tests/fixtures/keys/TEST-ONLY-key-a.pem");
    let env = Env(HashMap::from([
        ("BPF_KEY".to_string(), key.display().to_string()),
        ("CARGO_MANIFEST_DIR".to_string(), root.display().to_string()),
    ]));
    let objects: Vec<(String, u64, TokenStream)> = objects
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|rel| {
            let size = std::fs::metadata(root.join(rel))
                .unwrap_or_else(|e| panic!("{rel}: {e}"))
                .len();
            let input = TokenStream::from_str(&format!("{rel:?}, key = env!(\"BPF_KEY\")"))
                .expect("macro input tokens");
            (rel.to_string(), size, input)
        })
        .collect();
    let mut expand: Vec<Vec<f64>> = vec![Vec::new(); objects.len()];
    let mut text: Vec<Vec<f64>> = vec![Vec::new(); objects.len()];
    let mut out_len = vec![0usize; objects.len()];
    let mut steps: Vec<[Vec<f64>; 3]> = vec![Default::default(); objects.len()];
    let signer = Signer::from_pem_file(&key).expect("TEST-ONLY key A");
    // One warm-up round, then `runs` measured rounds over all objects.
    for round in 0..=runs {
        for (i, (rel, _, input)) in objects.iter().enumerate() {
            let t0 = Instant::now();
            let tokens = expand_with(input.clone(), &env)
                .unwrap_or_else(|e| panic!("expanding {rel} failed: {e}"));
            let t1 = Instant::now();
            let s = tokens.to_string();
            let t2 = Instant::now();
            out_len[i] = s.len();
            std::hint::black_box(s);
            let elf = std::fs::read(root.join(rel)).expect("object");
            let t3 = Instant::now();
            let name = rel.rsplit('/').next().unwrap_or(rel);
            let parsed = parse_object(name, &elf).expect("parse");
            let generated = generate(&parsed, &GenOptions::default()).expect("generate");
            let t4 = Instant::now();
            let art = Artifact::from_generated(generated, Some(&signer)).expect("sign");
            let t5 = Instant::now();
            let der = art
                .certificate
                .as_deref()
                .expect("signed artifact has a certificate");
            let cert = Certificate::from_bytes(der, "cert").expect("certificate");
            art.verify(&cert).expect("verify");
            let t6 = Instant::now();
            if round > 0 {
                let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
                expand[i].push(ms(t1 - t0));
                text[i].push(ms(t2 - t1));
                steps[i][0].push(ms(t4 - t3));
                steps[i][1].push(ms(t5 - t4));
                steps[i][2].push(ms(t6 - t5));
            }
        }
    }
    println!("runs per object: {runs} (after one warm-up; objects alternate every round); ms");
    println!();
    println!("| object | size (B) | expansion median | p90 | min-max | tokens to_string | expansion text (B) | of which: parse+generate | sign | verify |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (i, (rel, size, _)) in objects.iter().enumerate() {
        let (m, p90, lo, hi) = stats(&mut expand[i]);
        let (tm, _, _, _) = stats(&mut text[i]);
        let [g, sg, v] = &mut steps[i];
        let (g, sg, v) = (stats(g).0, stats(sg).0, stats(v).0);
        println!(
            "| {rel} | {size} | {m:.2} | {p90:.2} | {lo:.2}-{hi:.2} | {tm:.2} | {} | {g:.2} | {sg:.2} | {v:.2} |",
            out_len[i]
        );
    }
}
