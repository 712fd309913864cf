#!/usr/bin/env bash
# Installs the Debian packages srformer needs to build, test, benchmark and run
# its examples — only those that are missing, so running it again is a no-op.
# Tested target: Debian 12 (bookworm). Run as root, or as a user with sudo.
#
#   bash cmake/setup-debian.sh            # install what is missing
#   bash cmake/setup-debian.sh --check    # only report; exit 1 if something is missing
set -euo pipefail

packages=(
  cmake               # build system (>= 3.16; ctest --test-dir needs >= 3.20)
  g++                 # C++17 compiler
  make                # CMake's default generator
  pkg-config          # finds SentencePiece
  libeigen3-dev       # Eigen 3.4: matrices and kernels
  nlohmann-json3-dev  # config.json / safetensors headers
  libsentencepiece-dev  # T5 tokenizer
  libgtest-dev        # tests
  libbenchmark-dev    # benchmarks
  libcli11-dev        # command line of the examples
  # Python binding (python/) and its tests; the Dask example
  python3-dev         # Python headers for the extension
  python3-pybind11    # C++ <-> Python binding
  python3-numpy       # arrays in and out of the binding
  python3-pytest      # tests/python
  python3-setuptools  # pip install ./python (offline, --no-build-isolation)
  python3-wheel
  python3-pip
  python3-venv        # the README's install into a virtual environment
  python3-dask        # examples/python/dask_summarize.py
  python3-distributed
  python3-torch       # srformer.torch (training, export) and its tests
  libopenblas0-pthread  # BLAS for torch and numpy (Debian otherwise links the slow reference BLAS)
)

check_only=0
case "${1:-}" in
  "") ;;
  --check) check_only=1 ;;
  -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
  *) echo "setup-debian.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-debian.sh: dpkg-query/apt-get not found; this script is for Debian (12 'bookworm')." >&2
  echo "Install these packages (or their equivalents) yourself: ${packages[*]}" >&2
  exit 1
fi

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

missing=()
for package in "${packages[@]}"; do
  if ! is_installed "$package"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup-debian.sh: all ${#packages[@]} required packages are installed; nothing to do."
  exit 0
fi

echo "setup-debian.sh: missing packages: ${missing[*]}"
if ((check_only)); then
  exit 1
fi

if [[ "$(id -u)" -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup-debian.sh: not root and sudo is not available; as root, run:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "setup-debian.sh: installing: ${missing[*]}"
# ${a[@]+"${a[@]}"}: an empty array is fine under `set -u` on every bash version.
${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update
${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"

# Verify, so a silently skipped package fails here and not in the build.
still_missing=()
for package in "${missing[@]}"; do
  if ! is_installed "$package"; then
    still_missing+=("$package")
  fi
done
if ((${#still_missing[@]} != 0)); then
  echo "setup-debian.sh: still missing after apt-get install: ${still_missing[*]}" >&2
  exit 1
fi
echo "setup-debian.sh: installed ${#missing[@]} package(s): ${missing[*]}"
