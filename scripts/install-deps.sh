#!/usr/bin/env bash
# Installs what Lathe needs on Debian 12, only when missing; safe to run again.
# Debian packages: compiler toolchain and the libraries CMake links against.
# Python test tooling: a venv under the build directory from tests/requirements.txt.
#
# usage: scripts/install-deps.sh [BUILD_DIR]
set -euo pipefail

build_dir=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  cmake build-essential pkg-config
  llvm-14-dev llvm-14-tools
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev
  libisl-dev
  liblapacke-dev libopenblas-dev
  libcjson-dev libcmocka-dev libzip-dev
  python3 python3-venv
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The test venv: Debian's interpreter, pinned PyPI packages. Re-created when the
# requirements file changes (its hash is stored next to the venv).
venv="$build_dir/venv"
req="$root/tests/requirements.txt"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install-deps: creating test venv in $venv"
  rm -rf "$venv"
  mkdir -p "$build_dir"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi
