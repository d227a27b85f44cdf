//! `bpfsign keygen`: a fresh signing key and a self-signed certificate the kernel accepts for
//! BPF signatures.
//!
//! The certificate carries what the kernel's X.509 parser and bpfsign's signer need: a
//! subjectKeyIdentifier (SHA-1 of the public key, so signatures name the signer by SKID),
//! `basicConstraints=critical,CA:FALSE`, `keyUsage=critical,digitalSignature`,
//! `extendedKeyUsage=codeSigning`, a SHA-256 signature and a random positive 16-byte serial.
//! The result is loaded back with [`Signer::from_pem_file`], so a key the signer would refuse is
//! never reported as usable.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bpfsign_gen::Signer;
use clap::{Args, ValueEnum};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509NameBuilder, X509};

use crate::{fail, Failure};

/// Arguments of `bpfsign keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Writes PREFIX.pem (private key and certificate, mode 0600: what `key = …` / BPF_KEY
    /// names) and PREFIX.der (the certificate to register in a keyring).
    #[arg(short = 'o', long = "output", value_name = "PREFIX")]
    prefix: PathBuf,
    /// An ECDSA key on this curve instead of RSA.
    #[arg(long, value_enum, value_name = "CURVE", conflicts_with = "rsa_bits")]
    ec: Option<Curve>,
    /// RSA modulus size (the sizes the kernel verifies).
    #[arg(long, value_name = "BITS", default_value_t = 3072, value_parser = rsa_bits)]
    rsa_bits: u32,
    /// Common name of the certificate's subject (and issuer: it is self-signed).
    #[arg(long, value_name = "NAME", default_value = "bpfsign signing key")]
    cn: String,
    /// Validity of the certificate in days, from now.
    #[arg(long, value_name = "N", default_value_t = 3650,
          value_parser = clap::value_parser!(u32).range(1..=36500))]
    days: u32,
    /// Replace PREFIX.pem and PREFIX.der if they exist.
    #[arg(long)]
    force: bool,
}

/// The ECDSA curves the kernel verifies signatures with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Curve {
    /// NIST P-256 (prime256v1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
}

fn rsa_bits(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n @ (2048 | 3072 | 4096)) => Ok(n),
        _ => Err(format!(
            "'{s}' is not an RSA size the kernel verifies (2048, 3072 or 4096)"
        )),
    }
}

/// `PREFIX` + `ext` (`keys/a` → `keys/a.pem`), keeping any dots already in the prefix.
fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

fn ssl(what: &str) -> impl Fn(ErrorStack) -> Failure + '_ {
    move |e| fail("keygen", format!("{what}: {e}"))
}

/// A new private key of the requested kind.
fn new_key(a: &KeygenArgs) -> Result<PKey<Private>, Failure> {
    match a.ec {
        Some(curve) => {
            let nid = match curve {
                Curve::P256 => Nid::X9_62_PRIME256V1,
                Curve::P384 => Nid::SECP384R1,
            };
            let group = EcGroup::from_curve_name(nid).map_err(ssl("EC group"))?;
            let key = EcKey::generate(&group).map_err(ssl("generating the EC key"))?;
            PKey::from_ec_key(key).map_err(ssl("EC key"))
        }
        None => {
            let key = Rsa::generate(a.rsa_bits).map_err(ssl("generating the RSA key"))?;
            PKey::from_rsa(key).map_err(ssl("RSA key"))
        }
    }
}

/// The self-signed certificate for `key`, in the form the kernel wants (module docs).
fn self_signed(key: &PKey<Private>, cn: &str, days: u32) -> Result<X509, Failure> {
    let e = ssl("building the certificate");
    let mut name = X509NameBuilder::new().map_err(&e)?;
    name.append_entry_by_nid(Nid::COMMONNAME, cn)
        .map_err(|err| fail("usage", format!("--cn {cn:?}: {err}")))?;
    let name = name.build();
    let mut b = X509Builder::new().map_err(&e)?;
    b.set_version(2).map_err(&e)?; // X.509 v3
                                   // 127 random bits with the top one set: always 16 bytes in DER, always positive.
    let mut serial = BigNum::new().map_err(&e)?;
    serial.rand(127, MsbOption::ONE, false).map_err(&e)?;
    let serial = serial.to_asn1_integer().map_err(&e)?;
    b.set_serial_number(&serial).map_err(&e)?;
    b.set_subject_name(&name).map_err(&e)?;
    b.set_issuer_name(&name).map_err(&e)?;
    b.set_pubkey(key).map_err(&e)?;
    let not_before = Asn1Time::days_from_now(0).map_err(&e)?;
    let not_after = Asn1Time::days_from_now(days).map_err(&e)?;
    b.set_not_before(&not_before).map_err(&e)?;
    b.set_not_after(&not_after).map_err(&e)?;
    b.append_extension(BasicConstraints::new().critical().build().map_err(&e)?)
        .map_err(&e)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .build()
            .map_err(&e)?,
    )
    .map_err(&e)?;
    b.append_extension(ExtendedKeyUsage::new().code_signing().build().map_err(&e)?)
        .map_err(&e)?;
    let skid = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(None, None))
        .map_err(&e)?;
    b.append_extension(skid).map_err(&e)?;
    b.sign(key, MessageDigest::sha256()).map_err(&e)?;
    Ok(b.build())
}

/// A finished file in a private temporary name next to `path`, with exactly `mode`.
fn stage_file(path: &Path, mode: u32, bytes: &[u8]) -> Result<tempfile::NamedTempFile, Failure> {
    let write_err = |e: std::io::Error| fail("write", format!("{}: {e}", path.display()));
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".bpfsign-keygen-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(write_err)?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        // The umask may have removed bits of `mode`; set exactly `mode`.
        .and_then(|()| {
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
        })
        .map_err(write_err)?;
    Ok(tmp)
}

/// Moves a staged file to `path`: atomically replacing an old file with `force`, else only
/// if nothing is there.
fn install(tmp: tempfile::NamedTempFile, path: &Path, force: bool) -> Result<(), Failure> {
    let r = if force {
        tmp.persist(path).map(|_| ())
    } else {
        tmp.persist_noclobber(path).map(|_| ())
    };
    r.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            exists(path)
        } else {
            fail("write", format!("{}: {}", path.display(), e.error))
        }
    })
}

fn exists(path: &Path) -> Failure {
    fail(
        "write",
        format!(
            "{} exists; not replacing a key (pass --force to overwrite)",
            path.display()
        ),
    )
}

/// Refuses destinations that exist without `force`, and those no file can replace (a
/// directory), before anything is written.
fn check_destination(path: &Path, force: bool) -> Result<(), Failure> {
    match path.symlink_metadata() {
        Err(_) => Ok(()),
        Ok(_) if !force => Err(exists(path)),
        Ok(m) if m.is_dir() => Err(fail(
            "write",
            format!("{} is a directory; not replacing it", path.display()),
        )),
        Ok(_) => Ok(()),
    }
}

/// `bpfsign keygen`.
pub fn keygen(a: KeygenArgs) -> Result<(), Failure> {
    let pem_path = with_ext(&a.prefix, ".pem");
    let der_path = with_ext(&a.prefix, ".der");
    for p in [&pem_path, &der_path] {
        check_destination(p, a.force)?;
    }
    let key = new_key(&a)?;
    let cert = self_signed(&key, &a.cn, a.days)?;
    let mut pem = key
        .private_key_to_pem_pkcs8()
        .map_err(ssl("encoding the key"))?;
    pem.extend(cert.to_pem().map_err(ssl("encoding the certificate"))?);
    let der = cert.to_der().map_err(ssl("encoding the certificate"))?;

    // Both files are written and the key is checked under temporary names first: a failure
    // before the renames leaves any old key pair as it was.
    let pem_tmp = stage_file(&pem_path, 0o600, &pem)?;
    let der_tmp = stage_file(&der_path, 0o644, &der)?;
    // Everything the signer (and so the kernel) would refuse is caught here.
    let signer = Signer::from_pem_file(pem_tmp.path()).map_err(|e| fail("key", e))?;
    install(pem_tmp, &pem_path, a.force)?;
    if let Err(f) = install(der_tmp, &der_path, a.force) {
        if !a.force {
            let _ = std::fs::remove_file(&pem_path);
            return Err(f);
        }
        // With --force the new key is in place next to the old certificate: say so.
        return Err(fail(
            "write",
            format!(
                "{}; {} holds the new key but {} the old certificate: fix that and rerun with --force",
                f.message,
                pem_path.display(),
                der_path.display()
            ),
        ));
    }
    let info = signer.info();
    let skid = signer.skid().map(hex).unwrap_or_default();
    println!(
        "wrote {} (private key and certificate, mode 0600: keep it secret; sign with --key {0} or BPF_KEY={0})",
        pem_path.display()
    );
    println!("wrote {} (the certificate to register)", der_path.display());
    println!("key: {}", info.key_algorithm);
    println!("subject: {}", info.subject);
    println!("skid: {skid}");
    println!(
        "register it with: bpfsign keyring add {}   (or: keyctl padd asymmetric '' @s < {0})",
        der_path.display()
    );
    Ok(())
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_sizes() {
        for ok in ["2048", "3072", "4096"] {
            assert!(rsa_bits(ok).is_ok(), "{ok}");
        }
        for bad in ["1024", "2560", "8192", "x", ""] {
            assert!(rsa_bits(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefix_gets_extensions_appended() {
        assert_eq!(
            with_ext(Path::new("keys/my.key"), ".pem"),
            Path::new("keys/my.key.pem")
        );
    }
}
