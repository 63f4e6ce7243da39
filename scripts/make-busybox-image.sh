#!/usr/bin/env bash
# Makes the `busybox` image from the host's static busybox (Debian's
# busybox-static) and imports it as docker.io/library/busybox:latest, so
# `image: busybox` runs offline. Extra arguments go to `pod` before the
# subcommand (e.g. --root DIR).
#   usage: scripts/make-busybox-image.sh [POD_BINARY] [-- POD_ARGS...]
set -euo pipefail
pod=${1:-pod}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
busybox=/bin/busybox
if ! "$busybox" --list >/dev/null 2>&1; then
  echo "error: $busybox missing; apt-get install busybox-static" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,dev,etc,home,proc,root,sys,tmp,usr,var}
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$rootfs/etc/group"
tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -cf "$work/rootfs.tar" .
"$pod" "$@" image import --change 'CMD ["sh"]' "$work/rootfs.tar" docker.io/library/busybox:latest
