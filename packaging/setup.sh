#!/usr/bin/env bash
# Sets up what is missing for flowscope on a Debian/Ubuntu host, then builds it.
#   bash packaging/setup.sh              build dependencies, npm packages, native + TypeScript build, tracefs
#   bash packaging/setup.sh --for-tests  the same, plus the real servers and clients the test suite drives
# Idempotent: installs only what is missing; safe to run before every start.
set -euo pipefail
cd "$(dirname "$0")/.."

for_tests=0
[ "${1:-}" = "--for-tests" ] && for_tests=1

say() { printf 'setup: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  say "needs root (it installs packages, mounts tracefs and loads eBPF programs): run it with sudo"
  exit 1
fi

# g++ and python3: better-sqlite3 (the baseline store) compiles its addon with node-gyp.
packages=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev make gcc g++ python3 pkg-config)
if [ "$for_tests" = 1 ]; then
  packages+=(nginx curl openssl libssl-dev python3-grpcio nghttp2-client tshark iproute2 wrk util-linux
    golang-go chromium rsyslog rsyslog-gnutls bpftrace systemd wfuzz dirb
    golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
    caddy node-acorn node-cjs-module-lexer node-undici)
  # caddy: a stripped, externally linked Go TLS server built by Debian.
  # node-*: the JavaScript Debian's own Node.js 18 loads from /usr/share/nodejs (see below).
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts nginx on port 80 when it is installed; tests run their own instances.
# Debian 12's own Node.js 18 (node over libnode.so.108 over the system libssl.so.3), for the
# TLS tests: its nodejs package cannot be installed beside the Node 20 that runs flowscope,
# so it is unpacked under /var/cache (test/fixtures/tls/programs.ts runs it from there).
debian_node=/var/cache/flowscope-tests/debian-nodejs
if [ "$for_tests" = 1 ] && [ ! -x "$debian_node/usr/bin/node" ]; then
  say "unpacking Debian's nodejs 18 into $debian_node"
  version=$(apt-cache policy libnode108 | awk '/Candidate:/ {print $2}')
  debs=$(mktemp -d)
  chmod 755 "$debs"  # apt-get download drops privileges to _apt
  (cd "$debs" && apt-get download -qq "nodejs=$version" "libnode108=$version" 2>/dev/null)
  mkdir -p "$debian_node"
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$debian_node"; done
  rm -rf "$debs"
  LD_LIBRARY_PATH="$debian_node/usr/lib/x86_64-linux-gnu" "$debian_node/usr/bin/node" --version >/dev/null
fi

if [ "$for_tests" = 1 ] && command -v systemctl >/dev/null && systemctl is-active -q nginx 2>/dev/null; then
  systemctl stop nginx || true
fi

if [ ! -d /sys/kernel/tracing/events/syscalls ] && [ ! -d /sys/kernel/debug/tracing/events/syscalls ]; then
  say "mounting tracefs"
  mount -t tracefs nodev /sys/kernel/tracing
fi

# The identity and detection-scenario tests put processes into cgroup v2 groups.
# A host with only v1 hierarchies (a tmpfs at /sys/fs/cgroup) gets v2 mounted beside them.
if [ "$for_tests" = 1 ] && ! grep -q ' cgroup2 ' /proc/self/mounts; then
  say "mounting cgroup2 at /sys/fs/cgroup/unified"
  mkdir -p /sys/fs/cgroup/unified
  mount -t cgroup2 none /sys/fs/cgroup/unified
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  # npm install, not npm ci: npm 11 rejects its own lock file in ci when optional
  # per-platform packages (rollup's) are not all listed; install still honours the lock.
  npm install --no-audit --no-fund --loglevel=error
fi

say "building native loader and eBPF object"
make -s -C native
say "building TypeScript"
npx tsc -p tsconfig.json
