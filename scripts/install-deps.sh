#!/usr/bin/env bash
# Installs what building and testing pod needs on a fresh Debian 12 machine.
# Idempotent: packages already present are skipped.
set -euo pipefail
packages=(busybox-static docker-registry skopeo tmux kmod iproute2 debootstrap attr zsh fish openssl gcc libc6-dev util-linux containernetworking-plugins iptables)
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
