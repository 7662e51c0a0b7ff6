"""The layers stay apart: the core speaks no HTTP, and the client uses the core, never a
service's internals."""

import ast
import json
import subprocess
import sys
from pathlib import Path

from testing.launcher import ROOT
from testing.modules import NAMESPACE, cycles, import_graph, module_files, package_folders

HTTP_MODULES = ("flask", "werkzeug", "requests")
# The HTTP edge: the services and what they share.
SERVICES = tuple(f"{NAMESPACE}.{name}" for name in ("matting_api", "segmentation_api",
                                                     "service_common"))
# Layers over the core, each its own subpackage of the namespace.
OUTER = (*SERVICES, f"{NAMESPACE}.client", f"{NAMESPACE}.batch")


def modules_loaded_by(code: str) -> set[str]:
    """The modules in ``sys.modules`` after a fresh interpreter runs ``code``: the project's by
    full name, others by their top-level name."""
    script = (f"{code}\nimport json, sys\n"
              f"print(json.dumps(sorted(m if m.startswith('{NAMESPACE}.') else m.split('.')[0] "
              "for m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def within(loaded: set[str], packages: tuple[str, ...]) -> set[str]:
    """The modules of ``loaded`` that belong to one of ``packages``."""
    return {name for name in loaded
            if any(name == package or name.startswith(f"{package}.") for package in packages)}


def core_modules() -> list[str]:
    """Every module of the core: the namespace less the layers over it."""
    return sorted(name for name in module_files() if not within({name}, OUTER))


def test_the_core_imports_no_http_library():
    # Every module of the core, backends included (PyTorch, MediaPipe, pymatting).
    core = core_modules()
    assert f"{NAMESPACE}.segmenters.pose" in core and f"{NAMESPACE}.models" in core
    loaded = modules_loaded_by("import importlib\n"
                               f"for name in {core!r}: importlib.import_module(name)")
    assert NAMESPACE in loaded and "torch" in loaded
    assert not loaded & set(HTTP_MODULES) and not within(loaded, OUTER)


def test_the_python_api_does_not_load_pytorch_until_a_backend_needs_it():
    loaded = modules_loaded_by(f"import {NAMESPACE}")
    assert "torch" not in loaded and not loaded & set(HTTP_MODULES)
    assert not within(loaded, OUTER)


def test_no_import_cycle_among_the_project_modules():
    """Type-only imports and imports inside functions count: each is an edge."""
    graph = import_graph()
    assert len(graph) > 50 and f"{NAMESPACE}.settings" in graph[f"{NAMESPACE}.api"]
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_project_imports_itself_through_its_namespace():
    """A folder of the checkout imported by its bare name (``import client``) would be a second
    copy of the module and a generic name at the top of site-packages."""
    bare = {name.removeprefix(f"{NAMESPACE}.") for name in package_folders()} - {NAMESPACE}
    for name, path in module_files().items():
        used = {module.split(".")[0] for module in imported_names(path.read_text())}
        assert not used & bare, (name, used & bare)


def test_the_configured_packages_are_every_package_folder():
    folders = {folder.resolve() for folder in package_folders().values()}
    found = {path.parent.resolve() for path in ROOT.glob("**/__init__.py")
             if not path.is_relative_to(ROOT / ".venv")
             and path.parent.relative_to(ROOT).parts[0] not in ("tests", "bench", "testing",
                                                                 "scripts", "out")}
    assert found == folders


def imported_names(source: str) -> set[str]:
    """Every module named in the import statements of ``source``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def client_sources() -> dict[str, str]:
    """The client's Python files and its notebook's code cells, by name."""
    folder = ROOT / "client"
    sources = {path.name: path.read_text() for path in folder.glob("*.py")}
    for notebook in folder.glob("*.ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        sources[notebook.name] = "\n".join("".join(cell["source"]) for cell in cells
                                           if cell["cell_type"] == "code")
    return sources


def test_the_client_imports_nothing_from_the_services():
    sources = client_sources()
    assert {"matting_client.py", "video.py", "service_matting.py", "video.ipynb"} <= set(sources)
    for name, source in sources.items():
        assert not within(imported_names(source), SERVICES[:2]), name  # not the services
    loaded = modules_loaded_by("import " + ", ".join(
        f"{NAMESPACE}.client.{Path(name).stem}" for name in sources if name.endswith(".py")))
    # What a client and the services agree on (ports, the key's header) is all it reads of them.
    protocol = {f"{NAMESPACE}.service_common", f"{NAMESPACE}.service_common.protocol"}
    assert f"{NAMESPACE}.service_common.protocol" in loaded
    assert within(loaded, SERVICES) <= protocol


def test_batch_imports_neither_the_services_nor_the_client():
    batch = [name for name in module_files()
             if within({name}, (f"{NAMESPACE}.batch",)) and not name.endswith("__main__")]
    assert f"{NAMESPACE}.batch.worker" in batch
    loaded = modules_loaded_by("import importlib\n"
                               f"for name in {batch!r}: importlib.import_module(name)")
    assert not within(loaded, (*SERVICES, f"{NAMESPACE}.client"))
