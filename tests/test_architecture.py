"""The shape of the package, checked: no import cycles, a short procedure, one error tree, no
private API of a dependency. `python tests/test_architecture.py` prints the module map."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cancelbot"


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Every import between cancelbot's modules, wherever it stands: at the top, inside a
    function, or under `if TYPE_CHECKING:` (a cycle there is still a cycle for a reader)."""
    mods = modules()
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                           for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph[name].update(t for t in targets if t in mods and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_among_cancelbot_modules():
    assert cycles(import_graph()) == []


def test_the_procedure_reads_in_one_sitting():
    lines = (PACKAGE / "procedure.py").read_text(encoding="utf-8").count("\n")
    assert lines <= 300, f"procedure.py has {lines} lines"


def test_every_exception_class_lives_in_errors_and_in_its_tree():
    errors = (PACKAGE / "errors.py").read_text(encoding="utf-8")
    tree = ast.get_docstring(ast.parse(errors)) or ""
    defined = {node.name for node in ast.walk(ast.parse(errors)) if isinstance(node, ast.ClassDef)}
    for name, path in modules().items():
        if name.startswith("cancelbot.sandbox"):
            continue  # the simulated servers' own exceptions stay inside the sandbox
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception"))
                                             or b.id in defined) for b in node.bases
            ):
                assert name == "cancelbot.errors", f"{node.name} is defined in {name}"
    for name in defined - {"ExitCode"}:
        assert re.search(rf"\b{name}\b", tree), f"{name} is missing from the tree in errors.py"


def test_no_private_api_of_typer_or_click():
    private = re.compile(r"\b(typer|click)(\.\w+)*\._\w+")
    for name, path in modules().items():
        assert not private.search(path.read_text(encoding="utf-8")), name


if __name__ == "__main__":
    graph = import_graph()
    for module in sorted(graph):
        short = sorted(m.removeprefix("cancelbot.") for m in graph[module])
        size = modules()[module].read_text(encoding="utf-8").count("\n")
        print(f"{module.removeprefix('cancelbot.') or 'cancelbot'} ({size} lines) -> "
              f"{', '.join(short) or '-'}")
    print("cycles:", cycles(graph) or "none")
    sys.exit(0)
