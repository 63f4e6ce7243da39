#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine as root, offline but for the
# package registries: install what is missing, build release `pod`, make
# the busybox image from the host's busybox-static, run the seeds'
# two-container pod from samples/ and show it working.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
cargo build --release --locked
pod=target/release/pod
install -m 0755 "$pod" /usr/local/bin/pod
# The unit that brings the pods back at boot (`pod up`); enabling it is
# the machine owner's choice: systemctl enable pod.service
if [ -d /run/systemd/system ]; then
    install -m 0644 scripts/pod.service /etc/systemd/system/pod.service
    systemctl daemon-reload
fi

./scripts/make-busybox-image.sh

# Start from a clean slate for the demo pod, then run it.
pod delete pod nginx --ignore-not-found --wait=true >/dev/null
pod create -f samples/nginx-shell.yaml
pod wait --for=condition=Ready pod/nginx --timeout=60s
pod get pods
echo
echo "$ pod exec nginx -c shell -- ps"
pod exec nginx -c shell -- ps
echo
echo "The pod keeps running: try 'pod attach -it nginx -c shell', then 'pod delete pod nginx'."
