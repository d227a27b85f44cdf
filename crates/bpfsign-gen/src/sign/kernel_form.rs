//! The CMS forms the kernel's PKCS#7 parser accepts (docs/protocol.md §4.2), checked on the DER of a
//! signature OpenSSL has already verified: ContentInfo → SignedData → every SignerInfo.
//! OpenSSL accepts forms the kernel refuses (RSA-PSS, `sha256WithRSAEncryption`, MD5, …); this
//! DER walk finds them before a signature goes into an artifact.

use super::KeyAlgorithm;

/// One DER element: its tag byte and its contents.
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Reads DER elements one after another from a buffer.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn next(&mut self, what: &str) -> Result<Tlv<'a>, String> {
        let bad = || format!("not DER CMS: truncated or malformed {what}");
        let (&tag, rest) = self.0.split_first().ok_or_else(bad)?;
        if tag & 0x1f == 0x1f {
            return Err(bad());
        }
        let (&first, rest) = rest.split_first().ok_or_else(bad)?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                // 0x80 is BER's indefinite length: not DER.
                return Err(bad());
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return Err(bad());
        }
        let (body, rest) = rest.split_at(len);
        self.0 = rest;
        Ok(Tlv { tag, body })
    }

    /// The next element, which must have `tag`.
    fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], String> {
        let t = self.next(what)?;
        if t.tag != tag {
            return Err(format!(
                "not DER CMS: {what} has tag 0x{:02x}, expected 0x{tag:02x}",
                t.tag
            ));
        }
        Ok(t.body)
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;

/// Dotted form of an OID's contents.
fn dotted(body: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    for &b in body {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (v / 40).min(2);
                arcs.push(first);
                arcs.push(v - first * 40);
            } else {
                arcs.push(v);
            }
            v = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Digests the kernel's PKCS#7 parser knows (`pkcs7_sig_note_digest_algo`).
const DIGESTS: &[(&str, &str)] = &[
    ("1.3.14.3.2.26", "sha1"),
    ("2.16.840.1.101.3.4.2.4", "sha224"),
    ("2.16.840.1.101.3.4.2.1", "sha256"),
    ("2.16.840.1.101.3.4.2.2", "sha384"),
    ("2.16.840.1.101.3.4.2.3", "sha512"),
    ("2.16.840.1.101.3.4.2.8", "sha3-256"),
    ("2.16.840.1.101.3.4.2.9", "sha3-384"),
    ("2.16.840.1.101.3.4.2.10", "sha3-512"),
    ("1.2.156.10197.1.401", "sm3"),
    ("1.2.643.7.1.1.2.2", "streebog256"),
    ("1.2.643.7.1.1.2.3", "streebog512"),
];

/// The only RSA signature algorithm OID the kernel accepts in a SignerInfo.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// ECDSA signature algorithms the kernel accepts (`pkcs7_sig_note_pkey_algo`).
const ECDSA: &[(&str, &str)] = &[
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
    ("1.2.840.10045.4.3.1", "ecdsa-with-SHA224"),
    ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
    ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384"),
    ("1.2.840.10045.4.3.4", "ecdsa-with-SHA512"),
    ("2.16.840.1.101.3.4.3.10", "ecdsa-with-SHA3-256"),
    ("2.16.840.1.101.3.4.3.11", "ecdsa-with-SHA3-384"),
    ("2.16.840.1.101.3.4.3.12", "ecdsa-with-SHA3-512"),
];

/// Names of OIDs the kernel refuses, for the error message.
const REFUSED: &[(&str, &str)] = &[
    ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
    ("1.2.840.113549.1.1.10", "RSASSA-PSS"),
    ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption"),
    ("1.2.840.113549.1.1.12", "sha384WithRSAEncryption"),
    ("1.2.840.113549.1.1.13", "sha512WithRSAEncryption"),
    ("1.2.840.113549.1.1.14", "sha224WithRSAEncryption"),
    ("1.2.840.10045.2.1", "id-ecPublicKey"),
    ("1.3.101.112", "Ed25519"),
    ("1.2.840.113549.2.5", "md5"),
];

fn name_of(oid: &str) -> String {
    DIGESTS
        .iter()
        .chain(ECDSA)
        .chain(REFUSED)
        .chain(&[(RSA_ENCRYPTION, "rsaEncryption")])
        .find(|(o, _)| *o == oid)
        .map_or_else(|| oid.to_string(), |(_, n)| format!("{n} ({oid})"))
}

/// A small non-negative INTEGER (CMS versions).
fn small_int(body: &[u8], what: &str) -> Result<u64, String> {
    if body.is_empty() || body.len() > 4 || body[0] & 0x80 != 0 {
        return Err(format!("not DER CMS: bad {what}"));
    }
    Ok(body.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// The OID of an AlgorithmIdentifier `SEQUENCE { OID, params }`.
fn algorithm(r: &mut Reader<'_>, what: &str) -> Result<String, String> {
    let body = r.expect(SEQUENCE, what)?;
    Ok(dotted(Reader(body).expect(OID, what)?))
}

/// Checks the structure of `der` (a CMS ContentInfo) against what the kernel accepts for a
/// signer with key `key`. Errors name the refused item and the kernel's errno.
pub(super) fn check(der: &[u8], key: KeyAlgorithm) -> Result<(), String> {
    let mut top = Reader(der);
    let mut ci = Reader(top.expect(SEQUENCE, "ContentInfo")?);
    let ctype = dotted(ci.expect(OID, "ContentInfo contentType")?);
    if ctype != "1.2.840.113549.1.7.2" {
        return Err(format!(
            "content type {ctype} is not signedData; the kernel refuses it (EBADMSG)"
        ));
    }
    let mut explicit = Reader(ci.expect(0xa0, "ContentInfo content")?);
    let mut sd = Reader(explicit.expect(SEQUENCE, "SignedData")?);
    let sd_version = small_int(
        sd.expect(INTEGER, "SignedData version")?,
        "SignedData version",
    )?;
    if sd_version != 1 && sd_version != 3 {
        return Err(format!(
            "SignedData version {sd_version}; the kernel accepts 1 or 3 (EINVAL)"
        ));
    }
    sd.expect(SET, "SignedData digestAlgorithms")?;
    let mut encap = Reader(sd.expect(SEQUENCE, "EncapsulatedContentInfo")?);
    let etype = dotted(encap.expect(OID, "eContentType")?);
    if etype != "1.2.840.113549.1.7.1" {
        return Err(format!(
            "signed content type {etype} is not id-data; the kernel refuses it (EKEYREJECTED)"
        ));
    }
    if !encap.is_empty() {
        return Err(
            "the signature carries its content; the kernel needs a detached signature (EBADMSG)"
                .into(),
        );
    }
    // Optional certificates [0] and crls [1], then signerInfos.
    let mut signer_infos = None;
    while !sd.is_empty() {
        let t = sd.next("SignedData")?;
        if t.tag == SET {
            signer_infos = Some(t.body);
            break;
        }
    }
    let mut infos = Reader(signer_infos.ok_or("not DER CMS: SignedData has no signerInfos")?);
    if infos.is_empty() {
        return Err("the signature has no SignerInfo; the kernel refuses it (EBADMSG)".into());
    }
    let mut index = 0;
    while !infos.is_empty() {
        let mut si = Reader(infos.expect(SEQUENCE, "SignerInfo")?);
        let version = small_int(
            si.expect(INTEGER, "SignerInfo version")?,
            "SignerInfo version",
        )?;
        let sid = si.next("SignerInfo sid")?;
        let consistent = match version {
            1 => sd_version == 1 && sid.tag == SEQUENCE,
            3 => sd_version != 1 && sid.tag == 0x80,
            _ => false,
        };
        if !consistent {
            let form = if sid.tag == SEQUENCE {
                "issuerAndSerialNumber"
            } else {
                "subjectKeyIdentifier"
            };
            return Err(format!(
                "SignerDescription {index}: version {version} with an {form} signer id in SignedData \
                 version {sd_version} (v1 needs issuerAndSerialNumber and SignedData v1, v3 a \
                 subjectKeyIdentifier and SignedData v3); the kernel refuses it (EBADMSG)"
            ));
        }
        let digest = algorithm(&mut si, "SignerInfo digestAlgorithm")?;
        if !DIGESTS.iter().any(|(o, _)| *o == digest) {
            return Err(format!(
                "SignerDescription {index}: digest algorithm {} is not one the kernel knows (sha256, \
                 sha384, sha512, sha224, sha1, sha3-*, sm3, streebog); it refuses it (ENOPKG)",
                name_of(&digest)
            ));
        }
        if si.peek_tag() == Some(0xa0) {
            si.next("SignerInfo signedAttrs")?;
        }
        let sig_alg = algorithm(&mut si, "SignerInfo signatureAlgorithm")?;
        let accepted = match key {
            KeyAlgorithm::Rsa { .. } => sig_alg == RSA_ENCRYPTION,
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => {
                ECDSA.iter().any(|(o, _)| *o == sig_alg)
            }
        };
        if !accepted {
            let wanted = match key {
                KeyAlgorithm::Rsa { .. } => "only rsaEncryption (PKCS#1 v1.5) for an RSA key",
                _ => "only ecdsa-with-SHA* for an ECDSA key",
            };
            return Err(format!(
                "SignerDescription {index}: signature algorithm {}; the kernel accepts {wanted} and \
                 refuses this with ENOPKG",
                name_of(&sig_alg)
            ));
        }
        index += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::key;
    use super::super::{Certificate, SignError, Signer};
    use std::path::Path;

    fn sig_data(name: &str) -> Vec<u8> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/gen/sig")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn rsa_pss_signature_is_refused_like_the_kernel_does() {
        // OpenSSL verifies this signature; the kernel's PKCS#7 parser returns ENOPKG for it.
        let cert = Certificate::from_file(key("TEST-ONLY-key-a.der")).unwrap();
        let e = cert
            .verify_detached(&sig_data("payload.bin"), &sig_data("pss.sig"), "pss.sig")
            .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, SignError::MalformedSignature { .. }), "{msg}");
        assert!(
            msg.contains("RSASSA-PSS") && msg.contains("ENOPKG") && msg.contains("pss.sig"),
            "{msg}"
        );
    }

    #[test]
    fn own_signatures_have_the_kernel_form() {
        // RSA with a SKID (v3), ECDSA P-256, RSA with issuer+serial (v1).
        for (k, c) in [
            ("TEST-ONLY-key-a.pem", "TEST-ONLY-key-a.der"),
            ("TEST-ONLY-ec-p256.pem", "TEST-ONLY-ec-p256.der"),
            ("TEST-ONLY-noskid.key.pem", "TEST-ONLY-noskid.der"),
        ] {
            let signer = Signer::from_key_and_cert(key(k), key(c)).unwrap();
            let cert = Certificate::from_file(key(c)).unwrap();
            let sig = signer.sign(b"payload").unwrap();
            cert.verify_detached(b"payload", &sig, k)
                .unwrap_or_else(|e| panic!("{k}: {e}"));
        }
    }

    #[test]
    fn signer_info_version_must_match_the_signer_id_form() {
        let signer = Signer::from_pem_file(key("TEST-ONLY-key-a.pem")).unwrap();
        let cert = Certificate::from_file(key("TEST-ONLY-key-a.der")).unwrap();
        let mut sig = signer.sign(b"payload").unwrap();
        // SignerInfo `version 3, sid [0] SKID (20 bytes)` → version 1 with a SKID sid.
        let at = sig
            .windows(5)
            .position(|w| w == [0x02, 0x01, 0x03, 0x80, 0x14])
            .expect("v3 SignerInfo with a SKID");
        sig[at + 2] = 1;
        let msg = cert
            .verify_detached(b"payload", &sig, "v1skid")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("EBADMSG") && msg.contains("version 1"),
            "{msg}"
        );
    }
}
