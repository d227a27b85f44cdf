// SPDX-License-Identifier: GPL-2.0
/* bpfsign guard: a BPF LSM policy on the program-load hook that refuses every program load from
 * user space that carries no verified signature.
 *
 * Decision, the same on every signing kernel (CO-RE, one build):
 *  - kernel == true: the load was issued from inside the kernel (bpf_sys_bpf) by a program that
 *    is already loaded, normally a signed light-skeleton loader: allowed.
 *  - attr->signature != 0: the kernel verifies the signature whenever one is given and fails the
 *    load when it does not verify (6.18, 7.2: in bpf_prog_load; 7.3: in bpf_check, before this
 *    hook). Whichever side of the hook the check is on, a signed load that succeeds is a
 *    verified load. Where the kernel records the outcome (prog->aux->sig, 7.2+; filled before
 *    this hook there, the VM tests show), the keyring kind and resolved serial come from it.
 *  - anything else: -EPERM (or, in audit mode, allowed and recorded).
 * The keyring filter uses prog->aux->sig.keyring_type/keyring_serial where present, else
 * attr->keyring_id (0 builtin, 1 secondary, 2 platform, anything else a user keyring).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define EPERM 1

/* Kernel types, only the members read here; CO-RE relocates them by name. */
struct bpf_prog_aux___guard {
	struct {
		__s32 keyring_serial;
		__u8 keyring_type;
		__u8 verdict;
	} sig;
} __attribute__((preserve_access_index));

struct bpf_prog___guard {
	__u32 type;
	struct bpf_prog_aux___guard *aux;
} __attribute__((preserve_access_index));

union bpf_attr___guard {
	struct {
		__u32 prog_type;
		__u64 signature;
		__s32 keyring_id;
	};
} __attribute__((preserve_access_index));

struct bpf_token;
typedef _Bool guard_bool;

/* Keyring kinds, as the kernel's enum bpf_sig_keyring (7.2+). */
#define KR_BUILTIN 1
#define KR_SECONDARY 2
#define KR_PLATFORM 3
#define KR_USER 4

/* Counter slots. */
#define C_ALLOWED_SIGNED 0
#define C_ALLOWED_KERNEL 1
#define C_DENIED 2
#define C_AUDITED 3
#define C_WRONG_KEYRING 4
#define C_RECORDS 5
#define C_NUM 8

#define MAX_RECORDS 32

/* The policy, written once after load and then frozen. */
struct guard_config {
	__u32 configured;   /* 1 once user space wrote the policy; 0 = defaults (enforce, any keyring) */
	__u32 audit;        /* 1 = record and allow instead of refusing */
	__u32 keyring_mask; /* bit (1 << KR_*) per accepted keyring kind; 0 = any */
	__s32 user_serial;  /* accepted user keyring serial when KR_USER is set; 0 = any */
};

/* One refused (or, in audit mode, recorded) load. */
struct guard_record {
	__u64 ktime_ns;
	__u32 pid;
	__u32 uid;
	__u32 prog_type;
	__u32 reason; /* 1 unsigned, 2 signed with a keyring not accepted */
	__u32 audit;
	__u32 pad;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct guard_config);
} guard_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, C_NUM);
	__type(key, __u32);
	__type(value, __u64);
} guard_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_RECORDS);
	__type(key, __u32);
	__type(value, struct guard_record);
} guard_records SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(&guard_counters, &slot);

	if (c)
		__sync_fetch_and_add(c, 1);
}

static __always_inline void record(__u32 prog_type, __u32 reason, __u32 audit)
{
	__u32 slot = C_RECORDS;
	__u64 *n = bpf_map_lookup_elem(&guard_counters, &slot);
	struct guard_record *r;
	__u64 uid_gid = bpf_get_current_uid_gid();
	__u32 idx;

	if (!n)
		return;
	/* Best effort under concurrent refusals; no fetch-add result, so -mcpu=v1 compiles it. */
	idx = (__u32)(*n % MAX_RECORDS);
	__sync_fetch_and_add(n, 1);
	r = bpf_map_lookup_elem(&guard_records, &idx);
	if (!r)
		return;
	r->ktime_ns = bpf_ktime_get_ns();
	r->pid = bpf_get_current_pid_tgid() >> 32;
	r->uid = (__u32)uid_gid;
	r->prog_type = prog_type;
	r->reason = reason;
	r->audit = audit;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
}

static __always_inline int keyring_accepted(const struct guard_config *cfg, __u32 kind, __s32 serial)
{
	if (!cfg->keyring_mask)
		return 1;
	if (!(cfg->keyring_mask & (1u << kind)))
		return 0;
	if (kind == KR_USER && cfg->user_serial && cfg->user_serial != serial)
		return 0;
	return 1;
}

SEC("lsm/bpf_prog_load")
int BPF_PROG(bpfsign_guard, struct bpf_prog___guard *prog, union bpf_attr___guard *attr,
	     struct bpf_token *token, guard_bool kernel)
{
	__u32 zero = 0;
	struct guard_config defaults = {};
	struct guard_config *cfg = bpf_map_lookup_elem(&guard_config, &zero);
	__u32 prog_type, kind;
	__s32 serial;
	__u32 reason;

	if (!cfg)
		cfg = &defaults;
	if (kernel) {
		count(C_ALLOWED_KERNEL);
		return 0;
	}
	prog_type = attr->prog_type;
	if (attr->signature) {
		if (bpf_core_field_exists(prog->aux->sig) &&
		    prog->aux->sig.verdict == 1 /* BPF_SIG_VERIFIED */) {
			kind = prog->aux->sig.keyring_type;
			serial = prog->aux->sig.keyring_serial;
		} else {
			serial = attr->keyring_id;
			if (serial == 0)
				kind = KR_BUILTIN;
			else if (serial == 1)
				kind = KR_SECONDARY;
			else if (serial == 2)
				kind = KR_PLATFORM;
			else
				kind = KR_USER;
		}
		if (keyring_accepted(cfg, kind, serial)) {
			count(C_ALLOWED_SIGNED);
			return 0;
		}
		count(C_WRONG_KEYRING);
		reason = 2;
	} else {
		reason = 1;
	}
	record(prog_type, reason, cfg->audit);
	if (cfg->audit) {
		count(C_AUDITED);
		return 0;
	}
	count(C_DENIED);
	return -EPERM;
}

char _license[] SEC("license") = "GPL";
