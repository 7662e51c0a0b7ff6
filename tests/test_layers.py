"""The layers stay apart: the core speaks no HTTP, and the client uses the core, never a
service's internals."""

import ast
import json
import subprocess
import sys
from pathlib import Path

from testing.launcher import ROOT

HTTP_MODULES = ("flask", "werkzeug", "requests")
SERVICES = ("matting_api", "segmentation_api", "service_common")


def modules_loaded_by(code: str) -> set[str]:
    """The top-level names in ``sys.modules`` after a fresh interpreter runs ``code``."""
    script = (f"{code}\nimport json, sys\n"
              "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_core_imports_no_http_library():
    # Every module of the core, backends included (PyTorch, MediaPipe, pymatting).
    loaded = modules_loaded_by(
        "import pkgutil, importlib, background_replacement as core\n"
        "for info in pkgutil.walk_packages(core.__path__, 'background_replacement.'):\n"
        "    importlib.import_module(info.name)\n")
    assert "background_replacement" in loaded and "torch" in loaded
    assert not loaded & {*HTTP_MODULES, *SERVICES}


def test_the_python_api_does_not_load_pytorch_until_a_backend_needs_it():
    loaded = modules_loaded_by("import background_replacement")
    assert "torch" not in loaded and not loaded & {*HTTP_MODULES, *SERVICES}


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
    assert {"matting_client.py", "video.py", "backdrops.py", "video.ipynb"} <= set(sources)
    for name, source in sources.items():
        used = {module.split(".")[0] for module in imported_names(source)}
        assert not used & {"matting_api", "segmentation_api"}, name
    loaded = modules_loaded_by("import " + ", ".join(
        f"client.{Path(name).stem}" for name in sources if name.endswith(".py")))
    assert not loaded & set(SERVICES)
