//! From parsed macro input to a signed [`Artifact`]: evaluate `env!`, find files, sign (or
//! check offline signatures, or read an artifact), and list what rustc must track.

use std::fs;
use std::path::{Path, PathBuf};

use bpfsign_gen::artifact::{protocol_name, Artifact};
use bpfsign_gen::meta::Protocol;
use bpfsign_gen::sign::{Certificate, ExternalSigner, Signer, SIGNER_ENV};

use crate::input::{EnvLookup, MacroInput, StrArg};
use crate::naming::camel_case;

/// The outcome of resolving the macro input.
#[derive(Debug)]
pub struct Resolved {
    /// The signed (or already signed) artifact to embed.
    pub artifact: Artifact,
    /// The skeleton type name.
    pub type_name: String,
    /// Where the bytes come from, for the docs.
    pub origin: String,
    /// Absolute paths rustc must track.
    pub tracked_files: Vec<PathBuf>,
    /// Environment variables rustc must track.
    pub tracked_env: Vec<String>,
    /// Build warnings about the signing key (a TEST-ONLY certificate, a private key file
    /// others can read), one sentence each; [`crate::expand`] emits them as compile warnings.
    pub warnings: Vec<String>,
}

fn err(at: &StrArg, msg: impl std::fmt::Display) -> syn::Error {
    at.error(format!("bpfsign: {msg}"))
}

/// What resolving one macro input works with: the environment, the variables read from it
/// so far (they become rebuild triggers), and the directories relative paths start from.
struct ResolveContext<'a> {
    env: &'a dyn EnvLookup,
    /// Every variable an `env!` argument read, in first-use order.
    used_env: Vec<String>,
    /// `$CARGO_MANIFEST_DIR` of the crate expanding the macro.
    manifest_dir: Option<PathBuf>,
    /// `$OUT_DIR` of that crate (where `bpfsign_build` writes objects).
    out_dir: Option<PathBuf>,
    /// The private key file signing read, if any (its permissions are checked).
    key_file: Option<PathBuf>,
}

impl ResolveContext<'_> {
    /// Evaluates a string argument; an unset variable is an error saying how to set it.
    fn eval(&mut self, arg: &StrArg, what: &str) -> syn::Result<String> {
        arg.expr.eval(self.env, &mut self.used_env).map_err(|var| {
            let hint = if what == "key" {
                format!(
                    "set it to the PEM file holding the signing key and certificate, e.g. \
                     `{var}=keys/dev.pem cargo build`, or for the whole workspace in \
                     .cargo/config.toml: `[env] {var} = {{ value = \"keys/dev.pem\", relative = true }}` \
                     (a development key pair: `openssl req -new -x509 -nodes -newkey rsa:2048 \
                     -subj /CN=dev -addext subjectKeyIdentifier=hash -keyout keys/dev.pem -out keys/dev.pem`)"
                )
            } else {
                format!("set `{var}` to the {what} path")
            };
            err(arg, format!("environment variable `{var}` (for `{what}`) is not set: {hint}"))
        })
    }

    /// Finds an input file: absolute as is; relative in each base directory in turn.
    fn find(
        &self,
        arg: &StrArg,
        rel: &str,
        what: &str,
        bases: &[(&str, Option<&PathBuf>)],
    ) -> syn::Result<PathBuf> {
        let p = Path::new(rel);
        let hint = if what == "object" {
            "; if build.rs compiles it, check that build.rs calls \
             `bpfsign_build::compile(\"src/bpf/<name>.bpf.c\")` and that \
             the file name matches (`<name>.bpf.o`)"
        } else {
            ""
        };
        if p.is_absolute() {
            if p.is_file() {
                return Ok(p.to_path_buf());
            }
            return Err(err(
                arg,
                format!("{what} file `{rel}` does not exist{hint}"),
            ));
        }
        let mut tried = Vec::new();
        for (label, base) in bases {
            match base {
                Some(dir) => {
                    let cand = dir.join(p);
                    if cand.is_file() {
                        return Ok(cand);
                    }
                    tried.push(format!("{label} ({})", cand.display()));
                }
                None => tried.push(format!("{label} (not set)")),
            }
        }
        Err(err(
            arg,
            format!(
                "{what} file `{rel}` not found; looked in {}{hint}",
                tried.join(", then ")
            ),
        ))
    }
}

impl ResolveContext<'_> {
    /// The signer named by `key` (and `cert`), with both files tracked.
    fn signer(
        &mut self,
        key: &StrArg,
        cert: Option<&StrArg>,
        bases: &[(&str, Option<&PathBuf>)],
        tracked: &mut Vec<PathBuf>,
    ) -> syn::Result<Signer> {
        let key_rel = self.eval(key, "key")?;
        let key_path = absolute(self.find(key, &key_rel, "key", bases)?);
        tracked.push(key_path.clone());
        self.key_file = Some(key_path.clone());
        let Some(cert) = cert else {
            let pem = read(key, &key_path, "key")?;
            if !pem.windows(12).any(|w| w == b"PRIVATE KEY-") {
                return Err(err(
                    key,
                    format!(
                        "{} holds no PEM private key: `key` alone needs a PEM file with the \
                         private key and its X.509 certificate (the seed recipe `openssl req -x509 \
                         -newkey rsa:2048 -nodes -keyout K.pem -out K.pem` writes both); for a \
                         key and a certificate in separate files (PEM or DER) pass `cert = …` too",
                        key_path.display()
                    ),
                ));
            }
            return Signer::from_pem(&pem, &key_path.display().to_string()).map_err(|e| {
                err(
                    key,
                    format!(
                        "cannot use {} as signing key: {e}. It must be a PEM file holding the \
                         private key and the X.509 certificate (with a subjectKeyIdentifier); \
                         pass `cert = \"…\"` if the certificate is in another file",
                        key_path.display()
                    ),
                )
            });
        };
        let cert_rel = self.eval(cert, "cert")?;
        let cert_path = absolute(self.find(cert, &cert_rel, "certificate", bases)?);
        tracked.push(cert_path.clone());
        Signer::from_key_and_cert(&key_path, &cert_path).map_err(|e| {
            err(
                key,
                format!(
                    "cannot sign with key {} and certificate {}: {e}",
                    key_path.display(),
                    cert_path.display()
                ),
            )
        })
    }
}

fn absolute(p: PathBuf) -> PathBuf {
    fs::canonicalize(&p).unwrap_or(p)
}

fn read(at: &StrArg, path: &Path, what: &str) -> syn::Result<Vec<u8>> {
    fs::read(path).map_err(|e| {
        err(
            at,
            format!("cannot read {what} file {}: {e}", path.display()),
        )
    })
}

/// Resolves the macro input into an artifact plus the facts the code generator needs.
pub fn resolve(input: &MacroInput, env: &dyn EnvLookup) -> syn::Result<Resolved> {
    let mut ctx = ResolveContext {
        env,
        used_env: Vec::new(),
        manifest_dir: env.var("CARGO_MANIFEST_DIR").map(PathBuf::from),
        out_dir: env.var("OUT_DIR").map(PathBuf::from),
        key_file: None,
    };
    let cwd = std::env::current_dir().ok();
    let rel = ctx.eval(&input.path, "object")?;
    let obj_path = ctx.find(
        &input.path,
        &rel,
        "object",
        &[
            ("OUT_DIR", ctx.out_dir.as_ref()),
            ("CARGO_MANIFEST_DIR", ctx.manifest_dir.as_ref()),
        ],
    )?;
    let obj_path = absolute(obj_path);
    let bytes = read(&input.path, &obj_path, "object")?;
    let file_name = obj_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| rel.clone());
    let mut tracked_files = vec![obj_path.clone()];

    let key_bases = [
        ("CARGO_MANIFEST_DIR", ctx.manifest_dir.clone()),
        ("the current directory", cwd),
    ];
    let key_bases: Vec<(&str, Option<&PathBuf>)> =
        key_bases.iter().map(|(l, b)| (*l, b.as_ref())).collect();

    let (artifact, origin) = if bytes.starts_with(b"\x7fELF") {
        ctx.sign_object(input, &file_name, &bytes, &key_bases, &mut tracked_files)?
    } else {
        read_artifact(input, &obj_path, &file_name, &bytes)?
    };
    let warnings = check_artifact(&artifact, &file_name, ctx.key_file.as_deref())
        .map_err(|msg| err(&input.path, msg))?;
    let type_name = type_name(input, &artifact)?;
    Ok(Resolved {
        artifact,
        type_name,
        origin,
        tracked_files,
        tracked_env: ctx.used_env,
        warnings,
    })
}

impl ResolveContext<'_> {
    /// The artifact of a BPF object: signed now with `key`, completed with offline signatures
    /// (`cert` + `signature`), or unsigned with `allow_unsigned`; and its origin for the docs.
    fn sign_object(
        &mut self,
        input: &MacroInput,
        file_name: &str,
        bytes: &[u8],
        key_bases: &[(&str, Option<&PathBuf>)],
        tracked_files: &mut Vec<PathBuf>,
    ) -> syn::Result<(Artifact, String)> {
        let resolved = match (&input.key, &input.cert, &input.signature) {
            (Some(key), cert, None) => {
                let signer = self.signer(key, cert.as_ref(), key_bases, tracked_files)?;
                let generated = generate(file_name, bytes, input)?;
                let art = Artifact::from_generated(generated, Some(&signer))
                    .map_err(|e| err(key, format!("signing {file_name} failed: {e}")))?;
                (art, format!("`{file_name}`, signed at build time"))
            }
            (None, Some(cert), Some(sig)) => {
                let cert_rel = self.eval(cert, "cert")?;
                let cert_path = absolute(self.find(cert, &cert_rel, "certificate", key_bases)?);
                tracked_files.push(cert_path.clone());
                let certificate = Certificate::from_file(&cert_path)
                    .map_err(|e| err(cert, format!("bad certificate: {e}")))?;
                let prefix = self.eval(sig, "signature")?;
                let generated = generate(file_name, bytes, input)?;
                let (art, sig_files) = offline::attach_signatures(
                    generated,
                    &certificate,
                    &prefix,
                    key_bases,
                    sig,
                    input.allow_unsigned,
                )?;
                tracked_files.extend(sig_files);
                (art, format!("`{file_name}`, signed offline"))
            }
            (Some(key), _, Some(_)) => {
                return Err(err(key, "give either `key` (sign now) or `cert` + `signature` (signed offline), not both"));
            }
            (None, None, Some(sig)) => {
                return Err(err(sig, "`signature` needs `cert = \"…\"`: the certificate of the key that made the signatures"));
            }
            (None, Some(cert), None) => match self.env.var(SIGNER_ENV) {
                Some(command) => {
                    self.sign_with_command(&command, cert, file_name, bytes, input, key_bases, tracked_files)?
                }
                None => return Err(err(cert, format!("`cert` alone cannot sign: add `key = …` to sign now, `signature = …` for offline signatures, or set {SIGNER_ENV} to a signer command (`{SIGNER_ENV}=\"cmd … {{payload}} … {{out}}\"`)"))),
            },
            (None, None, None) if input.allow_unsigned => {
                let generated = generate(file_name, bytes, input)?;
                let art = Artifact::from_generated(generated, None).map_err(|e| {
                    err(
                        &input.path,
                        format!("cannot build the artifact of {file_name}: {e}"),
                    )
                })?;
                (
                    art,
                    format!("`{file_name}`, unsigned (`allow_unsigned = true`)"),
                )
            }
            (None, None, None) => {
                return Err(err(
                    &input.path,
                    format!(
                        "{file_name} is a BPF object and must be signed: add `key = env!(\"BPF_KEY\")` \
                         (a PEM with key and certificate), or `cert = …, signature = …` for offline \
                         signatures, or embed a signed artifact written by build.rs / `bpfsign gen`; \
                         `allow_unsigned = true` embeds it unsigned (loads only where signatures are \
                         not enforced, with BPFSIGN_PROTOCOL=unsigned)"
                    ),
                ));
            }
        };
        Ok(resolved)
    }
}

/// The checks of the artifact about to be embedded, whatever made it ([`crate::check`]): its
/// signatures and loaders, and the names that become identifiers. Returns the build warnings
/// about its signer (and the private key file `key_file` signing read).
fn check_artifact(
    artifact: &Artifact,
    file_name: &str,
    key_file: Option<&Path>,
) -> Result<Vec<String>, String> {
    crate::check::verify_embedded(artifact, file_name)?;
    crate::check::check_names(artifact)?;
    Ok(match &artifact.signer {
        Some(signer) => bpfsign_gen::sign::signing_warnings(signer, key_file),
        None => Vec::new(),
    })
}

impl ResolveContext<'_> {
    /// `cert` + the external signer `command` ([`SIGNER_ENV`]): the object's artifact with
    /// every protocol signed by the command, each signature verified with `cert`.
    #[allow(clippy::too_many_arguments)]
    fn sign_with_command(
        &mut self,
        command: &str,
        cert: &StrArg,
        file_name: &str,
        bytes: &[u8],
        input: &MacroInput,
        key_bases: &[(&str, Option<&PathBuf>)],
        tracked_files: &mut Vec<PathBuf>,
    ) -> syn::Result<(Artifact, String)> {
        if !self.used_env.iter().any(|v| v == SIGNER_ENV) {
            self.used_env.push(SIGNER_ENV.to_string());
        }
        let cert_rel = self.eval(cert, "cert")?;
        let cert_path = absolute(self.find(cert, &cert_rel, "certificate", key_bases)?);
        tracked_files.push(cert_path.clone());
        let certificate = Certificate::from_file(&cert_path)
            .map_err(|e| err(cert, format!("bad certificate: {e}")))?;
        let signer = ExternalSigner::new(command, certificate).map_err(|e| err(cert, e))?;
        let generated = generate(file_name, bytes, input)?;
        let mut art = Artifact::from_generated(generated, None)
            .map_err(|e| err(cert, format!("cannot build the artifact: {e}")))?;
        art.sign_externally(&signer).map_err(|e| {
            err(
                cert,
                format!("signing {file_name} with {SIGNER_ENV} failed: {e}"),
            )
        })?;
        Ok((
            art,
            format!("`{file_name}`, signed at build time by `{SIGNER_ENV}`"),
        ))
    }
}

/// A bpfsign artifact file (`.skel`), refused when it is not fully signed unless
/// `allow_unsigned`; and its origin for the docs.
fn read_artifact(
    input: &MacroInput,
    obj_path: &Path,
    file_name: &str,
    bytes: &[u8],
) -> syn::Result<(Artifact, String)> {
    let mut art = Artifact::from_bytes(bytes).map_err(|e| {
        err(
            &input.path,
            format!(
                "{} is neither a BPF object (ELF) nor a bpfsign artifact: {e}. Pass the \
                 `.bpf.o` from build.rs, or a `.skel` written by `bpfsign gen`",
                obj_path.display()
            ),
        )
    })?;
    if let Some(a) = input
        .key
        .as_ref()
        .or(input.cert.as_ref())
        .or(input.signature.as_ref())
    {
        let what = if art.signer.is_some() {
            "an already signed artifact"
        } else {
            "an artifact, not an object (sign it with `bpfsign payload` + `bpfsign attach-sig`)"
        };
        return Err(err(
            a,
            format!("{file_name} is {what}: remove `key`, `cert` and `signature`"),
        ));
    }
    if let Some(span) = input.config.first {
        return Err(syn::Error::new(
            span,
            format!(
                "bpfsign: {file_name} is an artifact, generated already: give the build configuration \
                 where it is generated (`BpfCompiler` in build.rs, `bpfsign gen`), or embed the object"
            ),
        ));
    }
    crate::select::select_variants(&mut art, input)
        .map_err(|e| err(&input.path, format!("{}: {e}", obj_path.display())))?;
    let missing = art.missing_signatures();
    if !missing.is_empty() && !input.allow_unsigned {
        return Err(err(
            &input.path,
            missing_signatures_message(obj_path, &art, &missing),
        ));
    }
    let origin = if missing.is_empty() {
        format!("the signed artifact `{file_name}`")
    } else if art.signer.is_none() {
        format!("the unsigned artifact `{file_name}` (`allow_unsigned = true`)")
    } else {
        format!("the partially signed artifact `{file_name}` (`allow_unsigned = true`)")
    };
    Ok((art, origin))
}

/// The skeleton's type name: `name = "…"`, else the object name in CamelCase.
fn type_name(input: &MacroInput, artifact: &Artifact) -> syn::Result<String> {
    let name = match &input.name {
        Some((n, _)) => n.clone(),
        None => {
            let camel = camel_case(&artifact.meta.name);
            if syn::parse_str::<syn::Ident>(&camel).is_err() {
                return Err(err(
                    &input.path,
                    format!(
                        "the object name `{}` gives no valid type name; pass `name = \"…\"`",
                        artifact.meta.name
                    ),
                ));
            }
            camel
        }
    };
    Ok(name)
}

/// The `openssl cms` invocation that signs a payload file the way the kernel verifies it.
pub(crate) fn openssl_sign_command(payload: &str, sig: &str) -> String {
    format!(
        "openssl cms -sign -binary -noattr -nocerts -nosmimecap -keyid -md sha256 -signer CERT \
         -inkey KEY -in {payload} -outform DER -out {sig}"
    )
}

/// Why an artifact with missing signatures is refused, and the commands that complete it.
fn missing_signatures_message(path: &Path, art: &Artifact, missing: &[Protocol]) -> String {
    let names: Vec<String> = missing.iter().map(|p| protocol_name(*p)).collect();
    let stem = art.meta.name.as_str();
    let skel = path.display();
    let cert = if art.certificate.is_some() {
        ""
    } else {
        " --cert CERT"
    };
    let p = &names[0];
    let state = if art.signer.is_none() {
        "is unsigned".to_string()
    } else {
        format!(
            "is only partially signed: no signature for {}",
            names.join(", ")
        )
    };
    format!(
        "{skel} {state}, and a kernel of those protocols refuses an unsigned loader. For each \
         of {list}: `bpfsign payload {skel} --protocol {p} -o {stem}.{p}.bin`, sign it \
         (HSM, or `{sign}`), then `bpfsign attach-sig {skel} --protocol {p} --sig {stem}.{p}.sig{cert}`. \
         Or sign it at once with `bpfsign gen OBJ --key KEY.pem -o {skel}`. To embed it anyway (those \
         protocols then fail at load time; BPFSIGN_PROTOCOL=unsigned still works where signatures \
         are not enforced) add `allow_unsigned = true`",
        list = names.join(", "),
        sign = openssl_sign_command(&format!("{stem}.{p}.bin"), &format!("{stem}.{p}.sig")),
    )
}

/// The loaders `input` selects (`protocols`, `allow_unsigned`) of the object `bytes`.
fn generate(
    file_name: &str,
    bytes: &[u8],
    input: &MacroInput,
) -> syn::Result<bpfsign_gen::Generated> {
    let at = &input.path;
    let obj = bpfsign_gen::parse_object(file_name, bytes)
        .map_err(|e| err(at, format!("cannot parse BPF object: {e}")))?;
    let selection = crate::select::selection(input);
    let config = &input.config;
    let generated = bpfsign_gen::generate_for(&obj, &config.gen_options(), &selection).map_err(
        |e| match config.span_of(&e) {
            Some(span) => syn::Error::new(span, format!("bpfsign: {e}")),
            None => err(at, format!("cannot generate the light skeleton: {e}")),
        },
    )?;
    config.check_groups(|var| {
        generated
            .meta
            .datasecs
            .iter()
            .find(|d| d.vars.iter().any(|v| v.name == var))
            .map(|d| d.section.as_str())
    })?;
    Ok(generated)
}

mod offline {
    //! Offline signatures: `<prefix>.{p1,p1b,p2}.sig`, verified against the declared
    //! certificate by [`Artifact::attach_signature`] (never against a certificate carried inside
    //! a signature).
    use super::*;

    pub(super) fn attach_signatures(
        generated: bpfsign_gen::Generated,
        cert: &Certificate,
        prefix: &str,
        bases: &[(&str, Option<&PathBuf>)],
        sig_arg: &StrArg,
        allow_unsigned: bool,
    ) -> syn::Result<(Artifact, Vec<PathBuf>)> {
        let mut art = Artifact::from_generated(generated, None)
            .map_err(|e| err(sig_arg, format!("cannot build the artifact: {e}")))?;
        let stem = art.meta.name.clone();
        let mut files = Vec::new();
        for protocol in art.missing_signatures() {
            let p = protocol_name(protocol);
            let name = format!("{prefix}.{p}.sig");
            let Some(path) = find_in(&name, bases) else {
                if allow_unsigned {
                    continue;
                }
                return Err(err(
                    sig_arg,
                    format!(
                        "offline signature `{name}` not found (relative paths: in \
                         CARGO_MANIFEST_DIR, then the current directory). Make it from the same \
                         object: `bpfsign gen OBJ --unsigned -o {stem}.skel`, `bpfsign payload \
                         {stem}.skel --protocol {p} -o {stem}.{p}.bin`, then `{sign}` (or the \
                         same with an HSM). `allow_unsigned = true` embeds the {p} loader \
                         unsigned instead",
                        sign = openssl_sign_command(&format!("{stem}.{p}.bin"), &name),
                    ),
                ));
            };
            let path = absolute(path);
            let sig = read(sig_arg, &path, "signature")?;
            let origin = path.display().to_string();
            // The error names the file, the certificate and the likely cause (other bytes,
            // another key, not a detached DER signature).
            art.attach_signature(protocol, sig, Some(cert), &origin)
                .map_err(|e| err(sig_arg, e))?;
            files.push(path);
        }
        if art.signer.is_none() {
            return Err(err(
                sig_arg,
                format!(
                    "no offline signature found under `{prefix}` (`{prefix}.p1.sig`, \
                     `.p1b.sig`, `.p2.sig`); with none at all drop `cert`/`signature` and keep \
                     `allow_unsigned = true`"
                ),
            ));
        }
        Ok((art, files))
    }

    fn find_in(rel: &str, bases: &[(&str, Option<&PathBuf>)]) -> Option<PathBuf> {
        let p = Path::new(rel);
        if p.is_absolute() {
            return p.is_file().then(|| p.to_path_buf());
        }
        bases
            .iter()
            .filter_map(|(_, b)| b.map(|b| b.join(p)))
            .find(|c| c.is_file())
    }
}
