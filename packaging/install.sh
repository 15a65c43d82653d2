#!/usr/bin/env bash
# Installs a built flowscope checkout on a bare host, as a systemd service.
#   bash packaging/setup.sh && sudo bash packaging/install.sh [--enable]
#   DESTDIR=/tmp/stage bash packaging/install.sh      stage into another root (packages, tests)
# Layout:
#   /opt/flowscope                       the agent (compiled JS, eBPF object, loader, production modules)
#   /usr/local/bin/flowscope             the command
#   /etc/flowscope/config.yaml           configuration (installed once from the example, never overwritten)
#   /etc/systemd/system/flowscope.service
#   /var/lib/flowscope                   state (baseline database)
# --enable also starts the service (not with DESTDIR). Needs Node.js >= 20 on the host.
set -euo pipefail
cd "$(dirname "$0")/.."

destdir="${DESTDIR:-}"
prefix=/opt/flowscope
enable=0
for arg in "$@"; do
  case "$arg" in
    --enable) enable=1 ;;
    *) echo "install: unknown argument '$arg' (fix: bash packaging/install.sh [--enable])" >&2; exit 2 ;;
  esac
done
say() { printf 'install: %s\n' "$*" >&2; }
fail() { printf 'install: %s\n' "$*" >&2; exit 1; }

for built in dist/agent/cli/main.js bpf/build/flowscope.bpf.o native/build/libflowscope.so node_modules; do
  [ -e "$built" ] || fail "$built is missing (fix: build first with bash packaging/setup.sh or npm run build)"
done
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
[ "$node_major" -ge 20 ] || fail "Node.js >= 20 is needed to run the agent, found '${node_major}' (fix: install nodejs 20)"
if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
  fail "needs root to write $prefix and /etc (fix: sudo bash packaging/install.sh, or set DESTDIR)"
fi

root="$destdir$prefix"
stage="$(mktemp -d "${TMPDIR:-/tmp}/flowscope-install.XXXXXX")"
trap 'rm -rf "$stage"' EXIT

say "staging $prefix"
mkdir -p "$stage/app/bpf/build" "$stage/app/native/build" "$stage/app/agent"
cp -r dist bin package.json package-lock.json "$stage/app/"
cp bpf/build/flowscope.bpf.o "$stage/app/bpf/build/"
cp native/build/libflowscope.so "$stage/app/native/build/"
# Non-TypeScript files the agent reads at run time (.proto schemas, web assets).
find agent decoders -type f ! -name '*.ts' -exec cp --parents {} "$stage/app/" \;
cp -r node_modules "$stage/app/"
(cd "$stage/app" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null)
ln -s flowscope.js "$stage/app/bin/flowscope"

say "installing into ${destdir:-/}"
# Replace the previous version as a whole, so no stale file of it survives.
mkdir -p "$(dirname "$root")"
rm -rf "$root.old"
[ -d "$root" ] && mv "$root" "$root.old"
mv "$stage/app" "$root"
rm -rf "$root.old"
chmod -R go-w "$root"

install -d -m 0755 "$destdir/usr/local/bin" "$destdir/etc/systemd/system"
ln -sfn "$prefix/bin/flowscope" "$destdir/usr/local/bin/flowscope"
install -m 0644 packaging/systemd/flowscope.service "$destdir/etc/systemd/system/flowscope.service"
install -d -m 0755 "$destdir/etc/flowscope"
if [ -e "$destdir/etc/flowscope/config.yaml" ]; then
  say "keeping the existing /etc/flowscope/config.yaml"
else
  install -m 0600 packaging/flowscope.example.yaml "$destdir/etc/flowscope/config.yaml"
fi
install -d -m 0700 "$destdir/var/lib/flowscope"

# The installed tree checks the installed config: proves both are usable.
"$root/bin/flowscope" config check "$destdir/etc/flowscope/config.yaml" >&2

if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if [ "$enable" = 1 ]; then
    systemctl enable --now flowscope.service
    say "flowscope is running: systemctl status flowscope"
  else
    say "start it with: systemctl enable --now flowscope"
  fi
elif [ "$enable" = 1 ]; then
  say "--enable ignored: no running systemd here"
fi
