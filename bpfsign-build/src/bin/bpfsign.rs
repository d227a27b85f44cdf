//! `bpfsign`: generate signed light-skeleton artifacts from BPF objects, and dump their parts.
//!
//! ```text
//! bpfsign gen OBJ.bpf.o (--key KEY.pem [--cert CERT] | --unsigned) [--name NAME] -o OUT.skel
//! bpfsign dump OUT.skel --protocol unsigned|p1|p1b|p2 --what insns|data|sig|excl -o FILE|-
//! ```
//!
//! Errors are printed as `bpfsign: <stage>: <message>` and exit with status 1.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use bpfsign_build::artifact::{self, Artifact};
use bpfsign_build::sign::Signer;

const USAGE: &str = "\
usage:
  bpfsign gen OBJ.bpf.o (--key KEY.pem [--cert CERT] | --unsigned) [--name NAME] -o OUT.skel
      Generate the loaders of every signing protocol (unsigned, p1, p1b, p2) for OBJ and write
      the artifact OUT.skel (left untouched when unchanged). KEY.pem holds the private key and
      its certificate, or only the key when --cert names the certificate (PEM or DER).
      --name sets the object name (prefix of internal map names); default: the file name
      without .bpf.o, non-identifier characters replaced by '_'.
  bpfsign dump OUT.skel --protocol unsigned|p1|p1b|p2 --what insns|data|sig|excl -o FILE
      Write one part of an artifact as raw bytes to FILE ('-' = standard output).
      insns: loader instructions; data: the data blob (same for every protocol);
      sig: the DER CMS signature; excl: the 32-byte excl_prog_hash (SHA-256 of insns).
";

/// A failure with the pipeline stage it happened in.
struct Failure {
    stage: &'static str,
    message: String,
}

fn fail(stage: &'static str, message: impl ToString) -> Failure {
    Failure { stage, message: message.to_string() }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("bpfsign: {}: {}", f.stage, f.message);
            ExitCode::from(1)
        }
    }
}

fn help() -> Result<(), Failure> {
    print!("{USAGE}");
    Ok(())
}

fn run(args: Vec<OsString>) -> Result<(), Failure> {
    let mut args = args.into_iter();
    let cmd = args.next().map(|a| a.to_string_lossy().into_owned());
    match cmd.as_deref() {
        Some("gen") => match parse_gen(args)? {
            Some(g) => gen(g),
            None => help(),
        },
        Some("dump") => match parse_dump(args)? {
            Some(d) => dump(d),
            None => help(),
        },
        Some("-h" | "--help" | "help") => help(),
        Some(other) => Err(fail("usage", format!("unknown command '{other}'\n{USAGE}"))),
        None => Err(fail("usage", format!("no command given\n{USAGE}"))),
    }
}

#[derive(Debug, Default)]
struct GenArgs {
    object: Option<PathBuf>,
    key: Option<PathBuf>,
    cert: Option<PathBuf>,
    unsigned: bool,
    name: Option<String>,
    out: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct DumpArgs {
    artifact: Option<PathBuf>,
    protocol: Option<String>,
    what: Option<String>,
    out: Option<PathBuf>,
}

/// Splits `--opt=value` and fetches the value of `--opt value`.
fn take_value(flag: &str, inline: Option<String>, rest: &mut impl Iterator<Item = OsString>) -> Result<OsString, Failure> {
    match inline {
        Some(v) => Ok(v.into()),
        None => rest.next().ok_or_else(|| fail("usage", format!("{flag} needs a value"))),
    }
}

fn split_flag(arg: &OsString) -> (String, Option<String>) {
    let s = arg.to_string_lossy();
    match s.split_once('=') {
        Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
        _ => (s.into_owned(), None),
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, flag: &str) -> Result<(), Failure> {
    if slot.is_some() {
        return Err(fail("usage", format!("{flag} given twice")));
    }
    *slot = Some(value);
    Ok(())
}

/// Parses `gen` arguments; `None` when help was asked for.
fn parse_gen(mut args: impl Iterator<Item = OsString>) -> Result<Option<GenArgs>, Failure> {
    let mut g = GenArgs::default();
    while let Some(arg) = args.next() {
        let (flag, inline) = split_flag(&arg);
        match flag.as_str() {
            "--key" | "-k" => set_once(&mut g.key, take_value(&flag, inline, &mut args)?.into(), "--key")?,
            "--cert" | "-i" => set_once(&mut g.cert, take_value(&flag, inline, &mut args)?.into(), "--cert")?,
            "--name" => {
                let v = take_value(&flag, inline, &mut args)?.to_string_lossy().into_owned();
                set_once(&mut g.name, v, "--name")?
            }
            "-o" | "--output" => set_once(&mut g.out, take_value(&flag, inline, &mut args)?.into(), "-o")?,
            "--unsigned" => g.unsigned = true,
            "-h" | "--help" => return Ok(None),
            f if f.starts_with('-') && f != "-" => return Err(fail("usage", format!("unknown option '{f}' for gen"))),
            _ => set_once(&mut g.object, PathBuf::from(arg), "the object file")?,
        }
    }
    if g.object.is_none() {
        return Err(fail("usage", "gen needs the BPF object file (bpfsign gen OBJ.bpf.o ...)"));
    }
    if g.out.is_none() {
        return Err(fail("usage", "gen needs -o OUT.skel"));
    }
    match (g.unsigned, g.key.is_some()) {
        (true, true) => return Err(fail("usage", "--unsigned and --key exclude each other")),
        (false, false) => return Err(fail("usage", "gen needs --key KEY.pem (or --unsigned for an unsigned artifact)")),
        _ => {}
    }
    if g.cert.is_some() && g.key.is_none() {
        return Err(fail("usage", "--cert needs --key"));
    }
    Ok(Some(g))
}

/// Parses `dump` arguments; `None` when help was asked for.
fn parse_dump(mut args: impl Iterator<Item = OsString>) -> Result<Option<DumpArgs>, Failure> {
    let mut d = DumpArgs::default();
    while let Some(arg) = args.next() {
        let (flag, inline) = split_flag(&arg);
        match flag.as_str() {
            "--protocol" | "-p" => {
                let v = take_value(&flag, inline, &mut args)?.to_string_lossy().into_owned();
                set_once(&mut d.protocol, v, "--protocol")?
            }
            "--what" | "-w" => {
                let v = take_value(&flag, inline, &mut args)?.to_string_lossy().into_owned();
                set_once(&mut d.what, v, "--what")?
            }
            "-o" | "--output" => set_once(&mut d.out, take_value(&flag, inline, &mut args)?.into(), "-o")?,
            "-h" | "--help" => return Ok(None),
            f if f.starts_with('-') && f != "-" => return Err(fail("usage", format!("unknown option '{f}' for dump"))),
            _ => set_once(&mut d.artifact, PathBuf::from(arg), "the artifact file")?,
        }
    }
    if d.artifact.is_none() {
        return Err(fail("usage", "dump needs the artifact file (bpfsign dump OUT.skel ...)"));
    }
    if d.what.is_none() {
        return Err(fail("usage", "dump needs --what insns|data|sig|excl"));
    }
    if d.out.is_none() {
        return Err(fail("usage", "dump needs -o FILE (or -o - for standard output)"));
    }
    Ok(Some(d))
}

fn gen(g: GenArgs) -> Result<(), Failure> {
    let (object, out) = (g.object.unwrap_or_default(), g.out.unwrap_or_default());
    // The key is checked first: a bad key must fail before anything is read or written.
    let signer = match (&g.key, &g.cert) {
        (Some(key), Some(cert)) => Some(Signer::from_key_and_cert(key, cert).map_err(|e| fail("key", e))?),
        (Some(key), None) => Some(Signer::from_pem_file(key).map_err(|e| fail("key", e))?),
        _ => None,
    };
    let elf = std::fs::read(&object).map_err(|e| fail("read", format!("{}: {e}", object.display())))?;
    let file_name = object.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let parsed = bpfsign_build::parse_object(&file_name, &elf).map_err(|e| fail("parse", e))?;
    let opts = bpfsign_build::GenOptions { name: g.name, ..Default::default() };
    let generated = bpfsign_build::generate(&parsed, &opts).map_err(|e| fail("generate", e))?;
    let artifact = Artifact::from_generated(generated, signer.as_ref()).map_err(|e| fail("sign", e))?;
    artifact.write_if_changed(&out).map_err(|e| fail("write", e))?;
    Ok(())
}

fn dump(d: DumpArgs) -> Result<(), Failure> {
    let (path, out) = (d.artifact.unwrap_or_default(), d.out.unwrap_or_default());
    let what = d.what.unwrap_or_default();
    let protocol = match d.protocol.as_deref() {
        Some(p) => Some(artifact::parse_protocol(p).ok_or_else(|| {
            fail("usage", format!("unknown protocol '{p}' (expected unsigned, p1, p1b or p2)"))
        })?),
        None => None,
    };
    let art = Artifact::read(&path).map_err(|e| fail("read", format!("{}: {e}", path.display())))?;
    let variant = || {
        let p = protocol.ok_or_else(|| fail("usage", format!("--what {what} needs --protocol")))?;
        art.variant(p).ok_or_else(|| {
            fail("dump", format!("{}: no {} variant in this artifact", path.display(), artifact::protocol_name(p)))
        })
    };
    let bytes: Vec<u8> = match what.as_str() {
        "insns" => variant()?.insns.clone(),
        "data" => {
            if protocol.is_some() {
                variant()?; // the data blob is shared, but a named protocol must exist
            }
            art.data.clone()
        }
        "excl" => variant()?.excl_prog_hash.to_vec(),
        "sig" => {
            let v = variant()?;
            v.signature.clone().ok_or_else(|| {
                fail("dump", format!("{}: the {} variant is not signed", path.display(), artifact::protocol_name(v.protocol)))
            })?
        }
        other => return Err(fail("usage", format!("unknown --what '{other}' (expected insns, data, sig or excl)"))),
    };
    if out.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&bytes).and_then(|_| stdout.flush()).map_err(|e| fail("write", format!("stdout: {e}")))
    } else {
        std::fs::write(&out, &bytes).map_err(|e| fail("write", format!("{}: {e}", out.display())))
    }
}
