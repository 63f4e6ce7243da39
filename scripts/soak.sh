#!/usr/bin/env bash
# The long soak (issue 18, Leaks): CYCLES create/delete cycles of a
# 2-container pod (emptyDir on disk and in memory, a readiness probe, a
# hostPort, the pod network), every fourth with its supervisor killed -9,
# then every leak count asserted (tests/soak.rs; the suite runs 20).
#
#   scripts/soak.sh [CYCLES]        (default 1000; root)
set -euo pipefail
cd "$(dirname "$0")/.."
POD_SOAK_CYCLES=${1:-1000} cargo test --test soak -- --nocapture 2>&1 |
  grep -E '^soak:|test result|panicked|left|FAILED'
