#!/usr/bin/env bash
# Sets the Python package up on a fresh machine (a Rust toolchain and python3 with venv are all
# it needs): a fresh virtual environment (default target/python-venv) with the pinned build and
# test tools, the abi3 wheel built by maturin (release, against the workspace's Cargo.lock) and
# installed into it. python/test.sh then runs the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${1:-target/python-venv}"
python3 -m venv --clear "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r python/requirements-dev.txt

rm -f target/wheels/bitget_cancel-*.whl
"$venv/bin/maturin" build --release --locked --manifest-path python/Cargo.toml --out target/wheels
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall \
    target/wheels/bitget_cancel-*.whl
"$venv/bin/python" -c 'import bitget_cancel, sys; print(f"bitget_cancel {bitget_cancel.__version__} installed for Python {sys.version.split()[0]}")'
