"""The package layout: no run-time import cycles, and modules a reader takes in at one sitting.

Imports inside functions count (they run too, only later); imports under ``if TYPE_CHECKING:``
do not. An import of a parent package's own module (``from bp_helper import log``) is an edge
to that module; the implicit import of a parent package is not (Python always runs it first).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"bp_helper": ROOT / "bp_helper", "bp_helper_integrations": ROOT / "integrations"}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [name, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``tree`` imports at run time."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for statement in node.orelse:
                visit(statement)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:  # a submodule, or else a name of the module itself
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return (found & known) - {module}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: _imports(ast.parse(path.read_text()), name, path.name == "__init__.py", set(modules))
        for name, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    source = "def f():\n    from . import x, name\nif TYPE_CHECKING:\n    import p.y\n"
    modules = _imports(ast.parse(source), "p.m", False, {"p", "p.m", "p.x", "p.y"})
    assert modules == {"p", "p.x"}


def test_no_module_is_over_the_line_budget() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in _modules().values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


# What each layer may not import at run time: lower layers know nothing of higher ones.
FORBIDDEN = {
    "bp_helper.config": ("bp_helper.engine", "bp_helper.route"),
    "bp_helper.secrets": ("bp_helper.engine", "bp_helper.route"),
    "bp_helper.engine": ("bp_helper.route",),
}
FRONT_ENDS = ("commands", "protocols", "library", "demo")
for _lower in ("config", "secrets", "engine"):
    FORBIDDEN[f"bp_helper.{_lower}"] += tuple(f"bp_helper.{name}" for name in FRONT_ENDS)
FORBIDDEN["bp_helper.tokens"] = tuple(FORBIDDEN["bp_helper.config"])
FORBIDDEN["bp_helper_integrations"] = ("bp_helper.commands",)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _against_the_layers(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) for every run-time import :data:`FORBIDDEN` rules out."""
    return sorted(
        (module, imported)
        for module, imports in graph.items()
        for layer, banned in FORBIDDEN.items()
        if _within(module, layer)
        for imported in imports
        if any(_within(imported, b) for b in banned)
    )


def test_lower_layers_import_no_higher_one() -> None:
    assert _against_the_layers(_graph()) == []


def test_the_layer_check_finds_an_import_against_the_layers() -> None:
    graph = {
        "bp_helper.config.profiles": {"bp_helper.engine.service", "bp_helper.config.hosts"},
        "bp_helper.secrets.report": {"bp_helper.engine.store"},
        "bp_helper.engine.client": {"bp_helper.protocols.wire"},
        "bp_helper_integrations.curl": {"bp_helper.commands.formatting", "bp_helper.route"},
        "bp_helper.commands.account": {"bp_helper.engine.service", "bp_helper.route"},
        "bp_helper.route": {"bp_helper.engine.service"},
    }
    assert _against_the_layers(graph) == [
        ("bp_helper.config.profiles", "bp_helper.engine.service"),
        ("bp_helper.engine.client", "bp_helper.protocols.wire"),
        ("bp_helper.secrets.report", "bp_helper.engine.store"),
        ("bp_helper_integrations.curl", "bp_helper.commands.formatting"),
    ]
