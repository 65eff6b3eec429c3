#!/usr/bin/env bash
# build.sh OUT PACKAGE: go build that says what it is doing (every 25th
# package compiled, compiler messages as they come) and how long it took.
set -euo pipefail
out=$1 pkg=$2
GO=${GO:-go}
start=$(date +%s)
echo "building $out from $pkg (a cold build compiles a few hundred packages: a minute or two; then seconds)"
if ! "$GO" build -v -o "$out" "$pkg" 2>&1 | awk '
    / |:/ { print; fflush(); next }                      # compiler messages
    { n++; if (n % 25 == 0) { printf "  compiled %d packages (%s)\n", n, $0; fflush() } }
    END { if (n) printf "  compiled %d packages\n", n }'; then
  echo "build of $out failed after $(( $(date +%s) - start ))s" >&2
  exit 1
fi
echo "built $out in $(( $(date +%s) - start ))s"
