"""Fixtures for the browser tests: one JupyterLab server and one headless Chromium for this package.

The server root is a throw-away copy of notebooks/ and demo_data/ (plus tests/browser/fixtures/ as
``fixtures/``), so runs never write into the repo; kernels get ``BFNB_OFFLINE=1``, a temporary
``BFNB_DATA_DIR``, the checkout on ``PYTHONPATH``, and no ``*_API_KEY`` or ``OPENAI_*`` variable.
Without /usr/bin/chromium or playwright the tests skip, except under CI (env ``CI`` set), where
they fail: CI must not pass by skipping. Use the ``lab`` fixture (a :class:`LabPage`); screenshots go to
tests/browser/artifacts/ (gitignored).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from .labdriver import CHROMIUM, CHROMIUM_ARGS, REPO, LabPage, LabServer, stage_root

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_browser() -> None:
    """Skip (fail under CI) unless Debian's chromium and Python playwright are both present."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} is missing (as root: apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append('playwright is not installed (pip install -e ".[test]")')
    if missing:
        msg = "browser tests need a real browser: " + "; ".join(missing)
        if in_ci():
            pytest.fail(msg + " [CI is set, so this fails instead of skipping]", pytrace=False)
        pytest.skip(msg)


@pytest.fixture(scope="package")
def lab_server(tmp_path_factory: pytest.TempPathFactory):
    require_browser()
    base = tmp_path_factory.mktemp("jupyterlab")
    root = stage_root(REPO, base / "root", extra={"fixtures": HERE / "fixtures"})
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {"BFNB_OFFLINE": "1", "BFNB_DATA_DIR": str(base / "bfnb-data"), "PYTHONPATH": pythonpath}
    server = LabServer(root, base / "home", env=env)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def chromium_context(tmp_path_factory: pytest.TempPathFactory):
    # Package scope, not session: while Playwright's sync API is running, the main thread has a
    # running asyncio loop, so asyncio.run() in every later test of the session would fail.
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()
    # Later tests (anywhere in the session) rely on asyncio.run() working again.
    asyncio.run(asyncio.sleep(0))


@pytest.fixture
def lab(lab_server: LabServer, chromium_context):
    """A fresh tab on the session's JupyterLab; its kernels are shut down afterwards."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = chromium_context.new_page()
    page.set_default_timeout(60_000)
    driver = LabPage(lab_server, page, ARTIFACTS)
    page.on("pageerror", lambda exc: driver.page_errors.append(str(exc)))
    yield driver
    page.close()
    for session in lab_server.api("/api/sessions") or []:
        lab_server.api(f"/api/sessions/{session['id']}", method="DELETE")
