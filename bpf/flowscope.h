/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Records shared between the eBPF programs (bpf/flowscope.bpf.c) and user space
 * (native/loader.c, agent/capture/record-layout.generated.ts).
 *
 * Rules: fixed-width types only, explicit padding, every record starts with the
 * common header, sizes and offsets are pinned by static asserts below. The
 * TypeScript reader's offsets are generated from this file (native/gen-layout.c),
 * never retyped by hand.
 */
#ifndef FLOWSCOPE_H
#define FLOWSCOPE_H

#ifndef __VMLINUX_H__
/* User space: the kernel's own fixed-width types (the same ones libbpf's
 * headers pull in), so this header and <bpf/libbpf.h> can be included together. */
#include <linux/types.h>
#endif

#define FS_RECORD_VERSION 1

/* Largest payload slice carried by one DATA record. A syscall moving more
 * bytes produces several records (up to max_capture_bytes per call). */
#define FS_MAX_CHUNK 16384
#define FS_COMM_LEN 16
/* Emit scratch slots per CPU (bpf/flowscope.bpf.c, scratch_claim): one for a
 * program that was preempted mid-call, one for the program that runs next. */
#define FS_SCRATCH_SLOTS 2

enum fs_record_kind {
	FS_REC_CONN_OPEN = 1,  /* a connection was first seen */
	FS_REC_DATA = 2,       /* bytes moved on a connection (payload may be partial or absent) */
	FS_REC_CONN_CLOSE = 3, /* close() on a tracked connection */
};

enum fs_role {
	FS_ROLE_UNKNOWN = 0,
	FS_ROLE_CLIENT = 1, /* the process called connect() */
	FS_ROLE_SERVER = 2, /* the process got the fd from accept() */
};

/* Direction of bytes relative to the traced process. */
enum fs_direction {
	FS_DIR_EGRESS = 0,  /* written by the process */
	FS_DIR_INGRESS = 1, /* read by the process */
};

/* Protocol inferred in the kernel from the first bytes seen. */
enum fs_protocol {
	FS_PROTO_UNKNOWN = 0, /* not decided yet */
	FS_PROTO_OTHER = 1,   /* decided: not something we decode; no payload leaves the kernel */
	FS_PROTO_HTTP1 = 2,
	FS_PROTO_HTTP2 = 3,
	FS_PROTO_TLS = 4,     /* TLS records on the wire; plaintext only through TLS probes */
};

/* Where a DATA record's bytes came from. */
enum fs_data_source {
	FS_SRC_SYSCALL = 0, /* read/write family syscalls on the socket */
	FS_SRC_SSL = 1,     /* plaintext from a TLS library probe */
	FS_SRC_SENDFILE = 2 /* sendfile(): bytes counted, never captured */
};

/* Open / close reasons and flags (bit set in fs_conn_open.flags). */
#define FS_CONN_F_PREEXISTING (1u << 0) /* first seen on data, not on connect/accept */
#define FS_CONN_F_IPV6 (1u << 1)

/* Loss counters, one slot per cause, in the per-CPU array map `loss_counters`. */
enum fs_loss_cause {
	FS_LOSS_RINGBUF_FULL = 0,   /* bpf_ringbuf_output/reserve failed: record dropped */
	FS_LOSS_CONN_MAP_FULL = 1,  /* no room in the connection table: connection not tracked */
	FS_LOSS_TRUNCATED = 2,      /* payload bytes not captured because of the per-call cap */
	FS_LOSS_IOV_LIMIT = 3,      /* iovec entries beyond the per-call iovec limit */
	FS_LOSS_READ_FAULT = 4,     /* bpf_probe_read_user of payload failed */
	FS_LOSS_SSL_NO_FD = 5,      /* TLS plaintext whose connection fd could not be found */
	FS_LOSS_ARGS_MAP_FULL = 6,  /* no room to stash syscall/uprobe arguments */
	FS_LOSS_SCRATCH_BUSY = 7,   /* every scratch slot of the CPU taken (preempted programs): call sent without bytes */
	FS_LOSS__COUNT = 8,
};

struct fs_record_header {
	__u8 kind;     /* enum fs_record_kind */
	__u8 version;  /* FS_RECORD_VERSION */
	__u16 _pad0;
	__u32 tgid;    /* process id */
	__u32 tid;     /* thread id */
	__u32 fd;
	__u64 conn_gen; /* generation: ktime at first sight; (tgid, fd, conn_gen) names a connection */
	__u64 ts_ns;    /* CLOCK_MONOTONIC (bpf_ktime_get_ns) at the event */
};

struct fs_conn_open {
	struct fs_record_header hdr;
	__u8 role;     /* enum fs_role */
	__u8 family;   /* AF_INET (2) or AF_INET6 (10) */
	__u16 flags;   /* FS_CONN_F_* */
	__u16 local_port;  /* host byte order */
	__u16 remote_port; /* host byte order */
	__u8 local_addr[16];  /* IPv4 in the first 4 bytes, network order */
	__u8 remote_addr[16];
	char comm[FS_COMM_LEN];
	__u32 uid;
	__u32 _pad1;
	__u64 cgroup_id;
};

struct fs_data {
	struct fs_record_header hdr;
	__u8 direction; /* enum fs_direction */
	__u8 source;    /* enum fs_data_source */
	__u8 protocol;  /* enum fs_protocol, as inferred so far */
	__u8 _pad0;
	__u32 len;      /* bytes this record stands for, starting at pos */
	__u64 pos;      /* byte offset of the first byte within its direction (per source stream) */
	__u32 cap_len;  /* payload bytes that follow (<= len); [pos+cap_len, pos+len) were not captured */
	__u32 _pad1;
	/* __u8 payload[cap_len] follows */
};

struct fs_conn_close {
	struct fs_record_header hdr;
	__u8 role;
	__u8 protocol;
	__u8 tls;       /* plaintext was captured through TLS probes */
	__u8 _pad0;
	__u32 _pad1;
	__u64 bytes_sent;
	__u64 bytes_recv;
	__u64 start_ns;
};

#define FS_ASSERT_SIZE(t, n) _Static_assert(sizeof(t) == (n), "size of " #t)
FS_ASSERT_SIZE(struct fs_record_header, 32);
FS_ASSERT_SIZE(struct fs_conn_open, 32 + 8 + 32 + 16 + 8 + 8);
FS_ASSERT_SIZE(struct fs_data, 32 + 24);
FS_ASSERT_SIZE(struct fs_conn_close, 32 + 8 + 24);

/* Settings written before load (const volatile in the BPF object). */
struct fs_settings {
	__u32 agent_tgid;        /* never traced */
	__u32 max_capture_bytes; /* payload captured per syscall/TLS call, rounded up to chunks */
};

/*
 * Go crypto/tls probes: one entry per probed Go binary in the array map
 * `go_tls_confs`, indexed by the probes' BPF cookie. Addresses are the
 * binary's link-time virtual addresses; the probe adds the load bias it sees
 * (non-zero only for position-independent executables).
 */
#define FS_GO_TLS_BINARIES 64
struct fs_go_tls_conf {
	__u64 tcpconn_itab;  /* itab of *net.TCPConn for net.Conn; 0: not checked */
	__u64 write_entry;   /* probed instruction of crypto/tls.(*Conn).Write */
	__u64 read_entry;    /* probed instruction of crypto/tls.(*Conn).Read */
	__u32 conn_offset;   /* tls.Conn.conn (a net.Conn interface: itab, data) */
	__u32 netfd_offset;  /* net.conn.fd (*netFD) inside the TCPConn */
	__u32 sysfd_offset;  /* poll.FD.Sysfd inside netFD (pfd is its first field) */
	__u32 flags;         /* FS_GO_*_AT_JBE */
};

/* The entry probe sits on the prologue's stack-check JBE rather than the first
 * instruction: the kernel emulates a conditional jump, where the first
 * instruction would be single-stepped out of line (an extra trap). The
 * arguments are still in their registers there; when the jump is taken the
 * stack grows and the function starts again, so that hit is skipped. */
#define FS_GO_WRITE_AT_JBE (1u << 0)
#define FS_GO_READ_AT_JBE (1u << 1)

#endif /* FLOWSCOPE_H */
