#!/usr/bin/env bash
# Puts `vae-dist` on PATH: a symbolic link to this checkout's release build, so README's
# `vae-dist ...` commands work as written. Idempotent; builds first when the binary is missing.
#
#   scripts/install.sh                  # /usr/local/bin when writable (root), else ~/.local/bin
#   VAE_DIST_BIN_DIR=~/bin scripts/install.sh
#   VAE_DIST_BINARY=.build/debug/vae-dist scripts/install.sh   # link another build
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${VAE_DIST_BINARY:-}" ]; then
  binary=$(cd "$(dirname "$VAE_DIST_BINARY")" && pwd)/$(basename "$VAE_DIST_BINARY")
else
  binary="$(swift build -c release --show-bin-path)/vae-dist"
  if [ ! -x "$binary" ]; then
    echo "install: building vae-dist (release)"
    swift build -c release --product vae-dist
  fi
fi
if [ ! -x "$binary" ]; then
  echo "install: error: $binary is not an executable vae-dist" >&2
  exit 1
fi

if [ -n "${VAE_DIST_BIN_DIR:-}" ]; then
  bin_dir=$VAE_DIST_BIN_DIR
elif [ -w /usr/local/bin ]; then
  bin_dir=/usr/local/bin
else
  bin_dir=$HOME/.local/bin
fi
mkdir -p "$bin_dir"
ln -sfn "$binary" "$bin_dir/vae-dist"
echo "install: $bin_dir/vae-dist -> $binary"

case ":$PATH:" in
  *":$bin_dir:"*) echo "install: $bin_dir is on PATH: \`vae-dist --version\` works in any shell" ;;
  *) echo "install: $bin_dir is not on PATH; add it in this shell and in ~/.profile:"
     echo "           export PATH=\"$bin_dir:\$PATH\"" ;;
esac
