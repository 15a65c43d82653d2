// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * flowscope kernel capture engine.
 *
 * One program on the raw sys_enter tracepoint and one on sys_exit (BTF-typed,
 * tp_btf) dispatch on the syscall number and see every read/write-family call
 * on TCP sockets; uprobes on SSL_read/SSL_write (libssl, static OpenSSL or
 * BoringSSL, Node.js) and on Go's crypto/tls see TLS plaintext; exec events
 * tell user space which new processes to look at for TLS binaries.
 * A kernel connection table keyed by (tgid, fd) holds
 * per-connection state: generation, role, inferred protocol and byte positions.
 * Records (bpf/flowscope.h) leave through one ring buffer; every record that
 * cannot leave, and every byte not captured, is counted in `loss_counters`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "flowscope.h"
#include "compat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- Sizes, all in one place ------------------------------------------- */
#define FS_EVENTS_BYTES (4u << 20)   /* ring buffer shared by all CPUs (the loader may resize it) */
#define FS_CONNS_MAX 65536           /* tracked connections */
#define FS_SSL_FDS_MAX 65536         /* SSL objects whose fd is known (LRU) */
#define FS_GO_READS_MAX 16384        /* Go TLS reads in flight (LRU) */
#define FS_EXECS_MAX 4096            /* exec'd pids not yet collected by user space */
#define FS_MAX_IOV 64                /* iovec entries walked per call (grpc-core writes 20+) */
#define FS_INFER_ATTEMPTS 16         /* calls tried before a mid-stream connection is OTHER */
#define FS_MAX_CAPTURE_LIMIT 65536   /* hard ceiling for settings.max_capture_bytes */
#define FS_EMIT_STEPS 160            /* bpf_loop steps per call: >= 2*FS_MAX_IOV + 2*chunks + 1 */
#define FS_WAKEUP_BYTES (256u << 10) /* wake the reader only once this much is pending */

/* Written by the loader before load; the verifier then prunes on these values. */
const volatile struct fs_settings settings = {
	.agent_tgid = 0,
	.max_capture_bytes = FS_MAX_CHUNK,
};

/* ---- Maps --------------------------------------------------------------- */
struct conn_key {
	__u32 tgid;
	__u32 fd;
};

/* bytes_sent / bytes_recv in close records are pos[EGRESS] / pos[INGRESS]. */
struct conn_state {
	__u64 sock;       /* struct sock * the fd pointed at; a different one means the fd was reused */
	__u64 conn_gen;
	__u64 start_ns;
	__u64 pos[2];     /* syscall byte positions, by enum fs_direction */
	__u64 tls_pos[2]; /* TLS plaintext byte positions, by enum fs_direction */
	__u8 role;
	__u8 protocol;     /* inferred from syscall bytes */
	__u8 tls_protocol; /* inferred from TLS plaintext */
	__u8 tls;
	__u8 flags; /* FS_CONN_F_* */
	__u8 attempts;
	__u8 tls_attempts;
	__u8 _pad;
};

enum call_shape {
	SHAPE_NONE = 0, /* sendfile: bytes without a user buffer */
	SHAPE_BUF = 1,  /* read, write, recvfrom, sendto */
	SHAPE_IOV = 2,  /* readv, writev */
	SHAPE_MSG = 3,  /* recvmsg, sendmsg: iovec inside a user msghdr */
	SHAPE_CONNECT = 4,
};

struct syscall_args {
	__u64 ptr;  /* buffer, iovec array or msghdr */
	__u64 sock; /* struct sock * seen at entry */
	__u32 fd;
	__u32 iovcnt;
	__u32 nr;   /* syscall number, checked again at exit */
	__u8 shape;
	__u8 dir;
	__u8 active; /* set at entry, cleared at exit */
	__u8 _pad;
};

struct ssl_args {
	__u64 ssl;
	__u64 buf;
	__u64 ex_out; /* size_t *written / *readbytes for the _ex forms, 0 otherwise */
	__u32 fd;     /* socket used by a syscall inside this call */
	__u8 has_fd;
	__u8 dir;
	__u8 active; /* inside a TLS call on this thread */
	__u8 _pad;
};

/* Per-thread state of the call in flight: syscall arguments from entry to
 * exit, and the TLS call around it. */
struct task_ctx {
	struct syscall_args sys;
	struct ssl_args ssl;
	/* The socket of this thread's latest read of TLS records, not yet
	 * claimed by a TLS read call. Node's TLS runs over memory BIOs: libuv
	 * reads ciphertext from the socket, then, in the same callback on the
	 * same thread, SSL_read decrypts it. */
	__u32 tls_read_fd;
	__u8 has_tls_read_fd;
	__u8 _pad[3];
};

struct ssl_key {
	__u32 tgid;
	__u32 _pad;
	__u64 ssl;
};

/* The connection an SSL object was last seen on: a generation that no longer
 * matches the connection table means the fd (or the SSL object) was reused. */
struct ssl_conn {
	__u32 fd;
	__u32 _pad;
	__u64 conn_gen;
};

/* A Go crypto/tls Read in flight, from its entry to one of its RETs. Keyed by
 * goroutine (the g pointer Go keeps in R14), not by thread: a Read that blocks
 * parks its goroutine, which may resume on another thread. */
struct go_read_key {
	__u32 tgid;
	__u32 _pad;
	__u64 g;
};

struct go_read_args {
	__u64 buf;
	__u32 fd;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FS_EVENTS_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FS_CONNS_MAX);
	__type(key, struct conn_key);
	__type(value, struct conn_state);
} conns SEC(".maps");

/* Task-local storage, not a hash keyed by pid_tgid: a lookup is a pointer walk
 * from the task, and an entry dies with its thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FS_SSL_FDS_MAX);
	__type(key, struct ssl_key);
	__type(value, struct ssl_conn);
} ssl_fds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FS_GO_TLS_BINARIES);
	__type(key, __u32);
	__type(value, struct fs_go_tls_conf);
} go_tls_confs SEC(".maps");

/* LRU: a goroutine that never returns from Read (its program exited) ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FS_GO_READS_MAX);
	__type(key, struct go_read_key);
	__type(value, struct go_read_args);
} go_reads SEC(".maps");

/* Processes that just exec'd, for user space to look for TLS binaries to
 * probe without waiting for its next /proc scan. Full: the scan finds them. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, FS_EXECS_MAX);
	__type(value, __u32);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FS_LOSS__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} loss_counters SEC(".maps");

/* ---- Helpers ------------------------------------------------------------ */
static __always_inline void count_loss(__u32 cause, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&loss_counters, &cause);

	if (v)
		__sync_fetch_and_add(v, n); /* the program may be preempted (scratch_claim) */
}

static __always_inline __u64 wakeup_flags(void)
{
	/* Batch wake-ups: the reader polls with a timeout and is woken early only
	 * when enough is pending to be worth a batch. */
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= FS_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
										  : BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_header(struct fs_record_header *h, __u8 kind, __u64 id, __u32 fd,
					__u64 conn_gen)
{
	h->kind = kind;
	h->version = FS_RECORD_VERSION;
	h->_pad0 = 0;
	h->tgid = id >> 32;
	h->tid = (__u32)id;
	h->fd = fd;
	h->conn_gen = conn_gen;
	h->ts_ns = bpf_ktime_get_ns();
}

/* fd -> struct sock of a TCP socket (IPv4 or IPv6), or NULL. Non-socket fds stop
 * after the inode mode check. */
static __always_inline struct sock *tcp_sock_of_fd(struct task_struct *task, __u32 fd)
{
	/* BTF-typed task: the walk to the fd array is plain (fault-safe) loads,
	 * not helper calls; this runs on every read/write on the host. */
	struct fdtable *fdt = task->files->fdt;
	struct file **fds;
	struct file *file = NULL;
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & FS_S_IFMT) != FS_S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != FS_SOCK_STREAM)
		return NULL;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != FS_AF_INET && family != FS_AF_INET6)
		return NULL;
	if (fs_sk_protocol(sk) != FS_IPPROTO_TCP)
		return NULL;
	return sk;
}

static __always_inline __u8 conn_close_protocol(const struct conn_state *c)
{
	/* For a TLS connection whose plaintext was classified, the application
	 * protocol is what a reader wants; the tls byte says it was wrapped. */
	if (c->tls && c->tls_protocol != FS_PROTO_UNKNOWN)
		return c->tls_protocol;
	return c->protocol;
}

static __always_inline void emit_close(const struct conn_key *key, const struct conn_state *c)
{
	struct fs_conn_close rec = {};

	fill_header(&rec.hdr, FS_REC_CONN_CLOSE, bpf_get_current_pid_tgid(), key->fd, c->conn_gen);
	rec.role = c->role;
	rec.protocol = conn_close_protocol(c);
	rec.tls = c->tls;
	rec.bytes_sent = c->pos[FS_DIR_EGRESS];
	rec.bytes_recv = c->pos[FS_DIR_INGRESS];
	rec.start_ns = c->start_ns;
	if (bpf_ringbuf_output(&events, &rec, sizeof(rec), wakeup_flags()))
		count_loss(FS_LOSS_RINGBUF_FULL, 1);
}

/* Start a new generation for key (replacing a stale one, which is reported
 * closed first) and emit its open record. Returns the map entry or NULL. */
static __always_inline struct conn_state *conn_start(const struct conn_key *key, struct sock *sk,
						     __u8 role, __u16 flags)
{
	struct conn_state *old = bpf_map_lookup_elem(&conns, key);
	struct conn_state c = {};
	struct fs_conn_open rec = {};
	__u64 id = bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();

	if (old)
		emit_close(key, old);

	rec.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (rec.family == FS_AF_INET6) {
		flags |= FS_CONN_F_IPV6;
		fs_read_v6_addrs(sk, rec.local_addr, rec.remote_addr);
	} else {
		BPF_CORE_READ_INTO((__u32 *)rec.local_addr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)rec.remote_addr, sk, __sk_common.skc_daddr);
	}
	rec.local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	rec.remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));

	c.sock = (__u64)sk;
	c.conn_gen = now;
	c.start_ns = now;
	c.role = role;
	c.flags = flags;
	if (bpf_map_update_elem(&conns, key, &c, BPF_ANY)) {
		count_loss(FS_LOSS_CONN_MAP_FULL, 1);
		return NULL;
	}

	fill_header(&rec.hdr, FS_REC_CONN_OPEN, id, key->fd, now);
	rec.hdr.ts_ns = now;
	rec.role = role;
	rec.flags = flags;
	bpf_get_current_comm(rec.comm, sizeof(rec.comm));
	rec.uid = (__u32)bpf_get_current_uid_gid();
	rec.cgroup_id = bpf_get_current_cgroup_id();
	if (bpf_ringbuf_output(&events, &rec, sizeof(rec), wakeup_flags()))
		count_loss(FS_LOSS_RINGBUF_FULL, 1);
	return bpf_map_lookup_elem(&conns, key);
}

/* The connection for data on (tgid, fd) whose socket is sk: the tracked entry,
 * or a new pre-existing one when the fd is untracked or now names another socket. */
static __always_inline struct conn_state *conn_for_data(const struct conn_key *key, struct sock *sk)
{
	struct conn_state *c = bpf_map_lookup_elem(&conns, key);

	if (c && c->sock == (__u64)sk)
		return c;
	return conn_start(key, sk, FS_ROLE_UNKNOWN, FS_CONN_F_PREEXISTING);
}

/* ---- Protocol inference ------------------------------------------------- */
#define LE2(a, b) ((__u64)(a) | (__u64)(b) << 8)
#define LE4(a, b, c, d) (LE2(a, b) | LE2(c, d) << 16)
#define LE8(a, b, c, d, e, f, g, h) (LE4(a, b, c, d) | LE4(e, f, g, h) << 32)
#define MASK(n) ((n) >= 8 ? ~0ULL : ((1ULL << ((n) * 8)) - 1))
#define HAS(w, n, lit) (((w) & MASK(n)) == ((lit) & MASK(n)))

/* A plausible HTTP/2 frame header: a known type with only that type's flags,
 * the reserved bit clear, a stream id of 0 exactly for connection-level frames,
 * and a length that suits the type within the default maximum frame size. */
static __always_inline bool h2_frame_header(const __u8 *b)
{
	__u32 len = (__u32)b[0] << 16 | (__u32)b[1] << 8 | b[2];
	__u8 type = b[3], flags = b[4];
	bool stream0 = (b[5] | b[6] | b[7] | b[8]) == 0;

	if (len > 16384 || (b[5] & 0x80))
		return false;
	switch (type) {
	case 0: /* DATA: END_STREAM, PADDED */
		return !(flags & ~0x09) && !stream0;
	case 1: /* HEADERS: END_STREAM, END_HEADERS, PADDED, PRIORITY */
		return !(flags & ~0x2d) && !stream0 && len > 0;
	case 2: /* PRIORITY */
		return !flags && !stream0 && len == 5;
	case 3: /* RST_STREAM */
		return !flags && !stream0 && len == 4;
	case 4: /* SETTINGS: ACK (empty) */
		return !(flags & ~0x01) && stream0 && len % 6 == 0 && (!flags || !len);
	case 5: /* PUSH_PROMISE: END_HEADERS, PADDED */
		return !(flags & ~0x0c) && !stream0 && len >= 4;
	case 6: /* PING: ACK */
		return !(flags & ~0x01) && stream0 && len == 8;
	case 7: /* GOAWAY */
		return !flags && stream0 && len >= 8;
	case 8: /* WINDOW_UPDATE */
		return !flags && len == 4;
	case 9: /* CONTINUATION: END_HEADERS */
		return !(flags & ~0x04) && !stream0;
	}
	return false;
}

/* Mid-stream: the call starts with an HTTP/2 frame header and, when the call
 * holds more after that frame, the next frame header is plausible too. */
static __always_inline bool h2_midstream(__u64 ptr, __u32 avail, const __u8 *first)
{
	__u32 next = 9 + ((__u32)first[0] << 16 | (__u32)first[1] << 8 | first[2]);
	__u8 b[9];

	if (!h2_frame_header(first))
		return false;
	if (next >= avail)
		return true;
	if (avail - next < 9 || next > 9 + 16384)
		return false;
	if (bpf_probe_read_user(b, sizeof(b), (const void *)(ptr + next)))
		return false;
	return h2_frame_header(b);
}

static __always_inline __u8 classify(__u64 ptr, __u32 avail, bool midstream)
{
	union {
		__u64 w[2];
		__u8 b[16];
	} u = {};
	__u32 n = avail < 16 ? avail : 16;
	__u64 w0;

	if (!ptr || n == 0)
		return FS_PROTO_UNKNOWN;
	barrier_var(n);
	if (n > 16)
		return FS_PROTO_UNKNOWN;
	if (bpf_probe_read_user(u.b, n, (const void *)ptr))
		return FS_PROTO_UNKNOWN;
	w0 = u.w[0];

	if (n >= 14 && w0 == LE8('P', 'R', 'I', ' ', '*', ' ', 'H', 'T') &&
	    HAS(u.w[1], 6, LE8('T', 'P', '/', '2', '.', '0', 0, 0)))
		return FS_PROTO_HTTP2;
	if ((n >= 4 && (HAS(w0, 4, LE4('G', 'E', 'T', ' ')) || HAS(w0, 4, LE4('P', 'U', 'T', ' ')))) ||
	    (n >= 5 && (HAS(w0, 5, LE8('P', 'O', 'S', 'T', ' ', 0, 0, 0)) ||
			HAS(w0, 5, LE8('H', 'E', 'A', 'D', ' ', 0, 0, 0)))) ||
	    (n >= 6 && (HAS(w0, 6, LE8('P', 'A', 'T', 'C', 'H', ' ', 0, 0)) ||
			HAS(w0, 6, LE8('T', 'R', 'A', 'C', 'E', ' ', 0, 0)))) ||
	    (n >= 7 && (HAS(w0, 7, LE8('D', 'E', 'L', 'E', 'T', 'E', ' ', 0)) ||
			HAS(w0, 7, LE8('H', 'T', 'T', 'P', '/', '1', '.', 0)))) ||
	    (n >= 8 && (w0 == LE8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' ') ||
			w0 == LE8('C', 'O', 'N', 'N', 'E', 'C', 'T', ' '))))
		return FS_PROTO_HTTP1;
	/* A server's first HTTP/2 bytes: a SETTINGS frame (type 4, no flags,
	 * stream 0, length a multiple of 6), sent before it reads the preface. */
	if (n >= 9 && u.b[3] == 4 && u.b[4] == 0 && u.b[5] == 0 && u.b[6] == 0 && u.b[7] == 0 &&
	    u.b[8] == 0 && u.b[0] == 0 && u.b[1] == 0 && u.b[2] % 6 == 0)
		return FS_PROTO_HTTP2;
	/* TLS handshake record; mid-stream also application data and alerts. */
	if (n >= 3 && u.b[1] == 3 && u.b[2] <= 4 &&
	    (u.b[0] == 0x16 || (midstream && (u.b[0] == 0x17 || u.b[0] == 0x15))))
		return FS_PROTO_TLS;
	/* A connection first seen mid-stream never shows the preface: HTTP/2 is
	 * recognised by its frames (two in a row when the call holds two). */
	if (midstream && n >= 9 && h2_midstream(ptr, avail, u.b))
		return FS_PROTO_HTTP2;
	return FS_PROTO_UNKNOWN;
}

/* Decide *proto from the first bytes of this call if still undecided. New
 * connections decide on their first bytes; mid-stream ones get FS_INFER_ATTEMPTS. */
static __always_inline void infer(__u8 *proto, __u8 *attempts, bool midstream, __u64 ptr, __u32 avail)
{
	__u8 p;

	/* No bytes to look at (sendfile, an empty first iovec entry): no attempt. */
	if (*proto != FS_PROTO_UNKNOWN || !ptr || !avail)
		return;
	p = classify(ptr, avail, midstream);
	if (p == FS_PROTO_UNKNOWN) {
		*attempts += 1;
		if (!midstream || *attempts >= FS_INFER_ATTEMPTS)
			p = FS_PROTO_OTHER;
	}
	*proto = p;
}

static __always_inline bool carries_payload(__u8 proto)
{
	return proto == FS_PROTO_HTTP1 || proto == FS_PROTO_HTTP2;
}

/* ---- DATA records ------------------------------------------------------- */
struct user_iovec {
	__u64 base;
	__u64 len;
};

/* x86-64 / generic 64-bit layout of struct user_msghdr up to msg_iovlen (user ABI). */
struct user_msghdr_head {
	__u64 msg_name;
	__u32 msg_namelen;
	__u32 _pad;
	__u64 msg_iov;
	__u64 msg_iovlen;
};

/* One call's bytes, described as DATA records by a bpf_loop over emit_step.
 * Bytes are gathered into the payload across iovec segments, so a call makes
 * one record per FS_MAX_CHUNK captured bytes, not one per segment: nginx
 * writes a response as header + body (two segments), grpc-core 20 and more. */
struct emit_state {
	__u64 id; /* pid_tgid */
	__u64 conn_gen;
	__u64 pos;      /* position of the first byte of the record being gathered */
	__u64 seg;      /* user pointer of the current segment */
	__u64 iov;      /* user iovec array, 0 for a single buffer */
	__u32 seg_left; /* bytes left in the current segment */
	__u32 remaining; /* bytes of the call neither gathered nor described yet */
	__u32 budget;    /* payload bytes still allowed */
	__u32 filled;    /* bytes gathered in the payload for the record at pos */
	__u32 iov_idx;
	__u32 iovcnt;
	__u32 fd;
	__u8 dir;
	__u8 source;
	__u8 protocol;
	__u8 _pad[1];
};

/* An emit scratch slot: the emit state lives in a map value, not on the
 * stack, so the verifier sees unknown scalars and checks emit_step once
 * instead of once per distinct constant budget/position it could track. The
 * record header is followed directly by its payload so one bpf_ringbuf_output
 * sends both. The payload is twice the largest record: the verifier bounds a
 * copy's offset (< FS_MAX_CHUNK) and length (<= FS_MAX_CHUNK) separately, not
 * their sum. That is more than a per-CPU map value may hold (32 KiB), so this
 * is a plain array of FS_SCRATCH_SLOTS slots per possible CPU (the loader sets
 * the count). */
struct data_scratch {
	__u64 owner; /* pid_tgid of the call being described, 0 when free */
	struct emit_state st;
	struct fs_data rec;
	__u8 payload[2 * FS_MAX_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* FS_SCRATCH_SLOTS per possible CPU, set by the loader */
	__type(key, __u32);
	__type(value, struct data_scratch);
} data_scratch SEC(".maps");

/* Programs run with migration disabled, so a CPU's slots serve only programs
 * on that CPU, but not always with preemption disabled: a uprobe program, or a
 * syscall tracepoint's on a kernel whose syscall tracepoints may fault, can be
 * preempted on a preemptible kernel, and the next program on that CPU must
 * not write into the preempted one's record. A slot is taken with a
 * compare-and-swap and given back when the call is described; a program that
 * finds its CPU's slots all taken describes the call without its bytes. */
static __always_inline struct data_scratch *scratch_claim(__u64 id, __u32 *slot)
{
	__u32 first = bpf_get_smp_processor_id() * FS_SCRATCH_SLOTS;

	for (__u32 i = first; i < first + FS_SCRATCH_SLOTS; i++) {
		struct data_scratch *b = bpf_map_lookup_elem(&data_scratch, &i);

		if (b && __sync_val_compare_and_swap(&b->owner, 0, id) == 0) {
			*slot = i;
			return b;
		}
	}
	return NULL;
}

static __always_inline void fill_data_header(struct fs_data *rec, const struct emit_state *st, __u32 len)
{
	fill_header(&rec->hdr, FS_REC_DATA, st->id, st->fd, st->conn_gen);
	rec->direction = st->dir;
	rec->source = st->source;
	rec->protocol = st->protocol;
	rec->_pad0 = 0;
	rec->len = len;
	rec->pos = st->pos;
	rec->cap_len = 0;
	rec->_pad1 = 0;
}

/* Sends the record being gathered: it stands for [st->pos, st->pos + len) and
 * carries the st->filled bytes gathered so far (len >= filled; the bytes after
 * them were not captured). The next record starts where this one ends. */
static __always_inline void send_record(struct data_scratch *b, __u32 len)
{
	struct emit_state *st = &b->st;
	__u32 cap = st->filled;

	fill_data_header(&b->rec, st, len);
	barrier_var(cap);
	if (cap > FS_MAX_CHUNK)
		cap = 0;
	b->rec.cap_len = cap;
	if (bpf_ringbuf_output(&events, &b->rec, sizeof(struct fs_data) + cap, wakeup_flags()))
		count_loss(FS_LOSS_RINGBUF_FULL, 1);
	st->pos += len;
	st->filled = 0;
}

/* Describes the whole call without its bytes: sendfile's, or any when no
 * scratch slot was free. */
static __always_inline void send_uncaptured(const struct emit_state *st)
{
	struct fs_data rec;

	fill_data_header(&rec, st, st->remaining);
	if (bpf_ringbuf_output(&events, &rec, sizeof(rec), wakeup_flags()))
		count_loss(FS_LOSS_RINGBUF_FULL, 1);
}

/* Sends what is gathered as a record that also stands for the rest of the call. */
static __always_inline void send_rest(struct data_scratch *b)
{
	struct emit_state *st = &b->st;

	send_record(b, st->filled + st->remaining);
	st->remaining = 0;
}

/* Copies up to n bytes of the current segment into the payload after what is gathered. */
static __always_inline int gather(struct data_scratch *b, __u32 n)
{
	__u32 off = b->st.filled & (FS_MAX_CHUNK - 1); /* < FS_MAX_CHUNK: a full payload is sent first */

	barrier_var(n);
	if (n > FS_MAX_CHUNK)
		return -1;
	return bpf_probe_read_user(b->payload + off, n, (const void *)b->st.seg);
}

/* ctx: the index of the scratch slot emit_data claimed. */
static long emit_step(__u32 index, void *ctx)
{
	struct data_scratch *b = bpf_map_lookup_elem(&data_scratch, ctx);
	struct emit_state *st;
	struct user_iovec v;
	__u32 n;

	if (!b)
		return 1;
	st = &b->st;
	if (st->remaining == 0)
		return 1;
	if (st->seg_left == 0) {
		if (!st->iov || st->iov_idx >= st->iovcnt) {
			send_rest(b); /* the call reported more bytes than its buffers hold */
			return 1;
		}
		if (st->iov_idx >= FS_MAX_IOV) {
			count_loss(FS_LOSS_IOV_LIMIT, st->iovcnt - st->iov_idx);
			send_rest(b);
			return 1;
		}
		if (bpf_probe_read_user(&v, sizeof(v), (const void *)(st->iov + st->iov_idx * sizeof(v)))) {
			count_loss(FS_LOSS_READ_FAULT, 1);
			send_rest(b);
			return 1;
		}
		st->iov_idx++;
		st->seg = v.base;
		st->seg_left = v.len < st->remaining ? v.len : st->remaining;
		return 0;
	}
	if (st->budget == 0) {
		/* Cap reached: the last record also stands for the rest of the call. */
		count_loss(FS_LOSS_TRUNCATED, st->remaining);
		send_rest(b);
		return 1;
	}
	if (st->filled >= FS_MAX_CHUNK) {
		send_record(b, st->filled);
		return 0;
	}
	n = st->seg_left;
	if (n > FS_MAX_CHUNK - st->filled)
		n = FS_MAX_CHUNK - st->filled;
	if (n > st->budget)
		n = st->budget;
	if (gather(b, n)) {
		/* What was gathered goes as it is, these bytes as uncaptured. */
		count_loss(FS_LOSS_READ_FAULT, 1);
		if (st->filled)
			send_record(b, st->filled);
		send_record(b, n);
	} else {
		st->filled += n;
	}
	st->remaining -= n;
	st->seg += n;
	st->seg_left -= n;
	st->budget -= n;
	if (st->remaining == 0) {
		if (st->filled)
			send_record(b, st->filled);
		return 1;
	}
	return 0;
}

static __always_inline __u32 capture_budget(void)
{
	__u32 cap = settings.max_capture_bytes;

	return cap > FS_MAX_CAPTURE_LIMIT ? FS_MAX_CAPTURE_LIMIT : cap;
}

/* Describe the call set up in st as DATA records. */
static __always_inline void emit_data(const struct emit_state *st)
{
	struct data_scratch *b;
	__u32 slot;

	if (st->source == FS_SRC_SENDFILE) {
		send_uncaptured(st); /* counted, never captured: no scratch needed */
		return;
	}
	b = scratch_claim(st->id, &slot);
	if (!b) {
		count_loss(FS_LOSS_SCRATCH_BUSY, 1);
		send_uncaptured(st);
		return;
	}
	b->st = *st;
	if (!b->st.iov && b->st.seg_left == b->st.remaining && b->st.remaining <= FS_MAX_CHUNK &&
	    b->st.remaining <= b->st.budget) {
		/* The common case, one buffer that fits one record under the cap, is
		 * one read and one output here instead of the loop's machinery. */
		if (gather(b, b->st.remaining))
			count_loss(FS_LOSS_READ_FAULT, 1);
		else
			b->st.filled = b->st.remaining;
		send_record(b, b->st.remaining);
	} else {
		bpf_loop(FS_EMIT_STEPS, emit_step, &slot, 0);
		if (b->st.remaining || b->st.filled)
			send_rest(b); /* out of steps: still describe every byte */
	}
	b->owner = 0;
}

/* ---- Syscall side: one program on sys_enter, one on sys_exit ----------- */
static __always_inline bool is_agent(struct task_struct *task)
{
	return (__u32)task->tgid == settings.agent_tgid;
}

static __always_inline __u64 pid_tgid_of(struct task_struct *task)
{
	return (__u64)(__u32)task->tgid << 32 | (__u32)task->pid;
}

/* This thread's slot, created on first use: freed by the kernel with the task,
 * so nothing leaks when a thread dies inside a traced call. */
static __always_inline struct task_ctx *task_ctx_create(struct task_struct *task)
{
	struct task_ctx *t = bpf_task_storage_get(&task_ctxs, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!t)
		count_loss(FS_LOSS_ARGS_MAP_FULL, 1);
	return t;
}

static __always_inline int syscall_enter(struct task_struct *task, __u32 nr, __u32 fd, __u8 shape,
					 __u64 ptr, __u32 iovcnt, __u8 dir)
{
	struct task_ctx *t;
	struct sock *sk;

	if (is_agent(task) || fs_compat_syscall(task))
		return 0;
	sk = tcp_sock_of_fd(task, fd);
	if (!sk)
		return 0;
	t = task_ctx_create(task);
	if (!t)
		return 0;
	t->sys.ptr = ptr;
	t->sys.sock = (__u64)sk;
	t->sys.fd = fd;
	t->sys.iovcnt = iovcnt;
	t->sys.nr = nr;
	t->sys.shape = shape;
	t->sys.dir = dir;
	t->sys.active = 1;
	return 0;
}

/* The arguments stashed at entry of syscall nr on this thread, consumed. */
static __always_inline struct task_ctx *syscall_args_take(struct task_struct *task, __u32 nr)
{
	struct task_ctx *t = bpf_task_storage_get(&task_ctxs, task, 0, 0);

	if (!t || !t->sys.active || t->sys.nr != nr)
		return NULL;
	t->sys.active = 0;
	return t;
}

/* The iovec array of a readv/writev/recvmsg/sendmsg call (0 when unreadable). */
static __always_inline __u64 call_iov(const struct syscall_args *a, __u32 *iovcnt)
{
	struct user_msghdr_head mh;

	*iovcnt = 0;
	if (a->shape == SHAPE_IOV) {
		*iovcnt = a->iovcnt;
		return a->ptr;
	}
	if (a->shape != SHAPE_MSG || bpf_probe_read_user(&mh, sizeof(mh), (const void *)a->ptr))
		return 0;
	*iovcnt = mh.msg_iovlen > 0xffffffff ? 0xffffffff : (__u32)mh.msg_iovlen;
	return mh.msg_iov;
}

/* The first segment of the call's bytes, for protocol inference. */
static __always_inline __u64 first_segment(const struct syscall_args *a, __u32 ret, __u32 *avail)
{
	struct user_iovec v;
	__u32 iovcnt;
	__u64 iov;

	*avail = ret;
	if (a->shape == SHAPE_BUF)
		return a->ptr;
	iov = call_iov(a, &iovcnt);
	if (!iov || !iovcnt || bpf_probe_read_user(&v, sizeof(v), (const void *)iov))
		return 0;
	if (v.len < *avail)
		*avail = v.len;
	return v.base;
}

static __always_inline int data_exit(struct task_struct *task, __u32 nr, long ret)
{
	struct task_ctx *t = syscall_args_take(task, nr);
	struct syscall_args a;
	struct conn_state *c;
	struct conn_key key;
	struct emit_state st = {};
	bool in_ssl;
	__u32 avail;
	__u64 first;

	if (!t)
		return 0;
	a = t->sys;
	/* A socket syscall inside a TLS library call names that call's fd. */
	in_ssl = t->ssl.active;
	if (in_ssl) {
		t->ssl.fd = a.fd;
		t->ssl.has_fd = 1;
	}
	if (ret <= 0)
		return 0;

	key.tgid = task->tgid;
	key.fd = a.fd;
	c = conn_for_data(&key, (struct sock *)a.sock);
	if (!c)
		return 0;
	if (in_ssl) {
		c->tls = 1;
		c->protocol = FS_PROTO_TLS;
	}
	st.pos = __sync_fetch_and_add(&c->pos[a.dir & 1], (__u64)ret);
	if (c->protocol == FS_PROTO_UNKNOWN) {
		first = first_segment(&a, (__u32)ret, &avail);
		infer(&c->protocol, &c->attempts, c->flags & FS_CONN_F_PREEXISTING, first, avail);
	}
	if (!in_ssl && a.dir == FS_DIR_INGRESS && c->protocol == FS_PROTO_TLS) {
		t->tls_read_fd = a.fd;
		t->has_tls_read_fd = 1;
	}
	if (c->tls || !carries_payload(c->protocol))
		return 0;

	st.id = pid_tgid_of(task);
	st.conn_gen = c->conn_gen;
	st.fd = a.fd;
	st.dir = a.dir;
	st.protocol = c->protocol;
	st.remaining = (__u32)ret;
	st.budget = capture_budget();
	if (a.shape == SHAPE_NONE) {
		st.source = FS_SRC_SENDFILE;
	} else {
		st.source = FS_SRC_SYSCALL;
		if (a.shape == SHAPE_BUF) {
			st.seg = a.ptr;
			st.seg_left = (__u32)ret;
		} else {
			st.iov = call_iov(&a, &st.iovcnt);
		}
	}
	emit_data(&st);
	return 0;
}

static __always_inline int connect_exit(struct task_struct *task, long ret)
{
	struct task_ctx *t = syscall_args_take(task, FS_NR_CONNECT);
	struct conn_key key;

	if (!t)
		return 0;
	key.tgid = task->tgid;
	key.fd = t->sys.fd;
	if (ret == 0 || ret == -FS_EINPROGRESS)
		conn_start(&key, (struct sock *)t->sys.sock, FS_ROLE_CLIENT, 0);
	return 0;
}

static __always_inline int accept_exit(struct task_struct *task, long ret)
{
	struct conn_key key;
	struct sock *sk;

	if (ret < 0 || is_agent(task) || fs_compat_syscall(task))
		return 0;
	sk = tcp_sock_of_fd(task, (__u32)ret);
	if (!sk)
		return 0;
	key.tgid = task->tgid;
	key.fd = (__u32)ret;
	conn_start(&key, sk, FS_ROLE_SERVER, 0);
	return 0;
}

static __always_inline int close_enter(struct task_struct *task, __u32 fd)
{
	struct conn_key key = { .tgid = task->tgid, .fd = fd };
	struct conn_state *c;

	if (is_agent(task) || fs_compat_syscall(task))
		return 0;
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return 0;
	emit_close(&key, c);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/*
 * Every syscall on the host passes here, so unrelated ones (futex, epoll_wait,
 * ...) must cost only the dispatch on the number: no helper call, no map.
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long nr)
{
	struct task_struct *task;
	__u32 fd;
	__u64 ptr, cnt;

	switch (nr) {
	case FS_NR_READ:
	case FS_NR_WRITE:
	case FS_NR_READV:
	case FS_NR_WRITEV:
	case FS_NR_RECVFROM:
	case FS_NR_SENDTO:
	case FS_NR_RECVMSG:
	case FS_NR_SENDMSG:
	case FS_NR_SENDFILE:
	case FS_NR_CONNECT:
	case FS_NR_CLOSE:
		break;
	default:
		return 0;
	}
	task = bpf_get_current_task_btf();
	fd = (__u32)FS_SYSCALL_ARG0(regs);
	if (nr == FS_NR_CLOSE)
		return close_enter(task, fd);
	if (nr == FS_NR_CONNECT)
		return syscall_enter(task, nr, fd, SHAPE_CONNECT, 0, 0, FS_DIR_EGRESS);
	/* sendfile64(out_fd, in_fd, offset, count): the socket is out_fd. */
	if (nr == FS_NR_SENDFILE)
		return syscall_enter(task, nr, fd, SHAPE_NONE, 0, 0, FS_DIR_EGRESS);
	ptr = FS_SYSCALL_ARG1(regs);
	cnt = FS_SYSCALL_ARG2(regs);
	switch (nr) {
	case FS_NR_READ:
	case FS_NR_RECVFROM:
		return syscall_enter(task, nr, fd, SHAPE_BUF, ptr, 0, FS_DIR_INGRESS);
	case FS_NR_WRITE:
	case FS_NR_SENDTO:
		return syscall_enter(task, nr, fd, SHAPE_BUF, ptr, 0, FS_DIR_EGRESS);
	case FS_NR_READV:
		return syscall_enter(task, nr, fd, SHAPE_IOV, ptr, (__u32)cnt, FS_DIR_INGRESS);
	case FS_NR_WRITEV:
		return syscall_enter(task, nr, fd, SHAPE_IOV, ptr, (__u32)cnt, FS_DIR_EGRESS);
	case FS_NR_RECVMSG:
		return syscall_enter(task, nr, fd, SHAPE_MSG, ptr, 0, FS_DIR_INGRESS);
	default: /* FS_NR_SENDMSG */
		return syscall_enter(task, nr, fd, SHAPE_MSG, ptr, 0, FS_DIR_EGRESS);
	}
}

/* At exit the number is orig_ax: ax already holds the return value. */
SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = FS_SYSCALL_NR(regs);

	switch (nr) {
	case FS_NR_READ:
	case FS_NR_WRITE:
	case FS_NR_READV:
	case FS_NR_WRITEV:
	case FS_NR_RECVFROM:
	case FS_NR_SENDTO:
	case FS_NR_RECVMSG:
	case FS_NR_SENDMSG:
	case FS_NR_SENDFILE:
		return data_exit(bpf_get_current_task_btf(), (__u32)nr, ret);
	case FS_NR_CONNECT:
		return connect_exit(bpf_get_current_task_btf(), ret);
	case FS_NR_ACCEPT:
	case FS_NR_ACCEPT4:
		return accept_exit(bpf_get_current_task_btf(), ret);
	default:
		return 0;
	}
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;

	bpf_map_push_elem(&execs, &tgid, BPF_EXIST);
	return 0;
}

/* ---- OpenSSL uprobes ---------------------------------------------------- */
static __always_inline int ssl_enter(__u64 ssl, __u64 buf, __u64 ex_out, __u8 dir)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_ctx *t;

	if (is_agent(task))
		return 0;
	t = task_ctx_create(task);
	if (!t)
		return 0;
	t->ssl.ssl = ssl;
	t->ssl.buf = buf;
	t->ssl.ex_out = ex_out;
	t->ssl.fd = 0;
	t->ssl.has_fd = 0;
	t->ssl.dir = dir;
	t->ssl.active = 1;
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(handle_ssl_write, void *ssl, const void *buf, int num)
{
	return ssl_enter((__u64)ssl, (__u64)buf, 0, FS_DIR_EGRESS);
}

SEC("uprobe")
int BPF_KPROBE(handle_ssl_read, void *ssl, void *buf, int num)
{
	return ssl_enter((__u64)ssl, (__u64)buf, 0, FS_DIR_INGRESS);
}

SEC("uprobe")
int BPF_KPROBE(handle_ssl_write_ex, void *ssl, const void *buf, size_t num, size_t *written)
{
	return ssl_enter((__u64)ssl, (__u64)buf, (__u64)written, FS_DIR_EGRESS);
}

SEC("uprobe")
int BPF_KPROBE(handle_ssl_read_ex, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return ssl_enter((__u64)ssl, (__u64)buf, (__u64)readbytes, FS_DIR_INGRESS);
}

/* Plaintext of a TLS call on (tgid, fd): positions in the connection's TLS
 * streams, protocol inferred from the plaintext, payload as DATA records. */
static __always_inline void emit_tls_plaintext(struct task_struct *task, __u64 id, __u32 fd, __u8 dir,
					       __u64 buf, __u64 n)
{
	struct conn_key key = { .tgid = id >> 32, .fd = fd };
	struct emit_state st = {};
	struct conn_state *c;
	struct sock *sk;

	if (n == 0)
		return;
	if (n > 0x7fffffff)
		n = 0x7fffffff;
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c) {
		sk = tcp_sock_of_fd(task, fd);
		if (!sk) {
			count_loss(FS_LOSS_SSL_NO_FD, 1);
			return;
		}
		c = conn_start(&key, sk, FS_ROLE_UNKNOWN, FS_CONN_F_PREEXISTING);
		if (!c)
			return;
	}
	c->tls = 1;
	c->protocol = FS_PROTO_TLS;
	st.pos = __sync_fetch_and_add(&c->tls_pos[dir & 1], n);
	/* Plaintext may start mid-stream when the probes were attached late. */
	infer(&c->tls_protocol, &c->tls_attempts, true, buf, (__u32)n);
	if (!carries_payload(c->tls_protocol))
		return;

	st.id = id;
	st.conn_gen = c->conn_gen;
	st.fd = fd;
	st.dir = dir;
	st.source = FS_SRC_SSL;
	st.protocol = c->tls_protocol;
	st.remaining = (__u32)n;
	st.budget = capture_budget();
	st.seg = buf;
	st.seg_left = (__u32)n;
	emit_data(&st);
}

/* The generation of the tracked connection on (tgid, fd), 0 if untracked. */
static __always_inline __u64 conn_gen_of(__u32 tgid, __u32 fd)
{
	struct conn_key key = { .tgid = tgid, .fd = fd };
	struct conn_state *c = bpf_map_lookup_elem(&conns, &key);

	return c ? c->conn_gen : 0;
}

/* Return of any of the four, or of the two internal functions behind them
 * (fs_attach_ssl_core, entered through the _ex programs): SSL_read/SSL_write
 * return the byte count; the others return > 0 and store the count through
 * their last argument.
 *
 * The SSL object's fd, in order of evidence: a socket syscall made inside this
 * call (OpenSSL over a socket BIO); for a read, the thread's latest read of
 * TLS records not yet claimed (memory BIOs, as in Node.js: decrypting follows
 * the ciphertext read in the same callback); the fd remembered for this SSL
 * object, while the connection on it is the same generation; for a write on an
 * SSL object never seen before, the thread's unclaimed TLS read. */
SEC("uretprobe")
int BPF_KRETPROBE(handle_ssl_return, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_ctx *t = bpf_task_storage_get(&task_ctxs, task, 0, 0);
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_args a;
	struct ssl_key skey = {};
	struct ssl_conn *known;
	struct ssl_conn seen = {};
	__u64 n = 0;

	if (!t || !t->ssl.active)
		return 0;
	a = t->ssl;
	t->ssl.active = 0;

	if (!a.has_fd && a.dir == FS_DIR_INGRESS && t->has_tls_read_fd) {
		a.fd = t->tls_read_fd;
		a.has_fd = 1;
	}
	if (a.dir == FS_DIR_INGRESS)
		t->has_tls_read_fd = 0;

	skey.tgid = id >> 32;
	skey.ssl = a.ssl;
	known = bpf_map_lookup_elem(&ssl_fds, &skey);
	if (a.has_fd) {
		seen.fd = a.fd;
		seen.conn_gen = conn_gen_of(skey.tgid, a.fd);
		/* An LRU update takes a lock: only when the fd is new or changed. */
		if (!known || known->fd != seen.fd || known->conn_gen != seen.conn_gen)
			bpf_map_update_elem(&ssl_fds, &skey, &seen, BPF_ANY);
	} else if (known && known->conn_gen == conn_gen_of(skey.tgid, known->fd)) {
		a.fd = known->fd;
		a.has_fd = 1;
	} else if (t->has_tls_read_fd) {
		/* A write before any read on this SSL object: Node flushes cleartext
		 * queued during the handshake (ClearIn) in the callback of the
		 * ciphertext read that completed it, before decrypting (ClearOut). */
		a.fd = t->tls_read_fd;
		a.has_fd = 1;
		seen.fd = a.fd;
		seen.conn_gen = conn_gen_of(skey.tgid, a.fd);
		bpf_map_update_elem(&ssl_fds, &skey, &seen, BPF_ANY);
	}

	if (a.ex_out) {
		/* 1 from the _ex forms; the internal functions behind them
		 * (fs_attach_ssl_core) return > 0 on success. */
		if ((int)ret <= 0 || bpf_probe_read_user(&n, sizeof(n), (const void *)a.ex_out))
			return 0;
	} else {
		if ((int)ret <= 0)
			return 0;
		n = (__u32)(int)ret;
	}
	if (n == 0)
		return 0;
	if (!a.has_fd) {
		count_loss(FS_LOSS_SSL_NO_FD, 1);
		return 0;
	}
	emit_tls_plaintext(task, id, a.fd, a.dir, a.buf, n);
	return 0;
}

/* ---- Go crypto/tls uprobes ---------------------------------------------- */
/*
 * Register ABI (Go >= 1.17): receiver in RAX, the []byte's pointer and length
 * in RBX and RCX, the current goroutine's g in R14; Read's n comes back in RAX.
 * Go moves goroutine stacks, so return probes (which rewrite the return
 * address on the stack) are never used: Read is probed at each RET.
 */
static __always_inline struct fs_go_tls_conf *go_conf(void *ctx)
{
	__u32 slot = (__u32)bpf_get_attach_cookie(ctx);

	return bpf_map_lookup_elem(&go_tls_confs, &slot);
}

/* The socket fd behind a *tls.Conn: conn (net.Conn) -> *net.TCPConn ->
 * conn.fd (*netFD) -> pfd.Sysfd. Returns -1 when the net.Conn is not a
 * *net.TCPConn or memory cannot be read. bias: ip seen minus the entry's
 * link-time address, rounded down to the page (the PIE load bias). */
static __always_inline long go_conn_fd(const struct fs_go_tls_conf *conf, __u64 tls_conn, __u64 bias)
{
	__u64 iface[2];
	__u64 netfd = 0;
	__s64 sysfd = -1;

	if (bpf_probe_read_user(iface, sizeof(iface), (const void *)(tls_conn + conf->conn_offset)))
		return -1;
	if (conf->tcpconn_itab && iface[0] != conf->tcpconn_itab + bias)
		return -1;
	if (bpf_probe_read_user(&netfd, sizeof(netfd), (const void *)(iface[1] + conf->netfd_offset)) || !netfd)
		return -1;
	if (bpf_probe_read_user(&sysfd, sizeof(sysfd), (const void *)(netfd + conf->sysfd_offset)))
		return -1;
	return sysfd < 0 || sysfd > 0x7fffffff ? -1 : sysfd;
}

/* At the prologue's JBE: taken (CF or ZF set) means the goroutine stack grows
 * and the function restarts from its entry, so this hit is not the call. */
#define FS_EFLAGS_CF (1ULL << 0)
#define FS_EFLAGS_ZF (1ULL << 6)
static __always_inline bool go_restarts(struct pt_regs *ctx, const struct fs_go_tls_conf *conf, __u32 at_jbe)
{
	return (conf->flags & at_jbe) && (ctx->flags & (FS_EFLAGS_CF | FS_EFLAGS_ZF));
}

static __always_inline __u64 load_bias(struct pt_regs *ctx, __u64 entry)
{
	/* The bias is page-aligned; the ip may sit one byte past the breakpoint. */
	return (PT_REGS_IP(ctx) - entry) & ~0xfffULL;
}

SEC("uprobe")
int handle_go_tls_write(struct pt_regs *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fs_go_tls_conf *conf;
	long fd;

	if (is_agent(task))
		return 0;
	conf = go_conf(ctx);
	if (!conf)
		return 0;
	/* Write sends all of b unless the connection fails: capture at entry. */
	if ((__s64)ctx->cx <= 0 || go_restarts(ctx, conf, FS_GO_WRITE_AT_JBE))
		return 0;
	fd = go_conn_fd(conf, ctx->ax, load_bias(ctx, conf->write_entry));
	if (fd < 0) {
		count_loss(FS_LOSS_SSL_NO_FD, 1);
		return 0;
	}
	emit_tls_plaintext(task, bpf_get_current_pid_tgid(), (__u32)fd, FS_DIR_EGRESS, ctx->bx, ctx->cx);
	return 0;
}

SEC("uprobe")
int handle_go_tls_read(struct pt_regs *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct go_read_key key = {};
	struct go_read_args args = {};
	struct fs_go_tls_conf *conf;
	long fd;

	if (is_agent(task))
		return 0;
	conf = go_conf(ctx);
	if (!conf || go_restarts(ctx, conf, FS_GO_READ_AT_JBE))
		return 0;
	fd = go_conn_fd(conf, ctx->ax, load_bias(ctx, conf->read_entry));
	if (fd < 0) {
		count_loss(FS_LOSS_SSL_NO_FD, 1);
		return 0;
	}
	key.tgid = task->tgid;
	key.g = ctx->r14;
	args.buf = ctx->bx;
	args.fd = (__u32)fd;
	if (bpf_map_update_elem(&go_reads, &key, &args, BPF_ANY))
		count_loss(FS_LOSS_ARGS_MAP_FULL, 1);
	return 0;
}

SEC("uprobe")
int handle_go_tls_read_ret(struct pt_regs *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct go_read_key key = {};
	struct go_read_args *found;
	struct go_read_args args;
	__s64 n = (__s64)ctx->ax;

	key.tgid = task->tgid;
	key.g = ctx->r14;
	found = bpf_map_lookup_elem(&go_reads, &key);
	if (!found)
		return 0;
	args = *found;
	bpf_map_delete_elem(&go_reads, &key);
	if (n <= 0)
		return 0;
	emit_tls_plaintext(task, bpf_get_current_pid_tgid(), args.fd, FS_DIR_INGRESS, args.buf, (__u64)n);
	return 0;
}
