#!/usr/bin/env bash
# Sets up the machine, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "test: setting up system packages"
scripts/setup.sh

echo "test: python3 h5py for the h5py read checks (tests skip them without it)"
python3 -c 'import h5py' 2>/dev/null || python3 -m pip install --quiet h5py || echo "test: h5py unavailable, h5py checks will skip"

echo "test: python3 matplotlib and Pillow for the plotting and PNG-decoder checks (tests skip them without)"
python3 -c 'import matplotlib, PIL' 2>/dev/null || python3 -m pip install --quiet matplotlib pillow \
    || echo "test: matplotlib/Pillow unavailable, plot and PIL checks will skip"

echo "test: building"
swift build --build-tests

echo "test: running tests"
# Every test is XCTest; skipping the empty Swift Testing pass keeps XCTest's summary the closing line.
swift test --skip-build --disable-swift-testing
