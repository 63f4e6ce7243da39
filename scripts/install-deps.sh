#!/usr/bin/env bash
# Installs what building and testing pod needs on a fresh Debian 12 machine.
# Idempotent: packages already present are skipped.
set -euo pipefail
# g++ builds libFuzzer (C++) for scripts/fuzz.sh; zstd makes its zstd
# layer seed.
packages=(busybox-static docker-registry skopeo tmux kmod iproute2 debootstrap attr zsh fish openssl gcc g++ zstd libc6-dev util-linux containernetworking-plugins iptables python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The registry is started by the tests themselves, on loopback only.
if systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
# The Python `kubernetes` client that tests/apiserver_python.rs runs
# against `pod serve`, pinned with its dependencies
# (tests/python/requirements.txt), in a virtual environment of its own
# (Debian's python3 refuses a system-wide pip install). Remade when the
# requirements change.
python_env=${POD_TEST_PYTHON:-/var/cache/pod-test-python}
requirements=$(dirname "$0")/../tests/python/requirements.txt
if ! cmp -s "$requirements" "$python_env/requirements.txt"; then
  rm -rf "$python_env"
  /usr/bin/python3 -m venv "$python_env"
  "$python_env/bin/pip" install -q --disable-pip-version-check --no-deps -r "$requirements"
  cp "$requirements" "$python_env/requirements.txt"
fi
