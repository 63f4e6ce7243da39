#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input with libFuzzer (fuzz/, the
# cargo-fuzz layout): the manifest decoder and validator, the label
# selector, jsonpath, quantities and the image layer unpacker.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60, all)
#
# Built with stable cargo: libFuzzer's coverage feedback is LLVM's
# SanitizerCoverage pass, which stable rustc runs given -Cpasses and
# -Cllvm-args (what cargo-fuzz passes too, with -s none: no
# AddressSanitizer, which needs nightly and finds little in safe Rust).
# Seeds: the Kubernetes documentation's manifests
# (tests/conformance/k8s-examples), the selectors, quantities and field
# paths taken from them, fuzz/seeds/<target>/ and small layers made here.
# Inputs that crash, hang (-timeout) or take more than 2 GiB land in
# fuzz/artifacts/<target>/ and the script fails; copy each, once fixed,
# to fuzz/regressions/<target>/, which tests/fuzz_seeds.rs replays.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(manifest selector jsonpath quantity layer)

triple=$(rustc -vV | sed -n 's/^host: //p')
# --target keeps these flags off build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
(cd fuzz && cargo build --locked --release --target "$triple" --bins)
bin=$repo/fuzz/target/$triple/release

# Seeds made from the corpus of manifests.
examples=$repo/tests/conformance/k8s-examples
gen=$repo/fuzz/corpus/generated
rm -rf "$gen"
mkdir -p "$gen"/{selector,quantity,jsonpath,layer}
grep -rhoE '^ *[A-Za-z0-9./_-]+: *[A-Za-z0-9._-]+$' "$examples" | sed 's/^ *//' | sort -u | head -300 |
  while IFS= read -r line; do
    key=${line%%:*} value=$(echo "${line#*:}" | tr -d ' ')
    n=$(printf '%s' "$line" | sha1sum | cut -c1-12)
    printf '%s=%s' "$key" "$value" >"$gen/selector/$n"
    printf '%s' "$value" >"$gen/quantity/$n"
    printf '{.spec.containers[*].%s}' "$key" >"$gen/jsonpath/$n"
  done
# Layers: plain, gzip and zstd, with a directory, files, a symlink, a
# hard link and a whiteout.
layer=$(mktemp -d)
trap 'rm -rf "$layer"' EXIT
mkdir -p "$layer/etc/sub" "$layer/bin"
echo hello >"$layer/etc/hosts"
ln -s ../etc/hosts "$layer/bin/link"
ln "$layer/etc/hosts" "$layer/etc/hard"
: >"$layer/etc/.wh.gone"
tar -C "$layer" -cf "$gen/layer/plain.tar" etc bin
gzip -c "$gen/layer/plain.tar" >"$gen/layer/layer.tar.gz"
zstd -q -c "$gen/layer/plain.tar" >"$gen/layer/layer.tar.zst" 2>/dev/null || true

status=0
for t in "${targets[@]}"; do
  corpus=$repo/fuzz/corpus/$t
  artifacts=$repo/fuzz/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  seeds=("$repo/fuzz/seeds/$t")
  [ -d "$gen/$t" ] && seeds+=("$gen/$t")
  [ "$t" = manifest ] && seeds+=("$examples")
  [ -d "$repo/fuzz/regressions/$t" ] && seeds+=("$repo/fuzz/regressions/$t")
  log=$repo/fuzz/artifacts/$t.log
  rc=0
  # The layer target writes to a fresh temporary directory per input.
  "$bin/$t" "$corpus" "${seeds[@]}" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$artifacts/" \
    -print_final_stats=1 >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  found=$(find "$artifacts" -type f | wc -l)
  printf '%-9s %3ss  %9s executions  corpus %5s  findings %s  (exit %s)\n' \
    "$t" "$secs" "${execs:-?}" "$(find "$corpus" -type f | wc -l)" "$found" "$rc"
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    status=1
    grep -m3 -E 'panicked|ERROR|SUMMARY' "$log" | sed 's/^/    /' || true
  fi
done
exit $status
