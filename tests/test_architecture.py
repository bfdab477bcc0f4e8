"""The package's imports follow the layer table of docs/architecture.md and form no cycle."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "paddlex_interpret"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path):
    """``(target module, at module level?)`` of every import of the package's own modules in ``path``."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [target]
            if node.module is None or target == "paddlex_interpret":  # `from . import x`: x may be a module
                targets = [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for t in targets:
            if t == "paddlex_interpret" or t.startswith("paddlex_interpret."):
                yield t, id(node) in top_level


def _graph():
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        edges[name] = []
        for target, top in _imports(path):
            while target not in modules and "." in target:  # `from pkg.mod import name`
                target = target.rsplit(".", 1)[0]
            edges[name].append((target, top))
    return modules, edges


def _layer_table():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = text.split("<!-- layers -->")[1].split("<!-- /layers -->")[0]
    layers = []
    for line in block.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        names = re.findall(r"`([^`]+)`", cells[1])
        allowed = "everything" if cells[2] == "everything" else re.findall(r"`([^`]+)`", cells[2])
        layers.append((cells[0], names, allowed))
    return layers


def _qualified(short: str) -> str:
    return short if short == "paddlex_interpret" else f"paddlex_interpret.{short}"


def _owner(module: str, layers):
    """The layer whose module prefix matches ``module`` most specifically."""
    best = None
    for layer, names, allowed in layers:
        for n in names:
            q = _qualified(n)
            if (module == q or module.startswith(q + ".")) and (best is None or len(q) > len(best[0])):
                best = (q, layer, names, allowed)
    return best


def test_layer_table_covers_every_module():
    modules, _ = _graph()
    layers = _layer_table()
    assert [l[0] for l in layers] == ["task", "evaluate", "vis", "engine", "models", "priors", "data", "base"]
    unowned = [m for m in modules if _owner(m, layers) is None]
    assert not unowned, f"modules outside the layer table of docs/architecture.md: {unowned}"


def test_every_import_respects_the_layer_table():
    modules, edges = _graph()
    layers = _layer_table()
    bad = []
    for source, targets in edges.items():
        _, layer, names, allowed = _owner(source, layers)
        for target, _ in targets:
            if allowed == "everything":
                continue
            own = any(target == _qualified(n) or target.startswith(_qualified(n) + ".") for n in names)
            ok = own or any(target == _qualified(a) or target.startswith(_qualified(a) + ".") for a in allowed)
            if target == "paddlex_interpret" and source != "paddlex_interpret":
                ok = False  # the root package only re-exports; importing it from inside is a loop
            if not ok:
                bad.append(f"{source} ({layer}) imports {target}")
    assert not bad, "imports that break docs/architecture.md's layer table:\n" + "\n".join(bad)


def _cycles(edges, top_level_only: bool):
    graph = {m: sorted({t for t, top in ts if t in edges and t != m and (top or not top_level_only)})
             for m, ts in edges.items()}
    state, stack, found = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node)
    return found


def _layer_cycles(edges, layers):
    graph = {}
    for source, targets in edges.items():
        ls = _owner(source, layers)[1]
        for target, _ in targets:
            lt = _owner(target, layers)[1]
            if lt != ls:
                graph.setdefault(ls, set()).add(lt)
    return [(a, b) for a, bs in graph.items() for b in bs if a in graph.get(b, set())]


def test_no_import_cycles():
    modules, edges = _graph()
    # Module-level imports: a cycle here breaks `import` in some orders.
    cycles = _cycles(edges, top_level_only=True)
    assert not cycles, "module-level import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)
    # All imports, lazy ones included, between layers: the layers form a hierarchy.
    assert not _layer_cycles(edges, _layer_table())


def test_the_checks_catch_a_violation(tmp_path, monkeypatch):
    """The walker really sees imports: an engine module importing an adapter is flagged."""
    layers = _layer_table()
    _, layer, names, allowed = _owner("paddlex_interpret.engine.lime.lime_image", layers)
    assert layer == "engine"
    target = "paddlex_interpret.models.paddle_layer"
    assert not any(target.startswith(_qualified(a)) for a in allowed)
    edges = {"a": [("b", True)], "b": [("a", True)]}
    assert _cycles(edges, top_level_only=True)
    source = PACKAGE / "engine" / "lime" / "lime_image.py"
    found = dict((t, top) for t, top in _imports(source))
    assert "paddlex_interpret.models.base" in found and found["paddlex_interpret.models.base"]


@pytest.mark.parametrize("name", ["text", "engine/lime/segmentation.py"])
def test_old_homes_are_gone(name):
    assert not (PACKAGE / name).exists()
