"""Imports point down the layers: the core never imports the UI (STYLE.md §2.1)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "bfnb"
UI_MODULES = ("ipywidgets", "IPython", "bfnb.widgets", "bfnb.display", "bfnb._ipython")
CORE = ("executor", "brokers", "ledger", "local", "formats", "graph")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                parts = path.relative_to(PKG).with_suffix("").parts[: -node.level]
                mod = ".".join(["bfnb", *parts, *([mod] if mod else [])])
            names.add(mod)
    return names


def test_core_layers_never_import_the_ui():
    bad = []
    for sub in CORE:
        for path in (PKG / sub).rglob("*.py"):
            for name in _imports(path):
                if name.startswith(UI_MODULES) and not (sub == "graph" and name == "bfnb._ipython"):
                    bad.append(f"{path.relative_to(PKG)} imports {name}")
    assert not bad, bad


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
