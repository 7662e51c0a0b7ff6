"""deploy/: the Kubernetes manifests are valid against the Kubernetes schemas (offline, with
kubernetes-validate) and agree with the code they deploy: the probes ask the apps' real routes on
the ports gunicorn binds, the grace period outlasts gunicorn's graceful timeout, the containers run
the README's production command, and every setting they pass is one the services read."""

from __future__ import annotations

import importlib
import json
import re
import shlex
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from background_replacement.models import CATALOG
from background_replacement.service_common.gunicorn_base import gunicorn_settings
from background_replacement.service_common.serve import parse_arguments
from background_replacement.service_common.settings import ServiceSettings, load_service_settings
from background_replacement.settings import Settings
from testing.launcher import ROOT
from tests.manifests import (
    DEPLOY,
    KUSTOMIZATIONS,
    RENDERED,
    SERVICES_COMMAND,
    app_module,
    by_kind,
    containers,
    environment,
    keyed,
    serving,
)

# The oldest Kubernetes the manifests are checked against (autoscaling/v2 and policy/v1 are GA
# there), and the newest kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.25", kubernetes_validate.utils.latest_version())
WEIGHTS_SETTINGS = {"MASKRCNN_WEIGHTS": CATALOG["maskrcnn"], "FBA_WEIGHTS": CATALOG["fba"]}
GUNICORN_SETTINGS = {"BIND", "WORKERS"}  # read by service_common/gunicorn_base.py


def readme_commands() -> dict[str, list[str]]:
    """The README's production commands (section "Production serving"), keyed by the app module
    they serve: the gunicorn arguments after the environment and the executable's folder."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Production serving", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    commands = {}
    for line in block.splitlines():
        words = [w for w in shlex.split(line) if not re.fullmatch(r"[A-Z_]+=.*", w)]
        if words and words[0].endswith("gunicorn"):
            command = ["gunicorn", *words[1:]]
            commands[app_module({"command": command})] = command
        elif words and words[0].endswith("remove-background-services"):
            command = [*SERVICES_COMMAND, *words[1:]]
            commands[app_module({"command": command})] = command
    return commands


def served_port(container: dict, module: str, monkeypatch) -> tuple[str, int]:
    """The address (host, port) a container serves on: gunicorn's ``BIND``, or the front's
    ``--host`` and ``--matting-port`` for the service behind its front."""
    command = container["command"]
    if command[:3] == SERVICES_COMMAND:
        args = parse_arguments(command[3:])
        return args.host, args.matting_port
    monkeypatch.delenv("BIND", raising=False)
    conf = importlib.reload(importlib.import_module(f"{module}.gunicorn_conf"))
    default_port = int(conf.bind.rsplit(":", 1)[1])
    assert environment(container)["BIND"]["value"] == f"0.0.0.0:{default_port}"
    return "0.0.0.0", default_port


@pytest.fixture(scope="module")
def routes() -> dict[str, set[str]]:
    """The GET routes of each app, built by its own factory with the embedded backends."""
    found = {}
    for module in ("segmentation_api", "matting_api"):
        app = importlib.import_module(module).create_app(
            {"segmenter": "selfie", "matter": "closed-form", "threads": 1})
        found[module] = {rule.rule for rule in app.url_map.iter_rules()
                         if "GET" in rule.methods}
    return found


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_manifest_is_valid_kubernetes(kustomization, version):
    documents = RENDERED[kustomization]
    assert {d["kind"] for d in documents} == {"Deployment", "Service", "HorizontalPodAutoscaler",
                                              "NetworkPolicy", "PodDisruptionBudget"}
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)  # raises when invalid


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_the_render_here_is_what_kustomize_makes(kustomization):
    tool = shutil.which("kustomize") or shutil.which("kubectl")
    if tool is None:
        pytest.skip("neither kustomize nor kubectl is installed to compare the render with")
    command = [tool, "build"] if tool.endswith("kustomize") else [tool, "kustomize"]
    output = subprocess.run([*command, str(KUSTOMIZATIONS[kustomization])], check=True,
                            capture_output=True, text=True, timeout=60).stdout
    assert keyed(list(yaml.safe_load_all(output))) == keyed(RENDERED[kustomization])


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_each_service_is_a_deployment_a_service_an_autoscaler_and_a_budget(kustomization):
    documents = RENDERED[kustomization]
    for deployment, container in serving(documents):
        name = deployment["metadata"]["name"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        kinds = keyed(documents)
        service = kinds["Service", name]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        port = service["spec"]["ports"][0]
        assert port["targetPort"] in {p["name"] for p in container["ports"]}
        assert kinds["HorizontalPodAutoscaler", name]["spec"]["scaleTargetRef"]["name"] == name
        assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
        budget = kinds["PodDisruptionBudget", name]["spec"]
        assert budget["selector"]["matchLabels"].items() <= pod_labels.items()
        assert budget["minAvailable"] < kinds["HorizontalPodAutoscaler", name]["spec"][
            "minReplicas"], "a drain must be able to evict one pod"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_probes_ask_the_apps_routes_on_the_port_the_container_serves(kustomization, routes,
                                                                      monkeypatch):
    for _, container in serving(RENDERED[kustomization]):
        module = app_module(container)
        host, default_port = served_port(container, module, monkeypatch)
        assert host == "0.0.0.0"
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        probes = {kind: container[kind]["httpGet"]
                  for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
        assert probes["readinessProbe"]["path"] == "/readyz"
        assert probes["livenessProbe"]["path"] == "/healthz"
        for probe in probes.values():
            assert probe["path"] in routes[module]
            assert ports[probe["port"]] == default_port


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_matting_finds_segmentation_by_its_service_name(kustomization):
    documents = RENDERED[kustomization]
    matting = next(c for _, c in serving(documents) if app_module(c) == "matting_api")
    url = urlsplit(environment(matting)["SEGMENTATION_URL"]["value"])
    service = keyed(documents)["Service", url.hostname]
    assert url.port == service["spec"]["ports"][0]["port"]
    container = next(c for d, c in serving(documents) if d["metadata"]["name"] == url.hostname)
    assert app_module(container) == "segmentation_api"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_grace_period_outlasts_prestop_and_gunicorns_graceful_timeout(kustomization):
    graceful = gunicorn_settings(default_port=0, timeout=0)["graceful_timeout"]
    for deployment, container in serving(RENDERED[kustomization]):
        sleep = container["lifecycle"]["preStop"]["exec"]["command"]
        assert sleep[0] == "sleep"
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > int(sleep[1]) + graceful


def containerfile_instruction(name: str) -> str:
    lines = (DEPLOY / "Containerfile").read_text().splitlines()
    return next(line.split(None, 1)[1] for line in lines if line.startswith(name + " "))


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_one_secret_gives_both_services_the_segmentation_key(kustomization):
    for _, container in serving(RENDERED[kustomization]):
        source = environment(container)["SEGMENTATION_API_KEY"]["valueFrom"]["secretKeyRef"]
        assert source["name"] == "segmentation-api-key" and source["key"] == "key"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_only_matting_pods_reach_the_segmentation_service(kustomization):
    documents = RENDERED[kustomization]
    policy = keyed(documents)["NetworkPolicy", "segmentation"]["spec"]
    deployments = {d["metadata"]["name"]: d for d in by_kind(documents, "Deployment")}
    labels = {name: d["spec"]["template"]["metadata"]["labels"]
              for name, d in deployments.items()}
    assert policy["podSelector"]["matchLabels"].items() <= labels["segmentation"].items()
    assert policy["policyTypes"] == ["Ingress"]
    [rule] = policy["ingress"]
    [source] = rule["from"]
    allowed = source["podSelector"]["matchLabels"]
    assert allowed.items() <= labels["matting"].items()
    assert not allowed.items() <= labels["segmentation"].items()
    assert [port["port"] for port in rule["ports"]] == ["http"]


def test_the_image_and_the_deployments_run_the_readme_command():
    commands = readme_commands()
    assert set(commands) == {"segmentation_api", "matting_api"}
    assert json.loads(containerfile_instruction("CMD")) == commands["segmentation_api"]
    for documents in RENDERED.values():
        for _, container in serving(documents):
            assert container["command"] == commands[app_module(container)]


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_pods_run_as_the_images_non_root_user(kustomization):
    user = int(containerfile_instruction("USER").split(":")[0])
    assert user != 0
    for deployment in by_kind(RENDERED[kustomization], "Deployment"):
        context = deployment["spec"]["template"]["spec"]["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == user


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_settings_are_ones_the_services_read_and_threads_follow_the_cpu_request(kustomization):
    known = ({f.name.upper() for f in (*fields(Settings), *fields(ServiceSettings))}
             | GUNICORN_SETTINGS)
    for _, container in serving(RENDERED[kustomization]):
        env = environment(container)
        assert set(env) <= known
        load_service_settings(environ={k: e["value"] for k, e in env.items() if "value" in e})
        threads = env["THREADS"]["valueFrom"]["resourceFieldRef"]
        assert threads["containerName"] == container["name"]
        assert threads["resource"] == "requests.cpu"
        requests, limits = container["resources"]["requests"], container["resources"]["limits"]
        assert _bytes(requests["memory"]) < _bytes(limits["memory"]), "room above the peak"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_weights_are_fetched_by_the_init_container_where_the_settings_point(kustomization):
    for deployment, container in serving(RENDERED[kustomization]):
        pod = deployment["spec"]["template"]["spec"]
        fetched = {}  # file path -> volume, for each file an init container fetches
        for init in pod["initContainers"]:
            command = init["command"]
            assert command[:4] == ["python", "-m", "background_replacement.models", "fetch"]
            folder = command[command.index("--dir") + 1]
            volume = next(m["name"] for m in init["volumeMounts"] if m["mountPath"] == folder)
            fetched[f"{folder}/{CATALOG[command[4]].filename}"] = volume
        for name, weights in WEIGHTS_SETTINGS.items():
            if name in environment(container):
                path = environment(container)[name]["value"]
                assert Path(path).name == weights.filename
                mount = next(m for m in container["volumeMounts"]
                             if m["name"] == fetched[path])
                assert path.startswith(mount["mountPath"] + "/")


def test_gpu_overlay_asks_for_a_gpu_and_uses_it():
    for deployment, container in serving(RENDERED["gpu"]):
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert environment(container)["DEVICE"]["value"] == "cuda"
        pod = deployment["spec"]["template"]["spec"]
        assert pod["nodeSelector"] and pod["tolerations"]
        assert all(c["image"].endswith(":cuda") for c in containers(deployment))


def _bytes(quantity: str) -> int:
    """A Kubernetes memory quantity in binary units (``1536Mi``, ``2Gi``) as bytes."""
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", quantity).groups()
    return int(number) * 1024 ** ("KiMiGi".index(unit) // 2 + 1)
