"""No two modules import each other, directly or around a loop, at module level (type-only
imports included): a loop means a shared type lives in the wrong module. Imports inside
functions are lazy by design and left out; so are packages' ``__init__`` facades, whose
re-exports load on first use."""

from __future__ import annotations

import ast
from pathlib import Path

import mlops_guard

ROOT = Path(mlops_guard.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level_imports(path: Path) -> set[str]:
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes: list[ast.stmt] = []
    for node in tree.body:
        # `if TYPE_CHECKING:` blocks count: a type-only loop is still a misplaced type.
        nodes.extend(node.body if isinstance(node, ast.If) else [node])
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    files = {p: _module_name(p) for p in ROOT.rglob("*.py")}
    facades = {name for p, name in files.items() if p.name == "__init__.py"}
    modules = set(files.values()) - facades
    return {
        name: {m for m in _module_level_imports(path) if m in modules and m != name}
        for path, name in files.items()
        if name in modules
    }


def _loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return loops


def test_the_graph_sees_the_imports() -> None:
    graph = _graph()
    assert "mlops_guard.drift._kinds" in graph["mlops_guard.drift._engine"]
    assert graph["mlops_guard.monitors._stragglers"] >= {"mlops_guard.monitors._alerts"}


def test_no_module_level_import_loops() -> None:
    assert _loops(_graph()) == []
