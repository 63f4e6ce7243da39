#!/usr/bin/env bash
# The whole test suite: installs what is missing, then runs every test
# (unit, snapshot, integration with real pods; needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cargo test --locked -- --test-threads="${POD_TEST_THREADS:-2}"
