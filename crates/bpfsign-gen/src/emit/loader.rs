//! The loader emitter: a reimplementation of libbpf's `gen_loader.c` (docs/protocol.md §6) that turns a
//! [`Linked`] object into loader instructions plus the data blob.

use bpfsign_abi::limits::{MAX_DATA_SIZE, MAX_LOADER_INSNS, MAX_MAPS, MAX_PROGS};
use bpfsign_abi::{cmd, loader_ctx, map_type};

use super::{CheckBlock, LoaderConfig};
use crate::error::{Ctx, Error, Limit};
use crate::insn::{self, op, pseudo, reg::*, Insn, Size};
use crate::link::{ExternRelo, Linked, LinkedMap, LinkedProg};

const MAX_USED_MAPS: u32 = MAX_MAPS as u32;
const MAX_KFUNC_DESCS: u32 = 256;
const MAX_FD_ARRAY_SZ: u32 = MAX_USED_MAPS + MAX_KFUNC_DESCS;
/// libbpf's loader stack: `btf_fd`, `inner_map_fd` and 32 program fd slots (`MAX_USED_PROGS`).
const LIBBPF_PROG_SLOTS: usize = 32;

/// Bytes of the loader's stack for an object with `nr_programs` programs: libbpf's 136-byte
/// `struct loader_stack` up to 32 programs (so the bytes stay bpftool's), one more 4-byte fd slot
/// per program past 32 (libbpf's layout would put those slots at or above the frame pointer, which
/// the verifier refuses); at most 512 bytes, the BPF stack, for [`MAX_PROGS`] programs.
fn loader_stack_size(nr_programs: usize) -> i32 {
    (8 + 4 * nr_programs.max(LIBBPF_PROG_SLOTS)) as i32
}

const FN_PROBE_READ_KERNEL: i32 = 113;
const FN_COPY_FROM_USER: i32 = 148;
const FN_SYS_BPF: i32 = 166;
const FN_BTF_FIND_BY_NAME_KIND: i32 = 167;
const FN_SYS_CLOSE: i32 = 168;
const FN_KALLSYMS_LOOKUP_NAME: i32 = 179;

const EINVAL: i32 = 22;
const ENOENT: i32 = 2;

// offsets in union bpf_attr
const PROG_LICENSE: usize = 16;
const PROG_INSNS: usize = 8;
const PROG_LOG_LEVEL: usize = 24;
const PROG_LOG_SIZE: usize = 28;
const PROG_LOG_BUF: usize = 32;
const PROG_BTF_FD: usize = 72;
const PROG_FUNC_INFO: usize = 80;
const PROG_LINE_INFO: usize = 96;
const PROG_ATTACH_BTF_ID: usize = 108;
const PROG_ATTACH_BTF_OBJ_FD: usize = 112;
const PROG_FD_ARRAY: usize = 120;
const PROG_CORE_RELOS: usize = 128;

/// Offset of `field` (a `loader_ctx::MAP_DESC_*` offset) of map `index`'s descriptor in the
/// loader ctx, as an instruction offset.
fn ctx_map_desc(index: usize, field: usize) -> i32 {
    (loader_ctx::map_desc(index) + field) as i32
}

/// Offset of program `index`'s descriptor in a loader ctx with `n_maps` maps.
fn ctx_prog_desc(n_maps: usize, index: usize) -> i32 {
    loader_ctx::prog_desc(n_maps, index) as i32
}

#[derive(Clone)]
struct KsymDesc {
    name: String,
    kind: u32,
    is_ld64: bool,
    typeless: bool,
    off: u32,
    insn: usize,
    refs: u32,
}

/// Output of one emission.
pub(crate) struct Emitted {
    /// Loader instructions.
    pub(crate) insns: Vec<Insn>,
    /// Data blob.
    pub(crate) data: Vec<u8>,
}

struct Gen<'a> {
    cfg: &'a LoaderConfig,
    ctx: &'a Ctx,
    insns: Vec<Insn>,
    data: Vec<u8>,
    cleanup_label: usize,
    nr_maps: u32,
    nr_progs: u32,
    nr_fd_array: u32,
    hash_insn: Vec<usize>,
    ksyms: Vec<KsymDesc>,
    error: Option<Error>,
    /// Bytes of the loader's stack ([`loader_stack_size`]); fds live at `-stack_sz..0`.
    stack_sz: i32,
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_name(b: &mut [u8], off: usize, name: &str) {
    let n = name.len().min(15);
    b[off..off + n].copy_from_slice(&name.as_bytes()[..n]);
}

impl Gen<'_> {
    fn emit(&mut self, i: Insn) {
        self.insns.push(i);
    }
    fn emit2(&mut self, p: [Insn; 2]) {
        self.insns.extend_from_slice(&p);
    }
    fn blob(&mut self, r: u8, off: usize) {
        self.emit2(Insn::ld_imm64(r, pseudo::MAP_IDX_VALUE, 0, off as i32));
    }
    fn fail(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    fn add_data(&mut self, d: Option<&[u8]>, size: usize) -> usize {
        let at = self.data.len();
        let size8 = size.div_ceil(8) * 8;
        match d {
            Some(d) => {
                self.data.extend_from_slice(&d[..size]);
                self.data.resize(at + size8, 0);
            }
            None => self.data.resize(at + size8, 0),
        }
        at
    }

    fn init(&mut self, nr_progs: usize, nr_maps: u32) {
        self.add_data(None, (MAX_FD_ARRAY_SZ * 4) as usize);
        self.emit(Insn::mov64_reg(R6, R1));
        self.emit(Insn::mov64_reg(R1, R10));
        self.emit(Insn::alu64_imm(op::ADD, R1, -self.stack_sz));
        self.emit(Insn::mov64_imm(R2, self.stack_sz));
        self.emit(Insn::mov64_imm(R3, 0));
        self.emit(Insn::call(FN_PROBE_READ_KERNEL));
        let slots = 2 + nr_progs;
        let ja = 3 * slots + 2 + 6 * nr_maps as usize;
        self.emit(Insn::jmp_imm(op::JA, 0, 0, ja as i16));
        self.cleanup_label = self.insns.len();
        for k in 0..slots {
            self.emit(Insn::ldx(
                Size::W,
                R1,
                R10,
                (-self.stack_sz + 4 * k as i32) as i16,
            ));
            self.emit(Insn::jmp_imm(op::JSLE, R1, 0, 1));
            self.emit(Insn::call(FN_SYS_CLOSE));
        }
        for i in 0..nr_maps {
            self.sys_close_blob(4 * i as usize);
        }
        self.emit(Insn::mov64_reg(R0, R7));
        self.emit(Insn::exit());
        match self.cfg.check_block {
            CheckBlock::None => {}
            CheckBlock::Sha => self.signature_match(false),
            CheckBlock::ExclSha => self.signature_match(true),
        }
    }

    /// Offset of a jump at the current position to the cleanup label.
    fn cleanup_off(&mut self, extra: i64) -> Option<i16> {
        let off = self.cleanup_label as i64 - self.insns.len() as i64 - extra;
        match i16::try_from(off) {
            Ok(v) => Some(v),
            Err(_) => {
                let e = self.ctx.limit(
                    Limit::JumpRange,
                    None,
                    "a jump to the loader's cleanup code exceeds the s16 range",
                );
                self.fail(e);
                None
            }
        }
    }

    fn signature_match(&mut self, excl: bool) {
        // jne is emitted one insn after the mov; fixed offset lands on the label, the
        // libbpf 1.7.0 offset lands on label + 1.
        let extra = if self.cfg.libbpf170_jump_bug { 1 } else { 2 };
        if excl {
            self.emit2(Insn::ld_imm64(R1, pseudo::MAP_IDX, 0, 0));
            self.emit(Insn::ldx(Size::W, R2, R1, 32));
            if let Some(off) = self.cleanup_off(extra) {
                self.emit(Insn::mov64_imm(R7, -EINVAL));
                self.emit(Insn::jmp_imm(op::JNE, R2, 1, off));
            }
        }
        for i in 0..4 {
            self.emit2(Insn::ld_imm64(R1, pseudo::MAP_IDX, 0, 0));
            self.emit(Insn::ldx(Size::DW, R2, R1, 8 * i));
            self.hash_insn.push(self.insns.len());
            self.emit2(Insn::ld_imm64(R3, 0, 0, 0));
            if let Some(off) = self.cleanup_off(extra) {
                self.emit(Insn::mov64_imm(R7, -EINVAL));
                self.emit(Insn::jmp_reg(op::JNE, R2, R3, off));
            }
        }
    }

    fn rel_store(&mut self, off: usize, data: usize) {
        self.blob(R0, data);
        self.blob(R1, off);
        self.emit(Insn::stx(Size::DW, R1, R0, 0));
    }

    fn move_blob2blob(&mut self, off: usize, size: usize, blob_off: usize) {
        self.blob(R2, blob_off);
        self.emit(Insn::ldx(Size::from_bytes(size), R0, R2, 0));
        self.blob(R1, off);
        self.emit(Insn::stx(Size::from_bytes(size), R1, R0, 0));
    }

    fn move_blob2ctx(&mut self, ctx_off: i32, size: usize, blob_off: usize) {
        self.blob(R1, blob_off);
        self.emit(Insn::ldx(Size::from_bytes(size), R0, R1, 0));
        self.emit(Insn::stx(Size::from_bytes(size), R6, R0, ctx_off as i16));
    }

    fn move_ctx2blob(&mut self, off: usize, size: usize, ctx_off: i32, check_non_zero: bool) {
        self.emit(Insn::ldx(Size::from_bytes(size), R0, R6, ctx_off as i16));
        if check_non_zero {
            self.emit(Insn::jmp_imm(op::JEQ, R0, 0, 3));
        }
        self.blob(R1, off);
        self.emit(Insn::stx(Size::from_bytes(size), R1, R0, 0));
    }

    fn move_stack2blob(&mut self, off: usize, size: usize, stack_off: i32) {
        self.emit(Insn::ldx(Size::from_bytes(size), R0, R10, stack_off as i16));
        self.blob(R1, off);
        self.emit(Insn::stx(Size::from_bytes(size), R1, R0, 0));
    }

    fn move_stack2ctx(&mut self, ctx_off: i32, size: usize, stack_off: i32) {
        self.emit(Insn::ldx(Size::from_bytes(size), R0, R10, stack_off as i16));
        self.emit(Insn::stx(Size::from_bytes(size), R6, R0, ctx_off as i16));
    }

    fn sys_bpf(&mut self, cmd: u32, attr: usize, size: i32) {
        self.emit(Insn::mov64_imm(R1, cmd as i32));
        self.blob(R2, attr);
        self.emit(Insn::mov64_imm(R3, size));
        self.emit(Insn::call(FN_SYS_BPF));
        self.emit(Insn::mov64_reg(R7, R0));
    }

    fn check_err(&mut self) {
        if let Some(off) = self.cleanup_off(1) {
            self.emit(Insn::jmp_imm(op::JSLT, R7, 0, off));
        }
    }

    fn sys_close_inner(&mut self) {
        self.emit(Insn::jmp_imm(op::JSLE, R1, 0, 2));
        self.emit(Insn::mov64_reg(R9, R1));
        self.emit(Insn::call(FN_SYS_CLOSE));
    }

    fn sys_close_stack(&mut self, stack_off: i32) {
        self.emit(Insn::ldx(Size::W, R1, R10, stack_off as i16));
        self.sys_close_inner();
    }

    fn sys_close_blob(&mut self, blob_off: usize) {
        self.blob(R0, blob_off);
        self.emit(Insn::ldx(Size::W, R1, R0, 0));
        self.sys_close_inner();
    }

    fn load_btf(&mut self, raw: &[u8]) {
        let btf_data = self.add_data(Some(raw), raw.len());
        let mut attr = [0u8; 28];
        put32(&mut attr, 16, raw.len() as u32);
        let a = self.add_data(Some(&attr), 28);
        self.move_ctx2blob(a + 24, 4, loader_ctx::LOG_LEVEL as i32, false);
        self.move_ctx2blob(a + 20, 4, loader_ctx::LOG_SIZE as i32, false);
        self.move_ctx2blob(a + 8, 8, loader_ctx::LOG_BUF as i32, false);
        self.rel_store(a, btf_data);
        self.sys_bpf(cmd::BTF_LOAD, a, 28);
        self.check_err();
        self.emit(Insn::stx(Size::W, R10, R7, -self.stack_sz as i16));
    }

    fn map_create(&mut self, m: &LinkedMap, map_idx: i32) {
        let mut attr = [0u8; 72];
        put32(&mut attr, 0, m.map_type);
        put32(&mut attr, 4, m.key_size);
        put32(&mut attr, 8, m.value_size);
        put32(&mut attr, 16, m.map_flags);
        put64(&mut attr, 64, m.map_extra);
        put_name(&mut attr, 28, &m.kernel_name);
        put32(&mut attr, 24, m.numa_node);
        put32(&mut attr, 12, m.max_entries);
        put32(&mut attr, 52, m.btf_key_type_id);
        put32(&mut attr, 56, m.btf_value_type_id);
        let a = self.add_data(Some(&attr), 72);
        if m.btf_value_type_id != 0 {
            self.move_stack2blob(a + 48, 4, -self.stack_sz);
        }
        let mim = matches!(m.map_type, map_type::ARRAY_OF_MAPS | map_type::HASH_OF_MAPS);
        if mim {
            self.move_stack2blob(a + 20, 4, -self.stack_sz + 4);
        }
        if map_idx >= 0 && self.cfg.ctx_overrides {
            let max_entries = ctx_map_desc(map_idx as usize, loader_ctx::MAP_DESC_MAX_ENTRIES);
            self.move_ctx2blob(a + 12, 4, max_entries, true);
        }
        self.sys_bpf(cmd::MAP_CREATE, a, 72);
        self.check_err();
        if map_idx < 0 {
            self.emit(Insn::stx(Size::W, R10, R7, (-self.stack_sz + 4) as i16));
        } else {
            if self.nr_maps == MAX_USED_MAPS {
                let e = self
                    .ctx
                    .limit(Limit::Maps, Some(".maps"), "more than 64 maps");
                self.fail(e);
                return;
            }
            let idx = self.nr_maps;
            self.nr_maps += 1;
            self.blob(R1, 4 * idx as usize);
            self.emit(Insn::stx(Size::W, R1, R7, 0));
        }
        if mim {
            self.sys_close_stack(-self.stack_sz + 4);
        }
    }

    fn map_update_elem(&mut self, map_idx: usize, value: &[u8]) {
        let v = self.add_data(Some(value), value.len());
        let key = self.add_data(Some(&[0u8; 4]), 4);
        if self.cfg.ctx_overrides {
            self.emit(Insn::ldx(
                Size::DW,
                R3,
                R6,
                ctx_map_desc(map_idx, loader_ctx::MAP_DESC_INITIAL_VALUE) as i16,
            ));
            self.emit(Insn::jmp_imm(op::JEQ, R3, 0, 8));
            self.blob(R1, v);
            self.emit(Insn::mov64_imm(R2, value.len() as i32));
            self.emit(Insn::ldx(Size::W, R0, R6, loader_ctx::FLAGS as i16));
            let kernel = loader_ctx::FLAG_SKEL_KERNEL as i32;
            self.emit(Insn::jmp_imm(op::JSET, R0, kernel, 2));
            self.emit(Insn::call(FN_COPY_FROM_USER));
            self.emit(Insn::jmp_imm(op::JA, 0, 0, 1));
            self.emit(Insn::call(FN_PROBE_READ_KERNEL));
        }
        let a = self.add_data(Some(&[0u8; 32]), 32);
        self.move_blob2blob(a, 4, 4 * map_idx);
        self.rel_store(a + 8, key);
        self.rel_store(a + 16, v);
        self.sys_bpf(cmd::MAP_UPDATE_ELEM, a, 32);
        self.check_err();
    }

    fn map_freeze(&mut self, map_idx: usize) {
        let a = self.add_data(Some(&[0u8; 4]), 4);
        self.move_blob2blob(a, 4, 4 * map_idx);
        self.sys_bpf(cmd::MAP_FREEZE, a, 4);
        self.check_err();
    }

    fn populate_outer_map(&mut self, outer: usize, slot: u32, inner: usize) {
        let key = self.add_data(Some(&slot.to_le_bytes()), 4);
        let a = self.add_data(Some(&[0u8; 32]), 32);
        self.move_blob2blob(a, 4, 4 * outer);
        self.rel_store(a + 8, key);
        self.rel_store(a + 16, 4 * inner);
        self.sys_bpf(cmd::MAP_UPDATE_ELEM, a, 32);
        self.check_err();
    }

    fn ksym_desc(&mut self, r: &ExternRelo) -> usize {
        if let Some(i) = self
            .ksyms
            .iter()
            .position(|k| k.kind == r.kind && k.is_ld64 == r.is_ld64 && k.name == r.name)
        {
            self.ksyms[i].refs += 1;
            return i;
        }
        self.ksyms.push(KsymDesc {
            name: r.name.clone(),
            kind: r.kind,
            is_ld64: r.is_ld64,
            typeless: false,
            off: 0,
            insn: 0,
            refs: 1,
        });
        self.ksyms.len() - 1
    }

    fn find_by_name_kind(&mut self, name: &str, k: u32) {
        let len = name.len() + 1;
        let mut b = name.as_bytes().to_vec();
        b.push(0);
        let name_off = self.add_data(Some(&b), len);
        self.blob(R1, name_off);
        self.emit(Insn::mov64_imm(R2, len as i32));
        self.emit(Insn::mov64_imm(R3, k as i32));
        self.emit(Insn::mov64_imm(R4, 0));
        self.emit(Insn::call(FN_BTF_FIND_BY_NAME_KIND));
        self.emit(Insn::mov64_reg(R7, R0));
    }

    fn relo_kfunc(&mut self, r: &ExternRelo, insn: usize) {
        let d = self.ksym_desc(r);
        if self.ksyms[d].refs > 1 {
            let first = self.ksyms[d].insn;
            self.move_blob2blob(insn + 4, 4, first + 4);
            self.move_blob2blob(insn + 2, 2, first + 2);
            return;
        }
        self.ksyms[d].insn = insn;
        self.find_by_name_kind(&r.name, r.kind);
        if !r.is_weak {
            self.check_err();
        }
        let idx = if self.nr_fd_array == MAX_KFUNC_DESCS {
            let cur = self.add_data(None, 4);
            (cur / 4) as u32
        } else {
            self.nr_fd_array += 1;
            MAX_USED_MAPS + self.nr_fd_array - 1
        };
        if idx > i16::MAX as u32 {
            let e = self.ctx.limit(
                Limit::KfuncSlots,
                None,
                format!("kfunc '{}' needs fd_array slot {idx} > 32767", r.name),
            );
            self.fail(e);
            return;
        }
        self.ksyms[d].off = idx;
        self.emit(Insn::jmp_imm(op::JSGE, R7, 0, 3));
        self.emit(Insn::st(Size::W, R8, 4, 0));
        self.emit(Insn::st(Size::H, R8, 2, 0));
        self.emit(Insn::jmp_imm(op::JA, 0, 0, 10));
        self.emit(Insn::stx(Size::W, R8, R7, 4));
        self.emit(Insn::mov64_reg(R9, R7));
        self.emit(Insn::alu64_imm(op::RSH, R9, 32));
        self.blob(R0, 4 * idx as usize);
        self.emit(Insn::stx(Size::W, R0, R9, 0));
        self.emit(Insn::jmp_imm(op::JNE, R9, 0, 2));
        self.emit(Insn::st(Size::H, R8, 2, 0));
        self.emit(Insn::jmp_imm(op::JA, 0, 0, 1));
        self.emit(Insn::st(Size::H, R8, 2, idx as i32));
    }

    fn relo_ksym_typeless(&mut self, r: &ExternRelo, insn: usize) {
        let d = self.ksym_desc(r);
        if self.ksyms[d].refs > 1 {
            let first = self.ksyms[d].insn;
            self.move_blob2blob(insn + 4, 4, first + 4);
            self.move_blob2blob(insn + 12, 4, first + 12);
            return;
        }
        self.ksyms[d].insn = insn;
        self.ksyms[d].typeless = true;
        let len = r.name.len() + 1;
        let mut b = r.name.as_bytes().to_vec();
        b.push(0);
        let name_off = self.add_data(Some(&b), len);
        let res = self.add_data(None, 8);
        self.blob(R1, name_off);
        self.emit(Insn::mov64_imm(R2, len as i32));
        self.emit(Insn::mov64_imm(R3, 0));
        self.blob(R4, res);
        self.emit(Insn::mov64_reg(R7, R4));
        self.emit(Insn::call(FN_KALLSYMS_LOOKUP_NAME));
        self.emit(Insn::ldx(Size::DW, R9, R7, 0));
        self.emit(Insn::mov64_reg(R7, R0));
        self.emit(Insn::jmp_imm(op::JEQ, R7, -ENOENT, 1));
        self.check_err();
        self.emit(Insn::stx(Size::W, R8, R9, 4));
        self.emit(Insn::alu64_imm(op::RSH, R9, 32));
        self.emit(Insn::stx(Size::W, R8, R9, 12));
    }

    fn relo_ksym_btf(&mut self, r: &ExternRelo, insn: usize) {
        let d = self.ksym_desc(r);
        if self.ksyms[d].refs > 1 {
            let first = self.ksyms[d].insn;
            self.move_blob2blob(insn + 12, 4, first + 12);
            self.move_blob2blob(insn + 4, 4, first + 4);
            self.emit(Insn::jmp_imm(op::JNE, R0, 0, 3));
        } else {
            self.ksyms[d].insn = insn;
            self.find_by_name_kind(&r.name, r.kind);
            if !r.is_weak {
                self.check_err();
            }
            self.emit(Insn::jmp_imm(op::JSGE, R7, 0, 3));
            self.emit(Insn::st(Size::W, R8, 4, 0));
            self.emit(Insn::st(Size::W, R8, 12, 0));
            self.emit(Insn::jmp_imm(op::JA, 0, 0, 4));
            self.emit(Insn::stx(Size::W, R8, R7, 4));
            self.emit(Insn::alu64_imm(op::RSH, R7, 32));
            self.emit(Insn::stx(Size::W, R8, R7, 12));
            self.emit(Insn::jmp_imm(op::JA, 0, 0, 3));
        }
        self.emit(Insn::ldx(Size::B, R9, R8, 1));
        self.emit(Insn::alu32_imm(op::AND, R9, 0x0f));
        self.emit(Insn::stx(Size::B, R8, R9, 1));
    }

    fn prog_load(&mut self, p: &LinkedProg, license: &str) {
        let mut lic = license.as_bytes().to_vec();
        lic.push(0);
        let license_off = self.add_data(Some(&lic), lic.len());
        let code = insn::encode(&p.insns);
        let insns_off = self.add_data(Some(&code), code.len());
        let mut attr = [0u8; 140];
        put32(&mut attr, 0, p.prog_type);
        put32(&mut attr, 68, p.expected_attach_type);
        put32(&mut attr, PROG_ATTACH_BTF_ID, p.attach_btf_id);
        put32(&mut attr, 64, 0);
        put32(&mut attr, 40, 0);
        put32(&mut attr, 4, p.insns.len() as u32);
        put32(&mut attr, 44, p.prog_flags);
        put32(&mut attr, 76, p.func_info.rec_size);
        put32(&mut attr, 88, p.func_info.cnt);
        let func_info = self.add_data(Some(&p.func_info.data), p.func_info.data.len());
        put32(&mut attr, 92, p.line_info.rec_size);
        put32(&mut attr, 104, p.line_info.cnt);
        let line_info = self.add_data(Some(&p.line_info.data), p.line_info.data.len());
        put32(&mut attr, 136, 16);
        put32(&mut attr, 116, p.core_relos.len() as u32);
        let cr: Vec<u8> = p
            .core_relos
            .iter()
            .flat_map(|r| r.iter().flat_map(|w| w.to_le_bytes()))
            .collect();
        let core_relos = self.add_data(Some(&cr), cr.len());
        put_name(&mut attr, 48, &p.name);
        let a = self.add_data(Some(&attr), 140);

        self.rel_store(a + PROG_LICENSE, license_off);
        self.rel_store(a + PROG_INSNS, insns_off);
        self.rel_store(a + PROG_FUNC_INFO, func_info);
        self.rel_store(a + PROG_LINE_INFO, line_info);
        self.rel_store(a + PROG_CORE_RELOS, core_relos);
        self.rel_store(a + PROG_FD_ARRAY, 0);
        self.move_ctx2blob(a + PROG_LOG_LEVEL, 4, loader_ctx::LOG_LEVEL as i32, false);
        self.move_ctx2blob(a + PROG_LOG_SIZE, 4, loader_ctx::LOG_SIZE as i32, false);
        self.move_ctx2blob(a + PROG_LOG_BUF, 8, loader_ctx::LOG_BUF as i32, false);
        self.move_stack2blob(a + PROG_BTF_FD, 4, -self.stack_sz);
        if let Some((name, k)) = &p.attach_target {
            let mut b = name.as_bytes().to_vec();
            b.push(0);
            let n = self.add_data(Some(&b), b.len());
            self.blob(R1, n);
            self.emit(Insn::mov64_imm(R2, b.len() as i32));
            self.emit(Insn::mov64_imm(R3, *k as i32));
            self.emit(Insn::mov64_imm(R4, 0));
            self.emit(Insn::call(FN_BTF_FIND_BY_NAME_KIND));
            self.emit(Insn::mov64_reg(R7, R0));
            self.check_err();
            self.blob(R0, a);
            self.emit(Insn::stx(Size::W, R0, R7, PROG_ATTACH_BTF_ID as i16));
            self.emit(Insn::alu64_imm(op::RSH, R7, 32));
            self.emit(Insn::stx(Size::W, R0, R7, PROG_ATTACH_BTF_OBJ_FD as i16));
        }
        for r in &p.externs {
            let insn = insns_off + 8 * r.insn_idx;
            self.blob(R8, insn);
            if r.is_ld64 {
                if r.is_typeless {
                    self.relo_ksym_typeless(r, insn);
                } else {
                    self.relo_ksym_btf(r, insn);
                }
            } else {
                self.relo_kfunc(r, insn);
            }
        }
        self.sys_bpf(cmd::PROG_LOAD, a, 140);
        // cleanup_relos
        let ksyms = std::mem::take(&mut self.ksyms);
        for k in &ksyms {
            if k.is_ld64 && !k.typeless {
                self.sys_close_blob(k.insn + 12);
            } else if !k.is_ld64 {
                self.sys_close_blob(4 * k.off as usize);
                if k.off < MAX_FD_ARRAY_SZ {
                    self.nr_fd_array = self.nr_fd_array.saturating_sub(1);
                }
            }
        }
        if p.attach_target.is_some() {
            self.sys_close_blob(a + PROG_ATTACH_BTF_OBJ_FD);
        }
        self.check_err();
        let slot = -self.stack_sz + 8 + 4 * self.nr_progs as i32;
        self.emit(Insn::stx(Size::W, R10, R7, slot as i16));
        self.nr_progs += 1;
    }

    fn finish(&mut self, nr_maps: u32) {
        self.sys_close_stack(-self.stack_sz);
        for i in 0..self.nr_progs {
            self.move_stack2ctx(
                ctx_prog_desc(self.nr_maps as usize, i as usize),
                4,
                -self.stack_sz + 8 + 4 * i as i32,
            );
        }
        for i in 0..self.nr_maps {
            let fd = ctx_map_desc(i as usize, loader_ctx::MAP_DESC_FD);
            self.move_blob2ctx(fd, 4, 4 * i as usize);
        }
        self.emit(Insn::mov64_imm(R0, 0));
        self.emit(Insn::exit());
        let _ = nr_maps;
        if !self.hash_insn.is_empty() {
            let sha = openssl::sha::sha256(&self.data);
            for (i, &at) in self.hash_insn.clone().iter().enumerate() {
                let dw = u64::from_le_bytes(sha[8 * i..8 * i + 8].try_into().expect("8 bytes"));
                self.insns[at].imm = dw as u32 as i32;
                self.insns[at + 1].imm = (dw >> 32) as u32 as i32;
            }
        }
    }
}

/// Emits the loader for `l` with configuration `cfg`.
pub(crate) fn emit(ctx: &Ctx, l: &Linked, cfg: &LoaderConfig) -> Result<Emitted, Error> {
    let nr_maps = l.maps.len() as u32;
    if nr_maps > MAX_USED_MAPS {
        return Err(ctx.limit(
            Limit::Maps,
            Some(".maps"),
            format!("{nr_maps} maps; the loader supports at most 64"),
        ));
    }
    // Stack slots: libbpf counts every BPF function, at least one per program loaded.
    let nr_programs = l.nr_programs.max(l.progs.len());
    if nr_programs > MAX_PROGS {
        return Err(ctx.limit(
            Limit::Programs,
            None,
            format!(
                "{} programs and subprograms; the loader's 512-byte stack holds {MAX_PROGS} program fds and every BPF function counts",
                nr_programs
            ),
        ));
    }
    let mut g = Gen {
        cfg,
        ctx,
        insns: Vec::new(),
        data: Vec::new(),
        cleanup_label: 0,
        nr_maps: 0,
        nr_progs: 0,
        nr_fd_array: 0,
        hash_insn: Vec::new(),
        ksyms: Vec::new(),
        error: None,
        stack_sz: loader_stack_size(nr_programs),
    };
    g.init(nr_programs, nr_maps);
    if let Some(btf) = &l.btf {
        g.load_btf(btf);
    }
    for (i, m) in l.maps.iter().enumerate() {
        if let Some(inner) = &m.inner {
            g.map_create(inner, -1);
        }
        g.map_create(m, i as i32);
        if let Some(init) = &m.initial {
            g.map_update_elem(i, init);
            if m.freeze {
                g.map_freeze(i);
            }
        }
        for &(slot, inner) in &m.slots {
            g.populate_outer_map(i, slot, inner);
        }
    }
    for p in &l.progs {
        g.prog_load(p, &l.license);
    }
    if let Some(e) = g.error.take() {
        return Err(e);
    }
    g.finish(nr_maps);
    if let Some(e) = g.error.take() {
        return Err(e);
    }
    if g.insns.len() > MAX_LOADER_INSNS {
        return Err(ctx.limit(
            Limit::InsnCount,
            None,
            format!("loader has {} instructions", g.insns.len()),
        ));
    }
    if g.data.len() > MAX_DATA_SIZE {
        return Err(ctx.limit(
            Limit::DataSize,
            None,
            format!("data blob of {} bytes", g.data.len()),
        ));
    }
    Ok(Emitted {
        insns: g.insns,
        data: g.data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::{CheckBlock, LoaderConfig};
    use crate::error::ErrorKind;
    use crate::link::{ExternRelo, Linked, LinkedProg, ProgInfo};
    use crate::parse::btf::kind;

    fn prog(externs: Vec<ExternRelo>, n_insns: usize) -> LinkedProg {
        LinkedProg {
            name: "p".into(),
            prog_idx: 0,
            prog_type: 26,
            expected_attach_type: 0,
            prog_flags: 0,
            attach_btf_id: 0,
            insns: vec![Insn::call(0); n_insns],
            func_info: ProgInfo::default(),
            line_info: ProgInfo::default(),
            core_relos: Vec::new(),
            attach_target: None,
            externs,
        }
    }

    fn linked(btf: Option<Vec<u8>>, progs: Vec<LinkedProg>, nr_programs: usize) -> Linked {
        Linked {
            obj_name: "t".into(),
            license: "GPL".into(),
            btf,
            maps: Vec::new(),
            progs,
            nr_programs,
        }
    }

    fn kfunc(name: &str, insn_idx: usize) -> ExternRelo {
        ExternRelo {
            name: name.into(),
            kind: kind::FUNC,
            insn_idx,
            is_weak: false,
            is_typeless: false,
            is_ld64: false,
        }
    }

    const P2: LoaderConfig = LoaderConfig {
        check_block: CheckBlock::None,
        ctx_overrides: false,
        libbpf170_jump_bug: false,
    };

    #[test]
    fn jump_range_is_a_typed_error() {
        // every repeated kfunc reference costs 10 loader insns; 4000 push the cleanup label out
        // of the s16 range of the final check.
        let ext = (0..4000).map(|i| kfunc("bpf_rcu_read_lock", i)).collect();
        let l = linked(None, vec![prog(ext, 4000)], 1);
        let e = emit(&Ctx::new("t.o"), &l, &P2).err().expect("must fail");
        assert_eq!(e.kind, ErrorKind::Limit(Limit::JumpRange), "{e}");
    }

    #[test]
    fn kfunc_slots_past_i16_max_are_a_typed_error() {
        // a 140 KB BTF pushes the blob end past 4 * 32767 bytes; the 257th distinct kfunc of
        // a program then needs a slot index > 32767.
        let ext = (0..257).map(|i| kfunc(&format!("k{i}"), i)).collect();
        let l = linked(Some(vec![0; 140_000]), vec![prog(ext, 257)], 1);
        let e = emit(&Ctx::new("t.o"), &l, &P2).err().expect("must fail");
        assert_eq!(e.kind, ErrorKind::Limit(Limit::KfuncSlots), "{e}");
        // 256 distinct kfuncs fit the reserved fd_array slots 64..319
        let ext = (0..256).map(|i| kfunc(&format!("k{i}"), i)).collect();
        let l = linked(Some(vec![0; 140_000]), vec![prog(ext, 256)], 1);
        assert!(emit(&Ctx::new("t.o"), &l, &P2).is_ok());
    }

    #[test]
    fn program_slots_and_prologue_formula() {
        let l = linked(None, vec![prog(Vec::new(), 2)], 32);
        let e = emit(&Ctx::new("t.o"), &l, &P2).unwrap();
        // goto +C with C = 3 * (2 + P) + 2 + 6 * M (docs/protocol.md §6.5)
        assert_eq!(e.insns[6], Insn::jmp_imm(op::JA, 0, 0, 3 * 34 + 2));
        // Up to 32 programs: libbpf's 136-byte stack, zeroed in the prologue.
        assert_eq!(e.insns[2], Insn::alu64_imm(op::ADD, R1, -136));
        let l = linked(None, vec![prog(Vec::new(), 2)], MAX_PROGS + 1);
        let err = emit(&Ctx::new("t.o"), &l, &P2).err().unwrap();
        assert_eq!(err.kind, ErrorKind::Limit(Limit::Programs));
    }

    #[test]
    fn past_32_programs_the_stack_grows_by_one_slot_each() {
        for (n, stack) in [(33, 140), (50, 208), (MAX_PROGS, 512)] {
            let progs = (0..n).map(|_| prog(Vec::new(), 2)).collect();
            let e = emit(&Ctx::new("t.o"), &linked(None, progs, n), &P2).unwrap();
            assert_eq!(e.insns[2], Insn::alu64_imm(op::ADD, R1, -stack), "{n}");
            assert_eq!(e.insns[3], Insn::mov64_imm(R2, stack), "{n}");
            // Every stack access stays below the frame pointer and inside the stack.
            for i in &e.insns {
                let r10 = (i.code & 0x07 == 0x03 && i.dst == R10)
                    || (i.code & 0x07 == 0x01 && i.src == R10);
                if r10 {
                    assert!((-stack..0).contains(&(i.off as i32)), "{n}: {i:?}");
                }
            }
        }
    }
}
