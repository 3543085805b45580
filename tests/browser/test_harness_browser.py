"""The browser harness proves itself on two fixture notebooks: one healthy, one broken on purpose.

The healthy one must show a rendered widget and a ``bfnb-table`` with the ``<img onerror>`` payload
as text; the broken one must be reported for each of its faults, so a harness that saw nothing
(a selector gone stale after a JupyterLab upgrade, say) fails here rather than passing silently.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_smoke_notebook_renders_widget_and_escaped_table(lab):
    lab.open("fixtures/smoke.ipynb")
    lab.run_all(timeout=120)
    rep = lab.report()

    assert rep.prompts == ["[1]:", "[2]:", "[3]:"], rep
    assert rep.widget_outputs == 1, rep
    assert lab.count(".widget-slider") == 1
    assert rep.counts[".bfnb-table"] == 1, rep
    assert rep.widget_fallbacks == [] and rep.errors == [], (rep, lab.page_errors)
    assert not rep.xss_executed and rep.injected_elements == 0 and rep.unexecuted == 0
    # The payload is on screen as text.
    cell_text = lab.page.locator(".bfnb-table").first.inner_text()
    assert '<img src=x onerror="window.__bfnb_xss=1">' in cell_text

    full = lab.screenshot("smoke_full.png")
    table = lab.screenshot_output(".bfnb-table", "smoke_table.png")
    panel = lab.screenshot_output(".jupyter-widgets", "smoke_panel.png")
    for path, min_height in ((full, 600), (table, 40), (panel, 20)):
        png = path.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n", path
        height = int.from_bytes(png[20:24], "big")
        assert height >= min_height, (path, height)


def test_broken_notebook_faults_are_all_reported(lab):
    lab.open("fixtures/broken.ipynb")
    lab.run_all(timeout=120)
    rep = lab.report()

    assert any("HBox(children=" in t for t in rep.widget_fallbacks), rep
    assert rep.xss_executed, "an unescaped <img onerror> in trusted output should have run"
    assert rep.injected_elements == 1
    assert any("ZeroDivisionError" in e for e in rep.errors), rep
    assert any(e.startswith("stderr: Traceback") for e in rep.errors), rep
    assert rep.widget_outputs == 0
    # Run-all stops at the error: the last cell never ran.
    assert rep.prompts[-1] == "[ ]:" and rep.unexecuted == 1, rep
