//! `bpfsign verify`: checks an artifact the way the kernel and the loader will check it at load
//! time (docs/protocol.md §3), with a certificate the user trusts (never the one the artifact carries).
//!
//! For every signed variant (or the ones named with `--protocol`):
//!
//! * the variant has a signature, and it verifies with the certificate over the protocol's
//!   payload (P1/P1b: the loader instructions; P2: instructions ‖ data blob), in a form the
//!   kernel's PKCS#7 parser accepts ([`Certificate::verify_detached`]);
//! * `excl_prog_hash` is SHA-256 of the instructions: the kernel binds the exclusive metadata
//!   map only to a program with that digest (docs/protocol.md §3.0);
//! * P1/P1b: the loader's check block (docs/protocol.md §3.1) compares `map->sha` with SHA-256 of the data
//!   blob; the four words built into the instructions must be exactly that hash, or the loader
//!   refuses the blob (EINVAL). P1b must also check `map->excl` (docs/protocol.md §3.2), P1 must not (the
//!   P1 kernel refuses that read). P2 must have no such block: the kernel checks the blob
//!   itself, and the P2 sequence never computes `map->sha`.

use std::path::PathBuf;

use bpfsign_gen::artifact::{protocol_name, sha256, signed_payload, Variant};
use bpfsign_gen::{Certificate, Protocol};
use clap::Args;

use crate::{fail, Failure, SignedProtocolArg};

/// Arguments of `bpfsign verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The artifact.
    #[arg(value_name = "OUT.skel")]
    artifact: PathBuf,
    /// The certificate the kernel will verify with (PEM or DER): the one registered in the
    /// keyring, not the one the artifact carries.
    #[arg(
        short = 'i',
        long,
        value_name = "CERT",
        required_unless_present = "allow_unsigned"
    )]
    cert: Option<PathBuf>,
    /// Verify only these protocols (repeatable); default: every signed protocol the artifact
    /// has.
    #[arg(short = 'p', long, value_enum)]
    protocol: Vec<SignedProtocolArg>,
    /// Succeed on an artifact without any signature (its loaders are still checked).
    #[arg(long)]
    allow_unsigned: bool,
}

/// One decoded `struct bpf_insn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Insn {
    code: u8,
    dst: u8,
    src: u8,
    off: i16,
    imm: i32,
}

fn decode(insns: &[u8]) -> Vec<Insn> {
    insns
        .chunks_exact(8)
        .map(|b| Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect()
}

const LD_IMM64: u8 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
const LDX_MEM_DW: u8 = 0x79; // BPF_LDX | BPF_MEM | BPF_DW
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV64_IMM: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JNE_REG: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const JNE_IMM: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const PSEUDO_MAP_IDX: u8 = 5;
const EINVAL: i32 = 22;
/// Largest P2 payload (instructions and map values) the 7.3 kernel hashes (docs/protocol.md §3.3).
const MAX_P2_PAYLOAD: usize = (16 << 20) - 1;

/// `r1 = map_by_idx(0)` (two slots) at `at`.
fn is_metadata_map_load(i: &[Insn], at: usize) -> bool {
    matches!(i.get(at..at + 2), Some([a, b])
        if a.code == LD_IMM64 && a.dst == 1 && a.src == PSEUDO_MAP_IDX && a.imm == 0
            && b.code == 0 && b.imm == 0)
}

/// `r7 = -EINVAL` at `at`.
fn is_einval(i: &[Insn], at: usize) -> bool {
    matches!(i.get(at), Some(m) if m.code == MOV64_IMM && m.dst == 7 && m.imm == -EINVAL)
}

/// The hash word `word` of the check block (7 instructions from `at`), if they are one:
/// `r1 = map_by_idx(0); r2 = *(u64 *)(r1 + 8*word); r3 = H; r7 = -EINVAL; if r2 != r3 goto`.
fn hash_word(i: &[Insn], at: usize, word: usize) -> Option<u64> {
    if !is_metadata_map_load(i, at) {
        return None;
    }
    let [ldx, lo, hi, _, jne] = i.get(at + 2..at + 7)? else {
        return None;
    };
    let ok = ldx.code == LDX_MEM_DW
        && ldx.dst == 2
        && ldx.src == 1
        && usize::try_from(ldx.off).ok() == Some(8 * word)
        && lo.code == LD_IMM64
        && lo.dst == 3
        && lo.src == 0
        && hi.code == 0
        && is_einval(i, at + 5)
        && jne.code == JNE_REG
        && jne.dst == 2
        && jne.src == 3;
    ok.then(|| u64::from(lo.imm as u32) | (u64::from(hi.imm as u32) << 32))
}

/// `r1 = map_by_idx(0); r2 = *(u32 *)(r1 + 32); r7 = -EINVAL; if r2 != 1 goto` ending right
/// before `at`.
fn excl_check_before(i: &[Insn], at: usize) -> bool {
    let Some(start) = at.checked_sub(5) else {
        return false;
    };
    is_metadata_map_load(i, start)
        && matches!(i.get(start + 2), Some(l) if l.code == LDX_MEM_W && l.dst == 2 && l.src == 1 && l.off == 32)
        && is_einval(i, start + 3)
        && matches!(i.get(start + 4), Some(j) if j.code == JNE_IMM && j.dst == 2 && j.imm == 1)
}

/// The loader's blob check (docs/protocol.md §3.1, §3.2): the SHA-256 built into its instructions and
/// whether the `map->excl` check precedes it; `None` without a check block.
struct CheckBlock {
    hash: [u8; 32],
    excl: bool,
}

fn check_block(insns: &[u8]) -> Result<Option<CheckBlock>, String> {
    let i = decode(insns);
    let mut found = Vec::new();
    for at in 0..i.len() {
        let words: Option<Vec<u64>> = (0..4).map(|w| hash_word(&i, at + 7 * w, w)).collect();
        if let Some(words) = words {
            let mut hash = [0u8; 32];
            for (w, v) in words.iter().enumerate() {
                hash[8 * w..8 * w + 8].copy_from_slice(&v.to_le_bytes());
            }
            found.push(CheckBlock {
                hash,
                excl: excl_check_before(&i, at),
            });
        }
    }
    match found.len() {
        0 | 1 => Ok(found.pop()),
        n => Err(format!(
            "the loader has {n} blob hash check blocks, expected one"
        )),
    }
}

/// The loader-side checks of one variant (everything but the signature); the errors name
/// the protocol.
fn check_loader(v: &Variant, data: &[u8]) -> Vec<String> {
    let name = protocol_name(v.protocol);
    let mut errors = Vec::new();
    if sha256(&v.insns) != v.excl_prog_hash {
        errors.push(format!(
            "{name}: excl_prog_hash is not SHA-256 of the loader; the kernel would refuse to bind the metadata map (EACCES)"
        ));
    }
    let data_hash = sha256(data);
    let block = match check_block(&v.insns) {
        Ok(b) => b,
        Err(e) => {
            errors.push(format!("{name}: {e}"));
            return errors;
        }
    };
    match (v.protocol, block) {
        (Protocol::P1 | Protocol::P1b, None) => errors.push(format!(
            "{name}: the loader has no blob hash check; on a {name} kernel nothing would protect the data blob"
        )),
        (Protocol::P1 | Protocol::P1b, Some(b)) => {
            if b.hash != data_hash {
                errors.push(format!(
                    "{name}: the loader checks the data blob against SHA-256 {}, but the blob hashes to {}; the loader would refuse it (EINVAL)",
                    crate::keygen::hex(&b.hash),
                    crate::keygen::hex(&data_hash)
                ));
            }
            if v.protocol == Protocol::P1b && !b.excl {
                errors.push(format!(
                    "{name}: the loader does not check map->excl before the hash (docs/protocol.md §3.2)"
                ));
            }
            if v.protocol == Protocol::P1 && b.excl {
                errors.push(format!(
                    "{name}: the loader reads map->excl, which a P1 kernel refuses (EACCES)"
                ));
            }
        }
        (Protocol::P2 | Protocol::Unsigned, Some(_)) => errors.push(format!(
            "{name}: the loader compares map->sha, which the {name} load sequence never computes; it would fail with EINVAL"
        )),
        (Protocol::P2 | Protocol::Unsigned, None) => {}
    }
    if v.protocol == Protocol::P2 && v.insns.len() + data.len() > MAX_P2_PAYLOAD {
        errors.push(format!(
            "{name}: the signed payload (loader ‖ blob) is {} bytes; the kernel refuses more than {MAX_P2_PAYLOAD} (E2BIG)",
            v.insns.len() + data.len()
        ));
    }
    errors
}

/// `bpfsign verify`.
pub fn verify(a: VerifyArgs) -> Result<(), Failure> {
    let cert = match &a.cert {
        Some(path) => Some(Certificate::from_file(path).map_err(|e| fail("cert", e))?),
        None => None,
    };
    let art = crate::inspect::read(&a.artifact)?;
    let shown = a.artifact.display().to_string();
    let unsigned = art.variants.iter().all(|v| v.signature.is_none());
    if unsigned && !a.allow_unsigned {
        return Err(fail(
            "verify",
            format!(
                "{shown} is unsigned: no protocol has a signature (sign it with `bpfsign gen --key`, or `payload` + `attach-sig`; --allow-unsigned accepts it)"
            ),
        ));
    }
    let wanted: Vec<Protocol> = if a.protocol.is_empty() {
        art.variants
            .iter()
            .map(|v| v.protocol)
            .filter(|p| *p != Protocol::Unsigned)
            .collect()
    } else {
        let mut ps: Vec<Protocol> = Vec::new();
        for p in a.protocol.iter().map(|&p| Protocol::from(p)) {
            if !ps.contains(&p) {
                ps.push(p);
            }
        }
        ps
    };
    let mut errors = Vec::new();
    let mut report = Vec::new();
    for &p in &wanted {
        let name = protocol_name(p);
        let Some(v) = art.variant(p) else {
            errors.push(format!("{name}: the artifact has no {name} variant"));
            continue;
        };
        let mut errs = check_loader(v, &art.data);
        if unsigned {
            // --allow-unsigned: the loaders are checked, there is nothing to verify.
            if errs.is_empty() {
                report.push(format!("{name}: not signed; loader checks ok"));
            }
            errors.append(&mut errs);
            continue;
        }
        match (&v.signature, &cert) {
            (None, _) => errs.push(format!(
                "{name}: no signature (the artifact is partially signed; attach one with `bpfsign attach-sig --protocol {name}`)"
            )),
            (Some(_), None) => {
                return Err(fail(
                    "usage",
                    "the artifact is signed: pass the certificate to verify it with (--cert CERT)",
                ))
            }
            (Some(sig), Some(cert)) => {
                // The protocol's payload, exactly as the kernel assembles it (docs/protocol.md §3).
                let payload = signed_payload(p, &v.insns, &art.data).unwrap_or_default();
                let origin = format!("the {name} signature");
                if let Err(e) = cert.verify_detached(&payload, sig, &origin) {
                    errs.push(format!("{name}: {e}"));
                } else if errs.is_empty() {
                    report.push(format!(
                        "{name}: ok ({} insns, signature {} bytes over {} bytes)",
                        v.insns.len() / 8,
                        sig.len(),
                        payload.len()
                    ));
                }
            }
        }
        errors.append(&mut errs);
    }
    if !errors.is_empty() {
        let problems = errors.len();
        if let (Some(signer), Some(cert)) = (&art.signer, &cert) {
            if signer.id != cert.info().id {
                errors.insert(
                    0,
                    format!(
                        "the artifact was signed by '{}' ({}), the certificate is '{}' ({})",
                        signer.subject,
                        signer.key_algorithm,
                        cert.info().subject,
                        cert.info().key_algorithm
                    ),
                );
            }
        }
        return Err(fail(
            "verify",
            format!(
                "{shown}: {problems} problem(s)\nbpfsign: verify: {}",
                errors.join("\nbpfsign: verify: ")
            ),
        ));
    }
    for line in &report {
        println!("{line}");
    }
    match &cert {
        Some(c) if !unsigned => println!(
            "{shown}: verified with {} ({})",
            c.info().subject,
            c.info().key_algorithm
        ),
        _ => println!("{shown}: unsigned (allowed by --allow-unsigned)"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Vec<u8> {
        let mut b = vec![code, dst | (src << 4)];
        b.extend_from_slice(&off.to_le_bytes());
        b.extend_from_slice(&imm.to_le_bytes());
        b
    }

    /// A loader made of `exit`, an optional excl check, the hash block of `hash`, `exit`.
    fn loader(hash: &[u8; 32], excl: bool) -> Vec<u8> {
        let mut v = enc(0x95, 0, 0, 0, 0);
        let map = [enc(LD_IMM64, 1, PSEUDO_MAP_IDX, 0, 0), enc(0, 0, 0, 0, 0)].concat();
        if excl {
            v.extend(&map);
            v.extend(enc(LDX_MEM_W, 2, 1, 32, 0));
            v.extend(enc(MOV64_IMM, 7, 0, 0, -EINVAL));
            v.extend(enc(JNE_IMM, 2, 0, -30, 1));
        }
        for w in 0..4 {
            let word = u64::from_le_bytes(hash[8 * w..8 * w + 8].try_into().unwrap());
            v.extend(&map);
            v.extend(enc(LDX_MEM_DW, 2, 1, 8 * w as i16, 0));
            v.extend(enc(LD_IMM64, 3, 0, 0, word as u32 as i32));
            v.extend(enc(0, 0, 0, 0, (word >> 32) as u32 as i32));
            v.extend(enc(MOV64_IMM, 7, 0, 0, -EINVAL));
            v.extend(enc(JNE_REG, 2, 3, -20, 0));
        }
        v.extend(enc(0x95, 0, 0, 0, 0));
        v
    }

    #[test]
    fn finds_the_hash_and_the_excl_check() {
        let hash = sha256(b"blob");
        let b = check_block(&loader(&hash, true)).unwrap().unwrap();
        assert_eq!(b.hash, hash);
        assert!(b.excl);
        let b = check_block(&loader(&hash, false)).unwrap().unwrap();
        assert!(!b.excl);
        assert!(check_block(&enc(0x95, 0, 0, 0, 0)).unwrap().is_none());
        let twice = [loader(&hash, false), loader(&hash, false)].concat();
        assert!(check_block(&twice).is_err());
    }

    #[test]
    fn loader_checks_name_the_protocol() {
        let data = b"blob";
        let insns = loader(&sha256(data), true);
        let v = |protocol, insns: &Vec<u8>| Variant {
            protocol,
            excl_prog_hash: sha256(insns),
            insns: insns.clone(),
            signature: None,
        };
        assert!(check_loader(&v(Protocol::P1b, &insns), data).is_empty());
        let e = check_loader(&v(Protocol::P1b, &insns), b"other");
        assert!(
            e.len() == 1 && e[0].starts_with("p1b: ") && e[0].contains("EINVAL"),
            "{e:?}"
        );
        let e = check_loader(&v(Protocol::P1, &insns), data);
        assert!(e.len() == 1 && e[0].contains("map->excl"), "{e:?}");
        let e = check_loader(&v(Protocol::P2, &insns), data);
        assert!(e.len() == 1 && e[0].starts_with("p2: "), "{e:?}");
        let plain = loader(&sha256(data), false);
        let e = check_loader(&v(Protocol::P1b, &plain), data);
        assert!(
            e.len() == 1 && e[0].contains("does not check map->excl"),
            "{e:?}"
        );
        let big = vec![0u8; MAX_P2_PAYLOAD];
        let e = check_loader(&v(Protocol::P2, &enc(0x95, 0, 0, 0, 0)), &big);
        assert!(e.len() == 1 && e[0].contains("E2BIG"), "{e:?}");
        assert!(check_loader(&v(Protocol::P1, &plain), &[])
            .iter()
            .all(|e| !e.contains("E2BIG")));
        let mut bad = v(Protocol::P1, &plain);
        bad.excl_prog_hash[0] ^= 1;
        let e = check_loader(&bad, data);
        assert!(e.len() == 1 && e[0].contains("excl_prog_hash"), "{e:?}");
    }
}
