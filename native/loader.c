// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * libflowscope: loads bpf/build/flowscope.bpf.o, attaches it and drains its ring
 * buffer in batches for the TypeScript binding (native/loader.ts, via koffi).
 *
 * Every function returns 0, a count, or a negative errno, and never prints:
 * libbpf's messages go into the loader's error buffer (fs_last_error).
 * Setup reads open -> configure -> load -> attach; one cleanup path frees all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "flowscope.h"

#define FS_API __attribute__((visibility("default")))

#define FS_ERR_LEN 8192
#define FS_MAX_CAPTURE 65536
#define FS_SSL_TARGETS 128
#define FS_SSL_PROBES 8 /* 4 functions x (uprobe + uretprobe) */
#define FS_SSL_CORE_PROBES 4 /* the 2 internal functions behind them x (uprobe + uretprobe) */
#define FS_GO_MAX_RETS 64 /* RET instructions probed in one Go Read */
#define FS_DRAIN_HDR 4

/* One probed binary: OpenSSL-style (SSL_* symbols) or Go crypto/tls. */
struct ssl_target {
	char *path;
	struct bpf_link **links;
	int count;
	int go_slot; /* index in go_tls_confs, -1 for OpenSSL targets */
};

struct fs_loader {
	struct bpf_object *obj;
	struct ring_buffer *rb;
	struct bpf_link **sys_links;
	size_t sys_link_count;
	struct ssl_target ssl[FS_SSL_TARGETS];
	int conns_fd;
	int losses_fd;
	int go_confs_fd;
	int execs_fd;
	uint8_t go_slot_used[FS_GO_TLS_BINARIES]; /* cleared by detach threads: atomic access */
	/* Threads of fs_detach_ssl calls, joined when done (ssl_release_async). */
	pthread_t *detachers;
	size_t detacher_count;
	size_t detacher_cap;
	int detaches_pending; /* atomic */

	/* fs_drain state: the caller's buffer while consuming, and one record
	 * that did not fit (libbpf has already consumed it). */
	uint8_t *out;
	uint32_t out_cap;
	uint32_t out_len;
	uint8_t *spill;
	uint32_t spill_len;
	uint32_t spill_cap;

	char err[FS_ERR_LEN];
};

/* libbpf's print callback is process-wide; route messages to the loader whose
 * call is running on this thread. Errors of a failed fs_open (no loader to
 * hold them) go to a thread-local buffer read with fs_last_error(NULL). */
static __thread struct fs_loader *current;
static __thread char open_err[FS_ERR_LEN];

static char *err_buf(void)
{
	return current ? current->err : open_err;
}

static void err_append(const char *fmt, va_list ap)
{
	char *buf = err_buf();
	size_t used = strnlen(buf, FS_ERR_LEN);
	char line[FS_ERR_LEN];
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	size_t len;

	if (n <= 0)
		return;
	len = strnlen(line, sizeof(line));
	if (len >= FS_ERR_LEN - 1) {
		/* keep the tail: verifier logs end with the reason */
		memcpy(buf, line + len - (FS_ERR_LEN - 1), FS_ERR_LEN - 1);
		buf[FS_ERR_LEN - 1] = 0;
		return;
	}
	if (used + len >= FS_ERR_LEN) {
		size_t drop = used + len - (FS_ERR_LEN - 1);
		memmove(buf, buf + drop, used - drop);
		used -= drop;
	}
	memcpy(buf + used, line, len + 1);
}

static void err_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_append(fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		err_append(fmt, ap);
	return 0;
}

/* Every API call starts with a clean error buffer owned by its loader. */
static void begin(struct fs_loader *l)
{
	current = l;
	err_buf()[0] = 0;
}

static int finish(int ret)
{
	current = NULL;
	return ret;
}

/*
 * The verifier gives up with EAGAIN when a signal is pending on the loading
 * thread, and libbpf retries only a few times. Node's profiler (SIGPROF), child
 * exits (SIGCHLD) and the like would then fail the whole load; blocking every
 * signal on this thread for the load lets the process's other threads take them.
 */
static int load_without_signals(struct bpf_object *obj)
{
	sigset_t all, saved;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	err = bpf_object__load(obj);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	/* Loading parsed the kernel's BTF (tens of MB, freed by now): hand the
	 * freed heap back to the system rather than keep it resident for good. */
	malloc_trim(0);
	return err;
}

static int set_settings(struct bpf_object *obj, uint32_t agent_tgid, uint32_t max_capture_bytes)
{
	struct bpf_map *rodata = bpf_object__find_map_by_name(obj, ".rodata");
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	struct fs_settings *settings;
	void *rodata_value;
	size_t size;
	int id, i;

	if (!rodata || !btf) {
		err_set("flowscope.bpf.o has no .rodata or BTF: rebuild it with `make -C native`\n");
		return -ENOENT;
	}
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0) {
		err_set("no .rodata section type in flowscope.bpf.o BTF\n");
		return -ENOENT;
	}
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	rodata_value = (void *)bpf_map__initial_value(rodata, &size);
	for (i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), "settings") != 0)
			continue;
		if (!rodata_value || vs->offset + sizeof(*settings) > size || vs->size != sizeof(*settings)) {
			err_set("settings in flowscope.bpf.o do not match flowscope.h: rebuild with `make -C native`\n");
			return -EINVAL;
		}
		settings = (struct fs_settings *)((char *)rodata_value + vs->offset);
		settings->agent_tgid = agent_tgid;
		settings->max_capture_bytes = max_capture_bytes;
		return 0;
	}
	err_set("no `settings` variable in flowscope.bpf.o\n");
	return -ENOENT;
}

static void destroy_links(struct bpf_link **links, int count)
{
	int i;

	for (i = 0; i < count; i++)
		bpf_link__destroy(links[i]);
}

static void loader_free(struct fs_loader *l)
{
	size_t i;

	if (!l)
		return;
	ring_buffer__free(l->rb);
	for (i = 0; i < l->detacher_count; i++)
		pthread_join(l->detachers[i], NULL);
	free(l->detachers);
	for (i = 0; i < FS_SSL_TARGETS; i++) {
		destroy_links(l->ssl[i].links, l->ssl[i].count);
		free(l->ssl[i].links);
		free(l->ssl[i].path);
	}
	for (i = 0; i < l->sys_link_count; i++)
		bpf_link__destroy(l->sys_links[i]);
	free(l->sys_links);
	bpf_object__close(l->obj);
	free(l->spill);
	free(l);
}

static int on_record(void *ctx, void *data, size_t size);

/*
 * The agent is a long-lived process whose large buffers (ELF tables read while
 * probing TLS libraries, output batches) come and go. glibc raises its mmap
 * threshold after each large free, so later large buffers land in the heap,
 * where freed memory stays resident for good (~25 MB measured). A fixed
 * threshold keeps them mmapped and returned on free.
 */
static void return_large_frees_promptly(void)
{
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	mallopt(M_TRIM_THRESHOLD, 128 << 10);
}

/* The kernel wants a power of two, at least a page. */
static uint32_t ring_size(uint32_t bytes)
{
	uint32_t size = 4096;

	while (size < bytes && size < (1u << 30))
		size <<= 1;
	return size;
}

FS_API int fs_open(const char *bpf_obj_path, uint32_t agent_tgid, uint32_t max_capture_bytes,
		   uint32_t ring_buffer_bytes, struct fs_loader **out)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	struct fs_loader *l;
	struct bpf_map *events, *map;
	int err, ncpu;

	begin(NULL);
	if (!bpf_obj_path || !out)
		return finish(-EINVAL);
	*out = NULL;
	if (max_capture_bytes == 0)
		max_capture_bytes = FS_MAX_CHUNK;
	if (max_capture_bytes > FS_MAX_CAPTURE) {
		err_set("max_capture_bytes %u is above the limit of %u\n", max_capture_bytes, FS_MAX_CAPTURE);
		return finish(-EINVAL);
	}
	/* flowscope.h: captured per call, rounded up to whole chunks */
	max_capture_bytes = (max_capture_bytes + FS_MAX_CHUNK - 1) / FS_MAX_CHUNK * FS_MAX_CHUNK;

	return_large_frees_promptly();
	libbpf_set_print(libbpf_print);
	/* Kernels >= 5.11 charge BPF memory to the cgroup; without
	 * CAP_SYS_RESOURCE this fails and does not matter there. */
	(void)setrlimit(RLIMIT_MEMLOCK, &unlimited);

	l = calloc(1, sizeof(*l));
	if (!l)
		return finish(-ENOMEM);
	l->conns_fd = -1;
	l->losses_fd = -1;
	l->go_confs_fd = -1;
	l->execs_fd = -1;

	l->obj = bpf_object__open_file(bpf_obj_path, NULL);
	if (!l->obj) {
		err = -errno;
		l->obj = NULL;
		err_set("open %s: %s\n", bpf_obj_path, strerror(-err));
		goto fail;
	}
	err = set_settings(l->obj, agent_tgid, max_capture_bytes);
	if (err)
		goto fail;
	events = bpf_object__find_map_by_name(l->obj, "events");
	if (events && ring_buffer_bytes) {
		err = bpf_map__set_max_entries(events, ring_size(ring_buffer_bytes));
		if (err) {
			err_set("ring buffer size %u: %s\n", ring_buffer_bytes, strerror(-err));
			goto fail;
		}
	}
	/* FS_SCRATCH_SLOTS emit scratch slots per CPU (bpf/flowscope.bpf.c, scratch_claim). */
	map = bpf_object__find_map_by_name(l->obj, "data_scratch");
	ncpu = libbpf_num_possible_cpus();
	if (map && ncpu > 0)
		err = bpf_map__set_max_entries(map, ncpu * FS_SCRATCH_SLOTS);
	else
		err = map ? ncpu : -ENOENT;
	if (err) {
		err_set("scratch map `data_scratch` for %d CPUs: %s\n", ncpu, strerror(-err));
		goto fail;
	}
	err = load_without_signals(l->obj);
	if (err) {
		err_set("load %s: %s\n", bpf_obj_path, strerror(-err));
		goto fail;
	}

	l->rb = events ? ring_buffer__new(bpf_map__fd(events), on_record, l, NULL) : NULL;
	if (!l->rb) {
		err = events ? -errno : -ENOENT;
		err_set("ring buffer `events`: %s\n", strerror(-err));
		goto fail;
	}
	map = bpf_object__find_map_by_name(l->obj, "conns");
	l->conns_fd = map ? bpf_map__fd(map) : -1;
	map = bpf_object__find_map_by_name(l->obj, "loss_counters");
	l->losses_fd = map ? bpf_map__fd(map) : -1;
	map = bpf_object__find_map_by_name(l->obj, "go_tls_confs");
	l->go_confs_fd = map ? bpf_map__fd(map) : -1;
	map = bpf_object__find_map_by_name(l->obj, "execs");
	l->execs_fd = map ? bpf_map__fd(map) : -1;
	if (l->conns_fd < 0 || l->losses_fd < 0 || l->go_confs_fd < 0 || l->execs_fd < 0) {
		err = -ENOENT;
		err_set("maps `conns` / `loss_counters` / `go_tls_confs` / `execs` missing from %s\n", bpf_obj_path);
		goto fail;
	}
	l->spill_cap = sizeof(struct fs_data) + FS_MAX_CHUNK;
	l->spill = malloc(l->spill_cap);
	if (!l->spill) {
		err = -ENOMEM;
		goto fail;
	}
	*out = l;
	return finish(0);

fail:
	loader_free(l);
	return finish(err < 0 ? err : -EINVAL);
}

FS_API const char *fs_last_error(struct fs_loader *l)
{
	return l ? l->err : open_err;
}

/* The syscall side: one program on the raw sys_enter tracepoint and one on
 * sys_exit, dispatching on the syscall number (no tracefs needed). */
static const char *const syscall_progs[] = { "handle_sys_enter", "handle_sys_exit", "handle_exec" };
#define FS_SYSCALL_PROGS (sizeof(syscall_progs) / sizeof(syscall_progs[0]))

FS_API int fs_attach_syscalls(struct fs_loader *l)
{
	size_t i;
	int err;

	if (!l)
		return -EINVAL;
	begin(l);
	if (l->sys_links)
		return finish(-EALREADY);
	l->sys_links = calloc(FS_SYSCALL_PROGS, sizeof(*l->sys_links));
	if (!l->sys_links)
		return finish(-ENOMEM);
	for (i = 0; i < FS_SYSCALL_PROGS; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(l->obj, syscall_progs[i]);
		struct bpf_link *link;

		if (!prog) {
			err = -ENOENT;
			err_set("program %s missing from flowscope.bpf.o: rebuild it with `make -C native`\n",
				syscall_progs[i]);
			goto fail;
		}
		link = bpf_program__attach(prog);
		if (!link) {
			err = -errno;
			err_set("attach %s (%s): %s\n", bpf_program__name(prog), bpf_program__section_name(prog),
				strerror(-err));
			goto fail;
		}
		l->sys_links[l->sys_link_count++] = link;
	}
	return finish(0);

fail:
	while (l->sys_link_count)
		bpf_link__destroy(l->sys_links[--l->sys_link_count]);
	free(l->sys_links);
	l->sys_links = NULL;
	return finish(err);
}

static struct ssl_target *ssl_find(struct fs_loader *l, const char *path)
{
	int i;

	for (i = 0; i < FS_SSL_TARGETS; i++)
		if (l->ssl[i].path && strcmp(l->ssl[i].path, path) == 0)
			return &l->ssl[i];
	return NULL;
}

/* Frees a target's slot; its links must be destroyed or handed over first. */
static void ssl_forget(struct ssl_target *t)
{
	free(t->links);
	t->links = NULL;
	free(t->path);
	t->path = NULL;
	t->count = 0;
	t->go_slot = -1;
}

static void ssl_release(struct fs_loader *l, struct ssl_target *t)
{
	destroy_links(t->links, t->count);
	if (t->go_slot >= 0)
		__atomic_store_n(&l->go_slot_used[t->go_slot], 0, __ATOMIC_RELEASE);
	ssl_forget(t);
}

struct detach_job {
	struct fs_loader *l;
	struct bpf_link **links;
	int count;
	int go_slot;
};

static void *detach_thread(void *arg)
{
	struct detach_job *job = arg;

	destroy_links(job->links, job->count);
	free(job->links);
	/* The Go offsets slot is reused only once no probe can read it. */
	if (job->go_slot >= 0)
		__atomic_store_n(&job->l->go_slot_used[job->go_slot], 0, __ATOMIC_RELEASE);
	__atomic_fetch_sub(&job->l->detaches_pending, 1, __ATOMIC_RELEASE);
	free(job);
	return NULL;
}

/* Joins the detach threads that have finished. */
static void detachers_reap(struct fs_loader *l)
{
	size_t i, kept = 0;

	for (i = 0; i < l->detacher_count; i++) {
		if (pthread_tryjoin_np(l->detachers[i], NULL) != 0)
			l->detachers[kept++] = l->detachers[i];
	}
	l->detacher_count = kept;
}

/*
 * Releases a target with its links destroyed on a thread of its own. The
 * kernel lets go of a uprobe after a grace period, one probe at a time
 * (~0.09 s each here, 0.7 s for a library's eight; threads destroying links
 * side by side still wait in turn), and the caller is the agent's event
 * loop, which must go on draining the ring buffer meanwhile (a Go binary
 * has dozens of probes). Probing the file again meanwhile reports each call
 * once: a program stops at the start of its link's destruction; the links
 * go in the order they were made, and the one probe that reports at entry
 * (Go's Write) was made first; every other takes at return what its entry
 * stashed, once, whichever of the old and new probes fired. fs_close waits
 * for these threads. Falls back to destroying the links here when no thread
 * can be made.
 */
static void ssl_release_async(struct fs_loader *l, struct ssl_target *t)
{
	struct detach_job *job;

	detachers_reap(l);
	if (l->detacher_count == l->detacher_cap) {
		size_t cap = l->detacher_cap ? 2 * l->detacher_cap : 8;
		pthread_t *grown = realloc(l->detachers, cap * sizeof(*grown));

		if (!grown)
			goto sync;
		l->detachers = grown;
		l->detacher_cap = cap;
	}
	job = malloc(sizeof(*job));
	if (!job)
		goto sync;
	*job = (struct detach_job){ l, t->links, t->count, t->go_slot };
	__atomic_fetch_add(&l->detaches_pending, 1, __ATOMIC_RELAXED);
	if (pthread_create(&l->detachers[l->detacher_count], NULL, detach_thread, job) != 0) {
		__atomic_fetch_sub(&l->detaches_pending, 1, __ATOMIC_RELAXED);
		free(job);
		goto sync;
	}
	l->detacher_count++;
	t->links = NULL; /* the thread frees them */
	ssl_forget(t);
	return;
sync:
	ssl_release(l, t);
}

/* A free target for path with room for max_links probes, or NULL (error set). */
static struct ssl_target *ssl_claim(struct fs_loader *l, const char *path, int max_links, int *err)
{
	struct ssl_target *t;
	int i;

	for (i = 0; i < FS_SSL_TARGETS && l->ssl[i].path; i++)
		;
	if (i == FS_SSL_TARGETS) {
		err_set("already attached to %d TLS binaries\n", FS_SSL_TARGETS);
		*err = -ENOSPC;
		return NULL;
	}
	t = &l->ssl[i];
	t->go_slot = -1;
	t->count = 0;
	t->path = strdup(path);
	t->links = calloc(max_links, sizeof(*t->links));
	if (!t->path || !t->links) {
		free(t->path);
		free(t->links);
		t->path = NULL;
		t->links = NULL;
		*err = -ENOMEM;
		return NULL;
	}
	return t;
}

/*
 * Attaching by symbol name makes libbpf read the binary's symbol tables (tens
 * of MB for a node or Go binary), all freed by now: give that heap back to
 * the system instead of keeping it resident for the agent's life.
 */
static int finish_attach(int ret)
{
	malloc_trim(0);
	return finish(ret);
}

FS_API int fs_attach_ssl(struct fs_loader *l, const char *binary_path)
{
	static const struct {
		const char *func;
		const char *prog;
		int required;
	} probes[] = {
		{ "SSL_write", "handle_ssl_write", 1 },
		{ "SSL_read", "handle_ssl_read", 1 },
		{ "SSL_write_ex", "handle_ssl_write_ex", 0 },
		{ "SSL_read_ex", "handle_ssl_read_ex", 0 },
	};
	struct bpf_program *ret_prog;
	struct ssl_target *t;
	size_t i;
	int err = 0;

	if (!l || !binary_path)
		return -EINVAL;
	begin(l);
	t = ssl_find(l, binary_path);
	if (t)
		return finish(t->count);
	t = ssl_claim(l, binary_path, FS_SSL_PROBES, &err);
	if (!t)
		return finish(err);
	ret_prog = bpf_object__find_program_by_name(l->obj, "handle_ssl_return");

	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, entry, .func_name = probes[i].func, .retprobe = false);
		LIBBPF_OPTS(bpf_uprobe_opts, exit, .func_name = probes[i].func, .retprobe = true);
		struct bpf_program *prog = bpf_object__find_program_by_name(l->obj, probes[i].prog);
		struct bpf_link *in, *back;

		if (!prog || !ret_prog) {
			err = -ENOENT;
			err_set("program %s missing from flowscope.bpf.o\n", probes[i].prog);
			goto fail;
		}
		in = bpf_program__attach_uprobe_opts(prog, -1, binary_path, 0, &entry);
		if (!in) {
			err = -errno;
			if (!probes[i].required && err == -ENOENT)
				continue; /* older OpenSSL without the _ex forms */
			err_set("uprobe %s in %s: %s\n", probes[i].func, binary_path, strerror(-err));
			goto fail;
		}
		t->links[t->count++] = in;
		back = bpf_program__attach_uprobe_opts(ret_prog, -1, binary_path, 0, &exit);
		if (!back) {
			err = -errno;
			err_set("uretprobe %s in %s: %s\n", probes[i].func, binary_path, strerror(-err));
			goto fail;
		}
		t->links[t->count++] = back;
	}
	/* A missing optional symbol leaves a libbpf warning that is not an error. */
	err_buf()[0] = 0;
	return finish_attach(t->count);

fail:
	ssl_release(l, t);
	return finish_attach(err);
}

/* Attaches prog_name at a file offset of path and keeps the link in t (room
 * made by ssl_claim). Returns 0 or a negative errno, with the reason set. */
static int attach_into(struct fs_loader *l, struct ssl_target *t, const char *prog_name, const char *path,
		       uint64_t offset, uint64_t cookie, bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = cookie, .retprobe = retprobe);
	struct bpf_program *prog = bpf_object__find_program_by_name(l->obj, prog_name);
	struct bpf_link *link;
	int err;

	if (!prog) {
		err_set("program %s missing from flowscope.bpf.o: rebuild it with `make -C native`\n", prog_name);
		return -ENOENT;
	}
	link = bpf_program__attach_uprobe_opts(prog, -1, path, (size_t)offset, &opts);
	if (!link) {
		err = -errno;
		err_set("%s %s at file offset 0x%llx in %s: %s\n", retprobe ? "uretprobe" : "uprobe", prog_name,
			(unsigned long long)offset, path, strerror(-err));
		return err;
	}
	t->links[t->count++] = link;
	return 0;
}

/*
 * OpenSSL through the functions SSL_read/SSL_read_ex and SSL_write/SSL_write_ex
 * share (ssl_read_internal and ssl_write_internal; file offsets found by the
 * caller in the decoded machine code, where each takes the _ex arguments).
 * Two functions instead of four, and probes where the first instruction is
 * one the kernel emulates (a push) rather than single-steps out of line.
 * Returns the probe count; idempotent per path.
 */
FS_API int fs_attach_ssl_core(struct fs_loader *l, const char *binary_path, uint64_t read_offset,
			      uint64_t write_offset)
{
	const struct {
		const char *prog;
		uint64_t offset;
	} cores[] = {
		{ "handle_ssl_write_ex", write_offset },
		{ "handle_ssl_read_ex", read_offset },
	};
	struct ssl_target *t;
	size_t i;
	int err = 0;

	if (!l || !binary_path)
		return -EINVAL;
	begin(l);
	t = ssl_find(l, binary_path);
	if (t)
		return finish(t->count);
	t = ssl_claim(l, binary_path, FS_SSL_CORE_PROBES, &err);
	if (!t)
		return finish(err);
	for (i = 0; i < sizeof(cores) / sizeof(cores[0]); i++) {
		err = attach_into(l, t, cores[i].prog, binary_path, cores[i].offset, 0, false);
		if (!err)
			err = attach_into(l, t, "handle_ssl_return", binary_path, cores[i].offset, 0, true);
		if (err)
			goto fail;
	}
	return finish_attach(t->count);

fail:
	ssl_release(l, t);
	return finish_attach(err);
}

/*
 * Go crypto/tls: uprobes at the entries of (*Conn).Write and (*Conn).Read and
 * at each RET of Read (file offsets, found by the caller from the symbol
 * table and the decoded machine code); conf goes to the go_tls_confs slot
 * named by the probes' cookie. Returns the probe count; idempotent per path.
 */
FS_API int fs_attach_go_tls(struct fs_loader *l, const char *binary_path, const struct fs_go_tls_conf *conf,
			    uint64_t write_offset, uint64_t read_offset, const uint64_t *read_ret_offsets,
			    uint32_t read_ret_count)
{
	struct ssl_target *t;
	uint32_t slot, i;
	int err = 0;

	if (!l || !binary_path || !conf || (!read_ret_offsets && read_ret_count))
		return -EINVAL;
	begin(l);
	if (read_ret_count == 0 || read_ret_count > FS_GO_MAX_RETS) {
		err_set("%u RET instructions in crypto/tls.(*Conn).Read: expected 1 to %d\n", read_ret_count,
			FS_GO_MAX_RETS);
		return finish(-EINVAL);
	}
	t = ssl_find(l, binary_path);
	if (t)
		return finish(t->count);
	for (slot = 0; slot < FS_GO_TLS_BINARIES && __atomic_load_n(&l->go_slot_used[slot], __ATOMIC_ACQUIRE); slot++)
		;
	if (slot == FS_GO_TLS_BINARIES) {
		err_set("already attached to %d Go binaries\n", FS_GO_TLS_BINARIES);
		return finish(-ENOSPC);
	}
	if (bpf_map_update_elem(l->go_confs_fd, &slot, conf, BPF_ANY)) {
		err = -errno;
		err_set("write go_tls_confs[%u]: %s\n", slot, strerror(-err));
		return finish(err);
	}
	t = ssl_claim(l, binary_path, 2 + (int)read_ret_count, &err);
	if (!t)
		return finish(err);
	t->go_slot = (int)slot;
	l->go_slot_used[slot] = 1;

	/* Write first: detaching destroys links in order (ssl_release_async), and
	 * this probe, which reports at entry, must be the first to stop. */
	err = attach_into(l, t, "handle_go_tls_write", binary_path, write_offset, slot, false);
	if (!err)
		err = attach_into(l, t, "handle_go_tls_read", binary_path, read_offset, slot, false);
	for (i = 0; !err && i < read_ret_count; i++)
		err = attach_into(l, t, "handle_go_tls_read_ret", binary_path, read_ret_offsets[i], slot, false);
	if (err)
		goto fail;
	return finish_attach(t->count);

fail:
	ssl_release(l, t);
	return finish_attach(err);
}

FS_API int fs_detach_ssl(struct fs_loader *l, const char *binary_path)
{
	struct ssl_target *t;

	if (!l || !binary_path)
		return -EINVAL;
	begin(l);
	t = ssl_find(l, binary_path);
	if (!t) {
		err_set("no TLS probes attached to %s\n", binary_path);
		return finish(-ENOENT);
	}
	ssl_release_async(l, t);
	return finish(0);
}

/* fs_detach_ssl calls whose probes are still being destroyed. */
FS_API int fs_detaches_pending(struct fs_loader *l)
{
	if (!l)
		return -EINVAL;
	return __atomic_load_n(&l->detaches_pending, __ATOMIC_ACQUIRE);
}

/* Output framing: [u32 len][record][zero pad to 8]. */
static uint32_t framed_size(uint32_t len)
{
	return (FS_DRAIN_HDR + len + 7) & ~7u;
}

static void put_record(struct fs_loader *l, const void *data, uint32_t len)
{
	uint8_t *p = l->out + l->out_len;
	uint32_t total = framed_size(len);

	memcpy(p, &len, FS_DRAIN_HDR);
	memcpy(p + FS_DRAIN_HDR, data, len);
	memset(p + FS_DRAIN_HDR + len, 0, total - FS_DRAIN_HDR - len);
	l->out_len += total;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct fs_loader *l = ctx;
	uint32_t len = (uint32_t)size;

	if (l->out_len + framed_size(len) <= l->out_cap) {
		put_record(l, data, len);
		return 0;
	}
	/* libbpf has consumed this record already: keep it for the next call. */
	if (len > l->spill_cap) {
		uint8_t *bigger = realloc(l->spill, len);

		if (!bigger)
			return -ENOMEM;
		l->spill = bigger;
		l->spill_cap = len;
	}
	memcpy(l->spill, data, len);
	l->spill_len = len;
	return -ENOSPC;
}

static int consume(struct fs_loader *l)
{
	int n = ring_buffer__consume(l->rb);

	return n == -ENOSPC ? 0 : n;
}

/* Bytes worth returning without waiting: the kernel's wake-up threshold
 * (FS_WAKEUP_BYTES in flowscope.bpf.c), or half the caller's buffer if smaller. */
#define FS_DRAIN_BATCH (256u << 10)
static uint32_t drain_batch(uint32_t cap)
{
	return cap / 2 < FS_DRAIN_BATCH ? cap / 2 : FS_DRAIN_BATCH;
}

FS_API int fs_drain(struct fs_loader *l, uint8_t *buf, uint32_t cap, int timeout_ms)
{
	int err;

	if (!l || !buf)
		return -EINVAL;
	/* Runs on a worker thread while other calls may run on the main thread:
	 * leave their error text alone unless this call fails. */
	current = l;
	l->out = buf;
	l->out_cap = cap;
	l->out_len = 0;

	if (l->spill_len) {
		if (framed_size(l->spill_len) > cap) {
			err_set("drain buffer of %u bytes cannot hold a %u-byte record\n", cap, l->spill_len);
			return finish(-EMSGSIZE);
		}
		put_record(l, l->spill, l->spill_len);
		l->spill_len = 0;
	}
	err = consume(l);
	if (err < 0)
		goto out;
	/* Return a batch, not whatever trickled in since the last call: a caller
	 * draining in a loop would otherwise pay a thread hand-off per few
	 * records. The kernel wakes the poll once 256 KiB are pending
	 * (FS_WAKEUP_BYTES in flowscope.bpf.c), so below that wait up to the
	 * timeout, which stays the latency bound. */
	if (l->out_len < drain_batch(cap) && l->spill_len == 0 && timeout_ms != 0) {
		/* Wake-ups are batched in the kernel: polling may sleep the whole
		 * timeout with records pending, so consume again afterwards. */
		err = ring_buffer__poll(l->rb, timeout_ms);
		if (err == -EINTR)
			err = 0;
		if (err == -ENOSPC)
			err = 0;
		if (err >= 0 && l->spill_len == 0)
			err = consume(l);
	}
out:
	l->out = NULL;
	if (err < 0 && err != -ENOSPC) {
		err_set("ring buffer poll: %s\n", strerror(-err));
		return finish(err);
	}
	return finish((int)l->out_len);
}

FS_API int fs_read_losses(struct fs_loader *l, uint64_t *out, uint32_t n)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *percpu;
	uint32_t i;
	int c;

	if (!l || !out)
		return -EINVAL;
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	begin(l);
	if (n > FS_LOSS__COUNT)
		n = FS_LOSS__COUNT;
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return finish(-ENOMEM);
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(l->losses_fd, &i, percpu)) {
			int err = -errno;

			free(percpu);
			err_set("read loss counter %u: %s\n", i, strerror(-err));
			return finish(err);
		}
		out[i] = 0;
		for (c = 0; c < ncpu; c++)
			out[i] += percpu[c];
	}
	free(percpu);
	return finish((int)n);
}

struct conn_key {
	uint32_t tgid;
	uint32_t fd;
};

FS_API int fs_conn_list(struct fs_loader *l, uint32_t *out_pairs, uint32_t max_pairs)
{
	struct conn_key key, next;
	struct conn_key *prev = NULL;
	uint32_t n = 0;

	if (!l || (!out_pairs && max_pairs))
		return -EINVAL;
	begin(l);
	while (n < max_pairs && bpf_map_get_next_key(l->conns_fd, prev, &next) == 0) {
		out_pairs[2 * n] = next.tgid;
		out_pairs[2 * n + 1] = next.fd;
		n++;
		key = next;
		prev = &key;
	}
	return finish((int)n);
}

FS_API int fs_conn_forget(struct fs_loader *l, uint32_t tgid, uint32_t fd)
{
	struct conn_key key = { tgid, fd };

	if (!l)
		return -EINVAL;
	begin(l);
	if (bpf_map_delete_elem(l->conns_fd, &key))
		return finish(-errno);
	return finish(0);
}

/* For tests of the busy path: takes every emit scratch slot (as programs
 * preempted mid-call would hold them) or gives them all back. Taking a slot
 * a program is using garbles that program's record: only for a test's own
 * loader, with no traffic it needs in flight. */
FS_API int fs_hold_scratch(struct fs_loader *l, int hold)
{
	struct bpf_map *map;
	uint64_t *value;
	uint32_t i, n;
	int fd, err = 0;

	if (!l)
		return -EINVAL;
	begin(l);
	map = bpf_object__find_map_by_name(l->obj, "data_scratch");
	if (!map)
		return finish(-ENOENT);
	fd = bpf_map__fd(map);
	n = bpf_map__max_entries(map);
	value = calloc(1, bpf_map__value_size(map));
	if (!value)
		return finish(-ENOMEM);
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(fd, &i, value)) {
			err = -errno;
			break;
		}
		value[0] = hold ? UINT64_MAX : 0; /* struct data_scratch.owner */
		if (bpf_map_update_elem(fd, &i, value, BPF_ANY)) {
			err = -errno;
			break;
		}
	}
	free(value);
	if (err)
		err_set("scratch slot %u: %s\n", i, strerror(-err));
	return finish(err);
}

/* Pops up to max pids of processes that exec'd since the last call. */
FS_API int fs_exec_pids(struct fs_loader *l, uint32_t *out, uint32_t max)
{
	uint32_t n = 0;

	if (!l || (!out && max))
		return -EINVAL;
	while (n < max && bpf_map_lookup_and_delete_elem(l->execs_fd, NULL, &out[n]) == 0)
		n++;
	return (int)n;
}

FS_API void fs_close(struct fs_loader *l)
{
	begin(NULL);
	loader_free(l);
	finish(0);
}
