"""deploy/'s manifests as Python data: what ``kubectl kustomize`` makes of them, written out for
the few kustomize features they use (so no binary is needed), and accessors for their parts."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from testing.launcher import ROOT

DEPLOY = ROOT / "deploy"
KUSTOMIZATIONS = {"base": DEPLOY / "base", "gpu": DEPLOY / "overlays" / "gpu"}


def json_patch(document: dict, operations: list[dict]) -> None:
    """Apply RFC 6902 ``add`` and ``replace`` operations to ``document`` in place."""
    for operation in operations:
        if operation["op"] not in ("add", "replace"):
            raise NotImplementedError(f"JSON patch op {operation['op']!r}")
        *parents, last = [part.replace("~1", "/").replace("~0", "~")
                          for part in operation["path"].split("/")[1:]]
        node = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        value = copy.deepcopy(operation["value"])
        if isinstance(node, list) and last == "-":
            node.append(value)
        elif isinstance(node, list) and operation["op"] == "add":
            node.insert(int(last), value)
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value


def containers(document: dict) -> list[dict]:
    """Every container and init container of a Deployment (none for other kinds)."""
    if document["kind"] != "Deployment":
        return []
    pod = document["spec"]["template"]["spec"]
    return pod.get("initContainers", []) + pod["containers"]


def set_images(documents: list[dict], images: list[dict]) -> None:
    """kustomize's ``images``: a new name and/or tag for each container image named."""
    for rule in images:
        if set(rule) - {"name", "newName", "newTag"}:
            raise NotImplementedError(f"images entry {rule}")
        for container in (c for d in documents for c in containers(d)):
            name, _, tag = container["image"].partition(":")
            if name == rule["name"]:
                container["image"] = f"{rule.get('newName', name)}:{rule.get('newTag', tag)}"


def render(directory: Path) -> list[dict]:
    """What ``kubectl kustomize DIRECTORY`` makes of these kustomizations: ``resources`` (files
    or kustomizations), ``images``, and JSON patches targeted by kind and name."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(spec) - {"apiVersion", "kind", "resources", "images", "patches"}
    if unknown:
        raise NotImplementedError(f"{directory}: kustomization fields {unknown}")
    documents: list[dict] = []
    for entry in spec.get("resources", []):
        path = (directory / entry).resolve()
        documents += render(path) if path.is_dir() else [
            d for d in yaml.safe_load_all(path.read_text()) if d]
    set_images(documents, spec.get("images", []))
    for patch in spec.get("patches", []):
        if set(patch["target"]) - {"kind", "name"}:
            raise NotImplementedError(f"patch target {patch['target']}")
        operations = yaml.safe_load((directory / patch["path"]).read_text())
        for document in documents:
            if all(document[k] == v if k == "kind" else document["metadata"][k] == v
                   for k, v in patch["target"].items()):
                json_patch(document, operations)
    return documents


def by_kind(documents: list[dict], kind: str) -> list[dict]:
    return [d for d in documents if d["kind"] == kind]


def keyed(documents: list[dict]) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


# remove-background-services, as the manifests run it
SERVICES_COMMAND = ["python", "-m", "background_replacement.service_common.serve"]


def app_module(container: dict) -> str:
    """The package a container serves: ``segmentation_api`` or ``matting_api``, under gunicorn
    or under ``remove-background-services --only NAME`` (the service behind its front)."""
    command = container["command"]
    if command[:3] == SERVICES_COMMAND:
        return command[command.index("--only") + 1] + "_api"
    return command[-1].split(":")[0].removeprefix("background_replacement.")


def environment(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def serving(documents: list[dict]) -> list[tuple[dict, dict]]:
    """(Deployment, its serving container) for each Deployment."""
    return [(d, d["spec"]["template"]["spec"]["containers"][0])
            for d in by_kind(documents, "Deployment")]


RENDERED = {name: render(path) for name, path in KUSTOMIZATIONS.items()}
