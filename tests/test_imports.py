"""The import graph, read from the source (ast), not by importing anything (issue 14).

Every import counts, at module level or inside a function: a function-level import is still a
dependency, and hiding one there to dodge a cycle is what these checks are for.

- No cycle between the modules of broker_core.
- No cycle between the playground's apps. An app is a subpackage of playground (rooms, library,
  kafka, links, management, migrations); each top-level module of playground (views, urls,
  consumers, routing, presenter, jsontext ...) is a node of its own, because they are not one
  layer: urls and views sit above the apps, consumers.py beside them, clientaddr, presenter and
  jsontext below them. Imports inside one app may cycle (the app is one unit); an import of
  broker_core, Django or anything outside playground is not an edge.
- No class in broker_core built from mixins: a class with two or more bases of which one is a
  broker_core class (`Cluster(Replication, Clients)`). Exceptions, named tuples and other
  single-base classes pass; the model composes objects instead.
"""

import ast
import collections
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules(package: str) -> dict[str, Path]:
    """Dotted name -> file, for every module of `package` (a package is its __init__)."""
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: dict) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, resolved to the longest name in
    `known` (``from a.b import c`` is a.b.c when that is a module, else a.b)."""
    is_package = path.name == "__init__.py"
    found = []

    def add(target: str, line: int) -> None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target:
            found.append((target, line))

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            for alias in node.names:
                add(f"{module}.{alias.name}", node.lineno)
    return found


def _graph(package: str, node_of) -> dict[str, dict[str, str]]:
    """node -> {node it imports: "module:line imports target"}, one example per edge."""
    known = _modules(package)
    # A C extension built in place (broker_core/_murmur2.c) is a module that imports nothing:
    # a target of edges, never a source.
    targets = set(known) | {".".join(c.relative_to(ROOT).with_suffix("").parts)
                            for c in (ROOT / package).rglob("*.c")}
    graph: dict[str, dict[str, str]] = collections.defaultdict(dict)
    for name, path in known.items():
        source = node_of(name)
        if source is None:
            continue
        for target, line in _imports(name, path, targets):
            dest = node_of(target)
            if dest is not None and dest != source:
                graph[source].setdefault(dest, f"{name}:{line} imports {target}")
    return graph


def _cycle(graph: dict[str, dict[str, str]]) -> list[str] | None:
    """One cycle of the graph as the edges that make it (their examples), or None."""
    for start in sorted(graph):
        # Breadth first from start's successors back to start: a shortest cycle through it.
        came_from = {}
        queue = collections.deque([start])
        while queue:
            node = queue.popleft()
            for nxt in sorted(graph.get(node, {})):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    path.reverse()
                    hops = list(zip(path, path[1:] + [start], strict=True))
                    return [graph[a][b] for a, b in hops]
                if nxt not in came_from:
                    came_from[nxt] = node
                    queue.append(nxt)
    return None


def _app(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "playground" or len(parts) == 1:
        return None  # outside playground, or its empty __init__
    if (ROOT / "playground" / parts[1]).is_dir():
        return f"playground.{parts[1]}"
    return module


def _fail_with_cycle(what: str, cycle: list[str] | None) -> None:
    assert cycle is None, f"an import cycle {what}:\n  " + "\n  ".join(cycle)


def test_broker_core_has_no_import_cycle():
    _fail_with_cycle("inside broker_core",
                     _cycle(_graph("broker_core", lambda name: name)))


def test_the_playground_apps_import_each_other_one_way():
    _fail_with_cycle("between playground apps", _cycle(_graph("playground", _app)))


def test_no_broker_core_class_is_built_from_mixins():
    trees = {path: ast.parse(path.read_text(), str(path))
             for path in _modules("broker_core").values()}
    classes = {node.name for tree in trees.values() for node in ast.walk(tree)
               if isinstance(node, ast.ClassDef)}
    mixed = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef) or len(node.bases) < 2:
                continue
            names = [ast.unparse(base).rpartition(".")[2] for base in node.bases]
            if any(name in classes for name in names):
                mixed.append(f"{path.relative_to(ROOT)}:{node.lineno} "
                             f"{node.name}({', '.join(names)})")
    assert not mixed, "broker_core classes with mixin bases:\n  " + "\n  ".join(mixed)


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path):
    """The checks above pass only if they can fail: a cycle made by an import inside a
    function is found, and named edge by edge."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg import b\n")
    (package / "b.py").write_text("def f():\n    from . import a\n")
    (package / "c.py").write_text("import pkg.a\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        cycle = _cycle(_graph("pkg", lambda name: name))
    finally:
        ROOT = saved
    assert cycle == ["pkg.a:1 imports pkg.b", "pkg.b:2 imports pkg.a"]
