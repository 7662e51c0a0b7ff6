#!/usr/bin/env bash
# Set everything up (when needed), start the segmentation service on 127.0.0.1:3000, write the
# trimap of examples/astronaut.png to out/, and stop the service.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p out

.venv/bin/flask --app segmentation_api run --host 127.0.0.1 --port 3000 >out/segmentation.log 2>&1 &
service=$!
trap 'kill $service 2>/dev/null || true; wait $service 2>/dev/null || true' EXIT

.venv/bin/python - <<'PY'
import sys
import time

import requests

url = "http://127.0.0.1:3000"
for _ in range(600):
    try:
        if requests.get(url + "/readyz", timeout=2).ok:
            break
    except requests.RequestException:
        time.sleep(0.2)
else:
    sys.exit("the segmentation service did not start; see out/segmentation.log")
with open("examples/astronaut.png", "rb") as image:
    response = requests.post(url + "/trimap", files={"image": image}, timeout=120)
if not response.ok:
    sys.exit(f"segmentation failed: {response.status_code} {response.text}")
with open("out/astronaut-trimap.png", "wb") as out:
    out.write(response.content)
print(f"wrote out/astronaut-trimap.png ({response.headers['X-People-Count']} person, "
      f"segmenter {response.headers['X-Segmenter']})")
PY
