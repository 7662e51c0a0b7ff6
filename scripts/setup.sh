#!/usr/bin/env bash
# Create .venv when it is missing and install the project with everything it needs.
# Safe to run twice: it reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

python_cmd=${PYTHON:-}
if [ -z "$python_cmd" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python_cmd=$candidate
      break
    fi
  done
fi
[ -n "$python_cmd" ] || { echo "setup: Python 3.11 is needed (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $python_cmd"
  "$python_cmd" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing the project and its dependencies into .venv (a few minutes the first time)"
  if ! .venv/bin/python -m pip install --disable-pip-version-check -e '.[all]' \
      >.venv/pip-install.log 2>&1; then
    grep -v "^WARNING: Location" .venv/pip-install.log | tail -n 40 >&2
    echo "setup: pip install failed; the whole log is .venv/pip-install.log" >&2
    exit 1
  fi
  .venv/bin/python -m pip check
  touch "$stamp"
fi
