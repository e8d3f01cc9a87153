#!/usr/bin/env bash
# Installs the Debian packages vae-dist needs, only those that are missing.
# Idempotent: a second run installs nothing and only prints what it checked.
set -euo pipefail

packages=(
  libopenmpi-dev openmpi-bin       # MPI: headers, libmpi, mpirun
  libhdf5-dev hdf5-tools           # HDF5: headers, libhdf5, h5dump
  libopenblas-dev                  # BLAS: cblas_sgemm
  libdnnl-dev                      # oneDNN: f32 and bf16 matmul (--gemm onednn)
  pkg-config zlib1g-dev            # finds the three above; zlib for PNG
  libdeflate-dev                   # inflates data files' gzip chunks for the streaming reader
  dataset-fashion-mnist            # the default training data
  # What the tests and scripts/*.py need, from Debian rather than pip: Debian 12's python3
  # refuses `pip install` outside a virtual environment (PEP 668). They serve
  # /usr/bin/python3, which the tests pick even where a pyenv or venv python3 comes first.
  python3 python3-numpy python3-h5py python3-matplotlib python3-pil
  python3-venv                     # scripts/test.sh's venv for TensorBoard's reader (pip only)
  file                             # the tests' independent look at the PNGs we write
)

missing=()
for package in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    echo "setup: $package already installed"
  else
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all system packages present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "setup: error: missing packages (${missing[*]}) and no way to install them:" >&2
  echo "setup:        run as root, or as a user with password-less sudo, or install them by hand" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
