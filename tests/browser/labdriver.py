"""Drive a real JupyterLab in headless Chromium: start a private server, open a notebook, run it, inspect it.

Why this exists: a notebook can pass nbclient/nbval while its widgets never render (the output says
``Error displaying widget`` or ``HBox(children=...)``) or while its HTML runs injected script. Only a
browser sees that. The server runs on 127.0.0.1 with a random token and private Jupyter/IPython
directories, so the user's settings, kernels and extensions cannot leak in; the notebook setting
``windowingMode: none`` keeps every cell in the DOM, and ``window.jupyterapp`` is exposed so that
commands (``runmenu:run-all``) and the notebook model can be reached from the page. "Done" means the
kernel reports idle through ``/api/kernels`` *and* no ``[*]`` prompt remains, several polls in a row
(the status bar can say "Idle" too early). Facts behind these choices: shared/notes/jupyter-testing.md.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("BFNB_CHROMIUM", "/usr/bin/chromium")  # Debian's: Playwright cannot fetch its own here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# Text shown in an output when a widget did not render.
WIDGET_FALLBACKS = ("Error displaying widget", "HBox(children=", "VBox(children=")


def secret_or_endpoint(var: str) -> bool:
    """Environment variables kept away from test kernels: API keys and provider endpoints."""
    return var.endswith("_API_KEY") or var.startswith("OPENAI_")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


class LabServer:
    """A JupyterLab server serving ``root`` on 127.0.0.1 with private config, data and runtime dirs."""

    def __init__(self, root: Path, home: Path, env: dict[str, str] | None = None) -> None:
        self.root, self.home = root, home
        self.token = secrets.token_hex(16)
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log_path = home / "jupyterlab.log"
        self.env = self._environment(env or {})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _environment(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not secret_or_endpoint(k)}
        dirs = {
            "JUPYTER_CONFIG_DIR": "config",
            "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "IPYTHONDIR": "ipython",
            "JUPYTERLAB_SETTINGS_DIR": "config/lab/user-settings",
            "JUPYTERLAB_WORKSPACES_DIR": "config/lab/workspaces",
        }
        for var, sub in dirs.items():
            (self.home / sub).mkdir(parents=True, exist_ok=True)
            env[var] = str(self.home / sub)
        env.pop("JUPYTER_PATH", None)
        env.pop("JUPYTER_CONFIG_PATH", None)
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env.update(extra)
        return env

    def _prepare(self) -> None:
        # The kernel goes into the private data dir, pointing at this interpreter (the venv's).
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ipykernel",
                "install",
                "--user",
                "--name",
                "python3",
                "--display-name",
                "Python 3 (bfnb tests)",
            ],
            env=self.env,
            check=True,
            capture_output=True,
        )
        settings = Path(self.env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab"
        _write_json(settings / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"})
        _write_json(
            settings / "apputils-extension" / "notification.jupyterlab-settings",
            {"fetchNews": "false", "checkForUpdates": False},
        )

    def start(self, timeout: float = 90) -> LabServer:
        self._prepare()
        last_error = ""
        for _attempt in range(3):  # a port taken between free_port() and bind: try another
            self.port = free_port()
            cmd = [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.root}",
                "--LabApp.expose_app_in_browser=True",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LanguageServerManager.autodetect=False",
            ]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                cmd.append("--allow-root")
            log = open(self.log_path, "ab")  # noqa: SIM115 (the child keeps writing to it)
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    self.api("/api/status")
                    return self
                except OSError:
                    time.sleep(0.25)
            last_error = self.log_tail()
            self.stop()
        raise RuntimeError(f"JupyterLab did not start; its log ends with:\n{last_error}")

    def api(self, path: str, method: str = "GET") -> object:
        """JSON from the server's REST API (``/api/kernels`` …)."""
        req = urllib.request.Request(self.url + path, method=method, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def kernels_idle(self) -> bool:
        kernels = self.api("/api/kernels")
        return bool(kernels) and all(k.get("execution_state") == "idle" for k in kernels)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.api("/api/shutdown", method="POST")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class NotebookReport:
    """What a browser saw in one notebook after running it."""

    widget_outputs: int  # output areas holding a rendered ipywidget (.jupyter-widgets)
    widget_fallbacks: list[str]  # outputs showing a widget's text repr or "Error displaying widget"
    errors: list[str]  # error outputs ("cell i: ename: evalue") and stderr holding a traceback
    stderr: list[str]  # every stderr stream output's text
    xss_executed: bool  # window.__bfnb_xss was set by an injected handler
    injected_elements: int  # elements in outputs carrying an inline event handler (onerror, onload…)
    unexecuted: int  # non-empty code cells without an execution count (run-all stopped early?)
    prompts: list[str]  # the input prompts of code cells, e.g. "[1]:"
    counts: dict[str, int] = field(default_factory=dict)  # selector -> elements found


_COLLECT_JS = """(fallbacks) => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const outs = panel ? [...panel.querySelectorAll('.jp-OutputArea-output')] : [];
  const text = (el) => el.innerText || '';
  const stderr = [];
  const errors = [];
  let unexecuted = 0;
  const nb = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const cells = nb && nb.content && nb.content.model ? nb.content.model.cells : null;
  if (cells) {
    for (let i = 0; i < cells.length; i++) {
      const c = cells.get(i);
      if (c.type !== 'code') continue;
      if (c.sharedModel.getSource().trim() && c.executionCount === null) unexecuted++;
      for (const o of c.outputs.toJSON()) {
        if (o.output_type === 'error') errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
        if (o.output_type === 'stream' && o.name === 'stderr') {
          const t = Array.isArray(o.text) ? o.text.join('') : String(o.text);
          stderr.push(t);
          if (t.includes('Traceback')) errors.push('stderr: ' + t.slice(0, 500));
        }
      }
    }
  }
  const handlers = ['onerror', 'onload', 'onclick', 'onmouseover', 'onfocus', 'onanimationstart'];
  const handlerSel = handlers.map(h => `[${h}]`).join(',');
  const injected = outs.reduce((n, o) => n + o.querySelectorAll(handlerSel).length, 0);
  return {
    widget_outputs: outs.filter(o => o.querySelector('.jupyter-widgets')
                                     || o.classList.contains('jupyter-widgets')).length,
    widget_fallbacks: outs.map(text).filter(t => fallbacks.some(f => t.includes(f)))
                          .map(t => t.slice(0, 300)),
    errors, stderr,
    xss_executed: window.__bfnb_xss !== undefined,
    injected_elements: injected, unexecuted,
    prompts: panel ? [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                      .map(p => p.innerText.trim()) : [],
  };
}"""


class LabPage:
    """One browser tab on a :class:`LabServer`."""

    def __init__(self, server: LabServer, page, artifacts: Path) -> None:
        self.server, self.page, self.artifacts = server, page, artifacts
        self.page_errors: list[str] = []  # uncaught JS exceptions, for failure messages

    def open(self, path: str, timeout: float = 120) -> None:
        """Open ``path`` (relative to the server root) and wait for its kernel to be idle."""
        # A fresh workspace per tab, or JupyterLab restores the notebooks earlier tests left open.
        workspace = f"t{secrets.token_hex(4)}"
        self.page.goto(f"{self.server.url}/lab/workspaces/{workspace}/tree/{path}?reset&token={self.server.token}")
        self.page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook", timeout=timeout * 1000)
        self.page.wait_for_function(
            """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                       const k = w && w.sessionContext && w.sessionContext.session
                                 && w.sessionContext.session.kernel;
                       return !!k && k.status === 'idle'; }""",
            timeout=timeout * 1000,
        )
        # Hide the file browser so screenshots show the notebook only.
        self.page.evaluate("""() => { const app = window.jupyterapp;
            if (!app.shell.leftCollapsed && app.commands.hasCommand('application:toggle-left-area'))
                return app.commands.execute('application:toggle-left-area'); }""")

    def run_all(self, timeout: float = 300) -> None:
        """Run every cell and wait until it is done, the kernel is idle and no ``[*]`` prompt remains."""
        # Not awaited in the page: the command's promise settles when the last cell has run, and
        # the wait below gives that an explicit timeout.
        self.page.evaluate("""() => { window.__bfnb_runall = 'running';
            window.jupyterapp.commands.execute('runmenu:run-all').then(
                () => { window.__bfnb_runall = 'done'; },
                (e) => { window.__bfnb_runall = 'failed: ' + e; }); }""")
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float = 300, poll: float = 0.5, settle: int = 3) -> None:
        deadline = time.monotonic() + timeout
        calm, state, prompts = 0, None, []
        while time.monotonic() < deadline:
            state, prompts = self.page.evaluate(
                """() => [window.__bfnb_runall || 'done',
                          [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) '
                                                        + '.jp-CodeCell .jp-InputPrompt')]
                          .map(p => p.innerText.trim())]"""
            )
            if state.startswith("failed"):
                raise RuntimeError(f"run-all {state}")
            busy = state == "running" or any("*" in p for p in prompts)
            calm = 0 if busy or not self.server.kernels_idle() else calm + 1
            if calm >= settle:
                self.page.wait_for_timeout(300)  # let the last outputs and widget views render
                return
            time.sleep(poll)
        raise TimeoutError(f"notebook still running after {timeout:.0f} s ({state}); prompts: {prompts}")

    def report(self, selectors: tuple[str, ...] = (".bfnb-table",)) -> NotebookReport:
        data = self.page.evaluate(_COLLECT_JS, list(WIDGET_FALLBACKS))
        counts = {s: self.count(s) for s in selectors}
        return NotebookReport(counts=counts, **data)

    def count(self, selector: str) -> int:
        """Elements matching ``selector`` inside the open notebook's output areas."""
        return self.page.locator(f".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea {selector}").count()

    def fit_viewport(self, width: int = 1280, max_height: int = 16000) -> None:
        """Grow the viewport so the whole notebook (which scrolls in its own panel) is visible."""
        height = self.page.evaluate(
            """() => {
                const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
                const s = panel.querySelector('.jp-WindowedPanel-outer')
                          || panel.querySelector('.jp-Notebook');
                return document.documentElement.clientHeight - s.clientHeight + s.scrollHeight + 40;
            }"""
        )
        self.page.set_viewport_size({"width": width, "height": int(min(max(height, 720), max_height))})
        self.page.wait_for_timeout(400)

    def screenshot(self, name: str) -> Path:
        """A full-page screenshot of the whole notebook, saved as ``artifacts/name``."""
        self.fit_viewport()
        path = self.artifacts / name
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def screenshot_output(self, selector: str, name: str) -> Path:
        """A screenshot of the first output (``.jp-OutputArea-output``) holding ``selector``."""
        out = self.page.locator(
            ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output", has=self.page.locator(selector)
        ).first
        path = self.artifacts / name
        out.screenshot(path=str(path))
        return path


def stage_root(repo: Path, dest: Path, extra: dict[str, Path] | None = None) -> Path:
    """A throw-away server root: copies of notebooks/ and demo_data/ (same layout as the repo)."""
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "data", "__pycache__")
    for name in ("notebooks", "demo_data"):
        if (repo / name).is_dir():
            shutil.copytree(repo / name, dest / name, ignore=ignore)
    for name, src in (extra or {}).items():
        shutil.copytree(src, dest / name, ignore=ignore)
    return dest


def copy_to_docs(*paths: Path) -> list[Path]:
    """Copy screenshots to docs/img/, only when env BFNB_UPDATE_SCREENSHOTS=1."""
    if os.environ.get("BFNB_UPDATE_SCREENSHOTS") != "1":
        return []
    dest = REPO / "docs" / "img"
    dest.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(p, dest / p.name)) for p in paths]
