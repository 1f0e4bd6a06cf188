"""The import graph of kinmatch: no cycles, no private names taken from another module.

Read from the source with ``ast`` (every ``import`` statement, including those inside functions),
so a cycle that only closes at call time is caught as well as one that breaks import.
"""

import ast
import importlib.util
import pkgutil
from pathlib import Path

import kinmatch

# Allow-lists, empty: an entry would name a cycle (a set of modules) or a private name taken from
# another module (importing module, imported-from module, name) that is known and being removed.
KNOWN_CYCLES: list[set[str]] = []
KNOWN_PRIVATE_IMPORTS: set[tuple[str, str, str]] = set()


def _modules() -> dict[str, Path]:
    modules = {"kinmatch": Path(kinmatch.__file__)}
    for info in pkgutil.walk_packages(kinmatch.__path__, "kinmatch."):
        spec = importlib.util.find_spec(info.name)
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            modules[info.name] = Path(spec.origin)
    return modules


MODULES = _modules()


def _package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = _package_of(module)
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    return f"{base}.{node.module}" if node.module else base


def _imports(module: str):
    """(imported module, the aliases taken from it or None, the alias of a plain import) per import."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, alias
        elif isinstance(node, ast.ImportFrom):
            yield _absolute(module, node), list(node.names), None


def _edges(module: str) -> set[str]:
    """kinmatch modules ``module`` imports (a submodule named in ``from package import name``
    counts as that submodule; parent packages imported implicitly do not count)."""
    targets = set()
    for target, names, _ in _imports(module):
        if not target.startswith("kinmatch"):
            continue
        if names is None:
            targets.add(target)
            continue
        for alias in names:
            submodule = f"{target}.{alias.name}"
            targets.add(submodule if submodule in MODULES else target)
    targets.discard(module)
    return {t for t in targets if t in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_is_seen():
    assert {"kinmatch.normalize.names", "kinmatch.normalize.phonetics", "kinmatch.match.engine"} <= set(MODULES)
    assert "kinmatch.normalize.phonetics" in _edges("kinmatch.normalize.names")


def test_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [{"a", "b", "c"}]


def test_no_import_cycles():
    graph = {module: _edges(module) for module in MODULES}
    cycles = _cycles(graph)
    unexpected = [sorted(c) for c in cycles if c not in KNOWN_CYCLES]
    assert not unexpected, f"import cycles among kinmatch modules: {unexpected}"
    # an allow-list entry whose cycle is gone must be removed, so the list only shrinks
    stale = [sorted(c) for c in KNOWN_CYCLES if c not in cycles]
    assert not stale, f"these cycles are gone; remove them from KNOWN_CYCLES: {stale}"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_uses(module: str) -> set[tuple[str, str, str]]:
    """(module, other kinmatch module, private name) for ``from kinmatch.x import _y`` (``_y`` not a
    module) and for ``x._y`` where ``x`` is bound to another kinmatch module by an import."""
    uses = set()
    bound: dict[str, str] = {}  # local name → kinmatch module it is bound to
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for target, names, alias in _imports(module):
        if not target.startswith("kinmatch"):
            continue
        if names is None:
            if alias.asname:
                bound[alias.asname] = target
            else:
                bound.setdefault("kinmatch", "kinmatch")
            continue
        for name in names:
            submodule = f"{target}.{name.name}"
            if submodule in MODULES:
                bound[name.asname or name.name] = submodule
            elif _private(name.name) and target != module:
                uses.add((module, target, name.name))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not _private(node.attr):
            continue
        dotted = _dotted(node.value)
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        if head not in bound:
            continue
        owner = bound[head] + (f".{rest}" if rest else "")
        if owner in MODULES and owner != module and f"{owner}.{node.attr}" not in MODULES:
            uses.add((module, owner, node.attr))
    return uses


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def test_private_use_finder_sees_both_forms(tmp_path, monkeypatch):
    source = tmp_path / "probe.py"
    source.write_text("from kinmatch.normalize.records import _by_distinct\n"
                      "from kinmatch.normalize import names\n"
                      "import kinmatch.normalize.phonetics as ph\n"
                      "def f():\n    return names._parse_cached, ph.name_keys, ph._name_keys\n", encoding="utf-8")
    monkeypatch.setitem(MODULES, "kinmatch.probe", source)
    assert _private_uses("kinmatch.probe") == {
        ("kinmatch.probe", "kinmatch.normalize.records", "_by_distinct"),
        ("kinmatch.probe", "kinmatch.normalize.names", "_parse_cached"),
        ("kinmatch.probe", "kinmatch.normalize.phonetics", "_name_keys"),
    }


def test_no_private_names_imported_across_modules():
    uses = set().union(*(_private_uses(module) for module in MODULES))
    unexpected = sorted(uses - KNOWN_PRIVATE_IMPORTS)
    assert not unexpected, ("private names used from another kinmatch module (promote them to a public "
                            f"name in the module they belong to): {unexpected}")
    stale = sorted(KNOWN_PRIVATE_IMPORTS - uses)
    assert not stale, f"these private imports are gone; remove them from KNOWN_PRIVATE_IMPORTS: {stale}"
    assert not [use for use in KNOWN_PRIVATE_IMPORTS if use[0].startswith("kinmatch.normalize")]
