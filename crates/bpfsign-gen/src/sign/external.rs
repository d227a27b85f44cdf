//! External signers: a command (HSM tool, `openssl cms`, a signing service client) that signs
//! one payload file into a detached DER CMS signature, named by [`SIGNER_ENV`]
//! (`BPFSIGN_SIGNER="cmd … {payload} … {out}"`).
//!
//! The command line is split into words with POSIX shell quoting rules (`'…'`, `"…"`,
//! backslashes), then `{payload}` and `{out}` are replaced *inside each word* by the paths of
//! the payload file and of the signature to write, and the program runs directly, without a
//! shell: a path is always exactly one argument, whatever characters it holds, and nothing in
//! the command is expanded (no `$VAR`, globs, pipes or `;`). A pipeline needs an explicit
//! `sh -c '… "$1" … "$2"' sh {payload} {out}`.
//!
//! Both files live in a fresh private temporary directory (mode 0700) that is removed
//! afterwards. The signature is read back and verified against the certificate before it is
//! used, so a command that signs with another key or over other bytes is an error, never a
//! binary the kernel refuses.

use std::fmt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::{Certificate, Result, SignError, MAX_SIGNATURE_SIZE};

/// The environment variable naming the external signer command.
pub const SIGNER_ENV: &str = "BPFSIGN_SIGNER";

/// The placeholder replaced by the payload file's path.
pub const PAYLOAD_PLACEHOLDER: &str = "{payload}";

/// The placeholder replaced by the path the command writes the signature to.
pub const OUT_PLACEHOLDER: &str = "{out}";

/// Most bytes of the command's standard error quoted in an error.
const STDERR_QUOTE: usize = 2000;

/// A signing command plus the certificate its signatures must verify with.
///
/// The command line (`cmd … {payload} … {out}`, usually from [`SIGNER_ENV`]) is split into
/// words with POSIX shell quoting rules, `{payload}` and `{out}` are replaced inside each word
/// by the paths of the payload file and of the signature to write, and the program runs
/// directly, without a shell: a path is always exactly one argument, and nothing is expanded
/// (no `$VAR`, globs, pipes or `;`); a pipeline needs an explicit
/// `sh -c '… "$1" … "$2"' sh {payload} {out}`. Both files live in a fresh private temporary
/// directory (mode 0700), removed afterwards. The signature is verified with the certificate
/// before it is returned.
#[derive(Clone)]
pub struct ExternalSigner {
    command: String,
    argv: Vec<String>,
    cert: Certificate,
}

impl fmt::Debug for ExternalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalSigner")
            .field("command", &self.command)
            .field("cert", self.cert.info())
            .finish()
    }
}

impl ExternalSigner {
    /// Parses `command` (see [`ExternalSigner`]); it must name a program and contain
    /// both `{payload}` and `{out}`.
    pub fn new(command: &str, cert: Certificate) -> Result<ExternalSigner> {
        let bad = |reason: &str| SignError::ExternalSigner {
            command: command.to_string(),
            reason: reason.to_string(),
        };
        let argv = shlex::split(command)
            .ok_or_else(|| bad("unbalanced quotes or a trailing backslash"))?;
        if argv.is_empty() {
            return Err(bad("the command is empty"));
        }
        for p in [PAYLOAD_PLACEHOLDER, OUT_PLACEHOLDER] {
            if !argv.iter().any(|w| w.contains(p)) {
                return Err(bad(&format!(
                    "it does not contain {p} (the command must read the payload from {PAYLOAD_PLACEHOLDER} and write the DER signature to {OUT_PLACEHOLDER})"
                )));
            }
        }
        Ok(ExternalSigner {
            command: command.to_string(),
            argv,
            cert,
        })
    }

    /// The certificate the signatures are verified with.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The command line as given.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Runs the command on `payload` and returns the signature it wrote, after verifying it
    /// over `payload` with the certificate. `what` names the payload in errors ("the p2
    /// payload").
    pub fn sign(&self, payload: &[u8], what: &str) -> Result<Vec<u8>> {
        let fail = |reason: String| SignError::ExternalSigner {
            command: self.command.clone(),
            reason: format!("signing {what}: {reason}"),
        };
        let dir = tempfile::Builder::new()
            .prefix("bpfsign-signer-")
            .tempdir()
            .map_err(|e| fail(format!("cannot create a temporary directory: {e}")))?;
        let payload_path = dir.path().join("payload.bin");
        let out_path = dir.path().join("signature.der");
        std::fs::write(&payload_path, payload)
            .map_err(|e| fail(format!("cannot write {}: {e}", payload_path.display())))?;
        let args: Vec<String> = self
            .argv
            .iter()
            .map(|w| substitute(w, &payload_path, &out_path))
            .collect();
        let output = Command::new(&args[0])
            .args(&args[1..])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail(format!("cannot run `{}`: {e}", args[0])))?;
        if !output.status.success() {
            return Err(fail(format!(
                "it failed ({}){}",
                output.status,
                stderr_quote(&output.stderr)
            )));
        }
        let sig = match std::fs::read(&out_path) {
            Ok(sig) if !sig.is_empty() => sig,
            Ok(_) => {
                return Err(fail(format!(
                    "it exited successfully but wrote an empty {OUT_PLACEHOLDER}{}",
                    stderr_quote(&output.stderr)
                )))
            }
            Err(e) => {
                return Err(fail(format!(
                    "it exited successfully but wrote no signature to {OUT_PLACEHOLDER} ({e}){}",
                    stderr_quote(&output.stderr)
                )))
            }
        };
        if sig.len() > MAX_SIGNATURE_SIZE {
            return Err(SignError::SignatureTooLarge { len: sig.len() });
        }
        let origin = format!("the signature of {what} made by `{}`", self.command);
        self.cert.verify_detached(payload, &sig, &origin)?;
        Ok(sig)
    }
}

fn substitute(word: &str, payload: &Path, out: &Path) -> String {
    word.replace(PAYLOAD_PLACEHOLDER, &payload.to_string_lossy())
        .replace(OUT_PLACEHOLDER, &out.to_string_lossy())
}

/// `: <stderr>` (its last [`STDERR_QUOTE`] bytes, trimmed), or nothing when it is empty.
fn stderr_quote(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let start = text.len().saturating_sub(STDERR_QUOTE);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    format!(": {}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::super::testutil::key;
    use super::*;
    use crate::sign::Signer;

    fn cert(name: &str) -> Certificate {
        Certificate::from_file(key(name)).unwrap()
    }

    /// `openssl cms` signing with `pem`, as an external signer command.
    fn openssl_command(pem: &str) -> String {
        let pem = key(pem);
        let pem = shlex::try_quote(pem.to_str().unwrap())
            .unwrap()
            .into_owned();
        format!(
            "openssl cms -sign -binary -noattr -nocerts -nosmimecap -keyid -md sha256 \
             -signer {pem} -inkey {pem} -in {{payload}} -outform DER -out {{out}}"
        )
    }

    #[test]
    fn openssl_as_external_signer_matches_the_builtin_signer() {
        let signer = ExternalSigner::new(
            &openssl_command("TEST-ONLY-key-a.pem"),
            cert("TEST-ONLY-key-a.der"),
        )
        .unwrap();
        let sig = signer.sign(b"payload bytes", "the test payload").unwrap();
        // RSA PKCS#1 v1.5 is deterministic: the same bytes as the built-in signer.
        let builtin = Signer::from_pem_file(key("TEST-ONLY-key-a.pem")).unwrap();
        assert_eq!(sig, builtin.sign(b"payload bytes").unwrap());
    }

    #[test]
    fn failures_are_clear_errors() {
        let a = || cert("TEST-ONLY-key-a.der");
        // Another key: refused by the verification.
        let e = ExternalSigner::new(&openssl_command("TEST-ONLY-key-b.pem"), a())
            .unwrap()
            .sign(b"x", "the p1 payload")
            .unwrap_err();
        assert!(matches!(e, SignError::SignatureMismatch { .. }), "{e}");
        assert!(e.to_string().contains("the p1 payload"), "{e}");
        // Non-zero exit, with its stderr quoted.
        let e = ExternalSigner::new("sh -c 'echo no token >&2; exit 3' sh {payload} {out}", a())
            .unwrap()
            .sign(b"x", "the p2 payload")
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("BPFSIGN_SIGNER")
                && text.contains("exit status: 3")
                && text.contains("no token"),
            "{text}"
        );
        // Success without output, empty output, garbage output.
        for (cmd, want) in [
            ("true {payload} {out}", "wrote no signature"),
            ("sh -c ': > \"$1\"' sh {out} {payload}", "empty"),
            ("cp {payload} {out}", "CMS"),
        ] {
            let e = ExternalSigner::new(cmd, a())
                .unwrap()
                .sign(b"not a signature", "the p1b payload")
                .unwrap_err();
            assert!(e.to_string().contains(want), "{cmd}: {e}");
        }
        // A program that does not exist.
        let e = ExternalSigner::new("/nonexistent/signer {payload} {out}", a())
            .unwrap()
            .sign(b"x", "p")
            .unwrap_err();
        assert!(e.to_string().contains("cannot run"), "{e}");
        // Malformed commands.
        for cmd in ["", "sign {payload}", "sign {out}", "sign '{payload} {out}"] {
            let e = ExternalSigner::new(cmd, a()).unwrap_err();
            assert!(matches!(e, SignError::ExternalSigner { .. }), "{cmd}: {e}");
        }
    }

    #[test]
    fn paths_are_single_arguments_and_nothing_is_expanded() {
        // The third argument reaches the program literally (exit 7 if a shell had expanded
        // `$HOME` or split at `;`); `{payload}.x` is the payload path plus `.x` in one word
        // (exit 8 otherwise). Exit 9 proves both.
        let signer = ExternalSigner::new(
            r#"sh -c 'test "$3" = "\$HOME;x" || exit 7; test -f "${1%.x}" || exit 8; exit 9' sh {payload}.x {out} '$HOME;x'"#,
            cert("TEST-ONLY-key-a.der"),
        )
        .unwrap();
        let e = signer.sign(b"x", "p").unwrap_err().to_string();
        assert!(e.contains("exit status: 9"), "{e}");
    }
}
