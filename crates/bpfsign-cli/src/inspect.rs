//! `bpfsign inspect`: what an artifact holds (programs, maps, protocols, signatures, signer),
//! as text or JSON.
//!
//! Only `.skel` artifacts are read. A built binary is refused with an explanation: the code
//! `include_signed_skel!` generates embeds the loaders, blob, hashes and signatures as separate
//! statics without any marker, so they cannot be found reliably in an executable.

use std::path::{Path, PathBuf};

use bpfsign_gen::artifact::{protocol_name, sha256, Artifact};
use bpfsign_gen::sign::SignerId;
use bpfsign_gen::Protocol;
use clap::Args;
use serde_json::{json, Value};

use crate::keygen::hex;
use crate::{fail, Failure};

/// Arguments of `bpfsign inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The artifact (`bpfsign gen` output).
    #[arg(value_name = "OUT.skel")]
    artifact: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Size of one loader instruction.
const INSN_SIZE: usize = 8;
/// `EM_BPF`: the machine of a compiled BPF object.
const EM_BPF: u16 = 247;

/// Reads an artifact for `inspect`/`verify`; an ELF file gets an explanation instead of a JSON
/// parse error.
pub fn read(path: &Path) -> Result<Artifact, Failure> {
    let bytes =
        std::fs::read(path).map_err(|e| fail("read", format!("{}: {e}", path.display())))?;
    if bytes.starts_with(b"\x7fELF") {
        let machine = bytes
            .get(18..20)
            .map(|m| match bytes.get(5) {
                Some(2) => u16::from_be_bytes([m[0], m[1]]),
                _ => u16::from_le_bytes([m[0], m[1]]),
            })
            .unwrap_or(0);
        let why = if machine == EM_BPF {
            "a BPF object, not an artifact; make one with `bpfsign gen`".to_string()
        } else {
            "an ELF executable or library; bpfsign reads .skel artifacts only: the skeleton \
             embedded by include_signed_skel! carries no marker to find it by, so inspect or \
             verify the .skel it was built from (`bpfsign gen` makes the same one)"
                .to_string()
        };
        return Err(fail("read", format!("{}: {why}", path.display())));
    }
    Artifact::from_bytes(&bytes).map_err(|e| fail("read", format!("{}: {e}", path.display())))
}

/// Kernel name of a map type (`enum bpf_map_type` without `BPF_MAP_TYPE_`, lowercase).
fn map_type_name(t: u32) -> String {
    const NAMES: &[&str] = &[
        "unspec",
        "hash",
        "array",
        "prog_array",
        "perf_event_array",
        "percpu_hash",
        "percpu_array",
        "stack_trace",
        "cgroup_array",
        "lru_hash",
        "lru_percpu_hash",
        "lpm_trie",
        "array_of_maps",
        "hash_of_maps",
        "devmap",
        "sockmap",
        "cpumap",
        "xskmap",
        "sockhash",
        "cgroup_storage",
        "reuseport_sockarray",
        "percpu_cgroup_storage",
        "queue",
        "stack",
        "sk_storage",
        "devmap_hash",
        "struct_ops",
        "ringbuf",
        "inode_storage",
        "task_storage",
        "bloom_filter",
        "user_ringbuf",
        "cgrp_storage",
        "arena",
    ];
    named(NAMES, t)
}

/// Kernel name of a program type (`enum bpf_prog_type` without `BPF_PROG_TYPE_`, lowercase).
fn prog_type_name(t: u32) -> String {
    const NAMES: &[&str] = &[
        "unspec",
        "socket_filter",
        "kprobe",
        "sched_cls",
        "sched_act",
        "tracepoint",
        "xdp",
        "perf_event",
        "cgroup_skb",
        "cgroup_sock",
        "lwt_in",
        "lwt_out",
        "lwt_xmit",
        "sock_ops",
        "sk_skb",
        "cgroup_device",
        "sk_msg",
        "raw_tracepoint",
        "cgroup_sock_addr",
        "lwt_seg6local",
        "lirc_mode2",
        "sk_reuseport",
        "flow_dissector",
        "cgroup_sysctl",
        "raw_tracepoint_writable",
        "cgroup_sockopt",
        "tracing",
        "struct_ops",
        "ext",
        "lsm",
        "sk_lookup",
        "syscall",
        "netfilter",
    ];
    named(NAMES, t)
}

fn named(names: &[&str], t: u32) -> String {
    usize::try_from(t)
        .ok()
        .and_then(|i| names.get(i))
        .map_or_else(|| format!("type {t}"), |n| (*n).to_string())
}

/// Names of the `BPF_F_*` map flags set in `flags` (lowercase, without `BPF_F_`); unknown bits
/// as hex.
fn map_flag_names(flags: u32) -> Vec<String> {
    const NAMES: &[&str] = &[
        "no_prealloc",
        "no_common_lru",
        "numa_node",
        "rdonly",
        "wronly",
        "stack_build_id",
        "zero_seed",
        "rdonly_prog",
        "wronly_prog",
        "clone",
        "mmapable",
        "preserve_elems",
        "inner_map",
        "link",
        "path_fd",
        "vtype_btf_obj_fd",
        "token_fd",
        "segv_on_fault",
        "no_user_conv",
    ];
    (0..32)
        .filter(|bit| flags & (1 << bit) != 0)
        .map(|bit| {
            NAMES
                .get(bit)
                .map_or_else(|| format!("0x{:x}", 1u32 << bit), |n| (*n).to_string())
        })
        .collect()
}

/// How the signer is identified, as JSON (`{"skid": …}` or `{"issuer": …, "serial": …}`).
fn signer_id_json(id: &SignerId) -> Value {
    match id {
        SignerId::SubjectKeyIdentifier { skid } => json!({ "skid": skid }),
        SignerId::IssuerAndSerial { issuer, serial } => {
            json!({ "issuer": issuer, "serial": serial })
        }
    }
}

/// The artifact as the JSON document `inspect --json` prints.
fn to_json(art: &Artifact) -> Value {
    let progs: Vec<Value> = art
        .meta
        .progs
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "section": p.section,
                "type": prog_type_name(p.prog_type),
                "sleepable": p.sleepable,
                "autoload": p.autoload,
            })
        })
        .collect();
    let maps: Vec<Value> = art
        .meta
        .maps
        .iter()
        .map(|m| {
            json!({
                "name": m.kernel_name,
                "ident": m.ident,
                "type": map_type_name(m.map_type),
                "key_size": m.key_size,
                "value_size": m.value_size,
                "max_entries": m.max_entries,
                "flags": m.map_flags,
                "flag_names": map_flag_names(m.map_flags),
            })
        })
        .collect();
    let protocols: Vec<Value> = art
        .variants
        .iter()
        .map(|v| {
            json!({
                "protocol": protocol_name(v.protocol),
                "signed": v.signature.is_some(),
                "insns": v.insns.len() / INSN_SIZE,
                "signature_size": v.signature.as_ref().map(Vec::len),
                "excl_prog_hash": hex(&v.excl_prog_hash),
            })
        })
        .collect();
    let signer = art.signer.as_ref().map(|s| {
        json!({
            "subject": s.subject,
            "id": signer_id_json(&s.id),
            "key_algorithm": s.key_algorithm.to_string(),
        })
    });
    json!({
        "name": art.meta.name,
        "generator": art.generator,
        "format_version": art.format_version,
        "programs": progs,
        "maps": maps,
        "protocols": protocols,
        "data_size": art.data.len(),
        "data_sha256": hex(&sha256(&art.data)),
        "signer": signer,
        "certificate_size": art.certificate.as_ref().map(Vec::len),
        "missing_signatures": art.missing_signatures().into_iter().map(protocol_name).collect::<Vec<_>>(),
    })
}

/// The artifact as the text `inspect` prints.
fn to_text(art: &Artifact) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!("name: {}", art.meta.name));
    if !art.generator.is_empty() {
        line(format!("generator: {}", art.generator));
    }
    line(format!("programs: {}", art.meta.progs.len()));
    for p in &art.meta.progs {
        line(format!(
            "  {}  section {}  type {}{}",
            p.name,
            p.section,
            prog_type_name(p.prog_type),
            if p.sleepable { "  sleepable" } else { "" }
        ));
    }
    line(format!("maps: {}", art.meta.maps.len()));
    for m in &art.meta.maps {
        let names = map_flag_names(m.map_flags);
        let flags = if names.is_empty() {
            "0".to_string()
        } else {
            format!("0x{:x} ({})", m.map_flags, names.join("|"))
        };
        line(format!(
            "  {}  type {}  key {}  value {}  max_entries {}  flags {}",
            m.kernel_name,
            map_type_name(m.map_type),
            m.key_size,
            m.value_size,
            m.max_entries,
            flags
        ));
    }
    line("protocols:".to_string());
    for v in &art.variants {
        let sig = match (&v.signature, v.protocol) {
            (_, Protocol::Unsigned) => "never signed".to_string(),
            (Some(s), _) => format!("signed, signature {} bytes", s.len()),
            (None, _) => "NOT SIGNED".to_string(),
        };
        line(format!(
            "  {:<8}  loader {} insns  {}  excl {}",
            protocol_name(v.protocol),
            v.insns.len() / INSN_SIZE,
            sig,
            hex(&v.excl_prog_hash)
        ));
    }
    line(format!(
        "data: {} bytes (sha256 {})",
        art.data.len(),
        hex(&sha256(&art.data))
    ));
    match &art.signer {
        None => line("signer: none (unsigned artifact)".to_string()),
        Some(s) => {
            line(format!("signer: {}", s.subject));
            match &s.id {
                SignerId::SubjectKeyIdentifier { skid } => line(format!("  skid: {skid}")),
                SignerId::IssuerAndSerial { issuer, serial } => {
                    line(format!("  issuer: {issuer}"));
                    line(format!("  serial: {serial}"));
                }
            }
            line(format!("  key: {}", s.key_algorithm));
            line(format!(
                "  certificate: {}",
                art.certificate.as_ref().map_or_else(
                    || "not in the artifact".to_string(),
                    |c| format!("{} bytes in the artifact", c.len())
                )
            ));
        }
    }
    let missing = art.missing_signatures();
    if art.signer.is_some() && !missing.is_empty() {
        let names: Vec<String> = missing.into_iter().map(protocol_name).collect();
        line(format!(
            "partially signed: no signature for {}",
            names.join(", ")
        ));
    }
    out
}

/// `bpfsign inspect`.
pub fn inspect(a: InspectArgs) -> Result<(), Failure> {
    let art = read(&a.artifact)?;
    let text = if a.json {
        let mut s = serde_json::to_string_pretty(&to_json(&art))
            .map_err(|e| fail("inspect", format!("JSON: {e}")))?;
        s.push('\n');
        s
    } else {
        to_text(&art)
    };
    crate::write_out(Path::new("-"), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_and_flag_names() {
        assert_eq!(map_type_name(2), "array");
        assert_eq!(map_type_name(27), "ringbuf");
        assert_eq!(map_type_name(999), "type 999");
        assert_eq!(prog_type_name(26), "tracing");
        assert_eq!(prog_type_name(31), "syscall");
        assert_eq!(
            map_flag_names((1 << 7) | (1 << 10) | (1 << 31)),
            vec!["rdonly_prog", "mmapable", "0x80000000"]
        );
        assert!(map_flag_names(0).is_empty());
    }
}
