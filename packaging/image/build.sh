#!/usr/bin/env bash
# Builds the flowscope container image from packaging/Dockerfile on a machine with no Docker
# engine and no container registry, then reports its real size.
#
#   sudo bash packaging/image/build.sh            # build, report sizes, check the runtime
#   sudo bash packaging/image/build.sh --no-check # build and report only
#
# Needs root; installs buildah, podman, debootstrap and runc when missing (runc runs the
# check on hybrid cgroup hosts where crun cannot). Also needs
# this host's Node.js 20 (nodejs package), the Debian mirror and the npm registry.
# Everything lives under FLOWSCOPE_IMAGE_CACHE (default /var/cache/flowscope-image): the
# debootstrap tree, the container storage (base stand-ins, cached build layers, the image).
# About 4 GB with the overlay storage driver, more with vfs. `rm -rf` it to start over.
#
# The base images packaging/Dockerfile names cannot be pulled here, so local stand-ins are
# built and passed as build arguments (the Dockerfile defaults stay the real names):
#   debian:bookworm-slim  ← debootstrap --variant=minbase bookworm (what debian's own images
#                           are made from), slimmed the way debian:bookworm-slim is.
#   node:20-bookworm-slim ← that + this host's node 20 binary and corepack, and npm 10.8.2
#                           (the npm Node 20 bundles; fetched once from the npm registry).
#   node:20-bookworm      ← that + python3, make, g++ and the node headers (node-gyp), and
#                           this host's CA bundle for npm (NODE_EXTRA_CA_CERTS, else the
#                           system bundle): the registry may sit behind a TLS-inspecting proxy.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${FLOWSCOPE_IMAGE_CACHE:-/var/cache/flowscope-image}"
tag="${FLOWSCOPE_IMAGE_TAG:-localhost/flowscope:0.1.0}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
debian_standin=localhost/flowscope-standin/debian:bookworm-slim
node_slim_standin=localhost/flowscope-standin/node:20-bookworm-slim
node_full_standin=localhost/flowscope-standin/node:20-bookworm
# debian:bookworm-slim as published, uncompressed (docker image ls); the stand-in must not be
# smaller, or the runtime image would look smaller than the real one.
published_slim_bytes=74800000
# The npm that Node.js 20 releases bundle, hence the one in node:20 images.
bundled_npm=10.8.2

check_runtime=1
for arg in "$@"; do
  case "$arg" in
    --no-check) check_runtime=0 ;;
    *) echo "usage: $0 [--no-check]" >&2; exit 2 ;;
  esac
done

step() { printf '\n== %s\n' "$*" >&2; }
fail() { echo "build.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (debootstrap, chroot builds and eBPF need it)"
command -v node >/dev/null || fail "node is missing: install Node.js 20"
missing=()
for pkg in buildah podman debootstrap runc; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  step "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
node_bin="$(readlink -f "$(command -v node)")"
node_major="$("$node_bin" -p 'process.versions.node.split(".")[0]')"
[ "$node_major" = 20 ] || fail "this host's node is $("$node_bin" --version), the image needs Node.js 20"
node_prefix="$(dirname "$(dirname "$node_bin")")"
[ -d "$node_prefix/lib/node_modules/corepack" ] && [ -f "$node_prefix/include/node/node.h" ] \
  || fail "expected corepack and the node headers under $node_prefix (the nodejs package ships both)"

mkdir -p "$cache"
# overlay keeps one copy of each layer; vfs (a full copy per layer) works where overlay
# cannot be mounted.
storage_driver="${FLOWSCOPE_IMAGE_STORAGE_DRIVER:-}"
if [ -z "$storage_driver" ]; then
  probe="$(mktemp -d "$cache/overlay-probe.XXXXXX")"
  mkdir -p "$probe"/{lower,upper,work,merged}
  if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
    umount "$probe/merged"
    storage_driver=overlay
  else
    storage_driver=vfs
  fi
  rm -rf "$probe"
fi
storage=(--root "$cache/storage" --runroot "$cache/run" --storage-driver "$storage_driver")
bh() { buildah "${storage[@]}" "$@"; }
pm() { podman "${storage[@]}" "$@"; }
export BUILDAH_ISOLATION=chroot

# Working containers and mounts left by an interrupted run, and storage mounts, go away on
# every exit: the cache keeps images only.
cleanup() {
  bh rm --all >/dev/null 2>&1 || true
  pm rm --all --force >/dev/null 2>&1 || true
  awk -v root="$cache/" 'index($5, root) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done
}
trap cleanup EXIT

has_image() { bh inspect --type image "$1" >/dev/null 2>&1; }

# --- debian:bookworm-slim stand-in -------------------------------------------------------
if ! has_image "$debian_standin"; then
  if [ ! -f "$cache/rootfs-debootstrap/.complete" ]; then
    step "debootstrap --variant=minbase bookworm (from $mirror)"
    rm -rf "$cache/rootfs-debootstrap"
    debootstrap --variant=minbase bookworm "$cache/rootfs-debootstrap" "$mirror" >"$cache/debootstrap.log" 2>&1 \
      || fail "debootstrap failed, see $cache/debootstrap.log"
    touch "$cache/rootfs-debootstrap/.complete"
  fi
  step "importing the debootstrap tree as $debian_standin"
  ctr="$(bh from scratch)"
  mnt="$(bh mount "$ctr")"
  cp -a "$cache/rootfs-debootstrap/." "$mnt/"
  rm -f "$mnt/.complete"
  # The same slimming as debian:*-slim (debuerreotype --slimify): dpkg drops docs except
  # copyright files, man pages, info and locales, now and in every later apt-get install.
  cat >"$mnt/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
EOF
  find "$mnt/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$mnt/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$mnt"/usr/share/{info,linda,man,groff,locale}/* "$mnt"/usr/share/lintian/overrides/*
  # The apt settings of debian's images: no package cache, no translations, gzipped lists.
  cat >"$mnt/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$mnt/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' >"$mnt/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$mnt/etc/apt/apt.conf.d/docker-autoremove-suggests"
  rm -f "$mnt/etc/apt/sources.list"
  cat >"$mnt/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # What debootstrap leaves behind that an image must not carry: downloaded packages, lists,
  # logs, device nodes (the runtime provides /dev) and this host's identity.
  rm -rf "$mnt"/var/cache/apt/archives/*.deb "$mnt"/var/cache/apt/*.bin "$mnt"/var/lib/apt/lists/* \
    "$mnt"/var/cache/debconf/*-old "$mnt"/var/lib/dpkg/*-old "$mnt"/dev/* "$mnt"/tmp/* "$mnt"/run/*
  find "$mnt/var/log" -type f -delete
  : >"$mnt/etc/machine-id"
  rm -f "$mnt/etc/hostname" "$mnt/etc/resolv.conf"
  standin_bytes="$(du -sb "$mnt" | cut -f1)"
  bh umount "$ctr" >/dev/null
  [ "$standin_bytes" -ge "$published_slim_bytes" ] \
    || fail "the debian stand-in is $standin_bytes bytes, smaller than debian:bookworm-slim ($published_slim_bytes): it would understate the image"
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash \
    --created-by "debootstrap --variant=minbase bookworm, slimmed (packaging/image/build.sh)" "$ctr"
  bh commit --quiet --rm "$ctr" "$debian_standin" >/dev/null
fi

# --- node:20 stand-ins --------------------------------------------------------------------
# Rebuilt on every run (cached layers make that quick) so host or Containerfile changes show.
host_ca="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
[ -f "$host_ca" ] || fail "no CA bundle at $host_ca (apt-get install -y ca-certificates)"
{
  step "node stand-ins from this host's node $("$node_bin" --version) ($node_bin, package $(dpkg -S "$node_bin" 2>/dev/null | cut -d: -f1 || echo unknown))"
  context="$cache/node-context"
  rm -rf "$context"
  mkdir -p "$context/usr/local/bin" "$context/usr/local/lib/node_modules" "$context/usr/local/include"
  cp -a "$node_bin" "$context/usr/local/bin/node"
  cp -a "$node_prefix/lib/node_modules/corepack" "$context/usr/local/lib/node_modules/"
  # npm as Node 20 releases bundle it, not whatever npm this host was upgraded to.
  npm_tarball="$cache/npm-$bundled_npm.tgz"
  if [ ! -f "$npm_tarball" ]; then
    npm pack --silent --pack-destination "$cache" "npm@$bundled_npm" >/dev/null || fail "cannot fetch npm@$bundled_npm from the npm registry"
  fi
  mkdir -p "$context/usr/local/lib/node_modules/npm"
  tar -xzf "$npm_tarball" -C "$context/usr/local/lib/node_modules/npm" --strip-components 1
  cp -a "$node_prefix/include/node" "$context/usr/local/include/"
  cp "$host_ca" "$context/build-host-ca-certificates.crt"
  bh bud --quiet --layers --pull=never --build-arg "DEBIAN_IMAGE=$debian_standin" \
    -f "$here/node-standins.Containerfile" --target node-slim -t "$node_slim_standin" "$context" >/dev/null
  bh bud --quiet --layers --pull=never --build-arg "DEBIAN_IMAGE=$debian_standin" \
    -f "$here/node-standins.Containerfile" --target node-full -t "$node_full_standin" "$context" >/dev/null
  rm -rf "$context"
}

# --- the image ----------------------------------------------------------------------------
step "buildah bud -f packaging/Dockerfile -t $tag ($storage_driver storage, chroot isolation)"
bh bud --layers --pull=never --format docker \
  --build-arg "BUILD_IMAGE=$node_full_standin" \
  --build-arg "NODE_RUNTIME_IMAGE=$node_slim_standin" \
  --build-arg "RUNTIME_BASE_IMAGE=$debian_standin" \
  -f "$repo/packaging/Dockerfile" -t "$tag" "$repo"

step "sizes (uncompressed)"
sizes_json="$(mktemp)"
{
  printf '{"base":'; pm history --human=false --no-trunc --format json "$debian_standin"
  printf ',"image":'; pm history --human=false --no-trunc --format json "$tag"
  printf ',"baseLayers":'; pm image inspect --format '{{json .RootFS.Layers}}' "$debian_standin"
  printf ',"imageLayers":'; pm image inspect --format '{{json .RootFS.Layers}}' "$tag"
  printf '}'
} >"$sizes_json"
ctr="$(bh from --pull=never "$tag")"
rootfs_bytes="$(du -sb "$(bh mount "$ctr")" | cut -f1)"
bh umount "$ctr" >/dev/null
bh rm "$ctr" >/dev/null
node "$here/layer-sizes.mjs" "$sizes_json" "$rootfs_bytes" "$published_slim_bytes"
rm -f "$sizes_json"

# The image as an OCI layout with gzip layers: what a registry would serve, and a file tree
# that `skopeo copy oci:DIR:flowscope docker-daemon:flowscope:0.1.0` loads elsewhere.
oci_dir="$cache/oci-export"
rm -rf "$oci_dir"
bh push --quiet --format oci --compression-format gzip "$tag" "oci:$oci_dir:flowscope" >/dev/null
node - "$oci_dir" <<'EOF'
const { readFileSync } = require('fs');
const dir = process.argv[2];
const blob = (digest) => JSON.parse(readFileSync(`${dir}/blobs/${digest.replace(':', '/')}`, 'utf8'));
const manifest = blob(JSON.parse(readFileSync(`${dir}/index.json`, 'utf8')).manifests[0].digest);
const layers = manifest.layers.map((l) => l.size);
const mb = (b) => (b / 1e6).toFixed(1).padStart(7);
console.log(`${mb(layers.reduce((a, b) => a + b, 0))} MB  image compressed (gzip layers, what a node pulls): ${layers.map((b) => (b / 1e6).toFixed(1)).join(' + ')} MB`);
EOF
echo "OCI layout of the image: $oci_dir" >&2

if [ "$check_runtime" = 1 ]; then
  step "runtime check"
  FLOWSCOPE_IMAGE_CACHE="$cache" FLOWSCOPE_IMAGE_STORAGE_DRIVER="$storage_driver" FLOWSCOPE_IMAGE_TAG="$tag" \
    bash "$here/check-runtime.sh"
fi
