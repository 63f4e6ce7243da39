#!/usr/bin/env bash
# The benchmark: pod against `podman kube play`, side by side.
#
#   bench/run.sh                  # build release pod, run every case, print a table,
#                                 # write bench/results/<UTC date>.json
#   bench/run.sh --cases 1,2,6    # some cases only
#   bench/run.sh --runs 10 --out /tmp/r.json --no-podman
#   bench/run.sh --no-build       # use target/release/pod as it is
#
# Needs root, python3 and busybox-static. The podman column needs podman,
# runc and catatonit (apt-get install -y podman runc catatonit); the pull case needs
# docker-registry and skopeo (scripts/install-deps.sh installs them).
# Nothing here installs anything. See bench/bench.py --help for every option.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
args=()
for arg in "$@"; do
    if [[ $arg == --no-build ]]; then build=0; else args+=("$arg"); fi
done
if ((build)); then
    cargo build --release --locked
fi
exec python3 bench/bench.py --pod target/release/pod "${args[@]}"
