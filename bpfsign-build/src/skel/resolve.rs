//! From parsed macro input to a signed [`Artifact`]: evaluate `env!`, find files, sign (or
//! check offline signatures, or read an artifact), and list what rustc must track.

use std::fs;
use std::path::{Path, PathBuf};

use crate::artifact::Artifact;
use crate::meta::Protocol;
use crate::sign::Signer;

use super::input::{EnvLookup, MacroInput, StrArg};
use super::layout::camel_case;

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
}

fn err(at: &StrArg, msg: impl std::fmt::Display) -> syn::Error {
    at.error(format!("bpfsign: {msg}"))
}

struct Ctx<'a> {
    env: &'a dyn EnvLookup,
    used_env: Vec<String>,
    manifest_dir: Option<PathBuf>,
    out_dir: Option<PathBuf>,
}

impl Ctx<'_> {
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
             `bpfsign_build::compile::Skeleton::new(\"src/bpf/<name>.bpf.c\").compile()` and that \
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
    let mut ctx = Ctx {
        env,
        used_env: Vec::new(),
        manifest_dir: env.var("CARGO_MANIFEST_DIR").map(PathBuf::from),
        out_dir: env.var("OUT_DIR").map(PathBuf::from),
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
        let signed = match (&input.key, &input.cert, &input.signature) {
            (Some(key), cert, None) => {
                let key_rel = ctx.eval(key, "key")?;
                let key_path = absolute(ctx.find(key, &key_rel, "key", &key_bases)?);
                tracked_files.push(key_path.clone());
                let signer = match cert {
                    None => {
                        let pem = read(key, &key_path, "key")?;
                        if !pem.windows(12).any(|w| w == b"PRIVATE KEY-") {
                            return Err(err(key, format!(
                                "{} holds no PEM private key: `key` alone needs a PEM file with the \
                                 private key and its X.509 certificate (the seed recipe `openssl req -x509 \
                                 -newkey rsa:2048 -nodes -keyout K.pem -out K.pem` writes both); for a \
                                 key and a certificate in separate files (PEM or DER) pass `cert = …` too",
                                key_path.display()
                            )));
                        }
                        Signer::from_pem(&pem, &key_path.display().to_string()).map_err(|e| {
                            err(
                                key,
                                format!(
                            "cannot use {} as signing key: {e}. It must be a PEM file holding the \
                             private key and the X.509 certificate (with a subjectKeyIdentifier); \
                             pass `cert = \"…\"` if the certificate is in another file",
                            key_path.display()
                        ),
                            )
                        })?
                    }
                    Some(cert) => {
                        let cert_rel = ctx.eval(cert, "cert")?;
                        let cert_path =
                            absolute(ctx.find(cert, &cert_rel, "certificate", &key_bases)?);
                        tracked_files.push(cert_path.clone());
                        Signer::from_key_and_cert(&key_path, &cert_path).map_err(|e| {
                            err(
                                key,
                                format!(
                                    "cannot sign with key {} and certificate {}: {e}",
                                    key_path.display(),
                                    cert_path.display()
                                ),
                            )
                        })?
                    }
                };
                let generated = generate(&file_name, &bytes, &input.path)?;
                let art = Artifact::from_generated(generated, Some(&signer))
                    .map_err(|e| err(key, format!("signing {file_name} failed: {e}")))?;
                (art, format!("`{file_name}`, signed at build time"))
            }
            (None, Some(cert), Some(sig)) => {
                let cert_rel = ctx.eval(cert, "cert")?;
                let cert_path = absolute(ctx.find(cert, &cert_rel, "certificate", &key_bases)?);
                tracked_files.push(cert_path.clone());
                let prefix = ctx.eval(sig, "signature")?;
                let generated = generate(&file_name, &bytes, &input.path)?;
                let (art, sig_files) = offline::attach_signatures(
                    generated, &cert_path, &prefix, &key_bases, sig, cert,
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
            (None, Some(cert), None) => {
                return Err(err(cert, "`cert` alone cannot sign: add `key = …` to sign now, or `signature = …` for offline signatures"));
            }
            (None, None, None) => {
                return Err(err(
                    &input.path,
                    format!(
                        "{file_name} is a BPF object and must be signed: add `key = env!(\"BPF_KEY\")` \
                         (a PEM with key and certificate), or `cert = …, signature = …` for offline \
                         signatures, or embed a signed artifact written by build.rs / `bpfsign gen`"
                    ),
                ));
            }
        };
        signed
    } else {
        let art = Artifact::from_bytes(&bytes).map_err(|e| {
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
            return Err(err(
                a,
                format!("{file_name} is an already signed artifact: remove `key`, `cert` and `signature`"),
            ));
        }
        (art, format!("the signed artifact `{file_name}`"))
    };

    let type_name = match &input.name {
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
    Ok(Resolved {
        artifact,
        type_name,
        origin,
        tracked_files,
        tracked_env: ctx.used_env,
    })
}

fn generate(file_name: &str, bytes: &[u8], at: &StrArg) -> syn::Result<crate::Generated> {
    let obj = crate::parse_object(file_name, bytes)
        .map_err(|e| err(at, format!("cannot parse BPF object: {e}")))?;
    crate::generate(&obj, &crate::GenOptions::default())
        .map_err(|e| err(at, format!("cannot generate the light skeleton: {e}")))
}

mod offline {
    //! Offline signatures: `<prefix>.{p1,p1b,p2}.sig`, checked against the certificate.
    use super::*;
    use crate::artifact::signed_payload;

    /// The protocols that need a signature file.
    const SIGNED: [Protocol; 3] = [Protocol::P1, Protocol::P1b, Protocol::P2];

    fn proto_name(p: Protocol) -> &'static str {
        match p {
            Protocol::Unsigned => "unsigned",
            Protocol::P1 => "p1",
            Protocol::P1b => "p1b",
            Protocol::P2 => "p2",
        }
    }

    pub(super) fn attach_signatures(
        generated: crate::Generated,
        cert_path: &Path,
        prefix: &str,
        bases: &[(&str, Option<&PathBuf>)],
        sig_arg: &StrArg,
        cert_arg: &StrArg,
    ) -> syn::Result<(Artifact, Vec<PathBuf>)> {
        let cert_bytes = read(cert_arg, cert_path, "certificate")?;
        let cert = super::super::certs::Cert::parse(&cert_bytes).map_err(|e| {
            err(
                cert_arg,
                format!("bad certificate {}: {e}", cert_path.display()),
            )
        })?;
        let mut art = Artifact::from_generated(generated, None)
            .map_err(|e| err(sig_arg, format!("cannot build the artifact: {e}")))?;
        let mut files = Vec::new();
        let data = art.data.clone();
        for v in art.variants.iter_mut() {
            let Some(payload) = signed_payload(v.protocol, &v.insns, &data) else {
                continue;
            };
            if !SIGNED.contains(&v.protocol) {
                continue;
            }
            let name = format!("{prefix}.{}.sig", proto_name(v.protocol));
            let path = find_in(&name, bases).ok_or_else(|| {
                err(
                    sig_arg,
                    format!(
                    "offline signature `{name}` not found (relative to CARGO_MANIFEST_DIR or the \
                     current directory). Make it with `bpfsign gen OBJ --unsigned -o u.skel`, \
                     `bpfsign dump u.skel --protocol {p} --what insns -o payload`{p2}, then \
                     `openssl cms -sign -binary -noattr -nocerts -nosmimecap -keyid -md sha256 \
                     -signer CERT -inkey KEY -in payload -outform DER -out {name}`",
                    p = proto_name(v.protocol),
                    p2 = if v.protocol == Protocol::P2 {
                        " and append `--what data` to the payload (P2 signs insns ‖ data)"
                    } else {
                        ""
                    },
                ),
                )
            })?;
            let path = absolute(path);
            let sig = read(sig_arg, &path, "signature")?;
            cert.verify_detached(&payload, &sig).map_err(|e| {
                err(sig_arg, format!(
                    "{} does not verify with certificate {} over the {} payload: {e}. The object \
                     changed since it was signed, or another key signed it: sign the payloads again",
                    path.display(),
                    cert_path.display(),
                    proto_name(v.protocol)
                ))
            })?;
            v.signature = Some(sig);
            files.push(path);
        }
        art.signer = Some(cert.info().clone());
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
