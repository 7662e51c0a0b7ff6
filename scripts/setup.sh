#!/usr/bin/env bash
# Create .venv when it is missing and install the project with everything it needs.
# Safe to run twice: it reinstalls only when pyproject.toml changed since the last install.
# The browser tests need Debian's Chromium and the services' front needs nginx; as root both are
# installed here with apt-get.
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
  # The install takes about 8 GB (PyTorch's CUDA build among it): say so plainly up front rather
  # than fail half-way with "No space left on device".
  free_kb=$(df -Pk . | awk 'NR == 2 {print $4}')
  if [ "${free_kb:-0}" -lt $((9 * 1024 * 1024)) ]; then
    echo "setup: only $((free_kb / 1024)) MB free here; the install needs about 9 GB" >&2
    exit 1
  fi
  echo "setup: installing the project and its dependencies into .venv (a few minutes the first time)"
  if ! .venv/bin/python -m pip install --disable-pip-version-check --no-cache-dir -e '.[all,dev]' \
      >.venv/pip-install.log 2>&1; then
    grep -v "^WARNING: Location" .venv/pip-install.log | tail -n 40 >&2
    echo "setup: pip install failed; the whole log is .venv/pip-install.log" >&2
    exit 1
  fi
  .venv/bin/python -m pip check
  touch "$stamp"
fi

# Debian packages the project runs beside Python: as root they are installed here with apt-get.
# apt_install WHAT WHY PACKAGE...: install the packages, or say what is missing and why.
apt_install() {
  local what=$1 why=$2 log=.venv/apt-$1.log
  shift 2
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's $* for $why (apt-get, a minute or two)"
    if ! { apt-get update -qq \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "$@"; } >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      echo "setup: apt-get could not install $*; the whole log is $log" >&2
      exit 1
    fi
  else
    echo "setup: $what is missing, so $why cannot run; install it with:" \
         "sudo apt-get install $*" >&2
  fi
}

# The browser tests drive Debian's Chromium through Playwright (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium "the browser tests" chromium fonts-dejavu-core
fi
# The front (service_common/front.py): Debian's nginx, in front of the matting service's gunicorn.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  apt_install nginx "remove-background-services' front" nginx-light
fi
