"""notebooks/1_quickstart.ipynb in a real JupyterLab: widgets render, tables show, no payload runs.

The quickstart displays bfnb tables (``.bfnb-table``), an ipywidgets broker panel, and a batch holding
an ``<img src=x onerror=...>`` payload that bfnb must escape. Screenshots land in
tests/browser/artifacts/ and, with ``BFNB_UPDATE_SCREENSHOTS=1``, are copied to docs/img/.
"""

from __future__ import annotations

import pytest

from .labdriver import REPO, copy_to_docs

pytestmark = [pytest.mark.browser, pytest.mark.slow]

QUICKSTART = REPO / "notebooks" / "1_quickstart.ipynb"


@pytest.mark.skipif(not QUICKSTART.exists(), reason="notebooks/1_quickstart.ipynb does not exist yet")
def test_quickstart_renders_in_jupyterlab(lab):
    lab.open("notebooks/1_quickstart.ipynb")
    lab.run_all(timeout=240)
    rep = lab.report()
    full = lab.screenshot("quickstart_full.png")  # taken first: it helps when an assertion fails

    assert rep.errors == [], (rep.errors, full)
    assert rep.widget_fallbacks == [], (rep.widget_fallbacks, full)
    assert rep.widget_outputs >= 1, (rep, full)
    assert rep.counts[".bfnb-table"] >= 1, (rep, full)
    assert not rep.xss_executed, "the <img onerror> payload ran: a table did not escape its HTML"
    assert rep.injected_elements == 0, "an output holds an element with an inline event handler"
    assert rep.unexecuted == 0, ("some cells never ran", rep.prompts)

    table = lab.screenshot_output(".bfnb-table", "quickstart_table.png")
    panel = lab.screenshot_output(".jupyter-widgets", "quickstart_panel.png")
    copy_to_docs(table, panel)
