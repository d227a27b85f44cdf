//! `bpfsign verify`: checks an artifact the way the kernel and the loader will check it at load
//! time (docs/protocol.md §3), with a certificate the user trusts (never the one the artifact carries).
//! The checks are [`bpfsign_gen::Artifact::verify_protocol`]'s (the macro runs the same ones
//! on everything it embeds).
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

use bpfsign_gen::artifact::{protocol_name, VerifyError};
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

/// The message of one verification problem; a missing signature says how to attach one.
fn message(e: &VerifyError) -> String {
    match e {
        VerifyError::NoSignature { protocol } => {
            let name = protocol_name(*protocol);
            format!(
                "{name}: no signature (the artifact is partially signed; attach one with `bpfsign attach-sig --protocol {name}`)"
            )
        }
        e => e.to_string(),
    }
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
        let errs = if unsigned {
            // --allow-unsigned: the loaders are checked, there is nothing to verify.
            art.check_loader(p)
        } else {
            match &cert {
                Some(cert) => art.verify_protocol(p, cert),
                None if v.signature.is_none() => {
                    let mut errs = art.check_loader(p);
                    errs.push(VerifyError::NoSignature { protocol: p });
                    errs
                }
                None => return Err(fail(
                    "usage",
                    "the artifact is signed: pass the certificate to verify it with (--cert CERT)",
                )),
            }
        };
        if errs.is_empty() {
            report.push(match (&v.signature, unsigned) {
                (Some(sig), false) => format!(
                    "{name}: ok ({} insns, signature {} bytes over {} bytes)",
                    v.insns.len() / 8,
                    sig.len(),
                    art.payload(p).map_or(0, |b| b.len())
                ),
                _ => format!("{name}: not signed; loader checks ok"),
            });
        }
        errors.extend(errs.iter().map(message));
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
