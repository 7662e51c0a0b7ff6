#!/usr/bin/env bash
# Set everything up (when needed), start both services on 127.0.0.1 (:3000 and :5000), write
# examples/astronaut.png over the green background and as a transparent cutout into out/, stop.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m scripts.demo
