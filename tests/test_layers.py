"""Imports point down the layers: the core never imports the UI (STYLE.md §2.1).

Every import counts, at module level or inside a function, except those under
``if TYPE_CHECKING:`` (they never run).  There are no exemptions.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "bfnb"
UI_MODULES = ("ipywidgets", "IPython", "bfnb.widgets", "bfnb.display", "bfnb._ipython")
# the core: folders and single modules below the notebook layer
CORE = ("op", "graph", "executor", "engines", "brokers", "ledger", "local", "formats")
CORE_MODULES = ("calls.py", "call_results.py", "keys.py", "fingerprint.py", "batch.py", "events.py", "errors.py")


def _type_checking_only(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                out |= {id(n) for n in ast.walk(stmt)}
    return out


def _imports(path: Path, root: Path = PKG.parent) -> set[str]:
    """Every module ``path`` imports (``from . import x`` gives ``bfnb.pkg.x``), lazy ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_only(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                parts = path.relative_to(root).with_suffix("").parts
                parts = parts[: len(parts) - node.level]
                mod = ".".join([*parts, *([mod] if mod else [])])
            names.add(mod)
            names |= {f"{mod}.{a.name}" for a in node.names}
    return names


def _core_files() -> list[Path]:
    return [p for sub in CORE for p in (PKG / sub).rglob("*.py")] + [
        PKG / m for m in CORE_MODULES if (PKG / m).exists()
    ]


def test_core_layers_never_import_the_ui():
    bad = []
    for path in _core_files():
        for name in _imports(path):
            if name.startswith(UI_MODULES):
                bad.append(f"{path.relative_to(PKG)} imports {name}")
    assert not bad, bad


def test_the_import_reader_sees_lazy_and_relative_imports(tmp_path):
    """The check above can fail: lazy and relative imports of the UI are found; TYPE_CHECKING ones are not."""
    mod = tmp_path / "bfnb" / "graph" / "probe.py"
    mod.parent.mkdir(parents=True)
    mod.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ..widgets import Panel\n"
        "def f():\n    from .._ipython import install\n    import IPython.display\n"
    )
    found = _imports(mod, root=tmp_path)
    assert {"bfnb._ipython", "IPython.display"} <= found
    assert not any(n.startswith("bfnb.widgets") for n in found)


def test_brokers_know_nothing_of_dataframes_or_graphs():
    bad = []
    for path in (PKG / "brokers").rglob("*.py"):
        for name in _imports(path):
            if name.startswith(("pandas", "bfnb.graph", "bfnb.op", "bfnb.executor.run")):
                bad.append(f"{path.relative_to(PKG)} imports {name}")
    assert not bad, bad


def test_modules_stay_small():
    big = [
        f"{p.relative_to(PKG)}: {n}"
        for p in PKG.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450
    ]
    assert not big, big


def test_no_two_modules_share_a_file_name():
    """A file name says which module it is: ``grep``, tracebacks and editor tabs never show two ``base.py``."""
    seen: dict[str, list[str]] = {}
    for p in PKG.rglob("*.py"):
        if p.name not in ("__init__.py", "__main__.py"):
            seen.setdefault(p.name, []).append(str(p.relative_to(PKG)))
    assert not {n: ps for n, ps in seen.items() if len(ps) > 1}


def _module_graph() -> dict[str, set[str]]:
    """Each bfnb module and what it imports: bfnb modules, and the UI packages (IPython, ipywidgets).

    ``from pkg import x`` counts as importing ``pkg.x`` if that is a module, else ``pkg``.
    """
    mods: dict[str, Path] = {}
    for p in PKG.rglob("*.py"):
        parts = p.relative_to(PKG.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p

    def resolve(name: str) -> str | None:
        if name.startswith(("IPython", "ipywidgets")):
            return name.split(".")[0]
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        names = _imports(path)
        names = {n for n in names if not any(m.startswith(n + ".") for m in names)}  # "pkg" of `from pkg import x`
        graph[mod] = {r for n in names if (r := resolve(n)) and r != mod}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_no_import_cycle_inside_bfnb():
    """Lazy imports count: a cycle through a function-level import is still a tangle to read."""
    groups = _cycles(_module_graph())
    assert not groups, groups


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_core_never_reaches_the_ui_through_other_modules():
    """Not even through a module outside the core (``graph`` → ``versioning`` → ``display``)."""
    graph = _module_graph()
    core = {"bfnb." + sub for sub in CORE} | {"bfnb." + m.removesuffix(".py") for m in CORE_MODULES}
    bad = []
    for start in sorted(m for m in graph if m in core or m.startswith(tuple(c + "." for c in core))):
        seen, todo = {start}, [start]
        while todo:
            for w in graph.get(todo.pop(), ()):
                if w.startswith(UI_MODULES):
                    bad.append(f"{start} reaches {w}")
                elif w not in seen:
                    seen.add(w)
                    todo.append(w)
    assert not bad, sorted(set(bad))
