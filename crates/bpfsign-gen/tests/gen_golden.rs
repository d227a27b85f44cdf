//! Generator-only byte-exactness: data blob and loaders of every fixture against the goldens of
//! the reference bpftools (`tests/fixtures/golden`), plus the P1 relationship checks:
//! bpfsign P1 = bpfsign P1b without the 5-instruction excl check, and bpfsign P1 differs from
//! bpftool-p1 only by the check-block jump offsets and the ctx overrides.

use std::path::PathBuf;

use bpfsign_gen::emit::{CheckBlock, LoaderConfig};
use bpfsign_gen::insn::{decode, disasm, Insn};
use bpfsign_gen::{generate, generate_with_config, parse_object, GenOptions, Protocol};
use bpfsign_test_support::{fixtures, read};

/// `(stem, object, name)` of every line of `golden/index.tsv`.
fn fixtures_list() -> Vec<(String, PathBuf, String)> {
    bpfsign_test_support::golden::fixture_list()
        .into_iter()
        .map(|f| (f.stem, f.object, f.name))
        .collect()
}

/// Readable diff of two instruction streams around the first difference.
fn insn_diff(expected: &[u8], actual: &[u8]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let (e, a) = (decode(expected), decode(actual));
    let first = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let lo = first.saturating_sub(4);
    let de = disasm(&e[lo..(first + 6).min(e.len())]);
    let da = disasm(&a[lo..(first + 6).min(a.len())]);
    Some(format!(
        "{} vs {} insns, first difference at {first} (window from {lo})\n  bpftool:\n    {}\n  bpfsign:\n    {}",
        e.len(),
        a.len(),
        de.join("\n    "),
        da.join("\n    ")
    ))
}

fn byte_diff(expected: &[u8], actual: &[u8]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let first = expected
        .iter()
        .zip(actual)
        .position(|(x, y)| x != y)
        .unwrap_or(expected.len().min(actual.len()));
    let w = |b: &[u8]| {
        b[first.saturating_sub(8)..(first + 16).min(b.len())]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    Some(format!(
        "{} vs {} bytes, first difference at {first}: {} vs {}",
        expected.len(),
        actual.len(),
        w(expected),
        w(actual)
    ))
}

#[test]
fn all_fixtures_byte_identical_to_bpftool() {
    let mut fails = Vec::new();
    for (stem, obj_path, name) in fixtures_list() {
        let g = fixtures().join("golden").join(&stem);
        let file = obj_path.file_name().unwrap().to_string_lossy().into_owned();
        let obj = match parse_object(&file, &read(&obj_path)) {
            Ok(o) => o,
            Err(e) => {
                fails.push(format!("{stem}: parse: {e}"));
                continue;
            }
        };
        let opts = GenOptions {
            name: Some(name),
            ..Default::default()
        };
        let out = match generate(&obj, &opts) {
            Ok(o) => o,
            Err(e) => {
                fails.push(format!("{stem}: generate: {e}"));
                continue;
            }
        };
        if let Some(d) = byte_diff(&read(&g.join("data.bin")), &out.data) {
            fails.push(format!("{stem} data: {d}"));
        }
        for (p, f) in [
            (Protocol::Unsigned, "unsigned.insns"),
            (Protocol::P1b, "p1b.insns"),
            (Protocol::P2, "p2.insns"),
        ] {
            if let Some(d) = insn_diff(&read(&g.join(f)), out.loader(p).unwrap()) {
                fails.push(format!("{stem} {f}: {d}"));
            }
        }
        let (p1c, data) =
            generate_with_config(&obj, &opts, &LoaderConfig::bpftool_p1_compat()).unwrap();
        if let Some(d) = insn_diff(&read(&g.join("p1-libbpf170.insns")), &p1c) {
            fails.push(format!("{stem} p1-libbpf170.insns: {d}"));
        }
        assert_eq!(data, out.data, "{stem}: blob depends on the loader config");
    }
    assert!(
        fails.is_empty(),
        "{} mismatches:\n{}",
        fails.len(),
        fails.join("\n\n")
    );
}

/// Check-block positions: insns index of the first instruction after the cleanup `exit`.
fn check_block_start(insns: &[Insn]) -> usize {
    insns.iter().position(|i| i.code == 0x95).unwrap() + 1
}

#[test]
fn p1_is_p1b_without_excl_check_and_differs_from_bpftool_p1_only_as_documented() {
    for (stem, obj_path, name) in fixtures_list() {
        let file = obj_path.file_name().unwrap().to_string_lossy().into_owned();
        let obj = parse_object(&file, &read(&obj_path)).unwrap();
        let opts = GenOptions {
            name: Some(name),
            ..Default::default()
        };
        let out = generate(&obj, &opts).unwrap();
        let p1 = decode(out.loader(Protocol::P1).unwrap());
        let p1b = decode(out.loader(Protocol::P1b).unwrap());
        let p2 = decode(out.loader(Protocol::P2).unwrap());
        let s = check_block_start(&p1);
        // P1b = P1 with 5 more insns (ld_imm64 r1; r2 = *(u32 *)(r1 + 32); r7 = -EINVAL; if r2 != 1) at s.
        assert_eq!(p1b.len(), p1.len() + 5, "{stem}");
        assert_eq!(p1b[s].code, 0x18, "{stem}");
        assert_eq!((p1b[s + 2].code, p1b[s + 2].off), (0x61, 32), "{stem}");
        assert_eq!((p1b[s + 4].code, p1b[s + 4].imm), (0x55, 1), "{stem}");
        // Outside the check block, P1, P1b and P2 are identical apart from jump offsets that
        // cross the block; compare with jumps masked.
        let mask = |v: &[Insn]| {
            v.iter()
                .map(|i| Insn {
                    off: if i.code & 7 == 5 { 0 } else { i.off },
                    ..*i
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(mask(&p1[s + 28..]), mask(&p2[s..]), "{stem}: P1 tail != P2");
        assert_eq!(
            mask(&p1b[s + 33..]),
            mask(&p2[s..]),
            "{stem}: P1b tail != P2"
        );
        assert_eq!(&p1[..s], &p2[..s], "{stem}: prologue/cleanup differ");
        // Every check-block JNE of P1 lands exactly on the cleanup label (insn 8 onwards: label =
        // index after the initial JA).
        let label = p1.iter().position(|i| i.code == 0x05).unwrap() + 1;
        for (k, i) in p1[s..s + 28].iter().enumerate() {
            if i.code == 0x5d {
                assert_eq!(
                    (s + k + 1) as i64 + i.off as i64,
                    label as i64,
                    "{stem}: jne lands off label"
                );
            }
        }
        // bpftool-p1 = P1 with the 1.7.0 offsets (+1) and the ctx overrides.
        let compat = LoaderConfig {
            ctx_overrides: false,
            ..LoaderConfig::bpftool_p1_compat()
        };
        assert_eq!(compat.check_block, CheckBlock::Sha);
        let (jb, _) = generate_with_config(&obj, &opts, &compat).unwrap();
        let jb = decode(&jb);
        assert_eq!(jb.len(), p1.len(), "{stem}");
        for (k, (a, b)) in p1.iter().zip(&jb).enumerate() {
            if a != b {
                assert!(
                    k >= s && k < s + 28 && a.code == 0x5d && b.off == a.off + 1,
                    "{stem}: unexpected difference at {k}"
                );
            }
        }
        let (full, _) =
            generate_with_config(&obj, &opts, &LoaderConfig::bpftool_p1_compat()).unwrap();
        let golden = read(
            &fixtures()
                .join("golden")
                .join(&stem)
                .join("p1-libbpf170.insns"),
        );
        assert_eq!(full, golden, "{stem}: compat config != bpftool-p1");
        let unsigned = decode(out.loader(Protocol::Unsigned).unwrap());
        assert_eq!(
            unsigned.len(),
            p2.len() + (decode(&full).len() - jb.len()),
            "{stem}: overrides size"
        );
    }
}
