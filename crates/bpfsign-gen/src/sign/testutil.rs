//! Test helpers shared by the signing modules' tests: fixture paths, goldens and in-memory
//! keys and certificates.

use std::path::PathBuf;

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509Builder, X509NameBuilder, X509};

use super::{Result, Signer};

pub(super) fn fixtures() -> PathBuf {
    bpfsign_test_support::fixtures()
}
pub(super) fn key(name: &str) -> PathBuf {
    fixtures().join("keys").join(name)
}
pub(super) fn golden(stem: &str, file: &str) -> Vec<u8> {
    let p = fixtures().join("golden").join(stem).join(file);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
pub(super) fn golden_stems() -> Vec<String> {
    bpfsign_test_support::golden::fixture_list()
        .into_iter()
        .map(|f| f.stem)
        .collect()
}

pub(super) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A self-signed cert for `key`, optionally with a SKID, built in memory.
pub(super) fn self_signed(key: &PKey<Private>, md: MessageDigest) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "bpfsign TEST-ONLY generated")
        .unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    let serial = openssl::bn::BigNum::from_u32(7)
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    let skid = openssl::x509::extension::SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(None, None))
        .unwrap();
    b.append_extension(skid).unwrap();
    b.sign(key, md).unwrap();
    b.build()
}

pub(super) fn signer_for(key: PKey<Private>, md: MessageDigest) -> Result<Signer> {
    let cert = self_signed(&key, md);
    let key_der = key.private_key_to_der().unwrap();
    Signer::from_key_and_cert_bytes(&key_der, "gen.key", &cert.to_der().unwrap(), "gen.crt")
}
