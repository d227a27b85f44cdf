//! `bpfsign`: generate signed light-skeleton artifacts from BPF objects, dump their parts, and
//! sign them offline (HSM).
//!
//! ```text
//! bpfsign gen OBJ.bpf.o (--key KEY.pem [--cert CERT] | --unsigned) [--name NAME] -o OUT.skel
//!             [--protocols p1,p1b,p2] [--allow-unsigned]
//!             [--kconfig FILE]... [--kconfig-value CONFIG_X=VALUE]... [--kernel-version 6.18.44]
//!             [--ksym-addr NAME=0xADDR]... [--possible-cpus N] [--page-size N]
//!             [--global VAR=VALUE]... [--max-entries MAP=N]...
//! bpfsign dump OUT.skel --protocol unsigned|p1|p1b|p2 --what insns|data|sig|excl -o FILE|-
//! bpfsign payload OUT.skel --protocol p1|p1b|p2 -o FILE|-
//! bpfsign attach-sig OUT.skel --protocol p1|p1b|p2 --sig FILE.der [--cert CERT] [-o NEW.skel]
//! bpfsign keygen -o PREFIX [--ec p256|p384 | --rsa-bits 2048|3072|4096] [--cn NAME] [--days N] [--force]
//! bpfsign inspect OUT.skel [--json]
//! bpfsign verify OUT.skel --cert CERT [--protocol p1|p1b|p2]... [--allow-unsigned]
//! bpfsign keyring add CERT [--keyring session|user|ID|NAME]
//! ```
//!
//! Errors are printed as `bpfsign: <stage>: <message>` and exit with status 1.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bpfsign_gen::artifact::{protocol_name, Artifact, ArtifactError};
use bpfsign_gen::{BuildError, Certificate, GenOptions, Protocol, ProtocolSelection, Signer};
use clap::{Args, Parser, Subcommand, ValueEnum};

mod inspect;
mod keygen;
mod keyring;
mod verify;

/// Generate signed BPF light skeletons (all kernel signing protocols from one build).
#[derive(Debug, Parser)]
#[command(name = "bpfsign", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate the signed loaders (p1, p1b, p2, or those of --protocols; the unsigned loader
    /// only with --allow-unsigned or --unsigned) for a BPF object and write the artifact (left
    /// untouched when unchanged).
    Gen(GenArgs),
    /// Write one part of an artifact as raw bytes.
    Dump(DumpArgs),
    /// Write the exact bytes a protocol's signature covers (P1/P1b: the loader instructions;
    /// P2: instructions ‖ data blob), to sign them elsewhere (HSM, `openssl cms -sign`).
    Payload(PayloadArgs),
    /// Insert a detached DER CMS signature made elsewhere into an artifact, after verifying it
    /// against the payload and the certificate.
    AttachSig(AttachSigArgs),
    /// Create a signing key and a self-signed certificate the kernel accepts: PREFIX.pem (key
    /// and certificate, mode 0600) and PREFIX.der (the certificate to register).
    Keygen(keygen::KeygenArgs),
    /// Describe an artifact: programs, maps, protocols, signatures, signer.
    Inspect(inspect::InspectArgs),
    /// Check every signed variant as the kernel and the loader will: signature over the
    /// protocol's payload with CERT, exclusive-map hash, the loader's blob hash.
    Verify(verify::VerifyArgs),
    /// Register certificates in kernel keyrings.
    #[command(subcommand)]
    Keyring(keyring::KeyringCommand),
}

#[derive(Debug, Args)]
struct GenArgs {
    /// The compiled BPF object (ELF).
    #[arg(value_name = "OBJ.bpf.o")]
    object: PathBuf,
    /// Private key: a PEM file holding the key and its certificate, or only the key (PEM or
    /// DER) when --cert names the certificate.
    #[arg(
        short = 'k',
        long,
        value_name = "KEY.pem",
        required_unless_present = "unsigned"
    )]
    key: Option<PathBuf>,
    /// The signer's X.509 certificate (PEM or DER), when not in the key file.
    #[arg(
        short = 'i',
        long,
        value_name = "CERT",
        requires = "key",
        conflicts_with = "unsigned"
    )]
    cert: Option<PathBuf>,
    /// Write an unsigned artifact (sign it later with `payload` and `attach-sig`). Implies
    /// --allow-unsigned.
    #[arg(long, conflicts_with = "key")]
    unsigned: bool,
    /// Also embed the unsigned loader. Off by default: without it the artifact (and any binary
    /// embedding it) carries no unsigned loader, so `BPFSIGN_PROTOCOL=unsigned` cannot load it.
    #[arg(long)]
    allow_unsigned: bool,
    /// The signed protocols whose loaders the artifact holds, comma-separated (default
    /// p1,p1b,p2). A kernel of a protocol left out cannot load the skeleton.
    #[arg(long, value_name = "p1,p1b,p2", value_parser = protocol_list)]
    protocols: Option<ProtocolList>,
    /// Object name (prefix of internal map names); default: the file name without .bpf.o,
    /// non-identifier characters replaced by '_'.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The artifact to write.
    #[arg(short = 'o', long = "output", value_name = "OUT.skel")]
    out: PathBuf,
    #[command(flatten)]
    inputs: BuildInputs,
}

/// Values libbpf would read from the build host; bpfsign takes them only from here.
#[derive(Debug, Args)]
#[command(next_help_heading = "Build inputs (never read from the build host)")]
struct BuildInputs {
    /// Kernel .config file giving the values of `CONFIG_*` .kconfig externs (repeatable; later
    /// files override earlier ones).
    #[arg(long, value_name = "FILE")]
    kconfig: Vec<PathBuf>,
    /// One .kconfig value, overriding the --kconfig files (repeatable).
    #[arg(long, value_name = "CONFIG_X=VALUE", value_parser = kconfig_value)]
    kconfig_value: Vec<(String, String)>,
    /// Value of the LINUX_KERNEL_VERSION extern: a release (6.18.44) or a hex KERNEL_VERSION
    /// (0x6122c).
    #[arg(long, value_name = "VERSION", value_parser = kernel_version)]
    kernel_version: Option<u32>,
    /// Address baked into a typeless ksym (the loader resolves it again at run time; repeatable).
    #[arg(long, value_name = "NAME=ADDR", value_parser = ksym_addr)]
    ksym_addr: Vec<(String, u64)>,
    /// CPU count for PERF_EVENT_ARRAY maps declared with max_entries 0.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    possible_cpus: Option<u32>,
    /// Page size that ring buffer sizes are rounded to (a power of two, at least 4096).
    #[arg(long, value_name = "BYTES", default_value_t = 4096, value_parser = page_size)]
    page_size: u32,
    /// Initial value of a global variable (.data*, .rodata*, .bss*; repeatable): an integer
    /// (42, -1, 0x2a), true/false, a double-quoted string for a char array ("abc"), or
    /// hex:0a0b… for the raw bytes of exactly the variable's size.
    #[arg(long = "global", value_name = "VAR=VALUE", value_parser = global_value)]
    globals: Vec<(String, bpfsign_gen::GlobalValue)>,
    /// max_entries of a BTF-defined map (repeatable).
    #[arg(long, value_name = "MAP=N", value_parser = max_entries)]
    max_entries: Vec<(String, u32)>,
}

#[derive(Debug, Args)]
struct DumpArgs {
    /// The artifact.
    #[arg(value_name = "OUT.skel")]
    artifact: PathBuf,
    /// The variant (needed for everything but data).
    #[arg(short = 'p', long, value_enum)]
    protocol: Option<ProtocolArg>,
    /// insns: loader instructions; data: the data blob (same for every protocol); sig: the DER
    /// CMS signature; excl: the 32-byte excl_prog_hash (SHA-256 of insns).
    #[arg(short = 'w', long, value_enum)]
    what: What,
    /// Output file ('-' = standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct PayloadArgs {
    /// The artifact (signed or not).
    #[arg(value_name = "OUT.skel")]
    artifact: PathBuf,
    /// The protocol whose payload to write.
    #[arg(short = 'p', long, value_enum)]
    protocol: SignedProtocolArg,
    /// Output file ('-' = standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct AttachSigArgs {
    /// The artifact (unsigned, or signed by the same key).
    #[arg(value_name = "OUT.skel")]
    artifact: PathBuf,
    /// The protocol the signature is for.
    #[arg(short = 'p', long, value_enum)]
    protocol: SignedProtocolArg,
    /// Detached DER CMS signature of `bpfsign payload`'s output, e.g. from `openssl cms -sign
    /// -binary -noattr -nocerts -keyid -md sha256 -outform DER`.
    #[arg(long, value_name = "FILE.der")]
    sig: PathBuf,
    /// The signer's certificate (PEM or DER); needed unless the artifact already carries it.
    #[arg(short = 'i', long, value_name = "CERT")]
    cert: Option<PathBuf>,
    /// Write the result here instead of replacing OUT.skel.
    #[arg(short = 'o', long = "output", value_name = "NEW.skel")]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ProtocolArg {
    Unsigned,
    P1,
    P1b,
    P2,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SignedProtocolArg {
    P1,
    P1b,
    P2,
}

impl From<ProtocolArg> for Protocol {
    fn from(p: ProtocolArg) -> Protocol {
        match p {
            ProtocolArg::Unsigned => Protocol::Unsigned,
            ProtocolArg::P1 => Protocol::P1,
            ProtocolArg::P1b => Protocol::P1b,
            ProtocolArg::P2 => Protocol::P2,
        }
    }
}

impl From<SignedProtocolArg> for Protocol {
    fn from(p: SignedProtocolArg) -> Protocol {
        match p {
            SignedProtocolArg::P1 => Protocol::P1,
            SignedProtocolArg::P1b => Protocol::P1b,
            SignedProtocolArg::P2 => Protocol::P2,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum What {
    Insns,
    Data,
    Sig,
    Excl,
}

fn kconfig_value(s: &str) -> Result<(String, String), String> {
    bpfsign_gen::parse_kconfig_assignment(s, "--kconfig-value").map_err(|e| e.to_string())
}

fn kernel_version(s: &str) -> Result<u32, String> {
    bpfsign_gen::parse_kernel_version(s).map_err(|e| e.to_string())
}

fn ksym_addr(s: &str) -> Result<(String, u64), String> {
    let (name, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not NAME=ADDR"))?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("'{name}' is not a kernel symbol name"));
    }
    let parsed = match addr.strip_prefix("0x").or_else(|| addr.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => addr.parse::<u64>(),
    };
    let addr = parsed.map_err(|_| format!("'{addr}' is not an address (0xHEX or decimal)"))?;
    Ok((name.to_string(), addr))
}

fn global_value(s: &str) -> Result<(String, bpfsign_gen::GlobalValue), String> {
    use bpfsign_gen::GlobalValue;
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not VAR=VALUE"))?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("'{name}' is not a variable name"));
    }
    let v = if let Some(hex) = value.strip_prefix("hex:") {
        if hex.len() % 2 != 0 {
            return Err(format!("'{hex}' is not an even number of hex digits"));
        }
        let bytes: Result<Vec<u8>, _> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("x"), 16))
            .collect();
        GlobalValue::Bytes(bytes.map_err(|_| format!("'{hex}' is not hex"))?)
    } else if let Some(text) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        GlobalValue::Str(text.to_string())
    } else if value == "true" || value == "false" {
        GlobalValue::Bool(value == "true")
    } else {
        let (neg, digits) = match value.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, value),
        };
        let bad =
            || format!("'{value}' is not a value: an integer, true/false, \"text\" or hex:BYTES");
        let (radix, body) = match digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
        {
            Some(h) => (16, h),
            None => (10, digits),
        };
        // Only digits after the one optional '-': the integer parser would take a sign of its own.
        if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
            return Err(bad());
        }
        let n = i128::from_str_radix(body, radix).map_err(|_| bad())?;
        GlobalValue::Int(if neg {
            n.checked_neg().ok_or_else(bad)?
        } else {
            n
        })
    };
    Ok((name.to_string(), v))
}

fn max_entries(s: &str) -> Result<(String, u32), String> {
    let (name, n) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not MAP=N"))?;
    let n = n
        .parse::<u32>()
        .map_err(|_| format!("'{n}' is not a number of entries"))?;
    Ok((name.to_string(), n))
}

fn page_size(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n >= 4096 && n.is_power_of_two() => Ok(n),
        _ => Err(format!(
            "'{s}' is not a page size (a power of two, at least 4096)"
        )),
    }
}

/// A failure with the pipeline stage it happened in.
struct Failure {
    stage: &'static str,
    message: String,
}

fn fail(stage: &'static str, message: impl ToString) -> Failure {
    Failure {
        stage,
        message: message.to_string(),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                // Help and version go to standard output and succeed.
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let text = e.render().to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text).trim_end();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                eprintln!("bpfsign: usage: no command given\n\n{text}");
            } else {
                eprintln!("bpfsign: usage: {text}");
            }
            return ExitCode::from(1);
        }
    };
    let result = match cli.command {
        Command::Gen(a) => gen(a),
        Command::Dump(a) => dump(a),
        Command::Payload(a) => payload(a),
        Command::AttachSig(a) => attach_sig(a),
        Command::Keygen(a) => keygen::keygen(a),
        Command::Inspect(a) => inspect::inspect(a),
        Command::Verify(a) => verify::verify(a),
        Command::Keyring(c) => keyring::keyring(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("bpfsign: {}: {}", f.stage, f.message);
            ExitCode::from(1)
        }
    }
}

/// The value of `--protocols p1b,p2` (one argument; a newtype so clap does not read it as a
/// repeated option).
#[derive(Clone, Debug)]
struct ProtocolList(Vec<Protocol>);

/// Parses `--protocols p1b,p2`.
fn protocol_list(text: &str) -> Result<ProtocolList, String> {
    bpfsign_gen::parse_protocol_list(text)
        .map(ProtocolList)
        .map_err(|e| e.to_string())
}

impl BuildInputs {
    fn apply(self, opts: &mut GenOptions) -> Result<(), Failure> {
        for file in &self.kconfig {
            let values = bpfsign_gen::read_kconfig(file).map_err(|e| match e {
                BuildError::Io { .. } => fail("read", e),
                e => fail("usage", e),
            })?;
            opts.kconfig.extend(values);
        }
        opts.kconfig.extend(self.kconfig_value);
        opts.kernel_version = self.kernel_version;
        opts.ksym_addrs.extend(self.ksym_addr);
        opts.possible_cpus = self.possible_cpus;
        opts.page_size = self.page_size;
        opts.globals.extend(self.globals);
        opts.max_entries.extend(self.max_entries);
        Ok(())
    }
}

fn gen(g: GenArgs) -> Result<(), Failure> {
    // The key is checked first: a bad key must fail before anything is read or written.
    let signer = match (&g.key, &g.cert) {
        (Some(key), Some(cert)) => {
            Some(Signer::from_key_and_cert(key, cert).map_err(|e| fail("key", e))?)
        }
        (Some(key), None) => Some(Signer::from_pem_file(key).map_err(|e| fail("key", e))?),
        (None, _) => None,
    };
    let mut opts = GenOptions {
        name: g.name,
        ..Default::default()
    };
    g.inputs.apply(&mut opts)?;
    let mut selection = ProtocolSelection::new().allow_unsigned(g.allow_unsigned || g.unsigned);
    if let Some(ProtocolList(list)) = &g.protocols {
        selection = selection
            .with_signed(list)
            .map_err(|e| fail("usage", format!("--protocols: {e}")))?;
    }
    let artifact = bpfsign_gen::sign_object_for(&g.object, signer.as_ref(), &opts, &selection)
        .map_err(|e| match e {
            BuildError::Io { .. } => fail("read", e),
            BuildError::Parse(_) => fail("parse", e),
            BuildError::Generate(_) => fail("generate", e),
            _ => fail("sign", e),
        })?;
    artifact
        .write_if_changed(&g.out)
        .map_err(|e| fail("write", e))?;
    Ok(())
}

fn read_artifact(path: &Path) -> Result<Artifact, Failure> {
    Artifact::read(path).map_err(|e| fail("read", format!("{}: {e}", path.display())))
}

fn write_out(out: &Path, bytes: &[u8]) -> Result<(), Failure> {
    if out.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(bytes)
            .and_then(|_| stdout.flush())
            .map_err(|e| fail("write", format!("stdout: {e}")))
    } else {
        std::fs::write(out, bytes).map_err(|e| fail("write", format!("{}: {e}", out.display())))
    }
}

fn dump(d: DumpArgs) -> Result<(), Failure> {
    let protocol = d.protocol.map(Protocol::from);
    let art = read_artifact(&d.artifact)?;
    let variant = || {
        let p = protocol.ok_or_else(|| {
            let what = d.what.to_possible_value().map(|v| v.get_name().to_string());
            fail(
                "usage",
                format!("--what {} needs --protocol", what.unwrap_or_default()),
            )
        })?;
        art.variant(p).ok_or_else(|| {
            fail(
                "dump",
                format!(
                    "{}: no {} variant in this artifact",
                    d.artifact.display(),
                    protocol_name(p)
                ),
            )
        })
    };
    let bytes: Vec<u8> = match d.what {
        What::Insns => variant()?.insns.clone(),
        What::Data => {
            if protocol.is_some() {
                variant()?; // the data blob is shared, but a named protocol must exist
            }
            art.data.clone()
        }
        What::Excl => variant()?.excl_prog_hash.to_vec(),
        What::Sig => {
            let v = variant()?;
            v.signature.clone().ok_or_else(|| {
                fail(
                    "dump",
                    format!(
                        "{}: the {} variant is not signed",
                        d.artifact.display(),
                        protocol_name(v.protocol)
                    ),
                )
            })?
        }
    };
    write_out(&d.out, &bytes)
}

fn payload(p: PayloadArgs) -> Result<(), Failure> {
    let protocol = Protocol::from(p.protocol);
    let art = read_artifact(&p.artifact)?;
    let bytes = art.payload(protocol).ok_or_else(|| {
        fail(
            "payload",
            format!(
                "{}: no {} variant in this artifact",
                p.artifact.display(),
                protocol_name(protocol)
            ),
        )
    })?;
    write_out(&p.out, &bytes)
}

fn attach_sig(a: AttachSigArgs) -> Result<(), Failure> {
    let protocol = Protocol::from(a.protocol);
    let cert = match &a.cert {
        Some(path) => Some(Certificate::from_file(path).map_err(|e| fail("cert", e))?),
        None => None,
    };
    let signature =
        std::fs::read(&a.sig).map_err(|e| fail("read", format!("{}: {e}", a.sig.display())))?;
    let mut art = read_artifact(&a.artifact)?;
    art.attach_signature(
        protocol,
        signature,
        cert.as_ref(),
        &a.sig.display().to_string(),
    )
    .map_err(|e| match e {
        ArtifactError::Signature { .. } => fail("verify", e),
        e => fail("attach", e),
    })?;
    let out = a.out.as_ref().unwrap_or(&a.artifact);
    art.write_if_changed(out).map_err(|e| fail("write", e))?;
    let missing: Vec<String> = art
        .missing_signatures()
        .into_iter()
        .map(protocol_name)
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "bpfsign: note: {} still has no signature for {}",
            out.display(),
            missing.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn value_parsers() {
        assert_eq!(
            ksym_addr("_stext=0xffffffff81000000").unwrap(),
            ("_stext".to_string(), 0xffff_ffff_8100_0000)
        );
        assert_eq!(ksym_addr("a=12").unwrap().1, 12);
        for bad in ["_stext", "=0x1", "a b=1", "x=0xZ", "x=-1"] {
            assert!(ksym_addr(bad).is_err(), "{bad}");
        }
        assert_eq!(page_size("65536").unwrap(), 65536);
        for bad in ["0", "2048", "5000", "x"] {
            assert!(page_size(bad).is_err(), "{bad}");
        }
        use bpfsign_gen::GlobalValue;
        assert_eq!(global_value("a=-0x10").unwrap().1, GlobalValue::Int(-16));
        assert_eq!(global_value("a=42").unwrap().1, GlobalValue::Int(42));
        assert_eq!(
            global_value("a=-170141183460469231731687303715884105727")
                .unwrap()
                .1,
            GlobalValue::Int(-i128::MAX)
        );
        assert_eq!(global_value("a=true").unwrap().1, GlobalValue::Bool(true));
        assert_eq!(
            global_value("a=\"x=y\"").unwrap().1,
            GlobalValue::Str("x=y".into())
        );
        assert_eq!(
            global_value("a=hex:0aff").unwrap().1,
            GlobalValue::Bytes(vec![10, 255])
        );
        for bad in [
            "a",
            "=1",
            "a b=1",
            "a=hex:0",
            "a=hex:zz",
            "a=yes",
            "a=\"open",
            // A sign of the integer parser's own, and a negation that overflows.
            "a=--5",
            "a=+5",
            "a=-+5",
            "a=0x-5",
            "a=-",
            "a=--170141183460469231731687303715884105728",
        ] {
            assert!(global_value(bad).is_err(), "{bad}");
        }
        assert_eq!(max_entries("m=8").unwrap(), ("m".to_string(), 8));
        for bad in ["m", "m=-1", "m=x"] {
            assert!(max_entries(bad).is_err(), "{bad}");
        }
    }
}
