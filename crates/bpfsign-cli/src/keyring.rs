//! `bpfsign keyring add`: registers a signing certificate in a kernel keyring as an
//! `asymmetric` key (what `keyctl padd asymmetric '' @s < CERT.der` does), so signed skeletons
//! load with that keyring (docs/protocol.md §1.2).

use std::path::PathBuf;

use bpfsign_gen::Certificate;
use bpfsign_runtime::{register_cert, CertTarget, KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING};
use clap::{Args, Subcommand};

use crate::{fail, Failure};

/// `bpfsign keyring …`.
#[derive(Debug, Subcommand)]
pub enum KeyringCommand {
    /// Register a signing certificate (PEM or DER) as an asymmetric key; prints the key serial,
    /// the SKID and the keyring to load with.
    Add(AddArgs),
}

/// Arguments of `bpfsign keyring add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The certificate (PEM or DER; a PEM holding a private key too is fine, only the
    /// certificate is sent to the kernel).
    #[arg(value_name = "CERT")]
    cert: PathBuf,
    /// session (@s, the default), user (@u), a keyring serial or special id (a number), or the
    /// name of a keyring inside the session keyring (created if missing).
    #[arg(long, value_name = "KEYRING", default_value = "session", value_parser = target)]
    keyring: Target,
}

/// Where to register, parsed from `--keyring`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A keyring by id (`session`, `user`, or a number).
    Id(i32),
    /// A named keyring in the session keyring.
    Named(String),
}

fn target(s: &str) -> Result<Target, String> {
    match s {
        "session" | "@s" => Ok(Target::Id(KEY_SPEC_SESSION_KEYRING)),
        "user" | "@u" => Ok(Target::Id(KEY_SPEC_USER_KEYRING)),
        "" => Err("an empty keyring name".to_string()),
        s if s.starts_with('-') || s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse::<i32>()
            .map(Target::Id)
            .map_err(|_| format!("'{s}' is not a keyring id")),
        s if s.contains('\0') => Err("a keyring name cannot contain NUL".to_string()),
        s => Ok(Target::Named(s.to_string())),
    }
}

const ENOENT: i32 = 2;
const ENOPKG: i32 = 65;
const EBADMSG: i32 = 74;

/// `bpfsign keyring …`.
pub fn keyring(c: KeyringCommand) -> Result<(), Failure> {
    match c {
        KeyringCommand::Add(a) => add(a),
    }
}

fn add(a: AddArgs) -> Result<(), Failure> {
    // Only certificates the signer and the kernel can use are registered.
    let cert = Certificate::from_file(&a.cert).map_err(|e| fail("cert", e))?;
    let target = match &a.keyring {
        Target::Id(KEY_SPEC_SESSION_KEYRING) => CertTarget::Session,
        Target::Id(id) => CertTarget::Keyring(*id),
        Target::Named(name) => CertTarget::Named(name),
    };
    let reg = register_cert(cert.der(), target).map_err(|e| {
        // The asymmetric key parser answers ENOENT/ENOPKG/EBADMSG when the kernel lacks the
        // certificate's algorithm (ECDSA is often missing) or X.509 support.
        let hint = match e.errno() {
            Some(ENOENT | ENOPKG | EBADMSG) => {
                format!(
                    "; the kernel could not parse the certificate: it may lack support for {} keys or X.509 (check /proc/crypto and CONFIG_X509_CERTIFICATE_PARSER)",
                    cert.info().key_algorithm
                )
            }
            _ => String::new(),
        };
        fail("keyring", format!("{e}{hint}"))
    })?;
    println!("key: {}", reg.key);
    println!("subject: {}", cert.info().subject);
    match &reg.skid {
        Some(skid) => println!("skid: {skid}"),
        None => println!("skid: none (signatures name the signer by issuer and serial)"),
    }
    println!(
        "keyring: {} (load with keyring_id {})",
        reg.keyring.describe(),
        reg.keyring.id()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_targets() {
        assert_eq!(target("session"), Ok(Target::Id(-3)));
        assert_eq!(target("@s"), Ok(Target::Id(-3)));
        assert_eq!(target("user"), Ok(Target::Id(-4)));
        assert_eq!(target("123"), Ok(Target::Id(123)));
        assert_eq!(target("-5"), Ok(Target::Id(-5)));
        assert_eq!(target("bpf-keys"), Ok(Target::Named("bpf-keys".into())));
        assert!(target("").is_err());
        assert!(target("99999999999").is_err());
        assert!(target("-x").is_err());
    }
}
