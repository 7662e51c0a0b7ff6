"""The image built from deploy/Containerfile runs the base manifests' Deployments under
``podman kube play``: both services start as the image's non-root user with THREADS from the CPU
request, become ready, and a photo sent to the matting service comes back matted.

What podman cannot do as a cluster does is changed for the run, and only that: no init container
and weights volume (the weights cannot be downloaded here; the embedded backends serve), no
container ports (podman maps them only on a bridge network), and the segmentation service at
127.0.0.1 (podman has no Services; both pods share one network namespace that has only loopback,
so 0.0.0.0 inside the pods is loopback). tests/test_deploy.py checks the manifests themselves.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from testing.launcher import ROOT
from tests.manifests import RENDERED, containers, environment, serving

pytestmark = pytest.mark.slow

BASE_IMAGE = "localhost/bookworm-python:local"  # made by deploy/local-base-image.sh
# What this development machine's VM needs of podman: crun refuses its mixed cgroup v1/v2
# mounts (runc takes them), and it may not raise resource limits (no CAP_SYS_RESOURCE).
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")  # the machine's trusted certificates
READY_TIMEOUT = 180  # seconds for both services to load their models
# Pods and image tags are podman-wide: names of this run's own let runs from other checkouts on
# the same machine go on at once.
RUN = f"test{os.getpid()}"


def local_pods(documents: list[dict], image: str) -> list[dict]:
    """The Deployments as podman runs them here (see the module's docstring), named for this
    run and running ``image``."""
    deployments = [copy.deepcopy(d) for d in documents if d["kind"] == "Deployment"]
    for deployment in deployments:
        deployment["metadata"]["name"] += f"-{RUN}"
        pod = deployment["spec"]["template"]["spec"]
        pod.pop("initContainers")
        pod.pop("volumes")
        for container in pod["containers"]:
            container["image"] = image
            container.pop("ports")
            container.pop("volumeMounts")
            env = environment(container)
            for name in ("MASKRCNN_WEIGHTS", "FBA_WEIGHTS"):
                env.pop(name, None)
            env.update({"SEGMENTER": {"name": "SEGMENTER", "value": "selfie"},
                        "MATTER": {"name": "MATTER", "value": "closed-form"}})
            if "SEGMENTATION_URL" in env:
                env["SEGMENTATION_URL"]["value"] = "http://127.0.0.1:3000"
            container["env"] = list(env.values())
    return deployments


def podman(*args: str, env: dict[str, str], timeout: float,
           check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=check)


@pytest.fixture(scope="module")
def podman_env(tmp_path_factory) -> dict[str, str]:
    """The environment podman runs with; skips where this test cannot run."""
    missing = [tool for tool in ("podman", "runc", "unshare", "ip", "debootstrap")
               if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed "
                    "(apt-get install podman runc debootstrap)")
    if os.geteuid() != 0:
        pytest.skip("podman kube play in a loopback-only network namespace needs root")
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


@pytest.fixture(scope="module")
def image(podman_env, tmp_path_factory) -> Iterator[str]:
    """The services' image, built from deploy/Containerfile on the local base image (made
    first when missing) and tagged for this run. Built layers are cached by podman: a rebuild
    after a code change only copies the code."""
    name = next(c["image"] for d in RENDERED["base"] for c in containers(d))
    name = f"localhost/{name.split(':')[0]}:{RUN}"
    if podman("image", "exists", BASE_IMAGE, env=podman_env, timeout=60,
              check=False).returncode != 0:
        subprocess.run([ROOT / "deploy" / "local-base-image.sh", BASE_IMAGE], env=podman_env,
                       check=True, capture_output=True, timeout=900)
    # The build's RUN steps only download packages: they share the machine's network and trust
    # its certificates. TORCH_INDEX empty: torch from the package index, as PyTorch's own index
    # is not reachable here.
    trust = []
    if CA_BUNDLE.is_file():
        pip_conf = tmp_path_factory.mktemp("pip") / "pip.conf"
        pip_conf.write_text(f"[global]\ncert = {CA_BUNDLE}\n")
        trust = ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro", "-v", f"{pip_conf}:/etc/pip.conf:ro"]
    podman("build", "--network", "host", *trust, "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
           "--build-arg", "TORCH_INDEX=", "-f", str(ROOT / "deploy" / "Containerfile"),
           "-t", name, str(ROOT), env=podman_env, timeout=1800)
    yield name
    podman("untag", name, env=podman_env, timeout=60, check=False)


def drive(pods: Path, photo: Path) -> dict:
    """Inside a fresh network namespace: play the pods, wait until the matting service is ready,
    send it a photo, note what the containers run as, and take the pods down again."""
    names = [f"{d['metadata']['name']}-pod-0-{c['name']}"  # podman's names for the containers
             for d in yaml.safe_load_all(pods.read_text())
             for c in d["spec"]["template"]["spec"]["containers"]]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    started = time.monotonic()
    subprocess.run(["podman", "kube", "play", "--network", "host", str(pods)], check=True,
                   capture_output=True, timeout=120)
    try:
        ready = False
        while not ready and time.monotonic() - started < READY_TIMEOUT:
            with contextlib.suppress(requests.RequestException):
                ready = requests.get("http://127.0.0.1:5000/readyz", timeout=5).ok
            time.sleep(0 if ready else 1)
        seconds_to_ready = time.monotonic() - started
        with photo.open("rb") as handle:
            answer = requests.post("http://127.0.0.1:5000/matte", files={"image": handle},
                                   timeout=120)
        identity = {}
        for name in names:
            identity[name] = subprocess.run(
                ["podman", "exec", name, "sh", "-c", "id -u; echo $THREADS"],
                capture_output=True, text=True, timeout=60).stdout.split()
        return {"ready": ready, "seconds_to_ready": seconds_to_ready,
                "status": answer.status_code, "type": answer.headers.get("Content-Type"),
                "segmenter": answer.headers.get("X-Segmenter"),
                "matter": answer.headers.get("X-Matter"), "identity": identity}
    finally:
        subprocess.run(["podman", "kube", "down", str(pods)], capture_output=True, timeout=120)


def test_the_manifests_pods_serve_a_photo(image, podman_env, tmp_path):
    pods = tmp_path / "pods.yaml"
    pods.write_text(yaml.safe_dump_all(local_pods(RENDERED["base"], image)))
    try:
        run = subprocess.run(["unshare", "--net", "--fork", sys.executable, "-m",
                              "tests.test_container", str(pods),
                              str(ROOT / "examples" / "astronaut.png")],
                             cwd=ROOT, env=podman_env, capture_output=True, text=True,
                             timeout=READY_TIMEOUT + 300)
    finally:  # also when the driver was killed by the timeout
        podman("kube", "down", str(pods), env=podman_env, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    print(f"both pods ready {result['seconds_to_ready']:.0f} s after podman kube play")
    assert result["ready"], "the matting service never answered /readyz with 200"
    assert (result["status"], result["type"]) == (200, "image/png")
    assert (result["segmenter"], result["matter"]) == ("selfie", "closed-form")
    for deployment, container in serving(RENDERED["base"]):
        uid, threads = result["identity"][f"{deployment['metadata']['name']}-{RUN}-pod-0-"
                                          f"{container['name']}"]
        assert int(uid) == deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
        assert threads == container["resources"]["requests"]["cpu"]
    left = podman("ps", "-a", "--format", "{{.Names}}", env=podman_env, timeout=60).stdout
    assert not [name for name in left.split() if RUN in name]


if __name__ == "__main__":
    print(json.dumps(drive(Path(sys.argv[1]), Path(sys.argv[2]))))
