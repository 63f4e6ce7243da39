#!/usr/bin/env bash
# The long soak (issue 18, Leaks):
# - CYCLES create/delete cycles of a 2-container pod (emptyDir on disk
#   and in memory, a readiness probe, a hostPort, the pod network), every
#   fourth with its supervisor killed -9, then every leak count asserted
#   (tests/soak.rs; the suite runs 20);
# - a pod probed PROBE_RUNS times (16 probes, every second; 17,280 runs is
#   a day of a liveness and a readiness probe at the default 10 s), its
#   supervisor's memory, fds and threads sampled along the way
#   (tests/soak_probes.rs; the suite runs 800).
#
#   scripts/soak.sh [CYCLES] [PROBE_RUNS]    (default 1000 17280; root)
#
# About an hour and a half on 2 loaded cores. The runs use copies of the
# pod binary and of the test binaries: a build in this worktree meanwhile
# neither replaces them under the run nor waits for it.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-1000}
probe_runs=${2:-17280}
cargo build --locked --bin pod
copies=$(mktemp -d /tmp/pod-soak.XXXXXX)
trap 'rm -rf "$copies"' EXIT
cp target/debug/pod "$copies/pod"
for test in soak soak_probes; do
  built=$(cargo test --locked --test "$test" --no-run 2>&1 |
    sed -n "s|.*Executable tests/$test.rs (\(.*\))|\1|p")
  cp "$built" "$copies/$test"
done
# Each with a copy of its own: the soak counts every process of its pod
# binary as left behind.
cp "$copies/pod" "$copies/pod-probes"
status=0
POD_TEST_BIN=$copies/pod POD_SOAK_CYCLES=$cycles "$copies/soak" --nocapture 2>&1 |
  grep -E '^soak:|test result|panicked|left|FAILED' || status=1
POD_TEST_BIN=$copies/pod-probes POD_SOAK_PROBE_RUNS=$probe_runs "$copies/soak_probes" --nocapture 2>&1 |
  grep -E '^soak:|test result|panicked|grew|FAILED' || status=1
exit $status
