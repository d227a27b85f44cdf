//! The doc comments of the generated items: what the skeleton holds, how to load it, and the
//! caveats of memory shared with BPF programs.

use bpfsign_gen::artifact::Artifact;
use bpfsign_gen::meta::{AttachKind, MapMeta, ProgMeta};
use bpfsign_gen::sign::SignerId;

use super::spec::protocol_name;
use super::{Names, SkelCode};

/// The note every API doc repeats about initial values.
const INITIAL_VALUES_NOTE: &str = "Initial values of global variables are fixed when the \
skeleton is signed: the signed loader takes them from the signed data blob and ignores any \
value supplied at run time. Writable globals (`.bss`, `.data`) are changed through the \
mmapped memory after load (`bss_mut()`, `data_mut()`); `.rodata` stays as built.";

/// The docs of the generated module and of its types.
pub(super) struct ItemDocs {
    /// `<name>_skel`.
    pub(super) module: String,
    /// The skeleton type (`Hello`).
    pub(super) skeleton: String,
    /// `HelloBuilder`.
    pub(super) builder: String,
    /// `LoadedHello`.
    pub(super) loaded: String,
    /// `HelloProgs`.
    pub(super) progs: String,
    /// `HelloMaps`.
    pub(super) maps: String,
    /// `HelloLinks`.
    pub(super) links: String,
}

impl ItemDocs {
    pub(super) fn new(code: &SkelCode<'_>, names: &Names) -> Self {
        let obj_name = &code.artifact.meta.name;
        let Names { ty, loaded, .. } = names;
        ItemDocs {
            module: format!(
                "Everything `include_signed_skel!` generated for `{obj_name}`; the main types are \
                 re-exported next to the macro call."
            ),
            skeleton: skeleton_doc(code, names),
            builder: format!(
                "Load-time options for [`{ty}`]; only what the signature does not cover \
                 (keyring, verifier log, protocol).\n\n{INITIAL_VALUES_NOTE}"
            ),
            loaded: format!(
                "A loaded [`{ty}`]: owns every map and program fd and the mmapped global data; \
                 dropping it closes them (links already made stay until they are dropped)."
            ),
            progs: progs_doc(&code.artifact.meta.progs, names),
            maps: format!(
                "Typed handles on the maps of [`{loaded}`] (`HashMap`, `RingBuf`, …; `Map` for data maps)."
            ),
            links: format!(
                "Links made by [`{loaded}::attach`], one per loaded program whose section names \
                 its target (fentry, fexit, fmod_ret, tp_btf, lsm, raw_tp, iter, kprobe, \
                 kretprobe, kprobe.multi, ksyscall, uprobe, uretprobe, uprobe.multi, tracepoint); \
                 each detaches when dropped."
            ),
        }
    }
}

/// The skeleton type's doc: origin, loader variants, signer, programs, how to load.
fn skeleton_doc(code: &SkelCode<'_>, names: &Names) -> String {
    let art = code.artifact;
    let Names { ty, loaded, .. } = names;
    format!(
        "Signed light skeleton of the BPF object `{obj_name}` (from {origin}).\n\n\
         Loader variants: {variants}; the runtime probes the kernel and picks one \
         (`BPFSIGN_PROTOCOL={overrides}` overrides; a kernel that needs another protocol fails \
         with `ErrorKind::ProtocolNotEmbedded`). {signer}\n\n\
         Programs:\n{programs}\n\
         Load with [`{ty}::builder()`]`.keyring(..).load()`, which returns [`{loaded}`].\n\n\
         {INITIAL_VALUES_NOTE}",
        obj_name = art.meta.name,
        origin = code.origin,
        variants = variants_doc(art),
        overrides = art
            .variants
            .iter()
            .map(|v| protocol_name(v.protocol))
            .collect::<Vec<_>>()
            .join("|"),
        signer = signer_doc(art),
        programs = prog_list_doc(&art.meta.progs),
    )
}

/// `` `unsigned` (unsigned), `p1` (signed), … ``.
fn variants_doc(art: &Artifact) -> String {
    art.variants
        .iter()
        .map(|v| {
            let state = if v.signature.is_some() {
                " (signed)"
            } else {
                " (unsigned)"
            };
            format!("`{}`{state}", protocol_name(v.protocol))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who signed the skeleton.
fn signer_doc(art: &Artifact) -> String {
    let Some(s) = &art.signer else {
        return "No signer: the skeleton is unsigned.".to_string();
    };
    match &s.id {
        SignerId::SubjectKeyIdentifier { skid } => format!(
            "Signed by `{}` ({}, SKID `{skid}`).",
            s.subject, s.key_algorithm
        ),
        SignerId::IssuerAndSerial { issuer, serial } => format!(
            "Signed by `{}` ({}, issuer `{issuer}`, serial `{serial}`).",
            s.subject, s.key_algorithm
        ),
    }
}

/// One list item per program: where it attaches, or why it is not loaded.
fn prog_list_doc(progs: &[ProgMeta]) -> String {
    let mut doc = String::new();
    for p in progs {
        if p.autoload {
            doc.push_str(&format!(
                "- `{}` (`SEC(\"{}\")`), attaches to {}.\n",
                p.name,
                p.section,
                attach_target_doc(p)
            ));
        } else {
            doc.push_str(&format!(
                "- `{}` (`SEC(\"{}\")`): not loaded — autoload was off when the skeleton \
                 was signed, so it has no fd and no link.\n",
                p.name,
                optional_section(p)
            ));
        }
    }
    doc
}

/// The `SEC("?...")` a program with autoload off was declared with (autoload is off for those;
/// the signed loader is fixed then).
fn optional_section(p: &ProgMeta) -> String {
    format!("?{}", p.section.trim_start_matches('?'))
}

/// The doc of the program fds struct, naming the programs it lacks.
fn progs_doc(progs: &[ProgMeta], names: &Names) -> String {
    let loaded = &names.loaded;
    let not_loaded: Vec<String> = progs
        .iter()
        .filter(|p| !p.autoload)
        .map(|p| format!("`{}` (`SEC(\"{}\")`)", p.name, optional_section(p)))
        .collect();
    if not_loaded.is_empty() {
        format!("The programs of [`{loaded}`]: fd, section and attach methods of each.")
    } else {
        format!(
            "The programs of [`{loaded}`]: fd, section and attach methods of each. Always \
             `None`, because autoload was off when the skeleton was signed (the signed loader \
             never loads them): {}.",
            not_loaded.join(", ")
        )
    }
}

/// What a program attaches to, as the docs say it.
fn attach_target_doc(p: &ProgMeta) -> String {
    match &p.attach {
        AttachKind::RawTracepoint { tp_name: Some(tp) } => format!("raw tracepoint `{tp}`"),
        AttachKind::RawTracepoint { tp_name: None } => match &p.attach_target {
            Some(t) => format!("BTF target `{t}`"),
            None => "its BTF target".to_string(),
        },
        AttachKind::Iter => "a BPF iterator link".to_string(),
        AttachKind::Kprobe {
            func,
            offset,
            retprobe,
        } => match (retprobe, offset) {
            (true, _) => format!("the return of kernel function `{func}` (kretprobe)"),
            (false, 0) => format!("kernel function `{func}` (kprobe)"),
            (false, off) => format!("kernel function `{func}` + {off:#x} (kprobe)"),
        },
        AttachKind::KprobeMulti { pattern, retprobe } => format!(
            "{}every kernel function matching `{pattern}` (kprobe.multi link)",
            if *retprobe { "the return of " } else { "" }
        ),
        AttachKind::Ksyscall { name, retprobe } => format!(
            "{}system call `{name}` (its arch-specific kernel entry, e.g. `__x64_sys_{name}`)",
            if *retprobe { "the return of " } else { "" }
        ),
        AttachKind::Uprobe {
            path,
            func,
            offset,
            retprobe,
        } => {
            let at = match (func.is_empty(), offset) {
                (true, off) => format!("file offset {off:#x}"),
                (false, 0) => format!("function `{func}`"),
                (false, off) => format!("function `{func}` + {off:#x}"),
            };
            format!(
                "{}{at} of `{path}` in every process ({})",
                if *retprobe { "the return of " } else { "" },
                if *retprobe { "uretprobe" } else { "uprobe" }
            )
        }
        AttachKind::UprobeMulti {
            path,
            pattern,
            retprobe,
        } => format!(
            "{}every function of `{path}` matching `{pattern}` (uprobe.multi link)",
            if *retprobe { "the return of " } else { "" }
        ),
        AttachKind::Tracepoint { category, name } => {
            format!("tracepoint `{category}:{name}`")
        }
        AttachKind::Manual => {
            "nothing automatically (attach it yourself through its fd)".to_string()
        }
    }
}

/// A program's fd field.
pub(super) fn prog_field_doc(p: &ProgMeta) -> String {
    format!("Program `{}` (`SEC(\"{}\")`).", p.name, p.section)
}

/// A map's fd field.
pub(super) fn map_field_doc(m: &MapMeta) -> String {
    format!("Map `{}` (kernel name `{}`).", m.ident, m.kernel_name)
}

/// `attach_<prog>()`.
pub(super) fn attach_fn_doc(p: &ProgMeta) -> String {
    format!(
        "Attaches program `{}` to {}. The link detaches when dropped \
         (see [`::bpfsign_runtime::Link::forget`]).",
        p.name,
        attach_target_doc(p)
    )
}

/// A program's field in the links struct.
pub(super) fn link_field_doc(p: &ProgMeta) -> String {
    format!("Link of program `{}`; detaches on drop.", p.name)
}

/// The note on memory shared with BPF programs, repeated on the global-data accessors;
/// `read` names the section's volatile copy accessor.
fn shared_memory_note(read: &str) -> String {
    format!(
        "The memory is mmapped and shared with the BPF programs, which may store to it at any \
         time: Rust assumes a referenced value does not change while borrowed, so take the \
         reference, use it and drop it (as with libbpf-rs skeletons); to watch values change, \
         call [`{read}()`](Self::{read}) instead. An error means the map is not mapped as this \
         code expects (it does not happen after a successful load of the same skeleton)."
    )
}

/// The shared-reference accessor of a section (`bss()`); `read` names its copy accessor.
pub(super) fn global_ref_doc(section: &str, read_only: bool, read: &str) -> String {
    let note = shared_memory_note(read);
    if read_only {
        format!(
            "The `{section}` globals (read-only: the kernel maps them read-only; their values \
             are fixed at signing).\n\n{note}"
        )
    } else {
        format!(
            "The `{section}` globals, a view of the map's memory, which the BPF programs may \
             change while the reference lives.\n\n{note}"
        )
    }
}

/// The volatile-copy accessor of a section (`read_bss()`).
pub(super) fn global_read_doc(section: &str) -> String {
    format!(
        "A copy of the `{section}` globals, read with volatile reads on every call: the way to \
         observe values the BPF programs change (counters, flags). Not atomic: a value the \
         programs store meanwhile may be torn."
    )
}

/// The mutable accessor of a writable section (`bss_mut()`); `read` names its copy accessor.
pub(super) fn global_mut_doc(section: &str, read: &str) -> String {
    format!(
        "The `{section}` globals, writable: stores reach the BPF programs at once. This is how \
         to change a global after load (the signed loader ignores run-time initial \
         values).\n\n{}",
        shared_memory_note(read)
    )
}
