"""Imports point down the layers (docs: /work/shared/DESIGN.md, README "How it works").

Read with ast from the source, so a violation fails here before it becomes a circle:

    composition   app, cli, manage, ingest, settings, __main__, ops/ (doctor, backup, service)
    transports    http/, ws/          (neither imports the other)
    people        identity/, audit/   (who is asking; the record of what they did)
    lifecycle     tasks/              (hands events to a Publisher, never to ws/)
    records       records/            (search, revisions, exports; reads beside store/)
    persistence   store/
    engine        ocr/
    vocabulary    events, errors, keys, ratelimit, __init__

Type-only imports (under `if TYPE_CHECKING:`) count for the rules between packages,
since they are dependencies all the same; they cannot make an import circle, so the
circle check and the layer order read runtime imports only. keys.py names the types
of its AppKeys for the type checker alone, which is why it sits at the bottom.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "backend" / "ocrlive"

LAYERS = {
    "composition": 7, "transports": 6, "people": 5, "lifecycle": 4, "records": 3,
    "persistence": 2, "engine": 1, "vocabulary": 0,
}  # fmt: skip


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    type_only: bool


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _resolve(source: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = source.split(".") if is_package else source.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    tree = ast.parse(path.read_text())
    typing_only = _type_checking_lines(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, path.name == "__init__.py", node)
            # `from ocrlive.ws import view` imports the module ocrlive.ws.view
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]  # fmt: skip
        else:
            continue
        found += [Import(name, t, node.lineno in typing_only) for t in targets
                  if t.startswith("ocrlive") and t != name]  # fmt: skip
    return found


def all_imports() -> list[Import]:
    found = modules()
    return [imp for name, path in found.items() for imp in imports_of(name, path, set(found))]


def layer(module: str) -> str:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top in ("app", "cli", "manage", "ingest", "settings", "__main__", "ops"):
        return "composition"
    return {
        "http": "transports",
        "ws": "transports",
        "identity": "people",
        "audit": "people",
        "tasks": "lifecycle",
        "records": "records",
        "store": "persistence",
        "ocr": "engine",
    }.get(top, "vocabulary")


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_reader_sees_the_imports_it_must_judge() -> None:
    """Guards the guard: known arrows are found, type-only ones marked as such."""
    found = {(i.source, i.target): i.type_only for i in all_imports()}
    assert found[("ocrlive.app", "ocrlive.ws.view")] is False
    assert found[("ocrlive.keys", "ocrlive.ws.services")] is True
    assert found[("ocrlive.ocr.engine", "ocrlive.ocr.documents")] is False  # relative
    assert found[("ocrlive.ops.server", "ocrlive.app")] is False  # inside a function


def test_tasks_never_import_ws() -> None:
    bad = [
        i for i in all_imports()
        if in_package(i.source, "ocrlive.tasks") and in_package(i.target, "ocrlive.ws")
    ]  # fmt: skip
    assert bad == []


def test_http_and_ws_do_not_import_each_other() -> None:
    bad = [
        i for i in all_imports()
        if (in_package(i.source, "ocrlive.http") and in_package(i.target, "ocrlive.ws"))
        or (in_package(i.source, "ocrlive.ws") and in_package(i.target, "ocrlive.http"))
    ]  # fmt: skip
    assert bad == []


def test_runtime_imports_point_down_the_layers() -> None:
    bad = [
        (i.source, i.target) for i in all_imports()
        if not i.type_only and LAYERS[layer(i.target)] > LAYERS[layer(i.source)]
    ]  # fmt: skip
    assert bad == []


def test_the_vocabulary_imports_nothing_of_ocrlive() -> None:
    bottom = {"ocrlive.events", "ocrlive.errors"}
    assert [i for i in all_imports() if i.source in bottom] == []


def test_no_module_imports_itself_through_others() -> None:
    graph: dict[str, set[str]] = {}
    for i in all_imports():
        if not i.type_only:
            graph.setdefault(i.source, set()).add(i.target)
    assert find_cycle(graph) is None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
