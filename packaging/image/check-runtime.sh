#!/usr/bin/env bash
# Runs the built flowscope image the way the DaemonSet does and proves its runtime works:
# `flowscope doctor` passes inside it, and `flowscope agent` inside it captures a flow of
# curl → a private nginx on this host's loopback.
#
#   sudo bash packaging/image/check-runtime.sh     (build.sh runs it after a build)
#
# Container settings mirror packaging/kubernetes/flowscope.yaml: host PID and network, all
# capabilities dropped but BPF, PERFMON, SYS_PTRACE and SYS_RESOURCE, read-only root
# filesystem, the host's /proc at /host/proc, tracefs, bpffs and BTF read-only, a writable
# state directory and /tmp. Exits non-zero when a check fails.
# FLOWSCOPE_IMAGE_RUN_OPTIONS adds podman run options; FLOWSCOPE_IMAGE_OCI_RUNTIME picks the
# OCI runtime (default runc when installed, else crun).
set -euo pipefail

cache="${FLOWSCOPE_IMAGE_CACHE:-/var/cache/flowscope-image}"
tag="${FLOWSCOPE_IMAGE_TAG:-localhost/flowscope:0.1.0}"
storage_driver="${FLOWSCOPE_IMAGE_STORAGE_DRIVER:-overlay}"
# Hosts without systemd as init need the cgroupfs manager, the file event log avoids
# journald, and runc (unlike crun) runs on hybrid cgroup v1/v2 hosts.
oci_runtime="${FLOWSCOPE_IMAGE_OCI_RUNTIME:-$(command -v runc >/dev/null && echo runc || echo crun)}"
pm() {
  podman --root "$cache/storage" --runroot "$cache/run" --storage-driver "$storage_driver" \
    --cgroup-manager cgroupfs --events-backend file --runtime "$oci_runtime" "$@"
}
fail() { echo "check-runtime: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root"
pm image exists "$tag" || fail "no image $tag in $cache/storage: run packaging/image/build.sh first"

work="$(mktemp -d /tmp/flowscope-image-check.XXXXXX)"
chmod 755 "$work" # nginx workers run unprivileged
name="flowscope-image-check-$$"
nginx_pid=""
cleanup() {
  pm rm --force --ignore "$name" >/dev/null 2>&1 || true
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })"; }
# A private nginx on a free loopback port.
port="$(free_port)"
mkdir -p "$work/html" "$work/logs" "$work/state"
echo 'hello from nginx' >"$work/html/flowscope-image-check"
cat >"$work/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 64; }
http {
  access_log $work/logs/access.log;
  client_body_temp_path $work/tmp-body;
  proxy_temp_path $work/tmp-proxy;
  fastcgi_temp_path $work/tmp-fastcgi;
  uwsgi_temp_path $work/tmp-uwsgi;
  scgi_temp_path $work/tmp-scgi;
  server { listen 127.0.0.1:$port; root $work/html; }
}
EOF
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
url="http://127.0.0.1:$port/flowscope-image-check"
for _ in $(seq 100); do curl -fs -o /dev/null "$url" && break; kill -0 "$nginx_pid" 2>/dev/null || fail "nginx did not start"; sleep 0.1; done
curl -fs -o /dev/null "$url" || fail "nginx does not answer on $url"

# Kubernetes' RuntimeDefault seccomp profile (containerd, CRI-O) and docker's default allow
# bpf() with CAP_BPF and perf_event_open() with CAP_PERFMON; the older podman profile some
# distributions ship allows them only with CAP_SYS_ADMIN. Use podman's profile with that
# one difference, so seccomp stays on as in the DaemonSet.
seccomp=()
podman_seccomp=/usr/share/containers/seccomp.json
if [ -f "$podman_seccomp" ]; then
  node - "$podman_seccomp" "$work/seccomp.json" <<'EOF'
const { readFileSync, writeFileSync } = require('fs');
const [source, target] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(source, 'utf8'));
const grantedBy = { bpf: 'CAP_BPF', perf_event_open: 'CAP_PERFMON' };
for (const rule of profile.syscalls) {
  if (rule.action === 'SCMP_ACT_ERRNO') rule.names = rule.names.filter((n) => !(n in grantedBy));
}
profile.syscalls = profile.syscalls.filter((rule) => rule.names.length > 0);
for (const [name, cap] of Object.entries(grantedBy)) profile.syscalls.push({ names: [name], action: 'SCMP_ACT_ALLOW', includes: { caps: [cap] } });
writeFileSync(target, JSON.stringify(profile));
EOF
  seccomp=(--security-opt "seccomp=$work/seccomp.json")
fi

# The image's HEALTHCHECK probes the default port 7070, which another agent on this host may
# hold: the check moves the agent to a free port and probes /healthz and /readyz itself.
run=(run --rm --name "$name" --network host --pid host --no-healthcheck "${seccomp[@]}"
  --cap-drop ALL --cap-add BPF,PERFMON,SYS_PTRACE,SYS_RESOURCE
  --read-only --tmpfs /tmp
  -v /proc:/host/proc:ro
  -v /sys/kernel/tracing:/sys/kernel/tracing:ro
  -v /sys/fs/bpf:/sys/fs/bpf:ro
  -v /sys/kernel/btf:/sys/kernel/btf:ro
  -v "$work/state:/var/lib/flowscope"
  # podman's default limits are above what a sandboxed host may grant; these are the host's
  # open-file limit and a process limit ample for one agent.
  --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=8192:8192)
if [ -n "${FLOWSCOPE_IMAGE_RUN_OPTIONS:-}" ]; then
  read -r -a extra <<<"$FLOWSCOPE_IMAGE_RUN_OPTIONS"
  run+=("${extra[@]}")
fi

echo "== flowscope doctor (in $tag)"
pm "${run[@]}" "$tag" doctor || fail "flowscope doctor failed inside the image"

echo "== flowscope agent --duration 5 --listen 127.0.0.1:PORT --flows-out - (in $tag), curl → $url"
agent_port="$(free_port)"
pm "${run[@]}" "$tag" agent --duration 5 --listen "127.0.0.1:$agent_port" --flows-out - >"$work/flows.jsonl" 2>"$work/agent.log" &
agent=$!
# Requests until the agent exits: the first ones may land before its probes are attached.
requests=0
healthz=000
readyz=000
while kill -0 "$agent" 2>/dev/null; do
  curl -fs -o /dev/null "$url" && requests=$((requests + 1))
  [ "$readyz" = 200 ] || readyz="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$agent_port/readyz" || true)"
  [ "$healthz" = 200 ] || healthz="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$agent_port/healthz" || true)"
  sleep 0.2
done
wait "$agent" || { cat "$work/agent.log" >&2; fail "the agent exited with an error"; }
echo "agent port 127.0.0.1:$agent_port: /healthz $healthz, /readyz $readyz"
[ "$healthz" = 200 ] && [ "$readyz" = 200 ] || { cat "$work/agent.log" >&2; fail "the agent's /healthz or /readyz never answered 200"; }

if ! node - "$work/flows.jsonl" "$port" "$requests" <<'EOF'
const [file, port, requests] = process.argv.slice(2);
const flows = require('fs').readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
const ours = flows.filter((f) => f.destination?.port === Number(port) && f.http?.path === '/flowscope-image-check');
const connections = new Set(ours.map((f) => f.source.port));
console.log(`${flows.length} flows captured, ${ours.length} of them curl → nginx :${port}, on ${connections.size} of the ${requests} connections curl made`);
if (ours.length === 0) process.exit(1);
const f = ours[0];
console.log(`first: ${f.source.process ?? '?'} pid ${f.source.pid ?? '?'} ${f.source.ip}:${f.source.port} → ${f.destination.process ?? '?'} ${f.destination.ip}:${f.destination.port} ${f.http.method} ${f.http.path} ${f.http.status}`);
console.log(JSON.stringify(f));
if (f.http.status !== 200) process.exit(1);
EOF
then
  cat "$work/agent.log" >&2
  fail "no flow of the curl requests was captured from inside the image"
fi
echo "check-runtime: OK"
