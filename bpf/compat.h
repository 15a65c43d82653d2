/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Kernel-version shims for flowscope.bpf.c. Each one says why it exists.
 *
 * Minimum kernel: 5.17 (bpf_loop, used to walk payload chunks and iovecs with
 * one verified callback instead of an unrolled loop). Below that, also needed:
 * tp_btf programs 5.5, BPF ring buffer 5.8, bpf_get_current_task_btf and task
 * local storage in tracing programs 5.11, atomic fetch-add with a result 5.12
 * (-mcpu=v3).
 */
#ifndef FLOWSCOPE_COMPAT_H
#define FLOWSCOPE_COMPAT_H

#include <bpf/bpf_core_read.h>

/*
 * Syscall numbers of the x86_64 ABI. The syscall side is one program on the
 * raw sys_enter / sys_exit tracepoints (one dispatch instead of a program per
 * syscall tracepoint, which costs ftrace's per-syscall event machinery), and
 * those hand over the raw number from pt_regs, so the numbers are the arch's
 * own (arch/x86/entry/syscalls/syscall_64.tbl). Other arches need their table
 * here and their argument registers in the FS_SYSCALL_ARG macros below.
 */
#if defined(__TARGET_ARCH_x86)
#define FS_NR_READ 0
#define FS_NR_WRITE 1
#define FS_NR_CLOSE 3
#define FS_NR_READV 19
#define FS_NR_WRITEV 20
#define FS_NR_SENDFILE 40
#define FS_NR_CONNECT 42
#define FS_NR_ACCEPT 43
#define FS_NR_SENDTO 44
#define FS_NR_RECVFROM 45
#define FS_NR_SENDMSG 46
#define FS_NR_RECVMSG 47
#define FS_NR_ACCEPT4 288
/* Arguments in x86_64 syscall order: di, si, dx, r10, r8, r9. */
#define FS_SYSCALL_ARG0(regs) ((regs)->di)
#define FS_SYSCALL_ARG1(regs) ((regs)->si)
#define FS_SYSCALL_ARG2(regs) ((regs)->dx)
#define FS_SYSCALL_NR(regs) ((regs)->orig_ax)
/*
 * A 32-bit (ia32) task enters the same tracepoints with i386 numbers (3 is
 * read there, not close). The per-syscall tracepoints skipped those calls
 * (ftrace's trace_get_syscall_nr returns -1 for them); so do we, by the
 * thread's TS_COMPAT status bit (arch/x86/include/asm/thread_info.h), which is
 * set for the duration of an ia32 syscall. x32 calls carry bit 30 in the
 * number and never match a case.
 */
#define FS_TS_COMPAT 0x0002
static __always_inline bool fs_compat_syscall(struct task_struct *task)
{
	return task->thread_info.status & FS_TS_COMPAT;
}
#else
#error "flowscope: syscall numbers and argument registers are defined for x86_64 only (bpf/compat.h)"
#endif

/* Constants that are #defines in kernel headers and so never reach vmlinux.h. */
#define FS_AF_INET 2
#define FS_AF_INET6 10
#define FS_S_IFMT 00170000
#define FS_S_IFSOCK 0140000
#define FS_EINPROGRESS 115
#define FS_IPPROTO_TCP 6
#define FS_SOCK_STREAM 1

/*
 * sk_protocol was an 8-bit bitfield inside a u32 until 5.6 (commit bf9765145b85
 * "sock: Make sk_protocol a 16-bit value"). The PROBED bitfield read gets the
 * right bits on both layouts through CO-RE relocations.
 */
#define fs_sk_protocol(sk) ((__u16)BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol))

/*
 * skc_v6_rcv_saddr / skc_v6_daddr exist only when the kernel is built with
 * CONFIG_IPV6; without it, an AF_INET6 socket cannot exist either, so the
 * addresses are left zero.
 */
static __always_inline void fs_read_v6_addrs(struct sock *sk, __u8 local[16], __u8 remote[16])
{
	if (bpf_core_field_exists(sk->__sk_common.skc_v6_rcv_saddr)) {
		bpf_core_read(local, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(remote, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

#endif /* FLOWSCOPE_COMPAT_H */
