"""The demo notebooks in a real JupyterLab: widgets render, tables show, no payload runs.

The quickstart displays bfnb tables (``.bfnb-table``) and an ipywidgets broker panel; the advanced
notebook adds a side-by-side comparison (``.bfnb-compare``), a batch holding an
``<img src=x onerror=...>`` payload that bfnb must escape, and the panel of a finished background
run. Screenshots land in tests/browser/artifacts/ and, with ``BFNB_UPDATE_SCREENSHOTS=1``, are
copied to docs/img/ (the README shows them).
"""

from __future__ import annotations

import pytest

from .labdriver import REPO, copy_to_docs

pytestmark = [pytest.mark.browser, pytest.mark.slow]

QUICKSTART = REPO / "notebooks" / "1_quickstart.ipynb"
ADVANCED = REPO / "notebooks" / "8_advanced.ipynb"


def run_clean(lab, path: str, shot: str):
    lab.open(path)
    lab.run_all(timeout=240)
    rep = lab.report(selectors=(".bfnb-table", ".bfnb-compare"))
    full = lab.screenshot(shot)  # taken first: it helps when an assertion fails
    assert rep.errors == [], (rep.errors, full)
    assert rep.widget_fallbacks == [], (rep.widget_fallbacks, full)
    assert rep.widget_outputs >= 1, (rep, full)
    assert rep.counts[".bfnb-table"] >= 1, (rep, full)
    assert not rep.xss_executed, "the <img onerror> payload ran: a table did not escape its HTML"
    assert rep.injected_elements == 0, "an output holds an element with an inline event handler"
    assert rep.unexecuted == 0, ("some cells never ran", rep.prompts)
    return rep, full


@pytest.mark.skipif(not QUICKSTART.exists(), reason="notebooks/1_quickstart.ipynb does not exist yet")
def test_quickstart_renders_in_jupyterlab(lab):
    run_clean(lab, "notebooks/1_quickstart.ipynb", "quickstart_full.png")
    table = lab.screenshot_output(".bfnb-table", "quickstart_table.png")
    panel = lab.screenshot_output(".jupyter-widgets", "quickstart_panel.png")
    copy_to_docs(table, panel)


@pytest.mark.skipif(not ADVANCED.exists(), reason="notebooks/8_advanced.ipynb does not exist yet")
def test_advanced_renders_in_jupyterlab(lab):
    rep, full = run_clean(lab, "notebooks/8_advanced.ipynb", "advanced_full.png")
    assert rep.counts[".bfnb-compare"] >= 1, (rep, full)
    compare = lab.screenshot_output(".bfnb-compare", "advanced_compare.png")
    # The background run's panel, finished (and its table of rows, filled in).
    cell = lab.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").filter(
        has_text="limericks.run(background=True)"
    )
    finished = cell.locator(".jp-OutputArea-output", has=lab.page.locator(".jupyter-widgets")).first
    assert "56 of 56" in finished.inner_text(), (finished.inner_text(), full)
    path = lab.artifacts / "advanced_background_panel.png"
    finished.screenshot(path=str(path))
    copy_to_docs(compare, path)


def test_a_preview_table_and_its_button_in_jupyterlab(lab):
    """g.run(preview=5): the table is headed "preview 5 of 56"; its button runs the other 51."""
    lab.open("fixtures/preview.ipynb")
    lab.run_all(timeout=120)
    rep = lab.report()
    assert rep.errors == [] and rep.widget_fallbacks == [], rep
    out = lab.page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output", has=lab.page.locator(".jupyter-widgets")
    ).last
    assert "preview 5 of 56" in out.inner_text(), out.inner_text()
    button = out.get_by_role("button", name="Run the other 51")
    assert button.is_visible()
    path = lab.artifacts / "preview_table.png"
    out.screenshot(path=str(path))
    button.click()  # a real click: the kernel resumes the run in the background
    lab.page.wait_for_function("(el) => el.innerText.includes('56 rows')", arg=out.element_handle(), timeout=60_000)
    assert not button.is_visible()
    copy_to_docs(path)
