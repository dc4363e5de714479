"""Import rules of the tree, read from the source (imports inside functions included).

* The library (`shared/`, the package `streamstash`) never imports a service (`streamstash.services`):
  services build on the library, and the CLI's service commands live above both (`services/cli.py`).
* No two modules import each other, directly or round a circle, so each can be read and tested without
  the others being half-initialised. The bench scripts (`bench/`, importing each other by bare name) too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The pyproject `package-dir` mapping: package prefix -> directory.
PACKAGES = {"streamstash": ROOT / "shared", "streamstash.services": ROOT / "services"}
SERVICES = "streamstash.services"
BENCH = ROOT / "bench"


def modules() -> dict[str, Path]:
    found = {}
    for prefix, directory in PACKAGES.items():
        for path in directory.rglob("*.py"):
            parts = list(path.relative_to(directory).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([prefix, *parts])] = path
    return found


def bench_scripts() -> dict[str, Path]:
    return {path.stem: path for path in BENCH.glob("*.py")}


def imported_names(name: str, path: Path) -> set[str]:
    """Every module name an import statement of the file names (relative imports resolved)."""
    names: set[str] = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    known = {**modules(), **bench_scripts()}
    return {name: (imported_names(name, path) & set(known)) - {name} for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_library_never_imports_a_service() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_names(module, path) if name.startswith(SERVICES))
        for module, path in modules().items()
        if not module.startswith(SERVICES)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_rules_see_lazy_imports_and_cycles(tmp_path: Path) -> None:
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def later():\n    from streamstash.services.parser import logic\n", encoding="utf-8")
    assert "streamstash.services.parser" in imported_names("streamstash.lazy", lazy)
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
