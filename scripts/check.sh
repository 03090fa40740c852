#!/usr/bin/env bash
# Runs every test suite against a build folder and prints the summed
# "N passed, N failed" line last (see scripts/check.py). `make check` calls
# this after building; run it directly to re-test without rebuilding.
#
# usage: scripts/check.sh [BUILD_DIR] [SUITE ...]     (default BUILD_DIR: build)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
shift || true
python="$build/venv/bin/python"
[ -x "$python" ] || python=/usr/bin/python3
exec "$python" "$root/scripts/check.py" "$build" "$@"
