"""The package's imports run one way (docs/architecture.md): no import cycle, the store and
the errors free of the server and of FastAPI, the delta engine free of the server."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import evaldelta

PACKAGE = Path(evaldelta.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module a file imports, at its top or inside a function alike."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _graph() -> dict[str, set[str]]:
    """Module -> the package's own modules it imports."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {target for target in _imports(path) if target in files and target != name}
        for name, path in files.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            # A package's __init__ is imported by each of its modules: not an edge back.
            if node.startswith(target + "."):
                continue
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_no_module_imports_itself_back_through_others() -> None:
    assert _cycle(_graph()) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_imports_run_from_the_server_to_the_engine_to_the_store() -> None:
    graph = _graph()
    forbidden = {
        "evaldelta.errors": ("evaldelta.",),
        "evaldelta.store": (
            "evaldelta.server",
            "evaldelta.delta",
            "evaldelta.cli",
            "evaldelta.ingest",
        ),
        "evaldelta.ingest": ("evaldelta.server", "evaldelta.delta", "evaldelta.cli"),
        "evaldelta.delta": ("evaldelta.server", "evaldelta.cli", "evaldelta.ingest"),
        "evaldelta.server": ("evaldelta.cli", "evaldelta.bench", "evaldelta.client"),
        "evaldelta.client": ("evaldelta.server", "evaldelta.store", "evaldelta.cli"),
    }
    wrong = sorted(
        f"{module} -> {target}"
        for module in graph
        for layer, banned in forbidden.items()
        if module == layer or module.startswith(layer + ".")
        for target in _reaches(graph, module)
        if target.startswith(banned)
    )
    assert wrong == []


def test_the_stores_and_the_engine_load_without_fastapi() -> None:
    code = (
        "import sys, evaldelta.store, evaldelta.store.duckdb.store, "
        "evaldelta.store.clickhouse.store, evaldelta.ingest.writer, evaldelta.errors;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
