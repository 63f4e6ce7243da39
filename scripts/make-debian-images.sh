#!/usr/bin/env bash
# Makes two real distribution images for the tests and the samples, from
# this machine's Debian mirror:
#   localhost/debian:12         one layer: `debootstrap --variant=minbase bookworm`
#   localhost/nginx:debian-12   two layers: that one, plus only what
#                               `apt-get install nginx` changed
# and writes them as one oci-archive that `pod image load -i` takes.
#
# The nginx layer is what a Dockerfile RUN makes: the Debian rootfs is the
# lower dir of an overlay mount with a fresh upper dir, apt runs chrooted
# in the merged view, and the upper dir becomes the layer. Overlay
# whiteouts (0:0 character devices) become `.wh.NAME` files and opaque
# directories (trusted.overlay.opaque=y) get `.wh..wh..opq`, so the layer
# has real whiteouts for the unpacker to handle (the step below also
# deletes a file and replaces a directory of the base on purpose).
#
# The archive is cached under $POD_TEST_IMAGES (default
# /var/cache/pod-test-images), keyed by this script's content, the mirror
# and the architecture: a second run prints the cached path at once.
#
#   usage: scripts/make-debian-images.sh      (prints the archive's path)
#   exit status 77: the mirror is unreachable (the tests skip on it).
set -euo pipefail

suite=bookworm
cache=${POD_TEST_IMAGES:-/var/cache/pod-test-images}
arch=$(dpkg --print-architecture)

# The first Debian archive URI serving $suite in the apt sources (one-line
# or deb822 format), unless POD_DEBIAN_MIRROR names one.
find_mirror() {
  local files=()
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || return 0
  awk -v suite="$suite" '
    function pick(uri) { if (!found && uri ~ /\/debian\/?$/) { sub(/\/$/, "", uri); print uri; found = 1; exit } }
    /^[ \t]*deb[ \t]/ {
      i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
      if ($(i + 1) == suite) pick($i)
      next
    }
    /^[ \t]*$/ { if (uris != "" && suites ~ ("(^| )" suite "( |$)")) { n = split(uris, u, " "); for (k = 1; k <= n; k++) pick(u[k]) } uris = ""; suites = ""; next }
    /^URIs:/ { uris = $0; sub(/^URIs:[ \t]*/, "", uris) }
    /^Suites:/ { suites = $0; sub(/^Suites:[ \t]*/, "", suites) }
    END { if (uris != "" && suites ~ ("(^| )" suite "( |$)")) { n = split(uris, u, " "); for (k = 1; k <= n; k++) pick(u[k]) } }
  ' "${files[@]}"
}

mirror=${POD_DEBIAN_MIRROR:-$(find_mirror)}
if [ -z "$mirror" ]; then
  echo "error: no Debian mirror serving $suite in /etc/apt/sources.list(.d); set POD_DEBIAN_MIRROR" >&2
  exit 1
fi

key=$( (cat "$0"; echo "$mirror $suite $arch") | sha256sum | cut -c1-16)
out=$cache/$key/debian-nginx.oci.tar
if [ -f "$out" ]; then
  echo "images: $out (cached)" >&2
  echo "$out"
  exit 0
fi

for tool in debootstrap getfattr wget; do
  command -v "$tool" >/dev/null || { echo "error: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
done
if ! wget -q -T 15 -t 1 -O /dev/null "$mirror/dists/$suite/Release"; then
  echo "mirror $mirror unreachable: cannot make the Debian images" >&2
  exit 77
fi

if [ "$(id -u)" != 0 ]; then
  echo "error: making the images needs root (debootstrap, mount, chroot)" >&2
  exit 1
fi
# A private mount namespace: nothing mounted here propagates to the host
# (on a systemd host / is shared, and a bind of /dev would be a peer).
if [ -z "${POD_IMAGES_PRIVATE_MOUNTS:-}" ]; then
  POD_IMAGES_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private "$0" "$@"
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -f "$out" ]; then # made by another run while this one waited
  echo "$out"
  exit 0
fi

start=$SECONDS
work=$(mktemp -d "$cache/.build-XXXXXX")
# Mounts made below (debootstrap's, the overlay, /dev and /proc in the
# chroot) go away with this process's own mount namespace; until then
# they are unmounted before the scratch directory is removed.
unmount_work() {
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$work/" | sort -r); do umount -l "$m" || true; done
}
trap 'unmount_work; rm -rf --one-file-system "$work"' EXIT

log() { printf '%s %s\n' "$(date -u +%T)" "$*" >&2; }

# --- layer 1: the Debian rootfs ---------------------------------------
rootfs=$work/rootfs
log "debootstrap --variant=minbase $suite from $mirror"
if ! debootstrap --variant=minbase --arch="$arch" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  echo "error: debootstrap failed (log above)" >&2
  exit 1
fi
# What the official debian image leaves out: package lists and caches,
# device nodes (the runtime makes /dev), the host's resolver and name.
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/dev/* "$rootfs"/var/log/*.log \
  "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname
mkdir -p "$rootfs/var/lib/apt/lists/partial"
chmod 755 "$rootfs"

# A layer tarball of DIR: numeric owners, names sorted, file capabilities
# kept, other xattrs (overlay's own trusted.* markers) not.
layer_tar() {
  tar -C "$1" --sort=name --numeric-owner --format=pax \
    --xattrs --xattrs-include=security.capability -cf "$2" .
}
layer_tar "$rootfs" "$work/debian.tar"

# --- layer 2: nginx, installed through an overlay ---------------------
upper=$work/upper
merged=$work/merged
mkdir -p "$upper" "$work/ovl-work" "$merged"
chmod 755 "$upper" # the upper root becomes the container's / on top
# redirect_dir/metacopy/index off: an upper dir that is a plain tree of
# whole files, whiteouts and opaque markers, nothing else to translate.
mount -t overlay overlay \
  -o "lowerdir=$rootfs,upperdir=$upper,workdir=$work/ovl-work,redirect_dir=off,metacopy=off,index=off" \
  "$merged"
mount --bind /dev "$merged/dev"
mount -t proc proc "$merged/proc"
cp /etc/resolv.conf "$merged/etc/resolv.conf"
# No daemon starts inside the build.
printf '#!/bin/sh\nexit 101\n' >"$merged/usr/sbin/policy-rc.d"
chmod 755 "$merged/usr/sbin/policy-rc.d"
log "apt-get install nginx (in an overlay over the Debian rootfs)"
if ! chroot "$merged" /bin/sh -ec '
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nginx
  apt-get clean
  rm -rf /var/lib/apt/lists/*
  # As the official nginx image: the page root it serves, logs to the
  # container log.
  sed -i "s#root /var/www/html;#root /usr/share/nginx/html;#" /etc/nginx/sites-available/default
  ln -sf /dev/stdout /var/log/nginx/access.log
  ln -sf /dev/stderr /var/log/nginx/error.log
  # Deletions of base files, as `apt-get purge` or `rm -rf && mkdir` make
  # them in real images: a whiteout and an opaque directory.
  rm /etc/issue.net
  rm -rf /etc/update-motd.d && mkdir /etc/update-motd.d
  echo "replaced by the nginx layer" >/etc/update-motd.d/README
' >"$work/apt.log" 2>&1; then
  tail -n 30 "$work/apt.log" >&2
  echo "error: installing nginx failed (log above)" >&2
  exit 1
fi
rm -f "$merged/etc/resolv.conf" "$merged/usr/sbin/policy-rc.d"
unmount_work

# Overlay's whiteouts to OCI's.
whiteouts=0
while IFS= read -r -d '' dev; do
  [ "$(stat -c %t:%T "$dev")" = 0:0 ] || continue
  rm "$dev"
  : >"$(dirname "$dev")/.wh.$(basename "$dev")"
  whiteouts=$((whiteouts + 1))
done < <(find "$upper" -type c -print0)
opaque=0
while IFS= read -r -d '' dir; do
  if [ "$(getfattr --only-values -n trusted.overlay.opaque "$dir" 2>/dev/null)" = y ]; then
    : >"$dir/.wh..wh..opq"
    opaque=$((opaque + 1))
  fi
done < <(find "$upper" -type d -print0)
if [ "$whiteouts" -eq 0 ] || [ "$opaque" -eq 0 ]; then
  echo "error: the nginx layer has $whiteouts whiteouts and $opaque opaque directories; expected some of each" >&2
  exit 1
fi
layer_tar "$upper" "$work/nginx.tar"

# --- the oci-archive --------------------------------------------------
layout=$work/layout
mkdir -p "$layout/blobs/sha256"
# Stores file $1 as a blob; prints its digest.
put_blob() {
  local digest
  digest=$(sha256sum "$1" | cut -d' ' -f1)
  mv "$1" "$layout/blobs/sha256/$digest"
  echo "sha256:$digest"
}
size_of() { stat -c %s "$layout/blobs/sha256/${1#sha256:}"; }
# Gzips layer tar $1; sets diff_id and digest.
put_layer() {
  diff_id=sha256:$(sha256sum "$1" | cut -d' ' -f1)
  gzip -n -6 "$1"
  digest=$(put_blob "$1.gz")
}
put_layer "$work/debian.tar"
debian_diff=$diff_id debian_layer=$digest
put_layer "$work/nginx.tar"
nginx_diff=$diff_id nginx_layer=$digest
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
path_env='"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"'
layer_desc() { printf '{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}' "$1" "$(size_of "$1")"; }

# Writes an image's config and manifest; prints the manifest's descriptor
# named $1. $2: the config's "config" object; $3: diff_ids; $4: layers.
image() {
  printf '{"created":"%s","architecture":"%s","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$created" "$arch" "$2" "$3" >"$work/config.json"
  local config
  config=$(put_blob "$work/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
    "$config" "$(size_of "$config")" "$4" >"$work/manifest.json"
  local manifest
  manifest=$(put_blob "$work/manifest.json")
  printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"%s"}}' \
    "$manifest" "$(size_of "$manifest")" "$arch" "$1"
}
debian=$(image localhost/debian:12 "{\"Env\":[$path_env],\"Cmd\":[\"bash\"]}" \
  "\"$debian_diff\"" "$(layer_desc "$debian_layer")")
nginx=$(image localhost/nginx:debian-12 \
  "{\"Env\":[$path_env],\"Cmd\":[\"nginx\",\"-g\",\"daemon off;\"],\"ExposedPorts\":{\"80/tcp\":{}},\"StopSignal\":\"SIGQUIT\"}" \
  "\"$debian_diff\",\"$nginx_diff\"" "$(layer_desc "$debian_layer"),$(layer_desc "$nginx_layer")")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s,%s]}' \
  "$debian" "$nginx" >"$layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

mkdir -p "$cache/$key"
tar -C "$layout" -cf "$out.tmp" .
mv "$out.tmp" "$out"
# Archives made by other versions of this script are stale.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" ! -name '.build-*' -exec rm -rf {} +
log "made $out ($(du -h "$out" | cut -f1); $whiteouts whiteouts, $opaque opaque directories in the nginx layer) in $((SECONDS - start)) s"
echo "$out"
