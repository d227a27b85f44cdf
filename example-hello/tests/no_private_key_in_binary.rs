//! The binary is signed with the key `BPF_KEY` names, at compile time, and the expansion
//! references the key file (`const _: &[u8] = include_bytes!(…)`) only so rustc tracks it.
//! Check that no byte of the private key reaches the built `example-hello`: neither the PEM
//! text nor the DER key, while the signer's public SKID does (so the search itself works).

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

#[test]
fn private_key_is_not_in_the_binary() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_example-hello")).expect("read example-hello");
    let pem = std::fs::read_to_string(key_path()).expect("read the key BPF_KEY names");
    let body = pem
        .split_once("PRIVATE KEY-----")
        .and_then(|(_, rest)| rest.split_once("-----END"))
        .map(|(b, _)| b)
        .expect("BPF_KEY holds a PEM private key");
    let lines: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| l.len() >= 16)
        .collect();
    assert!(lines.len() > 10, "an RSA-2048 key has more PEM lines");
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
