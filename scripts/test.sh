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

echo "test: building"
swift build --build-tests

echo "test: running tests"
# Every test is XCTest; skipping the empty Swift Testing pass keeps XCTest's summary the closing line.
swift test --skip-build --disable-swift-testing
