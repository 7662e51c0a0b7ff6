#!/usr/bin/env bash
# Make the Containerfile's base image where no registry image can be pulled: Debian bookworm with
# its Python 3.11, built from Debian's own packages by debootstrap and imported into podman.
#   deploy/local-base-image.sh [IMAGE]      (root; needs debootstrap and podman)
#   podman build --build-arg BASE_IMAGE=localhost/bookworm-python:local -f deploy/Containerfile .
set -euo pipefail
image=${1:-localhost/bookworm-python:local}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root"
tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$image"
