"""Importing bfnb's UI layer must not import ipywidgets or IPython (scripts and workers stay lean)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_display_and_widgets_import_without_ipython_or_ipywidgets():
    proc = run(
        "import sys, bfnb\n"
        "from bfnb.display import *\n"
        "from bfnb.widgets import *\n"
        "import bfnb.widgets.broker_panel, bfnb.widgets.controls, bfnb.widgets.label\n"
        "print(sorted(m for m in ('ipywidgets', 'IPython', 'tqdm') if m in sys.modules))\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.parametrize("module", ["bfnb.display.graph_view", "bfnb.display.compare_view", "bfnb.display.spend"])
def test_display_modules_run_as_demos_cleanly(module):
    proc = subprocess.run(
        [sys.executable, "-m", module], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip() and proc.stderr == ""


@pytest.mark.slow
def test_text_progress_demo_prints_its_summary():
    proc = subprocess.run(
        [sys.executable, "-m", "bfnb.widgets.broker_panel"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("chat demo@local: 110 done (10 cached), 0 failed, 15K tokens, $0.0036 — ")


def test_lazy_package_names_resolve():
    import bfnb.display
    import bfnb.widgets

    for pkg in (bfnb.display, bfnb.widgets):
        assert sorted(pkg.__all__) == sorted(pkg._WHERE)
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None
