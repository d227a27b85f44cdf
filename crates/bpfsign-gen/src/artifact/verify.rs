//! Verifying an artifact the way the kernel and the loader will check it at load time
//! (docs/protocol.md §3), with a certificate the caller trusts (never one the artifact merely carries,
//! unless the caller chooses to).
//!
//! For every variant:
//!
//! * `excl_prog_hash` is SHA-256 of the instructions: the kernel binds the exclusive metadata
//!   map only to a program with that digest (docs/protocol.md §3.0);
//! * P1/P1b: the loader's check block (docs/protocol.md §3.1) compares `map->sha` with SHA-256 of the data
//!   blob; the four words built into the instructions must be exactly that hash, or the loader
//!   refuses the blob (EINVAL). P1b must also check `map->excl` (docs/protocol.md §3.2), P1 must not (the
//!   P1 kernel refuses that read). P2 and the unsigned loader must have no such block: the
//!   kernel checks the blob itself, and their load sequence never computes `map->sha`;
//! * P2: the signed payload (loader ‖ blob) fits the kernel's hashing limit;
//! * a signed variant's signature is what the kernel verifies over the protocol's payload
//!   (P1/P1b: the loader instructions; P2: instructions ‖ data blob) with the certificate
//!   ([`Certificate::verify_detached`]).

use std::fmt;

use crate::insn::{decode, Insn};
use crate::meta::Protocol;
use crate::sign::{Certificate, SignError};

use super::{protocol_name, sha256, Artifact};

const LD_IMM64: u8 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
const LDX_MEM_DW: u8 = 0x79; // BPF_LDX | BPF_MEM | BPF_DW
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV64_IMM: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JNE_REG: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const JNE_IMM: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const PSEUDO_MAP_IDX: u8 = 5;
const EINVAL: i32 = 22;

/// Largest P2 payload (instructions and map values) the 7.3 kernel hashes (docs/protocol.md §3.3).
pub const MAX_P2_PAYLOAD: usize = (16 << 20) - 1;

/// Why one variant of an artifact would be refused at load time (or cannot be verified).
/// `Display` starts with the protocol name (`p1b: …`).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The artifact has no variant for the protocol.
    #[error("{}: the artifact has no {} variant", protocol_name(*.protocol), protocol_name(*.protocol))]
    NoVariant {
        /// The protocol asked for.
        protocol: Protocol,
    },
    /// `excl_prog_hash` is not SHA-256 of the instructions.
    #[error("{}: excl_prog_hash is not SHA-256 of the loader; the kernel would refuse to bind the metadata map (EACCES)", protocol_name(*.protocol))]
    ExclHash {
        /// The variant.
        protocol: Protocol,
    },
    /// The loader has more than one blob hash check block.
    #[error("{}: the loader has {count} blob hash check blocks, expected one", protocol_name(*.protocol))]
    CheckBlocks {
        /// The variant.
        protocol: Protocol,
        /// How many were found.
        count: usize,
    },
    /// A P1/P1b loader without the blob hash check.
    #[error("{p}: the loader has no blob hash check; on a {p} kernel nothing would protect the data blob", p = protocol_name(*.protocol))]
    NoCheckBlock {
        /// The variant.
        protocol: Protocol,
    },
    /// The hash built into a P1/P1b loader is not SHA-256 of the data blob.
    #[error("{}: the loader checks the data blob against SHA-256 {}, but the blob hashes to {}; the loader would refuse it (EINVAL)", protocol_name(*.protocol), hex::encode(.checked), hex::encode(.actual))]
    DataHash {
        /// The variant.
        protocol: Protocol,
        /// The hash the loader compares with.
        checked: [u8; 32],
        /// SHA-256 of the artifact's data blob.
        actual: [u8; 32],
    },
    /// A P1b loader that does not check `map->excl` before the hash.
    #[error("{}: the loader does not check map->excl before the hash (docs/protocol.md §3.2)", protocol_name(*.protocol))]
    NoExclCheck {
        /// The variant.
        protocol: Protocol,
    },
    /// A P1 loader that reads `map->excl`.
    #[error("{}: the loader reads map->excl, which a P1 kernel refuses (EACCES)", protocol_name(*.protocol))]
    ExclCheckOnP1 {
        /// The variant.
        protocol: Protocol,
    },
    /// A P2 or unsigned loader that compares `map->sha`.
    #[error("{p}: the loader compares map->sha, which the {p} load sequence never computes; it would fail with EINVAL", p = protocol_name(*.protocol))]
    UnexpectedCheckBlock {
        /// The variant.
        protocol: Protocol,
    },
    /// The P2 payload is larger than the kernel hashes.
    #[error("{}: the signed payload (loader ‖ blob) is {len} bytes; the kernel refuses more than {MAX_P2_PAYLOAD} (E2BIG)", protocol_name(*.protocol))]
    PayloadTooLarge {
        /// The variant.
        protocol: Protocol,
        /// The payload size.
        len: usize,
    },
    /// A signed protocol's variant has no signature.
    #[error("{}: no signature", protocol_name(*.protocol))]
    NoSignature {
        /// The variant.
        protocol: Protocol,
    },
    /// The signature is malformed or does not verify over the payload with the certificate.
    #[error("{}: {source}", protocol_name(*.protocol))]
    Signature {
        /// The variant.
        protocol: Protocol,
        /// Why it was refused.
        source: SignError,
    },
}

impl VerifyError {
    /// The protocol of the variant the error is about.
    pub fn protocol(&self) -> Protocol {
        match self {
            VerifyError::NoVariant { protocol }
            | VerifyError::ExclHash { protocol }
            | VerifyError::CheckBlocks { protocol, .. }
            | VerifyError::NoCheckBlock { protocol }
            | VerifyError::DataHash { protocol, .. }
            | VerifyError::NoExclCheck { protocol }
            | VerifyError::ExclCheckOnP1 { protocol }
            | VerifyError::UnexpectedCheckBlock { protocol }
            | VerifyError::PayloadTooLarge { protocol, .. }
            | VerifyError::NoSignature { protocol }
            | VerifyError::Signature { protocol, .. } => *protocol,
        }
    }
}

/// Every problem [`Artifact::verify`] found (at least one), in variant order.
#[derive(Debug)]
pub struct VerifyErrors(pub Vec<VerifyError>);

impl fmt::Display for VerifyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for VerifyErrors {}

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
/// whether the `map->excl` check precedes it.
#[derive(Debug, PartialEq, Eq)]
struct CheckBlock {
    hash: [u8; 32],
    excl: bool,
}

/// Every check block of `insns`.
fn check_blocks(insns: &[u8]) -> Vec<CheckBlock> {
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
    found
}

/// The loader-side checks of `insns` for `protocol` with data blob `data` (everything but the
/// signature).
fn loader_errors(
    protocol: Protocol,
    insns: &[u8],
    excl_prog_hash: &[u8; 32],
    data: &[u8],
) -> Vec<VerifyError> {
    let mut errors = Vec::new();
    if sha256(insns) != *excl_prog_hash {
        errors.push(VerifyError::ExclHash { protocol });
    }
    let mut blocks = check_blocks(insns);
    if blocks.len() > 1 {
        errors.push(VerifyError::CheckBlocks {
            protocol,
            count: blocks.len(),
        });
        return errors;
    }
    match (protocol, blocks.pop()) {
        (Protocol::P1 | Protocol::P1b, None) => errors.push(VerifyError::NoCheckBlock { protocol }),
        (Protocol::P1 | Protocol::P1b, Some(b)) => {
            let actual = sha256(data);
            if b.hash != actual {
                errors.push(VerifyError::DataHash {
                    protocol,
                    checked: b.hash,
                    actual,
                });
            }
            if protocol == Protocol::P1b && !b.excl {
                errors.push(VerifyError::NoExclCheck { protocol });
            }
            if protocol == Protocol::P1 && b.excl {
                errors.push(VerifyError::ExclCheckOnP1 { protocol });
            }
        }
        (Protocol::P2 | Protocol::Unsigned, Some(_)) => {
            errors.push(VerifyError::UnexpectedCheckBlock { protocol })
        }
        (Protocol::P2 | Protocol::Unsigned, None) => {}
    }
    if protocol == Protocol::P2 && insns.len() + data.len() > MAX_P2_PAYLOAD {
        errors.push(VerifyError::PayloadTooLarge {
            protocol,
            len: insns.len() + data.len(),
        });
    }
    errors
}

impl Artifact {
    /// The loader-side checks of the `protocol` variant, without its signature: `excl_prog_hash`
    /// is SHA-256 of the instructions; a P1/P1b loader checks the data blob against its SHA-256
    /// (P1b after checking `map->excl`, P1 without), a P2 or unsigned loader has no such check;
    /// a P2 payload fits the kernel's limit. Empty when the loader would accept this artifact's
    /// data blob.
    pub fn check_loader(&self, protocol: Protocol) -> Vec<VerifyError> {
        match self.variant(protocol) {
            None => vec![VerifyError::NoVariant { protocol }],
            Some(v) => loader_errors(protocol, &v.insns, &v.excl_prog_hash, &self.data),
        }
    }

    /// Everything the kernel and the loader will check of the `protocol` variant:
    /// [`Artifact::check_loader`], and for a signed protocol that the variant has a signature
    /// that verifies over [`Artifact::payload`] with `cert`. Empty when it would load.
    pub fn verify_protocol(&self, protocol: Protocol, cert: &Certificate) -> Vec<VerifyError> {
        let mut errors = self.check_loader(protocol);
        if matches!(errors.first(), Some(VerifyError::NoVariant { .. })) {
            return errors;
        }
        if let Err(e) = self.verify_signature(protocol, cert) {
            errors.push(e);
        }
        errors
    }

    /// Verifies the signature of the `protocol` variant over its payload with `cert`
    /// (nothing to verify for [`Protocol::Unsigned`]).
    fn verify_signature(&self, protocol: Protocol, cert: &Certificate) -> Result<(), VerifyError> {
        let Some(payload) = self.payload(protocol) else {
            return Ok(());
        };
        let sig = self
            .variant(protocol)
            .and_then(|v| v.signature.as_deref())
            .ok_or(VerifyError::NoSignature { protocol })?;
        let origin = format!("the {} signature", protocol_name(protocol));
        cert.verify_detached(&payload, sig, &origin)
            .map_err(|source| VerifyError::Signature { protocol, source })
    }

    /// Checks every variant as the kernel and the loader will at load time: the loader checks
    /// of each ([`Artifact::check_loader`]) and every signature it carries against `cert` over
    /// its protocol's payload. A signed protocol *without* a signature is not an error here
    /// (that is [`Artifact::missing_signatures`], which a partially signed artifact may
    /// legitimately have); every signature present must verify.
    pub fn verify(&self, cert: &Certificate) -> Result<(), VerifyErrors> {
        let mut errors = Vec::new();
        for v in &self.variants {
            errors.extend(self.check_loader(v.protocol));
            if v.signature.is_some() {
                if let Err(e) = self.verify_signature(v.protocol, cert) {
                    errors.push(e);
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(VerifyErrors(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::Variant;

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
        let b = check_blocks(&loader(&hash, true));
        assert_eq!(b, [CheckBlock { hash, excl: true }]);
        let b = check_blocks(&loader(&hash, false));
        assert_eq!(b, [CheckBlock { hash, excl: false }]);
        assert!(check_blocks(&enc(0x95, 0, 0, 0, 0)).is_empty());
        let twice = [loader(&hash, false), loader(&hash, false)].concat();
        assert_eq!(check_blocks(&twice).len(), 2);
        let e = loader_errors(Protocol::P1, &twice, &sha256(&twice), b"blob");
        assert!(
            matches!(e[..], [VerifyError::CheckBlocks { count: 2, .. }]),
            "{e:?}"
        );
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
        let check =
            |v: Variant, data: &[u8]| loader_errors(v.protocol, &v.insns, &v.excl_prog_hash, data);
        assert!(check(v(Protocol::P1b, &insns), data).is_empty());
        let e = check(v(Protocol::P1b, &insns), b"other");
        assert!(
            matches!(
                e[..],
                [VerifyError::DataHash {
                    protocol: Protocol::P1b,
                    ..
                }]
            ),
            "{e:?}"
        );
        let text = e[0].to_string();
        assert!(
            text.starts_with("p1b: ") && text.contains("EINVAL"),
            "{text}"
        );
        let e = check(v(Protocol::P1, &insns), data);
        assert!(
            matches!(e[..], [VerifyError::ExclCheckOnP1 { .. }]),
            "{e:?}"
        );
        let e = check(v(Protocol::P2, &insns), data);
        assert!(
            matches!(e[..], [VerifyError::UnexpectedCheckBlock { .. }])
                && e[0].to_string().starts_with("p2: "),
            "{e:?}"
        );
        let plain = loader(&sha256(data), false);
        let e = check(v(Protocol::P1b, &plain), data);
        assert!(matches!(e[..], [VerifyError::NoExclCheck { .. }]), "{e:?}");
        let e = check(v(Protocol::P1, &enc(0x95, 0, 0, 0, 0)), data);
        assert!(matches!(e[..], [VerifyError::NoCheckBlock { .. }]), "{e:?}");
        let big = vec![0u8; MAX_P2_PAYLOAD];
        let e = check(v(Protocol::P2, &enc(0x95, 0, 0, 0, 0)), &big);
        assert!(
            matches!(e[..], [VerifyError::PayloadTooLarge { .. }])
                && e[0].to_string().contains("E2BIG"),
            "{e:?}"
        );
        assert!(check(v(Protocol::P1, &plain), &[])
            .iter()
            .all(|e| !matches!(e, VerifyError::PayloadTooLarge { .. })));
        let mut bad = v(Protocol::P1, &plain);
        bad.excl_prog_hash[0] ^= 1;
        let e = check(bad, data);
        assert!(matches!(e[..], [VerifyError::ExclHash { .. }]), "{e:?}");
        assert_eq!(e[0].protocol(), Protocol::P1);
    }
}
