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
CORE_MODULES = ("calls.py", "send_once.py", "keys.py", "fingerprint.py", "batch.py", "events.py", "errors.py")


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
    return [p for sub in CORE for p in (PKG / sub).rglob("*.py")] + [PKG / m for m in CORE_MODULES if (PKG / m).exists()]


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
    big = [f"{p.relative_to(PKG)}: {n}" for p in PKG.rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450]
    assert not big, big


def test_no_two_modules_share_a_file_name():
    """A file name says which module it is: ``grep``, tracebacks and editor tabs never show two ``base.py``."""
    seen: dict[str, list[str]] = {}
    for p in PKG.rglob("*.py"):
        if p.name not in ("__init__.py", "__main__.py"):
            seen.setdefault(p.name, []).append(str(p.relative_to(PKG)))
    assert not {n: ps for n, ps in seen.items() if len(ps) > 1}
