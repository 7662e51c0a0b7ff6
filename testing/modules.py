"""The project's own modules, read from the checkout: their names (as installed, under the
``background_replacement`` namespace) and the project modules each one imports."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from testing.launcher import ROOT

NAMESPACE = "background_replacement"


def package_folders() -> dict[str, Path]:
    """Each installed package's folder in the checkout, from pyproject.toml's package-dir."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = {name: ROOT / folder for name, folder in setuptools["package-dir"].items()}

    def folder(name: str) -> Path:
        """A package's folder: its own mapping, else its parent's folder and its last name."""
        if name in mapped:
            return mapped[name]
        parent, _, last = name.rpartition(".")
        return folder(parent) / last if parent else ROOT / name

    return {name: folder(name) for name in setuptools["packages"]}


def module_files() -> dict[str, Path]:
    """Every project module's file, by its installed dotted name."""
    files = {}
    for package, folder in package_folders().items():
        for path in folder.glob("*.py"):
            files[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return files


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules that module ``name`` (file ``path``) imports anywhere in it, also
    inside functions and under ``TYPE_CHECKING``."""
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in known and target != name)
    return found


def import_graph() -> dict[str, set[str]]:
    """For each project module, the project modules it imports."""
    files = module_files()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)
