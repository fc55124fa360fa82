"""The package's imports run one way: no cycle, no layer importing a later one.

The layer table is ``skconn._layers.LAYERS`` (shown in ``docs/architecture.rst``). Every
import counts, also those inside functions (they run too, and hide a circle only until
someone moves them up).
"""

import ast
import pkgutil
from pathlib import Path

import pytest

import skconn
from skconn._layers import LAYERS, MAX_MODULE_LINES

ROOT = Path(skconn.__file__).parent

#: Module cycles another change is removing; each with its reason. Empty this set as
#: they are fixed: the test then keeps them out.
KNOWN_CYCLES: set[tuple[str, str]] = set()

#: Layer-rule violations another change is removing, as (importer, imported package).
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()

#: Modules over MAX_MODULE_LINES without a reason, being split by other changes.
KNOWN_LONG_MODULES: set[str] = set()


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of skconn: dotted name -> (file, is a package)."""
    found = {"skconn": (ROOT / "__init__.py", True)}
    for info in pkgutil.walk_packages([str(ROOT)], prefix="skconn."):
        parts = info.name.split(".")[1:]
        path = ROOT.joinpath(*parts)
        found[info.name] = ((path / "__init__.py", True) if info.ispkg
                            else (path.with_suffix(".py"), False))
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """The skconn modules ``name`` imports (anywhere in its code)."""
    path, is_package = MODULES[name]
    package = name if is_package else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets.add(target)
            # "from . import x" / "from .pkg import mod": the submodule itself
            targets.update(f"{target}.{a.name}" for a in node.names
                           if f"{target}.{a.name}" in MODULES)
    return {t for t in targets if t in MODULES and t != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _entry(name: str) -> tuple[int, str]:
    """(layer index, package of the table) of a module: the longest entry naming it."""
    best = None
    for index, (_, members) in enumerate(LAYERS):
        for member in members:
            exact = name == member
            inside = member != "skconn" and name.startswith(member + ".")
            if (exact or inside) and (best is None or len(member) > len(best[1])):
                best = (index, member)
    return best


def _is_subpackage(name: str) -> bool:
    return name != "skconn" and MODULES[name][1]


def test_every_module_has_a_layer():
    missing = sorted(name for name in MODULES if _entry(name) is None)
    assert not missing, f"add these modules to skconn/_layers.py LAYERS: {missing}"


def test_no_layer_imports_a_later_one():
    bad = set()
    for name, targets in GRAPH.items():
        layer, package = _entry(name)
        for target in targets:
            target_layer, target_package = _entry(target)
            later = target_layer > layer
            sideways = (target_layer == layer and target_package != package
                        and _is_subpackage(package) and _is_subpackage(target_package))
            if later or sideways:
                bad.add((name, target_package))
    unexpected = sorted(bad - KNOWN_VIOLATIONS)
    names = [layer for layer, _ in LAYERS]
    assert not unexpected, "imports against the layers " + " -> ".join(names) + ": " + ", ".join(
        f"{a} imports {b}" for a, b in unexpected)
    assert not (KNOWN_VIOLATIONS - bad), "fixed: remove from KNOWN_VIOLATIONS"


def _cycles() -> set[tuple[str, ...]]:
    """Every strongly connected group of modules (Tarjan), as a sorted tuple."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), set()

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.add(tuple(sorted(group)))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycle():
    cycles = _cycles()
    unexpected = sorted(cycles - KNOWN_CYCLES)
    assert not unexpected, f"modules importing each other (in a circle): {unexpected}"
    assert not (KNOWN_CYCLES - cycles), "fixed: remove from KNOWN_CYCLES"


def test_the_graph_sees_imports_inside_functions_and_relative_forms():
    # the checks above are only as good as the graph: these edges exist in the code
    assert "skconn.metrics._core" in GRAPH["skconn.metrics._report"]  # from ._core import
    assert "skconn.metrics._groups" in GRAPH["skconn.metrics._report"]  # from ._groups import
    assert "skconn.plotting" in GRAPH["skconn.benchmark._job"]  # inside a function
    assert "skconn.cli" in GRAPH["skconn.__main__"]


def _long_modules() -> set[str]:
    long = set()
    for name, (path, _) in MODULES.items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "long because" not in doc.lower():
                long.add(name)
    return long


def test_no_module_is_long_without_saying_why():
    long = _long_modules()
    unexpected = sorted(long - KNOWN_LONG_MODULES)
    assert not unexpected, (f"over {MAX_MODULE_LINES} lines without 'Long because ...' in the "
                            f"module docstring: {unexpected}")
    assert not (KNOWN_LONG_MODULES - long), "split or explained: remove from KNOWN_LONG_MODULES"


@pytest.mark.parametrize("layer", [layer for layer, _ in LAYERS])
def test_the_architecture_page_names_every_layer(layer):
    page = (ROOT.parent / "docs" / "architecture.rst").read_text(encoding="utf-8")
    assert "literalinclude:: ../skconn/_layers.py" in page
    assert f"``{layer}``" in page
