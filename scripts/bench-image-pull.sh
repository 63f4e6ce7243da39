#!/usr/bin/env bash
# Benchmark (not a test): pulls a multi-layer image from a local registry
# (Debian's docker-registry on 127.0.0.1, storage in a temp dir) with
# `pod image pull`, cold and warm, and with `podman pull` when podman is
# installed. Prints wall-clock seconds.
#   usage: scripts/bench-image-pull.sh [POD_BINARY] [LAYERS] [MIB_PER_LAYER]
set -euo pipefail
pod=$(realpath "${1:-target/release/pod}")
layers=${2:-4}
mib=${3:-16}
for tool in /usr/bin/docker-registry skopeo python3; do
  command -v "$tool" >/dev/null || { echo "error: $tool missing (scripts/install-deps.sh)" >&2; exit 1; }
done
work=$(mktemp -d)
registry_pid=
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/storage
http:
  addr: 127.0.0.1:$port
EOF
/usr/bin/docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
  (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.1
done

# An OCI layout with $layers gzip layers of $mib MiB of random data each.
python3 - "$work/layout" "$layers" "$mib" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out, layers, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)
def put(data, media_type):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}
descriptors, diff_ids = [], []
for i in range(layers):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        body = os.urandom(mib << 20)
        info = tarfile.TarInfo(f"data/layer{i}.bin")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    raw = buf.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    descriptors.append(put(gzip.compress(raw, 1), "application/vnd.oci.image.layer.v1.tar+gzip"))
arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
config = put(json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode(),
             "application/vnd.oci.image.config.v1+json")
manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": config, "layers": descriptors}).encode(),
               "application/vnd.oci.image.manifest.v1+json")
manifest["annotations"] = {"org.opencontainers.image.ref.name": "v1"}
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [manifest]}, f)
with open(os.path.join(out, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
PY
image=127.0.0.1:$port/bench/multi:v1
skopeo copy --insecure-policy -q --dest-tls-verify=false "oci:$work/layout:v1" "docker://$image"
printf '[[registry]]\nlocation = "127.0.0.1:%s"\ninsecure = true\n' "$port" >"$work/registries.conf"

seconds() {
  local start=$EPOCHREALTIME
  "$@" >/dev/null 2>"$work/err" || { echo "error: $* failed:" >&2; cat "$work/err" >&2; exit 1; }
  awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f s\n", b - a }'
}
pod_pull() { POD_REGISTRIES_CONF=$work/registries.conf "$pod" --root "$work/pod-root" --run-root "$work/pod-run" image pull -q "$image"; }

echo "image: $layers layers x $mib MiB (random, gzip)"
printf '%-28s %s\n' "pod image pull (cold)" "$(seconds pod_pull)"
printf '%-28s %s\n' "pod image pull (warm)" "$(seconds pod_pull)"
if command -v podman >/dev/null; then
  podman_pull() { podman --root "$work/podman-root" --runroot "$work/podman-run" pull -q --tls-verify=false "$image"; }
  printf '%-28s %s\n' "podman pull (cold)" "$(seconds podman_pull)"
  printf '%-28s %s\n' "podman pull (warm)" "$(seconds podman_pull)"
else
  echo "podman not installed: no comparison"
fi
