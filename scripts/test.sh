#!/usr/bin/env bash
# The whole test suite: installs what is missing, then runs every test
# (unit, snapshot, integration with real pods; needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# The Debian images tests/distribution_images.rs runs, made from the apt
# mirror (a few minutes) or found in the cache, before the tests so that
# their time shows on its own. 77: the mirror is unreachable and those
# tests skip (unless POD_REQUIRE_DEBIAN_IMAGES is set, as on CI).
status=0
./scripts/make-debian-images.sh >/dev/null || status=$?
case $status in
  0 | 77) ;;
  *) exit "$status" ;;
esac
cargo test --locked -- --test-threads="${POD_TEST_THREADS:-2}"
