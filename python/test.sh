#!/usr/bin/env bash
# Runs the Python package's tests against the wheel python/setup.sh installed, from a directory
# outside the source tree (so `import bitget_cancel` finds the installed package). Arguments after
# the virtual environment go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="$(cd "${1:-target/python-venv}" && pwd)"
shift || true
tests="$PWD/python/tests"
cd "$(mktemp -d)"
exec "$venv/bin/python" -m pytest "$tests" -p no:cacheprovider -q "$@"
