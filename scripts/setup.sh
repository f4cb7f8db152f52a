#!/usr/bin/env bash
# Sets whalebox up on a fresh Debian 12 machine, as root: the Debian packages it and its tests
# need, the npm dependencies, the bundle and the shim, and busybox:latest in the store.
# Safe to run again. WHALEBOX_ROOT chooses the store (default /var/lib/whalebox).
set -euo pipefail
cd "$(dirname "$0")/.."

# busybox-static: the first image; build-essential: the shim (static libc) and better-sqlite3;
# python3: node-gyp, and the pseudo-terminal test; util-linux/procps: tests look around;
# iproute2, iptables: container networks (ip -batch, iptables-restore).
# zstd: test input for zstd-compressed layers; xz-utils, bzip2: xz and bzip2 layers, build
# contexts and ADD archives are decoded by these tools (Node.js has no decoder for them).
# build-essential also gives the build tests their C tool chain image (test/fixtures).
# docker-registry, apache2-utils (htpasswd), openssl: the local registries of the registry tests.
# libseccomp-dev: libseccomp.a, linked into the shim to compile seccomp filters (docs/DESIGN.md).
packages=(busybox-static build-essential python3 util-linux iproute2 iptables procps zstd xz-utils bzip2 docker-registry apache2-utils openssl libseccomp-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci runs the "prepare" script, which builds dist/whalebox.cjs and native/whalebox-shim.
npm ci --no-audit --no-fund --loglevel=error

mkdir -p build
bash scripts/make-busybox-rootfs.sh build/busybox-rootfs.tar
./bin/whalebox import build/busybox-rootfs.tar busybox:latest >/dev/null
echo "setup: done; busybox:latest is in ${WHALEBOX_ROOT:-/var/lib/whalebox}"
