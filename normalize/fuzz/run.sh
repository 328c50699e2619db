#!/usr/bin/env bash
# Runs every fuzz target for N seconds (default 60), seeded with the fixtures.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
for target in $(ls fuzz_targets | sed 's/\.rs$//'); do
  corpus=corpus/$target
  mkdir -p "$corpus"
  case $target in
    map_*) src=${target#map_}; cp -n ../tests/fixtures/"$src"/* "$corpus"/ 2>/dev/null || true ;;
    framing_text) cp -n ../tests/fixtures/syslog/* "$corpus"/ ;;
    framing_json) for d in ../tests/fixtures/*/; do [ "$(basename "$d")" = syslog ] || cp -n "$d"* "$corpus"/; done ;;
  esac
  echo "== $target ($secs s)"
  cargo +nightly fuzz run --fuzz-dir . "$target" "$corpus" -- -max_total_time="$secs" -max_len=65536 2>&1 | tail -n 3
done
