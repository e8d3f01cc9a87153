#!/usr/bin/env bash
# Sets up the machine, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "test: setting up system packages"
scripts/setup.sh

# setup.sh installed every prerequisite of the tests (mpirun, h5dump, file, /usr/bin/python3
# with h5py, NumPy, matplotlib and Pillow, Fashion-MNIST): from here a test that finds one
# missing fails instead of skipping (Tests/VAETestSupport/Prerequisites.swift).
export VAE_DIST_TEST_PREREQUISITES=required
echo "test: /usr/bin/python3 imports h5py, numpy, matplotlib and PIL"
/usr/bin/python3 -c 'import h5py, numpy, matplotlib, PIL'

# TensorBoard's event reader checks what `train --tensorboard` writes. It is on PyPI only, and
# Debian's python3 takes pip packages only in a virtual environment: one in .build/python that
# also sees the Debian packages above; the Python tests run it (VAE_DIST_PYTHON).
echo "test: .build/python, a venv with the tensorboard package"
if ! .build/python/bin/python3 -c 'import tensorboard, h5py' 2>/dev/null; then
  /usr/bin/python3 -m venv --system-site-packages .build/python
  .build/python/bin/python3 -m pip install --quiet --disable-pip-version-check tensorboard
fi
export VAE_DIST_PYTHON="$PWD/.build/python/bin/python3"

echo "test: building"
swift build --build-tests

echo "test: running tests"
# Every test is XCTest; skipping the empty Swift Testing pass keeps XCTest's summary the closing line.
swift test --skip-build --disable-swift-testing
