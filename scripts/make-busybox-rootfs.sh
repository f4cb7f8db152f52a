#!/bin/sh
# Builds a busybox root filesystem tarball from Debian's busybox-static package, for
# `whalebox import OUT.tar busybox` and the tests:
#   bin/busybox, one symlink per applet, /etc/passwd and /etc/group, the usual empty
#   directories, and www/index.html.
# The tar is reproducible: owners are 0:0, every mtime is SOURCE_DATE_EPOCH (by default the
# busybox binary's own mtime, which dpkg sets from the package), entries are sorted. The same
# package therefore always gives the same layer digest, and so the same image ID.
#
# Usage: scripts/make-busybox-rootfs.sh OUT.tar      (BUSYBOX=/path/to/busybox to override)
set -eu

fail() {
    echo "make-busybox-rootfs: $*" >&2
    exit 1
}

[ $# -eq 1 ] || fail "usage: $0 OUT.tar"
out=$1
busybox=${BUSYBOX:-/bin/busybox}

[ -x "$busybox" ] || fail "$busybox not found (on Debian: apt-get install -y busybox-static)"
# The image has no libc: a dynamically linked busybox would not start in it. ldd fails, saying
# "not a dynamic executable", exactly for static binaries.
if ldd "$busybox" >/dev/null 2>&1; then
    fail "$busybox is dynamically linked; a static busybox is needed (apt-get install -y busybox-static)"
fi
applets=$("$busybox" --list-full) || fail "$busybox --list-full failed; is it busybox?"

epoch=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$busybox")}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 022
root=$work/rootfs

mkdir -p "$root"
for dir in bin sbin usr/bin usr/sbin etc home root var var/www www proc sys dev tmp; do
    mkdir -p "$root/$dir"
done
chmod 1777 "$root/tmp"
chmod 700 "$root/root"

cp "$busybox" "$root/bin/busybox"
chmod 755 "$root/bin/busybox"
for applet in $applets; do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -s /bin/busybox "$root/$applet"
done

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
tty:x:5:
www-data:x:33:
users:x:100:
nogroup:x:65534:
EOF
cat >"$root/www/index.html" <<'EOF'
<!DOCTYPE html>
<html><head><title>whalebox</title></head><body><p>Hello from a whalebox container.</p></body></html>
EOF

# Written beside the tree and moved into place, so that a failure leaves no partial OUT.tar.
tar --create --file="$work/rootfs.tar" --directory="$root" \
    --sort=name --format=gnu --numeric-owner --owner=0 --group=0 --mtime="@$epoch" \
    .
mv "$work/rootfs.tar" "$out"
