#!/usr/bin/env bash
# Sets up the machine, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "test: setting up system packages"
scripts/setup.sh

echo "test: building"
swift build --build-tests

echo "test: running tests"
swift test --skip-build
