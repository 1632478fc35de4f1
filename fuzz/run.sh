#!/usr/bin/env bash
# Fuzzes the parse-and-normalize entry point, seeded with the shared corpus and the outlet
# captures. Usage: fuzz/run.sh [SECONDS] (default 600). Needs cargo-fuzz (`cargo install
# cargo-fuzz`); RUSTC_BOOTSTRAP lets the stable toolchain build with the sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
seeds=corpus/parse_feed
mkdir -p "$seeds"
find ../../shared/fixtures -type f ! -name '*.md' -exec cp {} "$seeds/" \;
RUSTC_BOOTSTRAP=1 cargo fuzz run parse_feed "$seeds" -- \
  -max_total_time="$seconds" -max_len=262144 -timeout=10 -rss_limit_mb=2048
