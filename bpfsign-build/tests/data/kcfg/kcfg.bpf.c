#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_BPF_LSM_X __kconfig __weak;
extern char CONFIG_LOCALVERSION[16] __kconfig __weak;
extern const void _stext __ksym;
extern const void bpf_prog_fops __ksym __weak;
extern const void init_task_nope __ksym __weak;
int out[6];
SEC("raw_tp/sys_enter")
int kc(void *ctx)
{
	out[0] = LINUX_KERNEL_VERSION;
	out[1] = CONFIG_HZ;
	out[2] = CONFIG_BPF_SYSCALL;
	out[3] = CONFIG_BPF_LSM_X;
	out[4] = CONFIG_LOCALVERSION[0];
	out[5] = (long)&_stext + (long)&bpf_prog_fops;
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
