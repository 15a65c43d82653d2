// The bpftrace program of the fallback engine. It needs only the system
// bpftrace (no compiled object): syscall tracepoints plus BTF access to the
// task's fd table give each TCP connection's tuple, role, bytes and duration,
// and the first bytes of every read or write that starts an HTTP/1 message.
//
// Records are tab-separated printf lines (`bpftrace -f json` wraps each in a
// JSON object); the payload, when there is one, is always the last field:
//   O pid tid fd gen role family laddr lport raddr rport uid cgroup comm
//   D pid tid fd gen dir ret payload
//   X pid tid fd gen ts bytes_sent bytes_received

/** Longest string bpftrace 0.17 copies in one go (BPFTRACE_STRLEN ceiling). */
export const BPFTRACE_STRLEN = 200;

const HTTP_STARTS = ['GET ', 'POST ', 'PUT ', 'DELETE ', 'HEAD ', 'PATCH ', 'OPTIONS ', 'HTTP/1.'];

/** True when `$h` (the first bytes of a buffer) starts an HTTP/1 message. */
const isHttpStart = HTTP_STARTS.map((s) => `strncmp($h, "${s}", ${s.length}) == 0`).join(' || ');

/** The socket behind fd `$fd` of the current task. */
const SOCK = '((struct socket *)(*(curtask->files->fdt->fd + $fd))->private_data)->sk';

function openRecord(role: 'client' | 'server'): string {
  return `
    $sk = ${SOCK};
    $fam = $sk->__sk_common.skc_family;
    if ($sk->sk_protocol == 6 && ($fam == 2 || $fam == 10)) {
      @conn[pid, $fd] = nsecs;
      if ($fam == 2) {
        printf("O\\t%d\\t%d\\t%d\\t%llu\\t${role}\\t4\\t%s\\t%d\\t%s\\t%d\\t%d\\t%llu\\t%s\\n", pid, tid, $fd, @conn[pid, $fd],
          ntop($sk->__sk_common.skc_rcv_saddr), $sk->__sk_common.skc_num,
          ntop($sk->__sk_common.skc_daddr), bswap($sk->__sk_common.skc_dport), uid, cgroup, comm);
      } else {
        printf("O\\t%d\\t%d\\t%d\\t%llu\\t${role}\\t6\\t%s\\t%d\\t%s\\t%d\\t%d\\t%llu\\t%s\\n", pid, tid, $fd, @conn[pid, $fd],
          ntop($sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8), $sk->__sk_common.skc_num,
          ntop($sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8), bswap($sk->__sk_common.skc_dport), uid, cgroup, comm);
      }
    }`;
}

/** A data probe pair: enter saves the buffer of a tracked socket, exit prints a message start. */
function dataProbes(syscall: string, bufArg: string, direction: 'egress' | 'ingress', firstIov: boolean): string {
  const buf = firstIov ? `((struct iovec *)args->${bufArg})->iov_base` : `args->${bufArg}`;
  return `
tracepoint:syscalls:sys_enter_${syscall} /pid != $1 && @conn[pid, args->fd]/ {
  @buf[tid] = (uint64)${buf};
  @dfd[tid] = args->fd + 1;
}
tracepoint:syscalls:sys_exit_${syscall} /@dfd[tid]/ {
  $fd = @dfd[tid] - 1;
  $b = @buf[tid];
  delete(@dfd[tid]);
  delete(@buf[tid]);
  if (args->ret > 0) {
    $h = str($b, ${BPFTRACE_STRLEN});
    if (${isHttpStart}) {
      printf("D\\t%d\\t%d\\t%d\\t%llu\\t${direction}\\t%d\\t%s\\n", pid, tid, $fd, @conn[pid, $fd], args->ret, $h);
    }
  }
}`;
}

/** The program; `$1` is the agent's own pid, never traced. */
export function bpftraceProgram(): string {
  return `// flowscope bpftrace engine (generated)
BEGIN { printf("READY\\n"); }

tracepoint:syscalls:sys_enter_connect /pid != $1/ { @cfd[tid] = args->fd + 1; }
tracepoint:syscalls:sys_exit_connect /@cfd[tid]/ {
  $fd = @cfd[tid] - 1;
  delete(@cfd[tid]);
  if (args->ret == 0 || args->ret == -115) {${openRecord('client')}
  }
}
tracepoint:syscalls:sys_exit_accept /pid != $1 && args->ret >= 0/ {
  $fd = args->ret;${openRecord('server')}
}
tracepoint:syscalls:sys_exit_accept4 /pid != $1 && args->ret >= 0/ {
  $fd = args->ret;${openRecord('server')}
}
${dataProbes('write', 'buf', 'egress', false)}
${dataProbes('sendto', 'buff', 'egress', false)}
${dataProbes('writev', 'vec', 'egress', true)}
${dataProbes('read', 'buf', 'ingress', false)}
${dataProbes('recvfrom', 'ubuf', 'ingress', false)}
${dataProbes('readv', 'vec', 'ingress', true)}

tracepoint:syscalls:sys_enter_close /pid != $1 && @conn[pid, args->fd]/ {
  $fd = args->fd;
  $tp = (struct tcp_sock *)${SOCK};
  printf("X\\t%d\\t%d\\t%d\\t%llu\\t%llu\\t%llu\\t%llu\\n", pid, tid, $fd, @conn[pid, $fd], nsecs, $tp->bytes_acked, $tp->bytes_received);
  delete(@conn[pid, $fd]);
}

END { clear(@conn); clear(@buf); clear(@dfd); clear(@cfd); }
`;
}
