//! The binary is signed with the key `BPF_KEY` names, at compile time, and the expansion
//! references the key file (`let _ = include_bytes!(…)` in a never-called function) only so
//! rustc tracks it. Check that no byte of the private key reaches the built `example-hello`:
//! neither the PEM text nor the DER key, while the signer's public SKID does (so the search
//! itself works). The crate's other build outputs (`deps/*.rlib`/`*.rmeta` and the incremental
//! cache) must not hold the key either: a `const` holding the bytes would put them there.

/// The key file the binary was signed with (as the macro saw it).
const KEY_PATH: &str = env!("BPF_KEY");

fn decode_base64(text: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in text.bytes().filter_map(val) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn key_path() -> std::path::PathBuf {
    let p = std::path::Path::new(KEY_PATH);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
    }
}

/// The PEM body lines (at least 16 characters) of the private key `BPF_KEY` names.
fn key_pem_lines() -> Vec<String> {
    let pem = std::fs::read_to_string(key_path()).expect("read the key BPF_KEY names");
    let body = pem
        .split_once("PRIVATE KEY-----")
        .and_then(|(_, rest)| rest.split_once("-----END"))
        .map(|(b, _)| b)
        .expect("BPF_KEY holds a PEM private key");
    let lines: Vec<String> = body
        .lines()
        .map(str::trim)
        .filter(|l| l.len() >= 16)
        .map(str::to_owned)
        .collect();
    assert!(lines.len() > 10, "an RSA-2048 key has more PEM lines");
    lines
}

/// The first of `needles` found in `haystack` (one pass, filtered on the first byte so it stays
/// fast in an unoptimised test build over megabytes of incremental cache).
fn find_any<'a>(haystack: &[u8], needles: &'a [String]) -> Option<&'a str> {
    let mut first = [false; 256];
    for n in needles {
        first[usize::from(n.as_bytes()[0])] = true;
    }
    for (i, &b) in haystack.iter().enumerate() {
        if first[usize::from(b)] {
            let rest = &haystack[i..];
            if let Some(n) = needles.iter().find(|n| rest.starts_with(n.as_bytes())) {
                return Some(n);
            }
        }
    }
    None
}

/// Every file under `dir`, recursively (an unreadable directory yields nothing).
fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn private_key_is_not_in_the_crate_metadata_or_incremental_cache() {
    // `<target>/<profile>/example-hello`: its `deps/` and `incremental/` are siblings.
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_example-hello"));
    let profile = binary.parent().expect("binary in a profile dir");
    let built = std::fs::metadata(binary)
        .and_then(|m| m.modified())
        .expect("binary mtime");
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(profile.join("deps")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("example_hello-") || name.starts_with("libexample_hello-") {
                files.push(e.path());
            }
        }
    }
    // Each incremental crate dir keeps the previous session until rustc collects it: scan
    // the newest session only, the one this build wrote.
    if let Ok(entries) = std::fs::read_dir(profile.join("incremental")) {
        for e in entries.flatten() {
            if !e
                .file_name()
                .to_string_lossy()
                .starts_with("example_hello-")
            {
                continue;
            }
            let newest = std::fs::read_dir(e.path())
                .into_iter()
                .flatten()
                .flatten()
                .filter(|s| s.path().is_dir())
                .filter_map(|s| Some((s.metadata().ok()?.modified().ok()?, s.path())))
                .max();
            if let Some((_, session)) = newest {
                files_under(&session, &mut files);
            }
        }
    }
    // Only outputs of this build (not older than the binary by more than a few minutes):
    // stale artifacts of earlier sources in a shared target dir are not this build's.
    let cutoff = built - std::time::Duration::from_secs(300);
    files.retain(|f| {
        std::fs::metadata(f)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= cutoff)
    });
    assert!(
        !files.is_empty(),
        "no build output of example-hello found under {}",
        profile.display()
    );
    let lines = key_pem_lines();
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_default();
        // The message never quotes the line: BPF_KEY may name a real key.
        assert!(
            find_any(&bytes, &lines).is_none(),
            "PEM line of the private key found in {}",
            f.display()
        );
    }
}

#[test]
fn private_key_is_not_in_the_binary() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_example-hello")).expect("read example-hello");
    let lines = key_pem_lines();
    for line in &lines {
        assert!(
            !contains(&binary, line.as_bytes()),
            "PEM line of the private key found in the binary"
        );
    }
    let der = decode_base64(&lines.concat());
    assert!(der.len() > 1000);
    // Any 32-byte window of the DER key (its modulus, exponents, primes...).
    for chunk in der.chunks(32).filter(|c| c.len() == 32) {
        assert!(
            !contains(&binary, chunk),
            "DER bytes of the private key found in the binary"
        );
    }
}

#[test]
fn positive_control_signer_skid_is_in_the_binary() {
    // The SKID string of the TEST-ONLY key A is embedded in the skeleton spec; if BPF_KEY names
    // another key this control is skipped by design of the check below.
    let binary = std::fs::read(env!("CARGO_BIN_EXE_example-hello")).expect("read example-hello");
    let default_key = key_path().ends_with("tests/fixtures/keys/TEST-ONLY-key-a.pem");
    if default_key {
        assert!(contains(
            &binary,
            b"b47dc1af906c3b717fd2649abebb975afff02a48"
        ));
    }
    // The signatures are embedded: each starts with the CMS signedData OID 1.2.840.113549.1.7.2.
    assert!(contains(
        &binary,
        &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02]
    ));
}
