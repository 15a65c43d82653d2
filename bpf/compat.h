/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Kernel-version shims for flowscope.bpf.c. Each one says why it exists.
 *
 * Minimum kernel: 5.17 (bpf_loop, used to walk payload chunks and iovecs with
 * one verified callback instead of an unrolled loop). Below that, also needed:
 * BPF ring buffer 5.8, bpf_get_current_task_btf 5.11, atomic fetch-add with a
 * result 5.12 (-mcpu=v3).
 */
#ifndef FLOWSCOPE_COMPAT_H
#define FLOWSCOPE_COMPAT_H

#include <bpf/bpf_core_read.h>

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
