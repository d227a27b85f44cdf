//! Typed errors of the generator (parse → link → emit). [`crate::BuildError`], the error of the
//! one-call API, wraps them with the signing and artifact errors.
//!
//! Every generator error names the input file, the ELF section (when one is involved), the
//! pipeline stage and a hint saying what to do. Bad input never panics: it ends in one of these
//! errors.

use std::fmt;

/// Pipeline stage an [`Error`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Reading the ELF container (headers, section table, symbols, relocations).
    Elf,
    /// Parsing or fixing up `.BTF` / `.BTF.ext`.
    Btf,
    /// Collecting maps (BTF-defined `.maps`, global data, `.kconfig`).
    Maps,
    /// Collecting programs from executable sections.
    Programs,
    /// Collecting `.kconfig` / `.ksyms` externs.
    Externs,
    /// Relocating programs (calls, data, CO-RE, externs).
    Link,
    /// Emitting the loader program and data blob.
    Emit,
    /// Applying the build configuration ([`crate::GenOptions::globals`],
    /// [`crate::GenOptions::max_entries`]).
    Config,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Elf => "elf",
            Stage::Btf => "btf",
            Stage::Maps => "maps",
            Stage::Programs => "programs",
            Stage::Externs => "externs",
            Stage::Link => "link",
            Stage::Emit => "emit",
            Stage::Config => "config",
        })
    }
}

/// A loader limit (docs/protocol.md §6.1) or a generator input limit (`parse::limits`) that the object exceeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// More than 64 maps (`MAX_USED_MAPS`).
    Maps,
    /// More than 126 programs + subprograms (`bpfsign_abi::limits::MAX_PROGS`): their fds do not
    /// fit the loader's 512-byte stack.
    Programs,
    /// A kfunc BTF fd slot index above `i16::MAX`.
    KfuncSlots,
    /// A jump to the cleanup label does not fit the signed 16-bit offset.
    JumpRange,
    /// The loader would exceed the kernel's instruction limit.
    InsnCount,
    /// The data blob would exceed the metadata map value size the kernel accepts.
    DataSize,
    /// An attach target name longer than the 128-byte buffer of the loader.
    AttachName,
    /// The input object is larger than the generator accepts (`parse::limits`).
    ObjectSize,
    /// More ELF sections than the generator accepts.
    Sections,
    /// More ELF symbols than the generator accepts.
    Symbols,
    /// More BTF types than the generator accepts.
    BtfTypes,
    /// More bytes of names (sections, programs, externs, maps) than the generator copies.
    NameBytes,
}

impl Limit {
    /// Whether this is one of the generator's own input limits (`parse::limits`, against
    /// hostile objects) rather than a limit of the loader program or the kernel.
    pub fn is_input_limit(self) -> bool {
        matches!(
            self,
            Limit::ObjectSize
                | Limit::Sections
                | Limit::Symbols
                | Limit::BtfTypes
                | Limit::NameBytes
        )
    }
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is not an ELF file.
    NotElf,
    /// The input is ELF but not a relocatable 64-bit BPF object.
    NotBpf,
    /// A section or table is truncated or inconsistent.
    Malformed,
    /// `.BTF` / `.BTF.ext` is missing where needed, truncated or inconsistent.
    BadBtf,
    /// A program section name that libbpf does not recognise.
    UnknownSection,
    /// A valid construct that bpfsign does not (yet) support.
    Unsupported,
    /// A loader limit is exceeded.
    Limit(Limit),
    /// A value the build must provide is missing (e.g. a `.kconfig` extern).
    MissingInput,
    /// A build configuration value does not match the object ([`ConfigError`]).
    Config(Box<ConfigError>),
}

/// Why a build configuration value ([`crate::GenOptions::globals`],
/// [`crate::GenOptions::max_entries`]) was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// No global variable of that name (static variables are not configurable).
    UnknownVariable {
        /// The name asked for.
        name: String,
        /// The configurable variables of the object, sorted.
        known: Vec<String>,
    },
    /// No BTF-defined map of that name.
    UnknownMap {
        /// The name asked for.
        name: String,
        /// The object's BTF-defined maps, sorted.
        known: Vec<String>,
    },
    /// The name is a `.kconfig` extern: it is set through `GenOptions::kconfig`
    /// (`LINUX_KERNEL_VERSION` through `GenOptions::kernel_version`).
    KconfigExtern {
        /// The extern's name.
        name: String,
    },
    /// A byte value or string whose size does not fit the variable.
    WrongSize {
        /// The variable.
        name: String,
        /// The variable's size in bytes (for a string: the most bytes it can hold, NUL included).
        expected: u64,
        /// The bytes given (for a string: its length plus the NUL terminator).
        got: u64,
    },
    /// An integer that does not fit the variable's type.
    OutOfRange {
        /// The variable.
        name: String,
        /// The value given.
        value: i128,
        /// The variable's type (`u8`, `s32`, `bool`, `enum e`, …).
        ty: String,
    },
    /// A value of a kind the variable's type cannot take (a string for an integer, …).
    WrongType {
        /// The variable.
        name: String,
        /// The variable's type.
        ty: String,
        /// The value given ([`crate::GlobalValue::describe`]).
        value: String,
    },
    /// A `max_entries` the map cannot have (0, or a global data map).
    BadMaxEntries {
        /// The map.
        map: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        match self {
            ConfigError::UnknownVariable { name, known } => write!(
                f,
                "no global variable `{name}`; the object's are: {}",
                list(known)
            ),
            ConfigError::UnknownMap { name, known } => {
                write!(f, "no map `{name}`; the object's are: {}", list(known))
            }
            ConfigError::KconfigExtern { name } => write!(
                f,
                "`{name}` is a .kconfig extern, not a global variable: set it as a kconfig value{}",
                if name == "LINUX_KERNEL_VERSION" {
                    " (or as the kernel version)"
                } else {
                    ""
                }
            ),
            ConfigError::WrongSize {
                name,
                expected,
                got,
            } => write!(
                f,
                "`{name}` is {expected} bytes, the value given is {got} bytes"
            ),
            ConfigError::OutOfRange { name, value, ty } => {
                write!(f, "{value} does not fit `{name}` of type {ty}")
            }
            ConfigError::WrongType { name, ty, value } => {
                write!(f, "`{name}` of type {ty} cannot take a {value}")
            }
            ConfigError::BadMaxEntries { map, reason } => {
                write!(f, "max_entries of map `{map}`: {reason}")
            }
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::NotElf => f.write_str("not an ELF file"),
            ErrorKind::NotBpf => f.write_str("not a BPF object"),
            ErrorKind::Malformed => f.write_str("malformed object"),
            ErrorKind::BadBtf => f.write_str("bad BTF"),
            ErrorKind::UnknownSection => f.write_str("unknown program section"),
            ErrorKind::Unsupported => f.write_str("unsupported"),
            ErrorKind::Limit(l) if l.is_input_limit() => {
                write!(f, "input limit exceeded ({l:?})")
            }
            ErrorKind::Limit(l) => write!(f, "loader limit exceeded ({l:?})"),
            ErrorKind::MissingInput => f.write_str("missing build input"),
            ErrorKind::Config(_) => f.write_str("bad build configuration"),
        }
    }
}

/// Error of [`crate::parse_object`] and [`crate::generate`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    /// The object file name given to [`crate::parse_object`].
    pub file: String,
    /// ELF section involved, if any.
    pub section: Option<String>,
    /// Pipeline stage.
    pub stage: Stage,
    /// Classification.
    pub kind: ErrorKind,
    /// What is wrong, in detail.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(s) = &self.section {
            write!(f, ": section '{s}'")?;
        }
        write!(f, ": {} stage: {}: {}", self.stage, self.kind, self.message)?;
        if !self.hint.is_empty() {
            write!(f, "; to fix: {}", self.hint)?;
        }
        Ok(())
    }
}

/// Builder used inside the crate to create errors tied to one input file.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    pub(crate) file: String,
}

impl Ctx {
    pub(crate) fn new(file: &str) -> Self {
        Ctx {
            file: file.to_string(),
        }
    }

    pub(crate) fn err(
        &self,
        stage: Stage,
        kind: ErrorKind,
        section: Option<&str>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Error {
        Error {
            file: self.file.clone(),
            section: section.map(str::to_string),
            stage,
            kind,
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// Malformed-object error with the standard hint.
    pub(crate) fn malformed(
        &self,
        stage: Stage,
        section: Option<&str>,
        message: impl Into<String>,
    ) -> Error {
        self.err(
            stage,
            ErrorKind::Malformed,
            section,
            message,
            "the object is truncated or corrupted; rebuild it with clang -target bpf -g",
        )
    }

    /// Bad-BTF error with the standard hint.
    pub(crate) fn bad_btf(&self, section: Option<&str>, message: impl Into<String>) -> Error {
        self.err(
            Stage::Btf,
            ErrorKind::BadBtf,
            section,
            message,
            "compile with -g so clang emits valid .BTF/.BTF.ext, and do not strip the object",
        )
    }

    /// Unsupported-feature error.
    pub(crate) fn unsupported(
        &self,
        stage: Stage,
        section: Option<&str>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Error {
        self.err(stage, ErrorKind::Unsupported, section, message, hint)
    }

    /// Loader-limit error.
    pub(crate) fn limit(
        &self,
        limit: Limit,
        section: Option<&str>,
        message: impl Into<String>,
    ) -> Error {
        self.err(
            Stage::Emit,
            ErrorKind::Limit(limit),
            section,
            message,
            "split the BPF object into several objects, each within the light-skeleton loader limits",
        )
    }
}
