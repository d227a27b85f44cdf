//! The compile stage: BPF C source → `.bpf.o` (and optionally a signed artifact) from build.rs.

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Protocol;
use bpfsign_gen::sign::{signing_warnings, Certificate, ExternalSigner, SIGNER_ENV};

/// Environment variable naming the BPF C compiler (a name on `PATH` or a path).
pub const COMPILER_ENV: &str = "BPFSIGN_CC";

/// Clang binary names tried, in order, when no compiler is configured.
const CLANG_NAMES: &[&str] = &[
    "clang", "clang-21", "clang-20", "clang-19", "clang-18", "clang-17", "clang-16", "clang-15",
    "clang-14",
];
/// GCC BPF back-end names tried after clang (upstream triple name, then Debian's name).
const GCC_NAMES: &[&str] = &["bpf-unknown-none-gcc", "bpf-gcc"];
/// Oldest GCC whose BTF the kernel accepts (GCC 12/13 output fails BTF_LOAD with ENOTSUPP).
const MIN_GCC_MAJOR: u32 = 14;

/// Which family of BPF C compiler to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compiler {
    /// Pick automatically: `$BPFSIGN_CC`, else the first clang, else the first GCC BPF back end.
    Auto,
    /// A clang binary (name on `PATH` or path).
    Clang(PathBuf),
    /// A GCC BPF cross compiler (`bpf-unknown-none-gcc` or Debian's `bpf-gcc`), version ≥ 14.
    Gcc(PathBuf),
}

/// A resolved compiler: its family, the binary, and its version string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedCompiler {
    /// `true` for GCC, `false` for clang.
    pub is_gcc: bool,
    /// The binary that will be run.
    pub path: PathBuf,
    /// What `--version` printed first.
    pub version: String,
}

/// An error of the compile stage. Every variant says what to do about it.
#[derive(Debug)]
pub enum CompileError {
    /// Neither clang nor a GCC BPF back end was found.
    NoCompiler {
        /// Names that were tried.
        tried: Vec<String>,
    },
    /// `$BPFSIGN_CC` or the configured compiler could not be run.
    CompilerNotRunnable {
        /// The compiler that failed to start.
        compiler: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// GCC older than 14: its BTF is rejected by the kernel.
    GccTooOld {
        /// The compiler binary.
        compiler: PathBuf,
        /// Its major version.
        major: u32,
    },
    /// The compiler ran and reported errors; `stderr` is its verbatim output.
    Failed {
        /// The source file being compiled.
        source_file: PathBuf,
        /// The full command line.
        command: String,
        /// The compiler's diagnostics, verbatim.
        stderr: String,
    },
    /// The source file does not exist.
    MissingSource(PathBuf),
    /// No output directory: `OUT_DIR` is unset (not in a build script) and none was configured.
    NoOutDir,
    /// Generating or signing the light skeleton of the compiled object failed.
    Signing {
        /// The compiled object.
        object: PathBuf,
        /// What went wrong, with the stage and what to do.
        message: String,
    },
    /// Reading or writing a file failed.
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::NoCompiler { tried } => write!(
                f,
                "bpfsign compile: no BPF C compiler found (tried {}). Install clang \
                 (`apt-get install clang`) or GCC ≥ 14 for BPF (Debian trixie: \
                 `apt-get install gcc-bpf`), or set {COMPILER_ENV} to a compiler name or path",
                tried.join(", ")
            ),
            CompileError::CompilerNotRunnable { compiler, source } => write!(
                f,
                "bpfsign compile: cannot run {}: {source}. Check {COMPILER_ENV} or the builder's \
                 .compiler(...) setting",
                compiler.display()
            ),
            CompileError::GccTooOld { compiler, major } => write!(
                f,
                "bpfsign compile: {} is GCC {major}; GCC < {MIN_GCC_MAJOR} emits BTF the kernel \
                 rejects at BTF_LOAD (ENOTSUPP). Use clang, or GCC ≥ {MIN_GCC_MAJOR} (Debian trixie's \
                 gcc-bpf package), via {COMPILER_ENV}",
                compiler.display()
            ),
            CompileError::Failed { source_file, command, stderr } => {
                write!(
                    f,
                    "bpfsign compile: compiling {} failed.\ncommand: {command}\n{stderr}",
                    source_file.display()
                )?;
                if let Some(hint) = missing_header_hint(stderr) {
                    write!(f, "\nhint: {hint}")?;
                }
                Ok(())
            }
            CompileError::MissingSource(p) => {
                write!(f, "bpfsign compile: source file {} does not exist", p.display())
            }
            CompileError::NoOutDir => write!(
                f,
                "bpfsign compile: OUT_DIR is not set; call from build.rs or set .out_dir(...)"
            ),
            CompileError::Signing { object, message } => write!(
                f,
                "bpfsign compile: making the signed light skeleton of {} failed: {message}",
                object.display()
            ),
            CompileError::Io { path, source } => {
                write!(f, "bpfsign compile: {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for CompileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CompileError::CompilerNotRunnable { source, .. } | CompileError::Io { source, .. } => {
                Some(source)
            }
            _ => None,
        }
    }
}

/// What [`BpfCompiler::compile`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compiled {
    /// The `.bpf.o` in the output directory.
    pub object: PathBuf,
    /// Every file the compiler read (source and headers), from its dependency output.
    pub inputs: Vec<PathBuf>,
    /// Whether the object's bytes changed (and the file was rewritten).
    pub changed: bool,
    /// The compiler that was used.
    pub compiler: ResolvedCompiler,
    /// The signed artifact `<name>.skel`, when [`BpfCompiler::signed_artifact`] asked for one.
    pub artifact: Option<PathBuf>,
    /// Warnings about the signing key (a TEST-ONLY certificate, a private key file others can
    /// read), one sentence each; also printed as `cargo:warning=` lines with cargo output on.
    pub warnings: Vec<String>,
}

/// Builder for compiling one BPF C source file into a `.bpf.o`.
#[derive(Clone, Debug)]
pub struct BpfCompiler {
    source: PathBuf,
    compiler: Compiler,
    include_dirs: Vec<PathBuf>,
    extra_flags: Vec<OsString>,
    out_dir: Option<PathBuf>,
    object_name: Option<String>,
    target_arch: Option<String>,
    cargo_output: bool,
    signing_key: Option<PathBuf>,
    /// Signed protocols of the artifact (`None`: all three).
    protocols: Option<Vec<Protocol>>,
    /// Whether the artifact embeds the unsigned loader too.
    allow_unsigned: bool,
    signer_command: Option<String>,
    /// Build configuration of the signed artifact (`crate::config`'s methods).
    pub(crate) gen_options: crate::GenOptions,
}

impl BpfCompiler {
    /// Starts a builder for `source` (a `.bpf.c` file, relative to the crate root in build.rs).
    pub fn new(source: impl Into<PathBuf>) -> Self {
        BpfCompiler {
            source: source.into(),
            compiler: Compiler::Auto,
            include_dirs: Vec::new(),
            extra_flags: Vec::new(),
            out_dir: None,
            object_name: None,
            target_arch: None,
            cargo_output: true,
            signing_key: None,
            protocols: None,
            allow_unsigned: false,
            signer_command: None,
            gen_options: crate::GenOptions::default(),
        }
    }

    /// Chooses the compiler explicitly (overrides auto-detection; `$BPFSIGN_CC` still wins).
    pub fn compiler(&mut self, compiler: Compiler) -> &mut Self {
        self.compiler = compiler;
        self
    }

    /// Adds an include directory (`-I`), e.g. one holding a `vmlinux.h`.
    pub fn include(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.include_dirs.push(dir.into());
        self
    }

    /// Adds a raw compiler flag.
    pub fn flag(&mut self, flag: impl Into<OsString>) -> &mut Self {
        self.extra_flags.push(flag.into());
        self
    }

    /// Sets the output directory (default: `$OUT_DIR`).
    pub fn out_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Sets the output file stem (default: the source's stem without `.bpf`), giving `<name>.bpf.o`.
    pub fn object_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.object_name = Some(name.into());
        self
    }

    /// Sets the Rust target architecture used for `-D__TARGET_ARCH_*`
    /// (default: `$CARGO_CFG_TARGET_ARCH`, else the host's).
    pub fn target_arch(&mut self, arch: impl Into<String>) -> &mut Self {
        self.target_arch = Some(arch.into());
        self
    }

    /// Whether to print `cargo:` directives (default `true`; turn off outside build scripts).
    pub fn cargo_output(&mut self, on: bool) -> &mut Self {
        self.cargo_output = on;
        self
    }

    /// Also generates and signs the light skeleton with the key + certificate PEM at `key_pem`
    /// and writes it as `<out_dir>/<name>.skel` (only if its bytes changed), for
    /// `include_signed_skel!("<name>.skel")`: the signing then happens here, not in the macro.
    ///
    /// With a signer command ([`BpfCompiler::signer_command`], or `$BPFSIGN_SIGNER`),
    /// `key_pem` only needs to hold the certificate (PEM or DER): the command signs each
    /// protocol's payload (see [`bpfsign_gen::sign::ExternalSigner`]) and every signature is
    /// verified with that certificate. Either way the finished artifact is verified as the
    /// kernel will ([`crate::Artifact::verify`]) before it is written, and a TEST-ONLY
    /// certificate or a private key file others can read gives a `cargo:warning`.
    pub fn signed_artifact(&mut self, key_pem: impl Into<PathBuf>) -> &mut Self {
        self.signing_key = Some(key_pem.into());
        self
    }

    /// With [`BpfCompiler::signed_artifact`]: the signed protocols whose loaders the artifact
    /// holds (default P1, P1b and P2). A kernel of a protocol left out cannot load the
    /// skeleton (the runtime says so with `ErrorKind::ProtocolNotEmbedded`). An empty list or
    /// [`Protocol::Unsigned`] makes [`BpfCompiler::compile`] fail; the unsigned loader is
    /// [`BpfCompiler::allow_unsigned`].
    pub fn protocols(&mut self, protocols: &[Protocol]) -> &mut Self {
        self.protocols = Some(protocols.to_vec());
        self
    }

    /// With [`BpfCompiler::signed_artifact`]: also embed the unsigned loader (default `false`).
    /// Without it the artifact, and any binary embedding it, has no unsigned loader, so
    /// `BPFSIGN_PROTOCOL=unsigned` cannot make the binary load without a signature.
    pub fn allow_unsigned(&mut self, on: bool) -> &mut Self {
        self.allow_unsigned = on;
        self
    }

    /// Signs [`BpfCompiler::signed_artifact`] with an external command instead of a private
    /// key file: `cmd … {payload} … {out}` (split with shell quoting rules and run without a
    /// shell; see [`bpfsign_gen::sign::ExternalSigner`]). Default: `$BPFSIGN_SIGNER` when set.
    pub fn signer_command(&mut self, command: impl Into<String>) -> &mut Self {
        self.signer_command = Some(command.into());
        self
    }

    /// Compiles the source and writes `<out_dir>/<name>.bpf.o` if its bytes changed.
    pub fn compile(&self) -> Result<Compiled, CompileError> {
        if self.cargo_output {
            println!("cargo:rerun-if-env-changed={COMPILER_ENV}");
            println!("cargo:rerun-if-changed={}", self.source.display());
        }
        if !self.source.is_file() {
            return Err(CompileError::MissingSource(self.source.clone()));
        }
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(CompileError::NoOutDir)?,
        };
        fs::create_dir_all(&out_dir).map_err(|source| CompileError::Io {
            path: out_dir.clone(),
            source,
        })?;
        let compiler = resolve_compiler(&self.compiler, std::env::var_os(COMPILER_ENV))?;
        let stem = self
            .object_name
            .clone()
            .unwrap_or_else(|| object_stem(&self.source));
        let object = out_dir.join(format!("{stem}.bpf.o"));
        // The compiler's outputs go to a fresh private directory (random name, mode 0700)
        // inside the output directory, removed when done: no predictable path a planted link
        // could redirect. The object then replaces `object` atomically, if its bytes changed.
        let scratch = tempfile::Builder::new()
            .prefix(&format!(".{stem}.bpf."))
            .tempdir_in(&out_dir)
            .map_err(|source| CompileError::Io {
                path: out_dir.clone(),
                source,
            })?;
        let tmp_object = scratch.path().join(format!("{stem}.bpf.o"));
        let depfile = scratch.path().join(format!("{stem}.bpf.d"));
        let arch = self
            .target_arch
            .clone()
            .or_else(|| std::env::var("CARGO_CFG_TARGET_ARCH").ok())
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());

        let mut cmd = Command::new(&compiler.path);
        cmd.args(compiler_flags(&compiler, &arch));
        for dir in &self.include_dirs {
            cmd.arg("-I").arg(dir);
        }
        for dir in default_include_dirs(&arch) {
            cmd.arg("-idirafter").arg(dir);
        }
        if compiler.is_gcc {
            // A GCC BPF cross compiler has no host system include path; clang -target bpf does.
            // The host's /usr/include holds the UAPI and libbpf headers BPF programs include.
            cmd.arg("-idirafter").arg("/usr/include");
        }
        cmd.args(&self.extra_flags);
        cmd.arg("-MD").arg("-MF").arg(&depfile);
        cmd.arg("-c").arg(&self.source).arg("-o").arg(&tmp_object);
        let command = format!("{cmd:?}");
        let output = cmd
            .output()
            .map_err(|source| CompileError::CompilerNotRunnable {
                compiler: compiler.path.clone(),
                source,
            })?;
        if !output.status.success() {
            let _ = fs::remove_file(&tmp_object);
            return Err(CompileError::Failed {
                source_file: self.source.clone(),
                command,
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        let bytes = fs::read(&tmp_object).map_err(|source| CompileError::Io {
            path: tmp_object.clone(),
            source,
        })?;
        let _ = fs::remove_file(&tmp_object);
        let changed = write_if_changed(&object, &bytes).map_err(|source| CompileError::Io {
            path: object.clone(),
            source,
        })?;
        let dep_text = fs::read_to_string(&depfile).map_err(|source| CompileError::Io {
            path: depfile.clone(),
            source,
        })?;
        let inputs = parse_depfile(&dep_text);
        if self.cargo_output {
            for input in &inputs {
                println!("cargo:rerun-if-changed={}", input.display());
            }
        }
        let (artifact, warnings) = match &self.signing_key {
            None => (None, Vec::new()),
            Some(key) => {
                if self.cargo_output {
                    println!("cargo:rerun-if-changed={}", key.display());
                    println!("cargo:rerun-if-env-changed={SIGNER_ENV}");
                }
                let command = match &self.signer_command {
                    Some(c) => Some(c.clone()),
                    None => std::env::var(SIGNER_ENV).ok().filter(|c| !c.is_empty()),
                };
                let skel = out_dir.join(format!("{stem}.skel"));
                let selection = self.selection().map_err(|e| CompileError::Signing {
                    object: object.clone(),
                    message: format!("BpfCompiler::protocols: {e}"),
                })?;
                let warnings = write_signed_artifact(
                    &object,
                    key,
                    command.as_deref(),
                    &skel,
                    &selection,
                    &self.gen_options,
                )?;
                if self.cargo_output {
                    for w in &warnings {
                        println!("cargo:warning=bpfsign: {w}");
                    }
                }
                (Some(skel), warnings)
            }
        };
        Ok(Compiled {
            object,
            inputs,
            changed,
            compiler,
            artifact,
            warnings,
        })
    }
}

/// A hint for the usual reasons a BPF compile cannot find a header.
fn missing_header_hint(stderr: &str) -> Option<&'static str> {
    if stderr.contains("bpf/bpf_helpers.h") || stderr.contains("bpf/bpf_tracing.h") {
        Some("the libbpf BPF headers are missing: `apt-get install libbpf-dev`, or add their directory with .include(...)")
    } else if stderr.contains("asm/types.h") {
        Some("the kernel UAPI headers are missing: `apt-get install linux-libc-dev` (and for cross targets the matching multiarch package)")
    } else if stderr.contains("vmlinux.h") {
        Some("vmlinux.h is not generated by bpfsign: make one with `bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h` and add its directory with .include(...)")
    } else {
        None
    }
}

impl BpfCompiler {
    /// The loaders of the artifact: [`BpfCompiler::protocols`] + [`BpfCompiler::allow_unsigned`].
    fn selection(&self) -> Result<bpfsign_gen::ProtocolSelection, bpfsign_gen::SelectionError> {
        let selection = bpfsign_gen::ProtocolSelection::new().allow_unsigned(self.allow_unsigned);
        match &self.protocols {
            Some(list) => selection.with_signed(list),
            None => Ok(selection),
        }
    }
}

/// Signs `object` with the PEM key + certificate at `key` (or, with `command`, by running that
/// signer with the certificate at `key`), verifies the result and writes the artifact with the
/// `selection`'s loaders to `skel`. Returns the warnings about the signing key.
fn write_signed_artifact(
    object: &Path,
    key: &Path,
    command: Option<&str>,
    skel: &Path,
    selection: &bpfsign_gen::ProtocolSelection,
    options: &crate::GenOptions,
) -> Result<Vec<String>, CompileError> {
    let signing = |message: String| CompileError::Signing {
        object: object.to_path_buf(),
        message,
    };
    let (artifact, cert, warnings) = match command {
        Some(command) => {
            let cert = Certificate::from_file(key).map_err(|e| signing(e.to_string()))?;
            let signer =
                ExternalSigner::new(command, cert.clone()).map_err(|e| signing(e.to_string()))?;
            let mut artifact = bpfsign_gen::sign_object_for(object, None, options, selection)
                .map_err(|e| signing(e.to_string()))?;
            artifact
                .sign_externally(&signer)
                .map_err(|e| signing(e.to_string()))?;
            let warnings = signing_warnings(cert.info(), None);
            (artifact, cert, warnings)
        }
        None => {
            let signer = crate::Signer::from_pem_file(key).map_err(|e| signing(e.to_string()))?;
            let artifact = bpfsign_gen::sign_object_for(object, Some(&signer), options, selection)
                .map_err(|e| signing(e.to_string()))?;
            let warnings = signing_warnings(signer.info(), Some(key));
            (artifact, signer.certificate().clone(), warnings)
        }
    };
    artifact.verify(&cert).map_err(|e| {
        signing(format!(
            "the signed artifact does not verify as the kernel will check it: {e}"
        ))
    })?;
    artifact
        .write_if_changed(skel)
        .map_err(|e| signing(e.to_string()))?;
    Ok(warnings)
}

/// The object stem for a source path: `src/bpf/hello.bpf.c` → `hello`.
fn object_stem(source: &Path) -> String {
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = name.strip_suffix(".c").unwrap_or(&name);
    let name = name.strip_suffix(".bpf").unwrap_or(name);
    name.to_string()
}

/// Maps a Rust `target_arch` to the suffix of libbpf's `__TARGET_ARCH_*` macros.
pub fn target_arch_define(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" | "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" | "powerpc" => "powerpc",
        "s390x" => "s390",
        "riscv64" | "riscv32" => "riscv",
        "loongarch64" => "loongarch",
        "mips" | "mips64" => "mips",
        "sparc64" => "sparc",
        other => other,
    }
}

/// The multiarch include directory (for `asm/types.h`) of the target, when it exists.
fn default_include_dirs(rust_arch: &str) -> Vec<PathBuf> {
    let triple = match rust_arch {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "s390x" => "s390x-linux-gnu",
        "powerpc64" => "powerpc64le-linux-gnu",
        "riscv64" => "riscv64-linux-gnu",
        "loongarch64" => "loongarch64-linux-gnu",
        _ => return Vec::new(),
    };
    let dir = PathBuf::from("/usr/include").join(triple);
    if dir.is_dir() {
        vec![dir]
    } else {
        Vec::new()
    }
}

/// The flags every BPF compile gets for the given compiler family and target architecture.
fn compiler_flags(compiler: &ResolvedCompiler, arch: &str) -> Vec<OsString> {
    let mut flags: Vec<OsString> = vec!["-O2".into(), "-g".into()];
    if compiler.is_gcc {
        // GCC emits BTF with -gbtf and CO-RE records with -mco-re (default on with -gbtf in 14).
        flags.push("-gbtf".into());
    } else {
        flags.push("-target".into());
        flags.push("bpf".into());
        // Keep build paths out of the object so outputs are reproducible.
        flags.push("-fdebug-compilation-dir=.".into());
    }
    flags.push(format!("-D__TARGET_ARCH_{}", target_arch_define(arch)).into());
    flags
}

/// Finds the compiler to use: `env_override` (`$BPFSIGN_CC`) first, then `choice`.
pub fn resolve_compiler(
    choice: &Compiler,
    env_override: Option<OsString>,
) -> Result<ResolvedCompiler, CompileError> {
    if let Some(cc) = env_override.filter(|v| !v.is_empty()) {
        let path = PathBuf::from(cc);
        return probe(&path)?.ok_or_else(|| CompileError::NoCompiler {
            tried: vec![format!("{COMPILER_ENV}={}", path.display())],
        });
    }
    let candidates: Vec<PathBuf> = match choice {
        Compiler::Clang(p) | Compiler::Gcc(p) => vec![p.clone()],
        Compiler::Auto => CLANG_NAMES
            .iter()
            .chain(GCC_NAMES)
            .map(PathBuf::from)
            .collect(),
    };
    let explicit = !matches!(choice, Compiler::Auto);
    for cand in &candidates {
        match probe(cand) {
            Ok(Some(found)) => return Ok(found),
            Ok(None) => {}
            Err(e @ CompileError::GccTooOld { .. }) => return Err(e),
            Err(e) if explicit => return Err(e),
            Err(_) => {}
        }
    }
    Err(CompileError::NoCompiler {
        tried: candidates.iter().map(|p| p.display().to_string()).collect(),
    })
}

/// Runs `compiler --version`; `Ok(None)` when it does not exist.
fn probe(compiler: &Path) -> Result<Option<ResolvedCompiler>, CompileError> {
    let out = match output_retrying_busy(Command::new(compiler).arg("--version")) {
        Ok(out) => out,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CompileError::CompilerNotRunnable {
                compiler: compiler.to_path_buf(),
                source,
            })
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.lines().next().unwrap_or("").trim().to_string();
    let is_gcc = !version.to_ascii_lowercase().contains("clang");
    if is_gcc {
        let major = gcc_major(compiler).unwrap_or(0);
        if major < MIN_GCC_MAJOR {
            return Err(CompileError::GccTooOld {
                compiler: compiler.to_path_buf(),
                major,
            });
        }
    }
    Ok(Some(ResolvedCompiler {
        is_gcc,
        path: compiler.to_path_buf(),
        version,
    }))
}

/// Runs `cmd`, retrying briefly on ETXTBSY ("Text file busy"): a compiler wrapper script that
/// was just written can still be open for writing in a child another thread forked but has not
/// yet exec'd (build scripts and tests run threads that spawn processes).
fn output_retrying_busy(cmd: &mut Command) -> io::Result<std::process::Output> {
    const ETXTBSY: i32 = 26;
    let mut tries = 0;
    loop {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < 20 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            r => return r,
        }
    }
}

/// GCC's major version from `-dumpversion`.
fn gcc_major(compiler: &Path) -> Option<u32> {
    let out = output_retrying_busy(Command::new(compiler).arg("-dumpversion")).ok()?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Parses a make-style dependency file into the list of prerequisites.
pub fn parse_depfile(text: &str) -> Vec<PathBuf> {
    let joined = text.replace("\\\n", " ").replace("\\\r\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let Some((_, deps)) = split_rule(line) else {
            continue;
        };
        let mut current = String::new();
        let mut chars = deps.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&' ') => {
                    current.push(' ');
                    chars.next();
                }
                ' ' | '\t' => {
                    if !current.is_empty() {
                        out.push(PathBuf::from(std::mem::take(&mut current)));
                    }
                }
                _ => current.push(c),
            }
        }
        if !current.is_empty() {
            out.push(PathBuf::from(current));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Splits `target: deps` at the first `:` that is followed by whitespace or the end.
fn split_rule(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b':' && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace()) {
            return Some((&line[..i], &line[i + 1..]));
        }
    }
    None
}

/// Writes `bytes` to `path` unless the file already holds exactly them; returns whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    bpfsign_gen::artifact::write_file_if_changed(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depfile_with_continuations_and_escaped_spaces() {
        let text = "out/hello.bpf.o: src/hello.bpf.c \\\n /usr/include/bpf/bpf_helpers.h \\\n  my\\ dir/x.h\n";
        let deps = parse_depfile(text);
        assert_eq!(
            deps,
            vec![
                PathBuf::from("/usr/include/bpf/bpf_helpers.h"),
                PathBuf::from("my dir/x.h"),
                PathBuf::from("src/hello.bpf.c"),
            ]
        );
    }

    #[test]
    fn stems_and_arch_defines() {
        assert_eq!(object_stem(Path::new("src/bpf/hello.bpf.c")), "hello");
        assert_eq!(object_stem(Path::new("x.c")), "x");
        assert_eq!(target_arch_define("x86_64"), "x86");
        assert_eq!(target_arch_define("aarch64"), "arm64");
        assert_eq!(target_arch_define("s390x"), "s390");
    }

    #[test]
    fn missing_compiler_is_a_clear_error() {
        let err =
            resolve_compiler(&Compiler::Clang("/nonexistent/clang-99".into()), None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("no BPF C compiler found"), "{msg}");
        assert!(msg.contains(COMPILER_ENV), "{msg}");
    }

    #[test]
    fn env_override_wins_and_is_named_in_errors() {
        let err =
            resolve_compiler(&Compiler::Auto, Some("/nonexistent/bpf-cc".into())).unwrap_err();
        assert!(
            err.to_string().contains("BPFSIGN_CC=/nonexistent/bpf-cc"),
            "{err}"
        );
    }

    #[test]
    fn compiler_diagnostics_are_verbatim_with_a_hint() {
        let dir = std::env::temp_dir().join(format!("bpfsign-cc-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let src = dir.join("broken.bpf.c");
        fs::write(&src, "#include <bpf/no_such_header.h>\nint x = ;\n").unwrap();
        let Ok(cc) = resolve_compiler(&Compiler::Auto, None) else {
            panic!("no BPF compiler installed: run tests/setup-debian.sh");
        };
        let err = BpfCompiler::new(&src)
            .out_dir(&dir)
            .cargo_output(false)
            .compiler(if cc.is_gcc {
                Compiler::Gcc(cc.path.clone())
            } else {
                Compiler::Clang(cc.path.clone())
            })
            .compile()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("broken.bpf.c"), "{msg}");
        assert!(
            msg.contains("no_such_header.h"),
            "diagnostics must be verbatim: {msg}"
        );
        assert!(!dir.join("broken.bpf.o").exists());
        assert_eq!(
            missing_header_hint("fatal error: 'bpf/bpf_helpers.h' file not found"),
            missing_header_hint("bpf/bpf_tracing.h: No such file")
        );
        assert!(missing_header_hint("x.c:1: error: expected expression").is_none());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn compiles_hello_and_reports_every_header() {
        let dir = std::env::temp_dir().join(format!("bpfsign-cc-ok-{}", std::process::id()));
        let src =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-hello/src/bpf/hello.bpf.c");
        let compiled = BpfCompiler::new(&src)
            .out_dir(&dir)
            .cargo_output(false)
            .compile()
            .unwrap();
        assert!(compiled.changed);
        assert!(
            compiled
                .inputs
                .iter()
                .any(|p| p.ends_with("bpf/bpf_helpers.h")),
            "{:?}",
            compiled.inputs
        );
        assert!(compiled.inputs.iter().any(|p| p.ends_with("hello.bpf.c")));
        let bytes = fs::read(&compiled.object).unwrap();
        assert_eq!(&bytes[..4], b"\x7fELF");
        // Same source, same flags: identical bytes, so the object is not rewritten.
        let again = BpfCompiler::new(&src)
            .out_dir(&dir)
            .cargo_output(false)
            .compile()
            .unwrap();
        assert!(!again.changed, "deterministic output must not be rewritten");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn signed_artifact_is_written_next_to_the_object() {
        let dir = std::env::temp_dir().join(format!("bpfsign-cc-skel-{}", std::process::id()));
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let src = root.join("example-hello/src/bpf/hello.bpf.c");
        let key = root.join("tests/fixtures/keys/TEST-ONLY-key-a.pem");
        let compiled = BpfCompiler::new(&src)
            .out_dir(&dir)
            .cargo_output(false)
            .signed_artifact(&key)
            .compile()
            .unwrap();
        let skel = compiled.artifact.expect("artifact requested");
        assert_eq!(skel, dir.join("hello.skel"));
        let artifact = crate::Artifact::read(&skel).unwrap();
        assert!(
            artifact.missing_signatures().is_empty(),
            "P1, P1b and P2 must be signed"
        );
        let protocols =
            |a: &crate::Artifact| a.variants.iter().map(|v| v.protocol).collect::<Vec<_>>();
        assert_eq!(
            protocols(&artifact),
            Protocol::SIGNED,
            "no unsigned loader unless allowed"
        );
        let first = fs::read(&skel).unwrap();
        let text = String::from_utf8_lossy(&first);
        assert!(!text.contains("PRIVATE KEY"));
        // Deterministic: the same source and key give the same bytes.
        BpfCompiler::new(&src)
            .out_dir(&dir)
            .cargo_output(false)
            .signed_artifact(&key)
            .compile()
            .unwrap();
        assert_eq!(fs::read(&skel).unwrap(), first);
        // Chosen protocols, and the unsigned loader only when allowed.
        let chosen = BpfCompiler::new(&src)
            .out_dir(&dir)
            .cargo_output(false)
            .signed_artifact(&key)
            .protocols(&[Protocol::P2, Protocol::P1b])
            .allow_unsigned(true)
            .compile()
            .unwrap();
        let artifact = crate::Artifact::read(chosen.artifact.unwrap()).unwrap();
        assert_eq!(
            protocols(&artifact),
            [Protocol::Unsigned, Protocol::P1b, Protocol::P2]
        );
        assert!(artifact.missing_signatures().is_empty());
        let err = BpfCompiler::new(&src)
            .out_dir(&dir)
            .cargo_output(false)
            .signed_artifact(&key)
            .protocols(&[Protocol::Unsigned])
            .compile()
            .unwrap_err();
        assert!(
            matches!(err, CompileError::Signing { .. })
                && err.to_string().contains("allow_unsigned"),
            "{err}"
        );
        // A bad key is a compile-stage error that names the object and the signing step.
        let err = BpfCompiler::new(&src)
            .out_dir(&dir)
            .cargo_output(false)
            .signed_artifact(root.join("tests/fixtures/keys/TEST-ONLY-key-a.der"))
            .compile()
            .unwrap_err();
        assert!(
            err.to_string().contains("signed light skeleton of"),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn signed_artifact_with_a_signer_command_and_warnings() {
        let dir = std::env::temp_dir().join(format!("bpfsign-cc-signer-{}", std::process::id()));
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let src = root.join("example-hello/src/bpf/hello.bpf.c");
        let keys = root.join("tests/fixtures/keys");
        let command = |pem: &str| {
            let pem = keys.join(pem);
            format!(
                "openssl cms -sign -binary -noattr -nocerts -nosmimecap -keyid -md sha256 \
                 -signer '{p}' -inkey '{p}' -in {{payload}} -outform DER -out {{out}}",
                p = pem.display()
            )
        };
        let compiled = BpfCompiler::new(&src)
            .out_dir(&dir)
            .cargo_output(false)
            .signed_artifact(keys.join("TEST-ONLY-key-a.der"))
            .signer_command(command("TEST-ONLY-key-a.pem"))
            .compile()
            .unwrap();
        let artifact = crate::Artifact::read(compiled.artifact.unwrap()).unwrap();
        assert!(artifact.missing_signatures().is_empty());
        // The certificate is a TEST-ONLY one; no key file was read.
        assert!(
            compiled.warnings.len() == 1 && compiled.warnings[0].contains("TEST-ONLY key"),
            "{:?}",
            compiled.warnings
        );
        // The command signs with another key than the certificate's: an error, nothing written.
        fs::remove_file(dir.join("hello.skel")).unwrap();
        let err = BpfCompiler::new(&src)
            .out_dir(&dir)
            .cargo_output(false)
            .signed_artifact(keys.join("TEST-ONLY-key-a.der"))
            .signer_command(command("TEST-ONLY-key-b.pem"))
            .compile()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("does not verify with the certificate"),
            "{err}"
        );
        assert!(!dir.join("hello.skel").exists());
        let err = BpfCompiler::new(&src)
            .out_dir(&dir)
            .cargo_output(false)
            .signed_artifact(keys.join("TEST-ONLY-key-a.der"))
            .signer_command("false {payload} {out}")
            .compile()
            .unwrap_err();
        assert!(err.to_string().contains("BPFSIGN_SIGNER"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn write_if_changed_only_writes_new_bytes() {
        let dir = std::env::temp_dir().join(format!("bpfsign-wic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("x.bin");
        let _ = fs::remove_file(&f);
        assert!(write_if_changed(&f, b"abc").unwrap());
        assert!(!write_if_changed(&f, b"abc").unwrap());
        assert!(write_if_changed(&f, b"abd").unwrap());
        fs::remove_dir_all(&dir).unwrap();
    }
}
